// The Swift client library for TokenGate: typed async calls over one Unix-socket connection
// that carries many concurrent calls, with per-call deadlines (sent to the daemon and enforced
// here), reconnection after the daemon went away, an explicit fail-open / fail-closed policy for
// the gate, and a spool that keeps LogUsage events until the daemon is back (+Spool.swift).
import Foundation
import Synchronization
@_exported import TokenGateCore
import TokenGateWire

/// A client of tokengated. Thread-safe; share one per process.
///
/// ```swift
/// let gate = TokenGateClient()
/// let verdict = try await gate.canMakeRequest(.init(shopID: "shop_1", estimatedInputTokens: 2_000, maxOutputTokens: 500))
/// if verdict.decision == .allow { /* call the model, then: */ }
/// _ = try await gate.logUsage(.init(shopID: "shop_1", inputTokens: 2_062, outputTokens: 201))
/// ```
///
/// Calls in flight when the connection drops fail with UNAVAILABLE; the next call reconnects.
/// Safe to retry after UNAVAILABLE or DEADLINE_EXCEEDED: `health`, `applyOptimization`,
/// `canMakeRequest` without `reserve`, `generateBilling`, and `logUsage` with an event id (the
/// daemon applies an id once). Not safe: `canMakeRequest` with `reserve` (a retry may hold the
/// cost twice until the first hold expires) and `releaseReservation` (a retry may answer
/// FAILED_PRECONDITION although the first attempt released it).
public final class TokenGateClient: Sendable {
    /// The socket used when none is given: `$TOKENGATE_SOCKET`, else
    /// `/run/tokengate/tokengate.sock` for root, else `$XDG_RUNTIME_DIR/tokengate/tokengate.sock`
    /// (the daemon's default, DESIGN §5; `SocketPaths.defaultPath`).
    public static var defaultSocketPath: String {
        SocketPaths.defaultPath(environment: ProcessInfo.processInfo.environment)
    }

    /// The daemon's socket.
    public let socketPath: String
    /// Deadline of a call that names none, in milliseconds (0 = none).
    public let defaultTimeoutMs: UInt32
    /// What this client was started with.
    public let configuration: Configuration
    /// Continues preferring callers on the connection's reader thread instead of hopping to the
    /// global pool: run a worker's calls under `withTaskExecutorPreference(client.executor)`
    /// (or `group.addTask(executorPreference: client.executor)`) to save a thread wake-up per
    /// call. Code after a call runs on the reader until the task next suspends, delaying other
    /// answers meanwhile, so keep it short (see `ReaderExecutor`).
    public let executor = ReaderExecutor()

    private struct ConnectionSlot {
        var connection: ClientConnection?
        var everConnected = false
    }

    private let slot = Mutex(ConnectionSlot())
    private let counters = Mutex(ClientMetrics())
    /// `calls` and `errors` of the counters, kept apart so that a call takes no lock for them.
    private let callCount = Atomic<UInt64>(0)
    private let errorCount = Atomic<UInt64>(0)
    private let isShutDown = Atomic(false)
    let spool: UsageSpool
    let drainer = Mutex(DrainerState())

    /// A client with defaults for everything else (no gate policy, an in-memory spool).
    ///
    /// - Parameters:
    ///   - socketPath: the daemon's socket; defaults to `defaultSocketPath`.
    ///   - defaultTimeoutMs: deadline for calls that name none (default 5 s; 0 = none).
    public convenience init(socketPath: String? = nil, defaultTimeoutMs: UInt32 = 5_000) {
        var configuration = Configuration(socketPath: socketPath)
        configuration.defaultTimeoutMs = defaultTimeoutMs
        do {
            try self.init(configuration: configuration)
        } catch {
            preconditionFailure("the default configuration with an in-memory spool cannot fail: \(error)")
        }
    }

    /// A client with a full configuration. Events a previous process left in
    /// `configuration.spoolDirectory` are re-sent in the background.
    ///
    /// - Throws: `INVALID_ARGUMENT` naming a setting out of range; `INTERNAL` when the spool
    ///   directory cannot be created, opened or locked (another client uses it); `DATA_LOSS` when
    ///   its file is damaged other than by a torn last record.
    public init(configuration: Configuration) throws(TokenGateError) {
        if let problem = configuration.problem() { throw TokenGateError(.invalidArgument, problem) }
        self.configuration = configuration
        self.socketPath = configuration.socketPath
        self.defaultTimeoutMs = configuration.defaultTimeoutMs
        self.spool = try UsageSpool(
            eventsMax: configuration.spoolEventsMax, bytesMax: configuration.spoolBytesMax,
            directory: configuration.spoolDirectory)
        if spool.claimDrainer() { startDrainer() }
    }

