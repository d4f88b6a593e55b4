// The scheduled daily high-cost check (DESIGN §4 alerts): a timer thread that, at a fixed UTC
// time each day (02:00 by default), stores a HIGH_DAILY_COST alert for every shop that spent
// more than the threshold ($5.00 by default) in the UTC day before. At startup it catches up on
// the latest run it may have missed; alerts are stored once per (shop, kind, day), so running a
// check twice is harmless. The clock is injected, so tests run the schedule with any time.
import Foundation
import Synchronization
import TokenGateCore
import TokenGateStore

/// Runs the daily high-cost check on its schedule.
public final class HighCostScheduler: Sendable {
    /// Longest single sleep of the timer thread, so wall-clock jumps and `stop()` are noticed.
    static let sleepSliceMs: Int64 = 1_000

    private let ledger: Ledger
    private let clock: any WallClock
    private let logger: Logger
    /// When the check runs.
    public let schedule: DailyCheckSchedule
    /// A shop's daily spend must be more than this.
    public let thresholdNanoUSD: NanoUSD
    private let stopped = Atomic<Bool>(false)

    public init(ledger: Ledger, clock: any WallClock, schedule: DailyCheckSchedule, thresholdNanoUSD: NanoUSD, logger: Logger) {
        self.ledger = ledger
        self.clock = clock
        self.schedule = schedule
        self.thresholdNanoUSD = thresholdNanoUSD
        self.logger = logger
    }

    /// Starts the timer thread: it first runs the latest check due at or before now (catching
    /// up on one missed while the daemon was down), then every scheduled one.
    public func start() {
        let thread = Thread { [self] in
            var handled = runDueChecks(after: schedule.lastRun(atOrBefore: clock.nowUnixMs()) - 1, now: clock.nowUnixMs())
            while !stopped.load(ordering: .relaxed) {
                let now = clock.nowUnixMs()
                let next = schedule.nextRun(after: handled)
                if now >= next {
                    handled = runDueChecks(after: handled, now: now)
                } else {
                    usleep(UInt32(min(next - now, Self.sleepSliceMs)) * 1_000)
                }
            }
        }
        thread.name = "tokengate-high-cost-check"
        thread.start()
    }

    /// Stops the timer thread within about a second.
    public func stop() { stopped.store(true, ordering: .relaxed) }

    /// Runs every scheduled check in `(after, now]`, oldest first, and returns the time of the
    /// last one run (`after` when none was due). A check that fails is logged and skipped.
    @discardableResult
    public func runDueChecks(after: UnixMillis, now: UnixMillis) -> UnixMillis {
        var handled = after
        var next = schedule.nextRun(after: after)
        while next <= now {
            do {
                _ = try runCheck(forRunAt: next)
            } catch {
                logger.error("daily high-cost check failed", ["run_at": UTCCalendar.iso8601(next), "error": "\(error)"])
            }
            handled = next
            next = schedule.nextRun(after: next)
        }
        return handled
    }

    /// The check of the run at `runAt`: the UTC day before it. Returns the alerts stored (each
    /// durable before this returns).
    public func runCheck(forRunAt runAt: UnixMillis) throws -> [Alert] {
        let day = DailyCheckSchedule.checkedDay(forRunAt: runAt)
        let result = try ledger.runDailyHighCostCheck(day: day, thresholdNanoUSD: thresholdNanoUSD, now: clock.nowUnixMs())
        if let sequence = result.durableAt { try ledger.waitUntilDurable(sequence) }
        logger.info("daily high-cost check", [
            "day": day.text, "threshold": Money.formatUSD(thresholdNanoUSD), "alerts": "\(result.alerts.count)",
        ])
        return result.alerts
    }
}
