// Where the daemon's socket lives by default, and whose it must be (DESIGN §5): never directly
// in /tmp, where any local user could create it first and then either keep the daemon from
// starting or answer the clients itself. One definition for the daemon, the CLI and the Swift
// client (the Python client mirrors it).
import Glibc

public enum SocketPaths {
    /// The socket of a daemon run by root (or by systemd's tokengated.socket).
    public static let systemPath = "/run/tokengate/tokengate.sock"

    /// `$TOKENGATE_SOCKET`; else `systemPath` for root; else
    /// `$XDG_RUNTIME_DIR/tokengate/tokengate.sock`; else (no runtime directory, e.g. a plain
    /// `su` session) `/tmp/tokengate-<uid>/tokengate.sock`, a directory the daemon creates 0750
    /// and refuses to use when another user owns it.
    public static func defaultPath(environment: [String: String], uid: UInt32 = getuid()) -> String {
        if let path = environment["TOKENGATE_SOCKET"], !path.isEmpty { return path }
        if uid == 0 { return systemPath }
        if let runtime = environment["XDG_RUNTIME_DIR"], runtime.hasPrefix("/") {
            return (runtime.hasSuffix("/") ? String(runtime.dropLast()) : runtime) + "/tokengate/tokengate.sock"
        }
        return "/tmp/tokengate-\(uid)/tokengate.sock"
    }

    /// The uid a client expects at `path` when told nothing: root (the daemon, or systemd holding
    /// the socket) at `systemPath`; nil (no check) elsewhere.
    public static func defaultExpectedUID(forPath path: String) -> UInt32? {
        path == systemPath ? 0 : nil
    }
}
