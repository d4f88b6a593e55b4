// UTC calendar arithmetic for daily budgets and monthly billing periods (DESIGN §2), done with
// Howard Hinnant's integer days_from_civil / civil_from_days algorithms. No Foundation calendar,
// no time zones, no clock: a Unix-millisecond instant maps to its UTC day and month, and back.

/// Integer conversions between Unix time and the proleptic Gregorian calendar, UTC only.
public enum UTCCalendar {
    /// Milliseconds in one UTC day (UTC has no leap seconds in Unix time).
    public static let millisecondsPerDay: Int64 = 86_400_000

    /// Days since 1970-01-01 of the civil date `year-month-day` (Hinnant's `days_from_civil`).
    public static func daysFromCivil(year: Int64, month: Int64, day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    /// The civil date of `days` since 1970-01-01 (Hinnant's `civil_from_days`).
    public static func civilFromDays(_ days: Int64) -> (year: Int64, month: Int64, day: Int64) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let shiftedMonth = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * shiftedMonth + 2) / 5 + 1
        let month = shiftedMonth < 10 ? shiftedMonth + 3 : shiftedMonth - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

    /// Whole days since the epoch containing `unixMs` (floor division, so instants before 1970
    /// fall on the right day).
    public static func days(unixMs: UnixMillis) -> Int64 {
        let (quotient, remainder) = unixMs.quotientAndRemainder(dividingBy: millisecondsPerDay)
        return remainder < 0 ? quotient - 1 : quotient
    }

    /// The first millisecond of day `days`, pinned to the Int64 range for absurd inputs.
    public static func unixMs(days: Int64) -> UnixMillis {
        let (product, overflow) = days.multipliedReportingOverflow(by: millisecondsPerDay)
        if !overflow { return product }
        return days < 0 ? .min : .max
    }

    /// ISO 8601 text for messages, e.g. `2026-11-30T23:59:59.999Z`.
    public static func iso8601(_ unixMs: UnixMillis) -> String {
        let day = DayKey(unixMs: unixMs)
        let msOfDay = unixMs &- day.startUnixMs
        let hours = msOfDay / 3_600_000
        let minutes = msOfDay / 60_000 % 60
        let seconds = msOfDay / 1000 % 60
        let millis = msOfDay % 1000
        return "\(day.text)T\(pad(hours, 2)):\(pad(minutes, 2)):\(pad(seconds, 2)).\(pad(millis, 3))Z"
    }

    /// Parses the ISO 8601 UTC times people type and `iso8601` writes: a date `2026-11-01` (its
    /// midnight) or `2026-10-31T23:59:59Z` with optional fractional seconds (`.999`; digits after
    /// the millisecond are dropped) and `Z` or an offset `+02:00`. Years 0000...9999. Nil for
    /// anything else, including impossible dates (`2026-02-30`). The project's one parser of
    /// such times: exact integer arithmetic, no Foundation formatter, no floating point.
    public static func parseISO8601(_ text: String) -> UnixMillis? {
        var scanner = DigitScanner(Array(text.utf8))
        guard let year = scanner.number(4), scanner.skip("-"), let month = scanner.number(2), scanner.skip("-"),
            let day = scanner.number(2), (1...12).contains(month), day >= 1
        else { return nil }
        let days = daysFromCivil(year: year, month: month, day: day)
        guard civilFromDays(days) == (year, month, day) else { return nil }
        if scanner.atEnd { return days * millisecondsPerDay }
        guard scanner.skip("T") || scanner.skip("t"), let hour = scanner.number(2), scanner.skip(":"),
            let minute = scanner.number(2), scanner.skip(":"), let second = scanner.number(2),
            hour < 24, minute < 60, second < 60
        else { return nil }
        var millis: Int64 = 0
        if scanner.skip(".") {
            var digits = 0
            while let digit = scanner.number(1) {
                if digits < 3 { millis = millis * 10 + digit }
                digits += 1
            }
            guard digits > 0 else { return nil }
            for _ in digits..<max(digits, 3) { millis *= 10 }
        }
        var offsetMinutes: Int64 = 0
        if !(scanner.skip("Z") || scanner.skip("z")) {
            let sign: Int64
            if scanner.skip("+") { sign = 1 } else if scanner.skip("-") { sign = -1 } else { return nil }
            guard let hours = scanner.number(2), scanner.skip(":"), let minutes = scanner.number(2), hours < 24, minutes < 60
            else { return nil }
            offsetMinutes = sign * (hours * 60 + minutes)
        }
        guard scanner.atEnd else { return nil }
        let seconds = days * 86_400 + hour * 3_600 + minute * 60 + second - offsetMinutes * 60
        return seconds * 1_000 + millis
    }

