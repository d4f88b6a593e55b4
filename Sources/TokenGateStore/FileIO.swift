// The one narrow door between the store and the operating system: every log and snapshot file
// operation goes through `FileSystem`, so tests can swap in a disk that tears writes, drops
// unsynced bytes and fails with EIO or ENOSPC. This is the store's only file with syscalls and
// unsafe pointers; `EINTR` is retried in exactly one place (`retryingEINTR`).
//
// Buffer ownership: every syscall borrows Swift array storage through `withUnsafe…` for the
// duration of that one call; no pointer is kept after it returns. `opendir` handles are closed
// in the same scope. The thread start routine receives a box retained by `spawnThread` and
// releases it exactly once.

import Glibc
import Synchronization

// MARK: - Errors

/// An operating-system error from a file operation: the errno, what was attempted and on which
/// path. Thrown by every `FileSystem` method.
public struct SystemError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The C `errno` value, e.g. `EIO` or `ENOSPC`.
    public var errno: Int32
    /// The operation that failed, e.g. `fdatasync`.
    public var operation: String
    /// The file or directory it was applied to.
    public var path: String

    /// Creates an error value; fault-injecting file systems in tests build these directly.
    public init(errno: Int32, operation: String, path: String) {
        self.errno = errno
        self.operation = operation
        self.path = path
    }

    /// The file or directory does not exist (`ENOENT`).
    public var isNotFound: Bool { errno == ENOENT }

    /// For example `fdatasync /var/lib/tokengate/wal-…log: Input/output error (errno 5)`.
    public var description: String {
        let reason = strerror(errno).map { String(cString: $0) } ?? "unknown error"
        return "\(operation) \(path): \(reason) (errno \(errno))"
    }
}

// MARK: - Protocols

/// All file I/O of the write-ahead log and snapshots. Implementations throw only `SystemError`.
/// `writeAtomically` uses the temporary name `<path>.tmp`, which readers must ignore.
public protocol FileSystem: Sendable {
    /// Opens `path` for appending, creating it (mode 0640) when missing.
    func openAppend(_ path: String) throws(SystemError) -> any AppendFile
    /// The whole content of a file.
    func readAll(_ path: String) throws(SystemError) -> [UInt8]
    /// Replaces `path` with `bytes` so that a crash leaves either the old or the new content:
    /// write `<path>.tmp`, fsync it, rename it over `path`, fsync the directory.
    func writeAtomically(_ path: String, _ bytes: [UInt8]) throws(SystemError)
    /// The names (not paths) of the entries of a directory, without `.` and `..`.
    func list(_ directory: String) throws(SystemError) -> [String]
    /// Deletes a file.
    func remove(_ path: String) throws(SystemError)
    /// Cuts a file to `length` bytes.
    func truncate(_ path: String, to length: Int) throws(SystemError)
    /// Creates a directory and its missing parents (mode 0750); an existing directory is fine.
    func createDirectory(_ path: String) throws(SystemError)
    /// Makes the directory's entries (created, renamed, removed files) durable.
    func syncDirectory(_ path: String) throws(SystemError)
    /// Up to `maxBytes` bytes of `path` from byte `offset` (fewer at the end of the file).
    func readRange(_ path: String, from offset: Int, maxBytes: Int) throws(SystemError) -> [UInt8]
    /// The size of a file in bytes.
    func size(_ path: String) throws(SystemError) -> Int
}

/// Reads of part of a file, for the shipper's tail of the log (issue 19). The defaults go through
/// `readAll`, so a simulated file system needs nothing more; `PosixFileSystem` uses pread/stat.
extension FileSystem {
    /// Up to `maxBytes` bytes of `path` from byte `offset` (fewer at the end of the file).
    public func readRange(_ path: String, from offset: Int, maxBytes: Int) throws(SystemError) -> [UInt8] {
        let bytes = try readAll(path)
        guard offset < bytes.count else { return [] }
        return Array(bytes[offset..<min(bytes.count, offset + maxBytes)])
    }

