// The gate's budget in fleet mode (DESIGN §8): what this host's leases let it spend of a shop's
// fleet-wide daily and monthly budgets. The gate stays exactly today's gate (reservations,
// message limits, rate limits, shadow mode); only the budget it checks changes: spend counts
// the other hosts' share as last seen in PostgreSQL, and the cap is the lesser of the
// configured cap and what this host's lease covers.

/// This host's standing on one (shop, window) pool.
public struct FleetWindowAllowance: Sendable, Equatable {
    /// The most this host may have spent and held in the window (`Lease.entitlementNanoUSD`);
    /// its shipped spend alone once the lease has expired.
    public var entitlementNanoUSD: NanoUSD
    /// The other hosts' settled spend plus their outstanding leases, as last seen: an upper
    /// bound of what they have used.
    public var othersNanoUSD: NanoUSD

    public init(entitlementNanoUSD: NanoUSD, othersNanoUSD: NanoUSD) {
        self.entitlementNanoUSD = entitlementNanoUSD
        self.othersNanoUSD = othersNanoUSD
    }
}

/// This host's standing on a shop's day and month pools.
public struct FleetAllowance: Sendable, Equatable {
    public var day: FleetWindowAllowance
    public var month: FleetWindowAllowance

    public init(day: FleetWindowAllowance, month: FleetWindowAllowance) {
        self.day = day
        self.month = month
    }

    /// `usage` (this host's spend and holds) seen fleet-wide: the others' share is added to the
    /// spend (what the response reports: remaining budget, percentages, the warning).
    public func seen(_ usage: BudgetUsage) -> BudgetUsage {
        var fleet = usage
        fleet.dailySpentNanoUSD = Money.addSaturating(usage.dailySpentNanoUSD, day.othersNanoUSD)
        fleet.monthlySpentNanoUSD = Money.addSaturating(usage.monthlySpentNanoUSD, month.othersNanoUSD)
        return fleet
    }

    /// What the cap checks use: `seen(usage)` with each cap lowered to others + entitlement when
    /// that is less. A call then passes only if this host's spend, holds and the call's worst
    /// case fit in its lease, and the fleet's in the configured cap.
    public func limited(_ usage: BudgetUsage) -> BudgetUsage {
        var fleet = seen(usage)
        fleet.dailyCapNanoUSD = min(usage.dailyCapNanoUSD, Money.addSaturating(day.othersNanoUSD, day.entitlementNanoUSD))
        fleet.monthlyCapNanoUSD = min(
            usage.monthlyCapNanoUSD, Money.addSaturating(month.othersNanoUSD, month.entitlementNanoUSD))
        return fleet
    }
}
