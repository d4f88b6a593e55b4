// Unix-domain stream socket wrappers: the one small file of socket syscalls shared by the
// daemon and the client library. Ownership: callers own every file descriptor these functions
// return and close it with `UnixSocket.close`; buffers passed in are borrowed only for the
// duration of the call and never retained. EINTR is retried here, and only here.
import Glibc

/// An OS error from a socket call: the operation, the errno and a readable description.
public struct SocketError: Error, Sendable, CustomStringConvertible {
    public var operation: String
    public var errno: Int32
    public var path: String

    public init(_ operation: String, errno: Int32, path: String = "") {
        self.operation = operation
        self.errno = errno
        self.path = path
    }

    public var description: String {
        let reason = String(cString: strerror(errno))
        return path.isEmpty ? "\(operation): \(reason)" : "\(operation) \(path): \(reason)"
    }
}

public enum UnixSocket {
    /// The longest path `sockaddr_un` holds, without its terminating NUL.
    public static let pathBytesMax = 107

    /// Creates, binds and listens on `path` with the given file mode. A stale socket file left
    /// by a dead process is replaced; a live one (something accepts on it) is an `EADDRINUSE` error.
    public static func listen(path: String, backlog: Int32, mode: mode_t) throws(SocketError) -> Int32 {
        if let probe = try? connect(path: path) {
            close(probe)
            throw SocketError("listen", errno: EADDRINUSE, path: path)
        }
        if Glibc.unlink(path) != 0 && Glibc.errno != ENOENT {
            throw SocketError("unlink stale socket", errno: Glibc.errno, path: path)
        }
        let fd = try makeSocket()
        do throws(SocketError) {
            // The socket file gets its mode at bind, under a umask: a chmod after bind leaves a
            // moment in which the file has the default mode. (umask is process-wide; the daemon
            // binds at startup, before it starts any other thread that creates files.)
            let previousMask = umask(~mode & 0o777)
            defer { umask(previousMask) }
            try withAddress(path) { address, length throws(SocketError) in
                if Glibc.bind(fd, address, length) != 0 { throw SocketError("bind", errno: Glibc.errno, path: path) }
            }
            if Glibc.listen(fd, backlog) != 0 { throw SocketError("listen", errno: Glibc.errno, path: path) }
        } catch {
            close(fd)
            throw error
        }
        return fd
    }

    /// Connects to the socket at `path`.
    public static func connect(path: String) throws(SocketError) -> Int32 {
        let fd = try makeSocket()
        do throws(SocketError) {
            try withAddress(path) { address, length throws(SocketError) in
                while Glibc.connect(fd, address, length) != 0 {
                    if Glibc.errno == EINTR { continue }
                    throw SocketError("connect", errno: Glibc.errno, path: path)
                }
            }
        } catch {
            close(fd)
            throw error
        }
        return fd
    }

    /// Accepts one connection; the new descriptor is close-on-exec.
    public static func accept(_ fd: Int32) throws(SocketError) -> Int32 {
        while true {
            let client = Glibc.accept(fd, nil, nil)
            if client >= 0 {
                _ = fcntl(client, F_SETFD, FD_CLOEXEC)
                return client
            }
            if Glibc.errno == EINTR { continue }
            throw SocketError("accept", errno: Glibc.errno)
        }
    }

    /// Reads what has arrived, up to `buffer.count` bytes, into the start of `buffer`.
    /// Returns 0 at end of stream.
    public static func read(_ fd: Int32, into buffer: inout [UInt8]) throws(SocketError) -> Int {
        while true {
            let count = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if count >= 0 { return count }
            if Glibc.errno == EINTR { continue }
            throw SocketError("read", errno: Glibc.errno)
        }
    }

    /// Writes every byte (looping over short writes). Never raises SIGPIPE: a closed peer is `EPIPE`.
    public static func writeAll(_ fd: Int32, _ bytes: [UInt8]) throws(SocketError) {
        _ = try send(fd, bytes, waiting: true)
    }

    /// Sends as much of `bytes` as the socket takes now, without waiting for room (0 when it
    /// has none). Never raises SIGPIPE: a closed peer is `EPIPE`.
    public static func sendAvailable(_ fd: Int32, _ bytes: [UInt8]) throws(SocketError) -> Int {
        try send(fd, bytes, waiting: false)
    }

