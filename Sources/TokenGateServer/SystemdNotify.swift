// systemd's notify protocol, implemented directly: one datagram of `KEY=value` lines to the
// Unix socket named by $NOTIFY_SOCKET (a path, or `@name` for the abstract namespace). With
// Type=notify, systemd counts the daemon started only on READY=1, which tokengated sends after
// recovery; STOPPING=1 says a drain has begun; WATCHDOG=1 proves liveness every half
// WatchdogSec. Without $NOTIFY_SOCKET every call is a no-op.
//
// The datagram itself goes through the wire module's socket wrappers (`UnixSocket.sendDatagram`,
// which opens and closes its own socket per send).
import Glibc
import TokenGateWire

public enum SystemdNotify {
    /// Sends `message` (newline-separated `KEY=value` pairs) to `socketPath`, by default
    /// $NOTIFY_SOCKET. Returns false when there is no socket or the send failed: a missing
    /// service manager must never stop the daemon.
    @discardableResult
    public static func send(_ message: String, socketPath: String? = nil) -> Bool {
        guard let path = socketPath ?? getenv("NOTIFY_SOCKET").map({ String(cString: $0) }), !path.isEmpty else { return false }
        // systemd names either a file path or an abstract socket (`@name`).
        guard path.hasPrefix("/") || path.hasPrefix("@") else { return false }
        return (try? UnixSocket.sendDatagram(Array(message.utf8), to: path)) != nil
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
