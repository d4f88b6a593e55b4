// CanMakeRequest and ReleaseReservation (DESIGN §3): the gate decides from the shop's recorded
// spend plus live holds, in a fixed order (token limits, daily cap, monthly cap, tier spend cap),
// and with `reserve` holds the call's worst-case cost so concurrent checks cannot overshoot.

/// Per-message token limit checks, shared by the gate (on estimates) and LogUsage (on actuals).
public enum MessageLimits {
    /// The limits of `limits` that `input` / `output` tokens go over, in wire order.
    public static func violations(
        inputTokens: UInt64, outputTokens: UInt64, limits: OperationLimits, operationType: String
    ) -> [LimitViolation] {
        let total = saturatingAdd(inputTokens, outputTokens)
        // The usual call is within every limit: no list of checks is built for it.
        if inputTokens <= limits.maxInputTokensPerMessage && outputTokens <= limits.maxOutputTokensPerMessage
            && total <= limits.maxTotalTokensPerMessage
        {
            return []
        }
        var found: [LimitViolation] = []
        let checks: [(LimitKind, UInt64, UInt64, String)] = [
            (.inputTokens, limits.maxInputTokensPerMessage, inputTokens, "input"),
            (.outputTokens, limits.maxOutputTokensPerMessage, outputTokens, "output"),
            (.totalTokens, limits.maxTotalTokensPerMessage, total, "total"),
        ]
        for (kind, limit, actual, label) in checks where actual > limit {
            let message = "\(label) tokens \(actual) exceed the per-message limit of \(limit) for \(operationType)"
            found.append(LimitViolation(kind: kind, limit: limit, actual: actual, message: message))
        }
        return found
    }
}

extension ShopState {
    /// The gate (CanMakeRequest). Expired holds (`now >= expiry`) are dropped first; held
    /// amounts count as spent. After the budget checks comes the shop's rate limit (GCRA); only
    /// calls that pass the budget use rate allowance. A denial is a normal response with
    /// `decision = .deny`; in shadow mode it becomes ALLOW with `shadowDenied`. With `reserve` and ALLOW, the worst-case cost
    /// is held until `now + config.reservationTTLMs`; `makeReservationID` is called only then.
    ///
    /// Throws: `invalidArgument` (shop id, request id, token counts, unknown operation type),
    /// `notFound` (model without a price), `failedPrecondition` (the shop's tier is not
    /// configured), `resourceExhausted` (too many live holds), `outOfRange` (cost overflow),
    /// `internal` (request routed to the wrong shop, reused reservation id).
    public mutating func canMakeRequest(
        _ request: CanMakeRequestRequest, config: Configuration, now: UnixMillis, makeReservationID: () -> String
    ) throws(TokenGateError) -> CanMakeRequestResponse {
        try Validation.shop(request.shopID, owner: shopID)
        try Validation.optionalIdentifier(request.requestID, field: "request_id", maximum: CoreLimits.requestIDBytesMax)
        try Validation.identifier(request.operationType, field: "operation_type", maximum: CoreLimits.nameBytesMax)
        try Validation.identifier(request.model, field: "model", maximum: CoreLimits.nameBytesMax)
        try Validation.tokens(request.estimatedInputTokens, field: "estimated_input_tokens")
        try Validation.tokens(request.maxOutputTokens, field: "max_output_tokens")
        let limits = try config.limits(shopID: shopID, operationType: request.operationType)
        let estimate = try config.prices.cost(
            model: request.model, inputTokens: request.estimatedInputTokens, outputTokens: request.maxOutputTokens,
            cachedInputTokens: 0, at: now)
        reservations.expire(now: now)
        let usage = budgetUsage(limits: limits, now: now)
        var response = CanMakeRequestResponse(
            decision: .allow, reason: .withinBudget, warning: usage.reaches(percent: limits.alertThresholdPercent),
            message: "within budget", dailyRemainingNanoUSD: usage.dailyRemainingNanoUSD,
            monthlyRemainingNanoUSD: usage.monthlyRemainingNanoUSD, dailyUsedBasisPoints: usage.dailyBasisPoints,
            monthlyUsedBasisPoints: usage.monthlyBasisPoints, estimatedCostNanoUSD: estimate, requestID: request.requestID)
        let budgetDenial = try denial(request, limits: limits, usage: usage, estimate: estimate, config: config)
        let rate = rateVerdict(request, config: config, now: now)
        if let denial = budgetDenial ?? rate.refusal {
            if config.isShadow(shopID: shopID) {
                response.shadowDenied = true
                response.shadowReason = denial.reason
                response.message = "shadow mode: allowed, but would have been denied: \(denial.message)"
            } else {
                response.decision = .deny
                response.reason = denial.reason
                response.message = denial.message
            }
        }
        if request.reserve, response.decision == .allow {
            try reservations.checkCapacity(shopID: shopID)
            let id = makeReservationID()
            response.reservationExpiresUnixMs = try reservations.hold(
                id: id, amount: estimate, now: now, ttlMs: config.reservationTTLMs)
            response.reservationID = id
        }
        // A call the budget refuses never reaches the model, so it uses no rate allowance.
        if budgetDenial == nil, let next = rate.next { rateLimiter = next }
        return response
    }

