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
    /// The refill thread gathers deadlines this long (a call that queues a pool wakes it at once).
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
///
/// The refill thread does not scan: each pool carries the time it must be looked at next (its
/// idle return, its window's end, a lease running out, a return near the cap, and at least every
/// `revisitMs` while in use), kept in a heap per shard, and the hot path queues a pool at once
/// when a call creates it, when the worst cases admitted since the last look reach the part of
/// the lease that should be left when the next slice is asked for (half of ~10 s of spend), or
/// when a call waits. The grants and returns of one pass go out pipelined, each its own
/// transaction, in one round trip per `batchMax` pools.
public final class FleetLeases: Sendable {
    /// One pool's state on this host.
    struct Entry: Sendable {
        var lease: HostLease
        var lastUseMs: Int64
        /// Largest worst case of a call waiting for a refill (0: none waiting).
        var needNanoUSD: NanoUSD = 0
        /// Worst cases admitted since the refill thread last looked; at `lowAfterNanoUSD` the
        /// hot path queues the pool (its lease is running low).
        var admittedSinceVisit: NanoUSD = 0
        var lowAfterNanoUSD: NanoUSD = 0
        /// Worst cases admitted since `rateSinceMs`, the smoothed rate (nano-USD/s), and the
        /// rate slices are sized by (the larger of the smoothed and the current one).
        var admittedForRate: NanoUSD = 0
        var rateSinceMs: Int64
        var smoothedPerSecond: NanoUSD = 0
        var ratePerSecond: NanoUSD = 0
        var activeHosts = 1
        /// Set once the lease was read from PostgreSQL (a restart's lease counts at once).
        var loaded = false
        /// The worst case of the last call admitted or waiting (direct mode's yardstick).
        var lastCallNanoUSD: NanoUSD = 0
        /// When PostgreSQL last answered for this pool (monotonic ms).
        var lastAnswerMs: Int64 = 0
        /// When the refill thread looks at the pool next (monotonic ms; .max: when a call asks).
        var dueMs: Int64 = .max
        /// In its shard's queue of pools to look at now.
        var queued = false
        /// When the return in flight was handed to the shipper's transaction (0: not;
        /// FleetRecovery.swift).
        var handedToShipperAtMs: Int64 = 0

        init(lease: HostLease, nowMs: Int64) {
            self.lease = lease
            lastUseMs = nowMs
            rateSinceMs = nowMs
        }
    }

    /// A pool's deadline in a shard's heap (stale once the entry's `dueMs` differs).
    struct Deadline: Sendable {
        var dueMs: Int64
        var key: PoolKey
    }

    /// A pool's entry beside its window, in its shop's short list.
    struct WindowEntry: Sendable {
        var window: BudgetWindow
        var entry: Entry
    }

    /// A shard's pools by shop: the gate finds a shop's day and month pools with one lookup of
    /// the shop id (a `PoolKey` dictionary hashed the id twice per lookup, four times a call).
    struct PoolTable: Sendable {
        private(set) var shops: [String: [WindowEntry]] = [:]
        private(set) var count = 0

        subscript(key: PoolKey) -> Entry? {
            get { shops[key.shopID]?.first { $0.window == key.window }?.entry }
            set {
                var windows = shops[key.shopID] ?? []
                let index = windows.firstIndex { $0.window == key.window }
                switch (index, newValue) {
                case (let index?, let entry?): windows[index].entry = entry
                case (let index?, nil):
                    windows.remove(at: index)
                    count -= 1
                case (nil, let entry?):
                    windows.append(WindowEntry(window: key.window, entry: entry))
                    count += 1
                case (nil, nil): return
                }
                shops[key.shopID] = windows.isEmpty ? nil : windows
            }
        }

        /// Runs `body` on the shop's pools in place (created empty when missing; dropped again
        /// when left empty), with one lookup of the shop id.
        mutating func withShop<Result>(_ shopID: String, _ body: (inout [WindowEntry]) -> Result) -> Result {
            var before = 0
            var after = 0
            let result = Self.modify(&shops[shopID, default: []]) { windows in
                before = windows.count
                defer { after = windows.count }
                return body(&windows)
            }
            count += after - before
            if after == 0 { shops[shopID] = nil }
            return result
        }

