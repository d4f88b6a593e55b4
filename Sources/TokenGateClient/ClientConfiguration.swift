// What a TokenGateClient is told at start: where the daemon listens, the default deadline, what
// CanMakeRequest answers when the daemon cannot (fail open or fail closed, and how long to wait
// before deciding), and the bounds and optional directory of the LogUsage spool.
import TokenGateCore
import TokenGateWire

/// What `canMakeRequest` answers when tokengated cannot: the caller's explicit choice.
public struct GatePolicy: Sendable, Equatable {
    /// Allow or deny.
    public enum Mode: Sendable, Equatable {
        /// Allow the call (the product keeps working; spend goes unchecked). Counted in
        /// `ClientMetrics.failOpenCount`.
        case failOpen
        /// Deny the call (no unchecked spend; the product stops answering). Counted in
        /// `ClientMetrics.failClosedCount`.
        case failClosed
    }

    /// A gate check in the hot path of a chat reply should not wait longer than this by default.
    public static let defaultTimeoutMs: UInt32 = 250

    /// Allow or deny when the daemon cannot answer.
    public var mode: Mode
    /// Deadline of a `canMakeRequest` that names none, in milliseconds (at least 1): after it,
    /// the policy answers.
    public var timeoutMs: UInt32

    /// Makes a policy; prefer `.failOpen(timeoutMs:)` and `.failClosed(timeoutMs:)`.
    public init(mode: Mode, timeoutMs: UInt32 = GatePolicy.defaultTimeoutMs) {
        self.mode = mode
        self.timeoutMs = timeoutMs
    }

    /// Allow when tokengated is unreachable, deciding within `timeoutMs`.
    public static func failOpen(timeoutMs: UInt32 = GatePolicy.defaultTimeoutMs) -> GatePolicy {
        GatePolicy(mode: .failOpen, timeoutMs: timeoutMs)
    }

    /// Deny when tokengated is unreachable, deciding within `timeoutMs`.
    public static func failClosed(timeoutMs: UInt32 = GatePolicy.defaultTimeoutMs) -> GatePolicy {
        GatePolicy(mode: .failClosed, timeoutMs: timeoutMs)
    }
}

extension TokenGateClient {
    /// Everything a client can be told at start. Only `socketPath` has no default that suits
    /// every host; the others fit a chat worker.
    ///
    /// ```swift
    /// var configuration = TokenGateClient.Configuration(socketPath: "/run/tokengate/gate.sock")
    /// configuration.whenUnreachable = .failOpen(timeoutMs: 200)
    /// configuration.spoolDirectory = "/var/spool/chat-worker/tokengate"
    /// let gate = try TokenGateClient(configuration: configuration)
    /// ```
    public struct Configuration: Sendable {
        /// The daemon's socket.
        public var socketPath: String
        /// Deadline of calls that name none, in milliseconds (0 = none). Sent to the daemon in
        /// the request envelope and enforced by the client.
        public var defaultTimeoutMs: UInt32 = 5_000
        /// What `canMakeRequest` answers when the daemon is unreachable, does not answer in
        /// time, or is starting up or draining (UNAVAILABLE or DEADLINE_EXCEEDED). `nil` (the
        /// default) throws those errors instead.
        public var whenUnreachable: GatePolicy?
        /// Most events `logUsageOrSpool` keeps while the daemon is unreachable. A full spool
        /// throws RESOURCE_EXHAUSTED; it never drops an event silently.
        public var spoolEventsMax = 10_000
        /// Most encoded bytes of spooled events (events are a few hundred bytes each).
        public var spoolBytesMax = 16 << 20
        /// A directory of its own where spooled events are also written (with fsync) so they
        /// survive a restart of this process; `nil` keeps them in memory only. One client per
        /// directory: a second one is refused.
        public var spoolDirectory: String?
        /// Wait before retrying the spool after the daemon failed to take it, in milliseconds;
        /// doubles after each failure up to `spoolRetryIntervalMaxMs`. A reconnect by any call
        /// retries at once.
        public var spoolRetryIntervalMs: UInt32 = 50
        /// The longest wait between spool retries, in milliseconds.
        public var spoolRetryIntervalMaxMs: UInt32 = 1_000
        /// Called (on a background task) for a spooled event the daemon refused for good on
        /// re-send: only a malformed event (INVALID_ARGUMENT, an unpriced model, an event id
        /// re-used with other content, older than retention); a billed month or an ended
        /// reservation is never a refusal. With `spoolDirectory`, the event is first written to
        /// its dead-letter file (`tokengate dead-letters DIR`); then it leaves the spool.
        public var onSpoolRejection: (@Sendable (LogUsageRequest, TokenGateError) -> Void)?

