// The Swift client library for TokenGate: typed async calls over one Unix-socket connection
// that carries many concurrent calls, with per-call deadlines and reconnection on the next
// call after the daemon went away.
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
public final class TokenGateClient: Sendable {
    /// The socket used when none is given: `$TOKENGATE_SOCKET`, else `/tmp/tokengate.sock`.
    public static var defaultSocketPath: String {
        let path = ProcessInfo.processInfo.environment["TOKENGATE_SOCKET"] ?? ""
        return path.isEmpty ? "/tmp/tokengate.sock" : path
    }

    public let socketPath: String
    /// Deadline of a call that names none, in milliseconds (0 = none).
    public let defaultTimeoutMs: UInt32
    private let connection = Mutex<ClientConnection?>(nil)

    /// - Parameters:
    ///   - socketPath: the daemon's socket; defaults to `defaultSocketPath`.
    ///   - defaultTimeoutMs: deadline for calls that name none (default 5 s; 0 = none).
    public init(socketPath: String? = nil, defaultTimeoutMs: UInt32 = 5_000) {
        self.socketPath = socketPath ?? Self.defaultSocketPath
        self.defaultTimeoutMs = defaultTimeoutMs
    }

    deinit {
        connection.withLock { $0?.fail(TokenGateError(.cancelled, "client closed")) }
    }

    /// Closes the connection; calls in flight fail with CANCELLED. A later call reconnects.
    public func close() {
        let current = connection.withLock { connection in
            defer { connection = nil }
            return connection
        }
        current?.fail(TokenGateError(.cancelled, "client closed"))
    }

    // MARK: - RPCs

    /// Asks whether the shop may make this call; with `reserve`, holds its worst-case cost.
    /// Throws INVALID_ARGUMENT, NOT_FOUND (unknown model), UNAVAILABLE, DEADLINE_EXCEEDED.
    public func canMakeRequest(_ request: CanMakeRequestRequest, timeoutMs: UInt32? = nil) async throws(TokenGateError) -> CanMakeRequestResponse {
        try await call(MethodPath.canMakeRequest, request, timeoutMs: timeoutMs)
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
    /// first result with `duplicate = true`. Acknowledged only once durable.
    public func logUsage(_ request: LogUsageRequest, timeoutMs: UInt32? = nil) async throws(TokenGateError) -> LogUsageResponse {
        try await call(MethodPath.logUsage, request, timeoutMs: timeoutMs)
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

    /// Calls any method by path with typed messages.
    public func call<Request: WireMessage, Response: WireMessage>(
        _ method: String, _ request: Request, timeoutMs: UInt32? = nil
    ) async throws(TokenGateError) -> Response {
        let connection = try currentConnection()
        let outcome = await connection.call(method: method, payload: request.encoded(), timeoutMs: timeoutMs ?? defaultTimeoutMs)
        let response = try outcome.get()
        guard response.statusCode == 0 else {
            throw TokenGateError(StatusCode(rawValue: response.statusCode) ?? .unknown, response.statusMessage)
        }
        return try Response.decode(response.payload)
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

    private func currentConnection() throws(TokenGateError) -> ClientConnection {
        try connection.withLock { connection throws(TokenGateError) in
            if let existing = connection, existing.isUsable { return existing }
            let fresh = try ClientConnection(socketPath: socketPath)
            connection = fresh
            return fresh
        }
    }
}
