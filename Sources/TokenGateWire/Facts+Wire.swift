// Protobuf encoding of the store's facts (storage.proto `FactRecord`): the bodies of
// write-ahead log records and snapshot entries. Facts are what happened, with results already
// computed, so decoding a fact never re-evaluates prices; a fact that will not decode is damage
// on disk, reported as DATA_LOSS.
//
// Buffer ownership: as in Messages+Wire.swift, `init(copying:)` reads protobuf-c's unpacked tree
// only while `ProtobufC.unpack` runs, and `cMessage(in:)` builds pointers owned by the packing
// arena that live until `ProtobufC.pack` returns.

import CProtobufC
import TokenGateCore
import TokenGateProtoC

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

// MARK: - Conversion

extension Fact: CMessageEncodable {
    static let protoName = "tokengate.v1.FactRecord"

    static func cEmpty() -> Tokengate__V1__FactRecord {
        var c = Tokengate__V1__FactRecord()
        tokengate__v1__fact_record__init(&c)
        return c
    }

    init(copying c: Tokengate__V1__FactRecord) throws(FieldError) {
        switch c.fact_case {
        case TOKENGATE__V1__FACT_RECORD__FACT_USAGE:
            guard let usage: UsageEvent = try copyMessage(c.usage, field: "usage") else {
                throw FieldError(field: "usage", problem: .missing)
            }
            self = .usage(usage)
        case TOKENGATE__V1__FACT_RECORD__FACT_BILLING:
            guard let billing: BillingRecord = try copyMessage(c.billing, field: "billing") else {
                throw FieldError(field: "billing", problem: .missing)
            }
            self = .billing(billing)
        case TOKENGATE__V1__FACT_RECORD__FACT_TIER_ASSIGNMENT:
            let assignment: TierAssignmentRecord = try copyRequiredMessage(c.tier_assignment, field: "tier_assignment")
            self = .tierAssignment(shopID: assignment.shopID, tier: assignment.tier, effectiveFromUnixMs: assignment.effectiveFromUnixMs)
        case TOKENGATE__V1__FACT_RECORD__FACT_CONFIG_CHANGE:
            guard let change: ConfigChange = try copyMessage(c.config_change, field: "config_change") else {
                throw FieldError(field: "config_change", problem: .missing)
            }
            self = .configChange(change)
        case TOKENGATE__V1__FACT_RECORD__FACT_MONTH_AGGREGATE:
            let record: MonthAggregateRecord = try copyRequiredMessage(c.month_aggregate, field: "month_aggregate")
            let month: MonthKey
            do throws(FieldError) {
                month = try record.month()
            } catch {
                throw error.nested(under: "month_aggregate")
            }
            self = .monthAggregate(shopID: record.shopID, month: month, aggregate: record.aggregate)
        default:
            if let fact = try Fact.reportFact(copying: c) {
                self = fact
                return
            }
            // NOT_SET: an empty record, or one written by a newer schema with a fact kind this
            // build does not know. Either way, replaying it would silently drop a fact.
            throw FieldError(field: "fact", problem: .missing)
        }
    }

    func cMessage(in arena: inout CArena) -> Tokengate__V1__FactRecord {
        var c = Self.cEmpty()
        switch self {
        case .usage(let event):
            c.fact_case = TOKENGATE__V1__FACT_RECORD__FACT_USAGE
            c.usage = arena.message(event)
        case .billing(let record):
            c.fact_case = TOKENGATE__V1__FACT_RECORD__FACT_BILLING
            c.billing = arena.message(record)
        case .tierAssignment(let shopID, let tier, let effectiveFrom):
            c.fact_case = TOKENGATE__V1__FACT_RECORD__FACT_TIER_ASSIGNMENT
            c.tier_assignment = arena.message(TierAssignmentRecord(shopID: shopID, tier: tier, effectiveFromUnixMs: effectiveFrom))
        case .alert(let alert):
            c.fact_case = TOKENGATE__V1__FACT_RECORD__FACT_ALERT
            c.alert = arena.message(alert)
        case .voidMark(let mark):
            c.fact_case = TOKENGATE__V1__FACT_RECORD__FACT_VOID_RECORD
            c.void_record = arena.message(mark)
        case .paidMark(let mark):
            c.fact_case = TOKENGATE__V1__FACT_RECORD__FACT_PAID_MARK
            c.paid_mark = arena.message(mark)
        case .configChange(let change):
            c.fact_case = TOKENGATE__V1__FACT_RECORD__FACT_CONFIG_CHANGE
            c.config_change = arena.message(change)
        case .monthAggregate(let shopID, let month, let aggregate):
            c.fact_case = TOKENGATE__V1__FACT_RECORD__FACT_MONTH_AGGREGATE
            c.month_aggregate = arena.message(MonthAggregateRecord(shopID: shopID, month: month, aggregate: aggregate))
        }
        return c
    }
}
