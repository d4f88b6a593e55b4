// Hand-written encoders for the two messages of every CanMakeRequest, the gate chat workers call
// before each LLM call: the request (encoded by the client) and the response (by the daemon);
// and a direct decoder of LogUsage's request, which chat workers send after each call.
// protobuf-c's generic pack cost about 2,500 instructions a message here (a C struct built
// through an arena, a size pass and a pack pass over descriptors); these write the same bytes
// directly. The bytes are exactly protobuf-c's (fields in number order, proto3 defaults
// omitted, strings cut at a NUL, enums and int64 as sign-extended varints), and the tests check
// them against protobuf-c's own pack. Decoding reads the plain shape these encoders write
// directly (HotMessageDecoder) and hands anything else to protobuf-c and its checks, so both
// paths decode every input alike (tested on seeded damaged inputs).
//
// Buffer ownership: Swift arrays only; a string's UTF-8 is borrowed inside `withCStringBytes`.

import TokenGateCore

extension CanMakeRequestRequest {
    /// Decodes and validates protobuf bytes; see `WireMessage.decode(_:)`.
    public static func decode(_ bytes: [UInt8]) throws(TokenGateError) -> Self {
        try decode(payload: bytes[...])
    }

    /// Decodes a request envelope's payload in place (the daemon's path: no copy).
    public static func decode(payload: ArraySlice<UInt8>) throws(TokenGateError) -> Self {
        if let plain = HotMessageDecoder.canMakeRequest(payload) { return plain }
        return try WireCodec.decode(Array(payload), fieldPrefix: "can_make_request")
    }

    /// The protobuf bytes of this message (the same bytes as protobuf-c's pack).
    public func encoded() -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(
            ProtoFields.overheadBytes + shopID.utf8.count + operationType.utf8.count + model.utf8.count
                + requestID.utf8.count)
        ProtoFields.appendString(1, shopID, to: &out)
        ProtoFields.appendString(2, operationType, to: &out)
        ProtoFields.appendString(3, model, to: &out)
        EnvelopeCodec.appendVarintField(4, estimatedInputTokens, to: &out)
        EnvelopeCodec.appendVarintField(5, maxOutputTokens, to: &out)
        ProtoFields.appendString(6, requestID, to: &out)
        EnvelopeCodec.appendVarintField(7, reserve ? 1 : 0, to: &out)
        return out
    }
}

extension LogUsageRequest {
    /// Decodes and validates protobuf bytes; an absent `metadata` decodes as empty metadata.
    public static func decode(_ bytes: [UInt8]) throws(TokenGateError) -> Self {
        try decode(payload: bytes[...])
    }

    /// Decodes a request envelope's payload in place: the plain shape directly (about 4,000
    /// instructions less than protobuf-c's unpack and copy), anything else through protobuf-c.
    public static func decode(payload: ArraySlice<UInt8>) throws(TokenGateError) -> Self {
        if let plain = HotMessageDecoder.logUsage(payload) { return plain }
        return try WireCodec.decode(Array(payload), fieldPrefix: "log_usage")
    }
}

extension CanMakeRequestResponse {
    /// Decodes and validates protobuf bytes; `decision` must be ALLOW or DENY.
    public static func decode(_ bytes: [UInt8]) throws(TokenGateError) -> Self {
        if let plain = HotMessageDecoder.canMakeRequestResponse(bytes) { return plain }
        return try WireCodec.decode(bytes, fieldPrefix: "can_make_request_response")
    }

    /// The protobuf bytes of this message (the same bytes as protobuf-c's pack).
    public func encoded() -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(
            ProtoFields.overheadBytes + message.utf8.count + reservationID.utf8.count + requestID.utf8.count)
        EnvelopeCodec.appendVarintField(1, ProtoFields.int32(decision.rawValue), to: &out)
        EnvelopeCodec.appendVarintField(2, ProtoFields.int32(reason.rawValue), to: &out)
        EnvelopeCodec.appendVarintField(3, warning ? 1 : 0, to: &out)
        ProtoFields.appendString(4, message, to: &out)
        EnvelopeCodec.appendVarintField(5, UInt64(bitPattern: dailyRemainingNanoUSD), to: &out)
        EnvelopeCodec.appendVarintField(6, UInt64(bitPattern: monthlyRemainingNanoUSD), to: &out)
        EnvelopeCodec.appendVarintField(7, UInt64(dailyUsedBasisPoints), to: &out)
        EnvelopeCodec.appendVarintField(8, UInt64(monthlyUsedBasisPoints), to: &out)
        EnvelopeCodec.appendVarintField(9, UInt64(bitPattern: estimatedCostNanoUSD), to: &out)
        ProtoFields.appendString(10, reservationID, to: &out)
        EnvelopeCodec.appendVarintField(11, UInt64(bitPattern: reservationExpiresUnixMs), to: &out)
        ProtoFields.appendString(12, requestID, to: &out)
        EnvelopeCodec.appendVarintField(13, shadowDenied ? 1 : 0, to: &out)
        EnvelopeCodec.appendVarintField(14, ProtoFields.int32(shadowReason.rawValue), to: &out)
        return out
    }
}

