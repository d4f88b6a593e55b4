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
    /// price at that time), `failedPrecondition` (occurred_at in a billed month; reservation
    /// already settled by another event), `outOfRange` (overflow).
    public func planUsage(_ request: LogUsageRequest, config: Configuration, now: UnixMillis) throws(TokenGateError)
        -> UsagePlan
    {
        try Validation.shop(request.shopID, owner: shopID)
        try Validation.requiredID(request.eventID, maximum: CoreLimits.eventIDBytesMax, field: "event_id")
        if let index = eventStore.position(of: request.eventID) {
            return .duplicate(rebuiltResponse(eventAt: index, config: config))
        }
        try Self.validateUsageFields(request)
        let limits = try config.limits(shopID: shopID, operationType: request.operationType)
        let occurredAt = try occurrenceTime(request.occurredAtUnixMs, now: now)
        try checkReservation(request.reservationID, eventID: request.eventID, now: now)
        let cost = try config.prices.cost(
            model: request.model, inputTokens: request.inputTokens, outputTokens: request.outputTokens,
            cachedInputTokens: request.cachedInputTokens, at: occurredAt)
        let event = UsageEvent(
            eventID: request.eventID, shopID: shopID, userID: request.userID, conversationID: request.conversationID,
            operationType: request.operationType, model: request.model, inputTokens: request.inputTokens,
            outputTokens: request.outputTokens, cachedInputTokens: request.cachedInputTokens,
            occurredAtUnixMs: occurredAt, costNanoUSD: cost, metadata: request.metadata, recordedAtUnixMs: now)
        let day = DayKey(unixMs: occurredAt)
        let response = try Self.usageResponse(
            event, limits: limits, dayBefore: spent(day: day), monthBefore: aggregate(month: day.month).costNanoUSD,
            duplicate: false)
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

    /// The event's time: `now` for 0; never negative, never more than the allowed skew ahead,
    /// never in a month that already has a stored billing record.
    func occurrenceTime(_ requested: UnixMillis, now: UnixMillis) throws(TokenGateError) -> UnixMillis {
        if requested == 0 { return try unbilled(now) }
        guard requested > 0 else {
            throw .invalidArgument("occurred_at_unix_ms is \(requested); it must be 0 (now) or a time after 1970")
        }
        guard requested <= Money.addSaturating(now, CoreLimits.futureSkewMs) else {
            throw .invalidArgument(
                "occurred_at_unix_ms \(UTCCalendar.iso8601(requested)) is in the future (now is \(UTCCalendar.iso8601(now)))")
        }
        return try unbilled(requested)
    }

    /// `time`, unless its month is billed.
    private func unbilled(_ time: UnixMillis) throws(TokenGateError) -> UnixMillis {
        let month = MonthKey(unixMs: time)
        guard billing[month] == nil else {
            throw .failedPrecondition(
                "occurred_at \(UTCCalendar.iso8601(time)) falls in \(month.text), which is already billed for shop "
                    + "'\(shopID)'; usage cannot be added to a billed month")
        }
        return time
    }

    /// A reservation already settled by another event cannot be settled again; unknown, released
    /// and expired ids are fine (the hold is gone and the usage is recorded anyway).
    func checkReservation(_ id: String, eventID: String, now: UnixMillis) throws(TokenGateError) {
        guard !id.isEmpty, let ending = reservations.ending(id, at: now) else { return }
        if case .settled(let other) = ending.how, other != eventID {
            throw .failedPrecondition(
                "reservation '\(id)' \(Self.describe(ending)); log each call with its own reservation id, or none")
        }
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

    /// The response the first LogUsage of the event at `index` gave, rebuilt: the totals of its day
    /// and month up to and including it, and its violations and alerts under the current limits.
    func rebuiltResponse(eventAt index: Int, config: Configuration) -> LogUsageResponse {
        let event = event(at: index)
        let day = DayKey(unixMs: event.occurredAtUnixMs)
        var dayBefore: NanoUSD = 0
        var monthBefore: NanoUSD = 0
        for earlier in eventStore.records[..<index] {
            let earlierDay = DayKey(unixMs: earlier.occurredAtUnixMs)
            if earlierDay == day { dayBefore = Money.addSaturating(dayBefore, earlier.costNanoUSD) }
            if earlierDay.month == day.month { monthBefore = Money.addSaturating(monthBefore, earlier.costNanoUSD) }
        }
        // Limits may have changed or lost the operation type since; the totals still stand.
        let limits = try? config.limits(shopID: shopID, operationType: event.operationType)
        let rebuilt = try? Self.usageResponse(
            event, limits: limits, dayBefore: dayBefore, monthBefore: monthBefore, duplicate: true)
        return rebuilt
            ?? LogUsageResponse(
                eventID: event.eventID, costNanoUSD: event.costNanoUSD, dailyTotalNanoUSD: spent(day: day),
                monthlyTotalNanoUSD: aggregate(month: day.month).costNanoUSD, duplicate: true,
                occurredAtUnixMs: event.occurredAtUnixMs)
    }
}
