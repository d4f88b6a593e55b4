// Tests of UTC day and month keys: month boundaries to the millisecond, leap years, strict
// period parsing, and a sweep against a deliberately naive day-by-day calendar.

import TokenGateTestSupport
import XCTest

@testable import TokenGateCore

final class UTCCalendarTests: XCTestCase {
    func testLastMillisecondOfAMonthBelongsToIt() {
        let last = utc(2026, 11, 30, 23, 59, 59, 999)
        XCTAssertEqual(MonthKey(unixMs: last).text, "2026-11")
        XCTAssertEqual(DayKey(unixMs: last).text, "2026-11-30")
        XCTAssertEqual(MonthKey(unixMs: last + 1).text, "2026-12")
        XCTAssertEqual(DayKey(unixMs: last + 1).text, "2026-12-01")
        let november = MonthKey(unixMs: last)
        XCTAssertEqual(november.endUnixMs, last + 1)
        XCTAssertEqual(november.startUnixMs, utc(2026, 11, 1))
        XCTAssertTrue(november.contains(last))
        XCTAssertFalse(november.contains(last + 1))
    }

    func testEpochAndBeforeIt() {
        XCTAssertEqual(DayKey(unixMs: 0).text, "1970-01-01")
        XCTAssertEqual(DayKey(unixMs: -1).text, "1969-12-31")
        XCTAssertEqual(MonthKey(unixMs: -1).text, "1969-12")
        XCTAssertEqual(DayKey(unixMs: -1).daysSinceEpoch, -1)
        XCTAssertEqual(UTCCalendar.iso8601(-1), "1969-12-31T23:59:59.999Z")
        XCTAssertEqual(UTCCalendar.iso8601(utc(2026, 11, 25, 8, 5, 3, 7)), "2026-11-25T08:05:03.007Z")
    }

    func testLeapYears() throws {
        XCTAssertEqual(try MonthKey(parsing: "2024-02").dayCount, 29)
        XCTAssertEqual(try MonthKey(parsing: "2100-02").dayCount, 28)
        XCTAssertEqual(try MonthKey(parsing: "2000-02").dayCount, 29)
        XCTAssertEqual(try MonthKey(parsing: "2026-02").dayCount, 28)
        XCTAssertEqual(try MonthKey(parsing: "2026-04").dayCount, 30)
        XCTAssertEqual(try MonthKey(parsing: "2026-12").dayCount, 31)
        XCTAssertEqual(DayKey(unixMs: utc(2024, 2, 29, 12)).text, "2024-02-29")
        XCTAssertEqual(DayKey(unixMs: utc(2024, 2, 29) + UTCCalendar.millisecondsPerDay).text, "2024-03-01")
    }

    func testMonthParsingIsStrict() throws {
        let november = try MonthKey(parsing: "2026-11")
        XCTAssertEqual(november.year, 2026)
        XCTAssertEqual(november.month, 11)
        XCTAssertEqual(november.text, "2026-11")
        for bad in ["2026-13", "2026-1", "26-01", "2026-00", "2026/11", "2026-11-01", " 2026-11", "2026-1a", "", "２０２６-11"] {
            assertThrows(.invalidArgument, "period must be YYYY-MM, got") { () throws(TokenGateError) in
                try MonthKey(parsing: bad)
            }
        }
    }

    func testMonthNavigationAndOrder() throws {
        let december = try MonthKey(parsing: "2026-12")
        XCTAssertEqual(december.next.text, "2027-01")
        XCTAssertEqual(december.next.previous, december)
        XCTAssertLessThan(try MonthKey(parsing: "2026-12"), try MonthKey(parsing: "2027-01"))
        XCTAssertLessThan(try MonthKey(parsing: "2026-02"), try MonthKey(parsing: "2026-10"))
        XCTAssertEqual(try MonthKey(year: 2026, month: 3).text, "2026-03")
        assertThrows(.invalidArgument) { () throws(TokenGateError) in try MonthKey(year: 2026, month: 13) }
    }

