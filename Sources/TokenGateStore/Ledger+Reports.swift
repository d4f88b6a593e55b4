// The ledger's billing, report, usage-log and alert operations (DESIGN §3 GenerateBilling, §4).
// Cross-shop reads visit the shards one at a time, each under its lock only while its shops'
// parts are computed from their aggregates; writes (batch billing, paid marks, alerts) are
// logged before they are applied, like every other fact. Alerts stored by any write are handed
// to `alertFeed` so the server can publish them once they are durable.
import Synchronization
import TokenGateCore

/// Where the ledger announces alerts it has just stored. The listener runs under a shard lock:
/// it must only hand the alerts over (to a queue), never block.
public final class AlertFeed: Sendable {
    /// Receives newly stored alerts and the log sequence that makes them durable.
    public typealias Listener = @Sendable (_ alerts: [Alert], _ durableAt: UInt64) -> Void

    private let listener = Mutex<Listener?>(nil)

    public init() {}

    /// Sets (or, with nil, removes) the one listener.
    public func setListener(_ listener: Listener?) {
        self.listener.withLock { $0 = listener }
    }

    func raised(_ alerts: [Alert], durableAt sequence: UInt64) {
        guard !alerts.isEmpty, let listener = listener.withLock({ $0 }) else { return }
        listener(alerts, sequence)
    }
}

extension Ledger {
    // MARK: - Alerts

    /// Logs and applies the alerts of `candidates` that `shop` has not stored yet (one per
    /// kind and period) and announces them. Returns the sequence to wait for (0: nothing new).
    func storeAlerts(_ candidates: [Alert], in shop: inout ShopState) throws(TokenGateError) -> UInt64 {
        guard !candidates.isEmpty else { return 0 }
        let fresh = shop.unstoredAlerts(candidates)
        var sequence: UInt64 = 0
        for alert in fresh {
            sequence = try append(.alert(alert))
            shop.apply(.alert(alert))
        }
        alertFeed.raised(fresh, durableAt: sequence)
        return sequence
    }

    /// The scheduled high-cost check of `day`: stores a HIGH_DAILY_COST alert for every shop
    /// that spent more than `thresholdNanoUSD` on it and has none for that day yet. Returns
    /// the new alerts and the sequence to wait for (nil when none).
    public func runDailyHighCostCheck(day: DayKey, thresholdNanoUSD: NanoUSD, now: UnixMillis) throws(TokenGateError)
        -> (alerts: [Alert], durableAt: UInt64?)
    {
        var raised: [Alert] = []
        var sequence: UInt64?
        for shard in shards {
            try shard.shops.withLock { shops throws(TokenGateError) in
                for shopID in shops.keys.sorted() {
                    guard let alert = shops[shopID]!.highDailyCostAlert(day: day, thresholdNanoUSD: thresholdNanoUSD, now: now)
                    else { continue }
                    sequence = try append(.alert(alert))
                    shops[shopID]!.apply(.alert(alert))
                    alertFeed.raised([alert], durableAt: sequence!)
                    raised.append(alert)
                }
            }
        }
        return (raised, sequence)
    }

    /// ListAlerts: stored alerts, newest first (ties by shop, kind and period).
    /// Throws `invalidArgument` (shop id, limit over `ReportLimits.alertsListMax`).
    public func listAlerts(_ request: ListAlertsRequest) throws(TokenGateError) -> ListAlertsResponse {
        if !request.shopID.isEmpty { try Validation.shopID(request.shopID) }
        let limit = try Self.bounded(
            request.limit, default: ReportLimits.alertsListDefault, max: ReportLimits.alertsListMax, field: "limit")
        var newest = TopList<Alert>(limit: Int(limit)) { left, right in
            (right.raisedAtUnixMs, left.shopID, left.kind.rawValue, left.period)
                < (left.raisedAtUnixMs, right.shopID, right.kind.rawValue, right.period)
        }
        forEachShop(request.shopID) { shop in
            for alert in shop.alerts { newest.add(alert) }
        }
        return ListAlertsResponse(alerts: newest.sorted)
    }

