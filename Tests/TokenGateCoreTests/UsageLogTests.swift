// Tests of usage logs, alerts and paid marks in the domain: cursors that are bound to their
// query and rejected otherwise, paging that neither skips nor repeats events while new ones
// arrive, page limits, alerts stored once per (shop, kind, period), paid marks, and the state a
// snapshot's facts rebuild.

import XCTest

@testable import TokenGateCore

final class UsageCursorTests: XCTestCase {
    func testCursorRoundTripsAndIsBoundToItsQuery() throws {
        let filter = UsageFilter(shopID: "shop", fromUnixMs: 5, toUnixMs: 99)
        for position in [0, 1, 35, 1_000_000] {
            let cursor = UsageCursor.encode(position: position, filter: filter)
            XCTAssertEqual(try UsageCursor.decode(cursor, filter: filter), position)
        }
        XCTAssertEqual(try UsageCursor.decode("", filter: filter), 0, "empty is the first page")
        let cursor = UsageCursor.encode(position: 7, filter: filter)
        for other in [UsageFilter(shopID: "other", fromUnixMs: 5, toUnixMs: 99), UsageFilter(shopID: "shop", fromUnixMs: 6, toUnixMs: 99),
                      UsageFilter(shopID: "shop", fromUnixMs: 5)] {
            assertThrows(.invalidArgument, "not a cursor of this query") { () throws(TokenGateError) in
                try UsageCursor.decode(cursor, filter: other)
            }
        }
        var tampered = Array(cursor)
        tampered[2] = tampered[2] == "8" ? "9" : "8"
        for bad in [String(tampered), "bogus", cursor + "0", "u1-1.00000000", "U1" + cursor.dropFirst(2), String(repeating: "u", count: 100)] {
            assertThrows(.invalidArgument, "cursor") { () throws(TokenGateError) in try UsageCursor.decode(bad, filter: filter) }
        }
    }
}

final class UsagePagingTests: XCTestCase {
    func testPagingNeitherSkipsNorRepeatsWhileEventsArrive() throws {
        var shop = ShopState(shopID: "shop")
        let filter = UsageFilter(shopID: "shop", fromUnixMs: utc(2026, 11, 1), toUnixMs: utc(2026, 12, 1))
        var next = 0
        func add(_ count: Int, at time: UnixMillis) {
            for _ in 0..<count {
                shop.apply(.usage(recorded("e\(next)", at: time + Int64(next))))
                next += 1
            }
        }
        add(10, at: utc(2026, 11, 20))
        add(3, at: utc(2026, 10, 20))  // outside the range: never listed
        var seen: [String] = []
        var cursor = ""
        var pages = 0
        repeat {
            let position = try UsageCursor.decode(cursor, filter: filter)
            let page = shop.usagePage(filter: filter, from: position, pageSize: 4)
            seen += page.events.map(\.eventID)
            cursor = page.nextPosition.map { UsageCursor.encode(position: $0, filter: filter) } ?? ""
            pages += 1
            // New events arrive between pages, some of them backfilled to an earlier time.
            if pages <= 3 {
                add(2, at: utc(2026, 11, 24))
                add(1, at: utc(2026, 11, 2))
            }
        } while !cursor.isEmpty
        let expected = shop.events.filter { filter.contains($0.occurredAtUnixMs) }.map(\.eventID)
        XCTAssertEqual(seen, expected, "every matching event once, in recording order")
        XCTAssertEqual(Set(seen).count, seen.count)
        XCTAssertEqual(seen.count, 10 + 3 * 3)
    }

    func testPagesStopAtTheirSizeBytesAndScanLimits() {
        var shop = ShopState(shopID: "shop")
        for index in 0..<10 { shop.apply(.usage(recorded("e\(index)", at: utc(2026, 11, 1) + Int64(index)))) }
        let all = UsageFilter(shopID: "shop")
        let bySize = shop.usagePage(filter: all, from: 0, pageSize: 3)
        XCTAssertEqual(bySize.events.map(\.eventID), ["e0", "e1", "e2"])
        XCTAssertEqual(bySize.nextPosition, 3)
        let exact = shop.usagePage(filter: all, from: 7, pageSize: 3)
        XCTAssertEqual(exact.events.count, 3)
        XCTAssertNil(exact.nextPosition, "the last page says there is nothing more")
        let byBytes = shop.usagePage(filter: all, from: 0, pageSize: 100, bytesMax: 1)
        XCTAssertEqual(byBytes.events.count, 1, "a page holds at least one event")
        XCTAssertEqual(byBytes.nextPosition, 1)
        // A filter matching nothing answers after scanning its limit, with a cursor to go on.
        let none = UsageFilter(shopID: "shop", fromUnixMs: utc(2030, 1, 1))
        let scanned = shop.usagePage(filter: none, from: 0, pageSize: 5, scanMax: 4)
        XCTAssertEqual(scanned.events, [])
        XCTAssertEqual(scanned.nextPosition, 4)
        XCTAssertNil(shop.usagePage(filter: none, from: 4, pageSize: 5).nextPosition)
    }

