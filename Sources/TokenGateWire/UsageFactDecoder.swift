// A direct decoder for the one fact recovery replays millions of times: a FactRecord holding a
// usage event. It reads the protobuf bytes in Swift, without protobuf-c's allocations and C
// strings (a third of the recovering thread's time, issue 6). It accepts only the plain shape
// the daemon writes (each field at most once, known fields, known wire types, no NUL in a
// string, no metadata pairs) and returns nil for anything else, which then goes through
// protobuf-c as before; so both paths give the same Fact for every input (tested).
// No pointers: it indexes the caller's array.

import TokenGateCore

enum UsageFactDecoder {
    /// Protobuf wire types used here.
    private static let varint: UInt64 = 0
    private static let lengthDelimited: UInt64 = 2

    /// The usage fact in `bytes`, or nil when the bytes are not in the plain shape.
    static func decode(_ bytes: [UInt8]) -> Fact? {
        let span = bytes
        var reader = Reader(end: span.count)
        guard let key = reader.varint(span), key == (1 << 3 | lengthDelimited),
            let length = reader.length(span)
        else { return nil }
        let body = reader.offset..<(reader.offset + length)
        guard body.upperBound == span.count, let event = usageEvent(span, body) else { return nil }
        return .usage(event)
    }

    /// A UsageEventRecord in `span[range]`.
    private static func usageEvent(_ span: [UInt8], _ range: Range<Int>) -> UsageEvent? {
        var reader = Reader(offset: range.lowerBound, end: range.upperBound)
        var strings = [String](repeating: "", count: 6)
        var numbers = [UInt64](repeating: 0, count: 6)
        var metadata = UsageMetadata()
        var seen: UInt32 = 0
        while reader.offset < reader.end {
            guard let key = reader.varint(span) else { return nil }
            let field = key >> 3
            guard field >= 1 && field <= 13, seen & (1 << UInt32(field)) == 0 else { return nil }
            seen |= 1 << UInt32(field)
            switch (field, key & 7) {
            case (1...6, lengthDelimited):
                guard let string = reader.string(span) else { return nil }
                strings[Int(field) - 1] = string
            case (7...11, varint), (13, varint):
                guard let value = reader.varint(span) else { return nil }
                numbers[field == 13 ? 5 : Int(field) - 7] = value
            case (12, lengthDelimited):
                guard let length = reader.length(span),
                    let decoded = usageMetadata(span, reader.offset..<(reader.offset + length))
                else { return nil }
                metadata = decoded
                reader.offset += length
            default:
                return nil
            }
        }
        return UsageEvent(
            eventID: strings[0], shopID: strings[1], userID: strings[2], conversationID: strings[3],
            operationType: strings[4], model: strings[5], inputTokens: numbers[0], outputTokens: numbers[1],
            cachedInputTokens: numbers[2], occurredAtUnixMs: Int64(bitPattern: numbers[3]),
            costNanoUSD: Int64(bitPattern: numbers[4]), metadata: metadata,
            recordedAtUnixMs: Int64(bitPattern: numbers[5]))
    }

    /// A UsageMetadata without pairs in `span[range]`.
    private static func usageMetadata(_ span: [UInt8], _ range: Range<Int>) -> UsageMetadata? {
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
        mutating func varint(_ span: [UInt8]) -> UInt64? {
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
        mutating func length(_ span: [UInt8]) -> Int? {
            guard let length = varint(span), length <= UInt64(end - offset) else { return nil }
            return Int(length)
        }

        /// A string field: valid UTF-8 without NUL (protobuf-c's C strings end at a NUL).
        mutating func string(_ span: [UInt8]) -> String? {
            guard let length = length(span) else { return nil }
            let range = offset..<(offset + length)
            offset += length
            for index in range where span[index] == 0 { return nil }
            return String(validating: span[range], as: UTF8.self)
        }
    }
}
