// Run-time configuration changes: what each admin change does to the configuration, the checks
// that refuse a bad one with INVALID_ARGUMENT or NOT_FOUND naming the field, price versions set
// at run time (never re-pricing the past), and the change log a snapshot stores: replaying its
// compacted changes over the base gives the same configuration as replaying all of them.

import XCTest

@testable import TokenGateCore
import TokenGateTestSupport

final class ConfigChangeTests: XCTestCase {
    let now = Fixture.now
    let base = Fixture.config()

    private func limits(daily: String, input: UInt64 = 10_000) -> OperationLimits {
        OperationLimits(
            maxInputTokensPerMessage: input, maxOutputTokensPerMessage: 2_000, maxTotalTokensPerMessage: 12_000,
            dailyCostCapNanoUSD: usd(daily), monthlyCostCapNanoUSD: usd("100"), alertThresholdPercent: 80)
    }

    private func price(_ model: String, input: String, at: UnixMillis = 0, tiers: [PromptTier] = []) -> ConfigChange {
        let rates = PriceRates(inputPerMillion: usd(input), outputPerMillion: usd(input), cachedInputPerMillion: usd(input))
        return .setPrice(SetPriceRequest(version: ModelPrice(
            model: model, version: PriceVersion(effectiveFromUnixMs: at, base: rates, promptTiers: tiers, source: ""))))
    }

    func testEachChangeSetsItsSetting() throws {
        var config = base
        let changes: [ConfigChange] = [
            .setLimits(.init(limits: OperationLimitsEntry(operationType: "chat_message", limits: limits(daily: "2")))),
            .setLimits(.init(limits: OperationLimitsEntry(operationType: "chat_message", shopID: "s1", limits: limits(daily: "1")))),
            .setLimits(.init(limits: OperationLimitsEntry(operationType: "video", limits: limits(daily: "3")))),
            .upsertTier(.init(tier: TierSettings(
                tier: Tier(name: "gold", monthlyFeeNanoUSD: usd("99"), includedMessages: nil, overagePerMessageNanoUSD: 0,
                           maxMonthlySpendNanoUSD: nil, selfServe: false), rateLimit: RateLimit(requestsPerMinute: 60)))),
            .setRateLimit(.init(shopID: "s2", rateLimit: RateLimit(tokensPerMinute: 5_000))),
            .setOptimizationRules(.init(rules: OptimizationRules(modelDowngrades: [:], thresholdPercent: 50, historyCap: 2))),
            .setShadowMode(.init(enabled: true)), .setShadowMode(.init(shopID: "s3", enabled: true)),
            .setUnknownShopPolicy(.init(policy: .deny)),
        ]
        for change in changes { config = try config.planning(change, now: now).configuration }
        XCTAssertEqual(try config.limits(shopID: "other", operationType: "chat_message").dailyCostCapNanoUSD, usd("2"))
        XCTAssertEqual(try config.limits(shopID: "s1", operationType: "chat_message").dailyCostCapNanoUSD, usd("1"))
        XCTAssertEqual(try config.limits(shopID: "s1", operationType: "video").dailyCostCapNanoUSD, usd("3"))
        XCTAssertEqual(config.tiers["gold"]?.monthlyFeeNanoUSD, usd("99"))
        XCTAssertEqual(config.rateLimit(shopID: "x", tier: "gold"), RateLimit(requestsPerMinute: 60))
        XCTAssertEqual(config.rateLimit(shopID: "s2", tier: "gold"), RateLimit(tokensPerMinute: 5_000))
        XCTAssertEqual(config.optimization.thresholdPercent, 50)
        XCTAssertTrue(config.shadowMode)
        XCTAssertEqual(config.shadowShops, ["s3"])
        XCTAssertEqual(config.unknownShopPolicy, .deny)

        // Unlimited removes a rate limit; a tier upsert without one keeps the tier's.
        config = try config.planning(.setRateLimit(.init(shopID: "s2", rateLimit: .unlimited)), now: now).configuration
        XCTAssertNil(config.shopRateLimits["s2"])
        var cheaper = config.tiers["gold"]!
        cheaper.monthlyFeeNanoUSD = usd("49")
        config = try config.planning(.upsertTier(.init(tier: TierSettings(tier: cheaper))), now: now).configuration
        XCTAssertEqual(config.tierRateLimits["gold"], RateLimit(requestsPerMinute: 60))
        config = try config.planning(.setShadowMode(.init(shopID: "s3", enabled: false)), now: now).configuration
        XCTAssertEqual(config.shadowShops, [])
    }