    /// The size of a file in bytes.
    public func size(_ path: String) throws(SystemError) -> Int {
        try readAll(path).count
    }
}

/// A file open for appending. Used by one writer at a time; `Sendable` so it can move between
/// the thread that opens it and the flusher thread.
public protocol AppendFile: AnyObject, Sendable {
    /// Appends all of `bytes`. On error some prefix may have been written; `size` tells how much.
    func write(_ bytes: [UInt8]) throws(SystemError)
    /// `fdatasync`: the written bytes and the file size are durable when this returns.
    func sync() throws(SystemError)
    /// Cuts the file back to `length` bytes (used to undo a failed write).
    func truncate(to length: Int) throws(SystemError)
    /// Closes the descriptor. Further calls fail.
    func close() throws(SystemError)
    /// The file's size in bytes, including everything written through this handle.
    var size: Int { get }
}

// MARK: - POSIX implementation

/// Calls `call` until it does not fail with `EINTR`; any other failure becomes a `SystemError`.
/// The single place where interrupted syscalls are retried.
@inline(__always)
func retryingEINTR<R: BinaryInteger>(
    _ operation: String, _ path: String, _ call: () -> R
) throws(SystemError) -> R {
    while true {
        let result = call()
        if result != -1 { return result }
        let code = Glibc.errno
        if code != EINTR { throw SystemError(errno: code, operation: operation, path: path) }
    }
}

/// The real file system through POSIX calls.
public struct PosixFileSystem: FileSystem {
    /// File mode of log, snapshot and tail-copy files: owner read-write, group read.
    static let fileMode: mode_t = 0o640
    /// Mode of directories the store creates.
    static let directoryMode: mode_t = 0o750

    /// Creates the (stateless) file system.
    public init() {}

    /// Opens with `O_APPEND | O_CLOEXEC`, creating the file when missing.
    public func openAppend(_ path: String) throws(SystemError) -> any AppendFile {
        let flags = O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC
        let fd = try retryingEINTR("open", path) { open(path, flags, Self.fileMode) }
        var info = stat()
        do throws(SystemError) {
            _ = try retryingEINTR("fstat", path) { fstat(fd, &info) }
        } catch {
            Glibc.close(fd)
            throw error
        }
        return PosixAppendFile(fd: fd, path: path, size: Int(info.st_size))
    }

    /// `pread` from `offset`: up to `maxBytes` bytes, fewer at the end of the file.
    public func readRange(_ path: String, from offset: Int, maxBytes: Int) throws(SystemError) -> [UInt8] {
        let fd = try retryingEINTR("open", path) { open(path, O_RDONLY | O_CLOEXEC) }
        defer { Glibc.close(fd) }
        var failure: SystemError?
        let bytes = [UInt8](unsafeUninitializedCapacity: maxBytes) { buffer, initialized in
            while initialized < maxBytes {
                let result = Result { () throws(SystemError) -> Int in
                    try retryingEINTR("pread", path) {
                        pread(fd, buffer.baseAddress! + initialized, maxBytes - initialized, off_t(offset + initialized))
                    }
                }
                switch result {
                case .success(let count):
                    if count == 0 { return }
                    initialized += count
                case .failure(let error):
                    failure = error
                    return
                }
            }
        }
        if let failure { throw failure }
        return bytes
    }

    /// `stat`'s size.
    public func size(_ path: String) throws(SystemError) -> Int {
        var info = stat()
        _ = try retryingEINTR("stat", path) { stat(path, &info) }
        return Int(info.st_size)
    }

