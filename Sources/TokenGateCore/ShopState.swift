// One shop's state and the state machine that changes it: durable facts (usage events, billing
// records, tier assignments) are applied here, and the RPC methods in the ShopState+… files
// plan what to record. Only `apply`, the gate and the reservation methods mutate a ShopState.

/// One month of a shop's recorded usage.
public struct MonthAggregate: Sendable, Equatable {
    /// Usage events recorded in the month (each is one message).
    public var messages: UInt64
    /// Prompt tokens, cached ones included.
    public var inputTokens: UInt64
    /// Generated tokens.
    public var outputTokens: UInt64
    /// The part of `inputTokens` served from the context cache.
    public var cachedInputTokens: UInt64
    /// Recorded cost.
    public var costNanoUSD: NanoUSD

    /// An aggregate; see the properties.
    public init(
        messages: UInt64 = 0, inputTokens: UInt64 = 0, outputTokens: UInt64 = 0, cachedInputTokens: UInt64 = 0,
        costNanoUSD: NanoUSD = 0
    ) {
        self.messages = messages
        self.inputTokens = inputTokens
        self.outputTokens = outputTokens
        self.cachedInputTokens = cachedInputTokens
        self.costNanoUSD = costNanoUSD
    }

    /// Input plus output tokens (cached input tokens are part of the input), saturating.
    public var totalTokens: UInt64 { saturatingAdd(inputTokens, outputTokens) }

    /// Adds one event. Saturating: applying a durable fact must never fail or wrap.
    mutating func add(_ event: UsageEvent) {
        add(
            tokens: (event.inputTokens, event.outputTokens, event.cachedInputTokens), costNanoUSD: event.costNanoUSD)
    }

    /// Adds one event given by its token counts and cost (a stored event, not rebuilt).
    mutating func add(tokens: (input: UInt64, output: UInt64, cached: UInt64), costNanoUSD cost: NanoUSD) {
        messages = saturatingAdd(messages, 1)
        inputTokens = saturatingAdd(inputTokens, tokens.input)
        outputTokens = saturatingAdd(outputTokens, tokens.output)
        cachedInputTokens = saturatingAdd(cachedInputTokens, tokens.cached)
        costNanoUSD = Money.addSaturating(costNanoUSD, cost)
    }
}

/// `a + b` pinned at `UInt64.max`.
func saturatingAdd(_ a: UInt64, _ b: UInt64) -> UInt64 {
    let (sum, overflow) = a.addingReportingOverflow(b)
    return overflow ? .max : sum
}

/// The parts of a shop's state that only tier assignments, usage and bills fill (issue 18: a
/// shop kept for gate state alone must be cheap). `ShopState` keeps them in a one-element array
/// allocated on the first such fact, so a shop with only holds or a rate-limit window is its id,
/// its reservation book and its rate limiter: the shard's dictionary stores every value inline,
/// and these fields made each slot of it 360 bytes (64 without them).
struct ShopRecords: Sendable {
    var tierHistory: [(from: UnixMillis, tier: String?)] = []
    var eventStore = EventStore()
    var totalsAfter: [TotalsAfter] = []
    var latestFinal: MonthKey?
    var dailyCost: [DayKey: NanoUSD] = [:]
    var monthly: [MonthKey: MonthAggregate] = [:]
    var archived: [MonthKey: MonthAggregate] = [:]
    var billing: [MonthKey: BillingRecord] = [:]
    var voided: [BillingRecord] = []
    var lateIn: [MonthKey: MonthAggregate] = [:]
    var lateOut: [MonthKey: MonthAggregate] = [:]
    var reportIndex = ShopReportIndex()

    /// What a shop without such facts reads.
    static let empty = ShopRecords()
}

