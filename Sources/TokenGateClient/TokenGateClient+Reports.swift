// The client calls of billing, reports, usage logs and alerts (DESIGN §3 GenerateBilling, §4):
// typed wrappers over the same pipelined connection as the hot RPCs. The CSV export and the
// alert watch are server-streamed and come back as AsyncThrowingStreams.
import TokenGateWire

extension TokenGateClient {
    // MARK: - Billing records

    /// A shop's stored billing records, oldest period first. Throws INVALID_ARGUMENT.
    public func listBillingRecords(_ request: ListBillingRecordsRequest, timeoutMs: UInt32? = nil) async throws(TokenGateError)
        -> ListBillingRecordsResponse
    {
        try await call(MethodPath.listBillingRecords, request, timeoutMs: timeoutMs)
    }

    /// Bills every shop with usage in an ended period (admin); re-running stores nothing new.
    /// Throws INVALID_ARGUMENT, FAILED_PRECONDITION (period not ended), PERMISSION_DENIED.
    public func generateBillingBatch(_ request: GenerateBillingBatchRequest, timeoutMs: UInt32? = nil) async throws(TokenGateError)
        -> GenerateBillingBatchResponse
    {
        try await call(MethodPath.generateBillingBatch, request, timeoutMs: timeoutMs)
    }

    /// Marks a stored billing record paid (admin). Throws NOT_FOUND (no stored record),
    /// PERMISSION_DENIED.
    public func markPaid(_ request: MarkPaidRequest, timeoutMs: UInt32? = nil) async throws(TokenGateError) -> MarkPaidResponse {
        try await call(MethodPath.markPaid, request, timeoutMs: timeoutMs)
    }

    /// Voids a stored billing record (admin), keeping it beside its reissue; the period is open
    /// again. Throws INVALID_ARGUMENT (no reason), NOT_FOUND (no stored record),
    /// FAILED_PRECONDITION (paid), PERMISSION_DENIED.
    public func voidBilling(_ request: VoidBillingRequest, timeoutMs: UInt32? = nil) async throws(TokenGateError) -> VoidBillingResponse {
        try await call(MethodPath.voidBilling, request, timeoutMs: timeoutMs)
    }

    // MARK: - Shop view, statistics, reports

    /// One shop's billing dashboard for the current month.
    public func shopView(_ request: GetShopViewRequest, timeoutMs: UInt32? = nil) async throws(TokenGateError) -> ShopView {
        try await call(MethodPath.getShopView, request, timeoutMs: timeoutMs)
    }

    /// Totals, by operation type and by shop, over a shop and time-range filter.
    public func statistics(_ request: GetStatisticsRequest, timeoutMs: UInt32? = nil) async throws(TokenGateError)
        -> GetStatisticsResponse
    {
        try await call(MethodPath.getStatistics, request, timeoutMs: timeoutMs)
    }

    /// One row per shop with usage in a month.
    public func monthlySummary(_ request: GetMonthlySummaryRequest, timeoutMs: UInt32? = nil) async throws(TokenGateError)
        -> GetMonthlySummaryResponse
    {
        try await call(MethodPath.getMonthlySummary, request, timeoutMs: timeoutMs)
    }

    /// A month's totals, by operation type and by shop.
    public func monthlyReport(_ request: GetMonthlyReportRequest, timeoutMs: UInt32? = nil) async throws(TokenGateError)
        -> GetMonthlyReportResponse
    {
        try await call(MethodPath.getMonthlyReport, request, timeoutMs: timeoutMs)
    }

    /// Shops over a cost threshold in the last 24 hours, with their projected month.
    public func highCostShops(_ request: GetHighCostShopsRequest = .init(), timeoutMs: UInt32? = nil) async throws(TokenGateError)
        -> GetHighCostShopsResponse
    {
        try await call(MethodPath.getHighCostShops, request, timeoutMs: timeoutMs)
    }

    /// Projected month-end cost per shop.
    public func projections(_ request: GetProjectionsRequest = .init(), timeoutMs: UInt32? = nil) async throws(TokenGateError)
        -> GetProjectionsResponse
    {
        try await call(MethodPath.getProjections, request, timeoutMs: timeoutMs)
    }

    // MARK: - Usage logs

    /// One page of a shop's events; pass `nextCursor` back for the next page. Throws
    /// INVALID_ARGUMENT (no shop id, bad cursor).
    public func queryUsageLogs(_ request: QueryUsageLogsRequest, timeoutMs: UInt32? = nil) async throws(TokenGateError)
        -> QueryUsageLogsResponse
    {
        try await call(MethodPath.queryUsageLogs, request, timeoutMs: timeoutMs)
    }

    /// The matching events as RFC 4180 CSV chunks (the first starts with the header row).
    public func exportUsageCSV(_ request: ExportUsageCSVRequest = .init()) -> AsyncThrowingStream<ExportUsageCSVChunk, any Error> {
        serverStream(MethodPath.exportUsageCSV, request)
    }

    // MARK: - Alerts

    /// Stored alerts, newest first.
    public func listAlerts(_ request: ListAlertsRequest = .init(), timeoutMs: UInt32? = nil) async throws(TokenGateError)
        -> ListAlertsResponse
    {
        try await call(MethodPath.listAlerts, request, timeoutMs: timeoutMs)
    }

    /// Every alert stored from now on (for one shop or all), until the daemon stops (the
    /// stream then ends with UNAVAILABLE). Stop iterating to stop watching.
    public func watchAlerts(_ request: WatchAlertsRequest = .init()) -> AsyncThrowingStream<Alert, any Error> {
        serverStream(MethodPath.watchAlerts, request)
    }
}