    deinit {
        slot.withLock { $0.connection?.fail(TokenGateError(.cancelled, "client closed")) }
        stopDrainer()
        spool.close()
    }

    /// Closes the connection; calls in flight fail with CANCELLED. A later call reconnects.
    public func close() {
        let current = slot.withLock { slot in
            defer { slot.connection = nil }
            return slot.connection
        }
        current?.fail(TokenGateError(.cancelled, "client closed"))
    }

    /// Ends this client for good, as a worker does before it exits: closes the connection
    /// (calls in flight fail with CANCELLED), stops re-sending the spool and releases the spool
    /// directory. Events still spooled stay in the directory for the next process (memory-only
    /// spooled events are lost: call `flushSpool(timeoutMs:)` first). Later calls throw CANCELLED.
    public func shutdown() {
        isShutDown.store(true, ordering: .releasing)
        close()
        stopDrainer()
        spool.close()
    }

    /// The counters so far: calls, errors, policy answers, spool depth and re-sends.
    public var metrics: ClientMetrics {
        var snapshot = counters.withLock { $0 }
        snapshot.calls = callCount.load(ordering: .relaxed)
        snapshot.errors = errorCount.load(ordering: .relaxed)
        snapshot.spoolDepth = spool.depth
        return snapshot
    }

    // MARK: - RPCs

    /// Asks whether the shop may make this call; with `reserve`, holds its worst-case cost.
    /// Throws INVALID_ARGUMENT, NOT_FOUND (unknown model), UNAVAILABLE, DEADLINE_EXCEEDED.
    ///
    /// With `configuration.whenUnreachable` set, a call that names no deadline waits at most the
    /// policy's `timeoutMs`, and UNAVAILABLE or DEADLINE_EXCEEDED become the policy's answer
    /// (ALLOW or DENY with reason `.unspecified`, `isPolicyAnswer` true, counted in `metrics`)
    /// instead of an error. Other errors are still thrown.
    public func canMakeRequest(_ request: CanMakeRequestRequest, timeoutMs: UInt32? = nil) async throws(TokenGateError) -> CanMakeRequestResponse {
        guard let policy = configuration.whenUnreachable else {
            return try await call(MethodPath.canMakeRequest, request, timeoutMs: timeoutMs)
        }
        do throws(TokenGateError) {
            return try await call(MethodPath.canMakeRequest, request, timeoutMs: timeoutMs ?? policy.timeoutMs)
        } catch where Self.meansUnreachable(error) {
            return policyAnswer(policy, for: request, cause: error)
        }
    }

    /// Cancels a reservation. Throws NOT_FOUND, FAILED_PRECONDITION (already settled or released).
    public func releaseReservation(_ request: ReleaseReservationRequest, timeoutMs: UInt32? = nil) async throws(TokenGateError) -> ReleaseReservationResponse {
        try await call(MethodPath.releaseReservation, request, timeoutMs: timeoutMs)
    }

    /// Suggests a cheaper model, shorter history or fewer output tokens near the budget.
    public func applyOptimization(_ request: ApplyOptimizationRequest, timeoutMs: UInt32? = nil) async throws(TokenGateError) -> ApplyOptimizationResponse {
        try await call(MethodPath.applyOptimization, request, timeoutMs: timeoutMs)
    }

    /// Records what a call used. Idempotent by event id: re-sending the same id returns the
    /// first result with `duplicate = true`. Acknowledged only once durable. Sends once and
    /// throws on failure; `logUsageOrSpool` keeps the event when the daemon is unreachable.
    ///
    /// A request without an event id gets one here (`tgc-` and a random UUID), so that a retry
    /// of this call after a timeout is recognised as the same event and counted once; to retry
    /// across calls, set the id yourself and send the same request again.
    public func logUsage(_ request: LogUsageRequest, timeoutMs: UInt32? = nil) async throws(TokenGateError) -> LogUsageResponse {
        guard request.eventID.isEmpty else { return try await call(MethodPath.logUsage, request, timeoutMs: timeoutMs) }
        var identified = request
        identified.eventID = Self.makeEventID()
        return try await call(MethodPath.logUsage, identified, timeoutMs: timeoutMs)
    }

    /// The month's bill for a shop: stored once per (shop, period), or a preview.
    /// Throws INVALID_ARGUMENT (period), FAILED_PRECONDITION (period not ended, no preview).
    public func generateBilling(_ request: GenerateBillingRequest, timeoutMs: UInt32? = nil) async throws(TokenGateError) -> GenerateBillingResponse {
        try await call(MethodPath.generateBilling, request, timeoutMs: timeoutMs)
    }

