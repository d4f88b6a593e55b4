// Test doubles for the store's one I/O protocol. `SimulatedFileSystem` is an in-memory disk
// that separates what is in the page cache from what is durable (file contents become durable
// on fdatasync, directory entries on a directory fsync), so a simulated power loss drops exactly
// what a real one may drop; it also fails writes (ENOSPC, torn writes), fails fsync (EIO) and
// crashes between the steps of an atomic write. `CountingFileSystem` wraps the real one.

import Glibc
import Synchronization

@testable import TokenGateStore

/// Where `writeAtomically` stops when a crash is injected.
enum CrashPoint: CaseIterable {
    case afterTempWrite, afterTempSync, afterRename, afterDirectorySync
}

final class SimulatedFileSystem: FileSystem {
    struct Inode {
        var cached: [UInt8] = []
        var durable: [UInt8] = []
    }

    struct Model {
        var inodes: [Int: Inode] = [:]
        var nextInode = 1
        /// Path → inode as processes see it.
        var names: [String: Int] = [:]
        /// Path → inode as it would be after a power loss.
        var durableNames: [String: Int] = [:]
        /// Bumped by a crash; handles from an older boot fail with EIO.
        var boot = 0
        var writeError: Int32?
        var tearNextWriteAt: Int?
        var syncError: Int32?
        var crashPoint: CrashPoint?
        var syncCount = 0
    }

    let model = Mutex(Model())

    func withModel<R>(_ body: (inout Model) -> R) -> R {
        model.withLock { body(&$0) }
    }

    // MARK: - Faults and inspection

    /// Every later write fails with `errno` (nil clears the fault).
    func setWriteError(_ errno: Int32?) { withModel { $0.writeError = errno } }
    /// The next write stores only `bytes` bytes, then fails with ENOSPC.
    func tearNextWrite(at bytes: Int) { withModel { $0.tearNextWriteAt = bytes } }
    /// Every later fdatasync fails with `errno`.
    func setSyncError(_ errno: Int32?) { withModel { $0.syncError = errno } }
    /// `writeAtomically` throws at `point` (once).
    func setCrashPoint(_ point: CrashPoint?) { withModel { $0.crashPoint = point } }
    var syncCount: Int { withModel { $0.syncCount } }

    /// The process dies: open handles stop working. With `powerLoss`, everything not durable is
    /// lost too, except that `keepUnsyncedBytes` of each file's unsynced tail may have reached
    /// the disk anyway (writeback happens when it likes).
    func crash(powerLoss: Bool, keepUnsyncedBytes: (String) -> Int = { _ in 0 }) {
        withModel { model in
            model.boot += 1
            guard powerLoss else { return }
            for (path, id) in model.durableNames {
                var inode = model.inodes[id]!
                if inode.cached.count > inode.durable.count, inode.cached.starts(with: inode.durable) {
                    let extra = min(keepUnsyncedBytes(path), inode.cached.count - inode.durable.count)
                    inode.durable = Array(inode.cached.prefix(inode.durable.count + extra))
                }
                inode.cached = inode.durable
                model.inodes[id] = inode
            }
            model.names = model.durableNames
        }
    }

    /// The visible content of a file.
    func contents(_ path: String) -> [UInt8]? {
        withModel { model in model.names[path].map { model.inodes[$0]!.cached } }
    }

    /// Replaces a file's content, durably (as an operator's editor would, then sync).
    func setContents(_ path: String, _ bytes: [UInt8]) {
        withModel { model in
            let id = model.names[path] ?? Self.createInode(&model, path)
            model.inodes[id] = Inode(cached: bytes, durable: bytes)
            model.durableNames[path] = id
        }
    }

    /// A copy of this disk's visible state (as if it had been cleanly synced), without faults.
    func clone() -> SimulatedFileSystem {
        let copy = SimulatedFileSystem()
        withModel { model in
            for (path, id) in model.names { copy.setContents(path, model.inodes[id]!.cached) }
        }
        return copy
    }

    static func createInode(_ model: inout Model, _ path: String) -> Int {
        let id = model.nextInode
        model.nextInode += 1
        model.inodes[id] = Inode()
        model.names[path] = id
        return id
    }

    static func parent(_ path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return String(path[..<slash])
    }

    // MARK: - FileSystem

    func openAppend(_ path: String) throws(SystemError) -> any AppendFile {
        let (id, boot) = withModel { model in (model.names[path] ?? Self.createInode(&model, path), model.boot) }
        return SimulatedAppendFile(disk: self, inode: id, path: path, boot: boot)
    }

    func readAll(_ path: String) throws(SystemError) -> [UInt8] {
        guard let bytes = contents(path) else { throw SystemError(errno: ENOENT, operation: "open", path: path) }
        return bytes
    }

    func writeAtomically(_ path: String, _ bytes: [UInt8]) throws(SystemError) {
        let crash = SystemError(errno: EIO, operation: "simulated crash in writeAtomically", path: path)
        let temporary = path + ".tmp"
        let point: CrashPoint? = withModel { model in
            let id = Self.createInode(&model, temporary)
            model.inodes[id]!.cached = bytes
            defer { model.crashPoint = nil }
            if model.crashPoint == .afterTempWrite { return .afterTempWrite }
            model.inodes[id]!.durable = bytes
            if model.crashPoint == .afterTempSync { return .afterTempSync }
            model.names[path] = id
            model.names[temporary] = nil
            if model.crashPoint == .afterRename { return .afterRename }
            Self.syncDirectory(&model, Self.parent(path))
            return model.crashPoint
        }
        if point != nil { throw crash }
    }

