// LogUsage (DESIGN §3): validates a usage report, prices it at the time it happened, and plans
// the event to record with its response (new day and month totals, limit violations, alerts).
// Planning is pure; the caller logs the event durably, then applies it and settles the hold.

/// What LogUsage should do.
public enum UsagePlan: Sendable, Equatable {
    /// The event id was recorded before: answer with the first call's result, record nothing.
    case duplicate(LogUsageResponse)
    /// Log this event, apply it (`apply(.usage(event))`), settle the reservation, then answer.
    case record(UsageEvent, LogUsageResponse)
}

extension ShopState {
    /// Computes what LogUsage would record, without mutating. Cost comes from the price table in
    /// effect at `occurredAtUnixMs` (0 = `now`); per-message limit violations are reported, never
    /// refused; totals are the event's day and month after it.
    ///
    /// Throws: `invalidArgument` (ids, token counts, cached > input, metadata, unknown operation
    /// type, occurred_at negative or more than 5 s in the future), `notFound` (model without a
    /// price at that time), `alreadyExists` (the event id is recorded with other content, naming
    /// the first field that differs), `outOfRange` (overflow). Never refused for a billed month
    /// (the event lands on the next open bill) nor for its reservation (`reservationOutcome`).
    public func planUsage(
        _ request: LogUsageRequest, config: Configuration, now: UnixMillis, digest: EventIDDigest? = nil
    ) throws(TokenGateError) -> UsagePlan {
        try Validation.shop(request.shopID, owner: shopID)
        try Validation.requiredID(request.eventID, maximum: CoreLimits.eventIDBytesMax, field: "event_id")
        if let index = eventStore.position(of: request.eventID, digest: digest ?? EventIDDigest(request.eventID)) {
            let first = event(at: index)
            if let field = Self.firstDifference(request, from: first) {
                throw .alreadyExists(
                    "event_id '\(request.eventID)' was recorded with another \(field) (shop '\(shopID)', "
                        + "at \(UTCCalendar.iso8601(first.recordedAtUnixMs))); an event id names one model call: "
                        + "send a retry unchanged, and give a new call a new id")
            }
            return .duplicate(rebuiltResponse(eventAt: index, event: first, config: config))
        }
        try Self.validateUsageFields(request)
        let limits = try config.limits(shopID: shopID, operationType: request.operationType)
        let occurredAt = try occurrenceTime(request.occurredAtUnixMs, now: now)
        let outcome = reservationOutcome(request.reservationID, now: now)
        let cost = try config.prices.cost(
            model: request.model, inputTokens: request.inputTokens, outputTokens: request.outputTokens,
            cachedInputTokens: request.cachedInputTokens, at: occurredAt)
        let day = DayKey(unixMs: occurredAt)
        // Spent tokens are always recorded: an event of a billed month lands on the next open bill.
        let landing = landingMonth(for: day.month)
        let event = UsageEvent(
            eventID: request.eventID, shopID: shopID, userID: request.userID, conversationID: request.conversationID,
            operationType: request.operationType, model: request.model, inputTokens: request.inputTokens,
            outputTokens: request.outputTokens, cachedInputTokens: request.cachedInputTokens,
            occurredAtUnixMs: occurredAt, costNanoUSD: cost, metadata: request.metadata, recordedAtUnixMs: now,
            billingPeriod: landing == day.month ? "" : landing.text)
        var response = try Self.usageResponse(
            event, limits: limits, dayBefore: spent(day: day), monthBefore: aggregate(month: day.month).costNanoUSD,
            duplicate: false)
        response.billingPeriod = landing.text
        response.reservationOutcome = outcome
        return .record(event, response)
    }

    /// Field checks that need no state.
    static func validateUsageFields(_ request: LogUsageRequest) throws(TokenGateError) {
        try Validation.optionalIdentifier(request.userID, field: "user_id", maximum: CoreLimits.userIDBytesMax)
        try Validation.optionalIdentifier(request.conversationID, field: "conversation_id", maximum: CoreLimits.userIDBytesMax)
        try Validation.identifier(request.operationType, field: "operation_type", maximum: CoreLimits.nameBytesMax)
        try Validation.identifier(request.model, field: "model", maximum: CoreLimits.nameBytesMax)
        try Validation.optionalIdentifier(
            request.reservationID, field: "reservation_id", maximum: CoreLimits.reservationIDBytesMax)
        try Validation.tokens(request.inputTokens, field: "input_tokens")
        try Validation.tokens(request.outputTokens, field: "output_tokens")
        try Validation.tokens(request.cachedInputTokens, field: "cached_input_tokens")
        try Validation.cachedTokens(request.cachedInputTokens, of: request.inputTokens)
        try Validation.metadata(request.metadata)
    }

    /// The event's time: `now` for 0; never negative, never more than the allowed skew ahead.
    /// A time in a billed month is fine: the event lands on a later bill (`landingMonth`).
    func occurrenceTime(_ requested: UnixMillis, now: UnixMillis) throws(TokenGateError) -> UnixMillis {
        if requested == 0 { return now }
        guard requested > 0 else {
            throw .invalidArgument("occurred_at_unix_ms is \(requested); it must be 0 (now) or a time after 1970")
        }
        guard requested <= Money.addSaturating(now, CoreLimits.futureSkewMs) else {
            throw .invalidArgument(
                "occurred_at_unix_ms \(UTCCalendar.iso8601(requested)) is in the future (now is \(UTCCalendar.iso8601(now)))")
        }
        return requested
    }