    func testBadChangesAreRefusedNamingTheField() {
        let cases: [(StatusCode, String, ConfigChange)] = [
            (.invalidArgument, "version.model is empty", price("", input: "1")),
            (.invalidArgument, "must not be negative", price("m", input: "-1")),
            (.invalidArgument, "is in the past", price("m", input: "1", at: now - 1)),
            (.invalidArgument, "prompt_tokens_above 0", price("m", input: "1", tiers: [PromptTier(promptTokensAbove: 0, rates: Fixture.testRates)])),
            (.invalidArgument, "limits.operation_type is empty",
             .setLimits(.init(limits: OperationLimitsEntry(operationType: "", limits: limits(daily: "1"))))),
            (.invalidArgument, "max_input_tokens is 0",
             .setLimits(.init(limits: OperationLimitsEntry(operationType: "chat_message", limits: limits(daily: "1", input: 0))))),
            (.invalidArgument, "'video' is not configured",
             .setLimits(.init(limits: OperationLimitsEntry(operationType: "video", shopID: "s", limits: limits(daily: "1"))))),
            (.invalidArgument, "shop_id is 129 bytes long", .setShadowMode(.init(shopID: String(repeating: "x", count: 129), enabled: true))),
            (.invalidArgument, "exactly one of tier and shop_id", .setRateLimit(.init(tier: "starter", shopID: "s", rateLimit: .unlimited))),
            (.notFound, "unknown tier 'gold'", .setRateLimit(.init(tier: "gold", rateLimit: RateLimit(requestsPerMinute: 1)))),
            (.invalidArgument, "tokens_per_minute is", .setRateLimit(.init(shopID: "s", rateLimit: RateLimit(tokensPerMinute: .max)))),
            (.invalidArgument, "which has no price", .setOptimizationRules(.init(rules: OptimizationRules(
                modelDowngrades: ["gemini-2.5-pro": "nope"], thresholdPercent: nil, historyCap: 5)))),
            (.invalidArgument, "threshold_percent is 101", .setOptimizationRules(.init(rules: OptimizationRules(
                modelDowngrades: [:], thresholdPercent: 101, historyCap: 5)))),
        ]
        for (code, message, change) in cases {
            assertThrows(code, message) { () throws(TokenGateError) in try base.planning(change, now: now) }
        }
    }

    func testRunTimePriceVersionsNeverRepriceThePast() throws {
        let (logged, config) = try base.planning(price("test-model", input: "2000"), now: now)
        guard case .setPrice(let stored) = logged else { return XCTFail("\(logged)") }
        XCTAssertEqual(stored.version.version.effectiveFromUnixMs, now, "0 means now")
        XCTAssertTrue(stored.version.version.source.contains("set with SetPrice"), stored.version.version.source)
        // An event that happened a second before the change is priced by the version then in effect.
        var state = ShopState(shopID: "shop")
        let before = try state.log(Fixture.usage("before", input: 1_000, at: now - 1_000), config: config, now: now)
        let after = try state.log(Fixture.usage("after", input: 1_000), config: config, now: now)
        XCTAssertEqual(before.costNanoUSD, usd("1"))
        XCTAssertEqual(after.costNanoUSD, usd("2"))
        // A version scheduled for later takes effect at its time.
        let later = now + 3_600_000
        let scheduled = try config.planning(price("test-model", input: "3000", at: later), now: now).configuration
        XCTAssertEqual(try scheduled.prices.cost(model: "test-model", inputTokens: 1_000, outputTokens: 0, cachedInputTokens: 0, at: later - 1), usd("2"))
        XCTAssertEqual(try scheduled.prices.cost(model: "test-model", inputTokens: 1_000, outputTokens: 0, cachedInputTokens: 0, at: later), usd("3"))
    }

