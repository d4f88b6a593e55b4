// Integer arithmetic and combination rules of reports: averages rounded half up, the month-end
// projection (spent + daily rate × days left; the seed's SQL multiplied the spend by the ratio
// of days left to days elapsed, which forgets what was already spent), and the builder that
// combines shops' usage into totals, by-operation and by-shop groups within response caps.

/// Report arithmetic; never floating point.
public enum ReportMath {
    /// `total / count` rounded half up; 0 when `count` is 0. Negative totals round towards zero
    /// (they do not occur: costs are never negative).
    public static func average(_ total: NanoUSD, over count: UInt64) -> NanoUSD {
        guard count > 0, total > 0 else { return 0 }
        return NanoUSD(average(UInt64(total), over: count))
    }

    /// `total / count` rounded half up; 0 when `count` is 0.
    public static func average(_ total: UInt64, over count: UInt64) -> UInt64 {
        guard count > 0 else { return 0 }
        let (quotient, remainder) = total.quotientAndRemainder(dividingBy: count)
        // remainder >= count - remainder is remainder × 2 >= count without overflow.
        return remainder >= count - remainder ? quotient + 1 : quotient
    }

    /// `spent + dailyRate × days`, pinned at `Int64.max` instead of wrapping (a projection that
    /// large is "more than any cap", and a report must not fail on it).
    public static func project(spent: NanoUSD, dailyRate: NanoUSD, days: Int) -> NanoUSD {
        let (rest, overflow) = dailyRate.multipliedReportingOverflow(by: Int64(max(days, 0)))
        return overflow ? .max : Money.addSaturating(spent, rest)
    }
}

extension GroupTotals {
    /// The totals of `aggregate` under `key`, with the average cost per event.
    public init(key: String, _ aggregate: MonthAggregate) {
        self.init(
            key: key, events: aggregate.messages, inputTokens: aggregate.inputTokens, outputTokens: aggregate.outputTokens,
            cachedInputTokens: aggregate.cachedInputTokens, totalTokens: aggregate.totalTokens,
            costNanoUSD: aggregate.costNanoUSD, averageCostNanoUSD: ReportMath.average(aggregate.costNanoUSD, over: aggregate.messages))
    }
}

/// Combines shops' usage by operation type into report groups.
public struct UsageReportBuilder: Sendable {
    private var operations: [String: MonthAggregate] = [:]
    private var shops: [String: MonthAggregate] = [:]

    public init() {}

    /// Adds one shop's usage; shops without events in it are left out of the by-shop list.
    public mutating func add(shopID: String, usage: [String: MonthAggregate]) {
        let total = usage.total
        guard total.messages > 0 else { return }
        operations.merge(usage)
        shops[shopID, default: MonthAggregate()].merge(total)
    }

    /// Totals over everything added.
    public var totals: GroupTotals { GroupTotals(key: "", operations.total) }

    /// Groups by operation type, most expensive first (ties by name).
    public var byOperation: [GroupTotals] { Self.ranked(operations, limit: ReportLimits.operationsPerResponseMax) }

    /// Groups by shop, most expensive first (ties by id), at most `ReportLimits.shopsPerResponseMax`.
    public var byShop: [GroupTotals] { Self.ranked(shops, limit: ReportLimits.shopsPerResponseMax) }

    /// The statistics response of everything added.
    public var statistics: GetStatisticsResponse {
        GetStatisticsResponse(totals: totals, byOperation: byOperation, byShop: byShop)
    }

    static func ranked(_ groups: [String: MonthAggregate], limit: Int) -> [GroupTotals] {
        let sorted = groups.sorted { left, right in
            left.value.costNanoUSD != right.value.costNanoUSD
                ? left.value.costNanoUSD > right.value.costNanoUSD : left.key < right.key
        }
        return sorted.prefix(limit).map { GroupTotals(key: $0.key, $0.value) }
    }
}

/// Keeps the `limit` greatest elements of a stream under `isBefore` (best first) without
/// holding the whole stream: used where a report collects rows from many shops.
public struct TopList<Element>: Sendable where Element: Sendable {
    private var items: [Element] = []
    private let limit: Int
    private let isBefore: @Sendable (Element, Element) -> Bool

    public init(limit: Int, isBefore: @escaping @Sendable (Element, Element) -> Bool) {
        self.limit = max(limit, 0)
        self.isBefore = isBefore
    }

    /// Adds one element; sorts and trims once twice the limit is held, so adding is O(log n)
    /// amortized per element.
    public mutating func add(_ element: Element) {
        guard limit > 0 else { return }
        items.append(element)
        if items.count >= 2 * limit + 16 { trim() }
    }

    /// The best `limit` elements, best first.
    public var sorted: [Element] {
        var copy = self
        copy.trim()
        return copy.items
    }

    private mutating func trim() {
        items.sort(by: isBefore)
        if items.count > limit { items.removeLast(items.count - limit) }
    }
}