        private static func modify<Value, Result>(_ value: inout Value, _ body: (inout Value) -> Result) -> Result {
            body(&value)
        }

        var keys: [PoolKey] {
            shops.flatMap { shop in shop.value.map { PoolKey(shopID: shop.key, window: $0.window) } }
        }

        /// Runs `body` on every entry in place.
        mutating func forEach(_ body: (PoolKey, inout Entry) -> Void) {
            for index in shops.indices {
                let shopID = shops.keys[index]
                for window in shops.values[index].indices {
                    body(PoolKey(shopID: shopID, window: shops.values[index][window].window), &shops.values[index][window].entry)
                }
            }
        }
    }

    /// One shard of the pools (by shop), with its work: the pools queued by calls and the heap
    /// of deadlines.
    struct Pools: Sendable {
        var entries = PoolTable()
        var queue: [PoolKey] = []
        var heap: [Deadline] = []

        mutating func queueUp(_ key: PoolKey) -> Bool {
            guard let entry = entries[key], !entry.queued else { return false }
            entries[key]?.queued = true
            queue.append(key)
            return true
        }

        mutating func push(_ deadline: Deadline) {
            heap.append(deadline)
            var child = heap.count - 1
            while child > 0 {
                let parent = (child - 1) / 2
                guard heap[child].dueMs < heap[parent].dueMs else { break }
                heap.swapAt(child, parent)
                child = parent
            }
        }

        /// The earliest deadline not yet stale, removed when due at `nowMs`.
        mutating func popDue(_ nowMs: Int64) -> PoolKey? {
            while let top = heap.first {
                let current = entries[top.key]?.dueMs
                if current == top.dueMs && top.dueMs > nowMs { return nil }
                removeTop()
                if current == top.dueMs {
                    entries[top.key]?.dueMs = .max
                    return top.key
                }
            }
            return nil
        }

        /// The earliest live deadline (stale ones on top are dropped).
        mutating func nextDueMs() -> Int64 {
            while let top = heap.first {
                if entries[top.key]?.dueMs == top.dueMs { return top.dueMs }
                removeTop()
            }
            return .max
        }

        private mutating func removeTop() {
            heap.swapAt(0, heap.count - 1)
            heap.removeLast()
            var parent = 0
            while true {
                let left = 2 * parent + 1
                guard left < heap.count else { break }
                var child = left
                if left + 1 < heap.count && heap[left + 1].dueMs < heap[left].dueMs { child = left + 1 }
                guard heap[child].dueMs < heap[parent].dueMs else { break }
                heap.swapAt(child, parent)
                parent = child
            }
        }
    }

    /// A pthread mutex (PosixMutex.swift): the gate takes it inside a shop's lock, and under
    /// 64 connections on 2 cores Swift's Mutex let waiters spin while the holder was descheduled.
    final class Shard: Sendable {
        let pools = PosixMutex(Pools())
    }

    /// Shards of the pools, so calls of different shops rarely meet on a lock.
    static let shardCount = 16
    /// Pools looked at per round trip.
    static let batchMax = 128
    /// A pool in use is looked at least this often (its spend rate, usage logged without a
    /// check); the hot path queues it earlier when its lease runs low.
    static let revisitMs: Int64 = 5_000
    /// A pool with no measured rate asks for this many of its waiting call's worst case.
    static let firstSliceCalls: Int64 = 16

    public let options: FleetOptions
    let ledger: Ledger
    let clock: any WallClock
    let logger: Logger
    private let shards: [Shard] = (0..<FleetLeases.shardCount).map { _ in Shard() }
    /// The refill thread (`wake()` when a pool is queued).
    let loop = BackgroundLoop(name: "tokengate-fleet")
    /// Lease transactions committed in PostgreSQL (for the transactions-per-second figure),
    /// round trips, and failures.
    let transactions = Atomic<UInt64>(0)
    let roundTrips = Atomic<UInt64>(0)
    let failures = Atomic<UInt64>(0)
    let connected = Atomic<Bool>(false)
    /// Calls that waited for a refill, and the milliseconds they waited.
    let refillWaits = Atomic<UInt64>(0)
    let refillWaitedMs = Atomic<UInt64>(0)
    /// Recovery's state and counters (FleetRecovery.swift).
    let recovery = FleetRecoveryState()
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

