// Tests of the price table: the default Gemini prices, Pro's prompt tier at its exact boundary,
// cached tokens, versions by effective time, unknown models and the fallback price.

import XCTest

@testable import TokenGateCore

final class PricingTests: XCTestCase {
    let prices = Configuration.defaults.prices

    func testFlashSeedCall() throws {
        // 2,062 × $0.30/M = $0.0006186 and 201 × $2.50/M = $0.0005025.
        let cost = try prices.cost(model: "gemini-2.5-flash", inputTokens: 2062, outputTokens: 201, cachedInputTokens: 0, at: Fixture.now)
        XCTAssertEqual(cost, 618_600 + 502_500)
        XCTAssertEqual(Money.formatUSD(cost), "$0.0011211")
    }

    func testProPromptTierBoundary() throws {
        // At exactly 200,000 prompt tokens the base rates apply; one more and every token of the
        // call (output too) moves to the higher rates.
        let atLimit = try prices.cost(model: "gemini-2.5-pro", inputTokens: 200_000, outputTokens: 1000, cachedInputTokens: 0, at: 0)
        XCTAssertEqual(atLimit, usd("0.25") + usd("0.01"))
        let above = try prices.cost(model: "gemini-2.5-pro", inputTokens: 200_001, outputTokens: 1000, cachedInputTokens: 0, at: 0)
        XCTAssertEqual(above, 500_002_500 + usd("0.015"))
    }

    func testCachedTokensArePartOfInput() throws {
        // 10,000 input of which 4,000 cached: 6,000 × $0.30/M + 4,000 × $0.03/M.
        let cost = try prices.cost(model: "gemini-2.5-flash", inputTokens: 10_000, outputTokens: 0, cachedInputTokens: 4000, at: 0)
        XCTAssertEqual(cost, 1_800_000 + 120_000)
        // Pro above the prompt tier: cached tokens at the tier's cached rate ($0.25/M).
        let pro = try prices.cost(model: "gemini-2.5-pro", inputTokens: 300_000, outputTokens: 0, cachedInputTokens: 100_000, at: 0)
        XCTAssertEqual(pro, usd("0.5") + usd("0.025"))
        assertThrows(.invalidArgument, "cached_input_tokens") { () throws(TokenGateError) in
            try self.prices.cost(model: "gemini-2.5-flash", inputTokens: 10, outputTokens: 0, cachedInputTokens: 11, at: 0)
        }
    }

    func testEachClassIsRoundedHalfUpThenSummed() throws {
        // 1 nano-USD per million for each class: 500,000 tokens is exactly half a nano-USD.
        let rates = PriceRates(inputPerMillion: 1, outputPerMillion: 1, cachedInputPerMillion: 1)
        let table = PriceTable(models: ["m": [PriceVersion(effectiveFromUnixMs: 0, base: rates, source: "t")]])
        // Rounded per class: 0.5 + 0.5 + 0.5 -> 1 + 1 + 1 = 3 (summing first would give 2).
        XCTAssertEqual(try table.cost(model: "m", inputTokens: 1_000_000, outputTokens: 500_000, cachedInputTokens: 500_000, at: 0), 3)
        XCTAssertEqual(try table.cost(model: "m", inputTokens: 499_999, outputTokens: 499_999, cachedInputTokens: 0, at: 0), 0)
    }

    func testVersionsApplyFromTheirEffectiveTime() throws {
        let change = utc(2026, 12, 1)
        var table = prices
        var newer = table.models["gemini-2.5-flash"]![0]
        newer.effectiveFromUnixMs = change
        newer.base.outputPerMillion = usd("3.00")
        table.models["gemini-2.5-flash"]!.append(newer)
        let before = try table.cost(model: "gemini-2.5-flash", inputTokens: 0, outputTokens: 1_000_000, cachedInputTokens: 0, at: change - 1)
        let after = try table.cost(model: "gemini-2.5-flash", inputTokens: 0, outputTokens: 1_000_000, cachedInputTokens: 0, at: change)
        XCTAssertEqual(before, usd("2.50"))
        XCTAssertEqual(after, usd("3.00"))
    }

    func testNoVersionEffectiveYetIsNotFound() {
        let table = PriceTable(models: ["m": [PriceVersion(effectiveFromUnixMs: 1000, base: Fixture.testRates, source: "t")]])
        assertThrows(.notFound, "no price for model 'm'") { () throws(TokenGateError) in try table.version(model: "m", at: 999) }
        XCTAssertEqual(try table.version(model: "m", at: 1000).effectiveFromUnixMs, 1000)
    }

    func testUnknownModelAndFallback() throws {
        assertThrows(.notFound, "unknown model 'gpt-x': add it to the price table or configure a fallback price") {
            () throws(TokenGateError) in
            try self.prices.cost(model: "gpt-x", inputTokens: 1, outputTokens: 1, cachedInputTokens: 0, at: 0)
        }
        var table = prices
        table.fallback = PriceVersion(effectiveFromUnixMs: 0, base: Fixture.testRates, source: "fallback")
        XCTAssertEqual(try table.cost(model: "gpt-x", inputTokens: 1000, outputTokens: 1000, cachedInputTokens: 0, at: 0), usd("2"))
        // Listed models keep their own prices.
        let flash = try table.cost(model: "gemini-2.5-flash", inputTokens: 0, outputTokens: 1_000_000, cachedInputTokens: 0, at: 0)
        XCTAssertEqual(flash, usd("2.5"))
    }

    func testCostOverflowIsAnError() {
        let huge = PriceRates(inputPerMillion: .max, outputPerMillion: .max, cachedInputPerMillion: .max)
        let table = PriceTable(models: ["m": [PriceVersion(effectiveFromUnixMs: 0, base: huge, source: "t")]])
        assertThrows(.outOfRange) { () throws(TokenGateError) in
            try table.cost(model: "m", inputTokens: 1_000_000, outputTokens: 1_000_000, cachedInputTokens: 0, at: 0)
        }
    }
}
