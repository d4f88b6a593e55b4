// Tests of one shop's part of the reports: usage over time ranges read from aggregates against
// a scan of every event (seeded), UTC month and day boundaries, leap years, the month-end
// projection (against the seed's wrong SQL), the 24-hour high-cost figures, the shop view with
// the seed's worked examples, and the report builder's ranking.

import XCTest

@testable import TokenGateCore
import TokenGateTestSupport

/// A recorded usage event built directly, for report tests that do not need pricing.
func recorded(
    _ id: String, shop: String = "shop", operation: String = "chat_message", at occurredAt: UnixMillis,
    cost: NanoUSD = 1_000, input: UInt64 = 10, output: UInt64 = 5, cached: UInt64 = 0
) -> UsageEvent {
    UsageEvent(
        eventID: id, shopID: shop, userID: "user", conversationID: "conv", operationType: operation, model: "test-model",
        inputTokens: input, outputTokens: output, cachedInputTokens: cached, occurredAtUnixMs: occurredAt, costNanoUSD: cost,
        metadata: UsageMetadata(), recordedAtUnixMs: occurredAt)
}

/// The reference model: usage by operation of the events in [lower, upper), by scanning all.
func scannedUsage(_ events: [UsageEvent], from lower: UnixMillis, to upper: UnixMillis) -> [String: MonthAggregate] {
    var result: [String: MonthAggregate] = [:]
    for event in events where event.occurredAtUnixMs >= lower && event.occurredAtUnixMs < upper {
        result[event.operationType, default: MonthAggregate()].add(event)
    }
    return result
}

final class UsageRangeTests: XCTestCase {
    func testUsageOverRandomRangesMatchesAScanOfEveryEvent() {
        let seed = UInt64.random(in: 0...UInt64.max)
        print("UsageRangeTests seed \(seed)")
        var random = SplitMix64(seed: seed)
        var shop = ShopState(shopID: "shop")
        // 2028-01-20 to 2028-03-30 spans a leap February.
        let start = utc(2028, 1, 20)
        let span = 70 * UTCCalendar.millisecondsPerDay
        let operations = ["chat_message", "suggestion", "photo_studio"]
        for index in 0..<800 {
            let at = start + Int64(random.next() % UInt64(span))
            let operation = operations[Int(random.next() % 3)]
            shop.apply(.usage(recorded("e\(index)", operation: operation, at: at, cost: NanoUSD(random.next() % 1_000_000),
                                       input: random.next() % 5_000, output: random.next() % 500)))
        }
        let interesting = [0, utc(2028, 2, 1), utc(2028, 2, 29), utc(2028, 3, 1), utc(2028, 3, 1) - 1, utc(2028, 2, 10, 13, 7)]
        for round in 0..<300 {
            var bounds = [Int64](repeating: 0, count: 2)
            for side in 0..<2 {
                switch random.next() % 4 {
                case 0: bounds[side] = interesting[Int(random.next() % UInt64(interesting.count))]
                case 1: bounds[side] = UTCCalendar.unixMs(days: UTCCalendar.days(unixMs: start) + Int64(random.next() % 75))
                default: bounds[side] = start - UTCCalendar.millisecondsPerDay + Int64(random.next() % UInt64(span + 2 * UTCCalendar.millisecondsPerDay))
                }
            }
            let filter = UsageFilter(fromUnixMs: min(bounds[0], bounds[1]), toUnixMs: max(bounds[0], bounds[1]))
            XCTAssertEqual(
                shop.usageByOperation(from: filter.lowerBound, to: filter.upperBound),
                scannedUsage(shop.events, from: filter.lowerBound, to: filter.upperBound),
                "seed \(seed) round \(round) range \(filter)")
        }
    }

    func testLastMillisecondOfAMonthBelongsToThatMonth() {
        var shop = ShopState(shopID: "shop")
        let lastOfOctober = utc(2026, 10, 31, 23, 59, 59, 999)
        shop.apply(.usage(recorded("late", at: lastOfOctober, cost: 7)))
        shop.apply(.usage(recorded("early", at: lastOfOctober + 1, cost: 11)))
        let october = MonthKey(unixMs: utc(2026, 10, 1))
        XCTAssertEqual(shop.aggregate(month: october).costNanoUSD, 7)
        XCTAssertEqual(shop.monthSummary(october)?.messages, 1)
        XCTAssertEqual(shop.monthSummary(october.next)?.costNanoUSD, 11)
        XCTAssertEqual(shop.usageByOperation(month: october).total.costNanoUSD, 7)
        // [from, to): an October range ends before November's first millisecond.
        XCTAssertEqual(shop.usageByOperation(from: october.startUnixMs, to: october.endUnixMs).total.costNanoUSD, 7)
        XCTAssertEqual(shop.usageByOperation(from: lastOfOctober, to: lastOfOctober + 1).total.costNanoUSD, 7)
        XCTAssertEqual(shop.usageByOperation(from: lastOfOctober + 1, to: .max).total.costNanoUSD, 11)
        XCTAssertEqual(shop.spent(day: DayKey(unixMs: lastOfOctober)), 7)
    }