    /// The shard of a shop: FNV-1a over the id's bytes (cheaper than a seeded `hashValue`,
    /// which the table's lookup computes anyway).
    private func shard(_ shopID: String) -> Shard {
        var hash: UInt32 = 2_166_136_261
        for byte in shopID.utf8 { hash = (hash ^ UInt32(byte)) &* 16_777_619 }
        return shards[Int(hash % UInt32(FleetLeases.shardCount))]
    }

    /// Runs `body` on the shard holding `shopID`'s pools, under its lock (FleetRecovery.swift).
    func withPools<Result>(of shopID: String, _ body: (inout Pools) -> Result) -> Result {
        shard(shopID).pools.withLock(body)
    }

    /// The pools for which `include` holds, shard by shard.
    func poolKeys(where include: (Entry) -> Bool) -> [PoolKey] {
        shards.flatMap { shard in
            shard.pools.withLock { pools in pools.entries.keys.filter { pools.entries[$0].map(include) ?? false } }
        }
    }

    private static func keys(_ shopID: String, _ now: UnixMillis) -> (day: PoolKey, month: PoolKey) {
        let day = DayKey(unixMs: now)
        return (PoolKey(shopID: shopID, window: .day(day)), PoolKey(shopID: shopID, window: .month(day.month)))
    }

    // MARK: - The hot path

    /// The shop's allowance at `now` (wall) from memory. A pool not seen before gets an empty
    /// lease, and is queued for the refill thread.
    func allowance(shopID: String, now: UnixMillis) -> FleetAllowance {
        let (day, month) = Self.keys(shopID, now)
        let monotonic = MonotonicClock.milliseconds()
        let (allowance, created) = shard(shopID).pools.withLock { pools in
            var created = false
            let allowance = pools.entries.withShop(shopID) { windows in
                FleetAllowance(
                    day: touch(&windows, shopID, day.window, monotonic, &created),
                    month: touch(&windows, shopID, month.window, monotonic, &created))
            }
            if created {
                for key in [day, month] where pools.entries[key]?.queued == false { _ = pools.queueUp(key) }
            }
            return (allowance, created)
        }
        if created { loop.wake() }
        return allowance
    }

    private func touch(
        _ windows: inout [WindowEntry], _ shopID: String, _ window: BudgetWindow, _ nowMs: Int64, _ created: inout Bool
    )
        -> FleetWindowAllowance
    {
        if let index = windows.firstIndex(where: { $0.window == window }) {
            windows[index].entry.lastUseMs = nowMs
            return outageAllowance(windows[index].entry, key: PoolKey(shopID: shopID, window: window), nowMs: nowMs)
        }
        let lease = HostLease(lease: Lease(), pool: LeasePool(), readAtMs: nowMs, ttlMs: options.leaseTTLMs)
        windows.append(WindowEntry(window: window, entry: Entry(lease: lease, nowMs: nowMs)))
        created = true
        return lease.allowance(at: nowMs, localUsed: 0)
    }

    /// Counts an admitted call's worst case towards the shop's spend rate, and queues a pool
    /// whose lease is running low.
    func admitted(shopID: String, estimate: NanoUSD, now: UnixMillis) {
        let (day, month) = Self.keys(shopID, now)
        let low = shard(shopID).pools.withLock { pools in
            let (dayLow, monthLow) = pools.entries.withShop(shopID) { windows in
                (count(&windows, day.window, estimate), count(&windows, month.window, estimate))
            }
            if dayLow { pools.queue.append(day) }
            if monthLow { pools.queue.append(month) }
            return dayLow || monthLow
        }
        if low { loop.wake() }
    }

