// Run-time configuration changes (DESIGN §4): an admin request is checked against the current
// configuration, resolved (a price's "now" becomes a time), logged as a fact and applied.
// Applying a logged change never fails, so replay rebuilds exactly what was acknowledged, and
// `ConfigChangeLog` keeps only the latest change of each setting so snapshots stay small.

extension Configuration {
    /// Checks `change` against this configuration at `now` and returns it as it is to be logged
    /// (a price's effective time 0 resolved to `now`, an empty source filled in) together with
    /// the configuration after it, which passed `validate()`.
    ///
    /// Throws `invalidArgument` naming the field, or `notFound` for a tier that does not exist.
    public func planning(_ change: ConfigChange, now: UnixMillis) throws(TokenGateError) -> (
        change: ConfigChange, configuration: Configuration
    ) {
        let resolved = try resolve(change, now: now)
        var next = self
        next.apply(resolved)
        try next.validate()
        return (resolved, next)
    }

    /// Applies a change that was accepted (live, or replayed from the log or a snapshot). Never
    /// fails: every setting it touches is overwritten, whatever was there.
    public mutating func apply(_ change: ConfigChange) {
        switch change {
        case .setPrice(let request):
            let version = request.version.version
            if request.asFallback {
                prices.fallback = version
                return
            }
            var versions = prices.models[request.version.model] ?? []
            versions.removeAll { $0.effectiveFromUnixMs == version.effectiveFromUnixMs }
            versions.append(version)
            versions.sort { $0.effectiveFromUnixMs < $1.effectiveFromUnixMs }
            prices.models[request.version.model] = versions
        case .upsertTier(let request):
            let name = request.tier.tier.name
            // Versioned by effective time, like prices: a version replaces only one of the same
            // time, so the order changes are replayed in does not matter. The terms the tier had
            // before its first versioned change hold since always.
            var versions = tierVersions[name] ?? tiers[name].map { [TierVersion(from: 0, tier: $0)] } ?? []
            versions.removeAll { $0.from == request.effectiveFromUnixMs }
            versions.append(TierVersion(from: request.effectiveFromUnixMs, tier: request.tier.tier))
            versions.sort { $0.from < $1.from }
            tierVersions[name] = versions
            tiers[name] = versions.last?.tier ?? request.tier.tier
            if let rate = request.tier.rateLimit { tierRateLimits[name] = rate.isUnlimited ? nil : rate }
        case .setLimits(let request):
            let entry = request.limits
            if entry.shopID.isEmpty {
                limits[entry.operationType] = entry.limits
            } else {
                shopLimitOverrides[entry.shopID, default: [:]][entry.operationType] = entry.limits
            }
        case .setRateLimit(let request):
            let value = request.rateLimit.isUnlimited ? nil : request.rateLimit
            if request.shopID.isEmpty { tierRateLimits[request.tier] = value } else { shopRateLimits[request.shopID] = value }
        case .setOptimizationRules(let request):
            optimization = request.rules
        case .setShadowMode(let request):
            if request.shopID.isEmpty {
                shadowMode = request.enabled
            } else if request.enabled {
                shadowShops.insert(request.shopID)
            } else {
                shadowShops.remove(request.shopID)
            }
        case .setUnknownShopPolicy(let request):
            unknownShopPolicy = request.policy
        }
    }

    // MARK: - Checking one change