    func testEmptyAndInvertedRangesHoldNothing() {
        var shop = ShopState(shopID: "shop")
        shop.apply(.usage(recorded("a", at: utc(2026, 5, 5))))
        XCTAssertTrue(shop.usageByOperation(from: utc(2026, 5, 6), to: utc(2026, 5, 5)).isEmpty)
        XCTAssertTrue(shop.usageByOperation(from: utc(2026, 5, 5), to: utc(2026, 5, 5)).isEmpty)
    }

    func testFilterValidation() {
        assertThrows(.invalidArgument, "empty") { () throws(TokenGateError) in
            try UsageFilter(fromUnixMs: 10, toUnixMs: 10).validate()
        }
        assertThrows(.invalidArgument, ">= 0") { () throws(TokenGateError) in try UsageFilter(fromUnixMs: -1).validate() }
        assertThrows(.invalidArgument, "shop_id") { () throws(TokenGateError) in
            try UsageFilter(shopID: String(repeating: "x", count: 200)).validate()
        }
        XCTAssertNoThrow(try UsageFilter(shopID: "s", fromUnixMs: 10).validate())
        XCTAssertTrue(UsageFilter(toUnixMs: 10).contains(9))
        XCTAssertFalse(UsageFilter(toUnixMs: 10).contains(10))
    }
}

final class ProjectionTests: XCTestCase {
    func testProjectionIsSpentPlusDailyRateTimesDaysLeft() {
        var shop = ShopState(shopID: "shop")
        shop.apply(.usage(recorded("a", at: utc(2026, 11, 3), cost: usd("20"))))
        shop.apply(.usage(recorded("b", at: utc(2026, 11, 24), cost: usd("30"))))
        // 2026-11-25 noon: 25 days elapsed (today counted), 5 whole days left.
        let now = utc(2026, 11, 25, 12)
        let projection = shop.projection(now: now)
        XCTAssertEqual(projection.period, "2026-11")
        XCTAssertEqual(projection.spentNanoUSD, usd("50"))
        XCTAssertEqual(projection.dailyRunRateNanoUSD, usd("2"))
        XCTAssertEqual(projection.daysLeft, 5)
        XCTAssertEqual(projection.projectedMonthEndNanoUSD, usd("60"))
        XCTAssertEqual(projection.messagesThisMonth, 2)
        // The seed's SQL: spent × (time to month end in days / day of month) = 50 × 5.5 / 25
        // = $11, less than what was already spent. The right projection is never below it.
        let seedProjection = usd("50") * 55 / 250
        XCTAssertEqual(seedProjection, usd("11"))
        XCTAssertNotEqual(projection.projectedMonthEndNanoUSD, seedProjection)
        XCTAssertGreaterThanOrEqual(projection.projectedMonthEndNanoUSD, projection.spentNanoUSD)
    }

    func testRunRateRoundsHalfUpAndTheLastDayProjectsTheSpend() {
        var shop = ShopState(shopID: "shop")
        shop.apply(.usage(recorded("a", at: utc(2026, 11, 1), cost: 5)))
        // Day 2: 5 / 2 = 2.5 → 3 nano-USD a day, 28 days left.
        let second = shop.projection(now: utc(2026, 11, 2, 8))
        XCTAssertEqual(second.dailyRunRateNanoUSD, 3)
        XCTAssertEqual(second.daysLeft, 28)
        XCTAssertEqual(second.projectedMonthEndNanoUSD, 5 + 3 * 28)
        let last = shop.projection(now: utc(2026, 11, 30, 23, 59, 59, 999))
        XCTAssertEqual(last.daysLeft, 0)
        XCTAssertEqual(last.projectedMonthEndNanoUSD, 5)
    }

