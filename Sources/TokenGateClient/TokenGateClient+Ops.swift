// The operations RPCs in the client library: the daemon's metrics as Prometheus text, and the
// report a client sends of the calls it decided without the daemon (fail-open, spooled).
import TokenGateWire

extension TokenGateClient {
    /// The daemon's metrics in the Prometheus text exposition format 0.0.4. Answers during
    /// recovery and drain too. Throws UNAVAILABLE, DEADLINE_EXCEEDED.
    public func getMetrics(timeoutMs: UInt32? = nil) async throws(TokenGateError) -> GetMetricsResponse {
        try await call(MethodPath.getMetrics, GetMetricsRequest(), timeoutMs: timeoutMs)
    }

    /// Reports this client's fail-open, fail-closed and spool counters (totals since it
    /// started); the daemon exports the latest report of each client id.
    /// Throws INVALID_ARGUMENT (client id), RESOURCE_EXHAUSTED (too many clients report).
    public func reportClientMetrics(_ request: ReportClientMetricsRequest, timeoutMs: UInt32? = nil) async throws(TokenGateError) -> ReportClientMetricsResponse {
        try await call(MethodPath.reportClientMetrics, request, timeoutMs: timeoutMs)
    }
}
