// When the scheduled daily high-cost check runs and which day it looks at (DESIGN §4 alerts):
// once a day at a fixed UTC time (02:00 by default), it checks the UTC day that ended before
// that run, so late backfills of the day's last minutes still count. Pure: the caller passes
// the time, so tests drive the schedule with any clock.

/// A daily run time in UTC.
public struct DailyCheckSchedule: Sendable, Equatable {
    /// Milliseconds after UTC midnight, 0..<86,400,000.
    public let timeOfDayMs: Int64

    /// A schedule at `timeOfDayMs` after midnight; throws `invalidArgument` outside one day.
    public init(timeOfDayMs: Int64) throws(TokenGateError) {
        guard (0..<UTCCalendar.millisecondsPerDay).contains(timeOfDayMs) else {
            throw .invalidArgument("a daily time must be within one day (0...86399999 ms after midnight), got \(timeOfDayMs)")
        }
        self.init(validTimeOfDayMs: timeOfDayMs)
    }

    /// The default schedule of the high-cost check: 02:00 UTC.
    public static let highCostDefault = DailyCheckSchedule(validTimeOfDayMs: ReportLimits.dailyHighCostCheckAtDefaultMs)

    private init(validTimeOfDayMs: Int64) {
        precondition((0..<UTCCalendar.millisecondsPerDay).contains(validTimeOfDayMs), "time of day out of range")
        timeOfDayMs = validTimeOfDayMs
    }

    /// Parses `HH:MM` (24-hour, UTC), e.g. `02:00`. Throws `invalidArgument` otherwise.
    public init(parsing text: String) throws(TokenGateError) {
        let invalid = TokenGateError.invalidArgument("a daily time must be HH:MM in UTC (00:00...23:59), got '\(text.prefix(16))'")
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, parts[0].count == 2, parts[1].count == 2,
            parts.allSatisfy({ $0.allSatisfy { $0.isASCII && $0.isNumber } }),
            let hours = Int64(parts[0]), let minutes = Int64(parts[1]), hours < 24, minutes < 60
        else { throw invalid }
        try self.init(timeOfDayMs: (hours * 60 + minutes) * 60_000)
    }

    /// `HH:MM` (seconds, if any, are not shown).
    public var text: String {
        let minutes = timeOfDayMs / 60_000
        return UTCCalendar.pad(minutes / 60, 2) + ":" + UTCCalendar.pad(minutes % 60, 2)
    }

    /// The latest run time at or before `now`.
    public func lastRun(atOrBefore now: UnixMillis) -> UnixMillis {
        let today = DayKey(unixMs: now).startUnixMs + timeOfDayMs
        return today <= now ? today : today - UTCCalendar.millisecondsPerDay
    }

    /// The first run time strictly after `now`.
    public func nextRun(after now: UnixMillis) -> UnixMillis {
        lastRun(atOrBefore: now) + UTCCalendar.millisecondsPerDay
    }

    /// The day a run at `runAt` checks: the UTC day before the run's day.
    public static func checkedDay(forRunAt runAt: UnixMillis) -> DayKey {
        DayKey(daysSinceEpoch: DayKey(unixMs: runAt).daysSinceEpoch - 1)
    }
}
