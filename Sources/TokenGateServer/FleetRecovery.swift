// Fleet mode's returns, expiry and outages (DESIGN §8, issue 20 items 4 and 5), beside the
// refill thread of FleetLeases.swift:
//
// - Returns with each shipped batch: the shipper asks, for the shops its batch settles, which
//   unused lease should go back (beyond twice what ~10 s of spend needs; all of it when the pool
//   is idle, near its cap or its window ended), and sends those returns inside its own
//   transaction, after the settlement. Settled spend and returned lease then commit together:
//   a crash between the two cannot exist, so settled + leased never counts an amount twice nor
//   drops one. The return keeps its sequence number: if the shipper's transaction fails, the
//   refill thread sends it again (a retry of an applied return changes nothing).
// - Takeover: every third of the lease TTL, the refill thread reclaims the leases of other
//   hosts that expired more than `reclaimAfterMs` ago and whose host has not shipped in that
//   time (it is gone). Their holder trusted them only until their expiry; what it spent of
//   them and never shipped is unknown, so the amount reclaimed is recorded in the lease row
//   (`reclaimed_nano_usd`): it bounds what that host's log can still settle over the cap if it
//   ever comes back.
// - Outage allowance: while the refill thread cannot reach PostgreSQL, a pool whose lease was
//   read from PostgreSQL in this daemon's life may admit up to the shop's allowance beyond its
//   lease (expired or not). Once PostgreSQL answers again, what was admitted beyond the lease
//   is logged and counted (metric), recorded in the lease row (`outage_used_nano_usd`, read
//   back at start, so a restart does not spend the window's allowance again), and the shipper
//   settles it against the pool like any spend.

import Synchronization
import TokenGateClock
import TokenGateCore
import TokenGatePostgres

/// Recovery's counters and the outage flag.
final class FleetRecoveryState: Sendable {
    /// True from the refill thread's first failure until PostgreSQL answers again.
    let outage = Atomic<Bool>(false)
    /// Outage allowance used per pool (kept when a pool's entry is forgotten, so an allowance is
    /// spent once per window, not once per outage), read back from PostgreSQL at start so that
    /// a restart does not spend it again either.
    let outageUsed = Mutex<[PoolKey: NanoUSD]>([:])
    /// Pools whose `outageUsed` grew and is not yet recorded in PostgreSQL.
    let outageUnsaved = Mutex<Set<PoolKey>>([])
    let outageAdmittedNanoUSD = Atomic<UInt64>(0)
    let outages = Atomic<UInt64>(0)
    let reclaimedLeases = Atomic<UInt64>(0)
    let reclaimedNanoUSD = Atomic<UInt64>(0)
    let shipmentReturns = Atomic<UInt64>(0)
    let shipmentReturnedNanoUSD = Atomic<UInt64>(0)
    /// A call of a shop with an outage allowance was refused for a full pool: the refill thread
    /// checks that PostgreSQL still answers (at most every half second), so that an outage is
    /// noticed even when no grant is due.
    let probeWanted = Atomic<Bool>(false)
    let lastProbeMs = Atomic<Int64>(0)
}

/// A return handed to the shipper's transaction.
public struct ShipmentReturn: Sendable {
    public var pool: PoolKey
    public var operation: LeaseOperation
}

extension FleetLeases {
    // MARK: - Outage allowance (the hot path's part)

    /// The gate's allowance of `entry`: the lease as it stands, plus what is left of the shop's
    /// outage allowance while PostgreSQL is unreachable (called under its shard's lock).
    func outageAllowance(_ entry: Entry, key: PoolKey, nowMs: Int64) -> FleetWindowAllowance {
        let allowance = entry.lease.allowance(at: nowMs, localUsed: 0)
        guard recovery.outage.load(ordering: .relaxed), entry.loaded else { return allowance }
        let total = options.outageAllowance.nanoUSD(for: key.shopID)
        guard total > 0 else { return allowance }
        let left = max(0, total - recovery.outageUsed.withLock { $0[key] ?? 0 })
        // Beyond the lease as last answered, expired or not: the bound is the allowance.
        return FleetWindowAllowance(
            entitlementNanoUSD: entry.lease.outageEntitlement(outageLeft: left), othersNanoUSD: allowance.othersNanoUSD)
    }