/// The state of one shop: its tier, usage events, per-day and per-month totals, billing records
/// and live reservations.
public struct ShopState: Sendable {
    /// The shop this state belongs to.
    public private(set) var shopID: String
    /// Empty until the shop's first tier assignment, usage event, bill or alert, then one
    /// element (an array, not an object: its copy-on-write needs no run-time exclusivity check).
    private var recordsStorage: [ShopRecords] = []
    /// Makes `recordsStorage` hold one element, before a change of the records. Each field
    /// below is read with a getter (a `_read` of the whole records copied all of them per call)
    /// and changed in place.
    private mutating func allocateRecords() {
        if recordsStorage.isEmpty { recordsStorage.append(ShopRecords()) }
    }
    /// Tier assignments in order of effect (issue 17, terms of the month): the tier from `from`
    /// until the next entry; `tier` nil = the configuration's default tier. Before the first
    /// entry the shop is on the default tier.
    public private(set) var tierHistory: [(from: UnixMillis, tier: String?)] {
        get { recordsStorage.isEmpty ? [] : recordsStorage[0].tierHistory }
        _modify {
            allocateRecords()
            yield &recordsStorage[0].tierHistory
        }
    }
    /// The assigned tier now (the latest assignment); nil = the configuration's default tier.
    public var assignedTier: String? { tierHistory.last?.tier }
    /// Usage events in the order they were applied, compact, with an index by event id.
    private(set) var eventStore: EventStore {
        get { recordsStorage.isEmpty ? ShopRecords.empty.eventStore : recordsStorage[0].eventStore }
        _modify {
            allocateRecords()
            yield &recordsStorage[0].eventStore
        }
    }
    /// For each event of `eventStore`, the recorded cost of its day and month right after it:
    /// the totals its first LogUsage answered, so a duplicate is answered in O(1). Rebuilt by
    /// replay (applying in log order gives the same sums), never logged.
    private(set) var totalsAfter: [TotalsAfter] {
        get { recordsStorage.isEmpty ? [] : recordsStorage[0].totalsAfter }
        _modify {
            allocateRecords()
            yield &recordsStorage[0].totalsAfter
        }
    }
    /// The latest month with a final bill, so that LogUsage looks the bills up only for an
    /// event of that month or an earlier one.
    private(set) var latestFinal: MonthKey? {
        get { recordsStorage.isEmpty ? nil : recordsStorage[0].latestFinal }
        _modify {
            allocateRecords()
            yield &recordsStorage[0].latestFinal
        }
    }
    /// Recorded cost per UTC day (all operation types).
    private(set) var dailyCost: [DayKey: NanoUSD] {
        get { recordsStorage.isEmpty ? [:] : recordsStorage[0].dailyCost }
        _modify {
            allocateRecords()
            yield &recordsStorage[0].dailyCost
        }
    }
    /// Recorded usage per UTC month.
    private(set) var monthly: [MonthKey: MonthAggregate] {
        get { recordsStorage.isEmpty ? [:] : recordsStorage[0].monthly }
        _modify {
            allocateRecords()
            yield &recordsStorage[0].monthly
        }
    }
    /// The part of each month's usage whose raw events retention dropped (see `dropEvents`).
    private(set) var archived: [MonthKey: MonthAggregate] {
        get { recordsStorage.isEmpty ? [:] : recordsStorage[0].archived }
        _modify {
            allocateRecords()
            yield &recordsStorage[0].archived
        }
    }
    /// Stored billing records by period (the final bill of each; void ones are in `voided`).
    private(set) var billing: [MonthKey: BillingRecord] {
        get { recordsStorage.isEmpty ? [:] : recordsStorage[0].billing }
        _modify {
            allocateRecords()
            yield &recordsStorage[0].billing
        }
    }
    /// Records VoidBilling voided, in the order they were voided (issue 17: corrections append).
    private(set) var voided: [BillingRecord] {
        get { recordsStorage.isEmpty ? [] : recordsStorage[0].voided }
        _modify {
            allocateRecords()
            yield &recordsStorage[0].voided
        }
    }
    /// Late events (issue 17): usage that occurred in a month already billed and landed on a
    /// later bill, by the month it landed on (`lateIn`) and the month it occurred in (`lateOut`).
    /// Bills count what landed on them; reports and budgets count when usage occurred.
    private(set) var lateIn: [MonthKey: MonthAggregate] {
        get { recordsStorage.isEmpty ? [:] : recordsStorage[0].lateIn }
        _modify {
            allocateRecords()
            yield &recordsStorage[0].lateIn
        }
    }
    private(set) var lateOut: [MonthKey: MonthAggregate] {
        get { recordsStorage.isEmpty ? [:] : recordsStorage[0].lateOut }
        _modify {
            allocateRecords()
            yield &recordsStorage[0].lateOut
        }
    }
    /// This shop's number in the store-wide event id index (`ShopNumbers` in TokenGateStore),
    /// cached here so that recording an event does not look the shop id up again; 0 = not yet
    /// numbered. Memory only; cleared when a blank state changes hands.
    public var idIndexNumber: UInt32 = 0
    /// Live holds and recently ended reservations (memory only, never logged).
    var reservations = ReservationBook()
    /// Per-day and per-operation aggregates, an index of events by day, and stored alerts
    /// (ShopState+Reports.swift).
    var reportIndex: ShopReportIndex {
        get { recordsStorage.isEmpty ? ShopRecords.empty.reportIndex : recordsStorage[0].reportIndex }
        _modify {
            allocateRecords()
            yield &recordsStorage[0].reportIndex
        }
    }
    /// Empty while the rate limiter remembers nothing (no rate limit, or idle), else one element.
    private var rateLimiterStorage: [RateLimiterState] = []
    /// Recent calls as seen by the rate limiter (memory only, never logged). Setting the empty
    /// state frees its storage.
    var rateLimiter: RateLimiterState {
        get { rateLimiterStorage.isEmpty ? RateLimiterState() : rateLimiterStorage[0] }
        set {
            if rateLimiterStorage.isEmpty {
                if !newValue.isEmpty { rateLimiterStorage.append(newValue) }
            } else if newValue.isEmpty {
                rateLimiterStorage = []
            } else {
                rateLimiterStorage[0] = newValue
            }
        }
    }
    /// True once the shop has records (a tier assignment, usage, a bill or an alert) allocated.
    var hasRecords: Bool { !recordsStorage.isEmpty }

