// The typed requests and responses of the configuration RPCs (GetConfiguration and the admin
// setters of DESIGN §4). They mirror proto/tokengate/v1/tokengate.proto; the setters' requests
// are also what the write-ahead log stores for a run-time change (storage.proto
// `ConfigChangeRecord`), so a change replays exactly as it was made.

/// One model's price version (proto `PriceVersion`, which carries the model name).
public struct ModelPrice: Sendable, Equatable {
    /// The model; empty for the fallback price.
    public var model: String
    /// Its prices and when they take effect.
    public var version: PriceVersion

    /// A model's price version.
    public init(model: String, version: PriceVersion) {
        self.model = model
        self.version = version
    }
}

/// A tier with its rate limit (proto `TierConfig`).
public struct TierSettings: Sendable, Equatable {
    /// The tier's prices.
    public var tier: Tier
    /// The rate limit every shop on the tier gets. In UpsertTier, nil leaves the tier's current
    /// rate limit as it is; `.unlimited` removes it.
    public var rateLimit: RateLimit?

    /// A tier and, optionally, its rate limit.
    public init(tier: Tier, rateLimit: RateLimit? = nil) {
        self.tier = tier
        self.rateLimit = rateLimit
    }
}

/// Limits of one operation type, for every shop or one shop (proto `OperationLimitsConfig`).
public struct OperationLimitsEntry: Sendable, Equatable {
    /// The operation type, e.g. `chat_message`.
    public var operationType: String
    /// Empty: the default for the operation type; else this shop's override.
    public var shopID: String
    /// The limits.
    public var limits: OperationLimits

    /// An entry; an empty `shopID` means the operation type's default.
    public init(operationType: String, shopID: String = "", limits: OperationLimits) {
        self.operationType = operationType
        self.shopID = shopID
        self.limits = limits
    }
}

/// One shop's own rate limit (proto `ShopRateLimit`).
public struct ShopRateLimit: Sendable, Equatable {
    /// The shop.
    public var shopID: String
    /// Its rate limit, which replaces its tier's.
    public var rateLimit: RateLimit

    /// A shop's rate limit.
    public init(shopID: String, rateLimit: RateLimit) {
        self.shopID = shopID
        self.rateLimit = rateLimit
    }
}

// MARK: - GetConfiguration

/// GetConfiguration takes no arguments.
public struct GetConfigurationRequest: Sendable, Equatable {
    /// The request.
    public init() {}
}

/// The configuration in effect: embedded defaults, the config file, then run-time changes.
public struct GetConfigurationResponse: Sendable, Equatable {
    /// Every version of every model's price, by model then effective time.
    public var prices: [ModelPrice]
    /// The price of models not in `prices`; nil when unknown models are refused.
    public var fallbackPrice: PriceVersion?
    /// Tiers by name, each with its rate limit when it has one.
    public var tiers: [TierSettings]
    /// The tier of shops without an assignment.
    public var defaultTier: String
    /// Operation types' limits (by type), then per-shop overrides (by shop, then type).
    public var limits: [OperationLimitsEntry]
    /// ApplyOptimization's rules.
    public var optimization: OptimizationRules
    /// How long a reservation holds its amount.
    public var reservationTTLMs: Int64
    /// What the gate does with shops it has never seen.
    public var unknownShopPolicy: UnknownShopPolicy
    /// Shadow mode for every shop.
    public var shadowMode: Bool
    /// Shops in shadow mode on their own, sorted.
    public var shadowShops: [String]
    /// Shops with a rate limit of their own, sorted by shop.
    public var shopRateLimits: [ShopRateLimit]
    /// Calls the gate allowed in shadow mode that it would have denied, since the daemon started.
    public var shadowDeniedTotal: UInt64

    /// A response; see the properties.
    public init(
        prices: [ModelPrice], fallbackPrice: PriceVersion?, tiers: [TierSettings], defaultTier: String,
        limits: [OperationLimitsEntry], optimization: OptimizationRules, reservationTTLMs: Int64,
        unknownShopPolicy: UnknownShopPolicy, shadowMode: Bool, shadowShops: [String], shopRateLimits: [ShopRateLimit],
        shadowDeniedTotal: UInt64
    ) {
        self.prices = prices
        self.fallbackPrice = fallbackPrice
        self.tiers = tiers
        self.defaultTier = defaultTier
        self.limits = limits
        self.optimization = optimization
        self.reservationTTLMs = reservationTTLMs
        self.unknownShopPolicy = unknownShopPolicy
        self.shadowMode = shadowMode
        self.shadowShops = shadowShops
        self.shopRateLimits = shopRateLimits
        self.shadowDeniedTotal = shadowDeniedTotal
    }

