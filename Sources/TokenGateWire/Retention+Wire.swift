// Protobuf conversion of `Fact.monthAggregate` (storage.proto `MonthAggregateRecord`): the
// totals of a month whose raw events retention dropped, as snapshots store them. The period is
// validated on decode, so a damaged record is DATA_LOSS rather than a trap at replay.
//
// Buffer ownership: as in Facts+Wire.swift, `init(copying:)` reads protobuf-c's unpacked tree
// only while `ProtobufC.unpack` runs, and `cMessage(in:)` builds pointers owned by the arena.

import CProtobufC
import TokenGateCore
import TokenGateProtoC

/// `Fact.monthAggregate`'s payload as a value of its own, so it converts like every message.
struct MonthAggregateRecord: CMessageEncodable {
    static let protoName = "tokengate.v1.MonthAggregateRecord"
    var shopID: String
    var month: MonthKey
    var aggregate: MonthAggregate

    init(shopID: String, month: MonthKey, aggregate: MonthAggregate) {
        self.shopID = shopID
        self.month = month
        self.aggregate = aggregate
    }

    static func cEmpty() -> Tokengate__V1__MonthAggregateRecord {
        var c = Tokengate__V1__MonthAggregateRecord()
        tokengate__v1__month_aggregate_record__init(&c)
        return c
    }

    init(copying c: Tokengate__V1__MonthAggregateRecord) throws(FieldError) {
        let period = try copyString(c.period, field: "period")
        let month: MonthKey
        do throws(TokenGateError) {
            month = try MonthKey(parsing: period)
        } catch {
            throw FieldError(field: "period", problem: .invalid(error.message))
        }
        self.init(
            shopID: try copyString(c.shop_id, field: "shop_id"), month: month,
            aggregate: MonthAggregate(
                messages: c.messages, inputTokens: c.input_tokens, outputTokens: c.output_tokens,
                cachedInputTokens: c.cached_input_tokens, costNanoUSD: c.cost_nano_usd))
    }

    func cMessage(in arena: inout CArena) -> Tokengate__V1__MonthAggregateRecord {
        var c = Self.cEmpty()
        c.shop_id = arena.cString(shopID)
        c.period = arena.cString(month.text)
        c.messages = aggregate.messages
        c.input_tokens = aggregate.inputTokens
        c.output_tokens = aggregate.outputTokens
        c.cached_input_tokens = aggregate.cachedInputTokens
        c.cost_nano_usd = aggregate.costNanoUSD
        return c
    }
}