    /// An empty shop: no tier assignment, no usage.
    public init(shopID: String) {
        self.shopID = shopID
    }

    /// Hands this state, which must hold nothing (no tier, usage, billing records, holds or
    /// rate-limit window), to another shop: the ledger checks the calls of shops it keeps no
    /// state for on one such blank state instead of building and dropping one per call.
    public mutating func reassignBlank(to shopID: String) {
        assert(!isKnown && !tracksReservations && !hasBillingRecords && !tracksRateLimits, "only a blank state changes hands")
        self.shopID = shopID
        idIndexNumber = 0
    }

    // MARK: - Queries

    /// The event recorded under `id`, if any.
    public func event(id: String) -> UsageEvent? {
        eventStore.position(of: id).map(event(at:))
    }

    /// The event at `position` of the applied order (0..<eventCount).
    public func event(at position: Int) -> UsageEvent {
        eventStore.event(at: position, shopID: shopID)
    }

    /// The hash event id `id` is filed under, here and in the store-wide id index (process-seeded:
    /// never stored).
    public static func eventIDHash(_ id: String) -> Int { EventStore.idHash(of: id) }

    /// `eventIDHash` of the event at `position`, without rebuilding its id.
    public func eventIDHash(at position: Int) -> Int { eventStore.idHash(at: position) }

    /// Calls `body` with `eventIDHash(at:)` of every event, in order, reading the store once
    /// (recovery's rebuild of the id index: `eventIDHash(at:)` read it once per event).
    public func forEachEventIDHash(_ body: (Int) -> Void) {
        let store = eventStore
        for position in 0..<store.count { body(store.idHash(at: position)) }
    }

    /// Every usage event in the order applied, rebuilt from the compact store (O(events): for
    /// tests and tools, not for serving).
    public var events: [UsageEvent] {
        (0..<eventStore.count).map(event(at:))
    }

    /// Recorded cost of the UTC day `day` (holds not included).
    public func spent(day: DayKey) -> NanoUSD { dailyCost[day] ?? 0 }

    /// Recorded usage of `month` (by when it occurred).
    public func aggregate(month: MonthKey) -> MonthAggregate { monthly[month] ?? MonthAggregate() }

    /// The usage that lands on `month`'s bill: what occurred in it, less its late events (which
    /// landed on a later bill), plus late events of earlier months that landed on it.
    public func billedAggregate(month: MonthKey) -> MonthAggregate {
        var result = aggregate(month: month)
        if lateIn.isEmpty && lateOut.isEmpty { return result }
        if let out = lateOut[month] { result.subtract(out) }
        if let into = lateIn[month] { result.add(into) }
        return result
    }

    /// The bill usage occurring in `month` lands on: that month, or the first later one whose
    /// bill is not stored (final).
    public func landingMonth(for month: MonthKey) -> MonthKey {
        guard let latestFinal, month <= latestFinal else { return month }
        var landing = month
        while billing[landing] != nil { landing = landing.next }
        return landing
    }

    /// The stored billing record of `period`, if any.
    public func billingRecord(period: MonthKey) -> BillingRecord? { billing[period] }

