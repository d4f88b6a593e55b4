// The typed request and response values of the billing, report, usage-log and alert RPCs
// (DESIGN §3 GenerateBilling, §4). They mirror proto/tokengate/v1/tokengate.proto field for
// field, like Messages.swift does for the hot RPCs, so no C type ever leaks out of the wire module.

// MARK: - Billing records

/// ListBillingRecords: the stored billing records of one shop.
public struct ListBillingRecordsRequest: Sendable, Equatable {
    public var shopID: String
    public init(shopID: String) { self.shopID = shopID }
}

/// The shop's stored records, oldest period first.
public struct ListBillingRecordsResponse: Sendable, Equatable {
    public var records: [BillingRecord]
    public init(records: [BillingRecord]) { self.records = records }
}

/// GenerateBillingBatch: bill every shop with usage in an ended period (admin).
public struct GenerateBillingBatchRequest: Sendable, Equatable {
    /// "YYYY-MM", UTC; must have ended.
    public var period: String
    public init(period: String) { self.period = period }
}

/// What a batch did: counts cover every shop; `records` is capped (see `ReportLimits`).
public struct GenerateBillingBatchResponse: Sendable, Equatable {
    /// Records stored by this call.
    public var generated: UInt32
    /// Records that were already stored and were returned unchanged.
    public var alreadyStored: UInt32
    /// The period's records (new and old), by shop id; at most `ReportLimits.shopsPerResponseMax`.
    public var records: [BillingRecord]
    /// Sum of every record's total charge (all shops, not only those listed).
    public var totalChargeNanoUSD: NanoUSD
    /// Shops billed for the period with no usage in it (they still owe their monthly fee).
    public var quiet: UInt32

    public init(
        generated: UInt32, alreadyStored: UInt32, records: [BillingRecord], totalChargeNanoUSD: NanoUSD, quiet: UInt32 = 0
    ) {
        self.generated = generated
        self.alreadyStored = alreadyStored
        self.records = records
        self.totalChargeNanoUSD = totalChargeNanoUSD
        self.quiet = quiet
    }
}

/// MarkPaid: mark a stored billing record paid (admin).
public struct MarkPaidRequest: Sendable, Equatable {
    public var shopID: String
    public var period: String
    public init(shopID: String, period: String) {
        self.shopID = shopID
        self.period = period
    }
}

/// The record after marking.
public struct MarkPaidResponse: Sendable, Equatable {
    public var record: BillingRecord
    public init(record: BillingRecord) { self.record = record }
}

/// VoidBilling: void a stored billing record, with a reason (admin, issue 17).
public struct VoidBillingRequest: Sendable, Equatable {
    public var shopID: String
    /// "YYYY-MM".
    public var period: String
    public var reason: String
    public init(shopID: String, period: String, reason: String) {
        self.shopID = shopID
        self.period = period
        self.reason = reason
    }
}

/// The voided record, with its void fields.
public struct VoidBillingResponse: Sendable, Equatable {
    public var record: BillingRecord
    public init(record: BillingRecord) { self.record = record }
}

/// The durable fact of VoidBilling (storage.proto `VoidRecord`).
public struct VoidMark: Sendable, Equatable {
    public var shopID: String
    /// "YYYY-MM".
    public var period: String
    public var reason: String
    public var voidedAtUnixMs: UnixMillis
    public var voidedByUID: UInt32

    public init(shopID: String, period: String, reason: String, voidedAtUnixMs: UnixMillis, voidedByUID: UInt32) {
        self.shopID = shopID
        self.period = period
        self.reason = reason
        self.voidedAtUnixMs = voidedAtUnixMs
        self.voidedByUID = voidedByUID
    }
}

/// The durable fact of MarkPaid (storage.proto `PaidMarkRecord`).
public struct PaidMark: Sendable, Equatable {
    public var shopID: String
    /// "YYYY-MM".
    public var period: String
    public var paidAtUnixMs: UnixMillis