    // MARK: - Billing

    /// ListBillingRecords: the shop's stored records, oldest period first (none for an unknown shop).
    public func listBillingRecords(_ request: ListBillingRecordsRequest) throws(TokenGateError) -> ListBillingRecordsResponse {
        try Validation.shopID(request.shopID)
        return ListBillingRecordsResponse(records: readShop(request.shopID) { $0.allBillingRecords })
    }

    /// GenerateBillingBatch: stores the record of `period` for every shop that has none and had
    /// usage in it or a tier assignment in effect during it (quiet shops owe their fee too), and
    /// returns every shop's record of the period, with how many were quiet. Re-running it stores nothing
    /// new. Throws `invalidArgument` (period), `failedPrecondition` (the period has not ended;
    /// a shop's tier is not configured — records stored before it stay stored), `unavailable`.
    public func generateBillingBatch(_ request: GenerateBillingBatchRequest, now: UnixMillis) throws(TokenGateError)
        -> (GenerateBillingBatchResponse, UInt64?)
    {
        let period = try MonthKey(parsing: request.period)
        let config = currentConfiguration
        try ShopState.checkFinalBillAllowed(period, config: config, now: now)
        var response = GenerateBillingBatchResponse(generated: 0, alreadyStored: 0, records: [], totalChargeNanoUSD: 0)
        var records: [BillingRecord] = []
        var sequence: UInt64?
        for shard in shards {
            try shard.shops.withLock { shops throws(TokenGateError) in
                for shopID in shops.keys.sorted() {
                    let shop = shops[shopID]!
                    // Every shop with usage in the period, or an assignment to a tier in effect
                    // during it (a quiet shop still owes its monthly fee), or a stored record.
                    guard shop.billedAggregate(month: period).messages > 0 || shop.billingRecord(period: period) != nil
                        || shop.hadAssignment(from: period.startUnixMs, to: period.endUnixMs)
                    else { continue }
                    let billing = GenerateBillingRequest(shopID: shopID, period: period.text)
                    let plan: BillingPlan
                    do throws(TokenGateError) {
                        plan = try shop.planBilling(billing, config: config, now: now)
                    } catch {
                        throw TokenGateError(error.code, "billing shop '\(shopID)' for \(period.text) failed: \(error.message)")
                    }
                    switch plan {
                    case .existing(let existing), .preview(let existing):
                        response.alreadyStored += 1
                        records.append(existing.record)
                    case .store(let record, _):
                        sequence = try append(.billing(record))
                        shops[shopID]!.apply(.billing(record))
                        response.generated += 1
                        records.append(record)
                    }
                }
            }
        }
        records.sort { $0.shopID < $1.shopID }
        response.quiet = UInt32(records.count { $0.messagesUsed == 0 })
        response.totalChargeNanoUSD = records.reduce(0) { Money.addSaturating($0, $1.totalChargeNanoUSD) }
        response.records = Array(records.prefix(ReportLimits.shopsPerResponseMax))
        return (response, sequence ?? log.lastSequence)
    }

    /// VoidBilling (issue 17): marks the stored record of the period void, keeping it (reason,
    /// time, the admin's `uid`); the period is open again. Throws `invalidArgument`, `notFound`
    /// (no stored record), `failedPrecondition` (paid), `unavailable`.
    public func voidBilling(_ request: VoidBillingRequest, now: UnixMillis, byUID uid: UInt32) throws(TokenGateError)
        -> (VoidBillingResponse, UInt64)
    {
        try Validation.shopID(request.shopID)
        return try withShop(request.shopID) { shop throws(TokenGateError) in
            let (mark, record) = try shop.planVoid(request, now: now, byUID: uid)
            let sequence = try append(.voidMark(mark))
            shop.apply(.voidMark(mark))
            return (VoidBillingResponse(record: record), sequence)
        }
    }

