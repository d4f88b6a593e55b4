// The method paths of the billing, report, usage-log and alert RPCs of
// `tokengate.v1.BudgetService` (DESIGN §3 GenerateBilling, §4), used by the server's method
// table and the client library alike.

extension MethodPath {
    /// The paths above, in schema order.
    public static let reports = [
        listBillingRecords, generateBillingBatch, markPaid, voidBilling, getShopView, getStatistics, getMonthlySummary,
        getMonthlyReport, getHighCostShops, getProjections, queryUsageLogs, exportUsageCSV, listAlerts, watchAlerts,
    ]
}
