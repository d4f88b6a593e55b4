// What fleet mode (DESIGN §8, issue 20) asks of the local ledger: this host's spend and live
// holds of a shop in a budget window (the part of its lease it has used), and the fleet cap of a
// shop's pool (the largest cap of its operation types: the most any call may reach).
import TokenGateCore

extension Ledger {
    /// The gate in fleet mode: `allowance` (this host's lease on the shop's pools) is read under
    /// the shop's lock, so a return computed under the same lock (`withLocalUse`) can never
    /// take back lease that a call admitted at the same moment is counting on.
    public func canMakeRequest(
        _ request: CanMakeRequestRequest, now: UnixMillis, allowance: (String) -> FleetAllowance
    ) throws(TokenGateError) -> CanMakeRequestResponse {
        let snapshot = configuration.snapshot
        let shard = shard(for: request.shopID)
        return try shard.shops.withLock { shops throws(TokenGateError) in
            try shard.withState(request.shopID, in: &shops) { shop throws(TokenGateError) in
                try shop.canMakeRequest(request, config: snapshot.value, now: now, fleet: allowance(request.shopID)) {
                    nextReservationID(shopID: request.shopID)
                }
            }
        }
    }

    /// Runs `body` with this host's recorded spend plus live holds of `shopID` in `window` at
    /// `now`, under the shop's lock: no call of the shop is admitted meanwhile.
    public func withLocalUse<Result>(
        shopID: String, window: BudgetWindow, now: UnixMillis, _ body: (NanoUSD) -> Result
    ) -> Result {
        let shard = shard(for: shopID)
        return shard.shops.withLock { shops in
            body(Self.localUse(shops[shopID], window: window, now: now))
        }
    }

    private static func localUse(_ shop: ShopState?, window: BudgetWindow, now: UnixMillis) -> NanoUSD {
            guard let shop else { return 0 }
            let usage = shop.budgetUsage(limits: Self.noLimits, now: now)
            switch window {
            case .day(let day):
                guard day == usage.day else { return shop.spent(day: day) }
                return usage.dailyUsedNanoUSD
            case .month(let month):
                guard month == usage.month else { return shop.aggregate(month: month).costNanoUSD }
                return usage.monthlyUsedNanoUSD
            }
    }

    /// The fleet cap of `shopID`'s pool for `window`: the largest daily (or monthly) cap among
    /// the operation types' limits for the shop, under the current configuration.
    public func fleetCap(shopID: String, window: BudgetWindow) -> NanoUSD {
        let config = currentConfiguration
        var cap: NanoUSD = 0
        for operationType in config.limits.keys {
            guard let limits = try? config.limits(shopID: shopID, operationType: operationType) else { continue }
            switch window {
            case .day: cap = max(cap, limits.dailyCostCapNanoUSD)
            case .month: cap = max(cap, limits.monthlyCostCapNanoUSD)
            }
        }
        return cap
    }

    /// Limits for reading spend and holds (which do not depend on them).
    private static let noLimits = OperationLimits(
        maxInputTokensPerMessage: 0, maxOutputTokensPerMessage: 0, maxTotalTokensPerMessage: 0, dailyCostCapNanoUSD: 0,
        monthlyCostCapNanoUSD: 0, alertThresholdPercent: 100)
}
