// The operations RPCs: GetMetrics (the Prometheus text a scrape or `tokengate metrics` reads)
// and ReportClientMetrics (client libraries report the calls they decided without the daemon).
// Both answer during recovery and drain too, since that is when an operator looks.
import TokenGateCore
import TokenGateStore
import TokenGateWire

extension BudgetService {
    /// How many shops `tokengate_shop_cost_today_nano_usd` lists: enough for `tokengate top`,
    /// few enough that the label values stay bounded.
    static let topShopsInMetrics = 10

    /// GetMetrics and ReportClientMetrics.
    func opsMethods() -> [Method] {
        [
            /// GetMetrics: always OK; the text is Prometheus exposition format 0.0.4.
            .unary(MethodPath.getMetrics, .alwaysAvailable) { [self] (_: GetMetricsRequest, context) throws(TokenGateError) in
                (GetMetricsResponse(text: metricsText(now: context.now)), nil)
            },
            /// ReportClientMetrics: OK, INVALID_ARGUMENT (client_id), RESOURCE_EXHAUSTED (too
            /// many reporting clients).
            .unary(MethodPath.reportClientMetrics, .alwaysAvailable) { [self] (request: ReportClientMetricsRequest, context) throws(TokenGateError) in
                try metrics.clientReports.record(request, now: context.now)
                return (ReportClientMetricsResponse(), nil)
            },
        ]
    }

    /// The current metrics in Prometheus text format (also what the .prom file holds).
    public func metricsText(now: UnixMillis) -> String {
        metrics.exposition(ScrapeInputs(
            version: TokenGateVersion.current, serving: isReady, now: now,
            ledger: ledger.gauges(now: now, topShops: Self.topShopsInMetrics),
            logLastSequence: ledger.logLastSequence, store: ledger.storeMetrics, memory: ProcessMemory.read()))
            + (shipper.withLock { $0 }?.exposition() ?? "") + (fleet?.exposition() ?? "")
            + (fleetConfig?.exposition() ?? "")
    }
}
