// The configuration RPCs (DESIGN §4): GetConfiguration for every peer, and the admin setters,
// which the dispatcher allows only to peers whose uid is in the admin list (PERMISSION_DENIED
// otherwise). Each setter is a write: the change is logged before it is acknowledged, so it
// survives a restart like any other write.
import TokenGateCore
import TokenGateStore
import TokenGateWire

extension BudgetService {
    /// GetConfiguration and the admin setters.
    func adminMethods() -> [Method] {
        let ledger = self.ledger
        let counters = gateCounters
        let fleetConfig = self.fleetConfig
        /// Applies a change (in fleet mode: publishes it, and applies it from PostgreSQL as every
        /// daemon does) and hands the logged form to `answer`.
        @Sendable func change<Response>(
            _ change: ConfigChange, _ context: CallContext, _ answer: (ConfigChange, Configuration) -> Response
        ) throws(TokenGateError) -> (Response, UInt64?) {
            if let fleetConfig {
                let (logged, configuration, sequence) = try fleetConfig.change(change, now: context.now)
                return (answer(logged, configuration), sequence)
            }
            let (logged, configuration, sequence) = try ledger.changeConfiguration(change, now: context.now)
            return (answer(logged, configuration), sequence)
        }
        return [
            /// GetConfiguration: OK.
            .unary(MethodPath.getConfiguration) { (_: GetConfigurationRequest, _) throws(TokenGateError) in
                (GetConfigurationResponse(configuration: ledger.currentConfiguration, shadowDeniedTotal: counters.shadowDeniedTotal), nil)
            },
            /// SetPrice: OK, INVALID_ARGUMENT (model, negative price, effective time in the past),
            /// PERMISSION_DENIED, UNAVAILABLE.
            .unary(MethodPath.setPrice, [.admin, .write]) { (request: SetPriceRequest, context) throws(TokenGateError) in
                try change(.setPrice(request), context) { logged, _ in
                    guard case .setPrice(let stored) = logged else { preconditionFailure("SetPrice logged as \(logged)") }
                    return SetPriceResponse(version: stored.version)
                }
            },
            /// UpsertTier: OK, INVALID_ARGUMENT, PERMISSION_DENIED, UNAVAILABLE.
            .unary(MethodPath.upsertTier, [.admin, .write]) { (request: UpsertTierRequest, context) throws(TokenGateError) in
                try change(.upsertTier(request), context) { _, config in
                    let name = request.tier.tier.name
                    return UpsertTierResponse(tier: TierSettings(tier: config.tiers[name]!, rateLimit: config.tierRateLimits[name]))
                }
            },
            /// AssignShopTier: OK, INVALID_ARGUMENT, NOT_FOUND (tier), PERMISSION_DENIED, UNAVAILABLE.
            .unary(MethodPath.assignShopTier, [.admin, .write]) { (request: AssignShopTierRequest, context) throws(TokenGateError) in
                if let fleetConfig { return try fleetConfig.assignShopTier(request, now: context.now) }
                let (response, sequence) = try ledger.assignShopTier(request, now: context.now)
                return (response, sequence)
            },
            /// SetLimits: OK, INVALID_ARGUMENT, PERMISSION_DENIED, UNAVAILABLE.
            .unary(MethodPath.setLimits, [.admin, .write]) { (request: SetLimitsRequest, context) throws(TokenGateError) in
                try change(.setLimits(request), context) { _, _ in SetLimitsResponse(limits: request.limits) }
            },
            /// SetRateLimit: OK, INVALID_ARGUMENT, NOT_FOUND (tier), PERMISSION_DENIED, UNAVAILABLE.
            .unary(MethodPath.setRateLimit, [.admin, .write]) { (request: SetRateLimitRequest, context) throws(TokenGateError) in
                try change(.setRateLimit(request), context) { _, config in
                    SetRateLimitResponse(
                        rateLimit: request.shopID.isEmpty
                            ? config.tierRateLimits[request.tier] ?? .unlimited : config.shopRateLimits[request.shopID] ?? .unlimited)
                }
            },
            /// SetOptimizationRules: OK, INVALID_ARGUMENT (e.g. a downgrade to an unpriced model),
            /// PERMISSION_DENIED, UNAVAILABLE.
            .unary(MethodPath.setOptimizationRules, [.admin, .write]) { (request: SetOptimizationRulesRequest, context) throws(TokenGateError) in
                try change(.setOptimizationRules(request), context) { _, config in SetOptimizationRulesResponse(rules: config.optimization) }
            },
            /// SetShadowMode: OK, INVALID_ARGUMENT, PERMISSION_DENIED, UNAVAILABLE.
            .unary(MethodPath.setShadowMode, [.admin, .write]) { (request: SetShadowModeRequest, context) throws(TokenGateError) in
                try change(.setShadowMode(request), context) { _, config in
                    SetShadowModeResponse(globalEnabled: config.shadowMode, shadowShops: config.shadowShops.sorted())
                }
            },
            /// SetUnknownShopPolicy: OK, INVALID_ARGUMENT (unspecified policy), PERMISSION_DENIED, UNAVAILABLE.
            .unary(MethodPath.setUnknownShopPolicy, [.admin, .write]) { (request: SetUnknownShopPolicyRequest, context) throws(TokenGateError) in
                try change(.setUnknownShopPolicy(request), context) { _, config in
                    SetUnknownShopPolicyResponse(policy: config.unknownShopPolicy)
                }
            },
        ]
    }
}