    /// Sends `bytes`, looping over short sends; without `waiting`, stops when the socket is full.
    /// Returns the bytes sent.
    private static func send(_ fd: Int32, _ bytes: [UInt8], waiting: Bool) throws(SocketError) -> Int {
        let flags = Int32(waiting ? MSG_NOSIGNAL : MSG_NOSIGNAL | MSG_DONTWAIT)
        var offset = 0
        let failure: Int32 = bytes.withUnsafeBytes { raw in
            while offset < raw.count {
                let sent = Glibc.send(fd, raw.baseAddress! + offset, raw.count - offset, flags)
                if sent >= 0 {
                    offset += sent
                } else if !waiting && (Glibc.errno == EAGAIN || Glibc.errno == EWOULDBLOCK) {
                    return 0
                } else if Glibc.errno != EINTR {
                    return Glibc.errno
                }
            }
            return 0
        }
        if failure != 0 { throw SocketError("write", errno: failure) }
        return offset
    }

    /// Waits until `fd` is readable (or closed), at most `timeoutMs` (-1 = forever).
    /// Returns false on timeout.
    public static func waitReadable(_ fd: Int32, timeoutMs: Int32) throws(SocketError) -> Bool {
        var entry = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        while true {
            let ready = Glibc.poll(&entry, 1, timeoutMs)
            if ready >= 0 { return ready > 0 }
            if Glibc.errno == EINTR { continue }
            throw SocketError("poll", errno: Glibc.errno)
        }
    }

    /// Stops further reads and writes; wakes a thread blocked in `read` on `fd`.
    public static func shutdown(_ fd: Int32) {
        _ = Glibc.shutdown(fd, Int32(SHUT_RDWR))
    }

    /// The uid of the process at the other end of a connected Unix socket (SO_PEERCRED: for a
    /// client, the process that created the listening socket); nil when the kernel will not say.
    public static func peerUID(_ fd: Int32) -> UInt32? {
        // struct ucred { pid_t pid; uid_t uid; gid_t gid; }, three 32-bit fields.
        var credentials: (pid: Int32, uid: UInt32, gid: UInt32) = (0, 0, 0)
        var length = socklen_t(MemoryLayout<(Int32, UInt32, UInt32)>.size)
        guard getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &credentials, &length) == 0, length == 12 else { return nil }
        return credentials.uid
    }

    /// The supplementary groups of the peer (SO_PEERGROUPS, Linux 4.13 and later); nil when
    /// the kernel will not say.
    public static func peerGroups(_ fd: Int32) -> [UInt32]? {
        var groups = [UInt32](repeating: 0, count: 64)
        while true {
            var length = socklen_t(groups.count * MemoryLayout<UInt32>.size)
            let result = groups.withUnsafeMutableBytes { getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, $0.baseAddress, &length) }
            if result == 0 { return Array(groups.prefix(Int(length) / MemoryLayout<UInt32>.size)) }
            let needed = Int(length) / MemoryLayout<UInt32>.size
            // ERANGE: the kernel says how much room it needs (NGROUPS_MAX is 65,536).
            guard Glibc.errno == ERANGE, needed > groups.count, needed <= 65_536 else { return nil }
            groups = [UInt32](repeating: 0, count: needed)
        }
    }

    /// Stops reading: `read` returns what is already queued, then end of file; the peer's later
    /// writes fail with EPIPE instead of being queued unread. Replies can still be written.
    public static func shutdownRead(_ fd: Int32) {
        _ = Glibc.shutdown(fd, Int32(SHUT_RD))
    }

    public static func close(_ fd: Int32) {
        _ = Glibc.close(fd)
    }

    // MARK: - Private

    private static func makeSocket() throws(SocketError) -> Int32 {
        let fd = Glibc.socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        if fd < 0 { throw SocketError("socket", errno: Glibc.errno) }
        return fd
    }

    /// Calls `body` with a filled `sockaddr_un` for `path`; the pointer is valid only inside `body`.
    /// The project's one `sockaddr_un` builder. With `abstractNames`, a path starting with `@`
    /// names the abstract namespace (as systemd writes $NOTIFY_SOCKET): the `@` becomes a NUL and
    /// the address is exactly as long as the name; a file path's address includes its NUL.
    private static func withAddress(
        _ path: String, abstractNames: Bool = false, _ body: (UnsafePointer<sockaddr>, socklen_t) throws(SocketError) -> Void
    ) throws(SocketError) {
        var bytes = Array(path.utf8)
        guard !bytes.isEmpty, bytes.count <= pathBytesMax, !bytes.contains(0) else {
            throw SocketError("socket path must be 1...\(pathBytesMax) bytes without NUL", errno: ENAMETOOLONG, path: path)
        }
        let abstract = abstractNames && bytes[0] == UInt8(ascii: "@")
        if abstract { bytes[0] = 0 }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        let length = socklen_t(MemoryLayout<sa_family_t>.size + bytes.count + (abstract ? 0 : 1))
        try withUnsafePointer(to: &address) { pointer throws(SocketError) in
            try pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { (address) throws(SocketError) in
                try body(address, length)
            }
        }
    }
}

