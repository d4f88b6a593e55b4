// Budgets across hosts (DESIGN §8): the escrow book of pools and leases that PostgreSQL keeps,
// as a pure value. One pool per (shop, budget window) holds the cap, the settled spend and the
// amount leased out; one lease per (host, shop, window) holds what that host may still spend.
// The SQL in TokenGatePostgres/LeaseStatements.swift does exactly what these functions do; the
// seeded simulation test drives this model with many hosts, lost replies and crashes against
// the invariant "never hand out more than is left": settled + leased <= cap.

/// A budget window of a shop: one UTC day or one UTC month (DESIGN §2).
public enum BudgetWindow: Hashable, Sendable, CustomStringConvertible {
    case day(DayKey)
    case month(MonthKey)

    /// The windows an instant falls in, day first.
    public static func containing(_ unixMs: UnixMillis) -> [BudgetWindow] {
        let day = DayKey(unixMs: unixMs)
        return [.day(day), .month(day.month)]
    }

    /// The key stored in PostgreSQL: `day:2026-12-07` or `month:2026-12`.
    public var description: String {
        switch self {
        case .day(let day): return "day:" + day.text
        case .month(let month): return "month:" + month.text
        }
    }

    /// When the window ends (exclusive), Unix ms.
    public var endUnixMs: UnixMillis {
        switch self {
        case .day(let day): return day.endUnixMs
        case .month(let month): return month.endUnixMs
        }
    }
}

/// The shared pool of one (shop, window).
public struct LeasePool: Sendable, Equatable {
    /// The fleet's cap for the window (nil until a host asked for a lease).
    public var capNanoUSD: NanoUSD?
    /// Spend shipped by every host.
    public var settledNanoUSD: NanoUSD = 0
    /// Sum of the hosts' outstanding leases.
    public var leasedNanoUSD: NanoUSD = 0

    public init(capNanoUSD: NanoUSD? = nil, settledNanoUSD: NanoUSD = 0, leasedNanoUSD: NanoUSD = 0) {
        self.capNanoUSD = capNanoUSD
        self.settledNanoUSD = settledNanoUSD
        self.leasedNanoUSD = leasedNanoUSD
    }

    /// What is neither settled nor leased: `max(0, cap − settled − leased)`.
    public var freeNanoUSD: NanoUSD {
        guard let cap = capNanoUSD else { return 0 }
        return BudgetMath.remaining(used: Money.addSaturating(settledNanoUSD, leasedNanoUSD), cap: cap)
    }
}

/// One host's lease on a (shop, window).
public struct Lease: Sendable, Equatable {
    /// Granted and neither settled nor returned: what the host may still spend.
    public var amountNanoUSD: NanoUSD = 0
    /// This host's shipped spend in the window.
    public var settledNanoUSD: NanoUSD = 0
    /// The sequence number of the last grant or return applied (a retry carries the same one).
    public var sequence: Int64 = 0

    public init(amountNanoUSD: NanoUSD = 0, settledNanoUSD: NanoUSD = 0, sequence: Int64 = 0) {
        self.amountNanoUSD = amountNanoUSD
        self.settledNanoUSD = settledNanoUSD
        self.sequence = sequence
    }

    /// The most this host may have spent and held in the window: its shipped spend plus its
    /// outstanding lease. The host's gate admits a call only while local spend + holds + the
    /// call's worst case stay within it.
    public var entitlementNanoUSD: NanoUSD { Money.addSaturating(settledNanoUSD, amountNanoUSD) }
}

/// The key of a pool.
public struct PoolKey: Hashable, Sendable {
    public var shopID: String
    public var window: BudgetWindow

    public init(shopID: String, window: BudgetWindow) {
        self.shopID = shopID
        self.window = window
    }
}

/// The key of a lease.
public struct LeaseKey: Hashable, Sendable {
    public var hostID: String
    public var pool: PoolKey

