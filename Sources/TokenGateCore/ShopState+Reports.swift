// One shop's part of every report (DESIGN §4): usage over a time range read from month and day
// aggregates (only the edge days of a range are scanned), the dashboard view, the month-end
// projection, the 24-hour high-cost figures, pages of events, alerts and paid marks. All pure:
// the ledger visits shops and combines their parts.

/// A page of a shop's events and where the next page starts.
public struct UsagePage: Sendable, Equatable {
    /// Matching events, in the order they were recorded.
    public var events: [UsageEvent]
    /// Position of the next event to examine; nil when every event up to now was examined.
    public var nextPosition: Int?
}

/// What MarkPaid should do.
public enum MarkPaidPlan: Sendable, Equatable {
    /// The record was paid already: answer with it, record nothing.
    case alreadyPaid(BillingRecord)
    /// Log `.paidMark(mark)`, apply it, then answer with `record` (paid).
    case store(PaidMark, BillingRecord)
}

extension ShopState {
    // MARK: - Usage over a range

    /// Usage by operation type of the events that occurred in `[lower, upper)`. Whole months
    /// and whole days come from aggregates; only days cut by a bound are scanned, through the
    /// index of their events.
    public func usageByOperation(from lower: UnixMillis, to upper: UnixMillis) -> [String: MonthAggregate] {
        var result: [String: MonthAggregate] = [:]
        guard lower < upper else { return result }
        for (month, operations) in reportIndex.monthByOperation {
            let start = month.startUnixMs
            let end = month.endUnixMs
            if end <= lower || start >= upper { continue }
            if start >= lower && end <= upper {
                result.merge(operations.dictionary)
                continue
            }
            var day = DayKey(unixMs: max(start, lower))
            let lastDay = DayKey(unixMs: min(end, upper) - 1)
            while day <= lastDay {
                addUsage(of: day, from: lower, to: upper, into: &result)
                day = DayKey(daysSinceEpoch: day.daysSinceEpoch + 1)
            }
        }
        return result
    }

    /// Adds the part of `day` inside `[lower, upper)`: its aggregate when the day is inside
    /// whole, else its events one by one.
    private func addUsage(
        of day: DayKey, from lower: UnixMillis, to upper: UnixMillis, into result: inout [String: MonthAggregate]
    ) {
        guard let operations = reportIndex.dayByOperation(day) else { return }
        if day.startUnixMs >= lower && day.endUnixMs <= upper {
            result.merge(operations)
            return
        }
        for position in reportIndex.dayEventPositions(day) {
            let position = Int(position)
            let record = eventStore.records[position]
            if record.occurredAtUnixMs >= lower && record.occurredAtUnixMs < upper {
                result[eventStore.operationType(at: position), default: MonthAggregate()].add(
                    tokens: eventStore.tokens(at: position), costNanoUSD: record.costNanoUSD)
            }
        }
    }

    /// Usage by operation type of `month`, straight from its aggregate.
    public func usageByOperation(month: MonthKey) -> [String: MonthAggregate] {
        reportIndex.monthByOperation[month]?.dictionary ?? [:]
    }

    // MARK: - Shop view and projections

    /// The dashboard of the current UTC month at `now`: the month's usage and charges so far
    /// under the shop's tier, the cheapest self-serve tier for the same usage, and the budgets
    /// of the shop-view operation type (held amounts count as used, as in the gate).
    ///
    /// Throws: `notFound` (unknown shop while unknown shops are refused), `failedPrecondition`
    /// (the shop's tier is not configured), `outOfRange` (overflow).
    public func shopView(config: Configuration, now: UnixMillis) throws(TokenGateError) -> ShopView {
        if config.unknownShopPolicy == .deny, !isKnown {
            throw .notFound("shop '\(shopID)' is unknown (no tier assignment, no usage) and unknown shops are refused")
        }
        let name = tierName(config: config)
        guard let tier = config.tiers[name] else {
            throw .failedPrecondition("shop '\(shopID)' is on tier '\(name)', which is not configured; assign a configured tier")
        }
        let month = MonthKey(unixMs: now)
        // This month's bill so far: what landed on it (the preview's numbers).
        let usage = billedAggregate(month: month)
        let charges = try Billing.charges(tier: tier, messages: usage.messages)
        let recommendation = try Billing.recommend(messages: usage.messages, currentTier: tier, tiers: config.tiers)
        var view = ShopView(
            shopID: shopID, tier: name, period: month.text, messagesThisMonth: usage.messages,
            apiCostThisMonthNanoUSD: usage.costNanoUSD, estimatedBillNanoUSD: charges.total,
            recommendedTier: recommendation.tier, savingNanoUSD: recommendation.saving,
            includedMessages: tier.includedMessages ?? 0, unlimitedMessages: tier.includedMessages == nil)
        if let limits = Self.viewLimits(shopID: shopID, config: config) {
            let budget = budgetUsage(limits: limits, now: now)
            view.dailySpentNanoUSD = budget.dailySpentNanoUSD
            view.dailyCapNanoUSD = budget.dailyCapNanoUSD
            view.dailyUsedBasisPoints = budget.dailyBasisPoints
            view.monthlySpentNanoUSD = budget.monthlySpentNanoUSD
            view.monthlyCapNanoUSD = budget.monthlyCapNanoUSD
            view.monthlyUsedBasisPoints = budget.monthlyBasisPoints
        }
        return view
    }