    /// Stored billing records, oldest period first.
    public var billingRecords: [BillingRecord] {
        billing.sorted { $0.key < $1.key }.map(\.value)
    }

    /// True when any billing record is stored (void ones included).
    public var hasBillingRecords: Bool { !billing.isEmpty || !voided.isEmpty }

    /// Every record, void ones beside their reissues: by period, then in the order generated.
    public var allBillingRecords: [BillingRecord] {
        (voided + billingRecords).sorted { a, b in
            a.period != b.period ? a.period < b.period : a.generatedAtUnixMs != b.generatedAtUnixMs
                ? a.generatedAtUnixMs < b.generatedAtUnixMs : a.isVoid && !b.isVoid
        }
    }

    /// Months with recorded usage, oldest first.
    public var months: [MonthKey] { monthly.keys.sorted() }

    /// A shop is known once it has a tier assignment or any recorded usage.
    public var isKnown: Bool { !tierHistory.isEmpty || !monthly.isEmpty }

    /// The tier the shop is billed and gated under.
    public func tierName(config: Configuration) -> String { assignedTier ?? config.defaultTier }

    /// The tier in effect at `time` (the assignment with the latest `from` at or before it).
    public func tierName(config: Configuration, at time: UnixMillis) -> String {
        tierHistory.last { $0.from <= time }?.tier ?? config.defaultTier
    }

    /// True when an assignment to a tier (not the default) was in effect at some time in
    /// `[start, end)`.
    public func hadAssignment(from start: UnixMillis, to end: UnixMillis) -> Bool {
        for (index, entry) in tierHistory.enumerated() where entry.tier != nil {
            let until = index + 1 < tierHistory.count ? tierHistory[index + 1].from : .max
            if entry.from < end && until > start { return true }
        }
        return false
    }

    /// Sum of the live holds, as of the last mutating call (for tests and metrics).
    public var heldNanoUSD: NanoUSD { reservations.heldTotal }

    /// Live holds (expired ones included until the next call or sweep forgets them).
    public var liveReservationCount: Int { reservations.live.count }

    /// True while the shop has live holds or remembers how ended ones ended.
    public var tracksReservations: Bool { !reservations.isEmpty }

    /// Every durable fact of this shop, in an order that rebuilds it: the tier, the archived
    /// month aggregates, the events, the billing records. This is what a snapshot stores.
    public var durableFacts: [Fact] {
        var facts = durableFactsBeforeEvents
        facts.reserveCapacity(eventStore.count + facts.count + 2)
        for position in 0..<eventStore.count { facts.append(.usage(event(at: position))) }
        return facts + durableFactsAfterEvents
    }

    /// The facts `durableFacts` puts before the events: the tier and the archived months.
    public var durableFactsBeforeEvents: [Fact] {
        var facts: [Fact] = []
        for entry in tierHistory {
            facts.append(.tierAssignment(shopID: shopID, tier: entry.tier ?? "", effectiveFromUnixMs: entry.from))
        }
        for (month, aggregate) in archived.sorted(by: { $0.key < $1.key }) {
            facts.append(.monthAggregate(shopID: shopID, month: month, aggregate: aggregate))
        }
        return facts
    }

    /// The facts `durableFacts` puts after the events: billing records and alerts.
    public var durableFactsAfterEvents: [Fact] {
        var facts: [Fact] = []
        // A void record is rebuilt by its billing record then its void mark, before any reissue.
        for record in voided {
            var original = record
            (original.voidReason, original.voidedAtUnixMs, original.voidedByUID) = ("", 0, 0)
            facts.append(.billing(original))
            facts.append(.voidMark(VoidMark(
                shopID: shopID, period: record.period, reason: record.voidReason, voidedAtUnixMs: record.voidedAtUnixMs,
                voidedByUID: record.voidedByUID)))
        }
        return facts + billingRecords.map(Fact.billing) + reportIndex.alerts.map(Fact.alert)
    }

    /// Sum and count of holds still live at `now`.
    public func held(at now: UnixMillis) -> (amountNanoUSD: NanoUSD, count: Int) {
        let held = reservations.held(at: now)
        return (held.amount, held.count)
    }

    /// The live hold `id` at `now`, if any.
    public func reservation(id: String, now: UnixMillis) -> ReservationHold? {
        reservations.liveHold(id, at: now)
    }

