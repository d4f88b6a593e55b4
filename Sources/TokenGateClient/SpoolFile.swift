// The on-disk spool's file syscalls: the client library's one small file of file-system calls
// and unsafe buffers. It opens (and locks) the spool directory, appends with fsync, truncates,
// and replaces the file atomically; the record format lives in `SpoolRecords`.
//
// Buffer ownership: every syscall borrows Swift array storage through `withUnsafe…` for the
// duration of that one call; no pointer outlives it. The caller owns a `SpoolFile` and closes
// it with `close()`; the lock is released when its descriptor closes. EINTR is retried here.
import Glibc

/// An OS error from a spool file operation: what was attempted, on which path, and the errno.
struct SpoolFileError: Error, Sendable, CustomStringConvertible {
    var operation: String
    var path: String
    var errno: Int32

    var description: String {
        let reason = strerror(errno).map { String(cString: $0) } ?? "unknown error"
        return "\(operation) \(path): \(reason) (errno \(errno))"
    }
}

/// One spool file in a directory this process holds an exclusive lock on.
final class SpoolFile {
    static let fileName = "usage.spool"
    static let lockName = "lock"
    /// Bytes read per `read` call when loading the file.
    static let readChunkBytes = 64 << 10

    let directory: String
    var path: String { directory + "/" + Self.fileName }
    private var fd: Int32
    private var lockFD: Int32

    /// Creates the directory when missing, takes its lock (a second process using the same
    /// directory is refused with `EWOULDBLOCK`) and opens the spool file for appending.
    init(directory: String) throws(SpoolFileError) {
        self.directory = directory
        if mkdir(directory, 0o750) != 0 && Glibc.errno != EEXIST {
            throw SpoolFileError(operation: "mkdir", path: directory, errno: Glibc.errno)
        }
        let lockPath = directory + "/" + Self.lockName
        lockFD = Glibc.open(lockPath, O_RDWR | O_CREAT | O_CLOEXEC, 0o640)
        if lockFD < 0 { throw SpoolFileError(operation: "open", path: lockPath, errno: Glibc.errno) }
        if flock(lockFD, LOCK_EX | LOCK_NB) != 0 {
            let error = SpoolFileError(operation: "lock (is another client using this spool directory?)", path: lockPath, errno: Glibc.errno)
            Glibc.close(lockFD)
            throw error
        }
        fd = Glibc.open(directory + "/" + Self.fileName, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0o640)
        if fd < 0 {
            let error = SpoolFileError(operation: "open", path: directory + "/" + Self.fileName, errno: Glibc.errno)
            Glibc.close(lockFD)
            throw error
        }
    }

    deinit { close() }

    /// Closes the file and releases the directory lock.
    func close() {
        if fd >= 0 { Glibc.close(fd) }
        if lockFD >= 0 { Glibc.close(lockFD) }
        fd = -1
        lockFD = -1
    }

    /// The whole file.
    func readAll() throws(SpoolFileError) -> [UInt8] {
        var content: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: Self.readChunkBytes)
        var offset = 0
        while true {
            let count = chunk.withUnsafeMutableBytes { Glibc.pread(fd, $0.baseAddress, $0.count, off_t(offset)) }
            if count < 0 {
                if Glibc.errno == EINTR { continue }
                throw SpoolFileError(operation: "read", path: path, errno: Glibc.errno)
            }
            if count == 0 { return content }
            content.append(contentsOf: chunk[0..<count])
            offset += count
        }
    }

    /// Appends every byte; with `sync`, returns only once they are on disk (`fdatasync`).
    func append(_ bytes: [UInt8], sync: Bool) throws(SpoolFileError) {
        let failure: Int32 = bytes.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let written = Glibc.write(fd, raw.baseAddress! + offset, raw.count - offset)
                if written >= 0 {
                    offset += written
                } else if Glibc.errno != EINTR {
                    return Glibc.errno
                }
            }
            return 0
        }
        if failure != 0 { throw SpoolFileError(operation: "write", path: path, errno: failure) }
        if sync { try self.sync() }
    }

    /// Appends `bytes` to the file at `path` (created 0640 when missing) and fsyncs it: the
    /// dead-letter file, written once per refused event.
    static func appendDurably(path: String, _ bytes: [UInt8]) throws(SpoolFileError) {
        let fd = Glibc.open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o640)
        if fd < 0 { throw SpoolFileError(operation: "open", path: path, errno: Glibc.errno) }
        defer { Glibc.close(fd) }
        let failure: Int32 = bytes.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let written = Glibc.write(fd, raw.baseAddress! + offset, raw.count - offset)
                if written >= 0 {
                    offset += written
                } else if Glibc.errno != EINTR {
                    return Glibc.errno
                }
            }
            return 0
        }
        if failure != 0 { throw SpoolFileError(operation: "write", path: path, errno: failure) }
        if fdatasync(fd) != 0 { throw SpoolFileError(operation: "fdatasync", path: path, errno: Glibc.errno) }
    }

    /// Forces what was written to disk.
    func sync() throws(SpoolFileError) {
        if fdatasync(fd) != 0 { throw SpoolFileError(operation: "fdatasync", path: path, errno: Glibc.errno) }
    }

    /// Cuts the file to `length` bytes and makes the cut durable.
    func truncate(to length: Int) throws(SpoolFileError) {
        if ftruncate(fd, off_t(length)) != 0 { throw SpoolFileError(operation: "ftruncate", path: path, errno: Glibc.errno) }
        try sync()
    }

    /// Replaces the file with `bytes` so that a crash leaves the old or the new content: write a
    /// temporary file, fsync it, rename it over the spool file, fsync the directory, reopen.
    func replace(with bytes: [UInt8]) throws(SpoolFileError) {
        let temporary = path + ".tmp"
        let newFD = Glibc.open(temporary, O_RDWR | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0o640)
        if newFD < 0 { throw SpoolFileError(operation: "open", path: temporary, errno: Glibc.errno) }
        let previous = fd
        fd = newFD
        do throws(SpoolFileError) {
            try append(bytes, sync: true)
            if rename(temporary, path) != 0 { throw SpoolFileError(operation: "rename", path: temporary, errno: Glibc.errno) }
            try syncDirectory()
        } catch {
            fd = previous
            Glibc.close(newFD)
            throw error
        }
        Glibc.close(previous)
    }

    private func syncDirectory() throws(SpoolFileError) {
        let directoryFD = Glibc.open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if directoryFD < 0 { throw SpoolFileError(operation: "open", path: directory, errno: Glibc.errno) }
        defer { Glibc.close(directoryFD) }
        if fsync(directoryFD) != 0 { throw SpoolFileError(operation: "fsync", path: directory, errno: Glibc.errno) }
    }
}