    /// Field checks that `validate()` cannot make (they depend on the request, not the result).
    private func resolve(_ change: ConfigChange, now: UnixMillis) throws(TokenGateError) -> ConfigChange {
        switch change {
        case .setPrice(let request):
            return .setPrice(try resolvePrice(request, now: now))
        case .upsertTier(let request):
            try Self.checkName(request.tier.tier.name, field: "tier.name")
            if let rate = request.tier.rateLimit { try Self.check(rate, field: "tier.rate_limit") }
            var resolved = request
            if resolved.effectiveFromUnixMs == 0 { resolved.effectiveFromUnixMs = now }
            guard resolved.effectiveFromUnixMs > 0, resolved.effectiveFromUnixMs <= now else {
                throw .invalidArgument(
                    "effective_from_unix_ms \(request.effectiveFromUnixMs) must be 0 (now) or a past time (now is \(now)); "
                        + "change a tier's terms when the time comes")
            }
            return .upsertTier(resolved)
        case .setLimits(let request):
            try Self.checkName(request.limits.operationType, field: "limits.operation_type")
            if !request.limits.shopID.isEmpty {
                try Validation.shopID(request.limits.shopID)
                guard limits[request.limits.operationType] != nil else {
                    throw .invalidArgument(
                        "limits.operation_type '\(request.limits.operationType)' is not configured; set its default limits "
                            + "(no shop) first, then the override for shop '\(request.limits.shopID)'")
                }
            }
        case .setRateLimit(let request):
            try checkRateLimitTarget(request)
        case .setOptimizationRules(let request):
            try Self.check(request.rules)
        case .setShadowMode(let request):
            if !request.shopID.isEmpty { try Validation.shopID(request.shopID) }
        case .setUnknownShopPolicy:
            break
        }
        return change
    }

    private func resolvePrice(_ request: SetPriceRequest, now: UnixMillis) throws(TokenGateError) -> SetPriceRequest {
        var request = request
        if request.asFallback {
            request.version.model = ""
        } else {
            try Self.checkName(request.version.model, field: "version.model")
            if request.version.version.effectiveFromUnixMs == 0 { request.version.version.effectiveFromUnixMs = now }
            let start = request.version.version.effectiveFromUnixMs
            guard start >= now else {
                throw .invalidArgument(
                    "version.effective_from_unix_ms \(UTCCalendar.iso8601(start)) is in the past (now is "
                        + "\(UTCCalendar.iso8601(now))); a price change never re-prices what already happened: use 0 (now) or a later time")
            }
        }
        try Validation.bytesMax(request.version.version.source, CoreLimits.priceSourceBytesMax, field: "version.source")
        if request.version.version.source.isEmpty {
            request.version.version.source = "set with SetPrice at \(UTCCalendar.iso8601(now))"
        }
        var thresholds = Set<UInt64>()
        for tier in request.version.version.promptTiers {
            guard tier.promptTokensAbove > 0, tier.promptTokensAbove <= CoreLimits.tokensPerCallMax,
                thresholds.insert(tier.promptTokensAbove).inserted
            else {
                throw .invalidArgument(
                    "version.prompt_tiers: prompt_tokens_above \(tier.promptTokensAbove) must be 1...\(CoreLimits.tokensPerCallMax) "
                        + "and differ from the other tiers'")
            }
        }
        return request
    }

    private func checkRateLimitTarget(_ request: SetRateLimitRequest) throws(TokenGateError) {
        guard request.tier.isEmpty != request.shopID.isEmpty else {
            throw .invalidArgument("name exactly one of tier and shop_id (got tier '\(request.tier)', shop_id '\(request.shopID)')")
        }
        if request.shopID.isEmpty {
            _ = try tier(named: request.tier)
        } else {
            try Validation.shopID(request.shopID)
        }
        try Self.check(request.rateLimit, field: "rate_limit")
    }

    /// A configuration key (model, tier, operation type): non-empty and key-sized.
    static func checkName(_ name: String, field: String) throws(TokenGateError) {
        try Validation.identifier(name, field: field, maximum: CoreLimits.nameBytesMax)
    }

    static func check(_ rate: RateLimit, field: String) throws(TokenGateError) {
        guard rate.tokensPerMinute <= CoreLimits.tokensPerMinuteMax else {
            throw .invalidArgument("\(field).tokens_per_minute is \(rate.tokensPerMinute); the maximum is \(CoreLimits.tokensPerMinuteMax)")
        }
    }

    static func check(_ rules: OptimizationRules) throws(TokenGateError) {
        for (from, to) in rules.modelDowngrades {
            try checkName(from, field: "rules.downgrades.from_model")
            try checkName(to, field: "rules.downgrades.to_model")
            guard from != to else { throw .invalidArgument("rules.downgrades: '\(from)' is downgraded to itself") }
        }
    }

    // MARK: - Whole-configuration checks of tables and rate limits

