// Protobuf encoding of the store's facts (storage.proto `FactRecord`): the bodies of
// write-ahead log records and snapshot entries. Facts are what happened, with results already
// computed, so decoding a fact never re-evaluates prices; a fact that will not decode is damage
// on disk, reported as DATA_LOSS. What is here are the hand-written fast paths of the usage
// record (the bulk of every log and snapshot); every other fact goes through the generated
// conversion of `FactRecordWire` and the mapping in DomainMapping.swift.
//
// Buffer ownership: Swift arrays only; protobuf-c's memory rules are in ProtobufC.swift.

import TokenGateCore

/// Converts `Fact` values to and from the bytes the write-ahead log and snapshots store.
public enum FactCodec {
    /// The protobuf bytes of `fact` (a `tokengate.v1.FactRecord`).
    public static func encode(_ fact: Fact) -> [UInt8] {
        if case .usage(let event) = fact, event.metadata.extra.isEmpty { return encodeUsage(event) }
        return ProtobufC.pack(fact)
    }

    /// A usage event without metadata pairs, the record of every LogUsage, as protobuf-c packs
    /// it (fields in number order, proto3 defaults omitted, strings cut at a NUL, the metadata
    /// message always present) but written directly: protobuf-c's pack cost about 5,000
    /// instructions a record. Tested against protobuf-c's bytes.
    static func encodeUsage(_ event: UsageEvent) -> [UInt8] {
        let metadata = [UInt64(event.metadata.messageLength), UInt64(event.metadata.historyLength), event.metadata.knowledgeBaseSize]
        var record: [UInt8] = []
        record.reserveCapacity(
            ProtoFields.overheadBytes + event.eventID.utf8.count + event.shopID.utf8.count + event.userID.utf8.count
                + event.conversationID.utf8.count + event.operationType.utf8.count + event.model.utf8.count)
        ProtoFields.appendString(1, event.eventID, to: &record)
        ProtoFields.appendString(2, event.shopID, to: &record)
        ProtoFields.appendString(3, event.userID, to: &record)
        ProtoFields.appendString(4, event.conversationID, to: &record)
        ProtoFields.appendString(5, event.operationType, to: &record)
        ProtoFields.appendString(6, event.model, to: &record)
        EnvelopeCodec.appendVarintField(7, event.inputTokens, to: &record)
        EnvelopeCodec.appendVarintField(8, event.outputTokens, to: &record)
        EnvelopeCodec.appendVarintField(9, event.cachedInputTokens, to: &record)
        EnvelopeCodec.appendVarintField(10, UInt64(bitPattern: event.occurredAtUnixMs), to: &record)
        EnvelopeCodec.appendVarintField(11, UInt64(bitPattern: event.costNanoUSD), to: &record)
        // The metadata message in place: its fields 1...3 are varints with one-byte tags.
        EnvelopeCodec.appendVarint(12 << 3 | 2, to: &record)
        let metadataBytes = metadata.reduce(0) { $0 + ($1 == 0 ? 0 : 1 + EnvelopeCodec.varintSize($1)) }
        EnvelopeCodec.appendVarint(UInt64(metadataBytes), to: &record)
        for (index, value) in metadata.enumerated() { EnvelopeCodec.appendVarintField(UInt64(index + 1), value, to: &record) }
        EnvelopeCodec.appendVarintField(13, UInt64(bitPattern: event.recordedAtUnixMs), to: &record)
        // Only a late event carries its bill (proto3 omits the empty string, as protobuf-c does).
        ProtoFields.appendString(14, event.billingPeriod, to: &record)
        var fact: [UInt8] = []
        fact.reserveCapacity(record.count + 6)
        EnvelopeCodec.appendVarint(1 << 3 | 2, to: &fact)
        EnvelopeCodec.appendVarint(UInt64(record.count), to: &fact)
        fact.append(contentsOf: record)
        return fact
    }

    /// Decodes a stored fact.
    ///
    /// - Throws: `DATA_LOSS` when the bytes are not a `tokengate.v1.FactRecord`, hold no fact, or
    ///   hold a string that is not valid UTF-8 (the message names the field).
    public static func decode(_ bytes: [UInt8]) throws(TokenGateError) -> Fact {
        // Usage events, the bulk of every log and snapshot, skip protobuf-c (UsageFactDecoder.swift).
        if bytes.count <= WireLimits.messageBytesMax, let fact = UsageFactDecoder.decode(bytes) { return fact }
        return try decodeWithProtobufC(bytes)
    }

    /// The usage event of the FactRecord in `buffer[range]`, its text left in `buffer`, when the
    /// record is one the direct decoder reads; nil for anything else (then use `decode`).
    /// `decode(Array(buffer[range]))` is then `.usage(result.event(in: buffer))`.
    public static func decodeUsage(_ buffer: [UInt8], _ range: Range<Int>) -> UsageEventBytes? {
        guard range.count <= WireLimits.messageBytesMax else { return nil }
        return UsageFactDecoder.decode(buffer, range)
    }

    /// `decode` through protobuf-c alone (also the reference the direct decoder is tested against).
    static func decodeWithProtobufC(_ bytes: [UInt8]) throws(TokenGateError) -> Fact {
        switch ProtobufC.unpack(bytes, as: Fact.self) {
        case .success(let fact):
            return fact
        case .failure(.tooLarge(let byteCount)):
            throw TokenGateError(
                .dataLoss, "fact record of \(byteCount) bytes is over the \(WireLimits.messageBytesMax)-byte limit"
            )
        case .failure(.undecodable):
            throw TokenGateError(.dataLoss, "bytes are not a \(Fact.protoName) (\(bytes.count) bytes)")
        case .failure(.field(let error)):
            throw TokenGateError(.dataLoss, error.describe(in: "fact_record"))
        }
    }
}
