// TCP listening sockets for the daemon's HTTP metrics endpoint (`--metrics-listen`), beside the
// Unix-socket wrappers in Socket.swift whose read, write, accept and close work on these
// descriptors too. Addresses come from `getaddrinfo` with AI_NUMERICHOST, so no `sockaddr_in`
// is built by hand and no name lookup ever happens. Ownership: the caller owns the returned
// descriptor; the `addrinfo` list is freed before `listen` returns.
import Glibc

public enum TCPSocket {
    /// True when `host` is a numeric loopback address (127.0.0.0/8, ::1, or ::ffff:127.x.y.z);
    /// nil when it is not a numeric IPv4 or IPv6 address at all.
    public static func isLoopback(host: String) -> Bool? {
        var v4 = in_addr()
        if inet_pton(AF_INET, host, &v4) == 1 {
            return UInt32(bigEndian: v4.s_addr) >> 24 == 127
        }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, host, &v6) == 1 {
            let bytes = withUnsafeBytes(of: v6) { Array($0) }
            if bytes == [UInt8](repeating: 0, count: 15) + [1] { return true }
            let mappedPrefix = [UInt8](repeating: 0, count: 10) + [0xff, 0xff]
            return Array(bytes.prefix(12)) == mappedPrefix && bytes[12] == 127
        }
        return nil
    }

    /// Creates a TCP socket bound to the numeric address `host` and `port` (0 = any free port),
    /// listening, close-on-exec, with SO_REUSEADDR so a restart does not wait for TIME_WAIT.
    public static func listen(host: String, port: UInt16, backlog: Int32) throws(SocketError) -> Int32 {
        var hints = addrinfo()
        hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, String(port), &hints, &list)
        guard status == 0, let first = list else {
            throw SocketError("resolve \(host) (a numeric IPv4 or IPv6 address): \(String(cString: gai_strerror(status)))", errno: EINVAL)
        }
        defer { freeaddrinfo(list) }
        let info = first.pointee
        let fd = Glibc.socket(info.ai_family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        if fd < 0 { throw SocketError("socket", errno: Glibc.errno) }
        var one: Int32 = 1
        _ = setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        let name = "\(host):\(port)"
        if Glibc.bind(fd, info.ai_addr, info.ai_addrlen) != 0 {
            let error = Glibc.errno
            Glibc.close(fd)
            throw SocketError("bind", errno: error, path: name)
        }
        if Glibc.listen(fd, backlog) != 0 {
            let error = Glibc.errno
            Glibc.close(fd)
            throw SocketError("listen", errno: error, path: name)
        }
        return fd
    }

    /// The port a listening socket is bound to (useful after binding port 0).
    public static func boundPort(_ fd: Int32) throws(SocketError) -> UInt16 {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let status = withUnsafeMutablePointer(to: &storage) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        if status != 0 { throw SocketError("getsockname", errno: Glibc.errno) }
        // sin_port and sin6_port both sit right after the 2-byte family, in network order.
        guard Int32(storage.ss_family) == AF_INET || Int32(storage.ss_family) == AF_INET6 else {
            throw SocketError("getsockname: not an IP socket", errno: EAFNOSUPPORT)
        }
        return withUnsafeBytes(of: storage) { UInt16(bigEndian: $0.load(fromByteOffset: 2, as: UInt16.self)) }
    }
}

extension UnixSocket {
    /// Ends the sending side only (a FIN), so the peer reads the whole answer while what it is
    /// still sending can be read and dropped; closing with unread input would reset instead.
    public static func shutdownWrite(_ fd: Int32) {
        _ = Glibc.shutdown(fd, Int32(SHUT_WR))
    }
}