    func testPromptTiersAndCachedRatesOfARunTimePrice() throws {
        let rates = PriceRates(inputPerMillion: usd("1"), outputPerMillion: usd("4"), cachedInputPerMillion: usd("0.25"))
        let above = PriceRates(inputPerMillion: usd("2"), outputPerMillion: usd("8"), cachedInputPerMillion: usd("0.5"))
        let change = ConfigChange.setPrice(SetPriceRequest(version: ModelPrice(model: "new-model", version: PriceVersion(
            effectiveFromUnixMs: 0, base: rates, promptTiers: [PromptTier(promptTokensAbove: 100_000, rates: above)], source: "t"))))
        let prices = try base.planning(change, now: now).configuration.prices
        // 100,000 prompt tokens (40,000 cached) and 1,000 output at the base rates.
        XCTAssertEqual(try prices.cost(model: "new-model", inputTokens: 100_000, outputTokens: 1_000, cachedInputTokens: 40_000, at: now),
                       usd("0.06") + usd("0.01") + usd("0.004"))
        // One more prompt token prices the whole call at the higher tier.
        XCTAssertEqual(try prices.cost(model: "new-model", inputTokens: 100_001, outputTokens: 1_000, cachedInputTokens: 40_000, at: now),
                       usd("0.120002") + usd("0.02") + usd("0.008"))
    }

    func testFallbackPriceMakesUnknownModelsPriced() throws {
        assertThrows(.notFound, "unknown model 'mystery'") { () throws(TokenGateError) in
            try base.prices.cost(model: "mystery", inputTokens: 1, outputTokens: 0, cachedInputTokens: 0, at: now)
        }
        let fallback = ConfigChange.setPrice(SetPriceRequest(
            version: ModelPrice(model: "ignored", version: PriceVersion(effectiveFromUnixMs: 0, base: Fixture.testRates, source: "")),
            asFallback: true))
        let (logged, config) = try base.planning(fallback, now: now)
        guard case .setPrice(let stored) = logged else { return XCTFail("\(logged)") }
        XCTAssertEqual(stored.version.model, "")
        XCTAssertEqual(try config.prices.cost(model: "mystery", inputTokens: 1_000, outputTokens: 0, cachedInputTokens: 0, at: now), usd("1"))
    }

    func testCompactedChangeLogRebuildsTheSameConfiguration() throws {
        var random = SplitMix64(seed: 7)
        var live = base
        var log = ConfigChangeLog()
        var all: [ConfigChange] = []
        for step in 0..<400 {
            let change = randomChange(&random, at: now + Int64(step))
            guard let (logged, next) = try? live.planning(change, now: now + Int64(step)) else { continue }
            live = next
            log.record(logged)
            all.append(logged)
        }
        var replayed = base
        for change in log.changes { replayed.apply(change) }
        XCTAssertEqual(replayed, live)
        XCTAssertLessThan(log.count, all.count / 4, "later changes of a setting replace earlier ones")
        XCTAssertEqual(log.changes.count, log.count)
    }

    private func randomChange(_ random: inout SplitMix64, at time: UnixMillis) -> ConfigChange {
        let pick = { (count: UInt64, random: inout SplitMix64) in Int(random.next() % count) }
        let shop = ["s1", "s2", "s3"][pick(3, &random)]
        let tier = ["starter", "professional"][pick(2, &random)]
        let rate = RateLimit(requestsPerMinute: UInt32(random.next() % 3) * 10, tokensPerMinute: (random.next() % 3) * 1_000)
        switch pick(8, &random) {
        case 0: return price(["test-model", "other-model"][pick(2, &random)], input: ["1", "2"][pick(2, &random)], at: time + Int64(pick(2, &random)))
        case 1: return .setLimits(.init(limits: OperationLimitsEntry(
            operationType: "chat_message", shopID: ["", shop][pick(2, &random)], limits: limits(daily: ["1", "2", "3"][pick(3, &random)]))))
        case 2: return .setRateLimit(.init(tier: tier, rateLimit: rate))
        case 3: return .setRateLimit(.init(shopID: shop, rateLimit: rate))
        case 4:
            var settings = TierSettings(tier: base.tiers[tier]!, rateLimit: random.next() % 2 == 0 ? nil : rate)
            settings.tier.monthlyFeeNanoUSD = Int64(random.next() % 3) * usd("1")
            // One effective time, so that later changes of the same version replace earlier ones.
            return .upsertTier(.init(tier: settings, effectiveFromUnixMs: now))
        case 5: return .setShadowMode(.init(shopID: ["", shop][pick(2, &random)], enabled: random.next() % 2 == 0))
        case 6: return .setUnknownShopPolicy(.init(policy: random.next() % 2 == 0 ? .deny : .defaultTier))
        default: return .setOptimizationRules(.init(rules: OptimizationRules(
            modelDowngrades: [:], thresholdPercent: UInt32(random.next() % 3) * 20 + 10, historyCap: UInt32(random.next() % 4))))
        }
    }
}