    /// Table sizes, key names and rate limits; called by `validate()`.
    func validateTablesAndRateLimits() throws(TokenGateError) {
        let sizes: [(Int, Int, String)] = [
            (tiers.count, CoreLimits.tiersMax, "tiers"), (prices.models.count, CoreLimits.modelsMax, "price table models"),
            (limits.count, CoreLimits.operationTypesMax, "operation types"),
            (shopLimitOverrides.count, CoreLimits.shopSettingsMax, "shops with limit overrides"),
            (shopRateLimits.count, CoreLimits.shopSettingsMax, "shops with rate limits"),
            (shadowShops.count, CoreLimits.shopSettingsMax, "shadow shops"),
            (optimization.modelDowngrades.count, CoreLimits.modelDowngradesMax, "model downgrades"),
        ]
        for (count, maximum, what) in sizes where count > maximum {
            throw .invalidArgument("\(count) \(what) configured; the maximum is \(maximum)")
        }
        for (model, versions) in prices.models {
            try Self.checkName(model, field: "prices model name")
            guard versions.count <= CoreLimits.priceVersionsPerModelMax else {
                throw .invalidArgument("prices['\(model)'] has \(versions.count) versions; the maximum is \(CoreLimits.priceVersionsPerModelMax)")
            }
            for version in versions where version.promptTiers.count > CoreLimits.promptTiersMax {
                throw .invalidArgument("prices['\(model)'] has a version with \(version.promptTiers.count) prompt tiers; the maximum is \(CoreLimits.promptTiersMax)")
            }
        }
        for name in tiers.keys { try Self.checkName(name, field: "tier name") }
        for operation in limits.keys { try Self.checkName(operation, field: "operation type") }
        for (shop, overrides) in shopLimitOverrides {
            for operation in overrides.keys where limits[operation] == nil {
                throw .invalidArgument("shop_limit_overrides['\(shop)']['\(operation)']: operation type '\(operation)' is not configured")
            }
        }
        for (tier, rate) in tierRateLimits {
            guard tiers[tier] != nil else { throw .invalidArgument("rate limit for tier '\(tier)', which is not configured") }
            try Self.check(rate, field: "tier_rate_limits['\(tier)']")
        }
        for (shop, rate) in shopRateLimits {
            try Validation.shopID(shop)
            try Self.check(rate, field: "shop_rate_limits['\(shop)']")
        }
        try Self.check(optimization)
    }
}

// MARK: - The run-time changes in effect

/// The run-time changes that shape the configuration beyond its base (defaults and config file):
/// the latest change of each setting, in the order they were last made. Replaying them over the
/// base in this order gives the current configuration, because a change of a setting only ever
/// overwrites that setting; this is what a snapshot stores.
public struct ConfigChangeLog: Sendable {
    private var latest: [[String]: (order: UInt64, change: ConfigChange)] = [:]
    private var nextOrder: UInt64 = 0

    /// An empty log.
    public init() {}

    /// Records `change`, replacing an earlier change of the same setting.
    public mutating func record(_ change: ConfigChange) {
        latest[change.settingKey] = (nextOrder, change)
        nextOrder += 1
    }

    /// The changes in effect, oldest first.
    public var changes: [ConfigChange] {
        latest.values.sorted { $0.order < $1.order }.map(\.change)
    }

    /// How many settings were changed at run time.
    public var count: Int { latest.count }
}

extension ConfigChange {
    /// Names the setting a change overwrites. Two changes with the same key touch exactly the
    /// same fields, so only the later one matters.
    var settingKey: [String] {
        switch self {
        case .setPrice(let request):
            request.asFallback ? ["fallback-price"] : ["price", request.version.model, String(request.version.version.effectiveFromUnixMs)]
        case .upsertTier(let request):
            ["tier", request.tier.tier.name, String(request.effectiveFromUnixMs), request.tier.rateLimit == nil ? "prices" : "prices+rate"]
        case .setLimits(let request): ["limits", request.limits.shopID, request.limits.operationType]
        case .setRateLimit(let request): request.shopID.isEmpty ? ["tier-rate", request.tier] : ["shop-rate", request.shopID]
        case .setOptimizationRules: ["optimization"]
        case .setShadowMode(let request): ["shadow", request.shopID]
        case .setUnknownShopPolicy: ["unknown-shops"]
        }
    }
}
