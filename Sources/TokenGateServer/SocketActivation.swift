// Socket activation (systemd's sd_listen_fds protocol): when LISTEN_PID names this process and
// LISTEN_FDS is 1, the listening socket is already open at fd 3 and the daemon serves on it
// instead of binding its own. systemd keeps that socket open across restarts of the daemon, so
// clients that connect while it restarts wait in the socket's backlog instead of being refused.
//
// This is one of the syscall-wrapper files: the fd 3 socket is owned by this process (and
// systemd's copy by systemd) and is never shut down here, since shutting down a shared
// listening socket would refuse connections meant for the next daemon; the wake pipe's two
// descriptors are owned by the `InheritedListener` for the life of the process. Buffers passed
// to the kernel are stack values borrowed for the duration of each call.
import Glibc
import TokenGateCore
import TokenGateWire

/// A listening socket handed over by the service manager.
public final class InheritedListener: Sendable {
    /// The first passed descriptor (`SD_LISTEN_FDS_START`).
    public static let firstFD: Int32 = 3

    /// The listening descriptor (always `firstFD`).
    public let fd: Int32
    /// The filesystem path the socket is bound to ("" when unknown).
    public let path: String
    private let wakeRead: Int32
    private let wakeWrite: Int32

    private init(fd: Int32, path: String, wakeRead: Int32, wakeWrite: Int32) {
        self.fd = fd
        self.path = path
        self.wakeRead = wakeRead
        self.wakeWrite = wakeWrite
    }

    /// Takes the passed socket when `LISTEN_PID` is this process's pid; returns nil when the
    /// variables are absent or meant for another process. Clears the variables so children
    /// do not see them, and marks fd 3 close-on-exec.
    /// - Throws: INVALID_ARGUMENT when more than one socket was passed or fd 3 is not a
    ///   listening Unix stream socket (the message says what to fix in the unit).
    public static func take(environment: [String: String]? = nil) throws(TokenGateError) -> InheritedListener? {
        let listenPID = environment.map { $0["LISTEN_PID"] } ?? Self.getenvString("LISTEN_PID")
        let listenFDs = environment.map { $0["LISTEN_FDS"] } ?? Self.getenvString("LISTEN_FDS")
        guard let listenPID, Int32(listenPID) == getpid() else { return nil }
        for name in ["LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"] { unsetenv(name) }
        guard let count = listenFDs.flatMap({ Int($0) }), count > 0 else { return nil }
        guard count == 1 else {
            throw .invalidArgument("tokengated takes exactly one listening socket, but LISTEN_FDS=\(count); give the .socket unit one ListenStream=")
        }
        try checkListeningUnixStream(firstFD)
        _ = fcntl(firstFD, F_SETFD, FD_CLOEXEC)
        var pipeFDs: [Int32] = [-1, -1]
        guard pipe(&pipeFDs) == 0 else {
            throw TokenGateError(.internal, "pipe for the accept loop's wake-up failed: \(String(cString: strerror(errno)))")
        }
        for descriptor in pipeFDs { _ = fcntl(descriptor, F_SETFD, FD_CLOEXEC) }
        return InheritedListener(fd: firstFD, path: UnixSocket.boundPath(firstFD) ?? "", wakeRead: pipeFDs[0], wakeWrite: pipeFDs[1])
    }

    /// Blocks until a connection waits to be accepted (true) or `stop` was called (false).
    public func waitForConnection() -> Bool {
        var entries = [pollfd(fd: fd, events: Int16(POLLIN), revents: 0), pollfd(fd: wakeRead, events: Int16(POLLIN), revents: 0)]
        while true {
            let ready = poll(&entries, 2, -1)
            if ready < 0 && errno == EINTR { continue }
            if ready < 0 || entries[1].revents != 0 { return false }
            if entries[0].revents != 0 { return true }
        }
    }

    /// Wakes `waitForConnection` for good. The listening socket stays open and untouched:
    /// connections arriving from now on queue for the next daemon.
    public func stop() {
        var byte: UInt8 = 1
        _ = write(wakeWrite, &byte, 1)
    }

    // MARK: - Private

    private static func getenvString(_ name: String) -> String? {
        getenv(name).map { String(cString: $0) }
    }

    private static func intOption(_ fd: Int32, _ option: Int32) -> Int32? {
        var value: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        return getsockopt(fd, SOL_SOCKET, option, &value, &length) == 0 ? value : nil
    }

    private static func checkListeningUnixStream(_ fd: Int32) throws(TokenGateError) {
        let hint = "fd \(fd) must be a listening Unix stream socket (ListenStream=/path in the .socket unit)"
        guard let domain = intOption(fd, SO_DOMAIN) else {
            throw .invalidArgument("LISTEN_FDS=1 but \(hint): \(String(cString: strerror(errno)))")
        }
        guard domain == AF_UNIX, intOption(fd, SO_TYPE) == Int32(SOCK_STREAM.rawValue), intOption(fd, SO_ACCEPTCONN) == 1 else {
            throw .invalidArgument("LISTEN_FDS=1 but \(hint)")
        }
    }
}
