// The on-disk format of the write-ahead log, shared by the writer, recovery and the offline
// verifier: segment file names, the record header, and a scanner that walks a segment's bytes
// and stops at the first record that fails a check, telling whether it looks like a torn tail.
//
// Record: u32 BE body length | u64 BE sequence | u32 BE CRC-32C over (sequence bytes, body) | body.
//
// Body: one `tokengate.v1.FactRecord` (proto/tokengate/v1/storage.proto), a oneof of the fact
// kinds, each a result, never a command: 1 usage (UsageEventRecord), 2 billing (a final
// BillingRecord), 3 tier_assignment, 4 config_change, 5 alert, 6 paid_mark, 7 month_aggregate
// (snapshots only), 8 void_record. Issue 17 added, for readers such as a PostgreSQL shipper:
//   - usage.billing_period (field 14): set only on a late event, the bill it landed on because
//     the month it occurred in was already billed; empty = that month.
//   - tier_assignment.effective_from_unix_ms (field 3): the shop's tier from then on, replacing
//     later assignments; 0 (every record before issue 17) = since always.
//   - void_record (FactRecord field 8, VoidRecord): the shop's billing record of `period` is
//     void from here on (reason, time, admin uid); a later billing record of the same period is
//     its reissue. The log for one period can read: billing, void_record, billing.

/// One record read back from the log.
public struct WALRecord: Sendable, Equatable {
    /// The record's position in the one ordered log, starting at 1, contiguous.
    public var sequence: UInt64
    /// The opaque body given to `append`.
    public var body: [UInt8]

    /// Creates a record value.
    public init(sequence: UInt64, body: [UInt8]) {
        self.sequence = sequence
        self.body = body
    }
}

/// A segment file: `wal-<20-digit first sequence>.log`.
struct Segment: Sendable, Equatable {
    var firstSequence: UInt64
    var name: String { LogFormat.segmentName(firstSequence) }
}

/// Where a segment's scan stopped early.
struct ScanProblem {
    /// Byte offset of the record that failed.
    var offset: Int
    var reason: String
    /// The bad bytes could be a write cut short by a crash: nothing intact follows them.
    var couldBeTorn: Bool
}

/// The result of scanning one segment.
struct SegmentScan {
    /// Valid records in the segment (before any problem).
    var records = 0
    /// Offset just past the last valid record.
    var validBytes = 0
    var problem: ScanProblem?
}

enum LogFormat {
    static let headerBytes = StoreLimits.recordHeaderBytes
    static let sequenceDigits = 20

    // MARK: - Names

    /// `wal-00000000000000000042.log`.
    static func segmentName(_ firstSequence: UInt64) -> String {
        "wal-" + zeroPadded(firstSequence) + ".log"
    }

    /// The first sequence of a segment file name, or nil when `name` is not a segment.
    static func parseSegmentName(_ name: String) -> UInt64? {
        parseNumberedName(name, prefix: "wal-", suffix: ".log")
    }

    /// The number in `<prefix><20 digits><suffix>`, or nil.
    static func parseNumberedName(_ name: String, prefix: String, suffix: String) -> UInt64? {
        guard name.hasPrefix(prefix), name.hasSuffix(suffix) else { return nil }
        let digits = name.utf8.dropFirst(prefix.utf8.count).dropLast(suffix.utf8.count)
        guard digits.count == sequenceDigits, digits.allSatisfy({ $0 >= 48 && $0 <= 57 }) else { return nil }
        return UInt64(String(decoding: digits, as: UTF8.self))
    }

    /// A sequence number as 20 decimal digits, so names sort like numbers.
    static func zeroPadded(_ value: UInt64) -> String {
        let digits = String(value)
        return String(repeating: "0", count: sequenceDigits - digits.count) + digits
    }

    // MARK: - Records

    /// Appends the encoded record to `buffer`.
    static func encode(sequence: UInt64, body: [UInt8], into buffer: inout [UInt8]) {
        buffer.appendBigEndian(UInt32(body.count))
        let sequenceStart = buffer.count
        buffer.appendBigEndian(sequence)
        var crc = CRC32C()
        crc.update(buffer[sequenceStart...])
        crc.update(body)
        buffer.appendBigEndian(crc.value)
        buffer.append(contentsOf: body)
    }

