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
// record's range before it is read, and no pointer outlives the call (the result holds the
// array itself and ranges of it). Bounds-checked indexing cost three times as many
// instructions per byte of text (callgrind, issue 6).

import TokenGateCore

enum UsageFactDecoder {
    /// Protobuf wire types used here.
    private static let varint: UInt64 = 0
    private static let lengthDelimited: UInt64 = 2

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
            var reader = Reader(offset: range.lowerBound, end: range.upperBound)
            guard let key = reader.varint(bytes), key == (1 << 3 | lengthDelimited),
                let length = reader.length(bytes)
            else { return false }
            let body = reader.offset..<(reader.offset + length)
            guard body.upperBound == range.upperBound else { return false }
            return usageEvent(bytes, body, into: &event)
        }
        guard decoded else { return nil }
        return event
    }

    /// Reads a UsageEventRecord in `span[range]` into `event`; false when it is not plain.
    private static func usageEvent(
        _ span: UnsafeBufferPointer<UInt8>, _ range: Range<Int>, into event: inout UsageEventBytes
    ) -> Bool {
        var reader = Reader(offset: range.lowerBound, end: range.upperBound)
        var seen: UInt32 = 0
        while reader.offset < reader.end {
            guard let key = reader.varint(span) else { return false }
            let field = key >> 3
            guard field >= 1 && field <= 13, seen & (1 << UInt32(field)) == 0 else { return false }
            seen |= 1 << UInt32(field)
            switch (field, key & 7) {
            case (1...6, lengthDelimited):
                guard let string = reader.string(span) else { return false }
                switch field {
                case 1: event.eventID = string
                case 2: event.shopID = string
                case 3: event.userID = string
                case 4: event.conversationID = string
                case 5: event.operationType = string
                default: event.model = string
                }
            case (7...11, varint), (13, varint):
                guard let value = reader.varint(span) else { return false }
                switch field {
                case 7: event.inputTokens = value
                case 8: event.outputTokens = value
                case 9: event.cachedInputTokens = value
                case 10: event.occurredAtUnixMs = Int64(bitPattern: value)
                case 11: event.costNanoUSD = Int64(bitPattern: value)
                default: event.recordedAtUnixMs = Int64(bitPattern: value)
                }
            case (12, lengthDelimited):
                guard let length = reader.length(span),
                    let decoded = usageMetadata(span, reader.offset..<(reader.offset + length))
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

    /// A UsageMetadata without pairs in `span[range]`.
    private static func usageMetadata(_ span: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) -> UsageMetadata? {
        var reader = Reader(offset: range.lowerBound, end: range.upperBound)
        var metadata = UsageMetadata()
        var seen: UInt32 = 0
        while reader.offset < reader.end {
            guard let key = reader.varint(span), key & 7 == varint else { return nil }
            let field = key >> 3
            guard field >= 1 && field <= 3, seen & (1 << UInt32(field)) == 0, let value = reader.varint(span) else {
                return nil
            }
            seen |= 1 << UInt32(field)
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

    /// A cursor over `offset..<end` of a span.
    private struct Reader {
        var offset = 0
        let end: Int

        init(offset: Int = 0, end: Int) {
            self.offset = offset
            self.end = end
        }

        /// A base-128 varint of at most 10 bytes that fits in 64 bits.
        mutating func varint(_ span: UnsafeBufferPointer<UInt8>) -> UInt64? {
            var value: UInt64 = 0
            var shift: UInt64 = 0
            while offset < end && shift < 64 {
                let byte = span[offset]
                offset += 1
                if shift == 63 && byte > 1 { return nil }
                value |= UInt64(byte & 0x7F) << shift
                if byte & 0x80 == 0 { return value }
                shift += 7
            }
            return nil
        }

        /// A length prefix that stays inside the reader's range.
        mutating func length(_ span: UnsafeBufferPointer<UInt8>) -> Int? {
            guard let length = varint(span), length <= UInt64(end - offset) else { return nil }
            return Int(length)
        }

        /// A string field of ASCII without NUL, the ids and names the daemon writes. Anything
        /// else (other UTF-8 needs validating; protobuf-c's C strings end at a NUL) is left to
        /// protobuf-c. ASCII is valid UTF-8, so decoding it cannot repair anything.
        /// Returns the string's range of `span`; its bytes are checked in one branch-free pass.
        mutating func string(_ span: UnsafeBufferPointer<UInt8>) -> Range<Int>? {
            guard let length = length(span) else { return nil }
            let range = offset..<(offset + length)
            offset += length
            var high: UInt8 = 0
            var low: UInt8 = 0xFF
            for index in range {
                high |= span[index]
                low = min(low, span[index])
            }
            return high < 0x80 && low > 0 ? range : nil
        }
    }
}
