// The log's record decoder as one public function, for the fuzz target and offline tools:
// the same scan recovery uses, over bytes already in memory.

/// Decodes the records of one log segment held in memory.
public enum LogRecordDecoder {
    /// The valid records of `bytes` (a segment whose first record carries `firstSequence`),
    /// and the first problem with its byte offset, if any.
    public static func decode(
        _ bytes: [UInt8], firstSequence: UInt64, recordBytesMax: Int = StoreLimits.defaultRecordBytesMax
    ) -> (records: [WALRecord], problem: (offset: Int, reason: String)?) {
        var records: [WALRecord] = []
        let scan = LogFormat.scan(bytes, firstSequence: firstSequence, recordBytesMax: recordBytesMax) { sequence, body in
            records.append(WALRecord(sequence: sequence, body: Array(bytes[body])))
        }
        return (records, scan.problem.map { ($0.offset, $0.reason) })
    }

    /// Encodes one record exactly as the log writes it (for tests and fuzz seeds).
    public static func encode(sequence: UInt64, body: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        LogFormat.encode(sequence: sequence, body: body, into: &out)
        return out
    }
}
