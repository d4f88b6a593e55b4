// The Unix-socket server: one accept thread and one thread per connection. On 2 cores a
// thread-per-connection server with blocking I/O beat an epoll loop for this request size
// (DESIGN.md §9), and it lets a batch of pipelined calls be read with one `read`, answered in
// order and written back with one `write` after a single wait for the log.
import Foundation
import Synchronization
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
    /// Called when the log can no longer make writes durable: the daemon must exit non-zero.
    let onFatal: @Sendable (String) -> Never

    public init(
        configuration: ServerConfiguration, service: BudgetService, ledger: Ledger, logger: Logger,
        onFatal: @escaping @Sendable (String) -> Never
    ) {
        self.configuration = configuration
        self.service = service
        self.methods = service.methodTable()
        self.ledger = ledger
        self.logger = logger
        self.onFatal = onFatal
    }

    /// Binds the socket (replacing a stale one) and starts accepting on a background thread.
    public func start() throws {
        if let problem = configuration.limits.problem() { throw TokenGateError(.invalidArgument, problem) }
        let fd = try UnixSocket.listen(
            path: configuration.socketPath, backlog: configuration.limits.listenBacklog, mode: configuration.socketMode)
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
        if fd >= 0 {
            UnixSocket.shutdown(fd)
            UnixSocket.close(fd)
        }
        for connection in fds { UnixSocket.shutdown(connection) }
        let deadline = monotonicMs() + timeoutMs
        while registry.withLock({ !$0.connections.isEmpty }) && monotonicMs() < deadline {
            usleep(5_000)
        }
    }

    var isDraining: Bool { drainingFlag.load(ordering: .acquiring) }

    // MARK: - Accepting

    private func acceptLoop(_ listenFD: Int32) {
        while true {
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
                if error.errno == ECONNABORTED { continue }
                logger.error("accept failed; listener stopped", ["error": "\(error)"])
                return
            }
            admit(fd)
        }
    }

    private func admit(_ fd: Int32) {
        let limit = configuration.limits.connectionsMax
        let admitted = registry.withLock { registry in
            guard !registry.draining, registry.connections.count < limit else { return false }
            registry.connections.insert(fd)
            return true
        }
        guard admitted else {
            let status = isDraining
                ? TokenGateError(.unavailable, "tokengated is shutting down")
                : TokenGateError(.resourceExhausted, "connection limit reached (\(limit) connections); retry later")
            var out: [UInt8] = []
            Framing.appendFrame(Self.errorEnvelope(callID: 0, status).encoded(), to: &out)
            try? UnixSocket.writeAll(fd, out)
            UnixSocket.close(fd)
            return
        }
        let peer = PeerCredentials.read(fd: fd)
        let thread = Thread { [self] in
            ConnectionLoop(server: self, fd: fd, peer: peer).run()
            registry.withLock { _ = $0.connections.remove(fd) }
            UnixSocket.close(fd)
        }
        thread.stackSize = Self.threadStackBytes
        thread.name = "tokengate-conn"
        thread.start()
    }

    static func errorEnvelope(callID: UInt64, _ error: TokenGateError) -> ResponseEnvelope {
        ResponseEnvelope(callID: callID, statusCode: error.code.rawValue, statusMessage: error.message, payload: [], endOfStream: true)
    }
}
