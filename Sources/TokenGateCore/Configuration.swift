// The daemon's configuration as plain values: prices, pricing tiers, per-operation limits and
// per-shop overrides, optimization rules and gate policies (DESIGN §3, §4). The domain reads it
// and never changes it; `validate()` is the one place that checks a configuration is coherent.

/// A pricing tier: what a shop pays per month for its messages (DESIGN §3 GenerateBilling).
public struct Tier: Sendable, Equatable {
    /// The tier's name, equal to its key in `Configuration.tiers`.
    public var name: String
    /// The base charge of every month.
    public var monthlyFeeNanoUSD: NanoUSD
    /// Messages the fee covers; nil = unlimited.
    public var includedMessages: UInt64?
    /// Charge per message beyond the included ones.
    public var overagePerMessageNanoUSD: NanoUSD
    /// The most a month's bill can be; nil = no cap.
    public var maxMonthlySpendNanoUSD: NanoUSD?
    /// False for custom-priced tiers, which are never recommended automatically.
    public var selfServe: Bool

    /// A tier; see the properties.
    public init(
        name: String, monthlyFeeNanoUSD: NanoUSD, includedMessages: UInt64?, overagePerMessageNanoUSD: NanoUSD,
        maxMonthlySpendNanoUSD: NanoUSD?, selfServe: Bool
    ) {
        self.name = name
        self.monthlyFeeNanoUSD = monthlyFeeNanoUSD
        self.includedMessages = includedMessages
        self.overagePerMessageNanoUSD = overagePerMessageNanoUSD
        self.maxMonthlySpendNanoUSD = maxMonthlySpendNanoUSD
        self.selfServe = selfServe
    }
}

/// Per-message token limits and cost budgets of one operation type.
public struct OperationLimits: Sendable, Equatable {
    /// Most prompt tokens (cached included) one message may use.
    public var maxInputTokensPerMessage: UInt64
    /// Most output tokens one message may use.
    public var maxOutputTokensPerMessage: UInt64
    /// Most input plus output tokens one message may use.
    public var maxTotalTokensPerMessage: UInt64
    /// The shop's total spend in one UTC day (all operation types) may not pass this.
    public var dailyCostCapNanoUSD: NanoUSD
    /// The shop's total spend in one UTC month (all operation types) may not pass this.
    public var monthlyCostCapNanoUSD: NanoUSD
    /// Warn and alert when usage reaches this percentage of a cap (1...100).
    public var alertThresholdPercent: UInt32

    /// Limits; see the properties.
    public init(
        maxInputTokensPerMessage: UInt64, maxOutputTokensPerMessage: UInt64, maxTotalTokensPerMessage: UInt64,
        dailyCostCapNanoUSD: NanoUSD, monthlyCostCapNanoUSD: NanoUSD, alertThresholdPercent: UInt32
    ) {
        self.maxInputTokensPerMessage = maxInputTokensPerMessage
        self.maxOutputTokensPerMessage = maxOutputTokensPerMessage
        self.maxTotalTokensPerMessage = maxTotalTokensPerMessage
        self.dailyCostCapNanoUSD = dailyCostCapNanoUSD
        self.monthlyCostCapNanoUSD = monthlyCostCapNanoUSD
        self.alertThresholdPercent = alertThresholdPercent
    }
}

/// Rules of ApplyOptimization.
public struct OptimizationRules: Sendable, Equatable {
    /// Cheaper model to use for a requested one once the threshold is reached.
    public var modelDowngrades: [String: String]
    /// Usage percentage of a cap that triggers downgrades and history caps; nil = the limits'
    /// alert threshold.
    public var thresholdPercent: UInt32?
    /// Most history messages kept once the threshold is reached.
    public var historyCap: UInt32

    /// Rules; see the properties.
    public init(modelDowngrades: [String: String], thresholdPercent: UInt32?, historyCap: UInt32) {
        self.modelDowngrades = modelDowngrades
        self.thresholdPercent = thresholdPercent
        self.historyCap = historyCap
    }
}

/// What the gate does with a shop it has never seen (no tier assignment, no usage).
public enum UnknownShopPolicy: String, Sendable {
    /// Treat it as a shop on the default tier (DESIGN's default).
    case defaultTier
    /// Deny with reason `unknownShop`.
    case deny
}