        /// The uid the process serving the socket must have (SO_PEERCRED, read at connect), so
        /// that a socket another local user created is refused with PERMISSION_DENIED instead of
        /// being talked to; nil checks nothing. Defaults to root (0) for
        /// `/run/tokengate/tokengate.sock` (the daemon run by root, or systemd holding the
        /// socket), nil elsewhere.
        public var expectedDaemonUID: UInt32?

        /// A configuration with defaults for everything but the socket.
        public init(socketPath: String? = nil) {
            self.socketPath = socketPath ?? TokenGateClient.defaultSocketPath
            self.expectedDaemonUID = SocketPaths.defaultExpectedUID(forPath: self.socketPath)
        }

        /// Spooled events re-sent at once (pipelined on one connection) by the drainer.
        static let drainBatchMax = 64

        /// The first setting out of range, as a message naming it.
        func problem() -> String? {
            if let policy = whenUnreachable, policy.timeoutMs == 0 { return "whenUnreachable.timeoutMs must be at least 1" }
            if spoolEventsMax < 1 { return "spoolEventsMax must be at least 1" }
            if spoolBytesMax < 1_024 { return "spoolBytesMax must be at least 1024" }
            if spoolRetryIntervalMs < 1 { return "spoolRetryIntervalMs must be at least 1" }
            if spoolRetryIntervalMaxMs < spoolRetryIntervalMs { return "spoolRetryIntervalMaxMs must be >= spoolRetryIntervalMs" }
            if let directory = spoolDirectory, directory.isEmpty { return "spoolDirectory must not be empty (use nil for memory only)" }
            return nil
        }
    }
}

/// Counters a caller can read at any time from `TokenGateClient.metrics`.
public struct ClientMetrics: Sendable, Equatable {
    /// RPCs this client attempted: the caller's calls and the spool's re-sends.
    public var calls: UInt64 = 0
    /// Attempts that ended without an OK answer: unreachable daemon, lost connection,
    /// deadline, or an error status.
    public var errors: UInt64 = 0
    /// `canMakeRequest` calls answered ALLOW by the failOpen policy (requests let through
    /// unchecked).
    public var failOpenCount: UInt64 = 0
    /// `canMakeRequest` calls answered DENY by the failClosed policy.
    public var failClosedCount: UInt64 = 0
    /// Events waiting in the spool now.
    public var spoolDepth = 0
    /// Events ever put into the spool.
    public var spooledCount: UInt64 = 0
    /// Spooled events the daemon acknowledged on re-send.
    public var resentCount: UInt64 = 0
    /// Of `resentCount`, events the daemon already had (it recorded the first attempt but its
    /// answer was lost); it counted them once.
    public var resentDuplicateCount: UInt64 = 0
    /// Spooled events the daemon refused for good on re-send (see `onSpoolRejection`).
    public var spoolRejectedCount: UInt64 = 0
    /// Connections opened after the first one.
    public var reconnects: UInt64 = 0

    /// All zero.
    public init() {}
}

/// What `logUsageOrSpool` did with an event.
public enum LogUsageOutcome: Sendable, Equatable {
    /// The daemon recorded it (durably) and answered.
    case logged(LogUsageResponse)
    /// The daemon could not be reached in time; the event waits in the spool under `eventID`
    /// (`spoolDepth` events wait now) and will be re-sent until the daemon acknowledges it.
    /// `cause` is the failure that sent it there. Do not log it again under a new id.
    case spooled(eventID: String, spoolDepth: Int, cause: TokenGateError)

    /// The event id the daemon knows (or will know) the event by.
    public var eventID: String {
        switch self {
        case .logged(let response): response.eventID
        case .spooled(let eventID, _, _): eventID
        }
    }
}

extension CanMakeRequestResponse {
    /// True when the client's `GatePolicy` answered because tokengated could not; the daemon
    /// itself never answers with reason UNSPECIFIED.
    public var isPolicyAnswer: Bool { reason == .unspecified }
}
