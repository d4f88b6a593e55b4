// Fleet mode (`tokengated --postgres ... --fleet`, DESIGN §8, issue 20): this host's leases on
// the shops' budget pools in PostgreSQL, and the thread that keeps them filled. The gate reads a
// shop's allowance from memory (one lock, no network); the refill thread grants ahead of need
// (about ten seconds of the shop's recent admitted worst cases, at most half of the free budget
// divided by the hosts holding leases), returns what an idle shop does not use, returns
// everything at a window's end and at shutdown, and near the cap grants exactly what a waiting
// call needs (direct mode: one database reservation per call) and returns the rest at once, so
// that the last dollars are usable from any host.
//
// A call whose lease is empty waits for the refill within its deadline (at most
// `refillWaitMaxMs`) instead of being denied. While PostgreSQL is unreachable the host admits
// from the lease it holds until the lease runs out or expires, then denies (fails closed).

import Dispatch
import Foundation
import Synchronization
import TokenGateClock
import TokenGateCore
import TokenGatePostgres
import TokenGateStore

/// How fleet mode runs.
public struct FleetOptions: Sendable {
    public var conninfo: String
    public var hostID: String
    /// PostgreSQL's lease expiry; the host trusts a lease a second less, counted from sending.
    public var leaseTTLMs: Int64 = 30_000
    /// Renew a lease in use when less than this is left of its validity.
    public var renewBeforeMs: Int64 = 10_000
    /// The refill thread's period when nothing wakes it.
    public var tickMs: Int = 50
    /// A pool unused this long gives its unused lease back.
    public var idleReturnMs: Int64 = 5_000
    /// The longest a call waits for a refill (within its deadline).
    public var refillWaitMaxMs: Int64 = 2_000
    /// Wait between attempts while PostgreSQL fails.
    public var retryMs: Int64 = 500
    /// Takeover (FleetRecovery.swift): another host's lease expired more than this long ago,
    /// its host silent as long (no renewal, no shipment), goes back to its pool. 0: never.
    public var reclaimAfterMs: Int64 = 30_000
    /// What a host cut off from PostgreSQL may admit beyond its lease, per shop and window
    /// (FleetRecovery.swift; default 0: it fails closed).
    public var outageAllowance = OutageAllowance()

    public init(conninfo: String, hostID: String) {
        self.conninfo = conninfo
        self.hostID = hostID
    }
}

/// This host's leases and the thread that tends them.
public final class FleetLeases: Sendable {
    /// One pool's state on this host.
    struct Entry: Sendable {
        var lease: HostLease
        var lastUseMs: Int64
        /// Largest worst case of a call waiting for a refill (0: none waiting).
        var needNanoUSD: NanoUSD = 0
        /// Worst cases admitted since the last tick, and the smoothed rate (nano-USD/s).
        var admittedSinceTick: NanoUSD = 0
        var ratePerSecond: NanoUSD = 0
        var activeHosts = 1
        /// Set once the lease was read from PostgreSQL (a restart's lease counts at once).
        var loaded = false
        /// The worst case of the last call admitted or waiting (direct mode's yardstick).
        var lastCallNanoUSD: NanoUSD = 0
        /// When PostgreSQL last answered for this pool (monotonic ms).
        var lastAnswerMs: Int64 = 0
        /// When the return in flight was handed to the shipper's transaction (0: not;
        /// FleetRecovery.swift).
        var handedToShipperAtMs: Int64 = 0
    }

    public let options: FleetOptions
    let ledger: Ledger
    let clock: any WallClock
    let logger: Logger
    let entries = Mutex<[PoolKey: Entry]>([:])
    private let stopping = Atomic<Bool>(false)
    let wake = DispatchSemaphore(value: 0)
    private let finished = DispatchSemaphore(value: 0)
    /// Round trips to PostgreSQL (for the transactions-per-second figure) and failures.
    let transactions = Atomic<UInt64>(0)
    let failures = Atomic<UInt64>(0)
    let connected = Atomic<Bool>(false)
    /// Recovery's state and counters (FleetRecovery.swift).
    let recovery = FleetRecoveryState()
    private let lastTickMs = Atomic<Int64>(0)
    private let lastRenewalMs = Atomic<Int64>(0)
    /// This host's lease rows as found at start (nil until read): a pool not in it has no row for
    /// this host, so it needs no read before its first grant.
    private let startLeases = Mutex<[String: [String: LeaseState]]?>(nil)

