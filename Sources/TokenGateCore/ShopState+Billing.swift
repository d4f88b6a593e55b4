// GenerateBilling (DESIGN §3): turns a month of usage into a billing record under the shop's
// tier, with the cheapest self-serve tier as recommendation. A record is stored once per
// (shop, period) and only for a period that has ended; an open period can only be previewed.

/// What GenerateBilling should do.
public enum BillingPlan: Sendable, Equatable {
    /// A record of the period is stored: answer with it (`newlyStored` false), store nothing.
    case existing(GenerateBillingResponse)
    /// A computed record (`preview` true): answer, store nothing.
    case preview(GenerateBillingResponse)
    /// Log `.billing(record)`, apply it, then answer (`newlyStored` true).
    case store(BillingRecord, GenerateBillingResponse)
}

extension ShopState {
    /// Plans GenerateBilling for `request.period`. The tier is the assigned one or the default;
    /// messages, tokens (input + output) and API cost come from the month's recorded usage.
    ///
    /// Throws: `invalidArgument` (shop id, period not `YYYY-MM`), `failedPrecondition` (period
    /// not ended and `preview` false; shop's tier not configured), `notFound` (unknown shop when
    /// unknown shops are refused), `outOfRange` (overflow).
    public func planBilling(_ request: GenerateBillingRequest, config: Configuration, now: UnixMillis)
        throws(TokenGateError) -> BillingPlan
    {
        try Validation.shop(request.shopID, owner: shopID)
        let period = try MonthKey(parsing: request.period)
        if let stored = billing[period] {
            return .existing(try billingResponse(stored, config: config, newlyStored: false))
        }
        if config.unknownShopPolicy == .deny, !isKnown {
            throw .notFound("shop '\(shopID)' is unknown (no tier assignment, no usage) and unknown shops are refused")
        }
        if !request.preview { try Self.checkFinalBillAllowed(period, config: config, now: now) }
        // Terms of the month: the assignment in effect at the period's last instant.
        let name = tierName(config: config, at: period.endUnixMs - 1)
        guard let tier = config.tierTerms(named: name, at: period.endUnixMs - 1) else {
            throw .failedPrecondition("shop '\(shopID)' is on tier '\(name)', which is not configured; assign a configured tier")
        }
        // What landed on this bill: its own usage less late events sent on, plus late ones it took.
        let usage = billedAggregate(month: period)
        let charges = try Billing.charges(tier: tier, messages: usage.messages)
        let record = BillingRecord(
            shopID: shopID, period: period.text, tier: name, messagesUsed: usage.messages, tokensUsed: usage.totalTokens,
            apiCostNanoUSD: usage.costNanoUSD, baseChargeNanoUSD: charges.base, overageChargeNanoUSD: charges.overage,
            totalChargeNanoUSD: charges.total, paid: false, generatedAtUnixMs: now, preview: request.preview)
        let response = try billingResponse(record, config: config, newlyStored: !request.preview)
        return request.preview ? .preview(response) : .store(record, response)
    }

    /// A final bill of `period` may be stored only once the period has ended and its grace
    /// period (`config.billingGraceMs`) has passed; else `failedPrecondition` saying when.
    public static func checkFinalBillAllowed(_ period: MonthKey, config: Configuration, now: UnixMillis) throws(TokenGateError) {
        guard now < period.endUnixMs else {
            let possible = period.endUnixMs &+ config.billingGraceMs
            guard now < possible else { return }
            throw .failedPrecondition(
                "period \(period.text) ended at \(UTCCalendar.iso8601(period.endUnixMs)) but its grace period "
                    + "(\(config.billingGraceMs / 3_600_000) h, --billing-grace-hours) lets late usage land first; "
                    + "a final bill is possible from \(UTCCalendar.iso8601(possible)) (unix ms \(possible)); use preview until then")
        }
        throw .failedPrecondition(
            "period \(period.text) has not ended; a final bill is possible from "
                + "\(UTCCalendar.iso8601(period.endUnixMs &+ config.billingGraceMs)) (after its grace period); use preview")
    }

    /// The response for `record` with the recommendation under the current tiers.
    func billingResponse(_ record: BillingRecord, config: Configuration, newlyStored: Bool) throws(TokenGateError)
        -> GenerateBillingResponse
    {
        // Compared under the terms of the record's month.
        let end = ((try? MonthKey(parsing: record.period))?.endUnixMs ?? Int64.max) - 1
        let recommendation = try Billing.recommend(
            messages: record.messagesUsed, currentName: record.tier, currentTotal: record.totalChargeNanoUSD,
            tiers: config.tiers(at: end))
        return GenerateBillingResponse(
            record: record, recommendedTier: recommendation.tier, recommendedTotalNanoUSD: recommendation.total,
            savingNanoUSD: recommendation.saving, newlyStored: newlyStored)
    }
}