    /// `value` in decimal, left-padded with zeros to `width`, sign first.
    static func pad(_ value: Int64, _ width: Int) -> String {
        let digits = String(value.magnitude)
        let padded = String(repeating: "0", count: max(0, width - digits.count)) + digits
        return value < 0 ? "-" + padded : padded
    }
}

/// Reads fixed-width decimal fields and literal bytes from ASCII text, for `parseISO8601`.
private struct DigitScanner {
    private let bytes: [UInt8]
    private var index = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    var atEnd: Bool { index == bytes.count }

    /// The next `width` bytes as a decimal number, or nil (consuming nothing) unless all are digits.
    mutating func number(_ width: Int) -> Int64? {
        guard bytes.count - index >= width else { return nil }
        var value: Int64 = 0
        for byte in bytes[index..<index + width] {
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
            value = value * 10 + Int64(byte - UInt8(ascii: "0"))
        }
        index += width
        return value
    }

    /// Consumes `literal` (one ASCII character) when it comes next.
    mutating func skip(_ literal: Unicode.Scalar) -> Bool {
        guard index < bytes.count, bytes[index] == UInt8(ascii: literal) else { return false }
        index += 1
        return true
    }
}

// MARK: - DayKey

/// One UTC calendar day: the period of daily budgets.
public struct DayKey: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// Days since 1970-01-01 (UTC). Instants more than about 5.8 million years from 1970 are
    /// pinned to the Int32 range; request validation rejects such times long before.
    public let daysSinceEpoch: Int32

    /// The day with this index.
    public init(daysSinceEpoch: Int32) {
        self.daysSinceEpoch = daysSinceEpoch
    }

    /// The UTC day containing `unixMs`.
    public init(unixMs: UnixMillis) {
        let days = UTCCalendar.days(unixMs: unixMs)
        daysSinceEpoch = Int32(clamping: days)
    }

    /// The first millisecond of the day.
    public var startUnixMs: UnixMillis { UTCCalendar.unixMs(days: Int64(daysSinceEpoch)) }

    /// The first millisecond of the next day (exclusive end).
    public var endUnixMs: UnixMillis { UTCCalendar.unixMs(days: Int64(daysSinceEpoch) + 1) }

    /// The month this day belongs to.
    public var month: MonthKey {
        let civil = UTCCalendar.civilFromDays(Int64(daysSinceEpoch))
        return MonthKey(validYear: Int32(clamping: civil.year), month: Int32(civil.month))
    }

    /// `YYYY-MM-DD`.
    public var text: String {
        let civil = UTCCalendar.civilFromDays(Int64(daysSinceEpoch))
        return "\(UTCCalendar.pad(civil.year, 4))-\(UTCCalendar.pad(civil.month, 2))-\(UTCCalendar.pad(civil.day, 2))"
    }

    /// `YYYY-MM-DD`.
    public var description: String { text }

    /// Earlier days first.
    public static func < (lhs: DayKey, rhs: DayKey) -> Bool { lhs.daysSinceEpoch < rhs.daysSinceEpoch }
}

// MARK: - MonthKey