    func testBigMetadataCountsTowardsThePageBytes() {
        let small = recorded("s", at: 1)
        var big = small
        big.metadata.extra = [MetadataEntry(key: "k", value: String(repeating: "v", count: 1_000))]
        XCTAssertGreaterThan(big.estimatedWireBytes, small.estimatedWireBytes + 1_000)
    }
}

final class AlertStoreTests: XCTestCase {
    func alert(_ kind: AlertKind, _ period: String, shop: String = "shop", actual: NanoUSD = 1) -> Alert {
        Alert(shopID: shop, kind: kind, period: period, thresholdNanoUSD: 1, actualNanoUSD: actual, raisedAtUnixMs: 5, message: "m")
    }

    func testAlertsAreStoredOncePerKindAndPeriod() {
        var shop = ShopState(shopID: "shop")
        shop.apply(.alert(alert(.dailyCap, "2026-11-25")))
        shop.apply(.alert(alert(.dailyCap, "2026-11-25", actual: 99)))
        shop.apply(.alert(alert(.dailyCap, "2026-11-26")))
        shop.apply(.alert(alert(.dailyThreshold, "2026-11-25")))
        XCTAssertEqual(shop.alerts.map(\.period), ["2026-11-25", "2026-11-26", "2026-11-25"])
        XCTAssertEqual(shop.alerts.first?.actualNanoUSD, 1, "the first one stays")
        let candidates = [alert(.dailyCap, "2026-11-25"), alert(.monthlyCap, "2026-11"), alert(.monthlyCap, "2026-11")]
        XCTAssertEqual(shop.unstoredAlerts(candidates), [alert(.monthlyCap, "2026-11")])
    }

    func testLogUsageAlertsAreRaisedOncePerDay() throws {
        // The core raises an alert on the crossing itself; the ledger stores what is new.
        let config = Fixture.config()
        var shop = ShopState(shopID: "shop")
        var stored: [Alert] = []
        for (index, tokens) in [3_000, 1_500, 1_000, 2_000].enumerated() {
            let response = try shop.log(Fixture.usage("e\(index)", input: UInt64(tokens)), config: config, now: Fixture.now)
            for alert in shop.unstoredAlerts(response.alerts) {
                shop.apply(.alert(alert))
                stored.append(alert)
            }
        }
        XCTAssertEqual(stored.map(\.kind), [.dailyThreshold, .dailyCap], "$4.50 passes 80 %, $5.50 the cap; $7.50 nothing new")
        XCTAssertEqual(stored.map(\.actualNanoUSD), [usd("4.50"), usd("5.50")])
        // A repeat of an event rebuilds the same alerts; none of them is new.
        let repeated = try shop.log(Fixture.usage("e1", input: 1_500), config: config, now: Fixture.now)
        XCTAssertTrue(repeated.duplicate)
        XCTAssertEqual(repeated.alerts.map(\.kind), [.dailyThreshold])
        XCTAssertEqual(shop.unstoredAlerts(repeated.alerts), [])
    }

    func testMonthlyAlertsAreRaisedOncePerMonthAcrossDays() throws {
        let config = Fixture.config { config in
            config.limits["chat_message"]!.dailyCostCapNanoUSD = usd("100")
            config.limits["chat_message"]!.monthlyCostCapNanoUSD = usd("10")
        }
        var shop = ShopState(shopID: "shop")
        var stored: [Alert] = []
        let days: [(Int64, UInt64)] = [(2, 7_000), (3, 2_000), (4, 2_000), (5, 1_000), (6, 9_000)]
        for (day, tokens) in days {
            let response = try shop.log(
                Fixture.usage("d\(day)", input: tokens, at: utc(2026, 11, day, 9)), config: config, now: Fixture.now)
            for alert in shop.unstoredAlerts(response.alerts) {
                shop.apply(.alert(alert))
                stored.append(alert)
            }
        }
        XCTAssertEqual(stored.map(\.kind), [.monthlyThreshold, .monthlyCap], "$9 passes 80 % of $10, $11 the cap, later days nothing")
        XCTAssertEqual(stored.map(\.period), ["2026-11", "2026-11"])
        XCTAssertEqual(shop.alerts.count, 2)
    }