/// Everything the domain needs to decide: prices, tiers, limits, rules and policies.
public struct Configuration: Sendable, Equatable {
    /// Versioned model prices.
    public var prices: PriceTable
    /// Pricing tiers by name.
    public var tiers: [String: Tier]
    /// The tier of shops without an assignment.
    public var defaultTier: String
    /// Limits by operation type; the keys are the configured operation types.
    public var limits: [String: OperationLimits]
    /// Per-shop overrides: shop id -> operation type -> limits.
    public var shopLimitOverrides: [String: [String: OperationLimits]]
    /// Rules of ApplyOptimization.
    public var optimization: OptimizationRules
    /// How long a reservation holds its amount unless settled or released.
    public var reservationTTLMs: Int64
    /// What the gate does with shops it has never seen.
    public var unknownShopPolicy: UnknownShopPolicy
    /// Shadow mode for every shop: the gate allows and reports what it would have denied.
    public var shadowMode: Bool
    /// Shops in shadow mode even when `shadowMode` is off.
    public var shadowShops: Set<String>
    /// Rate limits by tier name; every shop on the tier gets its own allowance. Absent = none.
    public var tierRateLimits: [String: RateLimit]
    /// Rate limits of single shops; a shop's replaces its tier's.
    public var shopRateLimits: [String: RateLimit]
    /// Terms of tiers changed at run time with an effective time (issue 17, terms of the
    /// month): name -> versions by `from`; `tiers` holds the latest. A tier without versions
    /// has had its terms since always.
    public var tierVersions: [String: [TierVersion]] = [:]
    /// How long after a period's end a final bill waits (DESIGN §3 GenerateBilling), so that
    /// spools and restarts around midnight land their usage first. Set at startup only
    /// (`--billing-grace-hours`, config file `billing_grace_hours`); never logged.
    public var billingGraceMs: Int64 = Configuration.billingGraceMsDefault
    /// 24 hours.
    public static let billingGraceMsDefault: Int64 = 24 * 3_600_000
    /// At most a year of grace.
    public static let billingGraceHoursMax: UInt64 = 8_760

    /// A configuration; see the properties (`defaults` is the embedded one).
    public init(
        prices: PriceTable, tiers: [String: Tier], defaultTier: String, limits: [String: OperationLimits],
        shopLimitOverrides: [String: [String: OperationLimits]] = [:], optimization: OptimizationRules,
        reservationTTLMs: Int64, unknownShopPolicy: UnknownShopPolicy = .defaultTier, shadowMode: Bool = false,
        shadowShops: Set<String> = [], tierRateLimits: [String: RateLimit] = [:], shopRateLimits: [String: RateLimit] = [:]
    ) {
        self.prices = prices
        self.tiers = tiers
        self.defaultTier = defaultTier
        self.limits = limits
        self.shopLimitOverrides = shopLimitOverrides
        self.optimization = optimization
        self.reservationTTLMs = reservationTTLMs
        self.unknownShopPolicy = unknownShopPolicy
        self.shadowMode = shadowMode
        self.shadowShops = shadowShops
        self.tierRateLimits = tierRateLimits
        self.shopRateLimits = shopRateLimits
    }

    /// The limits of `operationType` for `shopID`: the shop's override when configured, else
    /// the operation type's limits. Throws `invalidArgument` naming the configured types for an
    /// unknown operation type.
    public func limits(shopID: String, operationType: String) throws(TokenGateError) -> OperationLimits {
        if let override = shopLimitOverrides[shopID]?[operationType] { return override }
        if let limits = limits[operationType] { return limits }
        let configured = limits.keys.sorted().joined(separator: ", ")
        throw .invalidArgument("unknown operation_type '\(operationType.prefix(CoreLimits.nameBytesMax))'; configured: \(configured)")
    }

    /// The tier called `named`; throws `notFound` naming the configured tiers.
    /// The terms of tier `named` in effect at `time` (nil when it is not configured).
    public func tierTerms(named: String, at time: UnixMillis) -> Tier? {
        guard let versions = tierVersions[named], let first = versions.first else { return tiers[named] }
        return versions.last { $0.from <= time }?.tier ?? first.tier
    }

    /// Every tier with the terms in effect at `time`.
    public func tiers(at time: UnixMillis) -> [String: Tier] {
        var result = tiers
        for name in tierVersions.keys { result[name] = tierTerms(named: name, at: time) }
        return result
    }

    public func tier(named: String) throws(TokenGateError) -> Tier {
        if let tier = tiers[named] { return tier }
        let configured = tiers.keys.sorted().joined(separator: ", ")
        throw .notFound("unknown tier '\(named.prefix(CoreLimits.nameBytesMax))'; configured: \(configured)")
    }

    /// True when the gate runs in shadow mode for `shopID`.
    public func isShadow(shopID: String) -> Bool { shadowMode || shadowShops.contains(shopID) }

    /// The threshold percentage of ApplyOptimization under `limits`.
    public func optimizationThresholdPercent(_ limits: OperationLimits) -> UInt32 {
        optimization.thresholdPercent ?? limits.alertThresholdPercent
    }
}

/// A tier's terms from `from` on (issue 17): set by UpsertTier with an effective time.
public struct TierVersion: Sendable, Equatable {
    public var from: UnixMillis
    public var tier: Tier
    public init(from: UnixMillis, tier: Tier) {
        self.from = from
        self.tier = tier
    }
}