/// Direct decoders of the plain shape of the hot messages: each field at most once, known
/// fields with their wire types, ASCII strings without NUL, bools 0 or 1, enums the Swift type
/// knows. Nil for anything else, which the caller decodes with protobuf-c instead.
enum HotMessageDecoder {
    private static let varint = PlainProtoReader.varint
    private static let lengthDelimited = PlainProtoReader.lengthDelimited

    static func canMakeRequest(_ bytes: ArraySlice<UInt8>) -> CanMakeRequestRequest? {
        guard bytes.count <= WireLimits.messageBytesMax else { return nil }
        return PlainProtoReader.reading(bytes, canMakeRequest)
    }

    private static func canMakeRequest(_ reader: inout PlainProtoReader) -> CanMakeRequestRequest? {
        // Every field starts at its proto3 default (the Swift initializer's defaults differ).
        var request = CanMakeRequestRequest(
            shopID: "", operationType: "", model: "", estimatedInputTokens: 0, maxOutputTokens: 0, requestID: "",
            reserve: false)
        var seen: UInt32 = 0
        while reader.offset < reader.end {
            guard let (field, type) = reader.key(fieldsMax: 7, seen: &seen) else { return nil }
            switch (field, type) {
            case (1...3, lengthDelimited), (6, lengthDelimited):
                guard let string = reader.string() else { return nil }
                switch field {
                case 1: request.shopID = string
                case 2: request.operationType = string
                case 3: request.model = string
                default: request.requestID = string
                }
            case (4, varint):
                guard let value = reader.varint() else { return nil }
                request.estimatedInputTokens = value
            case (5, varint):
                guard let value = reader.varint() else { return nil }
                request.maxOutputTokens = value
            case (7, varint):
                guard let value = reader.bool() else { return nil }
                request.reserve = value
            default:
                return nil
            }
        }
        return request
    }

    static func logUsage(_ bytes: ArraySlice<UInt8>) -> LogUsageRequest? {
        guard bytes.count <= WireLimits.messageBytesMax else { return nil }
        return PlainProtoReader.reading(bytes, logUsage)
    }

    /// LogUsageRequest in the plain shape, metadata without pairs.
    private static func logUsage(_ reader: inout PlainProtoReader) -> LogUsageRequest? {
        // Every field starts at its proto3 default (the Swift initializer's defaults differ).
        var request = LogUsageRequest(eventID: "", shopID: "", operationType: "", model: "")
        var seen: UInt32 = 0
        while reader.offset < reader.end {
            guard let (field, type) = reader.key(fieldsMax: 12, seen: &seen) else { return nil }
            switch (field, type) {
            case (1...6, lengthDelimited), (11, lengthDelimited):
                guard let string = reader.string() else { return nil }
                switch field {
                case 1: request.eventID = string
                case 2: request.shopID = string
                case 3: request.userID = string
                case 4: request.conversationID = string
                case 5: request.operationType = string
                case 6: request.model = string
                default: request.reservationID = string
                }
            case (7...10, varint):
                guard let value = reader.varint() else { return nil }
                switch field {
                case 7: request.inputTokens = value
                case 8: request.outputTokens = value
                case 9: request.cachedInputTokens = value
                default: request.occurredAtUnixMs = Int64(bitPattern: value)
                }
            case (12, lengthDelimited):
                guard let length = reader.length(),
                    let metadata = UsageFactDecoder.usageMetadata(
                        PlainProtoReader(reader.bytes, offset: reader.offset, end: reader.offset + length))
                else { return nil }
                request.metadata = metadata
                reader.offset += length
            default:
                return nil
            }
        }
        return request
    }

    /// The envelope of every request frame: call id, a method path the daemon knows, deadline
    /// and payload, each once. The payload stays a slice of `frame`.
    static func requestEnvelope(_ frame: ArraySlice<UInt8>) -> RequestEnvelope? {
        let fields = PlainProtoReader.reading(frame) { reader -> (UInt64, Range<Int>, UInt64, Range<Int>)? in
            var callID: UInt64 = 0
            var method = 0..<0
            var deadline: UInt64 = 0
            var payload = 0..<0
            var seen: UInt32 = 0
            while reader.offset < reader.end {
                guard let (field, type) = reader.key(fieldsMax: 4, seen: &seen) else { return nil }
                switch (field, type) {
                case (1, varint), (3, varint):
                    guard let value = reader.varint() else { return nil }
                    if field == 1 { callID = value } else { deadline = value }
                case (2, lengthDelimited), (4, lengthDelimited):
                    guard let length = reader.length() else { return nil }
                    let range = reader.offset..<(reader.offset + length)
                    reader.offset += length
                    if field == 2 { method = range } else { payload = range }
                default:
                    return nil
                }
            }
            return (callID, method, deadline, payload)
        }
        guard let (callID, method, deadline, payload) = fields, let deadlineMs = UInt32(exactly: deadline) else { return nil }
        let base = frame.startIndex
        guard let path = EnvelopeCodec.knownMethod(frame[(base + method.lowerBound)..<(base + method.upperBound)]) else {
            return nil
        }
        return RequestEnvelope(
            callID: callID, method: path, deadlineMs: deadlineMs,
            payload: frame[(base + payload.lowerBound)..<(base + payload.upperBound)])
    }