extension UnixSocket {
    /// Sends `bytes` as one datagram to the Unix datagram socket at `path` (`@name` for the
    /// abstract namespace) from a socket opened and closed within the call. Never raises SIGPIPE.
    public static func sendDatagram(_ bytes: [UInt8], to path: String) throws(SocketError) {
        let fd = Glibc.socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        if fd < 0 { throw SocketError("socket", errno: Glibc.errno) }
        defer { close(fd) }
        try withAddress(path, abstractNames: true) { address, length throws(SocketError) in
            let sent = bytes.withUnsafeBytes { body in
                Glibc.sendto(fd, body.baseAddress, body.count, Int32(MSG_NOSIGNAL), address, length)
            }
            if sent < 0 { throw SocketError("sendto", errno: Glibc.errno, path: path) }
            if sent != bytes.count { throw SocketError("sendto (short datagram)", errno: EMSGSIZE, path: path) }
        }
    }

    /// Creates a Unix datagram socket bound to `path`, to receive what `sendDatagram` sends.
    public static func bindDatagram(path: String) throws(SocketError) -> Int32 {
        let fd = Glibc.socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        if fd < 0 { throw SocketError("socket", errno: Glibc.errno) }
        do throws(SocketError) {
            try withAddress(path) { address, length throws(SocketError) in
                if Glibc.bind(fd, address, length) != 0 { throw SocketError("bind", errno: Glibc.errno, path: path) }
            }
        } catch {
            close(fd)
            throw error
        }
        return fd
    }

    /// The file path a Unix socket is bound to (`getsockname`), or nil when `fd` is not a Unix
    /// socket or is bound to no path.
    public static func boundPath(_ fd: Int32) -> String? {
        var address = sockaddr_un()
        var length = socklen_t(MemoryLayout<sockaddr_un>.size)
        let named = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.getsockname(fd, $0, &length) == 0 }
        }
        guard named, address.sun_family == sa_family_t(AF_UNIX) else { return nil }
        let path = withUnsafeBytes(of: &address.sun_path) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
        return path.isEmpty ? nil : path
    }
}

extension UnixSocket {
    /// Sets how long a `read` may block before it fails with `EAGAIN` (0 = forever).
    public static func setReceiveTimeout(_ fd: Int32, milliseconds: Int32) throws(SocketError) {
        var value = timeval(tv_sec: Int(milliseconds / 1_000), tv_usec: Int(milliseconds % 1_000) * 1_000)
        if setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &value, socklen_t(MemoryLayout<timeval>.size)) != 0 {
            throw SocketError("setsockopt SO_RCVTIMEO", errno: Glibc.errno)
        }
    }

    /// Sets how long a `write` may block on a full socket buffer before it fails (0 = forever),
    /// so a peer that stops reading cannot stall the thread writing to it.
    public static func setSendTimeout(_ fd: Int32, milliseconds: Int32) throws(SocketError) {
        var value = timeval(tv_sec: Int(milliseconds / 1_000), tv_usec: Int(milliseconds % 1_000) * 1_000)
        if setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &value, socklen_t(MemoryLayout<timeval>.size)) != 0 {
            throw SocketError("setsockopt SO_SNDTIMEO", errno: Glibc.errno)
        }
    }

    /// True for the errno a timed-out `read` fails with.
    public static func isTimeout(_ error: SocketError) -> Bool {
        error.errno == EAGAIN || error.errno == EWOULDBLOCK
    }
}