    /// The limits whose caps the view shows: the shop-view operation type's, else the first
    /// configured type's (a configuration without chat messages), else none.
    static func viewLimits(shopID: String, config: Configuration) -> OperationLimits? {
        if let limits = try? config.limits(shopID: shopID, operationType: ReportLimits.shopViewOperationType) {
            return limits
        }
        guard let first = config.limits.keys.sorted().first else { return nil }
        return try? config.limits(shopID: shopID, operationType: first)
    }

    /// The month-end projection at `now`: spent this month plus the month's average daily
    /// spend so far (today counted as a day) for every whole day left after today.
    public func projection(now: UnixMillis) -> Projection {
        let progress = MonthProgress(now: now)
        let usage = aggregate(month: progress.month)
        let rate = ReportMath.average(usage.costNanoUSD, over: UInt64(progress.daysElapsed))
        return Projection(
            shopID: shopID, period: progress.month.text, messagesThisMonth: usage.messages,
            spentNanoUSD: usage.costNanoUSD, dailyRunRateNanoUSD: rate, daysLeft: UInt32(progress.daysLeft),
            projectedMonthEndNanoUSD: ReportMath.project(spent: usage.costNanoUSD, dailyRate: rate, days: progress.daysLeft))
    }

    /// The shop's usage over the last 24 hours when its cost is more than `thresholdNanoUSD`,
    /// with the month projected at that cost per day: spent this month plus the 24-hour cost
    /// for every whole day left after today.
    public func highCost(now: UnixMillis, thresholdNanoUSD: NanoUSD) -> HighCostShop? {
        let window = usageByOperation(from: now - ReportLimits.highCostWindowMs, to: .max).total
        guard window.costNanoUSD > thresholdNanoUSD else { return nil }
        let progress = MonthProgress(now: now)
        let spent = aggregate(month: progress.month).costNanoUSD
        return HighCostShop(
            shopID: shopID, messages: window.messages, tokens: window.totalTokens, costNanoUSD: window.costNanoUSD,
            projectedMonthlyCostNanoUSD: ReportMath.project(spent: spent, dailyRate: window.costNanoUSD, days: progress.daysLeft))
    }

    /// The seed's monthly summary row of `month`; nil without usage in it.
    public func monthSummary(_ month: MonthKey) -> ShopMonthSummary? {
        let usage = aggregate(month: month)
        guard usage.messages > 0 else { return nil }
        return ShopMonthSummary(
            shopID: shopID, period: month.text, messages: usage.messages, inputTokens: usage.inputTokens,
            outputTokens: usage.outputTokens, totalTokens: usage.totalTokens, costNanoUSD: usage.costNanoUSD,
            averageTokensPerMessage: ReportMath.average(usage.totalTokens, over: usage.messages),
            averageCostPerMessageNanoUSD: ReportMath.average(usage.costNanoUSD, over: usage.messages))
    }

    // MARK: - Usage logs

    /// The events matching `filter`'s time range from `position` of the event list on, in the
    /// order they were recorded: at most `pageSize` events and about `bytesMax` estimated wire
    /// bytes (at least one event), examining at most `scanMax` events. Events recorded later
    /// are appended after every position handed out, so paging never skips or repeats one.
    public func usagePage(
        filter: UsageFilter, from position: Int, pageSize: Int, bytesMax: Int = ReportLimits.usagePageBytesMax,
        scanMax: Int = ReportLimits.usagePageScanEventsMax
    ) -> UsagePage {
        let count = eventStore.count
        precondition(position >= 0 && position <= count, "page position \(position) outside 0...\(count)")
        var page: [UsageEvent] = []
        var bytes = 0
        var index = position
        while index < count {
            if page.count >= pageSize || index - position >= scanMax { return UsagePage(events: page, nextPosition: index) }
            if filter.contains(eventStore.records[index].occurredAtUnixMs) {
                let event = event(at: index)
                let size = event.estimatedWireBytes
                if !page.isEmpty && bytes + size > bytesMax { return UsagePage(events: page, nextPosition: index) }
                page.append(event)
                bytes += size
            }
            index += 1
        }
        return UsagePage(events: page, nextPosition: nil)
    }

    /// Number of recorded events: the end position of the event list.
    public var eventCount: Int { eventStore.count }

    // MARK: - Alerts and paid marks

    /// Stored alerts, in the order they were stored.
    public var alerts: [Alert] { reportIndex.alerts }

    /// True when an alert of `kind` for `period` is stored.
    public func hasAlert(kind: AlertKind, period: String) -> Bool {
        reportIndex.hasAlert(kind: kind, period: period)
    }