    func testHighDailyCostAlertIsStrictlyAboveAndOnce() {
        var shop = ShopState(shopID: "shop")
        let day = DayKey(unixMs: utc(2026, 11, 24))
        shop.apply(.usage(recorded("a", at: utc(2026, 11, 24, 10), cost: usd("5"))))
        XCTAssertNil(shop.highDailyCostAlert(day: day, thresholdNanoUSD: usd("5"), now: utc(2026, 11, 25, 2)), "$5.00 is not more than $5.00")
        shop.apply(.usage(recorded("b", at: utc(2026, 11, 24, 23, 59, 59, 999), cost: 1)))
        let alert = shop.highDailyCostAlert(day: day, thresholdNanoUSD: usd("5"), now: utc(2026, 11, 25, 2))
        XCTAssertEqual(alert?.kind, .highDailyCost)
        XCTAssertEqual(alert?.period, "2026-11-24")
        XCTAssertEqual(alert?.actualNanoUSD, usd("5") + 1)
        XCTAssertEqual(alert?.raisedAtUnixMs, utc(2026, 11, 25, 2))
        shop.apply(.alert(alert!))
        XCTAssertNil(shop.highDailyCostAlert(day: day, thresholdNanoUSD: usd("5"), now: utc(2026, 11, 25, 3)))
    }

    func testPaidMarksAndAlertsSurviveARebuildFromFacts() throws {
        let config = Fixture.config()
        var shop = ShopState(shopID: "shop")
        _ = try shop.log(Fixture.usage("e", input: 10, at: utc(2026, 10, 5)), config: config, now: Fixture.now)
        assertThrows(.notFound, "no stored billing record") { () throws(TokenGateError) in
            try shop.planMarkPaid(MarkPaidRequest(shopID: "shop", period: "2026-10"), now: Fixture.now)
        }
        _ = try shop.bill(GenerateBillingRequest(shopID: "shop", period: "2026-10"), config: config, now: Fixture.now)
        guard case .store(let mark, let record) = try shop.planMarkPaid(.init(shopID: "shop", period: "2026-10"), now: Fixture.now) else {
            return XCTFail("expected a paid mark to store")
        }
        XCTAssertTrue(record.paid)
        XCTAssertEqual(mark, PaidMark(shopID: "shop", period: "2026-10", paidAtUnixMs: Fixture.now))
        shop.apply(.paidMark(mark))
        XCTAssertEqual(shop.billingRecord(period: try MonthKey(parsing: "2026-10"))?.paid, true)
        guard case .alreadyPaid = try shop.planMarkPaid(.init(shopID: "shop", period: "2026-10"), now: Fixture.now) else {
            return XCTFail("a second mark must not be stored")
        }
        shop.apply(.alert(alert(.monthlyThreshold, "2026-10")))

        var rebuilt = ShopState(shopID: "shop")
        for fact in shop.durableFacts { rebuilt.apply(fact) }
        XCTAssertEqual(rebuilt.billingRecords, shop.billingRecords)
        XCTAssertEqual(rebuilt.alerts, shop.alerts)
        XCTAssertEqual(rebuilt.usageByOperation(from: .min, to: .max), shop.usageByOperation(from: .min, to: .max))
    }
}

final class DailyCheckScheduleTests: XCTestCase {
    func testParsingAndText() throws {
        XCTAssertEqual(try DailyCheckSchedule(parsing: "02:00").timeOfDayMs, 7_200_000)
        XCTAssertEqual(try DailyCheckSchedule(parsing: "23:59").text, "23:59")
        XCTAssertEqual(DailyCheckSchedule.highCostDefault.text, "02:00")
        for bad in ["2:00", "24:00", "12:60", "ab:cd", "12:00:00", "", "-1:00", "+1:00"] {
            assertThrows(.invalidArgument, "HH:MM") { () throws(TokenGateError) in try DailyCheckSchedule(parsing: bad) }
        }
        assertThrows(.invalidArgument) { () throws(TokenGateError) in try DailyCheckSchedule(timeOfDayMs: 86_400_000) }
    }

    func testRunsAndTheDayTheyCheck() {
        let schedule = DailyCheckSchedule.highCostDefault
        XCTAssertEqual(schedule.lastRun(atOrBefore: utc(2026, 11, 25, 2)), utc(2026, 11, 25, 2), "a run at exactly now is due")
        XCTAssertEqual(schedule.lastRun(atOrBefore: utc(2026, 11, 25, 1, 59, 59, 999)), utc(2026, 11, 24, 2))
        XCTAssertEqual(schedule.nextRun(after: utc(2026, 11, 25, 2)), utc(2026, 11, 26, 2))
        XCTAssertEqual(schedule.nextRun(after: utc(2026, 11, 25, 1)), utc(2026, 11, 25, 2))
        XCTAssertEqual(DailyCheckSchedule.checkedDay(forRunAt: utc(2026, 11, 25, 2)).text, "2026-11-24")
        XCTAssertEqual(DailyCheckSchedule.checkedDay(forRunAt: utc(2028, 3, 1, 2)).text, "2028-02-29", "the leap day is checked")
        XCTAssertEqual(DailyCheckSchedule.checkedDay(forRunAt: utc(2027, 1, 1, 2)).text, "2026-12-31")
        let midnight = try? DailyCheckSchedule(parsing: "00:00")
        XCTAssertEqual(midnight?.lastRun(atOrBefore: utc(2026, 11, 25, 0, 0, 0, 1)), utc(2026, 11, 25))
    }
}