    func testExtremeInstantsDoNotTrap() {
        _ = DayKey(unixMs: .max).text
        _ = DayKey(unixMs: .min).text
        _ = MonthKey(unixMs: .max).endUnixMs
        _ = UTCCalendar.iso8601(.min)
    }

    /// Every day from 1900 to 2400 against a calendar that counts days one at a time.
    func testAgainstNaiveCalendar() {
        var days = UTCCalendar.daysFromCivil(year: 1900, month: 1, day: 1)
        for year in Int64(1900)...2400 {
            for month in Int64(1)...12 {
                for day in 1...naiveDaysIn(year: year, month: month) {
                    let key = DayKey(daysSinceEpoch: Int32(days))
                    let expected = "\(year)-\(month < 10 ? "0" : "")\(month)-\(day < 10 ? "0" : "")\(day)"
                    if key.text != expected || key.month.dayCount != Int(naiveDaysIn(year: year, month: month))
                        || UTCCalendar.daysFromCivil(year: year, month: month, day: day) != days
                    {
                        return XCTFail("day \(days): \(key.text) vs \(expected)")
                    }
                    days += 1
                }
            }
        }
    }

    func testISO8601ParsingAcceptsWhatTheCLITakesAndRoundTrips() {
        XCTAssertEqual(UTCCalendar.parseISO8601("2026-11-01"), utc(2026, 11, 1))
        XCTAssertEqual(UTCCalendar.parseISO8601("2026-10-31T23:59:59Z"), utc(2026, 10, 31, 23, 59, 59))
        XCTAssertEqual(UTCCalendar.parseISO8601("2026-10-31T23:59:59.999Z"), utc(2026, 10, 31, 23, 59, 59, 999))
        XCTAssertEqual(UTCCalendar.parseISO8601("2026-10-31T23:59:59.5Z"), utc(2026, 10, 31, 23, 59, 59, 500))
        XCTAssertEqual(UTCCalendar.parseISO8601("2026-10-31T23:59:59.123456789Z"), utc(2026, 10, 31, 23, 59, 59, 123))
        XCTAssertEqual(UTCCalendar.parseISO8601("2026-11-01T01:30:00+02:00"), utc(2026, 10, 31, 23, 30))
        XCTAssertEqual(UTCCalendar.parseISO8601("2026-10-31T22:30:00-01:00"), utc(2026, 10, 31, 23, 30))
        XCTAssertEqual(UTCCalendar.parseISO8601("2024-02-29"), utc(2024, 2, 29))
        XCTAssertEqual(UTCCalendar.parseISO8601("1969-12-31T23:59:59.999Z"), -1)
        var generator = SplitMix64(seed: 21)
        for _ in 0..<1_000 {
            let instant = Int64.random(in: utc(0, 1, 1)..<utc(9999, 12, 31), using: &generator)
            XCTAssertEqual(UTCCalendar.parseISO8601(UTCCalendar.iso8601(instant)), instant)
        }
    }

    func testISO8601ParsingRefusesWhatIsNotATime() {
        for text in [
            "", "2026-11", "2026-11-1", "2026-13-01", "2026-00-10", "2026-02-29", "2026-04-31", "2026-11-01T",
            "2026-11-01T24:00:00Z", "2026-11-01T10:60:00Z", "2026-11-01T10:00:60Z", "2026-11-01T10:00:00",
            "2026-11-01T10:00:00.Z", "2026-11-01T10:00:00+2", "2026-11-01 10:00:00Z", "2026-11-01T10:00:00Zx",
            "+2026-11-01", "２０２６-11-01", "2026-11-01T10:00:00+25:00",
        ] {
            XCTAssertNil(UTCCalendar.parseISO8601(text), text)
        }
    }
}

/// Days in a month by the rule as written in a textbook.
func naiveDaysIn(year: Int64, month: Int64) -> Int64 {
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
    return [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][Int(month - 1)]
}
