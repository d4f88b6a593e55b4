// A reader that follows the write-ahead log from outside the writer, for the PostgreSQL shipper
// (issue 19): it finds the segment holding a sequence, reads it in chunks with pread, checks each
// record as recovery does, and keeps its place so the next call continues where this one ended
// (a 64 MiB segment is never read again to ship its tail). It reads only what the caller says is
// durable, so it never sees a record being written.

/// Where a read of the log tail ended up.
public enum LogTailRead: Equatable, Sendable {
    /// Records in order, starting at the sequence asked for (possibly none yet).
    case records([WALRecord])
    /// The sequence asked for is older than the oldest segment left (a snapshot dropped it);
    /// `oldestSequence` is the first sequence still in the log (nil: no segment).
    case missing(oldestSequence: UInt64?)
}

/// Follows the log's segments in `directory`. Used by one thread.
public struct LogTail {
    let directory: String
    let fileSystem: any FileSystem
    let recordBytesMax: Int
    /// Bytes read per pread.
    static let chunkBytes = 4 << 20

    /// The segment being read, the file offset of `buffer`'s first byte, unconsumed bytes.
    private var segment: Segment?
    private var bufferOffset = 0
    private var buffer: [UInt8] = []
    private var bufferStart = 0
    /// The sequence of the record at `buffer[bufferStart]`.
    private var nextSequence: UInt64 = 0

    public init(
        directory: String, fileSystem: any FileSystem = PosixFileSystem(),
        recordBytesMax: Int = StoreLimits.defaultRecordBytesMax
    ) {
        self.directory = directory
        self.fileSystem = fileSystem
        self.recordBytesMax = recordBytesMax
    }

    /// Up to `limit` records from `sequence` through `through` (the caller's durable sequence).
    /// - Throws: `.corrupt` for a bad record below `through`, `.io`.
    public mutating func read(from sequence: UInt64, through: UInt64, limit: Int) throws(StoreError) -> LogTailRead {
        guard sequence <= through else { return .records([]) }
        if segment == nil || nextSequence != sequence {
            if let oldest = try position(at: sequence) { return .missing(oldestSequence: oldest) }
        }
        var records: [WALRecord] = []
        while records.count < limit && nextSequence <= through {
            guard let record = try nextRecord() else { break }
            records.append(record)
        }
        return .records(records)
    }

    /// The segments on disk and their sizes in bytes, oldest first.
    public func segmentSizes() throws(StoreError) -> [(firstSequence: UInt64, bytes: Int)] {
        try segments().map { segment throws(StoreError) in
            do throws(SystemError) {
                return (segment.firstSequence, try fileSystem.size(path(segment)))
            } catch {
                throw StoreError.io(error)
            }
        }
    }

    // MARK: - Reading

    /// Opens the segment holding `sequence` and skips to it; returns the oldest sequence on disk
    /// when `sequence` is older than every segment.
    private mutating func position(at sequence: UInt64) throws(StoreError) -> UInt64?? {
        let all = try segments()
        guard let holder = all.last(where: { $0.firstSequence <= sequence }) else {
            return .some(all.first?.firstSequence)
        }
        segment = holder
        bufferOffset = 0
        buffer = []
        bufferStart = 0
        nextSequence = holder.firstSequence
        while nextSequence < sequence {
            guard try nextRecord() != nil else { break }
        }
        return .none
    }

    /// The next record, reading more of the segment (or moving to the next segment) as needed;
    /// nil when nothing more is on disk yet.
    private mutating func nextRecord() throws(StoreError) -> WALRecord? {
        while true {
            if let record = try recordInBuffer() { return record }
            if try readMore() { continue }
            guard try moveToNextSegment() else { return nil }
        }
    }

    private mutating func recordInBuffer() throws(StoreError) -> WALRecord? {
        let available = buffer.count - bufferStart
        guard available >= LogFormat.headerBytes else { return nil }
        let length = Int(buffer.readBigEndianUInt32(at: bufferStart))
        guard available >= LogFormat.headerBytes + length else { return nil }
        if let reason = LogFormat.checkRecord(buffer, at: bufferStart, recordBytesMax: recordBytesMax) {
            throw StoreError.corrupt(segment!.name, bufferOffset + bufferStart, reason)
        }
        let found = buffer.readBigEndianUInt64(at: bufferStart + 4)
        guard found == nextSequence else {
            throw StoreError.corrupt(
                segment!.name, bufferOffset + bufferStart, "sequence \(found) where \(nextSequence) was expected")
        }
        let bodyStart = bufferStart + LogFormat.headerBytes
        let record = WALRecord(sequence: found, body: Array(buffer[bodyStart..<(bodyStart + length)]))
        bufferStart = bodyStart + length
        nextSequence += 1
        return record
    }

    /// Appends the next chunk of the current segment to the buffer; false at its end.
    private mutating func readMore() throws(StoreError) -> Bool {
        guard let segment else { return false }
        bufferOffset += bufferStart
        buffer.removeFirst(bufferStart)
        bufferStart = 0
        let chunk: [UInt8]
        do throws(SystemError) {
            chunk = try fileSystem.readRange(path(segment), from: bufferOffset + buffer.count, maxBytes: Self.chunkBytes)
        } catch {
            if error.isNotFound { return false }
            throw StoreError.io(error)
        }
        guard !chunk.isEmpty else { return false }
        buffer.append(contentsOf: chunk)
        return true
    }

    /// Moves to the segment that starts at `nextSequence`, when there is one.
    private mutating func moveToNextSegment() throws(StoreError) -> Bool {
        guard let next = try segments().first(where: { $0.firstSequence == nextSequence }), next != segment else {
            return false
        }
        segment = next
        bufferOffset = 0
        buffer = []
        bufferStart = 0
        return true
    }

    private func segments() throws(StoreError) -> [Segment] {
        do throws(SystemError) {
            return try fileSystem.list(directory)
                .compactMap { LogFormat.parseSegmentName($0).map(Segment.init(firstSequence:)) }
                .sorted { $0.firstSequence < $1.firstSequence }
        } catch {
            throw StoreError.io(error)
        }
    }

    private func path(_ segment: Segment) -> String {
        directory.hasSuffix("/") ? directory + segment.name : directory + "/" + segment.name
    }
}