    /// Counts `estimate` on the shop's pool of `window`; true when the pool is to be queued now.
    private func count(_ windows: inout [WindowEntry], _ window: BudgetWindow, _ estimate: NanoUSD) -> Bool {
        guard let index = windows.firstIndex(where: { $0.window == window }) else { return false }
        windows[index].entry.admittedSinceVisit = Money.addSaturating(windows[index].entry.admittedSinceVisit, estimate)
        windows[index].entry.admittedForRate = Money.addSaturating(windows[index].entry.admittedForRate, estimate)
        windows[index].entry.lastCallNanoUSD = estimate
        let low = !windows[index].entry.queued && windows[index].entry.admittedSinceVisit >= windows[index].entry.lowAfterNanoUSD
        if low { windows[index].entry.queued = true }
        return low
    }

    /// Asks for a refill that covers `need` on the shop's pools and waits until the refill
    /// thread has answered it or `waitMs` passed. Returns true when the gate should look again.
    /// It does not wait when PostgreSQL is unreachable (the host fails closed at once), nor when
    /// the pool was seen without room for `need` less than half a second ago (the cap is reached).
    func waitForRefill(shopID: String, need: NanoUSD, now: UnixMillis, waitMs: Int64) -> Bool {
        guard connected.load(ordering: .relaxed), waitMs > 0 else { return false }
        let (day, month) = Self.keys(shopID, now)
        let keys = [day, month]
        let shard = shard(shopID)
        let start = MonotonicClock.milliseconds()
        let hopeless = shard.pools.withLock { pools in
            keys.contains { key in
                guard let entry = pools.entries[key], entry.loaded, entry.lease.pool.capNanoUSD != nil else { return false }
                return entry.lease.pool.freeNanoUSD < need && start - entry.lastAnswerMs < 500
                    && entry.lease.inFlight == nil
            }
        }
        if hopeless {
            wantProbe(shopID: shopID)
            return false
        }
        shard.pools.withLock { pools in
            for key in keys {
                guard var entry = pools.entries[key] else { continue }
                entry.needNanoUSD = max(entry.needNanoUSD, need)
                entry.lastCallNanoUSD = need
                pools.entries[key] = entry
                _ = pools.queueUp(key)
            }
        }
        loop.wake()
        refillWaits.add(1, ordering: .relaxed)
        defer { refillWaitedMs.add(UInt64(max(0, MonotonicClock.milliseconds() - start)), ordering: .relaxed) }
        while MonotonicClock.milliseconds() - start < waitMs {
            usleep(1_000)
            let answered = shard.pools.withLock { pools in
                keys.allSatisfy { key in
                    (pools.entries[key]?.needNanoUSD ?? 0) == 0 && pools.entries[key]?.lease.inFlight == nil
                }
            }
            if answered { return true }
        }
        return false
    }

    // MARK: - The refill thread

    public func start() {
        loop.start { [self] in run() }
    }

    /// Stops the thread and gives every unused lease back (shutdown).
    public func stop() {
        loop.stop()
    }

