// The configuration messages shaped by the domain: each wraps a core type (a price version, a
// tier, an operation's limits), so GetConfigurationResponse and the setters carry exactly what
// Configuration holds. The setters' requests and responses themselves are generated from
// proto/tokengate/v1/tokengate.proto (Generated/Messages.generated.swift); the requests are
// also what the write-ahead log stores for a run-time change (storage.proto
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

// MARK: - GetConfiguration

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