    /// The alerts of `candidates` that are not stored yet, each (kind, period) once.
    public func unstoredAlerts(_ candidates: [Alert]) -> [Alert] {
        var seen = Set<AlertKey>()
        return candidates.filter { alert in
            !hasAlert(kind: alert.kind, period: alert.period)
                && seen.insert(AlertKey(kind: alert.kind, period: alert.period)).inserted
        }
    }

    /// The scheduled high-cost alert for `day` when the shop spent more than `thresholdNanoUSD`
    /// on it and no such alert is stored.
    public func highDailyCostAlert(day: DayKey, thresholdNanoUSD: NanoUSD, now: UnixMillis) -> Alert? {
        let spent = spent(day: day)
        guard spent > thresholdNanoUSD, !hasAlert(kind: .highDailyCost, period: day.text) else { return nil }
        return Alert(
            shopID: shopID, kind: .highDailyCost, period: day.text, thresholdNanoUSD: thresholdNanoUSD,
            actualNanoUSD: spent, raisedAtUnixMs: now,
            message: "daily spend \(Money.formatUSD(spent)) of shop '\(shopID)' on \(day.text) is more than the "
                + "\(Money.formatUSD(thresholdNanoUSD)) high-cost threshold")
    }

    /// Plans MarkPaid. Throws `invalidArgument` (shop id, period), `notFound` (no stored record
    /// for the period: previews and open months cannot be paid).
    public func planMarkPaid(_ request: MarkPaidRequest, now: UnixMillis) throws(TokenGateError) -> MarkPaidPlan {
        try Validation.shop(request.shopID, owner: shopID)
        let period = try MonthKey(parsing: request.period)
        guard var record = billingRecord(period: period) else {
            let void = voided.contains { $0.period == period.text } ? " (its record was voided: a void record cannot be paid)" : ""
            throw .notFound(
                "shop '\(shopID)' has no stored billing record for \(period.text)\(void); generate it first "
                    + "(GenerateBilling without preview, or `tokengate bill-all --period \(period.text)`)")
        }
        if record.paid { return .alreadyPaid(record) }
        record.paid = true
        return .store(PaidMark(shopID: shopID, period: period.text, paidAtUnixMs: now), record)
    }

    /// Plans VoidBilling (issue 17): the fact to log and the record as it will read. Throws
    /// `invalidArgument` (shop id, period, reason empty or over 1024 bytes), `notFound` (no
    /// stored record of the period), `failedPrecondition` (the record is paid).
    public func planVoid(_ request: VoidBillingRequest, now: UnixMillis, byUID uid: UInt32) throws(TokenGateError)
        -> (VoidMark, BillingRecord)
    {
        try Validation.shop(request.shopID, owner: shopID)
        let period = try MonthKey(parsing: request.period)
        guard !request.reason.isEmpty, request.reason.utf8.count <= Self.voidReasonBytesMax else {
            throw .invalidArgument("reason must be 1...\(Self.voidReasonBytesMax) bytes: say why the bill is voided")
        }
        guard var record = billingRecord(period: period) else {
            throw .notFound("shop '\(shopID)' has no stored (not void) billing record for \(period.text) to void")
        }
        guard !record.paid else {
            throw .failedPrecondition(
                "the bill of shop '\(shopID)' for \(period.text) is paid; a paid bill cannot be voided (issue a credit instead)")
        }
        let mark = VoidMark(shopID: shopID, period: period.text, reason: request.reason, voidedAtUnixMs: now, voidedByUID: uid)
        (record.voidReason, record.voidedAtUnixMs, record.voidedByUID) = (mark.reason, now, uid)
        return (mark, record)
    }

    /// Longest VoidBilling reason.
    public static let voidReasonBytesMax = 1_024
}

/// Where an instant is in its UTC month, in whole days.
public struct MonthProgress: Sendable, Equatable {
    public var month: MonthKey
    /// Days of the month up to and including the instant's day (1...31).
    public var daysElapsed: Int
    /// Whole days of the month after the instant's day (0...30).
    public var daysLeft: Int

    public init(now: UnixMillis) {
        let day = DayKey(unixMs: now)
        month = day.month
        daysElapsed = Int(Int64(day.daysSinceEpoch) - UTCCalendar.days(unixMs: month.startUnixMs)) + 1
        daysLeft = month.dayCount - daysElapsed
    }
}

extension UsageEvent {
    /// A generous estimate of the event's protobuf size: every string's bytes plus room for
    /// tags, lengths and varints. Pages use it to stay far below the response frame limit.
    public var estimatedWireBytes: Int {
        var bytes = 160 + eventID.utf8.count + shopID.utf8.count + userID.utf8.count + conversationID.utf8.count
        bytes += operationType.utf8.count + model.utf8.count
        for entry in metadata.extra { bytes += 16 + entry.key.utf8.count + entry.value.utf8.count }
        return bytes
    }
}