    /// Reads until end of file; the file may grow while it is read. The size `fstat` gives is
    /// read straight into the array's uninitialized storage: zero-filling a 64 MiB segment
    /// first, then growing it by one byte to see the end, cost a memset and a copy of every log
    /// byte at recovery (perf, issue 6). What the file grew by is read in chunks after it.
    public func readAll(_ path: String) throws(SystemError) -> [UInt8] {
        let fd = try retryingEINTR("open", path) { open(path, O_RDONLY | O_CLOEXEC) }
        defer { Glibc.close(fd) }
        var info = stat()
        _ = try retryingEINTR("fstat", path) { fstat(fd, &info) }
        let expected = max(Int(info.st_size), 0)
        var failure: SystemError?
        var bytes = [UInt8](unsafeUninitializedCapacity: expected) { buffer, initialized in
            while initialized < expected {
                let result = Result { () throws(SystemError) -> Int in
                    try retryingEINTR("read", path) { read(fd, buffer.baseAddress! + initialized, expected - initialized) }
                }
                switch result {
                case .success(0): return
                case .success(let count): initialized += count
                case .failure(let error):
                    failure = error
                    return
                }
            }
        }
        if let failure { throw failure }
        var chunk = [UInt8](repeating: 0, count: Self.readChunkBytes)
        while true {
            let result = chunk.withUnsafeMutableBytes { buffer in
                Result { () throws(SystemError) -> Int in
                    try retryingEINTR("read", path) { read(fd, buffer.baseAddress!, buffer.count) }
                }
            }
            let count = try result.get()
            if count == 0 { break }
            bytes.append(contentsOf: chunk[..<count])
        }
        return bytes
    }

    /// Bytes read per call past the size the file had when it was opened.
    static let readChunkBytes = 65_536

    /// Temp file, write, fsync, rename, fsync the directory.
    public func writeAtomically(_ path: String, _ bytes: [UInt8]) throws(SystemError) {
        let temporary = path + ".tmp"
        let flags = O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC
        let fd = try retryingEINTR("open", temporary) { open(temporary, flags, Self.fileMode) }
        var isOpen = true
        do throws(SystemError) {
            try Self.writeFully(fd, bytes, temporary)
            _ = try retryingEINTR("fsync", temporary) { fsync(fd) }
            isOpen = false
            _ = try Self.closeOnce(fd, temporary)
            _ = try retryingEINTR("rename", temporary) { rename(temporary, path) }
        } catch {
            // Never close twice: the number may already belong to another thread's file.
            if isOpen { Glibc.close(fd) }
            unlink(temporary)
            throw error
        }
        try syncDirectory(Self.directoryName(of: path))
    }

