// The handlers of the billing, report, usage-log and alert RPCs (DESIGN §3 GenerateBilling, §4):
// each decodes its request, asks the ledger and encodes the answer. Batch billing and paid
// marks are admin writes; the CSV export and the alert watch are server-streamed.
import TokenGateCore
import TokenGateStore
import TokenGateWire

extension BudgetService {
    /// Billing records, the shop view, statistics and reports, usage logs and alerts.
    func reportMethods() -> [Method] {
        let ledger = self.ledger
        let watchers = alertWatchers
        return [
            /// ListBillingRecords: OK (empty for an unknown shop), INVALID_ARGUMENT.
            .unary(MethodPath.listBillingRecords) { (request: ListBillingRecordsRequest, _) throws(TokenGateError) in
                (try ledger.listBillingRecords(request), nil)
            },
            /// GenerateBillingBatch (admin): OK, INVALID_ARGUMENT (period), FAILED_PRECONDITION
            /// (period not ended, a shop's tier not configured), PERMISSION_DENIED, UNAVAILABLE.
            .unary(MethodPath.generateBillingBatch, [.admin, .write]) {
                (request: GenerateBillingBatchRequest, context) throws(TokenGateError) in
                try ledger.generateBillingBatch(request, now: context.now)
            },
            /// VoidBilling (admin): OK, INVALID_ARGUMENT (period, reason), NOT_FOUND (no stored
            /// record), FAILED_PRECONDITION (paid), UNAVAILABLE.
            .unary(MethodPath.voidBilling, [.admin, .write]) { (request: VoidBillingRequest, context) throws(TokenGateError) in
                let (response, sequence) = try ledger.voidBilling(request, now: context.now, byUID: context.peer?.uid ?? UInt32.max)
                return (response, sequence)
            },
            /// MarkPaid (admin): OK, INVALID_ARGUMENT, NOT_FOUND (no stored record),
            /// PERMISSION_DENIED, UNAVAILABLE.
            .unary(MethodPath.markPaid, [.admin, .write]) { (request: MarkPaidRequest, context) throws(TokenGateError) in
                try ledger.markPaid(request, now: context.now)
            },
            /// GetShopView: OK, INVALID_ARGUMENT, NOT_FOUND (unknown shops refused),
            /// FAILED_PRECONDITION (tier not configured).
            .unary(MethodPath.getShopView) { (request: GetShopViewRequest, context) throws(TokenGateError) in
                (try ledger.shopView(request, now: context.now), nil)
            },
            /// GetStatistics: OK, INVALID_ARGUMENT (filter).
            .unary(MethodPath.getStatistics) { (request: GetStatisticsRequest, _) throws(TokenGateError) in
                (try ledger.statistics(request), nil)
            },
            /// GetMonthlySummary: OK, INVALID_ARGUMENT (period, shop id).
            .unary(MethodPath.getMonthlySummary) { (request: GetMonthlySummaryRequest, _) throws(TokenGateError) in
                (try ledger.monthlySummary(request), nil)
            },
            /// GetMonthlyReport: OK, INVALID_ARGUMENT (period).
            .unary(MethodPath.getMonthlyReport) { (request: GetMonthlyReportRequest, _) throws(TokenGateError) in
                (try ledger.monthlyReport(request), nil)
            },
            /// GetHighCostShops: OK, INVALID_ARGUMENT (negative threshold, top too large).
            .unary(MethodPath.getHighCostShops) { (request: GetHighCostShopsRequest, context) throws(TokenGateError) in
                (try ledger.highCostShops(request, now: context.now), nil)
            },
            /// GetProjections: OK, INVALID_ARGUMENT (shop id).
            .unary(MethodPath.getProjections) { (request: GetProjectionsRequest, context) throws(TokenGateError) in
                (try ledger.projections(request, now: context.now), nil)
            },
            /// QueryUsageLogs: OK, INVALID_ARGUMENT (no shop, filter, page size, bad cursor).
            .unary(MethodPath.queryUsageLogs) { (request: QueryUsageLogsRequest, _) throws(TokenGateError) in
                (try ledger.queryUsageLogs(request), nil)
            },
            /// ExportUsageCsv: chunks of CSV, then end of stream with OK; INVALID_ARGUMENT (filter).
            .serverStreaming(MethodPath.exportUsageCSV) { (request: ExportUsageCSVRequest, _, stream) throws(TokenGateError) in
                try ledger.exportUsageCSV(request) { chunk in stream.send(chunk) }
                stream.finish()
            },
            /// ListAlerts: OK, INVALID_ARGUMENT (shop id, limit too large).
            .unary(MethodPath.listAlerts) { (request: ListAlertsRequest, _) throws(TokenGateError) in
                (try ledger.listAlerts(request), nil)
            },
            /// WatchAlerts: every alert stored from now on, until the daemon stops (UNAVAILABLE);
            /// INVALID_ARGUMENT (shop id), RESOURCE_EXHAUSTED (too many watchers).
            .serverStreaming(MethodPath.watchAlerts) { (request: WatchAlertsRequest, _, stream) throws(TokenGateError) in
                if !request.shopID.isEmpty { try Validation.shopID(request.shopID) }
                watchers.add(stream, shopID: request.shopID)
            },
        ]
    }
}