    func testLeapYearMonthLengths() {
        XCTAssertEqual(MonthProgress(now: utc(2028, 2, 15)).daysLeft, 14, "February 2028 has 29 days")
        XCTAssertEqual(MonthProgress(now: utc(2027, 2, 15)).daysLeft, 13)
        XCTAssertEqual(MonthProgress(now: utc(2100, 2, 15)).daysLeft, 13, "2100 is not a leap year")
        XCTAssertEqual(MonthProgress(now: utc(2000, 2, 15)).daysLeft, 14, "2000 is")
        let leapDay = MonthProgress(now: utc(2028, 2, 29, 23, 59, 59, 999))
        XCTAssertEqual(leapDay.daysElapsed, 29)
        XCTAssertEqual(leapDay.daysLeft, 0)
        XCTAssertEqual(leapDay.month.text, "2028-02")
        XCTAssertEqual(MonthProgress(now: utc(2028, 2, 29) + UTCCalendar.millisecondsPerDay).month.text, "2028-03")
        var shop = ShopState(shopID: "shop")
        shop.apply(.usage(recorded("leap", at: utc(2028, 2, 29, 12), cost: usd("29"))))
        let projection = shop.projection(now: utc(2028, 2, 29, 13))
        XCTAssertEqual(projection.dailyRunRateNanoUSD, usd("1"))
        XCTAssertEqual(projection.projectedMonthEndNanoUSD, usd("29"))
    }

    func testProjectionSaturatesInsteadOfWrapping() {
        XCTAssertEqual(ReportMath.project(spent: 1, dailyRate: .max / 2, days: 30), .max)
        XCTAssertEqual(ReportMath.project(spent: 10, dailyRate: 3, days: 4), 22)
    }

    func testHighCostCountsTheLast24HoursAndProjectsAtThatRate() {
        var shop = ShopState(shopID: "shop")
        let now = utc(2026, 11, 25, 12)
        shop.apply(.usage(recorded("old", at: now - 25 * 3_600_000, cost: usd("4"))))
        shop.apply(.usage(recorded("edge", at: now - 24 * 3_600_000, cost: usd("0.60"), input: 100, output: 20)))
        shop.apply(.usage(recorded("recent", at: now - 3_600_000, cost: usd("0.60"), input: 200, output: 30)))
        let high = shop.highCost(now: now, thresholdNanoUSD: usd("1"))
        XCTAssertEqual(high?.costNanoUSD, usd("1.20"))
        XCTAssertEqual(high?.messages, 2)
        XCTAssertEqual(high?.tokens, 350)
        // $5.20 spent this month + $1.20 a day for the 5 days after today.
        XCTAssertEqual(high?.projectedMonthlyCostNanoUSD, usd("11.20"))
        XCTAssertNil(shop.highCost(now: now, thresholdNanoUSD: usd("1.20")), "the threshold is exclusive: more than it")
        XCTAssertNil(shop.highCost(now: now + 3 * 3_600_000, thresholdNanoUSD: usd("1")), "the edge event left the window")
    }
}

final class ShopViewTests: XCTestCase {
    func logMessages(_ count: Int, shop: inout ShopState, config: Configuration, now: UnixMillis) throws {
        for index in 0..<count {
            _ = try shop.log(Fixture.usage("m\(index)", input: 1, output: 1, at: now - 3_600_000), config: config, now: now)
        }
    }

    func testSeedExampleOf1500MessagesOnStarter() throws {
        let config = Fixture.config()
        var shop = ShopState(shopID: "shop")
        try logMessages(1_500, shop: &shop, config: config, now: Fixture.now)
        let view = try shop.shopView(config: config, now: Fixture.now)
        XCTAssertEqual(view.tier, "starter")
        XCTAssertEqual(view.period, "2026-11")
        XCTAssertEqual(view.messagesThisMonth, 1_500)
        XCTAssertEqual(view.apiCostThisMonthNanoUSD, usd("3"), "1,500 calls of 2 tokens at $0.001 a token")
        XCTAssertEqual(view.estimatedBillNanoUSD, usd("5.075"), "$5.00 + 500 × $0.00015")
        XCTAssertEqual(view.recommendedTier, "starter")
        XCTAssertEqual(view.savingNanoUSD, 0)
        XCTAssertEqual(view.includedMessages, 1_000)
        XCTAssertFalse(view.unlimitedMessages)
        XCTAssertEqual(view.dailyCapNanoUSD, usd("5"))
        XCTAssertEqual(view.dailySpentNanoUSD, usd("3"))
        XCTAssertEqual(view.dailyUsedBasisPoints, 6_000)
        XCTAssertEqual(view.monthlyUsedBasisPoints, 300)
    }

    func testProfessionalShopAt5000MessagesIsToldStarterIsCheaper() throws {
        // The seed's thresholds would recommend professional at 5,000 messages; starter costs
        // $5.60 there and professional $15.00, so the honest advice is starter, saving $9.40.
        let config = Fixture.config()
        var shop = ShopState(shopID: "shop")
        shop.apply(.tierAssignment(shopID: "shop", tier: "professional"))
        try logMessages(5_000, shop: &shop, config: config, now: Fixture.now)
        let view = try shop.shopView(config: config, now: Fixture.now)
        XCTAssertEqual(view.estimatedBillNanoUSD, usd("15"))
        XCTAssertEqual(view.recommendedTier, "starter")
        XCTAssertEqual(view.savingNanoUSD, usd("9.40"))
        XCTAssertEqual(view.includedMessages, 10_000)
    }

