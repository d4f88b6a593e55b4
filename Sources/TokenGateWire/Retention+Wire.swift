// `Fact.monthAggregate`'s payload (storage.proto `MonthAggregateRecord`, a generated type): the
// totals of a month whose raw events retention dropped, as snapshots store them. The period is
// validated on decode (WireRules.swift), so a damaged record is DATA_LOSS rather than a trap at
// replay. Only the mapping to the domain's `MonthKey` and `MonthAggregate` is written here.
//
// Buffer ownership: Swift values only.

import TokenGateCore

extension MonthAggregateRecord {
    /// The record of `aggregate`, the totals of `shopID` in `month`.
    init(shopID: String, month: MonthKey, aggregate: MonthAggregate) {
        self.init(
            shopID: shopID, period: month.text, messages: aggregate.messages, inputTokens: aggregate.inputTokens,
            outputTokens: aggregate.outputTokens, cachedInputTokens: aggregate.cachedInputTokens,
            costNanoUSD: aggregate.costNanoUSD)
    }

    /// The totals as the domain keeps them.
    var aggregate: MonthAggregate {
        MonthAggregate(
            messages: messages, inputTokens: inputTokens, outputTokens: outputTokens, cachedInputTokens: cachedInputTokens,
            costNanoUSD: costNanoUSD)
    }
}
