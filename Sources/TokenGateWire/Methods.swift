// The method paths of `tokengate.v1.BudgetService`, spelled in gRPC form as they travel in
// `RequestEnvelope.method`. The server's method table and the client library both use these
// constants, so a typo cannot make a method unreachable. The constants themselves are generated
// from the schema (Generated/Methods.generated.swift); the groups below are hand-written.

/// gRPC-style paths of the BudgetService methods.
public enum MethodPath {
    /// The hot-path methods, in schema order.
    public static let all = [canMakeRequest, releaseReservation, applyOptimization, logUsage, generateBilling, health, watchHealth]
}

extension MethodPath {
    /// The configuration methods, in schema order.
    public static let configuration = [
        getConfiguration, setPrice, upsertTier, assignShopTier, setLimits, setRateLimit, setOptimizationRules, setShadowMode,
        setUnknownShopPolicy,
    ]
}
