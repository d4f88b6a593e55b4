// The messages of the operations RPCs (GetMetrics, ReportClientMetrics) as Swift values, so
// the server, the client library and the CLI exchange typed values rather than protobuf structs.

/// Asks for the daemon's metrics.
public struct GetMetricsRequest: Sendable, Equatable {
    /// The request (it has no fields).
    public init() {}
}

/// The daemon's metrics in the Prometheus text exposition format 0.0.4.
public struct GetMetricsResponse: Sendable, Equatable {
    /// The exposition text.
    public var text: String
    /// A response carrying `text`.
    public init(text: String) { self.text = text }
}

/// Counters a client library keeps about the calls the daemon never saw: requests let through
/// (or refused) by the fail-open (fail-closed) policy while the daemon was unreachable, and
/// usage events spooled locally for re-sending. Totals since the client started.
public struct ReportClientMetricsRequest: Sendable, Equatable {
    /// Names the reporting client (for example `host/worker-3`); one series per client id.
    public var clientID: String
    public var failOpenTotal: UInt64
    public var failClosedTotal: UInt64
    public var spooledTotal: UInt64
    /// Events waiting in the client's spool now.
    public var spoolDepth: UInt64

    /// A report; counters not given are zero.
    public init(clientID: String, failOpenTotal: UInt64 = 0, failClosedTotal: UInt64 = 0, spooledTotal: UInt64 = 0, spoolDepth: UInt64 = 0) {
        self.clientID = clientID
        self.failOpenTotal = failOpenTotal
        self.failClosedTotal = failClosedTotal
        self.spooledTotal = spooledTotal
        self.spoolDepth = spoolDepth
    }
}

/// Empty acknowledgement of `ReportClientMetricsRequest`.
public struct ReportClientMetricsResponse: Sendable, Equatable {
    /// The acknowledgement (it has no fields).
    public init() {}
}
