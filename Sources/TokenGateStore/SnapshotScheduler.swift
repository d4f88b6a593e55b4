// Periodic snapshots (DESIGN §6): a background thread writes a snapshot once enough records
// were logged since the last one, or enough time passed with anything logged, so recovery
// replays a bounded log and old segments are deleted. The thread polls two counters ten times
// a second (`StoreLimits.snapshotPollMilliseconds`); the hot path does nothing for it.

import Dispatch
import Synchronization
import TokenGateClock
import TokenGateCore

/// When periodic snapshots are due. A zero turns that trigger off.
public struct SnapshotPolicy: Sendable, Equatable {
    /// Records between snapshots by default: replaying a million records takes seconds, and a
    /// snapshot every million keeps the log at a few hundred MB.
    public static let everyRecordsDefault: UInt64 = 1_000_000
    /// Seconds between snapshots by default when anything was logged.
    public static let everySecondsDefault: UInt64 = 3_600

    /// A snapshot is due once this many records were logged since the last one.
    public var everyRecords: UInt64
    /// A snapshot is due once this many seconds passed since the last one, if anything was logged.
    public var everySeconds: UInt64

    /// A policy; the defaults are the daemon's.
    public init(
        everyRecords: UInt64 = SnapshotPolicy.everyRecordsDefault,
        everySeconds: UInt64 = SnapshotPolicy.everySecondsDefault
    ) {
        self.everyRecords = everyRecords
        self.everySeconds = everySeconds
    }
}

/// The thread that writes periodic snapshots of a ledger.
public final class SnapshotScheduler: Sendable {
    private let ledger: Ledger
    private let policy: SnapshotPolicy
    private let clock: @Sendable () -> UnixMillis
    private let report: @Sendable (Result<SnapshotSummary, any Error>) -> Void
    private let stopped = Atomic<Bool>(false)
    private let wake = DispatchSemaphore(value: 0)
    private let thread = Mutex<OSThread?>(nil)

    /// - Parameters:
    ///   - clock: the wall clock, for retention.
    ///   - report: called on the scheduler's thread after every snapshot attempt.
    public init(
        ledger: Ledger, policy: SnapshotPolicy, clock: @escaping @Sendable () -> UnixMillis,
        report: @escaping @Sendable (Result<SnapshotSummary, any Error>) -> Void
    ) {
        self.ledger = ledger
        self.policy = policy
        self.clock = clock
        self.report = report
    }

    /// Starts the thread. Does nothing when both triggers are off.
    public func start() throws {
        guard policy.everyRecords > 0 || policy.everySeconds > 0 else { return }
        let started = try OSThread.spawn { [self] in run() }
        thread.withLock { $0 = started }
    }

    /// Stops the thread, waiting for a snapshot in progress to finish.
    public func stop() {
        stopped.store(true, ordering: .releasing)
        wake.signal()
        let running = thread.withLock { thread -> OSThread? in
            defer { thread = nil }
            return thread
        }
        running?.join()
    }

    private func run() {
        var last = MonotonicClock.nanoseconds()
        var notBefore = last
        while !stopped.load(ordering: .acquiring) {
            _ = wake.wait(timeout: .now() + .milliseconds(StoreLimits.snapshotPollMilliseconds))
            let now = MonotonicClock.nanoseconds()
            guard !stopped.load(ordering: .acquiring), now >= notBefore, isDue(since: last, now: now) else { continue }
            let result = Result { try ledger.writeSnapshot(now: clock()) }
            last = MonotonicClock.nanoseconds()
            if case .failure = result { notBefore = last + UInt64(StoreLimits.snapshotRetrySeconds) * 1_000_000_000 }
            report(result)
        }
    }

    /// `last` and `now` are `MonotonicClock.nanoseconds()` readings.
    private func isDue(since last: UInt64, now: UInt64) -> Bool {
        let records = ledger.recordsSinceSnapshot
        guard records > 0 else { return false }
        if policy.everyRecords > 0 && records >= policy.everyRecords { return true }
        let elapsed = (now - last) / 1_000_000_000
        return policy.everySeconds > 0 && elapsed >= policy.everySeconds
    }
}
