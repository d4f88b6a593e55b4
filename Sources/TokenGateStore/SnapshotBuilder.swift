// Builds a snapshot file's bytes entry by entry, so the ledger can encode a large store one
// shop at a time into a single buffer instead of holding every entry as its own array and then
// copying them all again. The bytes are exactly what `Snapshot.encode` produces (same header,
// same checksum); `Snapshot.write(directory:bytes:)` stores them atomically.

/// A snapshot under construction: the header placeholder, then length-prefixed entries.
public struct SnapshotBuilder: Sendable {
    private var bytes: [UInt8]
    /// Entries appended so far.
    public private(set) var entryCount = 0

    /// An empty snapshot body.
    public init() {
        bytes = [UInt8](repeating: 0, count: Snapshot.headerBytes)
    }

    /// Bytes of the entries appended so far, length prefixes included.
    public var bodyBytes: Int { bytes.count - Snapshot.headerBytes }

    /// Appends one entry.
    /// - Throws: `.tooLarge` for an entry over `StoreLimits.snapshotEntryBytesMax`.
    public mutating func append(_ entry: [UInt8]) throws(StoreError) {
        guard entry.count <= StoreLimits.snapshotEntryBytesMax else {
            throw StoreError(.tooLarge, "snapshot entry of \(entry.count) bytes")
        }
        bytes.appendBigEndian(UInt32(entry.count))
        bytes.append(contentsOf: entry)
        entryCount += 1
    }

    /// The finished file: header with `lastSequence`, counts and checksum, then the entries.
    /// Hands over the buffer without copying it; the builder is left empty.
    public mutating func finish(lastSequence: UInt64) -> [UInt8] {
        var header: [UInt8] = Snapshot.magic
        header.appendBigEndian(Snapshot.formatVersion)
        header.appendBigEndian(UInt32(0))  // checksum, filled in below
        header.appendBigEndian(lastSequence)
        header.appendBigEndian(UInt64(entryCount))
        header.appendBigEndian(UInt64(bodyBytes))
        precondition(header.count == Snapshot.headerBytes, "snapshot header layout")
        var result: [UInt8] = []
        swap(&result, &bytes)
        result.replaceSubrange(0..<Snapshot.headerBytes, with: header)
        var crc = CRC32C()
        crc.update(result[Snapshot.checksummedFrom...])
        let checksum = crc.value
        for index in 0..<4 { result[12 + index] = UInt8(truncatingIfNeeded: checksum >> UInt32(24 - 8 * index)) }
        self = SnapshotBuilder()
        return result
    }
}

extension Snapshot {
    /// Writes finished snapshot `bytes` (from `SnapshotBuilder.finish`) as
    /// `snapshot-<lastSequence>.snap` atomically, then keeps only the newest
    /// `StoreLimits.snapshotsKept` snapshots.
    public static func write(directory: String, lastSequence: UInt64, bytes: [UInt8], fileSystem: any FileSystem)
        throws(StoreError)
    {
        do throws(SystemError) {
            try fileSystem.createDirectory(directory)
            try fileSystem.writeAtomically(join(directory, fileName(lastSequence)), bytes)
            try prune(directory: directory, fileSystem: fileSystem)
        } catch {
            throw StoreError.io(error)
        }
    }

    /// The last sequences of the snapshot files in `directory`, newest first (valid or not).
    public static func sequences(directory: String, fileSystem: any FileSystem) throws(StoreError) -> [UInt64] {
        do throws(SystemError) {
            return snapshotNames(try fileSystem.list(directory)).map(\.sequence).sorted(by: >)
        } catch {
            if error.isNotFound { return [] }
            throw StoreError.io(error)
        }
    }
}