    /// How reservation `id` ended and when, while it is still remembered at `now`.
    public func reservationEnding(id: String, now: UnixMillis) -> (how: ReservationEnd, at: UnixMillis)? {
        reservations.ending(id, at: now)
    }

    // MARK: - Applying facts

    /// Applies a durable fact: from a live write after it is logged, or from log replay and
    /// snapshot load. A usage event whose id is already present is a no-op; a billing record
    /// replaces any record of its period; a tier assignment holds from its effective time on, replacing later ones ("" = the default tier);
    /// a month aggregate adds to its month (snapshots hold each once, the log never holds one).
    /// Facts for another shop are a routing bug and trap.
    public mutating func apply(_ fact: Fact) {
        switch fact {
        case .usage(let event):
            apply(usage: event)
        case .billing(let record):
            precondition(record.shopID == shopID, "billing record of shop '\(record.shopID)' applied to shop '\(shopID)'")
            guard let period = try? MonthKey(parsing: record.period) else {
                preconditionFailure("billing record with invalid period '\(record.period)'")
            }
            var stored = record
            stored.preview = false
            billing[period] = stored
            if latestFinal.map({ $0 < period }) ?? true { latestFinal = period }
        case .tierAssignment(let shop, let tier, let from):
            precondition(shop == shopID, "tier assignment of shop '\(shop)' applied to shop '\(shopID)'")
            // It holds from `from` on: later entries (a backdated change) give way to it.
            tierHistory.removeAll { $0.from >= from }
            tierHistory.append((from, tier.isEmpty ? nil : tier))
        case .alert(let alert):
            precondition(alert.shopID == shopID, "alert of shop '\(alert.shopID)' applied to shop '\(shopID)'")
            reportIndex.store(alert)
        case .paidMark(let mark):
            precondition(mark.shopID == shopID, "paid mark of shop '\(mark.shopID)' applied to shop '\(shopID)'")
            // A mark is logged only for a stored record, and replay keeps the log's order.
            if let period = try? MonthKey(parsing: mark.period) { billing[period]?.paid = true }
        case .voidMark(let mark):
            precondition(mark.shopID == shopID, "void mark of shop '\(mark.shopID)' applied to shop '\(shopID)'")
            // A mark is logged only for a stored record; the period is open again.
            guard let period = try? MonthKey(parsing: mark.period), var record = billing.removeValue(forKey: period) else { return }
            (record.voidReason, record.voidedAtUnixMs, record.voidedByUID) = (mark.reason, mark.voidedAtUnixMs, mark.voidedByUID)
            voided.append(record)
            latestFinal = billing.keys.max()
        case .configChange:
            preconditionFailure("a configuration change was routed to shop '\(shopID)'; it changes the Configuration")
        case .monthAggregate(let shop, let month, let aggregate):
            precondition(shop == shopID, "month aggregate of shop '\(shop)' applied to shop '\(shopID)'")
            archived[month, default: MonthAggregate()].add(aggregate)
            monthly[month, default: MonthAggregate()].add(aggregate)
        }
    }

    private static func addSaturating(_ total: inout NanoUSD, _ amount: NanoUSD) {
        total = Money.addSaturating(total, amount)
    }

    /// `apply(.usage(event))`, for replay, which holds events apart from other facts: taking
    /// the event out of a Fact copied it (retaining its strings) once per replayed event.
    public mutating func apply(usage event: UsageEvent, digest: EventIDDigest? = nil) {
        precondition(event.shopID == shopID, "usage event of shop '\(event.shopID)' applied to shop '\(shopID)'")
        guard eventStore.appendIfNew(event, digest: digest) else { return }
        let day = DayKey(unixMs: event.occurredAtUnixMs)
        let month = day.month
        addToTotals(UsageNumbers(event), day: day, month: month)
        if !event.billingPeriod.isEmpty, let landing = try? MonthKey(parsing: event.billingPeriod) {
            addLate(UsageNumbers(event), occurred: month, landed: landing)
        }
        reportIndex.record(event, day: day, month: month, position: eventStore.count - 1)
    }