    /// A call of `shopID` was refused because the pool was full as last seen: if the shop has an
    /// outage allowance, ask the refill thread to check that PostgreSQL still answers.
    func wantProbe(shopID: String) {
        guard options.outageAllowance.nanoUSD(for: shopID) > 0 else { return }
        recovery.probeWanted.store(true, ordering: .relaxed)
        loop.wake()
    }

    /// The check: one `SELECT 1`, at most every half second; a failure is thrown to the refill
    /// loop, which starts the outage.
    func probeIfWanted(_ connection: PostgresConnection) throws {
        let nowMs = MonotonicClock.milliseconds()
        guard recovery.probeWanted.load(ordering: .relaxed), nowMs - recovery.lastProbeMs.load(ordering: .relaxed) >= 500 else {
            return
        }
        recovery.probeWanted.store(false, ordering: .relaxed)
        recovery.lastProbeMs.store(nowMs, ordering: .relaxed)
        _ = try connection.query("SELECT 1")
    }

    /// The refill thread lost PostgreSQL.
    func beginOutage() {
        if !recovery.outage.exchange(true, ordering: .relaxed) {
            recovery.outages.add(1, ordering: .relaxed)
            if !options.outageAllowance.isZero {
                logger.warning(
                    "fleet: PostgreSQL unreachable; admitting from the leases held, then up to each shop's outage allowance",
                    ["host_id": options.hostID])
            }
        }
    }

    /// PostgreSQL answers again: the allowance stops (first, so no call uses it uncounted), then
    /// each pool's spend and holds beyond its lease are counted as outage spend. Each pool is
    /// read under its shop's lock, which the gate holds while it admits.
    func reconcileOutage() {
        recovery.outage.store(false, ordering: .relaxed)
        guard !options.outageAllowance.isZero else { return }
        let wall = clock.nowUnixMs()
        let keys = poolKeys { $0.loaded }
        var total: NanoUSD = 0
        for key in keys where options.outageAllowance.nanoUSD(for: key.shopID) > 0 {
            let over = ledger.withLocalUse(shopID: key.shopID, window: key.window, now: wall) { localUsed -> NanoUSD in
                withPools(of: key.shopID) { pools -> NanoUSD in
                    guard let entry = pools.entries[key] else { return 0 }
                    let over = max(0, localUsed - entry.lease.entitlementNanoUSD)
                    if over > 0 {
                        recovery.outageUsed.withLock { $0[key, default: 0] += over }
                        recovery.outageUnsaved.withLock { _ = $0.insert(key) }
                    }
                    return over
                }
            }
            guard over > 0 else { continue }
            if case .day = key.window { total += over }
            logger.warning(
                "fleet: spend admitted beyond the lease during the PostgreSQL outage (outage allowance); it settles against the pool now",
                ["shop_id": key.shopID, "window": key.window.description, "admitted_usd": Money.formatUSD(over)])
        }
        recovery.outageAdmittedNanoUSD.add(UInt64(max(0, total)), ordering: .relaxed)
    }

    /// At start, before any pool is loaded (and so before any outage allowance is used): what
    /// this host used of its allowances in the current windows before it restarted.
    func readOutageUsed(_ store: LeaseStore) throws {
        guard !options.outageAllowance.isZero else { return }
        let used = try store.outageUsed(at: clock.nowUnixMs())
        recovery.outageUsed.withLock { $0.merge(used) { max($0, $1) } }
    }

    /// Records in PostgreSQL the allowance used that grew since the last time (each pool's
    /// total, so a retry after a failure records the same figure).
    func saveOutageUsed(_ store: LeaseStore) throws {
        let keys = recovery.outageUnsaved.withLock { $0 }
        guard !keys.isEmpty else { return }
        for key in keys {
            let used = recovery.outageUsed.withLock { $0[key] ?? 0 }
            try store.recordOutageUsed(shopID: key.shopID, window: key.window, usedNanoUSD: used)
            transactions.add(1, ordering: .relaxed)
            roundTrips.add(1, ordering: .relaxed)
            recovery.outageUnsaved.withLock { _ = $0.remove(key) }
        }
    }

    // MARK: - Takeover of expired leases

