// systemd's notify protocol, implemented directly: one datagram of `KEY=value` lines to the
// Unix socket named by $NOTIFY_SOCKET (a path, or `@name` for the abstract namespace). With
// Type=notify, systemd counts the daemon started only on READY=1, which tokengated sends after
// recovery; STOPPING=1 says a drain has begun; WATCHDOG=1 proves liveness every half
// WatchdogSec. Without $NOTIFY_SOCKET every call is a no-op.
//
// This is one of the syscall-wrapper files: each send opens its own datagram socket, owned and
// closed within the call; the address and message buffers are stack values borrowed by
// `sendto` for the duration of the call.
import Glibc

public enum SystemdNotify {
    /// Sends `message` (newline-separated `KEY=value` pairs) to `socketPath`, by default
    /// $NOTIFY_SOCKET. Returns false when there is no socket or the send failed: a missing
    /// service manager must never stop the daemon.
    @discardableResult
    public static func send(_ message: String, socketPath: String? = nil) -> Bool {
        guard let path = socketPath ?? getenv("NOTIFY_SOCKET").map({ String(cString: $0) }), !path.isEmpty else { return false }
        var pathBytes = Array(path.utf8)
        if pathBytes.first == UInt8(ascii: "@") { pathBytes[0] = 0 }
        guard pathBytes.count <= 107, pathBytes.first == 0 || pathBytes.first == UInt8(ascii: "/") else { return false }
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in raw.copyBytes(from: pathBytes) }
        // An abstract address is exactly as long as its name; a path one includes its NUL.
        let length = socklen_t(MemoryLayout<sa_family_t>.size + pathBytes.count + (pathBytes.first == 0 ? 0 : 1))
        let bytes = Array(message.utf8)
        let sent = bytes.withUnsafeBytes { body in
            withUnsafePointer(to: &address) { pointer in
                pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { address in
                    sendto(fd, body.baseAddress, body.count, Int32(MSG_NOSIGNAL), address, length)
                }
            }
        }
        return sent == bytes.count
    }

    /// Tells systemd that the daemon is ready (recovery has finished), with a status line.
    @discardableResult
    public static func ready(status: String) -> Bool {
        send("READY=1\nSTATUS=\(status)\nMAINPID=\(getpid())")
    }

    /// Tells systemd that the daemon has begun draining.
    @discardableResult
    public static func stopping() -> Bool {
        send("STOPPING=1\nSTATUS=draining")
    }

    /// Pets the watchdog.
    @discardableResult
    public static func watchdog() -> Bool {
        send("WATCHDOG=1")
    }

    /// Half of WatchdogSec (from $WATCHDOG_USEC) in microseconds, the interval at which to pet
    /// the watchdog; nil when no watchdog is set for this process ($WATCHDOG_PID names
    /// another process, or the value is missing or zero).
    public static func watchdogIntervalMicroseconds(environment: [String: String]? = nil) -> UInt64? {
        func value(_ name: String) -> String? {
            environment.map { $0[name] } ?? getenv(name).map { String(cString: $0) }
        }
        if let pid = value("WATCHDOG_PID"), Int32(pid) != getpid() { return nil }
        guard let text = value("WATCHDOG_USEC"), let microseconds = UInt64(text), microseconds > 0 else { return nil }
        return max(1, microseconds / 2)
    }
}