    /// `apply(usage: event.event(in: buffer))`, without making the event's Strings: recovery's path.
    public mutating func apply(usage event: UsageEventBytes, in buffer: [UInt8]) {
        let shop = buffer.span.extracting(event.shopID)
        let owner = shopID.utf8.span
        precondition(
            ByteHash.equal(shop, 0..<shop.count, owner) || UsageEventBytes.text(event.shopID, in: buffer) == shopID,
            "usage event of shop '\(UsageEventBytes.text(event.shopID, in: buffer))' applied to shop '\(shopID)'")
        guard eventStore.appendIfNew(event, in: buffer) else { return }
        let day = DayKey(unixMs: event.occurredAtUnixMs)
        let month = day.month
        addToTotals(event.numbers, day: day, month: month)
        if let landing = event.billingMonth(in: buffer) { addLate(event.numbers, occurred: month, landed: landing) }
        reportIndex.record(event, in: buffer, day: day, month: month, position: eventStore.count - 1)
    }

    /// Moves a late event's usage from the bill of the month it occurred in to the one it landed on.
    private mutating func addLate(_ event: UsageNumbers, occurred: MonthKey, landed: MonthKey) {
        guard landed != occurred else { return }
        lateOut[occurred, default: MonthAggregate()].add(tokens: event.tokens, costNanoUSD: event.costNanoUSD)
        lateIn[landed, default: MonthAggregate()].add(tokens: event.tokens, costNanoUSD: event.costNanoUSD)
    }

    /// Adds a new event to the day's cost and the month's totals, and keeps both beside it.
    private mutating func addToTotals(_ event: UsageNumbers, day: DayKey, month: MonthKey) {
        // In place: one hash of the day, not two (a read and a write), once per replayed event.
        var dayAfter: NanoUSD = 0
        Self.addSaturating(&dailyCost[day, default: 0], event.costNanoUSD, after: &dayAfter)
        var monthAfter: NanoUSD = 0
        Self.add(event, to: &monthly[month, default: MonthAggregate()], after: &monthAfter)
        totalsAfter.append(TotalsAfter(day: dayAfter, month: monthAfter))
    }

    private static func addSaturating(_ total: inout NanoUSD, _ amount: NanoUSD, after: inout NanoUSD) {
        total = Money.addSaturating(total, amount)
        after = total
    }

    private static func add(_ event: UsageNumbers, to aggregate: inout MonthAggregate, after: inout NanoUSD) {
        aggregate.add(tokens: event.tokens, costNanoUSD: event.costNanoUSD)
        after = aggregate.costNanoUSD
    }

    // MARK: - Retention

    /// The usage of months whose raw events retention dropped, by month.
    public var archivedMonths: [MonthKey: MonthAggregate] { archived }

    /// Changes exactly when retention drops raw events of this shop: the newest month whose raw
    /// events were dropped, as `year * 12 + month` (0 before any drop). Rebuilt identically by
    /// replay (the archived month totals are durable), so usage-log cursors can carry it.
    public var retentionGeneration: Int {
        archived.keys.max().map { Int($0.year) * 12 + Int($0.month) } ?? 0
    }

    /// Retention: forgets the raw usage events of every month before `month` (their ids and
    /// their days), adding them to those months' archived aggregates. Month totals do not
    /// change, so bills and reports of those months still add up; billing records stay.
    /// Returns how many events were dropped. Costs O(months) when there is nothing to drop.
    @discardableResult
    public mutating func dropEvents(before month: MonthKey) -> Int {
        var ignored: [Int] = []
        return dropEvents(before: month, droppedIDHashes: &ignored)
    }

    /// `dropEvents(before:)`, adding the id hash of every dropped event to `droppedIDHashes`.
    @discardableResult
    public mutating func dropEvents(before month: MonthKey, droppedIDHashes: inout [Int]) -> Int {
        // A month still holds raw events exactly when its total differs from its archived part.
        guard monthly.contains(where: { $0.key < month && $0.value != archived[$0.key] }) else { return 0 }
        var kept = EventStore()
        var keptTotals: [TotalsAfter] = []
        for position in 0..<eventStore.count {
            let event = event(at: position)
            let day = DayKey(unixMs: event.occurredAtUnixMs)
            guard day.month < month else {
                _ = kept.appendIfNew(event)
                keptTotals.append(totalsAfter[position])
                continue
            }
            droppedIDHashes.append(eventStore.idHash(at: position))
            archived[day.month, default: MonthAggregate()].add(event)
            dailyCost[day] = nil
        }
        let dropped = eventStore.count - kept.count
        eventStore = kept
        totalsAfter = keptTotals
        reportIndex.reindex(after: eventStore, droppedBefore: month)
        return dropped
    }
}

/// An event's day and month totals right after it was applied (`ShopState.totalsAfter`).
struct TotalsAfter: Sendable {
    var day: NanoUSD
    var month: NanoUSD
}