    func testUnknownShopsAndUnconfiguredTiers() throws {
        let fresh = ShopState(shopID: "new")
        let view = try fresh.shopView(config: Fixture.config(), now: Fixture.now)
        XCTAssertEqual(view.tier, "starter")
        XCTAssertEqual(view.estimatedBillNanoUSD, usd("5"))
        assertThrows(.notFound, "unknown") { () throws(TokenGateError) in
            try fresh.shopView(config: Fixture.config { $0.unknownShopPolicy = .deny }, now: Fixture.now)
        }
        var orphan = ShopState(shopID: "orphan")
        orphan.apply(.tierAssignment(shopID: "orphan", tier: "gold"))
        assertThrows(.failedPrecondition, "gold") { () throws(TokenGateError) in
            try orphan.shopView(config: Fixture.config(), now: Fixture.now)
        }
        var enterprise = ShopState(shopID: "big")
        enterprise.apply(.tierAssignment(shopID: "big", tier: "enterprise"))
        XCTAssertTrue(try enterprise.shopView(config: Fixture.config(), now: Fixture.now).unlimitedMessages)
    }
}

final class ReportBuilderTests: XCTestCase {
    func testAveragesRoundHalfUp() {
        XCTAssertEqual(ReportMath.average(NanoUSD(10), over: 4), 3, "2.5 rounds up")
        XCTAssertEqual(ReportMath.average(NanoUSD(10), over: 3), 3)
        XCTAssertEqual(ReportMath.average(NanoUSD(11), over: 3), 4)
        XCTAssertEqual(ReportMath.average(NanoUSD(10), over: 0), 0)
        XCTAssertEqual(ReportMath.average(UInt64.max, over: 2), UInt64.max / 2 + 1)
        XCTAssertEqual(ReportMath.average(UInt64.max, over: UInt64.max), 1)
    }

    func testStatisticsRankByCostAndTotalEverything() {
        var builder = UsageReportBuilder()
        let shops: [(String, [String: NanoUSD])] = [
            ("b", ["chat_message": 300, "suggestion": 100]), ("a", ["chat_message": 400]), ("c", ["photo_studio": 50]),
            ("idle", [:]),
        ]
        for (shop, costs) in shops {
            var usage: [String: MonthAggregate] = [:]
            for (operation, cost) in costs { usage[operation] = MonthAggregate(messages: 2, inputTokens: 10, outputTokens: 1, costNanoUSD: cost) }
            builder.add(shopID: shop, usage: usage)
        }
        let statistics = builder.statistics
        XCTAssertEqual(statistics.totals.events, 8)
        XCTAssertEqual(statistics.totals.costNanoUSD, 850)
        XCTAssertEqual(statistics.totals.totalTokens, 44)
        XCTAssertEqual(statistics.totals.averageCostNanoUSD, 106, "850 / 8 = 106.25")
        XCTAssertEqual(statistics.byOperation.map(\.key), ["chat_message", "suggestion", "photo_studio"])
        XCTAssertEqual(statistics.byOperation.first?.costNanoUSD, 700)
        XCTAssertEqual(statistics.byShop.map(\.key), ["a", "b", "c"], "a shop without events is not listed; ties by id")
        XCTAssertEqual(statistics.byShop.map(\.costNanoUSD), [400, 400, 50])
    }

    func testByShopListsAreCappedWhileTotalsCoverEveryShop() {
        var builder = UsageReportBuilder()
        let shops = ReportLimits.shopsPerResponseMax + 5
        for index in 0..<shops {
            builder.add(shopID: "s\(index)", usage: ["chat_message": MonthAggregate(messages: 1, costNanoUSD: NanoUSD(index + 1))])
        }
        XCTAssertEqual(builder.byShop.count, ReportLimits.shopsPerResponseMax)
        XCTAssertEqual(builder.byShop.first?.key, "s\(shops - 1)", "the most expensive first")
        XCTAssertEqual(builder.byShop.last?.costNanoUSD, 6, "the five cheapest are left out")
        XCTAssertEqual(builder.totals.events, UInt64(shops))
    }

    func testTopListKeepsTheBestInOrder() {
        var top = TopList<Int>(limit: 5) { $0 > $1 }
        var random = SplitMix64(seed: 7)
        var all: [Int] = []
        for _ in 0..<1_000 {
            let value = Int(random.next() % 10_000)
            all.append(value)
            top.add(value)
        }
        XCTAssertEqual(top.sorted, Array(all.sorted(by: >).prefix(5)))
        var none = TopList<Int>(limit: 0) { $0 > $1 }
        none.add(1)
        XCTAssertEqual(none.sorted, [])
    }
}
