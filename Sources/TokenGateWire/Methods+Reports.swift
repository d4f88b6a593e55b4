// The method paths of the billing, report, usage-log and alert RPCs of
// `tokengate.v1.BudgetService` (DESIGN §3 GenerateBilling, §4), used by the server's method
// table and the client library alike.

extension MethodPath {
    /// `ListBillingRecords`: a shop's stored billing records.
    public static let listBillingRecords = "/tokengate.v1.BudgetService/ListBillingRecords"
    /// `GenerateBillingBatch`: bill every shop of an ended period (admin).
    public static let generateBillingBatch = "/tokengate.v1.BudgetService/GenerateBillingBatch"
    /// `MarkPaid`: mark a stored billing record paid (admin).
    public static let markPaid = "/tokengate.v1.BudgetService/MarkPaid"
    /// `VoidBilling`: void a stored billing record, with a reason (admin, issue 17).
    public static let voidBilling = "/tokengate.v1.BudgetService/VoidBilling"
    /// `GetShopView`: one shop's billing dashboard.
    public static let getShopView = "/tokengate.v1.BudgetService/GetShopView"
    /// `GetStatistics`: totals, by operation and by shop, over a filter.
    public static let getStatistics = "/tokengate.v1.BudgetService/GetStatistics"
    /// `GetMonthlySummary`: one row per shop of a month.
    public static let getMonthlySummary = "/tokengate.v1.BudgetService/GetMonthlySummary"
    /// `GetMonthlyReport`: a month's totals, by operation and by shop.
    public static let getMonthlyReport = "/tokengate.v1.BudgetService/GetMonthlyReport"
    /// `GetHighCostShops`: shops over a cost threshold in the last 24 hours.
    public static let getHighCostShops = "/tokengate.v1.BudgetService/GetHighCostShops"
    /// `GetProjections`: projected month-end cost per shop.
    public static let getProjections = "/tokengate.v1.BudgetService/GetProjections"
    /// `QueryUsageLogs`: a page of a shop's events.
    public static let queryUsageLogs = "/tokengate.v1.BudgetService/QueryUsageLogs"
    /// `ExportUsageCsv`: server-streamed CSV of usage events.
    public static let exportUsageCSV = "/tokengate.v1.BudgetService/ExportUsageCsv"
    /// `ListAlerts`: stored alerts, newest first.
    public static let listAlerts = "/tokengate.v1.BudgetService/ListAlerts"
    /// `WatchAlerts`: server-streamed; every alert stored from now on.
    public static let watchAlerts = "/tokengate.v1.BudgetService/WatchAlerts"

    /// The paths above, in schema order.
    public static let reports = [
        listBillingRecords, generateBillingBatch, markPaid, voidBilling, getShopView, getStatistics, getMonthlySummary,
        getMonthlyReport, getHighCostShops, getProjections, queryUsageLogs, exportUsageCSV, listAlerts, watchAlerts,
    ]
}
