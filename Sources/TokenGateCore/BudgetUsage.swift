// How much of its daily and monthly cost budgets a shop has used at an instant: recorded spend
// of the current UTC day and month plus live holds. The gate, ApplyOptimization and the shop
// view all read budgets through this one value so they can never disagree.

/// A shop's budget usage at one instant under one operation type's limits.
public struct BudgetUsage: Sendable, Equatable {
    /// The UTC day of the instant.
    public var day: DayKey
    /// The UTC month of the instant.
    public var month: MonthKey
    /// Recorded spend of `day` (all operation types).
    public var dailySpentNanoUSD: NanoUSD
    /// Recorded spend of `month` (all operation types).
    public var monthlySpentNanoUSD: NanoUSD
    /// Live holds, counted against both budgets.
    public var heldNanoUSD: NanoUSD
    /// Number of live holds.
    public var heldCount: Int
    /// The daily cost cap of the operation type's limits.
    public var dailyCapNanoUSD: NanoUSD
    /// The monthly cost cap of the operation type's limits.
    public var monthlyCapNanoUSD: NanoUSD

    /// Spent plus held today.
    public var dailyUsedNanoUSD: NanoUSD { Money.addSaturating(dailySpentNanoUSD, heldNanoUSD) }
    /// Spent plus held this month.
    public var monthlyUsedNanoUSD: NanoUSD { Money.addSaturating(monthlySpentNanoUSD, heldNanoUSD) }
    /// `max(0, cap − used)` for the day.
    public var dailyRemainingNanoUSD: NanoUSD { BudgetMath.remaining(used: dailyUsedNanoUSD, cap: dailyCapNanoUSD) }
    /// `max(0, cap − used)` for the month.
    public var monthlyRemainingNanoUSD: NanoUSD { BudgetMath.remaining(used: monthlyUsedNanoUSD, cap: monthlyCapNanoUSD) }
    /// Daily usage in basis points of the cap (10,000 = 100 %).
    public var dailyBasisPoints: UInt32 { BudgetMath.basisPoints(used: dailyUsedNanoUSD, cap: dailyCapNanoUSD) }
    /// Monthly usage in basis points of the cap.
    public var monthlyBasisPoints: UInt32 { BudgetMath.basisPoints(used: monthlyUsedNanoUSD, cap: monthlyCapNanoUSD) }

    /// True when daily or monthly usage is at or above `percent` of its cap.
    public func reaches(percent: UInt32) -> Bool {
        BudgetMath.reaches(used: dailyUsedNanoUSD, percent: percent, of: dailyCapNanoUSD)
            || BudgetMath.reaches(used: monthlyUsedNanoUSD, percent: percent, of: monthlyCapNanoUSD)
    }
}

extension ShopState {
    /// Budget usage at `now` under `limits` (usually `config.limits(shopID:operationType:)`).
    public func budgetUsage(limits: OperationLimits, now: UnixMillis) -> BudgetUsage {
        let day = DayKey(unixMs: now)
        let held = reservations.held(at: now)
        return BudgetUsage(
            day: day, month: day.month, dailySpentNanoUSD: spent(day: day),
            monthlySpentNanoUSD: aggregate(month: day.month).costNanoUSD, heldNanoUSD: held.amount,
            heldCount: held.count, dailyCapNanoUSD: limits.dailyCostCapNanoUSD,
            monthlyCapNanoUSD: limits.monthlyCostCapNanoUSD)
    }
}

/// Integer percentage arithmetic on non-negative amounts, without overflow.
public enum BudgetMath {
    /// `max(0, cap − used)`.
    public static func remaining(used: NanoUSD, cap: NanoUSD) -> NanoUSD {
        cap > used ? Money.addSaturating(cap, -max(used, 0)) : 0
    }

    /// `used × 10,000 / cap`, rounded down, at most `UInt32.max`. A cap of 0 counts as fully used.
    public static func basisPoints(used: NanoUSD, cap: NanoUSD) -> UInt32 {
        let used = UInt64(max(used, 0))
        guard cap > 0 else { return used > 0 ? .max : 10_000 }
        let product = used.multipliedFullWidth(by: 10_000)
        guard product.high < UInt64(cap) else { return .max }
        let (quotient, _) = UInt64(cap).dividingFullWidth(product)
        return UInt32(clamping: quotient)
    }

    /// True when `used ≥ percent % of cap`, exactly (`used × 100 ≥ cap × percent`).
    public static func reaches(used: NanoUSD, percent: UInt32, of cap: NanoUSD) -> Bool {
        let left = UInt64(max(used, 0)).multipliedFullWidth(by: 100)
        let right = UInt64(max(cap, 0)).multipliedFullWidth(by: UInt64(percent))
        return (left.high, left.low) >= (right.high, right.low)
    }

    /// `cap × percent / 100`, rounded up: the smallest amount that `reaches` the percentage.
    public static func threshold(percent: UInt32, of cap: NanoUSD) -> NanoUSD {
        let cap = UInt64(max(cap, 0))
        let product = cap.multipliedFullWidth(by: UInt64(percent))
        let (low, carry) = product.low.addingReportingOverflow(99)
        let high = product.high + (carry ? 1 : 0)
        guard high < 100 else { return .max }
        let (quotient, _) = UInt64(100).dividingFullWidth((high, low))
        return NanoUSD(clamping: quotient)
    }

    /// Whole percent for messages: `basisPoints / 100`.
    static func percentText(_ basisPoints: UInt32) -> String { "\(basisPoints / 100)%" }
}