    private func run() {
        var connection: PostgresConnection?
        while !loop.isStopping {
            do {
                if connection == nil || connection?.isHealthy == false {
                    connection = try PostgresConnection(conninfo: options.conninfo)
                    connected.store(true, ordering: .relaxed)
                    // What a broken connection left unanswered goes again, with its sequence.
                    queueInFlight()
                }
                let store = LeaseStore(connection: connection!, hostID: options.hostID)
                if startLeases.withLock({ $0 == nil }) {
                    let found = try store.hostLeases()
                    transactions.add(1, ordering: .relaxed)
                    roundTrips.add(1, ordering: .relaxed)
                    try readOutageUsed(store)
                    startLeases.withLock { $0 = found }
                }
                if recovery.outage.load(ordering: .relaxed) { reconcileOutage() }
                try saveOutageUsed(store)
                try renewIfDue(store)
                try pass(store)
                try probeIfWanted(connection!)
                // Queued pools (a call asked) are looked at at once; deadlines are gathered
                // `tickMs` at a time, so that 2,000 pools in use do not wake the thread 1,000
                // times a second.
                let nowMs = MonotonicClock.milliseconds()
                var queued = false
                let next = shards.reduce(Int64.max) { next, shard in
                    min(next, shard.pools.withLock { pools in
                        queued = queued || !pools.queue.isEmpty
                        return pools.nextDueMs()
                    })
                }
                if !queued {
                    let waitMs = min(max(next - nowMs, Int64(options.tickMs)), Int64(options.tickMs) * 20)
                    loop.sleep(milliseconds: Int(waitMs))
                }
            } catch {
                connection = nil
                connected.store(false, ordering: .relaxed)
                beginOutage()
                if failures.add(1, ordering: .relaxed).newValue % 20 == 1 {
                    logger.warning("fleet leases: PostgreSQL failed; admitting from the leases held, retrying", ["error": "\(error)"])
                }
                loop.sleep(milliseconds: Int(options.retryMs))
            }
        }
        // Shutdown: every unused lease goes back (one attempt; a failure leaves it to expire
        // in the host's own trust and to the next start, which reads it back).
        if let connection = connection ?? (try? PostgresConnection(conninfo: options.conninfo)) {
            do {
                let store = LeaseStore(connection: connection, hostID: options.hostID)
                let keys = shards.flatMap { shard in shard.pools.withLock { $0.entries.keys } }
                var rest = keys[...]
                while !rest.isEmpty {
                    let wall = clock.nowUnixMs()
                    let requests = rest.prefix(Self.batchMax).compactMap { key in
                        visit(key, nowMs: MonotonicClock.milliseconds(), wall: wall, returningAll: true)
                    }
                    rest = rest.dropFirst(Self.batchMax)
                    try send(requests, store: store)
                }
            } catch {
                logger.warning("fleet leases: returning the unused leases at shutdown failed", ["error": "\(error)"])
            }
        }
    }

    /// Queues every pool with an operation unanswered (after a new connection).
    private func queueInFlight() {
        for shard in shards {
            shard.pools.withLock { pools in
                for key in pools.entries.keys where pools.entries[key]?.lease.inFlight != nil { _ = pools.queueUp(key) }
            }
        }
    }

    /// Takes up to `limit` pools to look at: queued ones first (calls wait on some), then due ones.
    private func take(_ limit: Int, nowMs: Int64) -> [PoolKey] {
        var keys: [PoolKey] = []
        for shard in shards where keys.count < limit {
            shard.pools.withLock { pools in
                let taken = min(limit - keys.count, pools.queue.count)
                for key in pools.queue.prefix(taken) {
                    guard pools.entries[key] != nil else { continue }
                    pools.entries[key]?.queued = false
                    keys.append(key)
                }
                pools.queue.removeFirst(taken)
            }
        }
        for shard in shards where keys.count < limit {
            shard.pools.withLock { pools in
                while keys.count < limit, let key = pools.popDue(nowMs) { keys.append(key) }
            }
        }
        return keys
    }

    /// Looks at every pool queued or due, `batchMax` at a time, each batch's grants and returns
    /// in one round trip. Pools queued meanwhile (a call waiting) are taken in the next batch.
    private func pass(_ store: LeaseStore) throws {
        var looked = Set<PoolKey>()
        while !loop.isStopping {
            let nowMs = MonotonicClock.milliseconds()
            let keys = take(Self.batchMax, nowMs: nowMs)
            if keys.isEmpty { break }
            looked.formUnion(keys)
            let wall = clock.nowUnixMs()
            var requests: [LeaseRequest] = []
            var seen = Set<PoolKey>()
            for key in keys where seen.insert(key).inserted {
                if let request = visit(key, nowMs: nowMs, wall: wall, returningAll: false) { requests.append(request) }
            }
            try send(requests, store: store)
            // A pass ends when nothing is left queued or due; a pool that keeps being queued
            // (its answer queues it for one more look) is looked at again in the next pass.
            if looked.count > 64 * Self.batchMax { break }
        }
    }

