// The Unix-socket server: one accept thread and one thread per connection. On 2 cores a
// thread-per-connection server with blocking I/O beat an epoll loop for this request size
// (DESIGN.md §9), and it lets a batch of pipelined calls be read with one `read`, answered in
// order and written back with one `write` once the log has made their writes durable.
import Foundation
import Synchronization
import TokenGateClock
import TokenGateCore
import TokenGateStore
import TokenGateWire

/// Where and how the daemon listens.
public struct ServerConfiguration: Sendable {
    public var socketPath: String
    /// File mode of the socket: owner and group may connect.
    public var socketMode: UInt32 = 0o660
    public var limits = ServerLimits()
    /// Peers allowed to call admin methods (default: the daemon's own uid and root).
    public var adminUIDs: Set<UInt32>
    /// When either list is non-empty, only peers whose uid or gid is listed may connect at all.
    public var allowedUIDs: Set<UInt32> = []
    public var allowedGIDs: Set<UInt32> = []

    /// Whether a peer may connect at all under the allow-lists.
    func admits(_ peer: PeerCredentials?) -> Bool {
        if allowedUIDs.isEmpty && allowedGIDs.isEmpty { return true }
        guard let peer else { return false }
        return allowedUIDs.contains(peer.uid) || allowedGIDs.contains(peer.gid)
    }

    public init(socketPath: String, adminUIDs: Set<UInt32>) {
        self.socketPath = socketPath
        self.adminUIDs = adminUIDs
    }
}

public final class Server: Sendable {
    /// Stack of each connection thread: handlers are shallow; 512 KiB is ample and keeps
    /// 4,096 connections within a few GiB of address space (touched pages only are resident).
    private static let threadStackBytes = 512 << 10

    private struct Registry {
        var connections: Set<Int32> = []
        var draining = false
    }

    let configuration: ServerConfiguration
    let methods: MethodTable
    let service: BudgetService
    let ledger: Ledger
    let logger: Logger
    private let registry = Mutex(Registry())
    /// `registry.draining`, readable without the registry's lock: every call checks it.
    private let drainingFlag = Atomic<Bool>(false)
    private let listener = Mutex<Int32>(-1)
    /// Calls being answered right now, across connections (bounded by `callsExecutingMax`).
    let executingCalls = Atomic<Int>(0)
    /// Set when the listening socket was passed in by systemd (socket activation).
    private let inherited = AtomicLazyReference<InheritedListener>()
    /// Called when the log can no longer make writes durable: the daemon must exit non-zero.
    let onFatal: @Sendable (String) -> Never

    public init(
        configuration: ServerConfiguration, service: BudgetService, ledger: Ledger, logger: Logger,
        onFatal: @escaping @Sendable (String) -> Never
    ) {
        self.configuration = configuration
        self.service = service
        self.methods = service.methodTable()
        service.metrics.registerMethods(methods.paths)
        self.ledger = ledger
        self.logger = logger
        self.onFatal = onFatal
    }

    /// Serves on the socket systemd passed (socket activation), or else binds the socket
    /// (replacing a stale one), and starts accepting on a background thread.
    public func start() throws {
        if let problem = configuration.limits.problem() { throw TokenGateError(.invalidArgument, problem) }
        let fd: Int32
        if let passed = try InheritedListener.take() {
            fd = inherited.storeIfNil(passed).fd
        } else {
            try Self.createParentDirectory(of: configuration.socketPath)
            fd = try UnixSocket.listen(
                path: configuration.socketPath, backlog: configuration.limits.listenBacklog, mode: configuration.socketMode)
        }
        listener.withLock { $0 = fd }
        let thread = Thread { [self] in acceptLoop(fd) }
        thread.name = "tokengate-accept"
        thread.start()
    }

    /// Stops accepting, lets every connection finish the calls it has read (later ones are
    /// refused with UNAVAILABLE), and waits up to `timeoutMs` for the connections to close.
    public func drain(timeoutMs: Int64 = 5_000) {
        let fds = registry.withLock { registry in
            registry.draining = true
            return registry.connections
        }
        drainingFlag.store(true, ordering: .releasing)
        let fd = listener.withLock { fd in
            defer { fd = -1 }
            return fd
        }
        if let passed = inherited.load() {
            passed.stop()
        } else if fd >= 0 {
            UnixSocket.shutdown(fd)
            UnixSocket.close(fd)
        }
        for connection in fds { UnixSocket.shutdown(connection) }
        let deadline = MonotonicClock.milliseconds() + timeoutMs
        while registry.withLock({ !$0.connections.isEmpty }) && MonotonicClock.milliseconds() < deadline {
            usleep(5_000)
        }
    }