    /// MarkPaid: marks the stored record paid (a repeat returns it unchanged). Throws
    /// `invalidArgument` (shop id, period), `notFound` (no stored record), `unavailable`.
    public func markPaid(_ request: MarkPaidRequest, now: UnixMillis) throws(TokenGateError) -> (MarkPaidResponse, UInt64?) {
        try Validation.shopID(request.shopID)
        return try withShop(request.shopID) { shop throws(TokenGateError) in
            switch try shop.planMarkPaid(request, now: now) {
            case .alreadyPaid(let record):
                return (MarkPaidResponse(record: record), log.lastSequence)
            case .store(let mark, let record):
                let sequence = try append(.paidMark(mark))
                shop.apply(.paidMark(mark))
                return (MarkPaidResponse(record: record), sequence)
            }
        }
    }

    // MARK: - Shop view, statistics, reports

    /// GetShopView: the shop's dashboard at `now`. Throws `invalidArgument` (shop id),
    /// `notFound` (unknown shop while unknown shops are refused), `failedPrecondition` (tier).
    public func shopView(_ request: GetShopViewRequest, now: UnixMillis) throws(TokenGateError) -> ShopView {
        try Validation.shopID(request.shopID)
        let config = currentConfiguration
        return try readShop(request.shopID) { shop throws(TokenGateError) in try shop.shopView(config: config, now: now) }
    }

    /// GetStatistics: totals, by operation type and by shop, of the events in the filter.
    /// Throws `invalidArgument` (filter).
    public func statistics(_ request: GetStatisticsRequest) throws(TokenGateError) -> GetStatisticsResponse {
        let filter = request.filter
        try filter.validate()
        var builder = UsageReportBuilder()
        forEachShop(filter.shopID) { shop in
            builder.add(shopID: shop.shopID, usage: shop.usageByOperation(from: filter.lowerBound, to: filter.upperBound))
        }
        return builder.statistics
    }

    /// GetMonthlyReport: the period's totals, by operation and by shop, from month aggregates.
    /// Throws `invalidArgument` (period).
    public func monthlyReport(_ request: GetMonthlyReportRequest) throws(TokenGateError) -> GetMonthlyReportResponse {
        let period = try MonthKey(parsing: request.period)
        var builder = UsageReportBuilder()
        forEachShop("") { shop in builder.add(shopID: shop.shopID, usage: shop.usageByOperation(month: period)) }
        return GetMonthlyReportResponse(
            period: period.text, totals: builder.totals, byOperation: builder.byOperation, byShop: builder.byShop)
    }

    /// GetMonthlySummary: one row per shop with usage in the period, by cost, highest first.
    /// Throws `invalidArgument` (period, shop id).
    public func monthlySummary(_ request: GetMonthlySummaryRequest) throws(TokenGateError) -> GetMonthlySummaryResponse {
        let period = try MonthKey(parsing: request.period)
        if !request.shopID.isEmpty { try Validation.shopID(request.shopID) }
        var rows = TopList<ShopMonthSummary>(limit: ReportLimits.shopsPerResponseMax) { left, right in
            left.costNanoUSD != right.costNanoUSD ? left.costNanoUSD > right.costNanoUSD : left.shopID < right.shopID
        }
        forEachShop(request.shopID) { shop in
            if let row = shop.monthSummary(period) { rows.add(row) }
        }
        return GetMonthlySummaryResponse(shops: rows.sorted)
    }

    /// GetHighCostShops: shops whose cost in the 24 hours before `now` is more than the
    /// threshold, most expensive first. Throws `invalidArgument` (negative threshold, top over
    /// `ReportLimits.highCostTopMax`).
    public func highCostShops(_ request: GetHighCostShopsRequest, now: UnixMillis) throws(TokenGateError)
        -> GetHighCostShopsResponse
    {
        guard request.thresholdNanoUSD >= 0 else {
            throw .invalidArgument("threshold_nano_usd must be >= 0 (0 = the default $1.00), got \(request.thresholdNanoUSD)")
        }
        let threshold = request.thresholdNanoUSD == 0 ? ReportLimits.highCostThresholdDefaultNanoUSD : request.thresholdNanoUSD
        let top = try Self.bounded(request.top, default: ReportLimits.highCostTopDefault, max: ReportLimits.highCostTopMax, field: "top")
        var shops = TopList<HighCostShop>(limit: Int(top)) { left, right in
            left.costNanoUSD != right.costNanoUSD ? left.costNanoUSD > right.costNanoUSD : left.shopID < right.shopID
        }
        forEachShop("") { shop in
            if let row = shop.highCost(now: now, thresholdNanoUSD: threshold) { shops.add(row) }
        }
        return GetHighCostShopsResponse(shops: shops.sorted)
    }