    /// Looks at one pool: the grant or return it needs now, if any, and when to look again.
    private func visit(_ key: PoolKey, nowMs: Int64, wall: UnixMillis, returningAll: Bool) -> LeaseRequest? {
        let shard = shard(key.shopID)
        guard let entry = shard.pools.withLock({ $0.entries[key] }) else { return nil }
        if !entry.loaded {
            guard let known = startLeases.withLock({ $0 }) else { return nil }
            let state: LeaseState
            if let found = known[key.shopID]?[key.window.description] {
                state = found
            } else if returningAll {
                return nil
            } else {
                // No row at start: nothing to read back (this host's sequence there is 0).
                state = LeaseState(pool: LeasePool(), lease: Lease(), activeHosts: 1)
            }
            shard.pools.withLock { pools in
                pools.entries[key]?.lease = HostLease(lease: state.lease, pool: state.pool, readAtMs: nowMs, ttlMs: options.leaseTTLMs)
                pools.entries[key]?.loaded = true
                pools.entries[key]?.activeHosts = max(1, state.activeHosts)
                pools.entries[key]?.lastAnswerMs = nowMs
            }
        }
        let ended = wall >= key.window.endUnixMs
        let cap = ledger.fleetCap(shopID: key.shopID, window: key.window)
        // Under the shop's lock: a return never takes lease a call is being admitted against.
        return ledger.withLocalUse(shopID: key.shopID, window: key.window, now: wall) { localUsed in
            shard.pools.withLock { pools -> LeaseRequest? in
                guard var current = pools.entries[key] else { return nil }
                // A return riding the shipper's transaction is left to it (looked at again, and
                // retried here, if it stays unanswered; its answer queues the pool).
                if current.handedToShipperAtMs > 0 && nowMs - current.handedToShipperAtMs < 5_000 {
                    current.dueMs = current.handedToShipperAtMs + 5_000
                    pools.entries[key] = current
                    pools.push(Deadline(dueMs: current.dueMs, key: key))
                    return nil
                }
                Self.measureRate(&current, nowMs: nowMs)
                current.admittedSinceVisit = 0
                let idle = nowMs - current.lastUseMs > options.idleReturnMs
                let unused = current.lease.unused(localUsed: localUsed)
                var operation = current.lease.retry()
                if operation == nil {
                    // (Not in the moment after an answer: the call that waited for it is admitted then.)
                    // A waiting call does not keep the leftover here when a fresh view of the pool
                    // says its need cannot be met anyway (FleetRecovery.swift): waiting calls arriving
                    // back to back would otherwise keep it stranded.
                    let nearCap = (current.needNanoUSD == 0 || needIsHopeless(current, unused: unused)) && unused > 0
                        && nowMs - current.lastAnswerMs > 250 && nearTheCap(current)
                    if returningAll || ended || idle || nearCap {
                        if unused == 0 {
                            // Forgotten once its window ended, or long idle (read back if used again).
                            if ended || (idle && current.needNanoUSD == 0 && nowMs - current.lastUseMs > options.leaseTTLMs) {
                                pools.entries[key] = nil
                                return nil
                            }
                        } else {
                            operation = current.lease.beginGiveBack(unused, localUsed: localUsed, nowMs: nowMs)
                        }
                    } else {
                        operation = plan(&current, unused: unused, cap: cap, nowMs: nowMs)
                    }
                }
                if operation == nil && !returningAll {
                    schedule(&current, unused: unused, nowMs: nowMs, wall: wall, window: key.window)
                } else {
                    // Its answer queues it for another look.
                    current.dueMs = .max
                    current.lowAfterNanoUSD = .max
                }
                pools.entries[key] = current
                if current.dueMs != .max { pools.push(Deadline(dueMs: current.dueMs, key: key)) }
                return operation.map { LeaseRequest($0, pool: key, capNanoUSD: cap) }
            }
        }
    }

    /// The spend rate slices are sized by: worst cases admitted per second, smoothed over
    /// seconds, or the current second's when higher (a shop speeding up gets its slice at once).
    private static func measureRate(_ entry: inout Entry, nowMs: Int64) {
        let span = nowMs - entry.rateSinceMs
        if span >= 1_000 {
            let instant = entry.admittedForRate / span * 1_000 + entry.admittedForRate % span * 1_000 / span
            entry.smoothedPerSecond = span >= 10_000 ? instant : (entry.smoothedPerSecond + 3 * instant) / 4
            entry.admittedForRate = 0
            entry.rateSinceMs = nowMs
        }
        let current = span >= 100 ? entry.admittedForRate / span * 1_000 + entry.admittedForRate % span * 1_000 / span : 0
        entry.ratePerSecond = max(entry.smoothedPerSecond, current)
    }

