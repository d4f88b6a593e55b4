// Read-only views of the ledger for the daemon's metrics: shops per shard, reservations held,
// the shops that spent most today, and the log's counters. Each shard is locked only while its
// shops are counted, so a scrape never holds up more than one shard at a time.
import TokenGateCore

/// What a metrics scrape reads from the ledger.
public struct LedgerGauges: Sendable, Equatable {
    /// Shops held in memory, per shard (index = shard number).
    public var shopsPerShard: [Int]
    /// Live reservation holds across every shop.
    public var reservationsHeld: Int
    /// Sum of the live holds.
    public var reservationsHeldNanoUSD: NanoUSD
    /// The shops with the highest recorded cost on the current UTC day, highest first.
    public var topShopsToday: [ShopCost]
    /// Live holds and gate-only shops as counted against `GateMemoryLimits`.
    public var liveReservationsCounted = 0
    public var gateOnlyShops = 0

    /// A shop and what it spent.
    public struct ShopCost: Sendable, Equatable {
        public var shopID: String
        public var costNanoUSD: NanoUSD
    }
}

extension Ledger {
    /// Live holds and gate-only shops as counted against `GateMemoryLimits` (exact after each
    /// sweep; between sweeps, expired holds count until a call or the sweep forgets them).
    public var gateMemoryUsage: (liveReservations: Int, gateOnlyShops: Int) {
        (gateMemory.liveReservations.load(ordering: .relaxed), gateMemory.gateOnlyShops.load(ordering: .relaxed))
    }

    /// Counts shops and holds in every shard and keeps the `topShops` shops with the highest
    /// recorded cost on the UTC day of `now` (ties broken by shop id, for stable output).
    public func gauges(now: UnixMillis, topShops: Int) -> LedgerGauges {
        let today = DayKey(unixMs: now)
        var gauges = LedgerGauges(shopsPerShard: [], reservationsHeld: 0, reservationsHeldNanoUSD: 0, topShopsToday: [])
        gauges.shopsPerShard.reserveCapacity(shards.count)
        (gauges.liveReservationsCounted, gauges.gateOnlyShops) = gateMemoryUsage
        for shard in shards {
            shard.shops.withLock { shops in
                gauges.shopsPerShard.append(shops.count)
                for shop in shops.values {
                    let held = shop.held(at: now)
                    gauges.reservationsHeld += held.count
                    gauges.reservationsHeldNanoUSD = Money.addSaturating(gauges.reservationsHeldNanoUSD, held.amountNanoUSD)
                    let spent = shop.spent(day: today)
                    if spent > 0 { Self.keepTop(&gauges.topShopsToday, .init(shopID: shop.shopID, costNanoUSD: spent), limit: topShops) }
                }
            }
        }
        return gauges
    }

    /// False once the log failed or while one flush has taken longer than `stallMs`.
    public func logIsMakingProgress(stallMs: Int64) -> Bool {
        log.isMakingProgress(stallNanoseconds: UInt64(max(1, stallMs)) * 1_000_000)
    }

    /// The store's histograms (fsync latency, snapshot duration).
    public var storeMetrics: StoreMetrics { log.metrics }

    /// The sequence of the last record appended to the log (0 before any).
    public var logLastSequence: UInt64 { log.lastSequence }

    /// Inserts `entry` into `top` (sorted by cost descending, then shop id), keeping at most `limit`.
    private static func keepTop(_ top: inout [LedgerGauges.ShopCost], _ entry: LedgerGauges.ShopCost, limit: Int) {
        func ranksAbove(_ a: LedgerGauges.ShopCost, _ b: LedgerGauges.ShopCost) -> Bool {
            a.costNanoUSD != b.costNanoUSD ? a.costNanoUSD > b.costNanoUSD : a.shopID < b.shopID
        }
        guard limit > 0 else { return }
        if top.count == limit, let last = top.last, !ranksAbove(entry, last) { return }
        let position = top.firstIndex { ranksAbove(entry, $0) } ?? top.count
        top.insert(entry, at: position)
        if top.count > limit { top.removeLast() }
    }
}
