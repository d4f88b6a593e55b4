// The configuration messages on the wire: every admin request and response survives a round trip
// with every field set, configuration changes round-trip as stored facts, the bytes match the
// spec, and missing required messages, unknown policies, repeated downgrades and invalid UTF-8
// are INVALID_ARGUMENT (or DATA_LOSS in a stored fact) naming the field.

import TokenGateCore
import TokenGateWire
import XCTest

enum AdminSamples {
    static let rates = PriceRates(inputPerMillion: 1_250_000_000, outputPerMillion: Int64.max, cachedInputPerMillion: -1)
    static let version = PriceVersion(
        effectiveFromUnixMs: 1_798_761_600_000, base: rates,
        promptTiers: [PromptTier(promptTokensAbove: 200_000, rates: PriceRates(inputPerMillion: 2, outputPerMillion: 3, cachedInputPerMillion: 4)),
                      PromptTier(promptTokensAbove: UInt64.max, rates: rates)],
        source: "liste de prix ✓")
    static let price = ModelPrice(model: Samples.unicode, version: version)
    static let tier = TierSettings(
        tier: Tier(name: "gold ⭐", monthlyFeeNanoUSD: 99_000_000_000, includedMessages: UInt64.max, overagePerMessageNanoUSD: 7,
                   maxMonthlySpendNanoUSD: 0, selfServe: true),
        rateLimit: RateLimit(requestsPerMinute: UInt32.max, tokensPerMinute: 1 << 40))
    static let customTier = TierSettings(tier: Tier(
        name: "custom", monthlyFeeNanoUSD: 0, includedMessages: nil, overagePerMessageNanoUSD: 0, maxMonthlySpendNanoUSD: nil,
        selfServe: false))
    static let limits = OperationLimitsEntry(
        operationType: "photo_studio", shopID: Samples.unicode,
        limits: OperationLimits(maxInputTokensPerMessage: 1, maxOutputTokensPerMessage: UInt64.max, maxTotalTokensPerMessage: 3,
                                dailyCostCapNanoUSD: Int64.max, monthlyCostCapNanoUSD: -5, alertThresholdPercent: 100))
    static let rules = OptimizationRules(
        modelDowngrades: ["gemini-2.5-pro": "gemini-2.5-flash", "a": "b", "ü": "ö"], thresholdPercent: 75, historyCap: UInt32.max)
    static let configuration = GetConfigurationResponse(
        prices: [price, ModelPrice(model: "m2", version: PriceVersion(effectiveFromUnixMs: 0, base: rates, source: ""))],
        fallbackPrice: version, tiers: [tier, customTier], defaultTier: "gold ⭐", limits: [limits, limits], optimization: rules,
        reservationTTLMs: 120_000, unknownShopPolicy: .deny, shadowMode: true, shadowShops: ["s1", Samples.unicode],
        shopRateLimits: [ShopRateLimit(shopID: "s1", rateLimit: RateLimit(requestsPerMinute: 5, tokensPerMinute: 0))],
        shadowDeniedTotal: UInt64.max)
}

final class AdminWireTests: XCTestCase {
    private func assertRoundTrip<M: WireMessage & Equatable>(_ message: M, file: StaticString = #filePath, line: UInt = #line) throws {
        XCTAssertEqual(try M.decode(message.encoded()), message, "\(M.protoName)", file: file, line: line)
    }

    private func assertInvalidArgument<M: WireMessage>(
        _ type: M.Type, _ bytes: [UInt8], _ expected: String, file: StaticString = #filePath, line: UInt = #line
    ) {
        XCTAssertThrowsError(try M.decode(bytes), file: file, line: line) { error in
            XCTAssertEqual(error as? TokenGateError, TokenGateError(.invalidArgument, expected), file: file, line: line)
        }
    }

    func testEveryConfigurationMessageRoundTrips() throws {
        try assertRoundTrip(GetConfigurationRequest())
        try assertRoundTrip(AdminSamples.configuration)
        var minimal = AdminSamples.configuration
        (minimal.prices, minimal.fallbackPrice, minimal.tiers, minimal.limits) = ([], nil, [], [])
        (minimal.shadowShops, minimal.shopRateLimits, minimal.unknownShopPolicy) = ([], [], .defaultTier)
        minimal.optimization = OptimizationRules(modelDowngrades: [:], thresholdPercent: nil, historyCap: 0)
        try assertRoundTrip(minimal)
        try assertRoundTrip(SetPriceRequest(version: AdminSamples.price, asFallback: true))
        try assertRoundTrip(SetPriceResponse(version: AdminSamples.price))
        try assertRoundTrip(UpsertTierRequest(tier: AdminSamples.tier))
        try assertRoundTrip(UpsertTierRequest(tier: AdminSamples.customTier))
        try assertRoundTrip(UpsertTierResponse(tier: AdminSamples.tier))
        try assertRoundTrip(AssignShopTierRequest(shopID: Samples.unicode, tier: "gold"))
        try assertRoundTrip(AssignShopTierResponse(shopID: "s", tier: "gold", previousTier: "starter"))
        try assertRoundTrip(SetLimitsRequest(limits: AdminSamples.limits))
        try assertRoundTrip(SetLimitsResponse(limits: AdminSamples.limits))
        try assertRoundTrip(SetRateLimitRequest(tier: "t", shopID: "s", rateLimit: RateLimit(requestsPerMinute: 1, tokensPerMinute: 2)))
        try assertRoundTrip(SetRateLimitResponse(rateLimit: RateLimit(requestsPerMinute: 3, tokensPerMinute: UInt64.max)))
        try assertRoundTrip(SetOptimizationRulesRequest(rules: AdminSamples.rules))
        try assertRoundTrip(SetOptimizationRulesResponse(rules: AdminSamples.rules))
        try assertRoundTrip(SetShadowModeRequest(shopID: Samples.unicode, enabled: true))
        try assertRoundTrip(SetShadowModeResponse(globalEnabled: true, shadowShops: ["a", "b"]))
        try assertRoundTrip(SetUnknownShopPolicyRequest(policy: .deny))
        try assertRoundTrip(SetUnknownShopPolicyResponse(policy: .defaultTier))
    }