    /// The response describing `configuration`, every list in a stable order.
    public init(configuration config: Configuration, shadowDeniedTotal: UInt64) {
        let prices = config.prices.models.sorted { $0.key < $1.key }.flatMap { model, versions in
            versions.map { ModelPrice(model: model, version: $0) }
        }
        let tiers = config.tiers.sorted { $0.key < $1.key }.map { name, tier in
            TierSettings(tier: tier, rateLimit: config.tierRateLimits[name])
        }
        var limits = config.limits.sorted { $0.key < $1.key }.map { OperationLimitsEntry(operationType: $0.key, limits: $0.value) }
        for (shop, overrides) in config.shopLimitOverrides.sorted(by: { $0.key < $1.key }) {
            limits += overrides.sorted { $0.key < $1.key }.map {
                OperationLimitsEntry(operationType: $0.key, shopID: shop, limits: $0.value)
            }
        }
        self.init(
            prices: prices, fallbackPrice: config.prices.fallback, tiers: tiers, defaultTier: config.defaultTier,
            limits: limits, optimization: config.optimization, reservationTTLMs: config.reservationTTLMs,
            unknownShopPolicy: config.unknownShopPolicy, shadowMode: config.shadowMode,
            shadowShops: config.shadowShops.sorted(),
            shopRateLimits: config.shopRateLimits.sorted { $0.key < $1.key }.map { ShopRateLimit(shopID: $0.key, rateLimit: $0.value) },
            shadowDeniedTotal: shadowDeniedTotal)
    }

    /// The limits entry of `operationType` for `shopID` as the gate applies it: the shop's
    /// override when there is one, else the operation type's default; nil for an unknown type.
    public func effectiveLimits(operationType: String, shopID: String = "") -> OperationLimitsEntry? {
        if !shopID.isEmpty, let own = limits.first(where: { $0.operationType == operationType && $0.shopID == shopID }) {
            return own
        }
        return limits.first { $0.operationType == operationType && $0.shopID.isEmpty }
    }
}

// MARK: - SetPrice

/// Adds a price version for a model (or replaces the one with the same effective time), or sets
/// the fallback price. `effectiveFromUnixMs` 0 means now; a model's new version must not start
/// in the past, so a change never re-prices what already happened.
public struct SetPriceRequest: Sendable, Equatable {
    /// The model and its version; the model is ignored with `asFallback`.
    public var version: ModelPrice
    /// Set the fallback price for unknown models instead of a model's price.
    public var asFallback: Bool

    /// A request; see the properties.
    public init(version: ModelPrice, asFallback: Bool = false) {
        self.version = version
        self.asFallback = asFallback
    }
}

/// The version as stored (effective time and source filled in).
public struct SetPriceResponse: Sendable, Equatable {
    /// The stored version.
    public var version: ModelPrice
    /// The stored version.
    public init(version: ModelPrice) { self.version = version }
}

// MARK: - UpsertTier

/// Creates or replaces a tier; its rate limit changes only when given.
public struct UpsertTierRequest: Sendable, Equatable {
    /// The tier.
    public var tier: TierSettings
    /// When the terms take effect; 0 = now (resolved to the time it was accepted before logging).
    public var effectiveFromUnixMs: UnixMillis
    /// A request.
    public init(tier: TierSettings, effectiveFromUnixMs: UnixMillis = 0) {
        self.tier = tier
        self.effectiveFromUnixMs = effectiveFromUnixMs
    }
}

/// The tier as it is now.
public struct UpsertTierResponse: Sendable, Equatable {
    /// The tier and its rate limit (nil: none).
    public var tier: TierSettings
    /// A response.
    public init(tier: TierSettings) { self.tier = tier }
}

// MARK: - AssignShopTier

/// Puts a shop on a tier (billing and tier rate limits follow it).
public struct AssignShopTierRequest: Sendable, Equatable {
    /// The shop.
    public var shopID: String
    /// A configured tier.
    public var tier: String
    /// When the assignment takes effect; 0 = now. A past time backdates it into periods whose
    /// bill is not final (issue 17, terms of the month).
    public var effectiveFromUnixMs: UnixMillis