    public init(options: FleetOptions, ledger: Ledger, clock: any WallClock, logger: Logger) {
        self.options = options
        self.ledger = ledger
        self.clock = clock
        self.logger = logger
    }

    // MARK: - The hot path

    /// The shop's allowance at `now` (wall) from memory. A pool not seen before gets an empty
    /// lease, which the refill thread fills.
    func allowance(shopID: String, now: UnixMillis) -> FleetAllowance {
        let day = DayKey(unixMs: now)
        let monotonic = MonotonicClock.milliseconds()
        return entries.withLock { entries in
            FleetAllowance(
                day: touch(&entries, PoolKey(shopID: shopID, window: .day(day)), monotonic),
                month: touch(&entries, PoolKey(shopID: shopID, window: .month(day.month)), monotonic))
        }
    }

    private func touch(_ entries: inout [PoolKey: Entry], _ key: PoolKey, _ nowMs: Int64) -> FleetWindowAllowance {
        if let index = entries.index(forKey: key) {
            entries.values[index].lastUseMs = nowMs
            return outageAllowance(entries.values[index], key: key, nowMs: nowMs)
        }
        let lease = HostLease(lease: Lease(), pool: LeasePool(), readAtMs: nowMs, ttlMs: options.leaseTTLMs)
        entries[key] = Entry(lease: lease, lastUseMs: nowMs)
        return lease.allowance(at: nowMs, localUsed: 0)
    }

    /// Counts an admitted call's worst case towards the shop's spend rate.
    func admitted(shopID: String, estimate: NanoUSD, now: UnixMillis) {
        let day = DayKey(unixMs: now)
        entries.withLock { entries in
            for key in [PoolKey(shopID: shopID, window: .day(day)), PoolKey(shopID: shopID, window: .month(day.month))] {
                guard var entry = entries[key] else { continue }
                entry.admittedSinceTick += estimate
                entry.lastCallNanoUSD = estimate
                entries[key] = entry
            }
        }
    }

    /// Asks for a refill that covers `need` on the shop's pools and waits until the refill
    /// thread has answered it or `waitMs` passed. Returns true when the gate should look again.
    /// It does not wait when PostgreSQL is unreachable (the host fails closed at once), nor when
    /// the pool was seen without room for `need` less than half a second ago (the cap is reached).
    func waitForRefill(shopID: String, need: NanoUSD, now: UnixMillis, waitMs: Int64) -> Bool {
        guard connected.load(ordering: .relaxed), waitMs > 0 else { return false }
        let day = DayKey(unixMs: now)
        let keys = [PoolKey(shopID: shopID, window: .day(day)), PoolKey(shopID: shopID, window: .month(day.month))]
        let start = MonotonicClock.milliseconds()
        let hopeless = entries.withLock { entries in
            keys.contains { key in
                guard let entry = entries[key], entry.loaded, entry.lease.pool.capNanoUSD != nil else { return false }
                return entry.lease.pool.freeNanoUSD < need && start - entry.lastAnswerMs < 500
                    && entry.lease.inFlight == nil
            }
        }
        if hopeless {
            wantProbe(shopID: shopID)
            return false
        }
        entries.withLock { entries in
            for key in keys {
                guard var entry = entries[key] else { continue }
                entry.needNanoUSD = max(entry.needNanoUSD, need)
                entry.lastCallNanoUSD = need
                entries[key] = entry
            }
        }
        wake.signal()
        while MonotonicClock.milliseconds() - start < waitMs {
            usleep(2_000)
            let answered = entries.withLock { entries in
                keys.allSatisfy { key in (entries[key]?.needNanoUSD ?? 0) == 0 && entries[key]?.lease.inFlight == nil }
            }
            if answered { return true }
        }
        return false
    }

    // MARK: - The refill thread

