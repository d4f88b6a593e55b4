// Tests of CanMakeRequest: cap denials and their order, exact-fit boundaries, warnings, the tier
// spend cap, unknown shops, shadow mode and request validation. "test-model" costs $1 per
// 1,000 tokens, so amounts read as round dollars.

import XCTest

@testable import TokenGateCore

final class GateTests: XCTestCase {
    let config = Fixture.config()
    let now = Fixture.now
    let ids = IDMaker()

    func testFreshShopIsAllowedWithFullBudgets() throws {
        var state = ShopState(shopID: "shop")
        let response = try state.check(Fixture.gate(input: 500, output: 250), config: config, now: now, ids: ids)
        XCTAssertEqual(response.decision, .allow)
        XCTAssertEqual(response.reason, .withinBudget)
        XCTAssertFalse(response.warning)
        XCTAssertEqual(response.estimatedCostNanoUSD, usd("0.75"))
        XCTAssertEqual(response.dailyRemainingNanoUSD, usd("5"))
        XCTAssertEqual(response.monthlyRemainingNanoUSD, usd("100"))
        XCTAssertEqual(response.dailyUsedBasisPoints, 0)
        XCTAssertEqual(response.requestID, "req")
        XCTAssertEqual(response.reservationID, "")
        XCTAssertEqual(ids.issued, 0, "no reservation id is made without reserve")
    }

    func testDailyCapDeniesAfterLoggingPastFiveDollars() throws {
        var state = ShopState(shopID: "shop")
        _ = try state.log(Fixture.usage("e1", input: 3000, output: 2100), config: config, now: now)  // $5.10
        let response = try state.check(Fixture.gate(input: 1, output: 0), config: config, now: now, ids: ids)
        XCTAssertEqual(response.decision, .deny)
        XCTAssertEqual(response.reason, .dailyCapReached)
        XCTAssertTrue(response.message.contains("daily cost cap reached for 2026-11-25"), response.message)
        XCTAssertEqual(response.dailyRemainingNanoUSD, 0)
        XCTAssertEqual(response.monthlyRemainingNanoUSD, usd("94.90"))
        XCTAssertEqual(response.dailyUsedBasisPoints, 10_200)
        XCTAssertEqual(response.monthlyUsedBasisPoints, 510)
        XCTAssertTrue(response.warning)
        // The next UTC day starts from zero again.
        let tomorrow = utc(2026, 11, 26)
        XCTAssertEqual(try state.check(Fixture.gate(input: 1), config: config, now: tomorrow, ids: ids).decision, .allow)
    }

    func testExactFitIsAllowedAndOneMoreIsDenied() throws {
        var state = ShopState(shopID: "shop")
        _ = try state.log(Fixture.usage("e1", input: 4000), config: config, now: now)  // $4.00
        XCTAssertEqual(try state.check(Fixture.gate(input: 1000), config: config, now: now, ids: ids).decision, .allow)
        XCTAssertEqual(try state.check(Fixture.gate(input: 1001), config: config, now: now, ids: ids).reason, .dailyCapReached)
        _ = try state.log(Fixture.usage("e2", input: 1000), config: config, now: now)  // exactly $5.00
        // The cap is reached: even a call estimated at $0 is denied.
        let free = try state.check(Fixture.gate(input: 0, output: 0), config: config, now: now, ids: ids)
        XCTAssertEqual(free.reason, .dailyCapReached)
        XCTAssertEqual(free.dailyUsedBasisPoints, 10_000)
    }

    func testMonthlyCapCountsEveryDayOfTheMonthAndAllOperations() throws {
        var state = ShopState(shopID: "shop")
        for day in Int64(1)...24 {  // $4.10 a day on 24 days = $98.40, spread over two operation types
            let operation = day % 2 == 0 ? "chat_message" : "suggestion"
            _ = try state.log(Fixture.usage("d\(day)", input: 4100, at: utc(2026, 11, day, 9), operation: operation), config: config, now: now)
        }
        XCTAssertEqual(state.aggregate(month: MonthKey(unixMs: now)).costNanoUSD, usd("98.40"))
        XCTAssertEqual(try state.check(Fixture.gate(input: 1600), config: config, now: now, ids: ids).decision, .allow)
        let denied = try state.check(Fixture.gate(input: 1601), config: config, now: now, ids: ids)
        XCTAssertEqual(denied.reason, .monthlyCapReached)
        XCTAssertEqual(denied.dailyRemainingNanoUSD, usd("5"))
        XCTAssertEqual(denied.monthlyRemainingNanoUSD, usd("1.60"))
        // A new month resets the monthly budget.
        XCTAssertEqual(try state.check(Fixture.gate(input: 1601), config: config, now: utc(2026, 12, 1), ids: ids).decision, .allow)
    }

