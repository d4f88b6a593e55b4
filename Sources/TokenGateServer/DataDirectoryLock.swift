// An exclusive lock on the data directory (flock on `<dir>/LOCK`), so a second daemon on the
// same data can never interleave its log with the first one's.
import Glibc
import TokenGateCore

final class DataDirectoryLock: Sendable {
    private let fd: Int32

    init(directory: String) throws(TokenGateError) {
        if mkdir(directory, 0o750) != 0 && errno != EEXIST {
            throw TokenGateError(.failedPrecondition, "cannot create data dir \(directory): \(String(cString: strerror(errno)))")
        }
        let path = directory + "/LOCK"
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o640)
        guard fd >= 0 else {
            throw TokenGateError(.failedPrecondition, "cannot open \(path): \(String(cString: strerror(errno)))")
        }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            close(fd)
            throw TokenGateError(.failedPrecondition, "data dir \(directory) is locked by another running tokengated")
        }
        self.fd = fd
    }

    func release() {
        _ = flock(fd, LOCK_UN)
        close(fd)
    }
}