    /// Directory entries through `opendir`/`readdir`.
    public func list(_ directory: String) throws(SystemError) -> [String] {
        guard let handle = opendir(directory) else {
            throw SystemError(errno: Glibc.errno, operation: "opendir", path: directory)
        }
        defer { closedir(handle) }
        var names: [String] = []
        while let entry = readdir(handle) {
            let name = withUnsafePointer(to: &entry.pointee.d_name) { tuple in
                tuple.withMemoryRebound(to: CChar.self, capacity: Int(NAME_MAX) + 1) { String(cString: $0) }
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    /// `unlink`.
    public func remove(_ path: String) throws(SystemError) {
        _ = try retryingEINTR("unlink", path) { unlink(path) }
    }

    /// `truncate(2)`.
    public func truncate(_ path: String, to length: Int) throws(SystemError) {
        _ = try retryingEINTR("truncate", path) { Glibc.truncate(path, off_t(length)) }
    }

    /// `mkdir -p` with mode 0750.
    public func createDirectory(_ path: String) throws(SystemError) {
        var prefix = path.hasPrefix("/") ? "/" : ""
        for component in path.split(separator: "/") {
            prefix += component
            if mkdir(prefix, Self.directoryMode) != 0 && Glibc.errno != EEXIST {
                throw SystemError(errno: Glibc.errno, operation: "mkdir", path: prefix)
            }
            prefix += "/"
        }
    }

    /// Opens the directory and fsyncs it.
    public func syncDirectory(_ path: String) throws(SystemError) {
        let fd = try retryingEINTR("open", path) { open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC) }
        defer { Glibc.close(fd) }
        _ = try retryingEINTR("fsync", path) { fsync(fd) }
    }

    /// Writes every byte, continuing after short writes.
    static func writeFully(_ fd: Int32, _ bytes: [UInt8], _ path: String) throws(SystemError) {
        let (_, failure) = writePrefix(fd, bytes, path)
        if let failure { throw failure }
    }

    /// Writes as much of `bytes` as possible: the count written, and the error that stopped it.
    static func writePrefix(_ fd: Int32, _ bytes: [UInt8], _ path: String) -> (Int, SystemError?) {
        bytes.withUnsafeBytes { buffer in
            var done = 0
            while done < buffer.count {
                let result = Result { () throws(SystemError) -> Int in
                    try retryingEINTR("write", path) {
                        Glibc.write(fd, buffer.baseAddress! + done, buffer.count - done)
                    }
                }
                switch result {
                case .success(0): return (done, SystemError(errno: EIO, operation: "write (no progress)", path: path))
                case .success(let count): done += count
                case .failure(let error): return (done, error)
                }
            }
            return (done, nil)
        }
    }

    /// `close` is never retried: on Linux the descriptor is gone even when it reports `EINTR`.
    static func closeOnce(_ fd: Int32, _ path: String) throws(SystemError) -> Int32 {
        let result = Glibc.close(fd)
        if result != 0 && Glibc.errno != EINTR {
            throw SystemError(errno: Glibc.errno, operation: "close", path: path)
        }
        return 0
    }

    /// `"/a/b/c"` → `"/a/b"`, `"c"` → `"."`.
    static func directoryName(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }
}

/// An append-only descriptor. The store's writer serialises calls; the size is atomic so that
/// readers on other threads see a consistent value.
final class PosixAppendFile: AppendFile {
    private let fd: Int32
    private let path: String
    private let currentSize: Atomic<Int>
    private let closed = Atomic<Bool>(false)

    init(fd: Int32, path: String, size: Int) {
        self.fd = fd
        self.path = path
        self.currentSize = Atomic(size)
    }

    deinit {
        if !closed.load(ordering: .relaxed) { Glibc.close(fd) }
    }

    var size: Int { currentSize.load(ordering: .acquiring) }

    func write(_ bytes: [UInt8]) throws(SystemError) {
        let (written, failure) = PosixFileSystem.writePrefix(fd, bytes, path)
        currentSize.add(written, ordering: .releasing)
        if let failure { throw failure }
    }

    func sync() throws(SystemError) {
        _ = try retryingEINTR("fdatasync", path) { fdatasync(fd) }
    }

    func truncate(to length: Int) throws(SystemError) {
        _ = try retryingEINTR("ftruncate", path) { ftruncate(fd, off_t(length)) }
        currentSize.store(length, ordering: .releasing)
    }

    func close() throws(SystemError) {
        guard !closed.exchange(true, ordering: .acquiringAndReleasing) else {
            throw SystemError(errno: EBADF, operation: "close", path: path)
        }
        _ = try PosixFileSystem.closeOnce(fd, path)
    }
}

// MARK: - Threads

/// A joinable OS thread. The write-ahead log's flusher blocks in `fdatasync` for milliseconds,
/// so it gets its own thread rather than a slot in a shared pool.
struct OSThread: Sendable {
    private let handle: pthread_t

    /// Starts `body` on a new thread.
    static func spawn(_ body: @escaping @Sendable () -> Void) throws(SystemError) -> OSThread {
        final class Box: Sendable {
            let body: @Sendable () -> Void
            init(_ body: @escaping @Sendable () -> Void) { self.body = body }
        }
        let context = Unmanaged.passRetained(Box(body)).toOpaque()
        var handle = pthread_t()
        let result = pthread_create(
            &handle, nil,
            { context in
                let box = Unmanaged<Box>.fromOpaque(context!).takeRetainedValue()
                box.body()
                return nil
            }, context)
        guard result == 0 else {
            Unmanaged<Box>.fromOpaque(context).release()
            throw SystemError(errno: result, operation: "pthread_create", path: "-")
        }
        return OSThread(handle: handle)
    }

    /// Waits for the thread to finish.
    func join() {
        pthread_join(handle, nil)
    }
}

/// Seconds since the Unix epoch, for names of files the operator will read.
func unixTimeSeconds() -> Int {
    Int(time(nil))
}