    func testDecisionOrderTokenLimitThenDailyThenMonthly() throws {
        let tight = Fixture.config { $0.limits["chat_message"]!.monthlyCostCapNanoUSD = usd("4") }
        var state = ShopState(shopID: "shop")
        _ = try state.log(Fixture.usage("e1", input: 6000), config: tight, now: now)  // over both caps
        XCTAssertEqual(try state.check(Fixture.gate(input: 10_001), config: tight, now: now, ids: ids).reason, .messageTokenLimit)
        XCTAssertEqual(try state.check(Fixture.gate(input: 10), config: tight, now: now, ids: ids).reason, .dailyCapReached)
        XCTAssertEqual(try state.check(Fixture.gate(input: 10), config: tight, now: utc(2026, 11, 26), ids: ids).reason, .monthlyCapReached)
    }

    func testMessageTokenLimits() throws {
        var state = ShopState(shopID: "shop")
        // At the limits exactly (flash, so the $5 daily cap does not interfere).
        let atLimits = Fixture.gate(input: 10_000, output: 2_000, model: "gemini-2.5-flash")
        XCTAssertEqual(try state.check(atLimits, config: config, now: now, ids: ids).decision, .allow)
        let input = try state.check(Fixture.gate(input: 10_001), config: config, now: now, ids: ids)
        XCTAssertEqual(input.reason, .messageTokenLimit)
        XCTAssertTrue(input.message.contains("input tokens 10001 exceed the per-message limit of 10000 for chat_message"), input.message)
        let suggestion = Fixture.gate(output: 501, operation: "suggestion")
        XCTAssertEqual(try state.check(suggestion, config: config, now: now, ids: ids).reason, .messageTokenLimit)
        let totalOnly = Fixture.config { $0.limits["chat_message"]!.maxTotalTokensPerMessage = 11_000 }
        let total = try state.check(Fixture.gate(input: 9_500, output: 1_501), config: totalOnly, now: now, ids: ids)
        XCTAssertEqual(total.reason, .messageTokenLimit)
        XCTAssertTrue(total.message.contains("total tokens 11001"), total.message)
    }

    func testWarningAtTheAlertThreshold() throws {
        var state = ShopState(shopID: "shop")
        _ = try state.log(Fixture.usage("e1", input: 3999), config: config, now: now)
        let below = try state.check(Fixture.gate(), config: config, now: now, ids: ids)
        XCTAssertFalse(below.warning)
        XCTAssertEqual(below.dailyUsedBasisPoints, 7_998)
        _ = try state.log(Fixture.usage("e2", input: 1), config: config, now: now)  // exactly $4.00 = 80 %
        let at = try state.check(Fixture.gate(), config: config, now: now, ids: ids)
        XCTAssertTrue(at.warning)
        XCTAssertEqual(at.decision, .allow)
        XCTAssertEqual(at.dailyUsedBasisPoints, 8_000)
    }

    func testShopOverrideRaisesTheCap() throws {
        let generous = Fixture.config { config in
            var limits = config.limits["chat_message"]!
            limits.dailyCostCapNanoUSD = usd("50")
            config.shopLimitOverrides["shop"] = ["chat_message": limits]
        }
        var state = ShopState(shopID: "shop")
        _ = try state.log(Fixture.usage("e1", input: 6000), config: generous, now: now)
        XCTAssertEqual(try state.check(Fixture.gate(input: 10), config: generous, now: now, ids: ids).decision, .allow)
        // The override is per operation type: a suggestion still has the $5 cap.
        let suggestion = Fixture.gate(input: 10, operation: "suggestion")
        XCTAssertEqual(try state.check(suggestion, config: generous, now: now, ids: ids).reason, .dailyCapReached)
    }

    func testTierSpendCap() throws {
        // fee $1, 2 included, $0.50 each after, capped at $2: the 4th message bills exactly $2.
        let capped = Fixture.config { config in
            config.tiers["tiny"] = Tier(
                name: "tiny", monthlyFeeNanoUSD: usd("1"), includedMessages: 2, overagePerMessageNanoUSD: usd("0.5"),
                maxMonthlySpendNanoUSD: usd("2"), selfServe: true)
            config.defaultTier = "tiny"
        }
        var state = ShopState(shopID: "shop")
        for index in 0..<3 {
            XCTAssertEqual(try state.check(Fixture.gate(), config: capped, now: now, ids: ids).decision, .allow, "message \(index)")
            _ = try state.log(Fixture.usage("e\(index)"), config: capped, now: now)
        }
        let denied = try state.check(Fixture.gate(), config: capped, now: now, ids: ids)
        XCTAssertEqual(denied.reason, .tierSpendCapReached)
        XCTAssertTrue(denied.message.contains("tier tiny"), denied.message)
        // Live holds count as messages: with 2 logged and one held, the next is denied too.
        var held = ShopState(shopID: "shop")
        for index in 0..<2 { _ = try held.log(Fixture.usage("e\(index)"), config: capped, now: now) }
        XCTAssertEqual(try held.check(Fixture.gate(reserve: true), config: capped, now: now, ids: ids).decision, .allow)
        XCTAssertEqual(try held.check(Fixture.gate(), config: capped, now: now, ids: ids).reason, .tierSpendCapReached)
        // A tier without a cap (enterprise) never denies on it.
        held.apply(.tierAssignment(shopID: "shop", tier: "enterprise"))
        XCTAssertEqual(try held.check(Fixture.gate(), config: capped, now: now, ids: ids).decision, .allow)
        // A tier that is not configured is an operator error, not a denial.
        held.apply(.tierAssignment(shopID: "shop", tier: "gold"))
        assertThrows(.failedPrecondition, "tier 'gold'") { () throws(TokenGateError) in
            try held.check(Fixture.gate(), config: capped, now: self.now, ids: self.ids)
        }
    }