    /// SERVING once the daemon has recovered its data; NOT_SERVING before and while draining.
    public func health(timeoutMs: UInt32? = nil) async throws(TokenGateError) -> HealthCheckResponse {
        try await call(MethodPath.health, HealthCheckRequest(), timeoutMs: timeoutMs)
    }

    /// Streams the daemon's serving status: the current one, then every change. The stream
    /// ends with UNAVAILABLE when the daemon shuts down.
    public func watchHealth() -> AsyncThrowingStream<HealthCheckResponse, any Error> {
        serverStream(MethodPath.watchHealth, HealthCheckRequest())
    }

    /// Calls any method by path with typed messages. The deadline (`timeoutMs`, else
    /// `defaultTimeoutMs`; 0 = none) travels in the request envelope and is enforced here: a
    /// call not answered in time throws DEADLINE_EXCEEDED.
    public func call<Request: WireMessage, Response: WireMessage>(
        _ method: String, _ request: Request, timeoutMs: UInt32? = nil
    ) async throws(TokenGateError) -> Response {
        callCount.add(1, ordering: .relaxed)
        do throws(TokenGateError) {
            if isShutDown.load(ordering: .acquiring) { throw TokenGateError(.cancelled, "the client was shut down") }
            let connection = try currentConnection()
            let outcome = await connection.call(method: method, payload: request.encoded(), timeoutMs: timeoutMs ?? defaultTimeoutMs)
            let response = try outcome.get()
            guard response.statusCode == 0 else {
                throw TokenGateError(StatusCode(rawValue: response.statusCode) ?? .unknown, response.statusMessage)
            }
            return try Response.decode(response.payload)
        } catch {
            errorCount.add(1, ordering: .relaxed)
            throw error
        }
    }

    // MARK: - Internal

    /// The daemon could not answer: not running, not answering in time, starting or draining.
    static func meansUnreachable(_ error: TokenGateError) -> Bool {
        error.code == .unavailable || error.code == .deadlineExceeded
    }

    /// Changes the counters under their lock.
    func updateMetrics(_ update: (inout ClientMetrics) -> Void) {
        counters.withLock { update(&$0) }
    }

    /// Calls a server-streaming method by path: yields each response message until the
    /// stream ends; throws the call's error status. `timeoutMs` bounds the whole stream
    /// (default: none, since exports and watches may run long).
    public func serverStream<Request: WireMessage, Response: WireMessage>(
        _ method: String, _ request: Request, as _: Response.Type = Response.self, timeoutMs: UInt32 = 0
    ) -> AsyncThrowingStream<Response, any Error> {
        let connection: ClientConnection
        do {
            connection = try currentConnection()
        } catch {
            return AsyncThrowingStream { $0.finish(throwing: error) }
        }
        let frames = connection.stream(method: method, payload: request.encoded(), timeoutMs: timeoutMs)
        return AsyncThrowingStream { continuation in
            let task = Task {
                do {
                    for try await frame in frames where !frame.payload.isEmpty || !frame.endOfStream {
                        continuation.yield(try Response.decode(frame.payload))
                    }
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }

    // MARK: - Private

    private func policyAnswer(_ policy: GatePolicy, for request: CanMakeRequestRequest, cause: TokenGateError) -> CanMakeRequestResponse {
        let allow = policy.mode == .failOpen
        counters.withLock { allow ? ($0.failOpenCount += 1) : ($0.failClosedCount += 1) }
        return CanMakeRequestResponse(
            decision: allow ? .allow : .deny, reason: .unspecified,
            message: "tokengated could not answer (\(cause)); \(allow ? "allowed by the failOpen" : "denied by the failClosed") policy",
            requestID: request.requestID)
    }

    /// The live connection, or a new one. A new connection after an earlier one (or after the
    /// daemon was unreachable) wakes the spool drainer, so spooled events go out at once.
    private func currentConnection() throws(TokenGateError) -> ClientConnection {
        let (connection, isNew, isReconnect) = try slot.withLock { slot throws(TokenGateError) in
            if let existing = slot.connection, existing.isUsable { return (existing, false, false) }
            let fresh = try ClientConnection(
                socketPath: socketPath, expectedDaemonUID: configuration.expectedDaemonUID, executor: executor)
            defer { slot.everConnected = true }
            slot.connection = fresh
            return (fresh, true, slot.everConnected)
        }
        if isReconnect { counters.withLock { $0.reconnects += 1 } }
        if isNew && spool.depth > 0 { wakeDrainer() }
        return connection
    }
}
