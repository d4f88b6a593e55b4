// The daemon's metrics registry: calls per method and status code, latency per method,
// decisions by reason, connections, and what clients report about calls the daemon never saw.
// The hot path only does relaxed atomic adds on objects made at startup (no lock, no
// allocation); everything else (shops, memory, the log) is read when someone scrapes.
import Synchronization
import TokenGateCore
import TokenGateStore

/// Counters and latency of one RPC method.
final class MethodMetrics: Sendable {
    /// The method's short name, e.g. `CanMakeRequest` (the label value).
    let name: String
    /// Calls by gRPC status code (index = code number).
    let callsByStatus: [AtomicCounter]
    /// From decoding the request to the encoded response (the log's fsync wait excluded).
    let latency = LatencyHistogram()

    init(name: String) {
        self.name = name
        callsByStatus = (0..<Metrics.statusCodeCount).map { _ in AtomicCounter() }
    }

    var totalCalls: UInt64 { callsByStatus.reduce(0) { $0 &+ $1.value } }
}

/// The per-method entries, fixed once the method table is known.
final class MethodMetricsTable: Sendable {
    let byPath: [String: MethodMetrics]
    /// Sorted by name, for stable output.
    let ordered: [MethodMetrics]

    init(paths: [String]) {
        var byPath: [String: MethodMetrics] = [:]
        for path in paths {
            byPath[path] = MethodMetrics(name: String(path.split(separator: "/").last ?? Substring(path)))
        }
        self.byPath = byPath
        self.ordered = byPath.values.sorted { $0.name < $1.name }
    }
}

/// Every metric the daemon keeps in memory. Thread-safe; recording never blocks.
public final class Metrics: Sendable {
    /// gRPC status codes 0...16.
    static let statusCodeCount = 17
    /// Reasons 0...8 of `DecisionReason`; a larger raw value is counted as `unspecified`.
    static let reasonCount = DecisionReason.allCases.count
    /// Decisions 0 (unspecified), 1 (allow), 2 (deny).
    static let decisionCount = 3

    private let table = AtomicLazyReference<MethodMetricsTable>()
    /// Calls to a path that is not in the method table (answered UNIMPLEMENTED). One series for
    /// all of them: a peer's made-up paths must not create label values.
    let unknownMethod = MethodMetrics(name: "unknown")
    /// Frames that were not a request envelope at all.
    let undecodableFrames = AtomicCounter()
    /// CanMakeRequest answers, index `decision * reasonCount + reason`.
    let decisions: [AtomicCounter]
    /// Checks that shadow mode answered ALLOW but would have denied, by reason.
    let shadowDenials: [AtomicCounter]
    /// Answers with the warning flag set (usage at or above the alert threshold).
    let decisionWarnings = AtomicCounter()
    let connectionsOpen = Atomic<Int>(0)
    let connectionsAccepted = AtomicCounter()
    /// Connections refused at accept (connection limit reached, or draining).
    let connectionsRejected = AtomicCounter()
    /// How long each batch of replies waited for the log to make its writes durable.
    let durabilityWait = LatencyHistogram()
    /// The log's last sequence when recovery finished: appends since start are counted from it.
    let logSequenceAtStart = Atomic<UInt64>(0)
    let clientReports = ClientReports()
    /// When the registry was made (≈ process start), for `process_start_time_seconds`.
    let startedUnixMs: UnixMillis

    /// An empty registry; `startedUnixMs` is reported as the process start time.
    public init(startedUnixMs: UnixMillis = SystemClock().nowUnixMs()) {
        self.startedUnixMs = startedUnixMs
        decisions = (0..<Self.decisionCount * Self.reasonCount).map { _ in AtomicCounter() }
        shadowDenials = (0..<Self.reasonCount).map { _ in AtomicCounter() }
    }

    /// Fixes the set of methods that get their own series. The first call wins.
    public func registerMethods(_ paths: [String]) {
        _ = table.storeIfNil(MethodMetricsTable(paths: paths))
    }