    /// When to look at a pool again, and how much may be admitted before the hot path queues
    /// it (its lease down to half of a slice).
    private func schedule(_ entry: inout Entry, unused: NanoUSD, nowMs: Int64, wall: UnixMillis, window: BudgetWindow) {
        guard entry.loaded else {
            entry.dueMs = nowMs + options.retryMs
            entry.lowAfterNanoUSD = .max
            return
        }
        var due = nowMs + max(1, window.endUnixMs - wall)
        let inUse = nowMs - entry.lastUseMs <= options.idleReturnMs
        if inUse {
            due = min(due, entry.lastUseMs + options.idleReturnMs + 1, nowMs + Self.revisitMs)
        } else if unused == 0 {
            due = min(due, entry.lastUseMs + options.leaseTTLMs + 1)
        }
        if unused > 0 && nearTheCap(entry) { due = min(due, max(nowMs + 1, entry.lastAnswerMs + 260)) }
        let target = entry.ratePerSecond * LeaseSizing.sliceSecondsOfSpend
        if unused == 0 && target > 0 { due = min(due, max(nowMs + 1, entry.lease.validUntilMs - options.renewBeforeMs)) }
        entry.dueMs = due
        // Queued by the hot path once the lease is down to half a slice (and at least after a call).
        entry.lowAfterNanoUSD =
            nearTheCap(entry) ? .max : max(entry.lastCallNanoUSD, 1, min(unused - target / 2, unused / 2))
    }

    /// Every third of the TTL, one statement renews all of this host's leases. A lease counts as
    /// renewed only if its last answer came before the statement was sent (a grant answered
    /// later carries its own validity).
    private func renewIfDue(_ store: LeaseStore) throws {
        let nowMs = MonotonicClock.milliseconds()
        guard nowMs - lastRenewalMs.load(ordering: .relaxed) >= options.leaseTTLMs / 3 else { return }
        _ = try store.renewAll(ttlMs: options.leaseTTLMs)
        transactions.add(1, ordering: .relaxed)
        roundTrips.add(1, ordering: .relaxed)
        lastRenewalMs.store(nowMs, ordering: .relaxed)
        try reclaimExpired(store)
        for shard in shards {
            shard.pools.withLock { pools in
                pools.entries.forEach { _, entry in
                    if entry.loaded && entry.lease.inFlight == nil && entry.lastAnswerMs <= nowMs {
                        entry.lease.renewed(sentAtMs: nowMs, ttlMs: options.leaseTTLMs)
                    }
                }
            }
        }
    }

    /// Grant for a pool in use, or nothing.
    private func plan(_ entry: inout Entry, unused: NanoUSD, cap: NanoUSD, nowMs: Int64) -> LeaseOperation? {
        let need = entry.needNanoUSD
        // A pool with no measured rate yet (its first calls) asks for a few calls' worth.
        let rate =
            entry.ratePerSecond > 0
            ? entry.ratePerSecond : need * Self.firstSliceCalls / LeaseSizing.sliceSecondsOfSpend
        let target = max(rate * LeaseSizing.sliceSecondsOfSpend, need)
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
        // Ahead of need, a slice is at least one recent call's worst case (none when not even
        // that fits: near the cap, only a waiting call gets a grant, of exactly its need).
        let floor = need > 0 ? need : entry.lastCallNanoUSD
        if let slice = LeaseSizing.slice(spendPerSecond: rate, need: floor, free: free, activeHosts: entry.activeHosts) {
            return entry.lease.beginGrant(slice, nowMs: nowMs)
        }
        // Near the cap: direct mode, exactly what the waiting call needs; nothing ahead of need.
        if need > 0 { return entry.lease.beginGrant(need, nowMs: nowMs) }
        entry.needNanoUSD = 0
        return nil
    }

    /// Direct mode's test: the pool as last seen has no room for a slice of even one recent
    /// call's worst case per active host, so unused lease here would strand budget that another
    /// host's call could use. Such a pool's unused lease goes back at once.
    func nearTheCap(_ entry: Entry) -> Bool {
        guard entry.lease.pool.capNanoUSD != nil, entry.lastCallNanoUSD > 0 else { return false }
        return LeaseSizing.slice(
            spendPerSecond: entry.ratePerSecond, need: entry.lastCallNanoUSD, free: entry.lease.pool.freeNanoUSD,
            activeHosts: entry.activeHosts) == nil
    }