    public init(hostID: String, pool: PoolKey) {
        self.hostID = hostID
        self.pool = pool
    }
}

/// What a grant or return answered.
public struct LeaseReply: Sendable, Equatable {
    /// True when this call changed the book (false: refused, or already applied by a retry).
    public var applied: Bool
    public var lease: Lease
    public var pool: LeasePool

    public init(applied: Bool, lease: Lease, pool: LeasePool) {
        self.applied = applied
        self.lease = lease
        self.pool = pool
    }
}

/// Every pool and lease: the model of the PostgreSQL tables.
public struct LeaseBook: Sendable {
    public private(set) var pools: [PoolKey: LeasePool] = [:]
    public private(set) var leases: [LeaseKey: Lease] = [:]

    public init() {}

    /// Grants `slice` to `key` when `settled + leased + slice <= cap` (the one conditional
    /// UPDATE), recording `sequence`; a sequence already applied changes nothing and answers the
    /// current lease (a retried grant whose reply was lost).
    public mutating func grant(_ key: LeaseKey, slice: NanoUSD, cap: NanoUSD, sequence: Int64) -> LeaseReply {
        precondition(slice > 0, "a grant is of a positive amount")
        var pool = pools[key.pool] ?? LeasePool()
        var lease = leases[key] ?? Lease()
        var applied = false
        if lease.sequence < sequence, Money.addSaturating(Money.addSaturating(pool.settledNanoUSD, pool.leasedNanoUSD), slice) <= cap {
            pool.capNanoUSD = cap
            pool.leasedNanoUSD += slice
            lease.amountNanoUSD += slice
            lease.sequence = sequence
            applied = true
        } else if lease.sequence < sequence {
            pool.capNanoUSD = cap
        }
        pools[key.pool] = pool
        leases[key] = lease
        return LeaseReply(applied: applied, lease: lease, pool: pool)
    }

    /// Gives `amount` of `key`'s lease back to the pool (at most what is outstanding), once per
    /// `sequence`.
    public mutating func giveBack(_ key: LeaseKey, amount: NanoUSD, sequence: Int64) -> LeaseReply {
        var pool = pools[key.pool] ?? LeasePool()
        var lease = leases[key] ?? Lease()
        var applied = false
        if lease.sequence < sequence {
            let back = min(max(amount, 0), lease.amountNanoUSD)
            lease.amountNanoUSD -= back
            pool.leasedNanoUSD -= back
            lease.sequence = sequence
            applied = true
        }
        pools[key.pool] = pool
        leases[key] = lease
        return LeaseReply(applied: applied, lease: lease, pool: pool)
    }

    /// Settles `cost` of shipped spend by `hostID` (once per event: the shipper's transaction
    /// counts only rows it inserted). The host's lease shrinks by what the spend used of it;
    /// spend beyond the lease (a call that cost more than its estimate, no reservation) is
    /// settled all the same: usage is never refused.
    public mutating func settle(hostID: String, pool poolKey: PoolKey, cost: NanoUSD) {
        var pool = pools[poolKey] ?? LeasePool()
        let key = LeaseKey(hostID: hostID, pool: poolKey)
        if var lease = leases[key] {
            let used = min(cost, lease.amountNanoUSD)
            lease.amountNanoUSD -= used
            lease.settledNanoUSD = Money.addSaturating(lease.settledNanoUSD, cost)
            pool.leasedNanoUSD -= used
            leases[key] = lease
        } else {
            leases[key] = Lease(amountNanoUSD: 0, settledNanoUSD: cost, sequence: 0)
        }
        pool.settledNanoUSD = Money.addSaturating(pool.settledNanoUSD, cost)
        pools[poolKey] = pool
    }

