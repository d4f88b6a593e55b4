// A direct decoder for the one fact recovery replays millions of times: a FactRecord holding a
// usage event. It reads the protobuf bytes in Swift, without protobuf-c's allocations and C
// strings (a third of the recovering thread's time, issue 6). It accepts only the plain shape
// the daemon writes (each field at most once, known fields, known wire types, ASCII strings
// without NUL, no metadata pairs) and returns nil for anything else, which then goes through
// protobuf-c as before; so both paths give the same Fact for every input (tested).
// It borrows the caller's array through PlainProtoReader.

import TokenGateCore

enum UsageFactDecoder {
    private static let varint = PlainProtoReader.varint
    private static let lengthDelimited = PlainProtoReader.lengthDelimited

    /// The usage fact in `bytes`, or nil when the bytes are not in the plain shape.
    static func decode(_ bytes: [UInt8]) -> Fact? {
        PlainProtoReader.reading(bytes) { reader in
            guard let key = reader.varint(), key == (1 << 3 | lengthDelimited), let length = reader.length(),
                reader.offset + length == reader.end,
                let event = usageEvent(PlainProtoReader(reader.bytes, offset: reader.offset, end: reader.end))
            else { return nil }
            return .usage(event)
        }
    }

    /// The UsageEventRecord `reader` covers.
    private static func usageEvent(_ reader: PlainProtoReader) -> UsageEvent? {
        var reader = reader
        // Plain locals, not arrays: this runs once per replayed event.
        var event = UsageEvent(
            eventID: "", shopID: "", userID: "", conversationID: "", operationType: "", model: "", inputTokens: 0,
            outputTokens: 0, cachedInputTokens: 0, occurredAtUnixMs: 0, costNanoUSD: 0, metadata: UsageMetadata(),
            recordedAtUnixMs: 0)
        var seen: UInt32 = 0
        while reader.offset < reader.end {
            guard let (field, type) = reader.key(fieldsMax: 13, seen: &seen) else { return nil }
            switch (field, type) {
            case (1...6, lengthDelimited):
                guard let string = reader.string() else { return nil }
                switch field {
                case 1: event.eventID = string
                case 2: event.shopID = string
                case 3: event.userID = string
                case 4: event.conversationID = string
                case 5: event.operationType = string
                default: event.model = string
                }
            case (7...11, varint), (13, varint):
                guard let value = reader.varint() else { return nil }
                switch field {
                case 7: event.inputTokens = value
                case 8: event.outputTokens = value
                case 9: event.cachedInputTokens = value
                case 10: event.occurredAtUnixMs = Int64(bitPattern: value)
                case 11: event.costNanoUSD = Int64(bitPattern: value)
                default: event.recordedAtUnixMs = Int64(bitPattern: value)
                }
            case (12, lengthDelimited):
                guard let length = reader.length(),
                    let decoded = usageMetadata(PlainProtoReader(reader.bytes, offset: reader.offset, end: reader.offset + length))
                else { return nil }
                event.metadata = decoded
                reader.offset += length
            default:
                return nil
            }
        }
        return event
    }

    /// The UsageMetadata without pairs `reader` covers.
    private static func usageMetadata(_ reader: PlainProtoReader) -> UsageMetadata? {
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