    public init(shopID: String, period: String, paidAtUnixMs: UnixMillis) {
        self.shopID = shopID
        self.period = period
        self.paidAtUnixMs = paidAtUnixMs
    }
}

// MARK: - Shop view

/// GetShopView: what a billing dashboard shows for one shop.
public struct GetShopViewRequest: Sendable, Equatable {
    public var shopID: String
    public init(shopID: String) { self.shopID = shopID }
}

/// One shop's dashboard for the current UTC month.
public struct ShopView: Sendable, Equatable {
    public var shopID: String
    public var tier: String
    /// The current month, "YYYY-MM".
    public var period: String
    public var messagesThisMonth: UInt64
    public var apiCostThisMonthNanoUSD: NanoUSD
    /// The month's charges so far under the shop's tier (a billing preview).
    public var estimatedBillNanoUSD: NanoUSD
    public var recommendedTier: String
    /// Estimated bill minus the recommended tier's bill for the same usage; never negative.
    public var savingNanoUSD: NanoUSD
    public var dailySpentNanoUSD: NanoUSD
    public var dailyCapNanoUSD: NanoUSD
    /// Spent plus held today, in basis points of the daily cap.
    public var dailyUsedBasisPoints: UInt32
    public var monthlySpentNanoUSD: NanoUSD
    public var monthlyCapNanoUSD: NanoUSD
    /// Spent plus held this month, in basis points of the monthly cap.
    public var monthlyUsedBasisPoints: UInt32
    /// Messages the tier's fee covers (0 with `unlimitedMessages`).
    public var includedMessages: UInt64
    public var unlimitedMessages: Bool

    public init(
        shopID: String, tier: String, period: String, messagesThisMonth: UInt64 = 0, apiCostThisMonthNanoUSD: NanoUSD = 0,
        estimatedBillNanoUSD: NanoUSD = 0, recommendedTier: String = "", savingNanoUSD: NanoUSD = 0,
        dailySpentNanoUSD: NanoUSD = 0, dailyCapNanoUSD: NanoUSD = 0, dailyUsedBasisPoints: UInt32 = 0,
        monthlySpentNanoUSD: NanoUSD = 0, monthlyCapNanoUSD: NanoUSD = 0, monthlyUsedBasisPoints: UInt32 = 0,
        includedMessages: UInt64 = 0, unlimitedMessages: Bool = false
    ) {
        self.shopID = shopID
        self.tier = tier
        self.period = period
        self.messagesThisMonth = messagesThisMonth
        self.apiCostThisMonthNanoUSD = apiCostThisMonthNanoUSD
        self.estimatedBillNanoUSD = estimatedBillNanoUSD
        self.recommendedTier = recommendedTier
        self.savingNanoUSD = savingNanoUSD
        self.dailySpentNanoUSD = dailySpentNanoUSD
        self.dailyCapNanoUSD = dailyCapNanoUSD
        self.dailyUsedBasisPoints = dailyUsedBasisPoints
        self.monthlySpentNanoUSD = monthlySpentNanoUSD
        self.monthlyCapNanoUSD = monthlyCapNanoUSD
        self.monthlyUsedBasisPoints = monthlyUsedBasisPoints
        self.includedMessages = includedMessages
        self.unlimitedMessages = unlimitedMessages
    }
}

// MARK: - Statistics and reports

/// Which events a report or query covers: one shop or all, and a time range [from, to) on
/// `occurred_at`. Zero means unbounded on that side.
public struct UsageFilter: Sendable, Equatable, Hashable {
    /// Empty: every shop.
    public var shopID: String
    /// Inclusive; 0 = unbounded.
    public var fromUnixMs: UnixMillis
    /// Exclusive; 0 = unbounded.
    public var toUnixMs: UnixMillis

    public init(shopID: String = "", fromUnixMs: UnixMillis = 0, toUnixMs: UnixMillis = 0) {
        self.shopID = shopID
        self.fromUnixMs = fromUnixMs
        self.toUnixMs = toUnixMs
    }