    public func start() {
        let thread = Thread { [self] in
            run()
            finished.signal()
        }
        thread.name = "tokengate-fleet"
        thread.start()
    }

    /// Stops the thread and gives every unused lease back (shutdown).
    public func stop() {
        stopping.store(true, ordering: .relaxed)
        wake.signal()
        finished.wait()
    }

    private func run() {
        var connection: PostgresConnection?
        while !stopping.load(ordering: .relaxed) {
            do {
                if connection == nil || connection?.isHealthy == false {
                    connection = try PostgresConnection(conninfo: options.conninfo)
                    connected.store(true, ordering: .relaxed)
                }
                let store = LeaseStore(connection: connection!, hostID: options.hostID)
                if startLeases.withLock({ $0 == nil }) {
                    let found = try store.hostLeases()
                    transactions.add(1, ordering: .relaxed)
                    startLeases.withLock { $0 = found }
                }
                if recovery.outage.load(ordering: .relaxed) { reconcileOutage() }
                try tend(store, returningAll: false)
                try probeIfWanted(connection!)
                _ = wake.wait(timeout: .now() + .milliseconds(options.tickMs))
            } catch {
                connection = nil
                connected.store(false, ordering: .relaxed)
                beginOutage()
                if failures.add(1, ordering: .relaxed).newValue % 20 == 1 {
                    logger.warning("fleet leases: PostgreSQL failed; admitting from the leases held, retrying", ["error": "\(error)"])
                }
                _ = wake.wait(timeout: .now() + .milliseconds(Int(options.retryMs)))
            }
        }
        // Shutdown: every unused lease goes back (one attempt; a failure leaves it to expire
        // in the host's own trust and to the next start, which reads it back).
        if let connection = connection ?? (try? PostgresConnection(conninfo: options.conninfo)) {
            do {
                try tend(LeaseStore(connection: connection, hostID: options.hostID), returningAll: true)
            } catch {
                logger.warning("fleet leases: returning the unused leases at shutdown failed", ["error": "\(error)"])
            }
        }
    }

    /// One pass over the pools: each gets at most one grant or return.
    private func tend(_ store: LeaseStore, returningAll: Bool) throws {
        let nowMs = MonotonicClock.milliseconds()
        let wall = clock.nowUnixMs()
        let elapsedMs = max(1, nowMs - lastTickMs.exchange(nowMs, ordering: .relaxed))
        let keys = entries.withLock { entries in
            for index in entries.indices {
                let admitted = entries.values[index].admittedSinceTick
                entries.values[index].admittedSinceTick = 0
                let instant = admitted * 1_000 / min(elapsedMs, 10_000)
                entries.values[index].ratePerSecond = (entries.values[index].ratePerSecond * 7 + instant) / 8
            }
            return Array(entries.keys)
        }
        try renewIfDue(store)
        // Pools with a call waiting go first; every 32 pools, pools whose call started waiting
        // during the pass are served before the rest.
        var served = Set<PoolKey>()
        var rest = keys[...]
        while !stopping.load(ordering: .relaxed) || returningAll {
            let waiting = entries.withLock { entries in
                entries.filter { $0.value.needNanoUSD > 0 && !served.contains($0.key) }.map(\.key)
            }
            var batch = waiting
            while batch.count < 32, let next = rest.popFirst() {
                if !served.contains(next) { batch.append(next) }
            }
            if batch.isEmpty { break }
            for key in batch where served.insert(key).inserted {
                try tend(key, store, nowMs: MonotonicClock.milliseconds(), wall: wall, returningAll: returningAll)
            }
        }
    }

