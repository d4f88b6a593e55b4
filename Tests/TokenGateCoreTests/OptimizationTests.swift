// Tests of ApplyOptimization: nothing changes below the threshold, model downgrade and history
// cap past it, output tokens capped to the remaining budget, and the configurable threshold.

import XCTest

@testable import TokenGateCore

final class OptimizationTests: XCTestCase {
    let config = Fixture.config()
    let now = Fixture.now

    func request(model: String = "gemini-2.5-pro", history: UInt32 = 12, output: UInt64 = 1000, input: UInt64 = 2000)
        -> ApplyOptimizationRequest
    {
        ApplyOptimizationRequest(
            shopID: "shop", operationType: "chat_message", model: model, historyLength: history, maxOutputTokens: output,
            estimatedInputTokens: input)
    }

    /// A shop that spent `input / 1000` dollars today.
    func shop(spent input: UInt64) throws -> ShopState {
        var state = ShopState(shopID: "shop")
        if input > 0 { _ = try state.log(Fixture.usage("spent", input: input), config: config, now: now) }
        return state
    }

    func testNothingChangesBelowTheThreshold() throws {
        let state = try shop(spent: 3000)  // 60 %
        let response = try state.optimize(request(), config: config, now: now)
        XCTAssertFalse(response.optimized)
        XCTAssertEqual(response.model, "gemini-2.5-pro")
        XCTAssertEqual(response.historyLength, 12)
        XCTAssertEqual(response.maxOutputTokens, 1000)
        XCTAssertEqual(response.reasons, [])
        // 2,000 × $1.25/M + 1,000 × $10/M.
        XCTAssertEqual(response.estimatedCostBeforeNanoUSD, usd("0.0125"))
        XCTAssertEqual(response.estimatedCostAfterNanoUSD, usd("0.0125"))
    }

    func testDowngradeAndHistoryCapPastTheThreshold() throws {
        let state = try shop(spent: 4250)  // 85 %
        let response = try state.optimize(request(), config: config, now: now)
        XCTAssertTrue(response.optimized)
        XCTAssertEqual(response.model, "gemini-2.5-flash")
        XCTAssertEqual(response.historyLength, 5)
        XCTAssertEqual(response.maxOutputTokens, 1000)
        XCTAssertEqual(response.reasons, [
            "model downgraded from gemini-2.5-pro to gemini-2.5-flash: daily usage 85% >= 80%",
            "history trimmed from 12 to 5 messages: daily usage 85% >= 80%",
        ])
        XCTAssertEqual(response.estimatedCostBeforeNanoUSD, usd("0.0125"))
        // 2,000 × $0.30/M + 1,000 × $2.50/M.
        XCTAssertEqual(response.estimatedCostAfterNanoUSD, usd("0.0031"))
        // An unmapped model and a short history stay as they are.
        let flash = try state.optimize(request(model: "gemini-2.5-flash", history: 3), config: config, now: now)
        XCTAssertFalse(flash.optimized)
    }

    func testMonthlyUsageTriggersToo() throws {
        var state = ShopState(shopID: "shop")
        for day in Int64(1)...20 { _ = try state.log(Fixture.usage("d\(day)", input: 4100, at: utc(2026, 11, day)), config: config, now: now) }
        let response = try state.optimize(request(), config: config, now: now)  // $82 of $100, nothing today
        XCTAssertEqual(response.reasons.first, "model downgraded from gemini-2.5-pro to gemini-2.5-flash: monthly usage 82% >= 80%")
    }

    func testOutputIsCappedToTheRemainingBudget() throws {
        let state = try shop(spent: 4990)  // $0.01 left today
        let response = try state.optimize(request(model: "test-model", history: 0, output: 50, input: 5), config: config, now: now)
        // $0.005 of input leaves room for 5 output tokens at $0.001.
        XCTAssertEqual(response.maxOutputTokens, 5)
        XCTAssertTrue(response.optimized)
        XCTAssertEqual(response.estimatedCostAfterNanoUSD, usd("0.01"))
        XCTAssertEqual(response.reasons, [
            "max output tokens capped from 50 to 5: the worst case must fit the $0.01 left of the shop's daily and monthly budgets"
        ])
        // Not even the input fits: output is cut to 0 and the reason says so.
        let hopeless = try state.optimize(request(model: "test-model", history: 0, output: 50, input: 20), config: config, now: now)
        XCTAssertEqual(hopeless.maxOutputTokens, 0)
        XCTAssertTrue(hopeless.reasons.last!.contains("not even the input fits"))
    }

    func testOutputCapAppliesBelowTheThresholdToo() throws {
        let tight = Fixture.config { $0.limits["chat_message"]!.dailyCostCapNanoUSD = usd("0.1") }
        let state = ShopState(shopID: "shop")
        let response = try state.optimize(request(model: "test-model", history: 0, output: 500, input: 0), config: tight, now: now)
        XCTAssertEqual(response.maxOutputTokens, 100)
        XCTAssertEqual(response.model, "test-model")
    }

    func testConfiguredThresholdOverridesTheAlertThreshold() throws {
        let state = try shop(spent: 3000)  // 60 %
        let early = Fixture.config { $0.optimization.thresholdPercent = 50 }
        let response = try state.optimize(request(), config: early, now: now)
        XCTAssertEqual(response.model, "gemini-2.5-flash")
        XCTAssertEqual(response.reasons.first, "model downgraded from gemini-2.5-pro to gemini-2.5-flash: daily usage 60% >= 50%")
    }

    func testHeldAmountsCountTowardTheThreshold() throws {
        var state = try shop(spent: 3000)
        let ids = IDMaker()
        _ = try state.check(Fixture.gate(input: 1000, reserve: true), config: config, now: now, ids: ids)  // +$1 held = 80 %
        XCTAssertEqual(try state.optimize(request(), config: config, now: now).model, "gemini-2.5-flash")
    }
}
