// The method paths of `tokengate.v1.BudgetService`, spelled in gRPC form as they travel in
// `RequestEnvelope.method`. The server's method table and the client library both use these
// constants, so a typo cannot make a method unreachable.

/// gRPC-style paths of the BudgetService methods.
public enum MethodPath {
    /// `CanMakeRequest`: the gate.
    public static let canMakeRequest = "/tokengate.v1.BudgetService/CanMakeRequest"
    /// `ReleaseReservation`: cancel a hold made by CanMakeRequest.
    public static let releaseReservation = "/tokengate.v1.BudgetService/ReleaseReservation"
    /// `ApplyOptimization`: cheaper parameters near the budget.
    public static let applyOptimization = "/tokengate.v1.BudgetService/ApplyOptimization"
    /// `LogUsage`: record what a call spent.
    public static let logUsage = "/tokengate.v1.BudgetService/LogUsage"
    /// `GenerateBilling`: the month's bill.
    public static let generateBilling = "/tokengate.v1.BudgetService/GenerateBilling"
    /// `Health`: shaped like `grpc.health.v1`.
    public static let health = "/tokengate.v1.BudgetService/Health"
    /// `WatchHealth`: server-streamed; the current status, then every change.
    public static let watchHealth = "/tokengate.v1.BudgetService/WatchHealth"

    /// Every path above, in schema order.
    public static let all = [canMakeRequest, releaseReservation, applyOptimization, logUsage, generateBilling, health, watchHealth]
}