    /// GetProjections: the named shop's projection, or every shop's with usage this month, by
    /// projected cost, highest first. Throws `invalidArgument` (shop id).
    public func projections(_ request: GetProjectionsRequest, now: UnixMillis) throws(TokenGateError) -> GetProjectionsResponse {
        if !request.shopID.isEmpty {
            try Validation.shopID(request.shopID)
            return GetProjectionsResponse(projections: [readShop(request.shopID) { $0.projection(now: now) }])
        }
        var rows = TopList<Projection>(limit: ReportLimits.shopsPerResponseMax) { left, right in
            left.projectedMonthEndNanoUSD != right.projectedMonthEndNanoUSD
                ? left.projectedMonthEndNanoUSD > right.projectedMonthEndNanoUSD : left.shopID < right.shopID
        }
        let month = MonthKey(unixMs: now)
        forEachShop("") { shop in
            if shop.aggregate(month: month).messages > 0 { rows.add(shop.projection(now: now)) }
        }
        return GetProjectionsResponse(projections: rows.sorted)
    }

    // MARK: - Usage logs

    /// QueryUsageLogs: one page of the shop's events in the filter's time range, in the order
    /// they were recorded. Throws `invalidArgument` (no shop id, filter, page size over
    /// `ReportLimits.usagePageSizeMax`, a cursor that is not from this query).
    public func queryUsageLogs(_ request: QueryUsageLogsRequest) throws(TokenGateError) -> QueryUsageLogsResponse {
        let filter = request.filter
        guard !filter.shopID.isEmpty else { throw .invalidArgument("filter.shop_id is required to query usage logs") }
        try filter.validate()
        let pageSize = try Self.bounded(
            request.pageSize, default: ReportLimits.usagePageSizeDefault, max: ReportLimits.usagePageSizeMax, field: "page_size")
        let (position, generation) = try UsageCursor.decodeWithGeneration(request.cursor, filter: filter)
        let (page, current) = try readShop(filter.shopID) { shop throws(TokenGateError) -> (UsagePage, Int) in
            let current = shop.retentionGeneration
            guard request.cursor.isEmpty || generation == current else {
                throw .failedPrecondition(
                    "cursor is stale: the monthly retention drop removed this shop's raw events up to "
                        + "\(Self.monthText(ofRetentionGeneration: current)) after it was issued, which renumbered the events; "
                        + "restart with an empty cursor (the pages already read are still correct)")
            }
            guard position <= shop.eventCount else {
                throw .invalidArgument(
                    "cursor points past the shop's \(shop.eventCount) events; it is not from this daemon's data")
            }
            return (shop.usagePage(filter: filter, from: position, pageSize: Int(pageSize)), current)
        }
        return QueryUsageLogsResponse(
            events: page.events,
            nextCursor: page.nextPosition.map { UsageCursor.encode(position: $0, filter: filter, generation: current) } ?? "")
    }

    /// `2025-03` for the generation `ShopState.retentionGeneration` gives that month.
    static func monthText(ofRetentionGeneration generation: Int) -> String {
        let year = (generation - 1) / 12
        let month = (generation - 1) % 12 + 1
        return String(year) + (month < 10 ? "-0" : "-") + String(month)
    }

