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

    /// Whether a peer may connect at all under the allow-lists. `groups` reads the peer's
    /// supplementary groups (SO_PEERGROUPS), asked only when its uid and primary gid are not
    /// listed: `--allow-gids` admits members of a group, not only those whose primary group it is.
    func admits(_ peer: PeerCredentials?, groups: () -> [UInt32]?) -> Bool {
        if allowedUIDs.isEmpty && allowedGIDs.isEmpty { return true }
        guard let peer else { return false }
        if allowedUIDs.contains(peer.uid) || allowedGIDs.contains(peer.gid) { return true }
        guard !allowedGIDs.isEmpty, let groups = groups() else { return false }
        return groups.contains { allowedGIDs.contains($0) }
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
    /// Called when the log can no longer make writes durable, or the accept loop stopped: the
    /// daemon must exit non-zero (the daemon's handler is `FatalExit.exit`, safe from any thread).
    let onFatal: @Sendable (String) -> Never
    /// True while the accept loop runs (the watchdog's first condition).
    private let accepting = Atomic<Bool>(false)

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
        accepting.store(true, ordering: .releasing)
        let thread = Thread { [self] in acceptLoop(fd) }
        thread.name = "tokengate-accept"
        thread.start()
    }

    /// Drains (DESIGN §5): stops accepting, stops reading (`SHUT_RD`: what a connection has
    /// queued is still read, later writes of its peer fail), answers every call read (calls
    /// dispatched from now on get UNAVAILABLE), waits for each connection's replies held by the
    /// log to be durable and sent, and lets the connections close. Connections still open after
    /// `timeoutMs` (default: `limits.drainTimeoutMs`) are shut down both ways. Returns the
    /// number of connections that had to be cut.
    @discardableResult
    public func drain(timeoutMs: Int64? = nil) -> Int {
        beginDraining()
        let fds = registry.withLock { $0.connections }
        for connection in fds { UnixSocket.shutdownRead(connection) }
        let deadline = MonotonicClock.milliseconds() + (timeoutMs ?? configuration.limits.drainTimeoutMs)
        waitForConnections(until: deadline)
        let left = registry.withLock { $0.connections }
        guard !left.isEmpty else { return 0 }
        logger.warning("drain timed out; cutting connections", ["connections": "\(left.count)"])
        for connection in left { UnixSocket.shutdown(connection) }
        waitForConnections(until: MonotonicClock.milliseconds() + 1_000)
        return left.count
    }

    /// The first step of a drain, idempotent: calls dispatched from now on get UNAVAILABLE, and
    /// the listener is closed (nothing more is accepted).
    public func beginDraining() {
        registry.withLock { $0.draining = true }
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
    }

    private func waitForConnections(until deadline: Int64) {
        while registry.withLock({ !$0.connections.isEmpty }) && MonotonicClock.milliseconds() < deadline {
            usleep(2_000)
        }
    }

    var isDraining: Bool { drainingFlag.load(ordering: .acquiring) }

    /// The listening socket (for tests that break it), -1 once drained.
    var listenerDescriptor: Int32 { listener.withLock { $0 } }

    /// The socket systemd passed, when socket-activated.
    public var inheritedListener: InheritedListener? { inherited.load() }

    // MARK: - Accepting

    /// Whether the daemon is live for the systemd watchdog (DESIGN §5): the accept loop runs and
    /// the log's flusher is not stuck in one write and sync for longer than `stallMs`.
    public func isLive(stallMs: Int64) -> Bool {
        accepting.load(ordering: .acquiring) && ledger.logIsMakingProgress(stallMs: stallMs)
    }

    /// Accepts until the drain. Resource shortages are waited out; any other error stops the
    /// loop, and a daemon that can no longer accept is not serving: that is fatal (logged by
    /// `onFatal`, exit non-zero), never a silent return with health still SERVING.
    private func acceptLoop(_ listenFD: Int32) {
        while true {
            if let passed = inherited.load(), !passed.waitForConnection() {
                if isDraining { return }
                acceptLoopFailed("the socket-activation wait failed")
            }
            let fd: Int32
            do {
                fd = try UnixSocket.accept(listenFD)
            } catch {
                if isDraining { return }
                switch error.errno {
                case EMFILE, ENFILE, ENOMEM, ENOBUFS:
                    logger.warning("accept failed; retrying", ["error": "\(error)"])
                    usleep(10_000)
                // EAGAIN: a passed socket may be non-blocking (systemd's NonBlocking=yes).
                // ECONNABORTED, EPROTO, EPERM: that one connection failed, not the listener.
                case ECONNABORTED, EAGAIN, EINTR, EPROTO, EPERM:
                    break
                default:
                    acceptLoopFailed("accept failed: \(error)")
                }
                continue
            }
            admit(fd)
        }
    }

    private func acceptLoopFailed(_ reason: String) -> Never {
        accepting.store(false, ordering: .releasing)
        onFatal("the accept loop stopped (\(reason)); no connection can be served, exiting")
    }

    private func admit(_ fd: Int32) {
        let peer = PeerCredentials.read(fd: fd)
        let who: KeyValuePairs<String, String> = [
            "peer_pid": "\(peer?.pid ?? 0)", "peer_uid": peer.map { "\($0.uid)" } ?? "unknown",
            "peer_gid": peer.map { "\($0.gid)" } ?? "unknown",
        ]
        guard configuration.admits(peer, groups: { UnixSocket.peerGroups(fd) }) else {
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

    /// Creates the socket's directory (mode 0750, owned by the daemon) when it does not exist
    /// yet; refuses one that another user could have prepared (DESIGN §5): owned by a user other
    /// than the daemon's or root, or writable by others without the sticky bit.
    static func createParentDirectory(of socketPath: String) throws(TokenGateError) {
        let parent = (socketPath as NSString).deletingLastPathComponent
        guard !parent.isEmpty else { return }
        if !FileManager.default.fileExists(atPath: parent) {
            do {
                let grandparent = (parent as NSString).deletingLastPathComponent
                if !grandparent.isEmpty && !FileManager.default.fileExists(atPath: grandparent) {
                    try FileManager.default.createDirectory(atPath: grandparent, withIntermediateDirectories: true)
                }
            } catch {
                throw TokenGateError(.failedPrecondition, "cannot create \((parent as NSString).deletingLastPathComponent): \(error.localizedDescription)")
            }
            // mkdir applies the umask; the mode is then set on the directory just made, before
            // any socket is in it.
            if mkdir(parent, 0o750) != 0 && errno != EEXIST {
                throw TokenGateError(.failedPrecondition, "cannot create the socket's directory \(parent): \(String(cString: strerror(errno)))")
            }
            _ = chmod(parent, 0o750)
        }
        var info = stat()
        guard stat(parent, &info) == 0 else {
            throw TokenGateError(.failedPrecondition, "cannot inspect the socket's directory \(parent): \(String(cString: strerror(errno)))")
        }
        if info.st_uid != getuid() && info.st_uid != 0 {
            throw TokenGateError(
                .failedPrecondition,
                "the socket's directory \(parent) belongs to uid \(info.st_uid), not to this daemon (uid \(getuid())) or root: "
                    + "another user could replace the socket; remove it or choose another --socket")
        }
        if info.st_mode & 0o022 != 0 && info.st_mode & UInt32(S_ISVTX) == 0 {
            throw TokenGateError(
                .failedPrecondition,
                "the socket's directory \(parent) is writable by others (mode \(String(info.st_mode & 0o7777, radix: 8))): "
                    + "another user could replace the socket; make it 0750 or choose another --socket")
        }
    }

    static func errorEnvelope(callID: UInt64, _ error: TokenGateError) -> ResponseEnvelope {
        ResponseEnvelope(callID: callID, statusCode: error.code.rawValue, statusMessage: error.message, payload: [], endOfStream: true)
    }
}