    /// Size of the record that starts at `offset` of a well-formed buffer.
    static func recordSize(in bytes: [UInt8], at offset: Int) -> Int {
        headerBytes + Int(bytes.readBigEndianUInt32(at: offset))
    }

    /// Whether the record at `offset` is complete, within limits, and its checksum matches.
    /// Returns a reason when it is not.
    static func checkRecord(_ bytes: [UInt8], at offset: Int, recordBytesMax: Int) -> String? {
        let remaining = bytes.count - offset
        if remaining < headerBytes { return "short header: \(remaining) of \(headerBytes) bytes" }
        let length = Int(bytes.readBigEndianUInt32(at: offset))
        if length > recordBytesMax { return "body length \(length) exceeds the limit \(recordBytesMax)" }
        if remaining - headerBytes < length {
            return "short body: \(remaining - headerBytes) of \(length) bytes"
        }
        var crc = CRC32C()
        crc.update(bytes[(offset + 4)..<(offset + 12)])
        crc.update(bytes[(offset + headerBytes)..<(offset + headerBytes + length)])
        if crc.value != bytes.readBigEndianUInt32(at: offset + 12) { return "checksum mismatch" }
        return nil
    }

    // MARK: - Scanning

    /// Walks the records of one segment whose first record must carry `firstSequence`, calling
    /// `visit` with each valid record's sequence and body range, and stops at the first problem.
    static func scan(
        _ bytes: [UInt8], firstSequence: UInt64, recordBytesMax: Int,
        visit: (UInt64, Range<Int>) throws -> Void
    ) rethrows -> SegmentScan {
        var result = SegmentScan()
        var expected = firstSequence
        var offset = 0
        while offset < bytes.count {
            if let reason = checkRecord(bytes, at: offset, recordBytesMax: recordBytesMax) {
                let torn = !intactRecordFollows(
                    bytes, after: offset, expected: expected, recordBytesMax: recordBytesMax)
                result.problem = ScanProblem(offset: offset, reason: reason, couldBeTorn: torn)
                return result
            }
            let sequence = bytes.readBigEndianUInt64(at: offset + 4)
            if sequence != expected {
                // An intact record with the wrong number is never a torn write.
                let reason = "sequence \(sequence) where \(expected) was expected"
                result.problem = ScanProblem(offset: offset, reason: reason, couldBeTorn: false)
                return result
            }
            let end = offset + recordSize(in: bytes, at: offset)
            try visit(sequence, (offset + headerBytes)..<end)
            result.records += 1
            result.validBytes = end
            expected += 1
            offset = end
        }
        return result
    }

    /// Whether any intact record with a plausible sequence starts after the bad one at `offset`.
    /// A crash tears only the end of what was being written, so intact data after a bad record
    /// means the bad record is damage, not a torn tail: a flipped length bit must not be allowed
    /// to pass acknowledged records after it off as a torn tail.
    static func intactRecordFollows(
        _ bytes: [UInt8], after offset: Int, expected: UInt64, recordBytesMax: Int
    ) -> Bool {
        let recordsThatFit = UInt64((bytes.count - offset) / headerBytes + 1)
        var candidate = offset + 1
        while candidate + headerBytes <= bytes.count {
            let sequence = bytes.readBigEndianUInt64(at: candidate + 4)
            if sequence >= expected, sequence - expected <= recordsThatFit,
                checkRecord(bytes, at: candidate, recordBytesMax: recordBytesMax) == nil
            {
                return true
            }
            candidate += 1
        }
        return false
    }
}

// MARK: - Big-endian helpers

extension Array where Element == UInt8 {
    mutating func appendBigEndian(_ value: UInt32) {
        for shift in stride(from: 24, through: 0, by: -8) { append(UInt8(truncatingIfNeeded: value >> UInt32(shift))) }
    }

    mutating func appendBigEndian(_ value: UInt64) {
        for shift in stride(from: 56, through: 0, by: -8) { append(UInt8(truncatingIfNeeded: value >> UInt64(shift))) }
    }

    func readBigEndianUInt32(at offset: Int) -> UInt32 {
        var value: UInt32 = 0
        for index in offset..<(offset + 4) { value = value << 8 | UInt32(self[index]) }
        return value
    }

    func readBigEndianUInt64(at offset: Int) -> UInt64 {
        var value: UInt64 = 0
        for index in offset..<(offset + 8) { value = value << 8 | UInt64(self[index]) }
        return value
    }
}