    /// Every third of the TTL (with the renewal): reclaims the expired leases of gone hosts.
    func reclaimExpired(_ store: LeaseStore) throws {
        guard options.reclaimAfterMs > 0 else { return }
        let reclaimed = try store.reclaimExpired(graceMs: options.reclaimAfterMs)
        transactions.add(1, ordering: .relaxed)
        for lease in reclaimed {
            recovery.reclaimedLeases.add(1, ordering: .relaxed)
            recovery.reclaimedNanoUSD.add(UInt64(max(0, lease.amountNanoUSD)), ordering: .relaxed)
            logger.warning(
                "fleet: reclaimed the expired lease of a host that is gone; if it comes back with unshipped spend, "
                    + "that spend settles over the cap by at most this amount",
                ["host_id": lease.hostID, "pool": lease.pool, "reclaimed_usd": Money.formatUSD(lease.amountNanoUSD)])
        }
    }

    /// Near the cap: the pool as last seen has no room for the waiting call's need even with
    /// this host's unused lease, so that leftover is better back in the pool, where another
    /// host's call may complete it, than kept for a grant that fails. (A view older than the
    /// last answer can only make this return early, which is always safe: the lease is asked
    /// for again when a call needs it.)
    func needIsHopeless(_ entry: Entry, unused: NanoUSD) -> Bool {
        guard entry.needNanoUSD > 0, entry.lease.pool.capNanoUSD != nil else { return false }
        return Money.addSaturating(entry.lease.pool.freeNanoUSD, unused) < entry.needNanoUSD
    }

    // MARK: - Returns inside the shipper's transaction

    /// The cap configured here is below the one the pool last saw (set by the last grant): the
    /// cap was lowered. Unused lease then goes back at once, whether calls wait or not (they are
    /// refused by the new cap, not by the lease); the next grant asks under the new cap and sets
    /// it on the pool.
    func capLowered(_ entry: Entry, key: PoolKey) -> Bool {
        guard let poolCap = entry.lease.pool.capNanoUSD else { return false }
        return poolCap > ledger.fleetCap(shopID: key.shopID, window: key.window)
    }

    /// The returns to send inside a ship transaction that settles usage of `shopIDs`: for each
    /// of their pools with no operation in flight, the unused lease beyond twice what ~10 s of
    /// spend (or the last call) needs, all of it when the pool is idle, near its cap or its
    /// window ended. Each is begun now (the entitlement shrinks before it is sent), under the
    /// shop's lock, so it never takes lease a call is being admitted against.
    public func shipmentReturns(shopIDs: Set<String>) -> [ShipmentReturn] {
        guard !shopIDs.isEmpty else { return [] }
        let nowMs = MonotonicClock.milliseconds()
        let wall = clock.nowUnixMs()
        // The shops' current day and month pools (two lookups a shop, not a scan of every pool).
        let windows = BudgetWindow.containing(wall)
        let keys = shopIDs.prefix(256).flatMap { shop in
            withPools(of: shop) { pools in
                windows.map { PoolKey(shopID: shop, window: $0) }.filter { key in
                    guard let entry = pools.entries[key] else { return false }
                    return entry.loaded && entry.lease.inFlight == nil
                }
            }
        }
        var returns: [ShipmentReturn] = []
        for key in keys {
            let operation = ledger.withLocalUse(shopID: key.shopID, window: key.window, now: wall) { localUsed in
                withPools(of: key.shopID) { pools -> LeaseOperation? in
                    guard var entry = pools.entries[key], entry.lease.inFlight == nil,
                        entry.needNanoUSD == 0 || capLowered(entry, key: key)
                    else { return nil }
                    let unused = entry.lease.unused(localUsed: localUsed)
                    guard unused > 0 else { return nil }
                    let done = wall >= key.window.endUnixMs || nowMs - entry.lastUseMs > options.idleReturnMs
                        || (nowMs - entry.lastAnswerMs > 250 && nearTheCap(entry)) || capLowered(entry, key: key)
                    let target = max(entry.ratePerSecond * LeaseSizing.sliceSecondsOfSpend, entry.lastCallNanoUSD)
                    let keep = done ? 0 : Money.addSaturating(target, target)
                    // Not worth a return: less than a quarter of what is kept.
                    guard unused > keep, done || unused - keep >= keep / 4 else { return nil }
                    guard let operation = entry.lease.beginGiveBack(unused - keep, localUsed: localUsed, nowMs: nowMs) else {
                        return nil
                    }
                    entry.handedToShipperAtMs = max(nowMs, 1)
                    pools.entries[key] = entry
                    return operation
                }
            }
            if let operation { returns.append(ShipmentReturn(pool: key, operation: operation)) }
        }
        return returns
    }