    func list(_ directory: String) throws(SystemError) -> [String] {
        withModel { model in
            model.names.keys.filter { Self.parent($0) == directory }.map { String($0.split(separator: "/").last!) }
        }
    }

    func remove(_ path: String) throws(SystemError) {
        let existed = withModel { model in model.names.removeValue(forKey: path) != nil }
        if !existed { throw SystemError(errno: ENOENT, operation: "unlink", path: path) }
    }

    func truncate(_ path: String, to length: Int) throws(SystemError) {
        let found = withModel { model -> Bool in
            guard let id = model.names[path] else { return false }
            model.inodes[id]!.cached = Array(model.inodes[id]!.cached.prefix(length))
            return true
        }
        if !found { throw SystemError(errno: ENOENT, operation: "truncate", path: path) }
    }

    func createDirectory(_ path: String) throws(SystemError) {}

    func syncDirectory(_ path: String) throws(SystemError) {
        withModel { Self.syncDirectory(&$0, path) }
    }

    static func syncDirectory(_ model: inout Model, _ directory: String) {
        model.durableNames = model.durableNames.filter { parent($0.key) != directory }
        for (path, id) in model.names where parent(path) == directory { model.durableNames[path] = id }
    }
}

final class SimulatedAppendFile: AppendFile {
    let disk: SimulatedFileSystem
    let inode: Int
    let path: String
    let boot: Int

    init(disk: SimulatedFileSystem, inode: Int, path: String, boot: Int) {
        self.disk = disk
        self.inode = inode
        self.path = path
        self.boot = boot
    }

    /// Runs `body` on the inode unless this handle belongs to a crashed process.
    private func withInode<R>(
        _ operation: String, _ body: (inout SimulatedFileSystem.Model) throws(SystemError) -> R
    ) throws(SystemError) -> R {
        let result = disk.withModel { model in
            Result { () throws(SystemError) -> R in
                guard model.boot == boot else { throw SystemError(errno: EIO, operation: operation, path: path) }
                return try body(&model)
            }
        }
        return try result.get()
    }

    func write(_ bytes: [UInt8]) throws(SystemError) {
        try withInode("write") { model throws(SystemError) in
            if let errno = model.writeError { throw SystemError(errno: errno, operation: "write", path: path) }
            if let tear = model.tearNextWriteAt {
                model.tearNextWriteAt = nil
                model.inodes[inode]!.cached += bytes.prefix(tear)
                throw SystemError(errno: ENOSPC, operation: "write", path: path)
            }
            model.inodes[inode]!.cached += bytes
        }
    }

    func sync() throws(SystemError) {
        try withInode("fdatasync") { model throws(SystemError) in
            model.syncCount += 1
            if let errno = model.syncError { throw SystemError(errno: errno, operation: "fdatasync", path: path) }
            model.inodes[inode]!.durable = model.inodes[inode]!.cached
        }
    }

    func truncate(to length: Int) throws(SystemError) {
        try withInode("ftruncate") { model in
            model.inodes[inode]!.cached = Array(model.inodes[inode]!.cached.prefix(length))
        }
    }

    func close() throws(SystemError) {}

    var size: Int {
        disk.withModel { $0.inodes[inode]!.cached.count }
    }
}

// MARK: - Counting wrapper

/// The real file system, counting fdatasync calls on appended files.
final class CountingFileSystem: FileSystem {
    let base = PosixFileSystem()
    let syncs = Atomic<Int>(0)

    var syncCount: Int { syncs.load(ordering: .relaxed) }

    func openAppend(_ path: String) throws(SystemError) -> any AppendFile {
        CountingAppendFile(base: try base.openAppend(path), counter: self)
    }

    func readAll(_ path: String) throws(SystemError) -> [UInt8] { try base.readAll(path) }
    func writeAtomically(_ path: String, _ bytes: [UInt8]) throws(SystemError) { try base.writeAtomically(path, bytes) }
    func list(_ directory: String) throws(SystemError) -> [String] { try base.list(directory) }
    func remove(_ path: String) throws(SystemError) { try base.remove(path) }
    func truncate(_ path: String, to length: Int) throws(SystemError) { try base.truncate(path, to: length) }
    func createDirectory(_ path: String) throws(SystemError) { try base.createDirectory(path) }
    func syncDirectory(_ path: String) throws(SystemError) { try base.syncDirectory(path) }
}

final class CountingAppendFile: AppendFile {
    let base: any AppendFile
    let counter: CountingFileSystem

    init(base: any AppendFile, counter: CountingFileSystem) {
        self.base = base
        self.counter = counter
    }

    func write(_ bytes: [UInt8]) throws(SystemError) { try base.write(bytes) }
    func sync() throws(SystemError) {
        counter.syncs.add(1, ordering: .relaxed)
        try base.sync()
    }
    func truncate(to length: Int) throws(SystemError) { try base.truncate(to: length) }
    func close() throws(SystemError) { try base.close() }
    var size: Int { base.size }
}