    private func tend(_ key: PoolKey, _ store: LeaseStore, nowMs: Int64, wall: UnixMillis, returningAll: Bool) throws {
        guard var entry = entries.withLock({ $0[key] }) else { return }
        if !entry.loaded {
            guard let known = startLeases.withLock({ $0 }) else { return }
            let state: LeaseState
            if let found = known[key.shopID]?[key.window.description] {
                state = found
            } else if returningAll {
                return
            } else {
                // No row at start: nothing to read back (this host's sequence there is 0).
                state = LeaseState(pool: LeasePool(), lease: Lease(), activeHosts: 1)
            }
            entries.withLock { entries in
                entries[key]?.lease = HostLease(lease: state.lease, pool: state.pool, readAtMs: nowMs, ttlMs: options.leaseTTLMs)
                entries[key]?.loaded = true
                entries[key]?.activeHosts = max(1, state.activeHosts)
                entries[key]?.lastAnswerMs = nowMs
            }
            guard let reloaded = entries.withLock({ $0[key] }) else { return }
            entry = reloaded
        }
        let ended = wall >= key.window.endUnixMs
        let idle = nowMs - entry.lastUseMs > options.idleReturnMs
        // Under the shop's lock: a return never takes lease a call is being admitted against.
        let operation = ledger.withLocalUse(shopID: key.shopID, window: key.window, now: wall) { localUsed in
            entries.withLock { entries -> LeaseOperation? in
                guard var current = entries[key] else { return nil }
                // A return riding the shipper's transaction is left to it (retried here if unanswered).
                if current.handedToShipperAtMs > 0 && nowMs - current.handedToShipperAtMs < 5_000 { return nil }
                if let pending = current.lease.retry() { return pending }
                let unused = current.lease.unused(localUsed: localUsed)
                // (Not in the moment after an answer: the call that waited for it is admitted then.)
                // A waiting call does not keep the leftover here when a fresh view of the pool
                // says its need cannot be met anyway (FleetRecovery.swift): waiting calls arriving
                // back to back would otherwise keep it stranded.
                let nearCap = (current.needNanoUSD == 0 || needIsHopeless(current, unused: unused)) && unused > 0
                    && nowMs - current.lastAnswerMs > 250 && nearTheCap(current, key: key)
                if returningAll || ended || idle || nearCap {
                    if unused == 0 {
                        // Forgotten once its window ended, or long idle (read back if used again).
                        if ended || (idle && current.needNanoUSD == 0 && nowMs - current.lastUseMs > options.leaseTTLMs) {
                            entries[key] = nil
                        }
                        return nil
                    }
                    let operation = current.lease.beginGiveBack(unused, localUsed: localUsed, nowMs: nowMs)
                    entries[key] = current
                    return operation
                }
                let operation = plan(&current, unused: unused, key: key, nowMs: nowMs)
                entries[key] = current
                return operation
            }
        }
        guard let operation else { return }
        try send(operation, key: key, store: store)
    }

    /// Every third of the TTL, one statement renews all of this host's leases. A lease counts as
    /// renewed only if its last answer came before the statement was sent (a grant answered
    /// later carries its own validity).
    private func renewIfDue(_ store: LeaseStore) throws {
        let nowMs = MonotonicClock.milliseconds()
        guard nowMs - lastRenewalMs.load(ordering: .relaxed) >= options.leaseTTLMs / 3 else { return }
        _ = try store.renewAll(ttlMs: options.leaseTTLMs)
        transactions.add(1, ordering: .relaxed)
        lastRenewalMs.store(nowMs, ordering: .relaxed)
        try reclaimExpired(store)
        entries.withLock { entries in
            for index in entries.indices where entries.values[index].loaded && entries.values[index].lease.inFlight == nil
                && entries.values[index].lastAnswerMs <= nowMs
            {
                entries.values[index].lease.renewed(sentAtMs: nowMs, ttlMs: options.leaseTTLMs)
            }
        }
    }