    /// A request.
    public init(shopID: String, tier: String, effectiveFromUnixMs: UnixMillis = 0) {
        self.shopID = shopID
        self.tier = tier
        self.effectiveFromUnixMs = effectiveFromUnixMs
    }
}

/// The assignment made and the tier the shop was on before.
public struct AssignShopTierResponse: Sendable, Equatable {
    /// The shop.
    public var shopID: String
    /// Its tier now.
    public var tier: String
    /// Its tier before (the default tier when it had no assignment).
    public var previousTier: String

    /// A response.
    public init(shopID: String, tier: String, previousTier: String) {
        self.shopID = shopID
        self.tier = tier
        self.previousTier = previousTier
    }
}

// MARK: - SetLimits

/// Sets the whole set of limits of one operation type, for every shop or one shop. A new
/// operation type becomes a configured one.
public struct SetLimitsRequest: Sendable, Equatable {
    /// The entry to store.
    public var limits: OperationLimitsEntry
    /// A request.
    public init(limits: OperationLimitsEntry) { self.limits = limits }
}

/// The stored entry.
public struct SetLimitsResponse: Sendable, Equatable {
    /// The stored entry.
    public var limits: OperationLimitsEntry
    /// A response.
    public init(limits: OperationLimitsEntry) { self.limits = limits }
}

// MARK: - SetRateLimit

/// Sets the rate limit of a tier or of one shop (exactly one of the two). `.unlimited` removes
/// it: a tier is then unlimited, a shop follows its tier again.
public struct SetRateLimitRequest: Sendable, Equatable {
    /// The tier, or empty.
    public var tier: String
    /// The shop, or empty.
    public var shopID: String
    /// The limit.
    public var rateLimit: RateLimit

    /// A request for a tier (`shopID` empty) or a shop (`tier` empty).
    public init(tier: String = "", shopID: String = "", rateLimit: RateLimit) {
        self.tier = tier
        self.shopID = shopID
        self.rateLimit = rateLimit
    }
}

/// The limit now in effect for the tier or shop.
public struct SetRateLimitResponse: Sendable, Equatable {
    /// The stored limit.
    public var rateLimit: RateLimit
    /// A response.
    public init(rateLimit: RateLimit) { self.rateLimit = rateLimit }
}

// MARK: - SetOptimizationRules

/// Replaces ApplyOptimization's rules.
public struct SetOptimizationRulesRequest: Sendable, Equatable {
    /// The new rules.
    public var rules: OptimizationRules
    /// A request.
    public init(rules: OptimizationRules) { self.rules = rules }
}

/// The stored rules.
public struct SetOptimizationRulesResponse: Sendable, Equatable {
    /// The stored rules.
    public var rules: OptimizationRules
    /// A response.
    public init(rules: OptimizationRules) { self.rules = rules }
}

// MARK: - SetShadowMode

/// Turns shadow mode on or off, globally (empty shop) or for one shop.
public struct SetShadowModeRequest: Sendable, Equatable {
    /// Empty: the global switch.
    public var shopID: String
    /// On or off.
    public var enabled: Bool

    /// A request.
    public init(shopID: String = "", enabled: Bool) {
        self.shopID = shopID
        self.enabled = enabled
    }
}

/// Shadow mode after the change.
public struct SetShadowModeResponse: Sendable, Equatable {
    /// The global switch.
    public var globalEnabled: Bool
    /// Shops in shadow mode on their own, sorted.
    public var shadowShops: [String]

    /// A response.
    public init(globalEnabled: Bool, shadowShops: [String]) {
        self.globalEnabled = globalEnabled
        self.shadowShops = shadowShops
    }
}

// MARK: - SetUnknownShopPolicy

/// Chooses what the gate does with shops it has never seen.
public struct SetUnknownShopPolicyRequest: Sendable, Equatable {
    /// The policy.
    public var policy: UnknownShopPolicy
    /// A request.
    public init(policy: UnknownShopPolicy) { self.policy = policy }
}

/// The policy now in effect.
public struct SetUnknownShopPolicyResponse: Sendable, Equatable {
    /// The policy.
    public var policy: UnknownShopPolicy
    /// A response.
    public init(policy: UnknownShopPolicy) { self.policy = policy }
}