    func testConfigurationChangesRoundTripAsFacts() throws {
        let changes: [ConfigChange] = [
            .setPrice(SetPriceRequest(version: AdminSamples.price)), .upsertTier(UpsertTierRequest(tier: AdminSamples.tier)),
            .upsertTier(UpsertTierRequest(tier: AdminSamples.customTier)), .setLimits(SetLimitsRequest(limits: AdminSamples.limits)),
            .setRateLimit(SetRateLimitRequest(shopID: "s", rateLimit: RateLimit(requestsPerMinute: 9))),
            .setOptimizationRules(SetOptimizationRulesRequest(rules: AdminSamples.rules)),
            .setShadowMode(SetShadowModeRequest(shopID: "", enabled: false)),
            .setUnknownShopPolicy(SetUnknownShopPolicyRequest(policy: .deny)),
        ]
        for change in changes {
            XCTAssertEqual(try FactCodec.decode(FactCodec.encode(.configChange(change))), .configChange(change))
        }
    }

    func testEncodingMatchesTheSpec() {
        let request = SetShadowModeRequest(shopID: "s", enabled: true)
        XCTAssertEqual(request.encoded(), ProtobufBytes().string(1, "s").varint(2, 1).bytes)
        let fact = FactCodec.encode(.configChange(.setUnknownShopPolicy(SetUnknownShopPolicyRequest(policy: .deny))))
        let record = ProtobufBytes().delimited(7, ProtobufBytes().varint(1, 2).bytes)
        XCTAssertEqual(fact, ProtobufBytes().delimited(4, record.bytes).bytes)
        let rate = SetRateLimitRequest(shopID: "s", rateLimit: RateLimit(requestsPerMinute: 5, tokensPerMinute: 7))
        XCTAssertEqual(rate.encoded(), ProtobufBytes().string(2, "s").delimited(3, ProtobufBytes().varint(1, 5).varint(2, 7).bytes).bytes)
    }

    func testMissingRequiredMessagesAreRejectedNamingTheField() {
        assertInvalidArgument(SetPriceRequest.self, ProtobufBytes().varint(2, 1).bytes, "set_price.version is missing")
        let noRates = ProtobufBytes().string(1, "m").varint(2, 5)
        assertInvalidArgument(SetPriceRequest.self, ProtobufBytes().delimited(1, noRates.bytes).bytes, "set_price.version.rates is missing")
        assertInvalidArgument(UpsertTierRequest.self, [], "upsert_tier.tier is missing")
        assertInvalidArgument(SetLimitsRequest.self, [], "set_limits.limits is missing")
        assertInvalidArgument(SetOptimizationRulesRequest.self, [], "set_optimization_rules.rules is missing")
        XCTAssertEqual(try SetRateLimitRequest.decode(ProtobufBytes().string(1, "t").bytes).rateLimit, .unlimited, "absent rate_limit = unlimited")
    }

    func testPolicyMustBeKnownAndDowngradesUnique() {
        assertInvalidArgument(SetUnknownShopPolicyRequest.self, [], "set_unknown_shop_policy.policy is unspecified (tokengate.v1.UnknownShopPolicy 0)")
        assertInvalidArgument(
            SetUnknownShopPolicyRequest.self, ProtobufBytes().varint(1, 9).bytes,
            "set_unknown_shop_policy.policy has unknown tokengate.v1.UnknownShopPolicy value 9")
        let downgrade = ProtobufBytes().string(1, "a").string(2, "b").bytes
        let twice = ProtobufBytes().delimited(1, downgrade).delimited(1, downgrade).bytes
        assertInvalidArgument(
            SetOptimizationRulesRequest.self, ProtobufBytes().delimited(1, twice).bytes,
            "set_optimization_rules.rules.downgrades[1].from_model repeats an earlier entry")
    }

    func testInvalidUTF8IsRejectedNamingThePath() {
        assertInvalidArgument(AssignShopTierRequest.self, ProtobufBytes().delimited(1, invalidUTF8).bytes, "assign_shop_tier.shop_id is not valid UTF-8")
        let limits = ProtobufBytes().string(1, "chat_message").delimited(2, invalidUTF8)
        assertInvalidArgument(SetLimitsRequest.self, ProtobufBytes().delimited(1, limits.bytes).bytes, "set_limits.limits.shop_id is not valid UTF-8")
        XCTAssertThrowsError(try FactCodec.decode(ProtobufBytes().delimited(4, ProtobufBytes().delimited(6, ProtobufBytes().delimited(1, invalidUTF8).bytes).bytes).bytes)) {
            XCTAssertEqual($0 as? TokenGateError, TokenGateError(.dataLoss, "fact_record.config_change.set_shadow_mode.shop_id is not valid UTF-8"))
        }
        XCTAssertThrowsError(try FactCodec.decode(ProtobufBytes().delimited(4, []).bytes)) {
            XCTAssertEqual($0 as? TokenGateError, TokenGateError(.dataLoss, "fact_record.config_change.change is missing"))
        }
    }

    func testMethodPathsOfTheConfigurationRPCs() {
        XCTAssertEqual(MethodPath.setPrice, "/tokengate.v1.BudgetService/SetPrice")
        XCTAssertEqual(Set(MethodPath.configuration).count, 9)
        XCTAssertTrue(Set(MethodPath.configuration).isDisjoint(with: MethodPath.all))
    }
}
