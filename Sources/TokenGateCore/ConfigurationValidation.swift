// Coherence checks of a whole configuration, run when the daemon loads or changes one. The
// domain code assumes what is checked here (sorted price versions, a default tier that exists,
// sane percentages), so a bad config file fails loudly at startup instead of mid-request.

extension Configuration {
    /// Checks that the configuration is coherent; throws `invalidArgument` naming the first
    /// problem found.
    public func validate() throws(TokenGateError) {
        // Identifiers first, so no message below quotes a name with a control character in it.
        for shop in shopLimitOverrides.keys {
            try Validation.identifier(shop, field: "shop_limits key", maximum: CoreLimits.shopIDBytesMax)
        }
        for shop in shadowShops {
            try Validation.identifier(shop, field: "shadow_shops entry", maximum: CoreLimits.shopIDBytesMax)
        }
        for name in tiers.keys { try Self.checkName(name, field: "tier name") }
        for operation in limits.keys { try Self.checkName(operation, field: "operation type") }
        for model in prices.models.keys { try Self.checkName(model, field: "prices model name") }
        try validatePrices()
        try validateTiers()
        guard !limits.isEmpty else { throw .invalidArgument("no operation types are configured") }
        for (operation, operationLimits) in limits {
            try Self.validate(operationLimits, context: "limits['\(operation)']")
        }
        for (shop, overrides) in shopLimitOverrides {
            try Validation.shopID(shop)
            for (operation, operationLimits) in overrides {
                try Self.validate(operationLimits, context: "shop_limit_overrides['\(shop)']['\(operation)']")
            }
        }
        try validateOptimization()
        guard reservationTTLMs > 0, reservationTTLMs <= CoreLimits.reservationTTLMsMax else {
            throw .invalidArgument("reservation_ttl_ms is \(reservationTTLMs); it must be 1...\(CoreLimits.reservationTTLMsMax)")
        }
        for shop in shadowShops { try Validation.shopID(shop) }
        try validateTablesAndRateLimits()
    }

    private func validatePrices() throws(TokenGateError) {
        for (model, versions) in prices.models {
            guard !model.isEmpty else { throw .invalidArgument("price table has a model with an empty name") }
            guard !versions.isEmpty else { throw .invalidArgument("price table entry '\(model)' has no versions") }
            for (index, version) in versions.enumerated() {
                try Self.validate(version, context: "prices['\(model)'][\(index)]")
                if index > 0, versions[index - 1].effectiveFromUnixMs >= version.effectiveFromUnixMs {
                    throw .invalidArgument("prices['\(model)'] versions must be sorted by effective_from with no two equal")
                }
            }
        }
        if let fallback = prices.fallback { try Self.validate(fallback, context: "fallback price") }
    }

    private static func validate(_ version: PriceVersion, context: String) throws(TokenGateError) {
        for rates in [version.base] + version.promptTiers.map(\.rates) {
            guard rates.inputPerMillion >= 0, rates.outputPerMillion >= 0, rates.cachedInputPerMillion >= 0 else {
                throw .invalidArgument("\(context): prices must not be negative")
            }
        }
    }

    private func validateTiers() throws(TokenGateError) {
        for (name, tier) in tiers {
            guard !name.isEmpty, tier.name == name else {
                throw .invalidArgument("tier key '\(name)' and tier name '\(tier.name)' must be equal and non-empty")
            }
            guard tier.monthlyFeeNanoUSD >= 0, tier.overagePerMessageNanoUSD >= 0, (tier.maxMonthlySpendNanoUSD ?? 0) >= 0
            else { throw .invalidArgument("tier '\(name)': fees, overage and spend cap must not be negative") }
        }
        guard tiers[defaultTier] != nil else {
            throw .invalidArgument("default tier '\(defaultTier)' is not configured; tiers: \(tiers.keys.sorted().joined(separator: ", "))")
        }
    }

    private static func validate(_ limits: OperationLimits, context: String) throws(TokenGateError) {
        guard limits.dailyCostCapNanoUSD >= 0, limits.monthlyCostCapNanoUSD >= 0 else {
            throw .invalidArgument("\(context): cost caps must not be negative")
        }
        for (value, field) in [
            (limits.maxInputTokensPerMessage, "max_input_tokens"), (limits.maxOutputTokensPerMessage, "max_output_tokens"),
            (limits.maxTotalTokensPerMessage, "max_total_tokens"),
        ] where value == 0 || value > CoreLimits.tokensPerCallMax {
            throw .invalidArgument("\(context): \(field) is \(value); it must be 1...\(CoreLimits.tokensPerCallMax)")
        }
        guard (1...100).contains(limits.alertThresholdPercent) else {
            throw .invalidArgument("\(context): alert_threshold_percent is \(limits.alertThresholdPercent); it must be 1...100")
        }
    }

    private func validateOptimization() throws(TokenGateError) {
        if let percent = optimization.thresholdPercent, !(1...100).contains(percent) {
            throw .invalidArgument("optimization threshold_percent is \(percent); it must be 1...100")
        }
        for (from, to) in optimization.modelDowngrades {
            guard prices.models[to] != nil || prices.fallback != nil else {
                throw .invalidArgument("optimization downgrades '\(from)' to '\(to)', which has no price")
            }
        }
    }
}