    /// What a LogUsage naming reservation `id` does to it. Never a refusal: the model call
    /// happened, so the event is recorded whatever became of its hold.
    func reservationOutcome(_ id: String, now: UnixMillis) -> ReservationOutcome {
        if id.isEmpty { return .none }
        if reservations.liveHold(id, at: now) != nil { return .settled }
        if reservations.ending(id, at: now) != nil { return .alreadyEnded }
        return .unknown
    }

    /// The LogUsage response for `event`, given its day's and month's recorded cost before it.
    static func usageResponse(
        _ event: UsageEvent, limits: OperationLimits?, dayBefore: NanoUSD, monthBefore: NanoUSD, duplicate: Bool
    ) throws(TokenGateError) -> LogUsageResponse {
        let dayAfter = try Money.add(dayBefore, event.costNanoUSD)
        let monthAfter = try Money.add(monthBefore, event.costNanoUSD)
        var response = LogUsageResponse(
            eventID: event.eventID, costNanoUSD: event.costNanoUSD, dailyTotalNanoUSD: dayAfter,
            monthlyTotalNanoUSD: monthAfter, duplicate: duplicate, occurredAtUnixMs: event.occurredAtUnixMs)
        guard let limits else { return response }
        response.violations = MessageLimits.violations(
            inputTokens: event.inputTokens, outputTokens: event.outputTokens, limits: limits,
            operationType: event.operationType)
        let day = DayKey(unixMs: event.occurredAtUnixMs)
        // Periods and percentages are formatted only into an alert: formatting them for every
        // event cost more than pricing it (tokengate-bench, callgrind).
        let crossings: [(AlertKind, AlertKind, String, any CustomStringConvertible, NanoUSD, NanoUSD, NanoUSD)] = [
            (AlertKind.dailyThreshold, AlertKind.dailyCap, "daily", day, dayBefore, dayAfter, limits.dailyCostCapNanoUSD),
            (.monthlyThreshold, .monthlyCap, "monthly", day.month, monthBefore, monthAfter, limits.monthlyCostCapNanoUSD),
        ]
        for (thresholdKind, capKind, label, period, before, after, cap) in crossings {
            let threshold = BudgetMath.threshold(percent: limits.alertThresholdPercent, of: cap)
            for (kind, level, isThreshold) in [(thresholdKind, threshold, true), (capKind, cap, false)]
            where before < level && after >= level {
                let what = isThreshold ? "\(limits.alertThresholdPercent)% of" : ""
                let message = "\(label) spend \(Money.formatUSD(after)) of shop '\(event.shopID)' reached "
                    + "\(what.isEmpty ? "" : what + " ")the \(Money.formatUSD(cap)) \(label) cap (\(period))"
                response.alerts.append(Alert(
                    shopID: event.shopID, kind: kind, period: period.description, thresholdNanoUSD: level, actualNanoUSD: after,
                    raisedAtUnixMs: event.recordedAtUnixMs, message: message))
            }
        }
        return response
    }

    /// The first field (in LogUsageRequest's order) in which `request` differs from the event
    /// first recorded under its id, or nil when it is the same request (DESIGN §3 idempotency).
    /// `occurred_at_unix_ms` is compared as the client sent it: 0 matches an event recorded at
    /// the time it arrived. The reservation id is not part of the event and is not compared.
    static func firstDifference(_ request: LogUsageRequest, from first: UsageEvent) -> String? {
        if request.shopID != first.shopID { return "shop_id" }
        if request.userID != first.userID { return "user_id" }
        if request.conversationID != first.conversationID { return "conversation_id" }
        if request.operationType != first.operationType { return "operation_type" }
        if request.model != first.model { return "model" }
        if request.inputTokens != first.inputTokens { return "input_tokens" }
        if request.outputTokens != first.outputTokens { return "output_tokens" }
        if request.cachedInputTokens != first.cachedInputTokens { return "cached_input_tokens" }
        let sentNow = first.occurredAtUnixMs == first.recordedAtUnixMs
        if request.occurredAtUnixMs == 0 ? !sentNow : request.occurredAtUnixMs != first.occurredAtUnixMs {
            return "occurred_at_unix_ms"
        }
        if request.metadata != first.metadata { return "metadata" }
        return nil
    }

    /// The response the first LogUsage of the event at `index` gave, rebuilt in O(1): the totals of
    /// its day and month up to and including it (kept beside the event when it was applied), and
    /// its violations and alerts under the current limits.
    func rebuiltResponse(eventAt index: Int, event: UsageEvent, config: Configuration) -> LogUsageResponse {
        let day = DayKey(unixMs: event.occurredAtUnixMs)
        let after = totalsAfter[index]
        let dayBefore = Money.addSaturating(after.day, -event.costNanoUSD)
        let monthBefore = Money.addSaturating(after.month, -event.costNanoUSD)
        // Limits may have changed or lost the operation type since; the totals still stand.
        let limits = try? config.limits(shopID: shopID, operationType: event.operationType)
        var rebuilt = (try? Self.usageResponse(
            event, limits: limits, dayBefore: dayBefore, monthBefore: monthBefore, duplicate: true))
            ?? LogUsageResponse(
                eventID: event.eventID, costNanoUSD: event.costNanoUSD, dailyTotalNanoUSD: after.day,
                monthlyTotalNanoUSD: after.month, duplicate: true, occurredAtUnixMs: event.occurredAtUnixMs)
        // The bill it landed on; the reservation outcome of the first call is not kept.
        rebuilt.billingPeriod = event.billingPeriod.isEmpty ? day.month.text : event.billingPeriod
        return rebuilt
    }
}