    /// The shipper's transaction in fleet mode (DESIGN §8): `cost` of `hostID`'s shipped spend
    /// settled, then `giveBack` (a return begun by the host, if any) applied, all at once, as
    /// one PostgreSQL transaction commits them. Returns the return's reply.
    @discardableResult
    public mutating func ship(hostID: String, pool: PoolKey, cost: NanoUSD, giveBack: LeaseOperation?) -> LeaseReply? {
        if cost > 0 { settle(hostID: hostID, pool: pool, cost: cost) }
        guard let giveBack else { return nil }
        return self.giveBack(LeaseKey(hostID: hostID, pool: pool), amount: giveBack.amountNanoUSD, sequence: giveBack.sequence)
    }

    /// A host's start (`LeaseStatements.hostLeases`): its lease as it stands, read with its
    /// sequence moved on by one, so that an operation of its previous life still on its way
    /// changes nothing when it lands.
    public mutating func fenceAndRead(_ key: LeaseKey) -> Lease {
        var lease = leases[key] ?? Lease()
        if leases[key] != nil {
            lease.sequence += 1
            leases[key] = lease
        }
        return lease
    }

    /// Amounts reclaimed from expired leases of gone hosts, per lease (`reclaimExpired`).
    public private(set) var reclaimed: [LeaseKey: NanoUSD] = [:]

    /// Takeover (`LeaseStatements.reclaimExpired`): the outstanding lease of `key`, whose host
    /// is gone (its lease expired and it neither renews nor ships), goes back to the pool; its
    /// sequence moves on and the amount is recorded. What that host spent of it and never
    /// shipped settles over the cap if it ever ships it: at most the amount returned here.
    @discardableResult
    public mutating func reclaimExpired(_ key: LeaseKey) -> NanoUSD {
        guard var lease = leases[key], lease.amountNanoUSD > 0 else { return 0 }
        let amount = lease.amountNanoUSD
        pools[key.pool]!.leasedNanoUSD -= amount
        lease.amountNanoUSD = 0
        lease.sequence += 1
        leases[key] = lease
        reclaimed[key, default: 0] += amount
        return amount
    }

    /// Writes off every outstanding lease of `hostID` (`tokengate fleet release-host`): the
    /// amounts go back to their pools. Only for a host that is gone for good or whose log was
    /// shipped: spend it made and never shipped would then count twice against the cap.
    /// Returns the amount released.
    @discardableResult
    public mutating func releaseHost(_ hostID: String) -> NanoUSD {
        var released: NanoUSD = 0
        for (key, lease) in leases where key.hostID == hostID && lease.amountNanoUSD > 0 {
            pools[key.pool]!.leasedNanoUSD -= lease.amountNanoUSD
            released += lease.amountNanoUSD
            leases[key]!.amountNanoUSD = 0
            leases[key]!.sequence += 1
        }
        return released
    }
}

/// How big a slice to ask for (DESIGN §8, issue 20): about ten seconds of the shop's recent
/// spend, at least one call's worst case, and at most half of what is free divided by the
/// hosts that hold leases on the pool, so that no host can strand the budget.
public enum LeaseSizing {
    /// Seconds of recent spend one slice should cover.
    public static let sliceSecondsOfSpend: Int64 = 10

    /// The slice to ask for, or nil when the pool is too close to its cap for slices (direct
    /// mode: the caller asks for exactly what one call needs).
    /// - Parameters:
    ///   - spendPerSecond: the shop's recent spend rate on this host.
    ///   - need: the worst case of the call waiting (0 when refilling ahead of need).
    ///   - free: the pool's free amount as last seen.
    ///   - activeHosts: hosts holding a lease on the pool (this one included), at least 1.
    public static func slice(spendPerSecond: NanoUSD, need: NanoUSD, free: NanoUSD, activeHosts: Int) -> NanoUSD? {
        let (product, overflow) = max(spendPerSecond, 0).multipliedReportingOverflow(by: sliceSecondsOfSpend)
        let wanted = max(overflow ? .max : product, need, 1)
        let share = free / 2 / Int64(max(activeHosts, 1))
        if share >= max(need, 1) { return min(wanted, share) }
        return nil
    }
}
