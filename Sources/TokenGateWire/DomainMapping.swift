// The domain rules between the wire shape of a message and the type callers use, for the
// messages the schema shapes differently from the domain (scripts/gen-swift.py `DOMAIN_SHAPED`).
// The generator writes each one's wire-shaped type (`PriceVersionWire`, ...) with its protobuf-c
// conversion and makes the domain type convert through it; only the mapping is written here:
// a price version under its model, a tier's "nil = unlimited", an operation's limits, the
// downgrade map, GetConfiguration's fallback price (no model), and a fact's inline cases.
// `init(wire:)` may refuse what the domain cannot hold (a duplicate downgrade, a bad period);
// `init(_:)` never fails. SchemaRoundTripTests walks both shapes.
//
// Buffer ownership: Swift values only (no C here).

import TokenGateCore

// MARK: - Prices

extension ModelPrice {
    init(wire: PriceVersionWire) throws(FieldError) {
        self.init(
            model: wire.model,
            version: PriceVersion(
                effectiveFromUnixMs: wire.effectiveFromUnixMs, base: wire.rates, promptTiers: wire.promptTiers, source: wire.source))
    }
}

extension PriceVersionWire {
    init(_ price: ModelPrice) {
        self.init(
            model: price.model, effectiveFromUnixMs: price.version.effectiveFromUnixMs, rates: price.version.base,
            promptTiers: price.version.promptTiers, source: price.version.source)
    }
}

// MARK: - Tiers: nil = unlimited (`unlimited_messages`), nil = no cap (`no_spend_cap`)

extension TierSettings {
    init(wire: TierConfigWire) throws(FieldError) {
        let tier = Tier(
            name: wire.name, monthlyFeeNanoUSD: wire.monthlyFeeNanoUSD,
            includedMessages: wire.unlimitedMessages ? nil : wire.includedMessages,
            overagePerMessageNanoUSD: wire.overagePerMessageNanoUSD,
            maxMonthlySpendNanoUSD: wire.noSpendCap ? nil : wire.maxMonthlySpendNanoUSD, selfServe: wire.selfServe)
        self.init(tier: tier, rateLimit: wire.rateLimit)
    }
}

extension TierConfigWire {
    init(_ settings: TierSettings) {
        let tier = settings.tier
        self.init(
            name: tier.name, monthlyFeeNanoUSD: tier.monthlyFeeNanoUSD, includedMessages: tier.includedMessages ?? 0,
            unlimitedMessages: tier.includedMessages == nil, overagePerMessageNanoUSD: tier.overagePerMessageNanoUSD,
            maxMonthlySpendNanoUSD: tier.maxMonthlySpendNanoUSD ?? 0, noSpendCap: tier.maxMonthlySpendNanoUSD == nil,
            selfServe: tier.selfServe, rateLimit: settings.rateLimit)
    }
}

// MARK: - Operation limits

extension OperationLimitsEntry {
    init(wire: OperationLimitsConfigWire) throws(FieldError) {
        let limits = OperationLimits(
            maxInputTokensPerMessage: wire.maxInputTokensPerMessage, maxOutputTokensPerMessage: wire.maxOutputTokensPerMessage,
            maxTotalTokensPerMessage: wire.maxTotalTokensPerMessage, dailyCostCapNanoUSD: wire.dailyCostCapNanoUSD,
            monthlyCostCapNanoUSD: wire.monthlyCostCapNanoUSD, alertThresholdPercent: wire.alertThresholdPercent)
        self.init(operationType: wire.operationType, shopID: wire.shopID, limits: limits)
    }
}

extension OperationLimitsConfigWire {
    init(_ entry: OperationLimitsEntry) {
        let limits = entry.limits
        self.init(
            operationType: entry.operationType, shopID: entry.shopID, maxInputTokensPerMessage: limits.maxInputTokensPerMessage,
            maxOutputTokensPerMessage: limits.maxOutputTokensPerMessage, maxTotalTokensPerMessage: limits.maxTotalTokensPerMessage,
            dailyCostCapNanoUSD: limits.dailyCostCapNanoUSD, monthlyCostCapNanoUSD: limits.monthlyCostCapNanoUSD,
            alertThresholdPercent: limits.alertThresholdPercent)
    }
}

// MARK: - Optimization rules: the downgrade list is a map; 0 = the limits' alert threshold

extension OptimizationRules {
    /// A `from_model` listed twice is a mistake the map cannot keep; it is refused.
    init(wire: OptimizationRulesConfigWire) throws(FieldError) {
        var map: [String: String] = [:]
        for (index, downgrade) in wire.downgrades.enumerated() {
            guard map.updateValue(downgrade.toModel, forKey: downgrade.fromModel) == nil else {
                throw FieldError(field: "downgrades[\(index)].from_model", problem: .duplicate)
            }
        }
        self.init(
            modelDowngrades: map, thresholdPercent: wire.thresholdPercent == 0 ? nil : wire.thresholdPercent,
            historyCap: wire.historyCap)
    }
}

