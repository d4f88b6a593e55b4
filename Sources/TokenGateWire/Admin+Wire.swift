// Protobuf conversion of the configuration messages shaped by the domain: the nested messages
// whose Swift shape differs from the wire's (a price version under its model, a tier's optional
// allowance and cap, an operation's limits, the downgrade map) and GetConfiguration's response,
// plus the method group of the configuration RPCs. The setters' requests and responses,
// `ConfigChange`, and the conversions of `PriceRates`, `PromptTier` and `RateLimit` are
// generated (Generated/Wire.generated.swift).
// Optional nested messages map to Swift optionals; a nested message a request cannot do without
// (a price's rates, a setter's payload) is INVALID_ARGUMENT when absent.
//
// Buffer ownership: as in Messages+Wire.swift, `init(copying:)` reads protobuf-c's unpacked tree
// only while `ProtobufC.unpack` runs, and `cMessage(in:)` builds pointers owned by the packing
// arena that live until `ProtobufC.pack` returns.

import CProtobufC
import TokenGateCore
import TokenGateProtoC

extension MethodPath {
    /// The configuration methods, in schema order.
    public static let configuration = [
        getConfiguration, setPrice, upsertTier, assignShopTier, setLimits, setRateLimit, setOptimizationRules, setShadowMode,
        setUnknownShopPolicy,
    ]
}

// MARK: - Hand-written enum

/// `UnknownShopPolicy` has string raw values in the core; these are its wire numbers (the
/// generated conversions call them by name).
func cUnknownShopPolicy(_ policy: UnknownShopPolicy) -> Tokengate__V1__UnknownShopPolicy {
    policy == .deny ? TOKENGATE__V1__UNKNOWN_SHOP_POLICY__UNKNOWN_SHOP_POLICY_DENY
        : TOKENGATE__V1__UNKNOWN_SHOP_POLICY__UNKNOWN_SHOP_POLICY_DEFAULT_TIER
}

func copyUnknownShopPolicy(_ value: Tokengate__V1__UnknownShopPolicy, field: String) throws(FieldError) -> UnknownShopPolicy {
    switch value {
    case TOKENGATE__V1__UNKNOWN_SHOP_POLICY__UNKNOWN_SHOP_POLICY_DEFAULT_TIER: return .defaultTier
    case TOKENGATE__V1__UNKNOWN_SHOP_POLICY__UNKNOWN_SHOP_POLICY_DENY: return .deny
    default:
        throw FieldError(
            field: field, problem: .unknownEnum(enumName: "tokengate.v1.UnknownShopPolicy", value: Int32(bitPattern: value.rawValue)))
    }
}


// MARK: - Nested configuration messages

extension ModelPrice: CMessageEncodable {
    static let protoName = "tokengate.v1.PriceVersion"

    static func cEmpty() -> Tokengate__V1__PriceVersion {
        var c = Tokengate__V1__PriceVersion()
        tokengate__v1__price_version__init(&c)
        return c
    }

    init(copying c: Tokengate__V1__PriceVersion) throws(FieldError) {
        let version = PriceVersion(
            effectiveFromUnixMs: c.effective_from_unix_ms, base: try copyRequiredMessage(c.rates, field: "rates"),
            promptTiers: try copyMessages(count: c.n_prompt_tiers, c.prompt_tiers, field: "prompt_tiers"),
            source: try copyString(c.source, field: "source"))
        self.init(model: try copyString(c.model, field: "model"), version: version)
    }

    func cMessage(in arena: inout CArena) -> Tokengate__V1__PriceVersion {
        var c = Self.cEmpty()
        c.model = arena.cString(model)
        c.effective_from_unix_ms = version.effectiveFromUnixMs
        c.rates = arena.message(version.base)
        (c.n_prompt_tiers, c.prompt_tiers) = arena.messages(version.promptTiers)
        c.source = arena.cString(version.source)
        return c
    }
}

extension TierSettings: CMessageEncodable {
    static let protoName = "tokengate.v1.TierConfig"