    /// Sends a batch of grants and returns in one round trip and takes in the answers; each
    /// answered pool is queued for another look. Throws the first failure (the connection is
    /// made again and what was not answered is sent again with its sequence).
    private func send(_ requests: [LeaseRequest], store: LeaseStore) throws {
        guard !requests.isEmpty else { return }
        let answers = try store.applyTogether(requests, ttlMs: options.leaseTTLMs)
        roundTrips.add(1, ordering: .relaxed)
        // One transaction for the batch (one per request only after the batch's failed).
        transactions.add(1, ordering: .relaxed)
        var failure: PostgresError?
        var woken = false
        for (request, answer) in zip(requests, answers) {
            let applied: Bool
            let state: LeaseState
            switch answer {
            case .success(let reply): (applied, state) = reply
            case .failure(let error):
                failure = failure ?? error
                continue
            }
            let key = request.pool
            shard(key.shopID).pools.withLock { pools in
                guard var entry = pools.entries[key] else { return }
                entry.lease.received(state.reply(applied: applied), for: request.operation, ttlMs: options.leaseTTLMs)
                entry.activeHosts = max(1, state.activeHosts)
                entry.lastAnswerMs = MonotonicClock.milliseconds()
                // The waiting call got its answer (a refused grant included): it stops waiting.
                if request.operation.kind == .grant { entry.needNanoUSD = 0 }
                pools.entries[key] = entry
                woken = pools.queueUp(key) || woken
            }
        }
        if let failure { throw failure }
    }

    // MARK: - Metrics

    func exposition() -> String {
        var writer = ExpositionWriter()
        let host: KeyValuePairs<String, String> = ["host_id": options.hostID]
        var pools = 0
        var entitlement: NanoUSD = 0
        for shard in shards {
            shard.pools.withLock { shard in
                pools += shard.entries.count
                shard.entries.forEach { _, entry in entitlement = Money.addSaturating(entitlement, entry.lease.entitlementNanoUSD) }
            }
        }
        writer.family("tokengate_fleet_connected", "gauge", "1 while the lease thread holds a working PostgreSQL connection.")
        writer.sample("tokengate_fleet_connected", host, connected.load(ordering: .relaxed) ? 1 : 0)
        writer.family("tokengate_fleet_pools", "gauge", "Budget pools (shop, window) this host holds or tends a lease on.")
        writer.sample("tokengate_fleet_pools", host, UInt64(pools))
        writer.family("tokengate_fleet_entitlement_nano_usd", "gauge", "Sum of this host's entitlements (settled + leased).")
        writer.sample("tokengate_fleet_entitlement_nano_usd", host, UInt64(max(entitlement, 0)))
        writer.family("tokengate_fleet_transactions_total", "counter", "Lease transactions sent to PostgreSQL.")
        writer.sample("tokengate_fleet_transactions_total", host, transactions.load(ordering: .relaxed))
        writer.family("tokengate_fleet_round_trips_total", "counter", "Round trips to PostgreSQL for leases (a batch of grants and returns is one).")
        writer.sample("tokengate_fleet_round_trips_total", host, roundTrips.load(ordering: .relaxed))
        writer.family("tokengate_fleet_refill_waits_total", "counter", "Calls that found the lease short and waited for a refill.")
        writer.sample("tokengate_fleet_refill_waits_total", host, refillWaits.load(ordering: .relaxed))
        writer.family("tokengate_fleet_refill_waited_ms_total", "counter", "Milliseconds calls spent waiting for refills.")
        writer.sample("tokengate_fleet_refill_waited_ms_total", host, refillWaitedMs.load(ordering: .relaxed))
        writer.family("tokengate_fleet_errors_total", "counter", "Failed lease transactions (retried).")
        writer.sample("tokengate_fleet_errors_total", host, failures.load(ordering: .relaxed))
        return writer.text + recoveryExposition()
    }
}