extension OptimizationRulesConfigWire {
    /// The downgrades sorted by `from_model`, so equal rules encode to equal bytes.
    init(_ rules: OptimizationRules) {
        self.init(
            downgrades: rules.modelDowngrades.sorted { $0.key < $1.key }.map { ModelDowngrade(fromModel: $0.key, toModel: $0.value) },
            thresholdPercent: rules.thresholdPercent ?? 0, historyCap: rules.historyCap)
    }
}

// MARK: - GetConfiguration: the fallback price is a price version of no model

extension GetConfigurationResponse {
    init(wire: GetConfigurationResponseWire) throws(FieldError) {
        var prices: [ModelPrice] = []
        prices.reserveCapacity(wire.prices.count)
        for price in wire.prices { prices.append(try ModelPrice(wire: price)) }
        var tiers: [TierSettings] = []
        for tier in wire.tiers { tiers.append(try TierSettings(wire: tier)) }
        var limits: [OperationLimitsEntry] = []
        for entry in wire.limits { limits.append(try OperationLimitsEntry(wire: entry)) }
        let optimization: OptimizationRules
        do throws(FieldError) {
            optimization = try OptimizationRules(wire: wire.optimization)
        } catch {
            throw error.nested(under: "optimization")
        }
        var fallback: PriceVersion?
        if let price = wire.fallbackPrice { fallback = try ModelPrice(wire: price).version }
        self.init(
            prices: prices, fallbackPrice: fallback, tiers: tiers, defaultTier: wire.defaultTier, limits: limits, optimization: optimization,
            reservationTTLMs: wire.reservationTtlMs, unknownShopPolicy: wire.unknownShopPolicy, shadowMode: wire.shadowMode,
            shadowShops: wire.shadowShops, shopRateLimits: wire.shopRateLimits, shadowDeniedTotal: wire.shadowDeniedTotal)
    }
}

extension GetConfigurationResponseWire {
    init(_ response: GetConfigurationResponse) {
        self.init(
            prices: response.prices.map(PriceVersionWire.init),
            fallbackPrice: response.fallbackPrice.map { PriceVersionWire(ModelPrice(model: "", version: $0)) },
            tiers: response.tiers.map(TierConfigWire.init), defaultTier: response.defaultTier,
            limits: response.limits.map(OperationLimitsConfigWire.init),
            optimization: OptimizationRulesConfigWire(response.optimization), reservationTtlMs: response.reservationTTLMs,
            unknownShopPolicy: response.unknownShopPolicy, shadowMode: response.shadowMode, shadowShops: response.shadowShops,
            shopRateLimits: response.shopRateLimits, shadowDeniedTotal: response.shadowDeniedTotal)
    }
}

// MARK: - Facts: a tier assignment and a month's totals are inline cases of `Fact`

extension Fact {
    init(wire: FactRecordWire) throws(FieldError) {
        switch wire {
        case .usage(let event): self = .usage(event)
        case .billing(let record): self = .billing(record)
        case .tierAssignment(let record):
            self = .tierAssignment(shopID: record.shopID, tier: record.tier, effectiveFromUnixMs: record.effectiveFromUnixMs)
        case .configChange(let change): self = .configChange(change)
        case .alert(let alert): self = .alert(alert)
        case .paidMark(let mark): self = .paidMark(mark)
        case .monthAggregate(let record):
            let month: MonthKey
            do throws(FieldError) {
                month = try record.month()
            } catch {
                throw error.nested(under: "month_aggregate")
            }
            self = .monthAggregate(shopID: record.shopID, month: month, aggregate: record.aggregate)
        case .voidRecord(let mark): self = .voidMark(mark)
        }
    }
}

extension FactRecordWire {
    init(_ fact: Fact) {
        switch fact {
        case .usage(let event): self = .usage(event)
        case .billing(let record): self = .billing(record)
        case .tierAssignment(let shopID, let tier, let effectiveFrom):
            self = .tierAssignment(TierAssignmentRecord(shopID: shopID, tier: tier, effectiveFromUnixMs: effectiveFrom))
        case .alert(let alert): self = .alert(alert)
        case .voidMark(let mark): self = .voidRecord(mark)
        case .paidMark(let mark): self = .paidMark(mark)
        case .configChange(let change): self = .configChange(change)
        case .monthAggregate(let shopID, let month, let aggregate):
            self = .monthAggregate(MonthAggregateRecord(shopID: shopID, month: month, aggregate: aggregate))
        }
    }
}

/// `Fact.monthAggregate`'s payload: the totals of a month whose raw events retention dropped, as
/// snapshots store them. The period is validated on decode (WireRules.swift), so a damaged record
/// is DATA_LOSS rather than a trap at replay.
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