    static func cEmpty() -> Tokengate__V1__TierConfig {
        var c = Tokengate__V1__TierConfig()
        tokengate__v1__tier_config__init(&c)
        return c
    }

    init(copying c: Tokengate__V1__TierConfig) throws(FieldError) {
        let tier = Tier(
            name: try copyString(c.name, field: "name"), monthlyFeeNanoUSD: c.monthly_fee_nano_usd,
            includedMessages: c.unlimited_messages != 0 ? nil : c.included_messages,
            overagePerMessageNanoUSD: c.overage_per_message_nano_usd,
            maxMonthlySpendNanoUSD: c.no_spend_cap != 0 ? nil : c.max_monthly_spend_nano_usd, selfServe: c.self_serve != 0)
        self.init(tier: tier, rateLimit: try copyMessage(c.rate_limit, field: "rate_limit"))
    }

    func cMessage(in arena: inout CArena) -> Tokengate__V1__TierConfig {
        var c = Self.cEmpty()
        c.name = arena.cString(tier.name)
        c.monthly_fee_nano_usd = tier.monthlyFeeNanoUSD
        c.included_messages = tier.includedMessages ?? 0
        c.unlimited_messages = cBool(tier.includedMessages == nil)
        c.overage_per_message_nano_usd = tier.overagePerMessageNanoUSD
        c.max_monthly_spend_nano_usd = tier.maxMonthlySpendNanoUSD ?? 0
        c.no_spend_cap = cBool(tier.maxMonthlySpendNanoUSD == nil)
        c.self_serve = cBool(tier.selfServe)
        if let rateLimit { c.rate_limit = arena.message(rateLimit) }
        return c
    }
}

extension OperationLimitsEntry: CMessageEncodable {
    static let protoName = "tokengate.v1.OperationLimitsConfig"

    static func cEmpty() -> Tokengate__V1__OperationLimitsConfig {
        var c = Tokengate__V1__OperationLimitsConfig()
        tokengate__v1__operation_limits_config__init(&c)
        return c
    }

    init(copying c: Tokengate__V1__OperationLimitsConfig) throws(FieldError) {
        let limits = OperationLimits(
            maxInputTokensPerMessage: c.max_input_tokens_per_message, maxOutputTokensPerMessage: c.max_output_tokens_per_message,
            maxTotalTokensPerMessage: c.max_total_tokens_per_message, dailyCostCapNanoUSD: c.daily_cost_cap_nano_usd,
            monthlyCostCapNanoUSD: c.monthly_cost_cap_nano_usd, alertThresholdPercent: c.alert_threshold_percent)
        self.init(
            operationType: try copyString(c.operation_type, field: "operation_type"),
            shopID: try copyString(c.shop_id, field: "shop_id"), limits: limits)
    }

    func cMessage(in arena: inout CArena) -> Tokengate__V1__OperationLimitsConfig {
        var c = Self.cEmpty()
        c.operation_type = arena.cString(operationType)
        c.shop_id = arena.cString(shopID)
        c.max_input_tokens_per_message = limits.maxInputTokensPerMessage
        c.max_output_tokens_per_message = limits.maxOutputTokensPerMessage
        c.max_total_tokens_per_message = limits.maxTotalTokensPerMessage
        c.daily_cost_cap_nano_usd = limits.dailyCostCapNanoUSD
        c.monthly_cost_cap_nano_usd = limits.monthlyCostCapNanoUSD
        c.alert_threshold_percent = limits.alertThresholdPercent
        return c
    }
}

extension OptimizationRules: CMessageEncodable {
    static let protoName = "tokengate.v1.OptimizationRulesConfig"

    static func cEmpty() -> Tokengate__V1__OptimizationRulesConfig {
        var c = Tokengate__V1__OptimizationRulesConfig()
        tokengate__v1__optimization_rules_config__init(&c)
        return c
    }