    /// The inclusive lower bound as an instant (`Int64.min` when unbounded).
    public var lowerBound: UnixMillis { fromUnixMs == 0 ? .min : fromUnixMs }
    /// The exclusive upper bound as an instant (`Int64.max` when unbounded).
    public var upperBound: UnixMillis { toUnixMs == 0 ? .max : toUnixMs }

    /// True when an event that occurred at `unixMs` is in the range.
    public func contains(_ unixMs: UnixMillis) -> Bool { unixMs >= lowerBound && unixMs < upperBound }

    /// True when the filter admits events of `shopID`.
    public func admits(shopID: String) -> Bool { self.shopID.isEmpty || self.shopID == shopID }

    /// Throws `invalidArgument` for a negative bound, `from >= to`, or an over-long shop id.
    public func validate() throws(TokenGateError) {
        if !shopID.isEmpty { try Validation.shopID(shopID) }
        guard fromUnixMs >= 0, toUnixMs >= 0 else {
            throw .invalidArgument("filter times must be Unix milliseconds >= 0 (0 = unbounded), got from \(fromUnixMs), to \(toUnixMs)")
        }
        if fromUnixMs != 0, toUnixMs != 0, fromUnixMs >= toUnixMs {
            throw .invalidArgument(
                "filter range is empty: from \(UTCCalendar.iso8601(fromUnixMs)) is not before to \(UTCCalendar.iso8601(toUnixMs)) "
                    + "(from is inclusive, to exclusive)")
        }
    }
}

/// Usage totals of one group (an operation type, a shop, or everything).
public struct GroupTotals: Sendable, Equatable {
    /// The operation type or shop id; empty for overall totals.
    public var key: String
    public var events: UInt64
    public var inputTokens: UInt64
    public var outputTokens: UInt64
    public var cachedInputTokens: UInt64
    /// Input plus output tokens.
    public var totalTokens: UInt64
    public var costNanoUSD: NanoUSD
    /// `cost / events`, rounded half up; 0 without events.
    public var averageCostNanoUSD: NanoUSD

    public init(
        key: String, events: UInt64 = 0, inputTokens: UInt64 = 0, outputTokens: UInt64 = 0, cachedInputTokens: UInt64 = 0,
        totalTokens: UInt64 = 0, costNanoUSD: NanoUSD = 0, averageCostNanoUSD: NanoUSD = 0
    ) {
        self.key = key
        self.events = events
        self.inputTokens = inputTokens
        self.outputTokens = outputTokens
        self.cachedInputTokens = cachedInputTokens
        self.totalTokens = totalTokens
        self.costNanoUSD = costNanoUSD
        self.averageCostNanoUSD = averageCostNanoUSD
    }
}

/// GetStatistics: totals, by operation type and by shop, over a filter.
public struct GetStatisticsRequest: Sendable, Equatable {
    public var filter: UsageFilter
    public init(filter: UsageFilter = UsageFilter()) { self.filter = filter }
}

/// Totals over every matching event; groups by cost, highest first.
public struct GetStatisticsResponse: Sendable, Equatable {
    public var totals: GroupTotals
    public var byOperation: [GroupTotals]
    /// At most `ReportLimits.shopsPerResponseMax` shops, the most expensive ones.
    public var byShop: [GroupTotals]

    public init(totals: GroupTotals, byOperation: [GroupTotals], byShop: [GroupTotals]) {
        self.totals = totals
        self.byOperation = byOperation
        self.byShop = byShop
    }
}

/// One shop's month: the seed's "monthly summary by shop" row.
public struct ShopMonthSummary: Sendable, Equatable {
    public var shopID: String
    public var period: String
    public var messages: UInt64
    public var inputTokens: UInt64
    public var outputTokens: UInt64
    public var totalTokens: UInt64
    public var costNanoUSD: NanoUSD
    /// `total tokens / messages`, rounded half up.
    public var averageTokensPerMessage: UInt64
    /// `cost / messages`, rounded half up.
    public var averageCostPerMessageNanoUSD: NanoUSD