    /// The shipper's transaction committed: each return's answer, as `send` takes a reply.
    public func shipmentAnswered(_ returns: [ShipmentReturn], _ answers: [(applied: Bool, state: LeaseState)]) {
        let nowMs = MonotonicClock.milliseconds()
        for (item, answer) in zip(returns, answers) {
            withPools(of: item.pool.shopID) { pools in
                guard var entry = pools.entries[item.pool] else { return }
                entry.handedToShipperAtMs = 0
                entry.lease.received(answer.state.reply(applied: answer.applied), for: item.operation, ttlMs: options.leaseTTLMs)
                entry.activeHosts = max(1, answer.state.activeHosts)
                entry.lastAnswerMs = nowMs
                pools.entries[item.pool] = entry
                // Another look with the answer in hand (its next slice, its deadline).
                _ = pools.queueUp(item.pool)
                if answer.applied {
                    recovery.shipmentReturns.add(1, ordering: .relaxed)
                    recovery.shipmentReturnedNanoUSD.add(UInt64(max(0, item.operation.amountNanoUSD)), ordering: .relaxed)
                }
            }
        }
        loop.wake()
    }

    /// The shipper's transaction failed or its answer was lost: the refill thread sends the
    /// returns again, with the same sequence numbers.
    public func shipmentFailed(_ returns: [ShipmentReturn]) {
        for item in returns {
            withPools(of: item.pool.shopID) { pools in
                pools.entries[item.pool]?.handedToShipperAtMs = 0
                _ = pools.queueUp(item.pool)
            }
        }
        loop.wake()
    }

    // MARK: - Metrics

    func recoveryExposition() -> String {
        var writer = ExpositionWriter()
        let host: KeyValuePairs<String, String> = ["host_id": options.hostID]
        writer.family("tokengate_fleet_outage", "gauge", "1 while the lease thread cannot reach PostgreSQL.")
        writer.sample("tokengate_fleet_outage", host, recovery.outage.load(ordering: .relaxed) ? 1 : 0)
        writer.family("tokengate_fleet_outages_total", "counter", "Times the lease thread lost PostgreSQL.")
        writer.sample("tokengate_fleet_outages_total", host, recovery.outages.load(ordering: .relaxed))
        writer.family(
            "tokengate_fleet_outage_admitted_nano_usd_total", "counter",
            "Daily spend and holds admitted beyond the leases under the outage allowance (counted when PostgreSQL is back).")
        writer.sample("tokengate_fleet_outage_admitted_nano_usd_total", host, recovery.outageAdmittedNanoUSD.load(ordering: .relaxed))
        writer.family("tokengate_fleet_reclaimed_leases_total", "counter", "Expired leases of gone hosts this host reclaimed.")
        writer.sample("tokengate_fleet_reclaimed_leases_total", host, recovery.reclaimedLeases.load(ordering: .relaxed))
        writer.family("tokengate_fleet_reclaimed_nano_usd_total", "counter", "Amount of the expired leases this host reclaimed.")
        writer.sample("tokengate_fleet_reclaimed_nano_usd_total", host, recovery.reclaimedNanoUSD.load(ordering: .relaxed))
        writer.family(
            "tokengate_fleet_shipment_returns_total", "counter", "Lease returns applied inside the shipper's transactions.")
        writer.sample("tokengate_fleet_shipment_returns_total", host, recovery.shipmentReturns.load(ordering: .relaxed))
        writer.family(
            "tokengate_fleet_shipment_returned_nano_usd_total", "counter", "Amount returned inside the shipper's transactions.")
        writer.sample(
            "tokengate_fleet_shipment_returned_nano_usd_total", host, recovery.shipmentReturnedNanoUSD.load(ordering: .relaxed))
        return writer.text
    }
}