    /// Records the log's last sequence at the end of recovery.
    public func recordRecovered(lastSequence: UInt64) {
        logSequenceAtStart.store(lastSequence, ordering: .relaxed)
    }

    // MARK: - Hot path

    /// The series a method's calls are counted in (the "unknown" one for unregistered paths).
    func series(path: String) -> MethodMetrics {
        table.load()?.byPath[path] ?? unknownMethod
    }

    /// Counts one answered call in `method`'s series (looked up once with `series(path:)`) and
    /// its latency since `startNanoseconds`.
    @inline(__always)
    func recordCall(_ method: MethodMetrics, statusCode: UInt32, since startNanoseconds: UInt64) {
        let code = statusCode < UInt32(Self.statusCodeCount) ? Int(statusCode) : Int(StatusCode.unknown.rawValue)
        method.callsByStatus[code].add()
        method.latency.record(since: startNanoseconds)
    }

    /// Counts one CanMakeRequest answer by decision and reason.
    @inline(__always)
    func recordDecision(_ response: CanMakeRequestResponse) {
        let decision = Int(response.decision.rawValue)
        guard decision >= 0, decision < Self.decisionCount else { return }
        decisions[decision * Self.reasonCount + Self.reasonIndex(response.reason)].add()
        if response.warning { decisionWarnings.add() }
        if response.shadowDenied { shadowDenials[Self.reasonIndex(response.shadowReason)].add() }
    }

    func connectionOpened() {
        connectionsAccepted.add()
        connectionsOpen.wrappingAdd(1, ordering: .relaxed)
    }

    func connectionClosed() {
        connectionsOpen.wrappingSubtract(1, ordering: .relaxed)
    }

    @inline(__always)
    private static func reasonIndex(_ reason: DecisionReason) -> Int {
        let raw = Int(reason.rawValue)
        return raw >= 0 && raw < reasonCount ? raw : 0
    }

    var methods: [MethodMetrics] { table.load()?.ordered ?? [] }
}

// MARK: - Client reports

/// The latest counters each client library reported (fail-open, fail-closed, spooled events).
/// Bounded: at most `clientsMax` clients, and a client silent for `staleAfterMs` is dropped.
final class ClientReports: Sendable {
    /// One series per client; 1,024 covers every worker process of a host.
    static let clientsMax = 1_024
    /// A client that has not reported for 15 minutes is gone (its process ended).
    static let staleAfterMs: Int64 = 15 * 60_000
    /// Client ids are label values; 128 bytes is plenty for `host/worker-N`.
    static let clientIDBytesMax = 128

    private struct Entry {
        var report: ReportClientMetricsRequest
        var atUnixMs: UnixMillis
    }

    private let entries = Mutex<[String: Entry]>([:])

    /// Stores `report` as its client's latest.
    /// - Throws: INVALID_ARGUMENT for a bad client id, RESOURCE_EXHAUSTED when `clientsMax`
    ///   clients have reported within `staleAfterMs`.
    func record(_ report: ReportClientMetricsRequest, now: UnixMillis) throws(TokenGateError) {
        let id = report.clientID
        try Validation.identifier(id, field: "client_id", maximum: Self.clientIDBytesMax)
        try entries.withLock { entries throws(TokenGateError) in
            if entries[id] == nil && entries.count >= Self.clientsMax {
                entries = entries.filter { now - $0.value.atUnixMs < Self.staleAfterMs }
                guard entries.count < Self.clientsMax else {
                    throw TokenGateError(.resourceExhausted, "\(Self.clientsMax) clients already report metrics; retry later")
                }
            }
            entries[id] = Entry(report: report, atUnixMs: now)
        }
    }

    /// The reports of clients heard from within `staleAfterMs`, sorted by client id.
    func current(now: UnixMillis) -> [ReportClientMetricsRequest] {
        entries.withLock { entries in
            entries = entries.filter { now - $0.value.atUnixMs < Self.staleAfterMs }
            return entries.values.map(\.report).sorted { $0.clientID < $1.clientID }
        }
    }
}
