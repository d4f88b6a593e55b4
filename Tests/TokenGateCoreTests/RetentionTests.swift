// Retention in the domain: dropping a month's raw events keeps its totals (so bills and budgets
// still add up), forgets the event ids and days, keeps billing records, and a shop rebuilt from
// its durable facts (month aggregates included) answers like the original.

import XCTest

@testable import TokenGateCore

final class RetentionTests: XCTestCase {
    let config = Fixture.config()

    /// A shop with 3 events in 2025-06, 2 in 2025-07 (billed) and 1 in 2026-11, tier professional.
    func sampleShop() throws -> ShopState {
        var shop = ShopState(shopID: "shop")
        shop.apply(.tierAssignment(shopID: "shop", tier: "professional"))
        for (index, at) in [utc(2025, 6, 1), utc(2025, 6, 15), utc(2025, 6, 30, 23)].enumerated() {
            _ = try shop.log(Fixture.usage("jun-\(index)", input: 1_000, output: 500, at: at), config: config, now: at)
        }
        for (index, at) in [utc(2025, 7, 2), utc(2025, 7, 31)].enumerated() {
            _ = try shop.log(Fixture.usage("jul-\(index)", input: 2_000, at: at), config: config, now: at)
        }
        _ = try shop.bill(.init(shopID: "shop", period: "2025-07"), config: config, now: utc(2025, 8, 2))
        _ = try shop.log(Fixture.usage("nov-0", input: 100, at: Fixture.now), config: config, now: Fixture.now)
        return shop
    }

    func testMonthArithmetic() {
        let now = utc(2026, 11, 25)
        XCTAssertEqual(Retention.oldestKeptMonth(now: now, months: 13).text, "2025-10")
        XCTAssertEqual(Retention.oldestAcceptedMonth(now: now, months: 13).text, "2025-11")
        XCTAssertEqual(Retention.oldestKeptMonth(now: utc(2026, 1, 1), months: 1).text, "2025-12")
        XCTAssertEqual(Retention.oldestKeptMonth(now: utc(2026, 1, 1), months: 24).text, "2024-01")
        XCTAssertEqual(Retention.oldestKeptMonth(now: 0, months: 1_200).text, "1870-01")
        XCTAssertEqual(Retention.oldestKeptMonth(now: utc(50, 3, 1), months: 1_200).text, "0000-01", "clamped")
    }

    func testDroppingKeepsMonthTotalsBillingAndForgetsEvents() throws {
        var shop = try sampleShop()
        let june = try MonthKey(parsing: "2025-06")
        let july = try MonthKey(parsing: "2025-07")
        let juneBefore = shop.aggregate(month: june)
        let julyBefore = shop.aggregate(month: july)
        XCTAssertEqual(juneBefore.messages, 3)
        XCTAssertEqual(shop.dropEvents(before: june), 0, "nothing before June")
        XCTAssertEqual(shop.dropEvents(before: try MonthKey(parsing: "2025-08")), 5)
        XCTAssertEqual(shop.dropEvents(before: try MonthKey(parsing: "2025-08")), 0, "a second pass finds nothing")
        XCTAssertEqual(shop.events.map(\.eventID), ["nov-0"])
        XCTAssertNil(shop.event(id: "jun-0"))
        XCTAssertEqual(shop.event(id: "nov-0")?.eventID, "nov-0", "the index follows the kept events")
        XCTAssertEqual(shop.aggregate(month: june), juneBefore)
        XCTAssertEqual(shop.aggregate(month: july), julyBefore)
        XCTAssertEqual(shop.archivedMonths, [june: juneBefore, july: julyBefore])
        XCTAssertEqual(shop.spent(day: DayKey(unixMs: utc(2025, 6, 15))), 0, "days of dropped months are forgotten")
        XCTAssertEqual(shop.billingRecord(period: july)?.messagesUsed, 2, "billing records are kept")
        XCTAssertTrue(shop.isKnown)

        // A preview of the dropped month still bills its usage.
        let preview = try shop.bill(.init(shopID: "shop", period: "2025-06", preview: true), config: config, now: Fixture.now)
        XCTAssertEqual(preview.record.messagesUsed, 3)
        XCTAssertEqual(preview.record.apiCostNanoUSD, juneBefore.costNanoUSD)
        XCTAssertEqual(preview.record.tokensUsed, 4_500)
    }

    func testReportsAfterDroppingIndexOnlyTheKeptEvents() throws {
        var shop = try sampleShop()
        XCTAssertEqual(shop.dropEvents(before: try MonthKey(parsing: "2025-08")), 5)
        // A range cut inside a day reads that day's events by position: positions must follow
        // the kept events, or this reads past the end of the event list.
        let today = DayKey(unixMs: Fixture.now)
        let usage = shop.usageByOperation(from: today.startUnixMs + 1, to: today.endUnixMs - 1)
        XCTAssertEqual(usage.values.reduce(0) { $0 + $1.messages }, 1)
        let dropped = shop.usageByOperation(from: utc(2025, 6, 15) + 1, to: utc(2025, 6, 16))
        XCTAssertTrue(dropped.values.allSatisfy { $0.messages == 0 }, "dropped days have no events left to read")
    }

    func testAShopRebuiltFromItsDurableFactsAnswersTheSame() throws {
        var shop = try sampleShop()
        shop.dropEvents(before: try MonthKey(parsing: "2025-07"))
        let facts = shop.durableFacts
        XCTAssertTrue(facts.contains { if case .monthAggregate = $0 { true } else { false } })
        var rebuilt = ShopState(shopID: "shop")
        for fact in facts { rebuilt.apply(fact) }
        XCTAssertEqual(rebuilt.durableFacts, facts)
        XCTAssertEqual(rebuilt.events, shop.events)
        XCTAssertEqual(rebuilt.months, shop.months)
        for month in shop.months { XCTAssertEqual(rebuilt.aggregate(month: month), shop.aggregate(month: month)) }
        XCTAssertEqual(rebuilt.billingRecords, shop.billingRecords)
        XCTAssertEqual(rebuilt.archivedMonths, shop.archivedMonths)

        // Later usage in an archived month (only a clock jump could bring one) adds to its total,
        // and a second drop moves it into the archive without counting the archive twice.
        let june = try MonthKey(parsing: "2025-06")
        let late = utc(2025, 6, 20)
        _ = try rebuilt.log(Fixture.usage("jun-late", input: 1_000, at: late), config: config, now: late)
        XCTAssertEqual(rebuilt.aggregate(month: june).messages, 4)
        XCTAssertEqual(rebuilt.dropEvents(before: try MonthKey(parsing: "2025-07")), 1)
        XCTAssertEqual(rebuilt.aggregate(month: june).messages, 4)
        XCTAssertEqual(rebuilt.archivedMonths[june]?.messages, 4)
    }

    func testAShopWithOnlyArchivedUsageIsStillKnown() throws {
        var shop = ShopState(shopID: "old")
        let at = utc(2024, 1, 10)
        _ = try shop.log(Fixture.usage("e", shop: "old", input: 10, at: at), config: config, now: at)
        shop.dropEvents(before: try MonthKey(parsing: "2024-02"))
        XCTAssertTrue(shop.events.isEmpty)
        XCTAssertTrue(shop.isKnown, "unknown-shop policies must not forget a shop that has billed usage")
    }
}
