// Snapshots of the whole store, so recovery replays only the log written since. A snapshot is
// written atomically (temp file, fsync, rename, fsync directory) and carries the last sequence
// it includes and a checksum; loading skips an invalid newest snapshot and falls back to the
// previous one, which is why two are kept.
//
// File `snapshot-<20-digit last sequence>.snap`:
//   "TGSNAP01" | u32 BE format version | u32 BE CRC-32C of everything after this field |
//   u64 BE last sequence | u64 BE entry count | u64 BE body length | body
// and the body is the entries, each a u32 BE length and that many bytes. The checksum covers
// the header fields too, so a flipped bit in the last sequence cannot go unnoticed.

/// Writing, loading and verifying snapshot files. Entries are opaque bytes.
public enum Snapshot {
    static let magic: [UInt8] = Array("TGSNAP01".utf8)
    static let formatVersion: UInt32 = 1
    static let headerBytes = 40
    /// Offset of the first byte the checksum covers.
    static let checksummedFrom = 16

    /// Writes `snapshot-<lastSequence>.snap` in `directory` atomically, then removes all but
    /// the newest `StoreLimits.snapshotsKept` snapshots (and leftover temp files).
    /// - Throws: `.tooLarge` for an entry over `StoreLimits.snapshotEntryBytesMax`, `.io`.
    public static func write(
        directory: String, lastSequence: UInt64, entries: [[UInt8]], fileSystem: any FileSystem
    ) throws(StoreError) {
        let bytes = try encode(lastSequence: lastSequence, entries: entries)
        do throws(SystemError) {
            try fileSystem.createDirectory(directory)
            try fileSystem.writeAtomically(join(directory, fileName(lastSequence)), bytes)
            try prune(directory: directory, fileSystem: fileSystem)
        } catch {
            throw StoreError.io(error)
        }
    }

    /// The newest snapshot whose checks pass, or nil when the directory holds no snapshot.
    /// An invalid snapshot is skipped with a warning and the previous one is tried.
    /// - Throws: `.corrupt` when snapshots exist but none is valid (starting empty would drop
    ///   everything they held), `.io` when a file cannot be read.
    public static func loadNewest(
        directory: String, fileSystem: any FileSystem
    ) throws(StoreError) -> (lastSequence: UInt64, entries: [[UInt8]], file: String, warnings: [String])? {
        let names: [String]
        do throws(SystemError) {
            names = try fileSystem.list(directory)
        } catch {
            if error.isNotFound { return nil }
            throw StoreError.io(error)
        }
        let newestFirst = snapshotNames(names).sorted { $0.sequence > $1.sequence }
        var warnings: [String] = []
        for candidate in newestFirst {
            let path = join(directory, candidate.name)
            let bytes: [UInt8]
            do throws(SystemError) {
                bytes = try fileSystem.readAll(path)
            } catch {
                throw StoreError.io(error)
            }
            switch decode(bytes, expectedSequence: candidate.sequence) {
            case .success(let snapshot):
                return (snapshot.lastSequence, snapshot.entries, path, warnings)
            case .failure(let problem):
                warnings.append(
                    "snapshot \(candidate.name) is invalid (\(problem.reason)); falling back to an older one")
            }
        }
        guard let newest = newestFirst.first else { return nil }
        throw StoreError.corrupt(newest.name, 0, "no valid snapshot: " + warnings.joined(separator: "; "))
    }

    /// Checks one snapshot file offline (`tokengate snapshot verify`).
    public static func verify(file: String, fileSystem: any FileSystem) -> VerifyReport {
        let bytes: [UInt8]
        do throws(SystemError) {
            bytes = try fileSystem.readAll(file)
        } catch {
            return VerifyReport(problem: error.description)
        }
        let name = String(file.split(separator: "/").last ?? Substring(file))
        let expected = LogFormat.parseNumberedName(name, prefix: "snapshot-", suffix: ".snap")
        switch decode(bytes, expectedSequence: expected) {
        case .success(let snapshot):
            return VerifyReport(records: snapshot.entries.count, lastSequence: snapshot.lastSequence)
        case .failure(let problem):
            return VerifyReport(problem: "\(file) at byte \(problem.offset): \(problem.reason)")
        }
    }

    /// `snapshot-00000000000000000042.snap`.
    public static func fileName(_ lastSequence: UInt64) -> String {
        "snapshot-" + LogFormat.zeroPadded(lastSequence) + ".snap"
    }

    // MARK: - Encoding