    /// ExportUsageCsv: every event in the filter as CSV chunks handed to `send`, shops in id
    /// order, each shop's events in recording order up to the events it had when the export
    /// reached it. Events are copied out a batch at a time, so no lock is held while sending.
    /// Stops early when `send` returns false (the peer is gone). Throws `invalidArgument` (filter).
    public func exportUsageCSV(_ request: ExportUsageCSVRequest, send: (ExportUsageCSVChunk) -> Bool) throws(TokenGateError) {
        let filter = request.filter
        try filter.validate()
        let shopIDs = filter.shopID.isEmpty ? allShopIDs() : [filter.shopID]
        var writer = CSVChunker()
        for shopID in shopIDs {
            var position = 0
            var end: Int?
            while true {
                let page = readShop(shopID) { shop -> UsagePage in
                    if end == nil { end = shop.eventCount }
                    let scan = min(ReportLimits.csvEventsPerBatch, end! - position)
                    return shop.usagePage(filter: filter, from: position, pageSize: .max, bytesMax: .max, scanMax: max(scan, 0))
                }
                for event in page.events {
                    guard writer.append(UsageCSV.row(event), send: send) else { return }
                }
                guard let next = page.nextPosition, next < end! else { break }
                position = next
            }
        }
        writer.finish(send: send)
    }

    // MARK: - Shard visits

    /// Runs `body` on the shop (a fresh empty state when it is unknown) under its shard's lock.
    func readShop<Result>(_ shopID: String, _ body: (ShopState) throws(TokenGateError) -> Result) throws(TokenGateError)
        -> Result
    {
        try shard(for: shopID).shops.withLock { shops throws(TokenGateError) in
            try body(shops[shopID] ?? ShopState(shopID: shopID))
        }
    }

    /// Non-throwing `readShop`.
    func readShop<Result>(_ shopID: String, _ body: (ShopState) -> Result) -> Result {
        shard(for: shopID).shops.withLock { shops in body(shops[shopID] ?? ShopState(shopID: shopID)) }
    }

    /// Runs `body` on the named shop when it exists, or on every shop when `shopID` is empty,
    /// one shard at a time under that shard's lock.
    func forEachShop(_ shopID: String, _ body: (ShopState) -> Void) {
        if !shopID.isEmpty {
            shard(for: shopID).shops.withLock { shops in
                if let shop = shops[shopID] { body(shop) }
            }
            return
        }
        for shard in shards {
            shard.shops.withLock { shops in
                for shop in shops.values { body(shop) }
            }
        }
    }

    /// Every shop id, sorted.
    func allShopIDs() -> [String] {
        var ids: [String] = []
        for shard in shards { shard.shops.withLock { ids += $0.keys } }
        return ids.sorted()
    }

    /// `value`, or `fallback` for 0; throws `invalidArgument` above `maximum`.
    static func bounded(_ value: UInt32, default fallback: UInt32, max maximum: UInt32, field: String) throws(TokenGateError)
        -> UInt32
    {
        guard value <= maximum else { throw .invalidArgument("\(field) is \(value); the maximum is \(maximum) (0 = \(fallback))") }
        return value == 0 ? fallback : value
    }
}

/// Cuts CSV rows into chunks of about `ReportLimits.csvChunkBytesTarget` bytes; the first chunk
/// starts with the header row, and an export with no rows still sends the header.
struct CSVChunker {
    private var buffer: [UInt8] = Array(UsageCSV.headerRow.utf8)
    private var rows: UInt64 = 0
    private var sentAny = false

    /// Adds one row, sending a chunk through `send` when enough is buffered; returns false
    /// when the peer is gone.
    mutating func append(_ row: String, send: (ExportUsageCSVChunk) -> Bool) -> Bool {
        buffer += row.utf8
        rows += 1
        return buffer.count < ReportLimits.csvChunkBytesTarget || flush(send)
    }

    /// Sends what is buffered (at least the header, once).
    mutating func finish(send: (ExportUsageCSVChunk) -> Bool) {
        if !buffer.isEmpty || !sentAny { _ = flush(send) }
    }

    private mutating func flush(_ send: (ExportUsageCSVChunk) -> Bool) -> Bool {
        defer {
            buffer.removeAll(keepingCapacity: true)
            rows = 0
            sentAny = true
        }
        return send(ExportUsageCSVChunk(data: buffer, rows: rows))
    }
}
