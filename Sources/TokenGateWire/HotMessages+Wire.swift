// Hand-written encoders for the two messages of every CanMakeRequest, the gate chat workers call
// before each LLM call: the request (encoded by the client) and the response (by the daemon).
// protobuf-c's generic pack cost about 2,500 instructions a message here (a C struct built
// through an arena, a size pass and a pack pass over descriptors); these write the same bytes
// directly. The bytes are exactly protobuf-c's (fields in number order, proto3 defaults
// omitted, strings cut at a NUL, enums and int64 as sign-extended varints), and the tests check
// them against protobuf-c's own pack. Decoding still goes through protobuf-c and its checks.
//
// Buffer ownership: Swift arrays only; a string's UTF-8 is borrowed inside `withCStringBytes`.

import TokenGateCore

extension CanMakeRequestRequest {
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

extension CanMakeRequestResponse {
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