    static func encode(lastSequence: UInt64, entries: [[UInt8]]) throws(StoreError) -> [UInt8] {
        var bodyLength = 0
        for entry in entries {
            guard entry.count <= StoreLimits.snapshotEntryBytesMax else {
                throw StoreError(.tooLarge, "snapshot entry of \(entry.count) bytes")
            }
            bodyLength += 4 + entry.count
        }
        var bytes = magic
        bytes.reserveCapacity(headerBytes + bodyLength)
        bytes.appendBigEndian(formatVersion)
        bytes.appendBigEndian(UInt32(0))  // checksum, filled in below
        bytes.appendBigEndian(lastSequence)
        bytes.appendBigEndian(UInt64(entries.count))
        bytes.appendBigEndian(UInt64(bodyLength))
        for entry in entries {
            bytes.appendBigEndian(UInt32(entry.count))
            bytes.append(contentsOf: entry)
        }
        var crc = CRC32C()
        crc.update(bytes[checksummedFrom...])
        let checksum = crc.value
        for index in 0..<4 { bytes[12 + index] = UInt8(truncatingIfNeeded: checksum >> UInt32(24 - 8 * index)) }
        return bytes
    }

    struct Decoded {
        var lastSequence: UInt64
        var entries: [[UInt8]]
    }

    struct DecodeProblem: Error {
        var offset: Int
        var reason: String
    }

    /// Checks and decodes a snapshot. `expectedSequence` comes from the file name, when known.
    static func decode(_ bytes: [UInt8], expectedSequence: UInt64?) -> Result<Decoded, DecodeProblem> {
        guard bytes.count >= headerBytes else {
            return .failure(DecodeProblem(offset: 0, reason: "short header: \(bytes.count) of \(headerBytes) bytes"))
        }
        guard Array(bytes[0..<8]) == magic else { return .failure(DecodeProblem(offset: 0, reason: "bad magic")) }
        let version = bytes.readBigEndianUInt32(at: 8)
        guard version == formatVersion else {
            return .failure(DecodeProblem(offset: 8, reason: "unsupported format version \(version)"))
        }
        var crc = CRC32C()
        crc.update(bytes[checksummedFrom...])
        guard crc.value == bytes.readBigEndianUInt32(at: 12) else {
            return .failure(DecodeProblem(offset: 12, reason: "checksum mismatch"))
        }
        let lastSequence = bytes.readBigEndianUInt64(at: 16)
        if let expectedSequence, expectedSequence != lastSequence {
            return .failure(
                DecodeProblem(offset: 16, reason: "holds sequence \(lastSequence), its name says \(expectedSequence)"))
        }
        let bodyLength = bytes.readBigEndianUInt64(at: 32)
        guard bodyLength == UInt64(bytes.count - headerBytes) else {
            return .failure(
                DecodeProblem(
                    offset: 32, reason: "body length \(bodyLength) but \(bytes.count - headerBytes) bytes follow"))
        }
        return decodeEntries(bytes, count: bytes.readBigEndianUInt64(at: 24)).map {
            Decoded(lastSequence: lastSequence, entries: $0)
        }
    }

    /// The length-prefixed entries of the body; every length is checked before it is used.
    static func decodeEntries(_ bytes: [UInt8], count: UInt64) -> Result<[[UInt8]], DecodeProblem> {
        guard count <= UInt64((bytes.count - headerBytes) / 4) else {
            return .failure(DecodeProblem(offset: 24, reason: "entry count \(count) cannot fit the body"))
        }
        var entries: [[UInt8]] = []
        entries.reserveCapacity(Int(count))
        var offset = headerBytes
        for index in 0..<Int(count) {
            guard bytes.count - offset >= 4 else {
                return .failure(DecodeProblem(offset: offset, reason: "entry \(index): short length"))
            }
            let length = Int(bytes.readBigEndianUInt32(at: offset))
            guard bytes.count - offset - 4 >= length else {
                return .failure(DecodeProblem(offset: offset, reason: "entry \(index): length \(length) past the end"))
            }
            entries.append(Array(bytes[(offset + 4)..<(offset + 4 + length)]))
            offset += 4 + length
        }
        guard offset == bytes.count else {
            return .failure(DecodeProblem(offset: offset, reason: "\(bytes.count - offset) bytes after the last entry"))
        }
        return .success(entries)
    }

    // MARK: - Files

    static func snapshotNames(_ names: [String]) -> [(name: String, sequence: UInt64)] {
        names.compactMap { name in
            LogFormat.parseNumberedName(name, prefix: "snapshot-", suffix: ".snap").map { (name, $0) }
        }
    }

    /// Removes all but the newest snapshots, and temp files a crash left behind.
    static func prune(directory: String, fileSystem: any FileSystem) throws(SystemError) {
        let names = try fileSystem.list(directory)
        let stale = snapshotNames(names).sorted { $0.sequence > $1.sequence }.dropFirst(StoreLimits.snapshotsKept)
        let leftovers = names.filter { $0.hasPrefix("snapshot-") && $0.hasSuffix(".snap.tmp") }
        for name in stale.map(\.name) + leftovers {
            try fileSystem.remove(join(directory, name))
        }
        if !stale.isEmpty || !leftovers.isEmpty { try fileSystem.syncDirectory(directory) }
    }

    static func join(_ directory: String, _ name: String) -> String {
        directory.hasSuffix("/") ? directory + name : directory + "/" + name
    }
}