    /// Grant or return for a pool in use.
    private func plan(_ entry: inout Entry, unused: NanoUSD, key: PoolKey, nowMs: Int64) -> LeaseOperation? {
        let need = entry.needNanoUSD
        let target = max(entry.ratePerSecond * LeaseSizing.sliceSecondsOfSpend, need)
        let cap = ledger.fleetCap(shopID: key.shopID, window: key.window)
        // A cap lowered here, below the one the pool last saw: unused lease goes back at once,
        // calls waiting or not (FleetRecovery.swift); the next grant asks under the new cap.
        if let poolCap = entry.lease.pool.capNanoUSD, poolCap > cap, unused > 0 {
            return entry.lease.beginGiveBack(unused, localUsed: entry.lease.entitlementNanoUSD - unused, nowMs: nowMs)
        }
        let free = entry.lease.pool.capNanoUSD == nil ? cap : min(entry.lease.pool.freeNanoUSD, cap)
        let expiring = entry.lease.validUntilMs - nowMs < options.renewBeforeMs
        // (An expiring lease with nothing to add is renewed by `renewIfDue`.)
        let short = (need > 0 && unused < need) || (target > 0 && unused < target / 2) || (expiring && target > 0 && unused == 0)
        guard short else {
            entry.needNanoUSD = 0
            return nil
        }
        if let slice = LeaseSizing.slice(spendPerSecond: entry.ratePerSecond, need: need, free: free, activeHosts: entry.activeHosts) {
            return entry.lease.beginGrant(slice, nowMs: nowMs)
        }
        // Near the cap: direct mode, exactly what the waiting call needs; nothing ahead of need.
        if need > 0 { return entry.lease.beginGrant(need, nowMs: nowMs) }
        return nil
    }

    /// Direct mode's test: the pool as last seen has no room for a slice of even one recent
    /// call's worst case per active host, so unused lease here would strand budget that another
    /// host's call could use. Such a pool's unused lease goes back at once.
    func nearTheCap(_ entry: Entry, key: PoolKey) -> Bool {
        guard entry.lease.pool.capNanoUSD != nil, entry.lastCallNanoUSD > 0 else { return false }
        return LeaseSizing.slice(
            spendPerSecond: entry.ratePerSecond, need: entry.lastCallNanoUSD, free: entry.lease.pool.freeNanoUSD,
            activeHosts: entry.activeHosts) == nil
    }

    private func send(_ operation: LeaseOperation, key: PoolKey, store: LeaseStore) throws {
        let state: LeaseState
        let applied: Bool
        switch operation.kind {
        case .grant:
            let cap = ledger.fleetCap(shopID: key.shopID, window: key.window)
            (applied, state) = try store.grant(operation, pool: key, capNanoUSD: cap, ttlMs: options.leaseTTLMs)
        case .giveBack:
            (applied, state) = try store.giveBack(operation, pool: key)
        }
        transactions.add(1, ordering: .relaxed)
        entries.withLock { entries in
            guard var entry = entries[key] else { return }
            entry.lease.received(state.reply(applied: applied), for: operation, ttlMs: options.leaseTTLMs)
            entry.activeHosts = max(1, state.activeHosts)
            entry.lastAnswerMs = MonotonicClock.milliseconds()
            // The waiting call got its answer (a refused grant included): it stops waiting.
            if operation.kind == .grant { entry.needNanoUSD = 0 }
            entries[key] = entry
        }
    }

    // MARK: - Metrics

    func exposition() -> String {
        var writer = ExpositionWriter()
        let host: KeyValuePairs<String, String> = ["host_id": options.hostID]
        let (pools, entitlement) = entries.withLock { entries in
            (entries.count, entries.values.reduce(NanoUSD(0)) { $0 + $1.lease.entitlementNanoUSD })
        }
        writer.family("tokengate_fleet_connected", "gauge", "1 while the lease thread holds a working PostgreSQL connection.")
        writer.sample("tokengate_fleet_connected", host, connected.load(ordering: .relaxed) ? 1 : 0)
        writer.family("tokengate_fleet_pools", "gauge", "Budget pools (shop, window) this host holds or tends a lease on.")
        writer.sample("tokengate_fleet_pools", host, UInt64(pools))
        writer.family("tokengate_fleet_entitlement_nano_usd", "gauge", "Sum of this host's entitlements (settled + leased).")
        writer.sample("tokengate_fleet_entitlement_nano_usd", host, UInt64(max(entitlement, 0)))
        writer.family("tokengate_fleet_transactions_total", "counter", "Lease transactions sent to PostgreSQL.")
        writer.sample("tokengate_fleet_transactions_total", host, transactions.load(ordering: .relaxed))
        writer.family("tokengate_fleet_errors_total", "counter", "Failed lease transactions (retried).")
        writer.sample("tokengate_fleet_errors_total", host, failures.load(ordering: .relaxed))
        return writer.text + recoveryExposition()
    }
}