    public init(
        shopID: String, period: String, messages: UInt64, inputTokens: UInt64, outputTokens: UInt64, totalTokens: UInt64,
        costNanoUSD: NanoUSD, averageTokensPerMessage: UInt64, averageCostPerMessageNanoUSD: NanoUSD
    ) {
        self.shopID = shopID
        self.period = period
        self.messages = messages
        self.inputTokens = inputTokens
        self.outputTokens = outputTokens
        self.totalTokens = totalTokens
        self.costNanoUSD = costNanoUSD
        self.averageTokensPerMessage = averageTokensPerMessage
        self.averageCostPerMessageNanoUSD = averageCostPerMessageNanoUSD
    }
}

/// GetMonthlySummary: one row per shop with usage in the period.
public struct GetMonthlySummaryRequest: Sendable, Equatable {
    public var period: String
    /// Empty: every shop.
    public var shopID: String
    public init(period: String, shopID: String = "") {
        self.period = period
        self.shopID = shopID
    }
}

/// Rows by cost, highest first; at most `ReportLimits.shopsPerResponseMax`.
public struct GetMonthlySummaryResponse: Sendable, Equatable {
    public var shops: [ShopMonthSummary]
    public init(shops: [ShopMonthSummary]) { self.shops = shops }
}

/// GetMonthlyReport: a period's totals, by operation and by shop.
public struct GetMonthlyReportRequest: Sendable, Equatable {
    public var period: String
    public init(period: String) { self.period = period }
}

/// The seed's monthly billing report.
public struct GetMonthlyReportResponse: Sendable, Equatable {
    public var period: String
    public var totals: GroupTotals
    public var byOperation: [GroupTotals]
    /// At most `ReportLimits.shopsPerResponseMax` shops, the most expensive ones.
    public var byShop: [GroupTotals]

    public init(period: String, totals: GroupTotals, byOperation: [GroupTotals], byShop: [GroupTotals]) {
        self.period = period
        self.totals = totals
        self.byOperation = byOperation
        self.byShop = byShop
    }
}

/// GetHighCostShops: shops that spent more than a threshold in the last 24 hours.
public struct GetHighCostShopsRequest: Sendable, Equatable {
    /// 0 = `ReportLimits.highCostThresholdDefaultNanoUSD` ($1.00).
    public var thresholdNanoUSD: NanoUSD
    /// 0 = `ReportLimits.highCostTopDefault` (20).
    public var top: UInt32
    public init(thresholdNanoUSD: NanoUSD = 0, top: UInt32 = 0) {
        self.thresholdNanoUSD = thresholdNanoUSD
        self.top = top
    }
}

/// One shop of the high-cost report.
public struct HighCostShop: Sendable, Equatable {
    public var shopID: String
    /// Events in the last 24 hours.
    public var messages: UInt64
    /// Input plus output tokens in the last 24 hours.
    public var tokens: UInt64
    /// Cost over the last 24 hours.
    public var costNanoUSD: NanoUSD
    /// Spent this month plus the last 24 hours' cost for every day left in the month.
    public var projectedMonthlyCostNanoUSD: NanoUSD

    public init(shopID: String, messages: UInt64, tokens: UInt64, costNanoUSD: NanoUSD, projectedMonthlyCostNanoUSD: NanoUSD) {
        self.shopID = shopID
        self.messages = messages
        self.tokens = tokens
        self.costNanoUSD = costNanoUSD
        self.projectedMonthlyCostNanoUSD = projectedMonthlyCostNanoUSD
    }
}

/// Shops by 24-hour cost, highest first.
public struct GetHighCostShopsResponse: Sendable, Equatable {
    public var shops: [HighCostShop]
    public init(shops: [HighCostShop]) { self.shops = shops }
}

