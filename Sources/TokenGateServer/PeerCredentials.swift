// The uid, gid and pid of the process at the other end of a connection, read with SO_PEERCRED
// at accept through the CTokenGateSys shim (Swift's Glibc module does not show struct ucred).
import CTokenGateSys
import Glibc

/// Who is connected: read once at accept, used for the admin check and logs.
public struct PeerCredentials: Sendable, Equatable {
    public var pid: Int32
    public var uid: UInt32
    public var gid: UInt32

    /// Reads the credentials of a connected Unix socket; nil when the kernel will not say.
    static func read(fd: Int32) -> PeerCredentials? {
        var pid: pid_t = 0
        var uid: uid_t = 0
        var gid: gid_t = 0
        guard tokengate_peer_credentials(fd, &pid, &uid, &gid) == 0 else { return nil }
        return PeerCredentials(pid: pid, uid: uid, gid: gid)
    }
}
