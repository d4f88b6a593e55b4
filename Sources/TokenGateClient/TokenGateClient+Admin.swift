// The configuration calls of the client library (DESIGN §4): read the configuration in effect,
// and the admin setters. The daemon allows the setters only to peers whose uid is in its admin
// list; others get PERMISSION_DENIED. Every setter is durable once it returns.
import TokenGateCore
import TokenGateWire

extension TokenGateClient {
    /// The configuration in effect (defaults, config file, run-time changes) and the count of
    /// shadow-mode would-be denials.
    public func getConfiguration(timeoutMs: UInt32? = nil) async throws(TokenGateError) -> GetConfigurationResponse {
        try await call(MethodPath.getConfiguration, GetConfigurationRequest(), timeoutMs: timeoutMs)
    }

    /// Adds a model's price version (effective from 0 = now, never in the past) or sets the
    /// fallback price. Throws INVALID_ARGUMENT, PERMISSION_DENIED.
    public func setPrice(_ request: SetPriceRequest, timeoutMs: UInt32? = nil) async throws(TokenGateError) -> SetPriceResponse {
        try await call(MethodPath.setPrice, request, timeoutMs: timeoutMs)
    }

    /// Creates or replaces a tier. Throws INVALID_ARGUMENT, PERMISSION_DENIED.
    public func upsertTier(_ request: UpsertTierRequest, timeoutMs: UInt32? = nil) async throws(TokenGateError) -> UpsertTierResponse {
        try await call(MethodPath.upsertTier, request, timeoutMs: timeoutMs)
    }

    /// Puts a shop on a tier. Throws INVALID_ARGUMENT, NOT_FOUND (tier), PERMISSION_DENIED.
    public func assignShopTier(_ request: AssignShopTierRequest, timeoutMs: UInt32? = nil) async throws(TokenGateError) -> AssignShopTierResponse {
        try await call(MethodPath.assignShopTier, request, timeoutMs: timeoutMs)
    }

    /// Sets an operation type's limits, or one shop's override. Throws INVALID_ARGUMENT, PERMISSION_DENIED.
    public func setLimits(_ request: SetLimitsRequest, timeoutMs: UInt32? = nil) async throws(TokenGateError) -> SetLimitsResponse {
        try await call(MethodPath.setLimits, request, timeoutMs: timeoutMs)
    }

    /// Sets a tier's or a shop's rate limit. Throws INVALID_ARGUMENT, NOT_FOUND (tier), PERMISSION_DENIED.
    public func setRateLimit(_ request: SetRateLimitRequest, timeoutMs: UInt32? = nil) async throws(TokenGateError) -> SetRateLimitResponse {
        try await call(MethodPath.setRateLimit, request, timeoutMs: timeoutMs)
    }

    /// Replaces ApplyOptimization's rules. Throws INVALID_ARGUMENT, PERMISSION_DENIED.
    public func setOptimizationRules(
        _ request: SetOptimizationRulesRequest, timeoutMs: UInt32? = nil
    ) async throws(TokenGateError) -> SetOptimizationRulesResponse {
        try await call(MethodPath.setOptimizationRules, request, timeoutMs: timeoutMs)
    }

    /// Turns shadow mode on or off, globally or for one shop. Throws INVALID_ARGUMENT, PERMISSION_DENIED.
    public func setShadowMode(_ request: SetShadowModeRequest, timeoutMs: UInt32? = nil) async throws(TokenGateError) -> SetShadowModeResponse {
        try await call(MethodPath.setShadowMode, request, timeoutMs: timeoutMs)
    }

    /// Chooses what the gate does with unknown shops. Throws PERMISSION_DENIED.
    public func setUnknownShopPolicy(
        _ request: SetUnknownShopPolicyRequest, timeoutMs: UInt32? = nil
    ) async throws(TokenGateError) -> SetUnknownShopPolicyResponse {
        try await call(MethodPath.setUnknownShopPolicy, request, timeoutMs: timeoutMs)
    }
}