/// GetProjections: projected month-end cost per shop.
public struct GetProjectionsRequest: Sendable, Equatable {
    /// Empty: every shop with usage this month.
    public var shopID: String
    public init(shopID: String = "") { self.shopID = shopID }
}

/// One shop's month-end projection: `spent + dailyRunRate × daysLeft`.
public struct Projection: Sendable, Equatable {
    public var shopID: String
    public var period: String
    public var messagesThisMonth: UInt64
    public var spentNanoUSD: NanoUSD
    /// Spent this month divided by the days of the month so far (today included), rounded half up.
    public var dailyRunRateNanoUSD: NanoUSD
    /// Whole days of the month after today.
    public var daysLeft: UInt32
    public var projectedMonthEndNanoUSD: NanoUSD

    public init(
        shopID: String, period: String, messagesThisMonth: UInt64, spentNanoUSD: NanoUSD, dailyRunRateNanoUSD: NanoUSD,
        daysLeft: UInt32, projectedMonthEndNanoUSD: NanoUSD
    ) {
        self.shopID = shopID
        self.period = period
        self.messagesThisMonth = messagesThisMonth
        self.spentNanoUSD = spentNanoUSD
        self.dailyRunRateNanoUSD = dailyRunRateNanoUSD
        self.daysLeft = daysLeft
        self.projectedMonthEndNanoUSD = projectedMonthEndNanoUSD
    }
}

/// Projections by projected cost, highest first; at most `ReportLimits.shopsPerResponseMax`.
public struct GetProjectionsResponse: Sendable, Equatable {
    public var projections: [Projection]
    public init(projections: [Projection]) { self.projections = projections }
}

// MARK: - Usage logs

/// QueryUsageLogs: one page of a shop's events, in the order they were recorded.
public struct QueryUsageLogsRequest: Sendable, Equatable {
    /// `shopID` is required.
    public var filter: UsageFilter
    /// 0 = `ReportLimits.usagePageSizeDefault`.
    public var pageSize: UInt32
    /// From the previous page; empty = the first page.
    public var cursor: String

    public init(filter: UsageFilter, pageSize: UInt32 = 0, cursor: String = "") {
        self.filter = filter
        self.pageSize = pageSize
        self.cursor = cursor
    }
}

/// A page of events and where the next one starts.
public struct QueryUsageLogsResponse: Sendable, Equatable {
    public var events: [UsageEvent]
    /// Empty when there are no more events now.
    public var nextCursor: String
    public init(events: [UsageEvent], nextCursor: String) {
        self.events = events
        self.nextCursor = nextCursor
    }
}

/// ExportUsageCsv: every matching event as RFC 4180 CSV, server-streamed.
public struct ExportUsageCSVRequest: Sendable, Equatable {
    public var filter: UsageFilter
    public init(filter: UsageFilter = UsageFilter()) { self.filter = filter }
}

/// One frame of the export: whole CSV rows (the first chunk starts with the header row).
public struct ExportUsageCSVChunk: Sendable, Equatable {
    public var data: [UInt8]
    /// Event rows in `data` (the header row is not counted).
    public var rows: UInt64
    public init(data: [UInt8], rows: UInt64) {
        self.data = data
        self.rows = rows
    }
}

// MARK: - Alerts

/// ListAlerts: stored alerts, newest first.
public struct ListAlertsRequest: Sendable, Equatable {
    /// Empty: every shop.
    public var shopID: String
    /// 0 = `ReportLimits.alertsListDefault`.
    public var limit: UInt32
    public init(shopID: String = "", limit: UInt32 = 0) {
        self.shopID = shopID
        self.limit = limit
    }
}

/// Alerts, newest first.
public struct ListAlertsResponse: Sendable, Equatable {
    public var alerts: [Alert]
    public init(alerts: [Alert]) { self.alerts = alerts }
}

/// WatchAlerts: every alert stored from now on, streamed.
public struct WatchAlertsRequest: Sendable, Equatable {
    /// Empty: every shop.
    public var shopID: String
    public init(shopID: String = "") { self.shopID = shopID }
}