    var isDraining: Bool { drainingFlag.load(ordering: .acquiring) }

    /// The socket systemd passed, when socket-activated.
    public var inheritedListener: InheritedListener? { inherited.load() }

    // MARK: - Accepting

    private func acceptLoop(_ listenFD: Int32) {
        while true {
            if let passed = inherited.load(), !passed.waitForConnection() { return }
            let fd: Int32
            do {
                fd = try UnixSocket.accept(listenFD)
            } catch {
                if isDraining { return }
                if error.errno == EMFILE || error.errno == ENFILE || error.errno == ENOMEM {
                    logger.warning("accept failed; retrying", ["error": "\(error)"])
                    usleep(10_000)
                    continue
                }
                // EAGAIN: a passed socket may be non-blocking (systemd's NonBlocking=yes).
                if error.errno == ECONNABORTED || error.errno == EAGAIN { continue }
                logger.error("accept failed; listener stopped", ["error": "\(error)"])
                return
            }
            admit(fd)
        }
    }

    private func admit(_ fd: Int32) {
        let peer = PeerCredentials.read(fd: fd)
        let who: KeyValuePairs<String, String> = [
            "peer_pid": "\(peer?.pid ?? 0)", "peer_uid": peer.map { "\($0.uid)" } ?? "unknown",
            "peer_gid": peer.map { "\($0.gid)" } ?? "unknown",
        ]
        guard configuration.admits(peer) else {
            logger.warning("connection refused: peer not in the allow-list", who)
            service.metrics.connectionsRejected.add()
            refuse(fd, TokenGateError(.permissionDenied, "uid \(peer.map { String($0.uid) } ?? "unknown") may not use tokengated (not in the allow-list)"))
            return
        }
        let limit = configuration.limits.connectionsMax
        let admitted = registry.withLock { registry in
            guard !registry.draining, registry.connections.count < limit else { return false }
            registry.connections.insert(fd)
            return true
        }
        guard admitted else {
            service.metrics.connectionsRejected.add()
            refuse(fd, isDraining
                ? TokenGateError(.unavailable, "tokengated is shutting down")
                : TokenGateError(.resourceExhausted, "connection limit reached (\(limit) connections); retry later"))
            return
        }
        logger.log(.debug, "connection accepted", who)
        service.metrics.connectionOpened()
        let thread = Thread { [self] in
            var loop = ConnectionLoop(server: self, fd: fd, peer: peer)
            loop.run()
            service.metrics.connectionClosed()
            registry.withLock { _ = $0.connections.remove(fd) }
            UnixSocket.close(fd)
        }
        thread.stackSize = Self.threadStackBytes
        thread.name = "tokengate-conn"
        thread.start()
    }

    /// Answers a connection we will not serve with one status frame (call id 0), then closes it.
    private func refuse(_ fd: Int32, _ status: TokenGateError) {
        var out: [UInt8] = []
        Framing.appendFrame(Self.errorEnvelope(callID: 0, status).encoded(), to: &out)
        try? UnixSocket.writeAll(fd, out)
        UnixSocket.close(fd)
    }

    /// Creates the socket's directory (mode 0750) when it does not exist yet.
    private static func createParentDirectory(of socketPath: String) throws(TokenGateError) {
        let parent = (socketPath as NSString).deletingLastPathComponent
        guard !parent.isEmpty, !FileManager.default.fileExists(atPath: parent) else { return }
        do {
            try FileManager.default.createDirectory(
                atPath: parent, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o750])
        } catch {
            throw TokenGateError(.failedPrecondition, "cannot create the socket's directory \(parent): \(error.localizedDescription)")
        }
    }

    static func errorEnvelope(callID: UInt64, _ error: TokenGateError) -> ResponseEnvelope {
        ResponseEnvelope(callID: callID, statusCode: error.code.rawValue, statusMessage: error.message, payload: [], endOfStream: true)
    }
}