/// One UTC calendar month: a billing period and the period of monthly budgets.
public struct MonthKey: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// The year (proleptic Gregorian).
    public let year: Int32
    /// The month, 1...12.
    public let month: Int32

    /// Years a period may name in text or through `init(year:month:)`.
    public static let yearRange: ClosedRange<Int32> = 0...9999

    /// For values already known to be in range.
    init(validYear year: Int32, month: Int32) {
        precondition((1...12).contains(month), "month \(month) out of range")
        self.year = year
        self.month = month
    }

    /// The month `year-month`; throws `invalidArgument` outside 0000-01...9999-12.
    public init(year: Int32, month: Int32) throws(TokenGateError) {
        guard Self.yearRange.contains(year), (1...12).contains(month) else {
            throw .invalidArgument("no such month: year \(year), month \(month) (years 0000...9999, months 1...12)")
        }
        self.init(validYear: year, month: month)
    }

    /// The UTC month containing `unixMs`.
    public init(unixMs: UnixMillis) {
        self = DayKey(unixMs: unixMs).month
    }

    /// Parses a period written strictly `YYYY-MM` (four digits, a hyphen, two digits, month
    /// 01...12). Throws `invalidArgument` "period must be YYYY-MM, got ..." otherwise.
    public init(parsing period: String) throws(TokenGateError) {
        let invalid = TokenGateError.invalidArgument("period must be YYYY-MM, got '\(period.prefix(32))'")
        let bytes = Array(period.utf8)
        guard bytes.count == 7, bytes[4] == UInt8(ascii: "-") else { throw invalid }
        var digits: [Int32] = []
        for index in [0, 1, 2, 3, 5, 6] {
            let byte = bytes[index]
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { throw invalid }
            digits.append(Int32(byte - UInt8(ascii: "0")))
        }
        let year = digits[0] * 1000 + digits[1] * 100 + digits[2] * 10 + digits[3]
        let month = digits[4] * 10 + digits[5]
        guard (1...12).contains(month) else { throw invalid }
        self.init(validYear: year, month: month)
    }

    /// `YYYY-MM`. Months of 2000...2199 come from a table made once (LogUsage answers with its
    /// bill's month: formatting it cost ~1,000 instructions a call); the strings are 7 bytes,
    /// stored inline, so handing one out allocates nothing.
    public var text: String {
        let index = Int(year - Self.textTableFirstYear) * 12 + Int(month) - 1
        if year >= Self.textTableFirstYear, index < Self.textTable.count { return Self.textTable[index] }
        return Self.format(year: year, month: month)
    }

    private static let textTableFirstYear: Int32 = 2000
    private static let textTable: [String] = (0..<(200 * 12)).map { index in
        format(year: textTableFirstYear + Int32(index / 12), month: Int32(index % 12) + 1)
    }

    private static func format(year: Int32, month: Int32) -> String {
        "\(UTCCalendar.pad(Int64(year), 4))-\(UTCCalendar.pad(Int64(month), 2))"
    }

    /// `YYYY-MM`.
    public var description: String { text }

    /// The month after this one.
    public var next: MonthKey {
        month == 12 ? MonthKey(validYear: year &+ 1, month: 1) : MonthKey(validYear: year, month: month + 1)
    }

    /// The month before this one.
    public var previous: MonthKey {
        month == 1 ? MonthKey(validYear: year &- 1, month: 12) : MonthKey(validYear: year, month: month - 1)
    }

    /// Days since the epoch of the month's first day.
    var firstDay: Int64 { UTCCalendar.daysFromCivil(year: Int64(year), month: Int64(month), day: 1) }

    /// The first millisecond of the month.
    public var startUnixMs: UnixMillis { UTCCalendar.unixMs(days: firstDay) }

    /// The first millisecond of the next month (exclusive end).
    public var endUnixMs: UnixMillis { next.startUnixMs }

    /// Days in the month (28...31).
    public var dayCount: Int { Int(next.firstDay - firstDay) }

    /// True when `unixMs` falls inside the month.
    public func contains(_ unixMs: UnixMillis) -> Bool { unixMs >= startUnixMs && unixMs < endUnixMs }

    /// Earlier months first.
    public static func < (lhs: MonthKey, rhs: MonthKey) -> Bool {
        (lhs.year, lhs.month) < (rhs.year, rhs.month)
    }
}