    /// The reason the gate would deny `request`, or nil to allow. Order: unknown shop, message
    /// token limits, daily cap, monthly cap, tier spend cap.
    func denial(
        _ request: CanMakeRequestRequest, limits: OperationLimits, usage: BudgetUsage, estimate: NanoUSD,
        config: Configuration
    ) throws(TokenGateError) -> (reason: DecisionReason, message: String)? {
        if config.unknownShopPolicy == .deny, !isKnown {
            return (.unknownShop, "shop '\(shopID)' is unknown (no tier assignment, no usage) and unknown shops are refused")
        }
        let violations = MessageLimits.violations(
            inputTokens: request.estimatedInputTokens, outputTokens: request.maxOutputTokens, limits: limits,
            operationType: request.operationType)
        if !violations.isEmpty {
            return (.messageTokenLimit, violations.map(\.message).joined(separator: "; "))
        }
        // The messages are built only for a denial: formatting them cost a fifth of a gate check.
        if Self.capDenies(used: usage.dailyUsedNanoUSD, estimate: estimate, cap: usage.dailyCapNanoUSD) {
            let message = Self.capMessage(
                "daily", period: usage.day, spent: usage.dailySpentNanoUSD, usage: usage, estimate: estimate,
                cap: usage.dailyCapNanoUSD)
            return (.dailyCapReached, message)
        }
        if Self.capDenies(used: usage.monthlyUsedNanoUSD, estimate: estimate, cap: usage.monthlyCapNanoUSD) {
            let message = Self.capMessage(
                "monthly", period: usage.month, spent: usage.monthlySpentNanoUSD, usage: usage, estimate: estimate,
                cap: usage.monthlyCapNanoUSD)
            return (.monthlyCapReached, message)
        }
        return try tierSpendCapDenial(usage: usage, config: config)
    }

    /// The message of a daily or monthly cap denial.
    static func capMessage(
        _ label: String, period: some CustomStringConvertible, spent: NanoUSD, usage: BudgetUsage, estimate: NanoUSD,
        cap: NanoUSD
    ) -> String {
        "\(label) cost cap reached for \(period): spent \(Money.formatUSD(spent)) + held "
            + "\(Money.formatUSD(usage.heldNanoUSD)) + this call up to \(Money.formatUSD(estimate)) "
            + "would pass the \(Money.formatUSD(cap)) cap"
    }

    /// A cap denies when usage already reached it, or when the call's worst case would pass it.
    static func capDenies(used: NanoUSD, estimate: NanoUSD, cap: NanoUSD) -> Bool {
        used >= cap || Money.addSaturating(used, estimate) > cap
    }

    /// Denies when the month's bill under the shop's tier, counting this call (and live holds)
    /// as messages, reaches the tier's spend cap: past it every message would be free to the
    /// shop while its model calls still cost money.
    func tierSpendCapDenial(usage: BudgetUsage, config: Configuration) throws(TokenGateError) -> (
        reason: DecisionReason, message: String
    )? {
        let name = tierName(config: config)
        guard let tier = config.tiers[name] else {
            throw .failedPrecondition("shop '\(shopID)' is on tier '\(name)', which is not configured; assign a configured tier")
        }
        guard let cap = tier.maxMonthlySpendNanoUSD else { return nil }
        // What lands on this month's bill (late events of billed months included).
        let recorded = billedAggregate(month: usage.month).messages
        let messages = saturatingAdd(saturatingAdd(recorded, UInt64(usage.heldCount)), 1)
        let uncapped = (try? Billing.uncappedCharges(tier: tier, messages: messages).total) ?? .max
        guard uncapped >= cap else { return nil }
        let message = "tier spend cap reached: \(recorded) messages in \(usage.month.text) (plus \(usage.heldCount) held "
            + "and this one) bill \(Money.formatUSD(uncapped)) on tier \(name), at or over its \(Money.formatUSD(cap)) cap"
        return (.tierSpendCapReached, message)
    }

    /// Cancels live reservation `id` (ReleaseReservation) and returns the amount it held.
    ///
    /// Throws: `invalidArgument` (empty or over-long id), `notFound` (never issued, or ended
    /// too long ago to remember), `failedPrecondition` (already settled, released or expired,
    /// naming which and when).
    public mutating func releaseReservation(id: String, now: UnixMillis) throws(TokenGateError) -> NanoUSD {
        try Validation.requiredID(id, maximum: CoreLimits.reservationIDBytesMax, field: "reservation_id")
        reservations.expire(now: now)
        if let hold = reservations.end(id, as: .released, now: now) { return hold.amountNanoUSD }
        if let ending = reservations.ending(id, at: now) {
            throw .failedPrecondition("reservation '\(id)' " + Self.describe(ending) + "; nothing is held any more")
        }
        throw .notFound("reservation '\(id)' is unknown for shop '\(shopID)' (never issued, or ended long ago)")
    }

    /// Ends reservation `id` as settled by event `eventID`, after that event was applied. Does
    /// nothing when the id is empty, unknown, expired or already ended (the hold is gone).
    public mutating func settleReservation(id: String, byEvent eventID: String, now: UnixMillis) {
        reservations.expire(now: now)
        guard !id.isEmpty else { return }
        reservations.end(id, as: .settled(eventID: eventID), now: now)
    }

    /// Drops expired holds and forgets old ended ids; for a periodic sweep by the server.
    public mutating func expireReservations(now: UnixMillis) {
        reservations.expire(now: now)
    }

    /// "was already settled by event 'e' at …" and the like.
    static func describe(_ ending: (how: ReservationEnd, at: UnixMillis)) -> String {
        let when = UTCCalendar.iso8601(ending.at)
        switch ending.how {
        case .settled(let eventID): return "was already settled by event '\(eventID)' at \(when)"
        case .released: return "was already released at \(when)"
        case .expired: return "expired at \(when) before it was settled or released"
        }
    }
}