    /// A `from_model` listed twice is a mistake the map cannot keep; it is refused.
    init(copying c: Tokengate__V1__OptimizationRulesConfig) throws(FieldError) {
        let list: [ModelDowngrade] = try copyMessages(count: c.n_downgrades, c.downgrades, field: "downgrades")
        var map: [String: String] = [:]
        for (index, downgrade) in list.enumerated() {
            guard map.updateValue(downgrade.toModel, forKey: downgrade.fromModel) == nil else {
                throw FieldError(field: "downgrades[\(index)].from_model", problem: .duplicate)
            }
        }
        self.init(
            modelDowngrades: map, thresholdPercent: c.threshold_percent == 0 ? nil : c.threshold_percent,
            historyCap: c.history_cap)
    }

    func cMessage(in arena: inout CArena) -> Tokengate__V1__OptimizationRulesConfig {
        var c = Self.cEmpty()
        let list = modelDowngrades.sorted { $0.key < $1.key }.map { ModelDowngrade(fromModel: $0.key, toModel: $0.value) }
        (c.n_downgrades, c.downgrades) = arena.messages(list)
        c.threshold_percent = thresholdPercent ?? 0
        c.history_cap = historyCap
        return c
    }
}

// MARK: - GetConfiguration

extension GetConfigurationResponse: WireMessage, CMessageEncodable {
    /// `tokengate.v1.GetConfigurationResponse`.
    public static let protoName = "tokengate.v1.GetConfigurationResponse"
    /// Decodes and validates protobuf bytes; `optimization` is required.
    public static func decode(_ bytes: [UInt8]) throws(TokenGateError) -> Self {
        try WireCodec.decode(bytes, fieldPrefix: "get_configuration_response")
    }
    /// The protobuf bytes of this message.
    public func encoded() -> [UInt8] { ProtobufC.pack(self) }

    static func cEmpty() -> Tokengate__V1__GetConfigurationResponse {
        var c = Tokengate__V1__GetConfigurationResponse()
        tokengate__v1__get_configuration_response__init(&c)
        return c
    }

    init(copying c: Tokengate__V1__GetConfigurationResponse) throws(FieldError) {
        let fallback: ModelPrice? = try copyMessage(c.fallback_price, field: "fallback_price")
        self.init(
            prices: try copyMessages(count: c.n_prices, c.prices, field: "prices"), fallbackPrice: fallback?.version,
            tiers: try copyMessages(count: c.n_tiers, c.tiers, field: "tiers"),
            defaultTier: try copyString(c.default_tier, field: "default_tier"),
            limits: try copyMessages(count: c.n_limits, c.limits, field: "limits"),
            optimization: try copyRequiredMessage(c.optimization, field: "optimization"), reservationTTLMs: c.reservation_ttl_ms,
            unknownShopPolicy: try copyUnknownShopPolicy(c.unknown_shop_policy, field: "unknown_shop_policy"),
            shadowMode: c.shadow_mode != 0,
            shadowShops: try copyStrings(count: c.n_shadow_shops, c.shadow_shops, field: "shadow_shops"),
            shopRateLimits: try copyMessages(count: c.n_shop_rate_limits, c.shop_rate_limits, field: "shop_rate_limits"),
            shadowDeniedTotal: c.shadow_denied_total)
    }

    func cMessage(in arena: inout CArena) -> Tokengate__V1__GetConfigurationResponse {
        var c = Self.cEmpty()
        (c.n_prices, c.prices) = arena.messages(prices)
        if let fallbackPrice { c.fallback_price = arena.message(ModelPrice(model: "", version: fallbackPrice)) }
        (c.n_tiers, c.tiers) = arena.messages(tiers)
        c.default_tier = arena.cString(defaultTier)
        (c.n_limits, c.limits) = arena.messages(limits)
        c.optimization = arena.message(optimization)
        c.reservation_ttl_ms = reservationTTLMs
        c.unknown_shop_policy = cUnknownShopPolicy(unknownShopPolicy)
        c.shadow_mode = cBool(shadowMode)
        (c.n_shadow_shops, c.shadow_shops) = arena.cStrings(shadowShops)
        (c.n_shop_rate_limits, c.shop_rate_limits) = arena.messages(shopRateLimits)
        c.shadow_denied_total = shadowDeniedTotal
        return c
    }
}