    /// The envelope of every response frame: call id, status code, an ASCII status message,
    /// payload and end-of-stream flag, each once. The payload is copied out of `frame`, which
    /// is the reader's buffer.
    static func responseEnvelope(_ frame: ArraySlice<UInt8>) -> ResponseEnvelope? {
        PlainProtoReader.reading(frame) { reader -> ResponseEnvelope? in
            var envelope = ResponseEnvelope(callID: 0)
            var seen: UInt32 = 0
            while reader.offset < reader.end {
                guard let (field, type) = reader.key(fieldsMax: 5, seen: &seen) else { return nil }
                switch (field, type) {
                case (1, varint):
                    guard let value = reader.varint() else { return nil }
                    envelope.callID = value
                case (2, varint):
                    guard let value = reader.varint(), let code = UInt32(exactly: value) else { return nil }
                    envelope.statusCode = code
                case (3, lengthDelimited):
                    guard let message = reader.string() else { return nil }
                    envelope.statusMessage = message
                case (4, lengthDelimited):
                    guard let length = reader.length() else { return nil }
                    envelope.payload = Array(UnsafeBufferPointer(rebasing: reader.bytes[reader.offset..<(reader.offset + length)]))
                    reader.offset += length
                case (5, varint):
                    guard let value = reader.bool() else { return nil }
                    envelope.endOfStream = value
                default:
                    return nil
                }
            }
            return envelope
        }
    }

    static func canMakeRequestResponse(_ bytes: [UInt8]) -> CanMakeRequestResponse? {
        guard bytes.count <= WireLimits.messageBytesMax else { return nil }
        return PlainProtoReader.reading(bytes, canMakeRequestResponse)
    }

    private static func canMakeRequestResponse(_ reader: inout PlainProtoReader) -> CanMakeRequestResponse? {
        var response = CanMakeRequestResponse(decision: .allow, reason: .unspecified, shadowReason: .unspecified)
        var decision: Decision?
        var seen: UInt32 = 0
        // Strings are fields 4, 10 and 12; every other field is a varint. One switch on the
        // field number (a jump table), each case reading its value.
        let strings: UInt32 = 1 << 4 | 1 << 10 | 1 << 12
        while reader.offset < reader.end {
            guard let (field, type) = reader.key(fieldsMax: 14, seen: &seen),
                type == (strings & 1 << UInt32(field) != 0 ? lengthDelimited : varint)
            else { return nil }
            if type == lengthDelimited {
                guard let string = reader.string() else { return nil }
                switch field {
                case 4: response.message = string
                case 10: response.reservationID = string
                default: response.requestID = string
                }
                continue
            }
            guard let value = reader.varint() else { return nil }
            switch field {
            case 1:
                guard let number = Int32(exactly: value), let known = Decision(rawValue: number) else { return nil }
                decision = known
            case 2, 14:
                guard let number = Int32(exactly: value), let reason = DecisionReason(rawValue: number) else { return nil }
                if field == 2 { response.reason = reason } else { response.shadowReason = reason }
            case 3, 13:
                guard value <= 1 else { return nil }
                if field == 3 { response.warning = value == 1 } else { response.shadowDenied = value == 1 }
            case 7, 8:
                guard let narrow = UInt32(exactly: value) else { return nil }
                if field == 7 { response.dailyUsedBasisPoints = narrow } else { response.monthlyUsedBasisPoints = narrow }
            case 5: response.dailyRemainingNanoUSD = Int64(bitPattern: value)
            case 6: response.monthlyRemainingNanoUSD = Int64(bitPattern: value)
            case 9: response.estimatedCostNanoUSD = Int64(bitPattern: value)
            default: response.reservationExpiresUnixMs = Int64(bitPattern: value)
            }
        }
        // Only ALLOW and DENY are decisions; protobuf-c's path words the error for the rest.
        guard let decision, decision == .allow || decision == .deny else { return nil }
        response.decision = decision
        return response
    }
}

/// Field writers shared by the hand-written message encoders.
enum ProtoFields {
    /// Room for every tag and varint of the messages above (14 fields of at most 11 bytes).
    static let overheadBytes = 160

    /// A string field as protobuf-c packs it: cut at the first NUL, omitted when empty.
    static func appendString(_ field: UInt64, _ string: String, to out: inout [UInt8]) {
        EnvelopeCodec.withCStringBytes(string) { EnvelopeCodec.appendDelimitedField(field, $0, to: &out) }
    }

    /// An int32 (or enum) as a varint: negative values sign-extend to ten bytes.
    static func int32(_ value: Int32) -> UInt64 {
        UInt64(bitPattern: Int64(value))
    }
}
