// Tests of the embedded defaults (against DESIGN's tables, written out again here), limit and
// tier lookups, and the coherence checks of `validate()`.

import XCTest

@testable import TokenGateCore

final class ConfigurationTests: XCTestCase {
    let config = Configuration.defaults

    func testDefaultPricesAndSource() throws {
        let flash = try config.prices.version(model: "gemini-2.5-flash", at: 0)
        XCTAssertEqual(flash.base, PriceRates(inputPerMillion: usd("0.30"), outputPerMillion: usd("2.50"), cachedInputPerMillion: usd("0.03")))
        XCTAssertTrue(flash.promptTiers.isEmpty)
        let pro = try config.prices.version(model: "gemini-2.5-pro", at: Fixture.now)
        XCTAssertEqual(pro.base, PriceRates(inputPerMillion: usd("1.25"), outputPerMillion: usd("10"), cachedInputPerMillion: usd("0.125")))
        XCTAssertEqual(pro.promptTiers, [
            PromptTier(
                promptTokensAbove: 200_000,
                rates: PriceRates(inputPerMillion: usd("2.50"), outputPerMillion: usd("15"), cachedInputPerMillion: usd("0.25")))
        ])
        XCTAssertTrue(pro.source.contains("2026-11-25"))
        XCTAssertNil(config.prices.fallback)
    }

    func testDefaultTiers() throws {
        XCTAssertEqual(try config.tier(named: "starter"), Tier(
            name: "starter", monthlyFeeNanoUSD: usd("5"), includedMessages: 1000, overagePerMessageNanoUSD: usd("0.00015"),
            maxMonthlySpendNanoUSD: usd("50"), selfServe: true))
        XCTAssertEqual(try config.tier(named: "professional"), Tier(
            name: "professional", monthlyFeeNanoUSD: usd("15"), includedMessages: 10_000,
            overagePerMessageNanoUSD: usd("0.0001"), maxMonthlySpendNanoUSD: usd("200"), selfServe: true))
        XCTAssertEqual(try config.tier(named: "enterprise"), Tier(
            name: "enterprise", monthlyFeeNanoUSD: 0, includedMessages: nil, overagePerMessageNanoUSD: usd("0.00005"),
            maxMonthlySpendNanoUSD: nil, selfServe: false))
        XCTAssertEqual(config.defaultTier, "starter")
        assertThrows(.notFound, "unknown tier 'gold'; configured: enterprise, professional, starter") {
            () throws(TokenGateError) in try self.config.tier(named: "gold")
        }
    }

    func testDefaultLimitsAndPolicies() throws {
        let expected: [String: (UInt64, UInt64, UInt64)] = [
            "chat_message": (10_000, 2_000, 12_000), "product_description": (4_000, 1_500, 5_500),
            "photo_studio": (8_000, 4_000, 12_000), "suggestion": (4_000, 500, 4_500),
        ]
        XCTAssertEqual(Set(config.limits.keys), Set(expected.keys))
        for (operation, tokens) in expected {
            let limits = try config.limits(shopID: "any", operationType: operation)
            XCTAssertEqual(limits, OperationLimits(
                maxInputTokensPerMessage: tokens.0, maxOutputTokensPerMessage: tokens.1, maxTotalTokensPerMessage: tokens.2,
                dailyCostCapNanoUSD: usd("5"), monthlyCostCapNanoUSD: usd("100"), alertThresholdPercent: 80))
        }
        XCTAssertEqual(config.optimization, OptimizationRules(
            modelDowngrades: ["gemini-2.5-pro": "gemini-2.5-flash"], thresholdPercent: nil, historyCap: 5))
        XCTAssertEqual(config.reservationTTLMs, 120_000)
        XCTAssertEqual(config.unknownShopPolicy, .defaultTier)
        XCTAssertFalse(config.shadowMode)
        XCTAssertTrue(config.shadowShops.isEmpty)
        XCTAssertNoThrow(try config.validate())
    }

    func testShopOverrideWinsAndUnknownOperationNamesConfiguredOnes() throws {
        var changed = config
        var special = changed.limits["chat_message"]!
        special.dailyCostCapNanoUSD = usd("20")
        changed.shopLimitOverrides = ["big-shop": ["chat_message": special]]
        XCTAssertEqual(try changed.limits(shopID: "big-shop", operationType: "chat_message").dailyCostCapNanoUSD, usd("20"))
        XCTAssertEqual(try changed.limits(shopID: "other", operationType: "chat_message").dailyCostCapNanoUSD, usd("5"))
        XCTAssertEqual(try changed.limits(shopID: "big-shop", operationType: "suggestion").dailyCostCapNanoUSD, usd("5"))
        let message = "unknown operation_type 'video'; configured: chat_message, photo_studio, product_description, suggestion"
        assertThrows(.invalidArgument, message) {
            () throws(TokenGateError) in try changed.limits(shopID: "big-shop", operationType: "video")
        }
    }

    func testValidateRejectsIncoherentConfigurations() {
        let cases: [(String, (inout Configuration) -> Void)] = [
            ("default tier", { $0.defaultTier = "gold" }),
            ("must be equal", { $0.tiers["starter"]!.name = "other" }),
            ("negative", { $0.tiers["starter"]!.overagePerMessageNanoUSD = -1 }),
            ("alert_threshold_percent", { $0.limits["chat_message"]!.alertThresholdPercent = 0 }),
            ("alert_threshold_percent", { $0.limits["chat_message"]!.alertThresholdPercent = 101 }),
            ("cost caps", { $0.limits["suggestion"]!.monthlyCostCapNanoUSD = -5 }),
            ("sorted", { $0.prices.models["gemini-2.5-flash"]!.append($0.prices.models["gemini-2.5-flash"]![0]) }),
            ("no versions", { $0.prices.models["empty"] = [] }),
            ("must not be negative", { $0.prices.models["gemini-2.5-pro"]![0].promptTiers[0].rates.outputPerMillion = -1 }),
            ("has no price", { $0.optimization.modelDowngrades["gemini-2.5-flash"] = "nano" }),
            ("threshold_percent", { $0.optimization.thresholdPercent = 0 }),
            ("reservation_ttl_ms", { $0.reservationTTLMs = 0 }),
            ("no operation types", { $0.limits = [:] }),
            ("shadow_shops entry is empty", { $0.shadowShops = [""] }),
        ]
        for (expected, change) in cases {
            var bad = Configuration.defaults
            change(&bad)
            assertThrows(.invalidArgument, expected) { () throws(TokenGateError) in try bad.validate() }
        }
    }
}