    func testStarterTierSpendCapAtSeedScale() throws {
        // Starter: $5 + (n − 1,000) × $0.00015 reaches $50 at n = 301,000 messages.
        var state = ShopState(shopID: "shop")
        let config = Configuration.defaults
        for index in 0..<300_999 {
            state.apply(.usage(UsageEvent(
                eventID: "e\(index)", shopID: "shop", userID: "", conversationID: "", operationType: "chat_message",
                model: "gemini-2.5-flash", inputTokens: 1, outputTokens: 0, cachedInputTokens: 0, occurredAtUnixMs: utc(2026, 11, 2),
                costNanoUSD: 0, metadata: UsageMetadata(), recordedAtUnixMs: utc(2026, 11, 2))))
        }
        let request = CanMakeRequestRequest(shopID: "shop", model: "gemini-2.5-flash", estimatedInputTokens: 10)
        XCTAssertEqual(try state.check(request, config: config, now: now, ids: ids).reason, .tierSpendCapReached)
        var oneLess = ShopState(shopID: "shop")
        for event in state.events.dropLast() { oneLess.apply(.usage(event)) }
        XCTAssertEqual(try oneLess.check(request, config: config, now: now, ids: ids).decision, .allow)
    }

    func testUnknownShopPolicy() throws {
        let refusing = Fixture.config { $0.unknownShopPolicy = .deny }
        var state = ShopState(shopID: "shop")
        let denied = try state.check(Fixture.gate(), config: refusing, now: now, ids: ids)
        XCTAssertEqual(denied.decision, .deny)
        XCTAssertEqual(denied.reason, .unknownShop)
        XCTAssertEqual(try state.check(Fixture.gate(), config: config, now: now, ids: ids).decision, .allow, "default policy")
        state.apply(.tierAssignment(shopID: "shop", tier: "starter"))
        XCTAssertEqual(try state.check(Fixture.gate(), config: refusing, now: now, ids: ids).decision, .allow)
        var used = ShopState(shopID: "shop")
        _ = try used.log(Fixture.usage("e1"), config: refusing, now: now)
        XCTAssertEqual(try used.check(Fixture.gate(), config: refusing, now: now, ids: ids).decision, .allow, "usage makes a shop known")
    }

    func testShadowModeAllowsButReports() throws {
        var state = ShopState(shopID: "shop")
        _ = try state.log(Fixture.usage("e1", input: 5000), config: config, now: now)
        for shadow in [Fixture.config { $0.shadowMode = true }, Fixture.config { $0.shadowShops = ["shop"] }] {
            let response = try state.check(Fixture.gate(input: 10, reserve: true), config: shadow, now: now, ids: ids)
            XCTAssertEqual(response.decision, .allow)
            XCTAssertEqual(response.reason, .withinBudget)
            XCTAssertTrue(response.shadowDenied)
            XCTAssertEqual(response.shadowReason, .dailyCapReached)
            XCTAssertTrue(response.message.hasPrefix("shadow mode"), response.message)
            XCTAssertFalse(response.reservationID.isEmpty, "an allowed call gets its reservation")
        }
        let otherShop = Fixture.config { $0.shadowShops = ["another"] }
        XCTAssertEqual(try state.check(Fixture.gate(input: 10), config: otherShop, now: now, ids: ids).decision, .deny)
        var fresh = ShopState(shopID: "shop")
        let allowed = try fresh.check(Fixture.gate(), config: Fixture.config { $0.shadowMode = true }, now: now, ids: ids)
        XCTAssertFalse(allowed.shadowDenied)
        XCTAssertEqual(allowed.shadowReason, .unspecified)
    }

    func testValidation() {
        var state = ShopState(shopID: "shop")
        let cases: [(StatusCode, String, CanMakeRequestRequest)] = [
            (.invalidArgument, "shop_id is empty", Fixture.gate("")),
            (.invalidArgument, "shop_id is 129 bytes", Fixture.gate(String(repeating: "s", count: 129))),
            (.internal, "routed", Fixture.gate("other")),
            (.invalidArgument, "unknown operation_type 'video'", Fixture.gate(operation: "video")),
            (.notFound, "unknown model 'gpt-x'", Fixture.gate(model: "gpt-x")),
            (.invalidArgument, "estimated_input_tokens", Fixture.gate(input: 10_000_000_001)),
            (.invalidArgument, "max_output_tokens", Fixture.gate(output: .max)),
        ]
        for (code, message, request) in cases {
            assertThrows(code, message) { () throws(TokenGateError) in
                try state.check(request, config: self.config, now: self.now, ids: self.ids)
            }
        }
        XCTAssertEqual(ids.issued, 0)
    }
}
