// A direct decoder for the one fact recovery replays millions of times: a FactRecord holding a
// usage event. It reads the protobuf bytes in Swift, without protobuf-c's allocations and C
// strings (a third of the recovering thread's time, issue 6). It accepts only the plain shape
// the daemon writes (each field at most once, known fields, known wire types, ASCII strings
// without NUL, no metadata pairs) and returns nil for anything else, which then goes through
// protobuf-c as before; so both paths give the same Fact for every input (tested). Recovery
// takes the event with its text left in the log segment's bytes (`UsageEventBytes`), so that
// no String is made per field.
//
// Buffer ownership: the decoder reads the caller's array through the pointer
// `withUnsafeBufferPointer` lends for one call of `decode`; every offset is checked against the
// record's range before it is read (PlainProtoReader), and no pointer outlives the call (the
// result holds the array itself and ranges of it). Bounds-checked indexing cost three times as
// many instructions per byte of text (callgrind, issue 6).

import TokenGateCore

enum UsageFactDecoder {
    private static let varint = PlainProtoReader.varint
    private static let lengthDelimited = PlainProtoReader.lengthDelimited

    /// The usage fact in `bytes`, or nil when the bytes are not in the plain shape.
    static func decode(_ bytes: [UInt8]) -> Fact? {
        decode(bytes, bytes.indices).map { .usage($0.event(in: bytes)) }
    }

    /// The usage event of the FactRecord in `buffer[range]` with its text left in `buffer`, or
    /// nil when those bytes are not in the plain shape.
    static func decode(_ buffer: [UInt8], _ range: Range<Int>) -> UsageEventBytes? {
        precondition(range.lowerBound >= 0 && range.upperBound <= buffer.count, "record range outside its buffer")
        guard range.upperBound <= UsageEventBytes.offsetMax else { return nil }
        var event = UsageEventBytes()
        let decoded = buffer.withUnsafeBufferPointer { bytes in
            var reader = PlainProtoReader(bytes, offset: range.lowerBound, end: range.upperBound)
            guard let key = reader.varint(), key == (1 << 3 | lengthDelimited), let length = reader.length(),
                reader.offset + length == range.upperBound
            else { return false }
            return usageEvent(PlainProtoReader(bytes, offset: reader.offset, end: range.upperBound), into: &event)
        }
        guard decoded else { return nil }
        return event
    }

    /// Reads the UsageEventRecord `reader` covers into `event`; false when it is not plain.
    private static func usageEvent(_ reader: PlainProtoReader, into event: inout UsageEventBytes) -> Bool {
        var reader = reader
        var seen: UInt32 = 0
        while reader.offset < reader.end {
            guard let (field, type) = reader.key(fieldsMax: 14, seen: &seen) else { return false }
            switch (field, type) {
            case (1...6, lengthDelimited):
                guard let string = reader.asciiRange() else { return false }
                switch field {
                case 1: event.eventID = string
                case 2: event.shopID = string
                case 3: event.userID = string
                case 4: event.conversationID = string
                case 5: event.operationType = string
                default: event.model = string
                }
            case (7...11, varint), (13, varint):
                guard let value = reader.varint() else { return false }
                switch field {
                case 7: event.inputTokens = value
                case 8: event.outputTokens = value
                case 9: event.cachedInputTokens = value
                case 10: event.occurredAtUnixMs = Int64(bitPattern: value)
                case 11: event.costNanoUSD = Int64(bitPattern: value)
                default: event.recordedAtUnixMs = Int64(bitPattern: value)
                }
            case (14, lengthDelimited):
                guard let string = reader.asciiRange() else { return false }
                event.billingPeriod = string
            case (12, lengthDelimited):
                guard let length = reader.length(),
                    let decoded = usageMetadata(PlainProtoReader(reader.bytes, offset: reader.offset, end: reader.offset + length))
                else { return false }
                event.messageLength = decoded.messageLength
                event.historyLength = decoded.historyLength
                event.knowledgeBaseSize = decoded.knowledgeBaseSize
                reader.offset += length
            default:
                return false
            }
        }
        return true
    }

    /// The UsageMetadata without pairs `reader` covers (also LogUsageRequest's, which has the
    /// same fields).
    static func usageMetadata(_ reader: PlainProtoReader) -> UsageMetadata? {
        var reader = reader
        var metadata = UsageMetadata()
        var seen: UInt32 = 0
        while reader.offset < reader.end {
            guard let (field, type) = reader.key(fieldsMax: 3, seen: &seen), type == varint,
                let value = reader.varint()
            else { return nil }
            switch field {
            case 1:
                guard let narrow = UInt32(exactly: value) else { return nil }
                metadata.messageLength = narrow
            case 2:
                guard let narrow = UInt32(exactly: value) else { return nil }
                metadata.historyLength = narrow
            default:
                metadata.knowledgeBaseSize = value
            }
        }
        return metadata
    }
}
