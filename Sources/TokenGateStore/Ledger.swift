// The ledger: every shop's state, split into shards by a hash of the shop id so that work on
// different shops runs in parallel, with every durable change appended to the write-ahead log
// before it is applied and acknowledged. The domain rules live in TokenGateCore's ShopState;
// this type adds locking, the log, snapshots and recovery around them.
import Dispatch
import Synchronization
import TokenGateCore

/// How facts become log bodies and back. The server injects the protobuf codec, so this module
/// stays free of wire formats.
public struct FactEncoding: Sendable {
    public var encode: @Sendable (Fact) -> [UInt8]
    public var decode: @Sendable ([UInt8]) throws -> Fact
    /// Recovery's fast path: the usage event of the record in `buffer[range]` with its text
    /// left in `buffer`, or nil for any record it does not read (then `decode` decodes it).
    /// Whenever it answers, `decode` of the same bytes must give `.usage(answer.event)`.
    public var decodeUsage: @Sendable (_ buffer: [UInt8], _ range: Range<Int>) -> UsageEventBytes?

    public init(
        encode: @escaping @Sendable (Fact) -> [UInt8], decode: @escaping @Sendable ([UInt8]) throws -> Fact,
        decodeUsage: @escaping @Sendable (_ buffer: [UInt8], _ range: Range<Int>) -> UsageEventBytes? = { _, _ in nil }
    ) {
        self.encode = encode
        self.decode = decode
        self.decodeUsage = decodeUsage
    }

    /// The fact of the record in `buffer[range]`, through `decodeUsage` when it answers.
    func decodeForRecovery(_ buffer: [UInt8], _ range: Range<Int>) throws -> RecoveredFact {
        if let usage = decodeUsage(buffer, range) { return .usage(usage) }
        return .other(try decode(Array(buffer[range])))
    }
}

/// A fact as recovery decodes it: usage events keep their text in the bytes read.
enum RecoveredFact {
    case usage(UsageEventBytes)
    case other(Fact)
}

/// What recovery found, for the startup log line.
public struct LedgerRecovery: Sendable {
    public var snapshotFile: String?
    public var snapshotFacts: Int
    public var logRecords: Int
    public var lastSequence: UInt64
    public var warnings: [String]
}

public final class Ledger: Sendable {
    /// Why 64: enough shards that 2 cores never wait on each other for different shops, few
    /// enough that a cross-shop report visits them cheaply.
    public static let shardCountDefault = 64

    final class Shard: Sendable {
        let shops = Mutex<[String: ShopState]>([:])
        /// The ledger's gate memory counts; `share` is this shard's part of them.
        let gate: GateMemory
        private let liveShare = Atomic<Int>(0)
        private let gateOnlyShare = Atomic<Int>(0)

        init(gate: GateMemory) { self.gate = gate }

        /// Reports a state's change from `before` to `after` to the gate memory counts. Call
        /// with `shops` locked.
        @inline(__always)
        func account(_ before: GateMemoryShare, _ after: GateMemoryShare) {
            if before.liveReservations != after.liveReservations {
                let delta = after.liveReservations - before.liveReservations
                liveShare.add(delta, ordering: .relaxed)
                gate.liveReservations.add(delta, ordering: .relaxed)
            }
            if before.gateOnlyShops != after.gateOnlyShops {
                let delta = after.gateOnlyShops - before.gateOnlyShops
                gateOnlyShare.add(delta, ordering: .relaxed)
                gate.gateOnlyShops.add(delta, ordering: .relaxed)
            }
        }

        /// Replaces this shard's share with an exact count (the sweeper's). Call with `shops` locked.
        func recount(_ shops: [String: ShopState]) {
            var exact = GateMemoryShare()
            for shop in shops.values {
                let share = shop.gateMemory
                exact.liveReservations += share.liveReservations
                exact.gateOnlyShops += share.gateOnlyShops
            }
            account(
                GateMemoryShare(liveReservations: liveShare.load(ordering: .relaxed), gateOnlyShops: gateOnlyShare.load(ordering: .relaxed)),
                exact)
        }
        /// A state with nothing in it, lent to a shop that has no state here (`withState`);
        /// taken only inside `shops`' lock.
        private let blank = Mutex(ShopState(shopID: ""))

        /// Runs `body` on `shopID`'s state in place (one hash of its id, no copy of the state),
        /// or, for a shop with no state here, on the shard's blank state, which becomes the shop's
        /// own only when `body` leaves something in it (a hold, a rate-limit window). Building
        /// and dropping a ShopState per call cost about 850 instructions. A known shop left with
        /// nothing worth keeping is dropped. Call with `shops` locked. Inlined: as a call, with
        /// its closure and generic result, it cost the gate about 400 instructions.
        @inline(__always)
        func withState<Result>(
            _ shopID: String, in shops: inout [String: ShopState], _ body: (inout ShopState) throws(TokenGateError) -> Result
        ) throws(TokenGateError) -> Result {
            if let index = shops.index(forKey: shopID) {
                let before = shops.values[index].readGateMemory()
                defer {
                    account(before, shops.values[index].readGateMemory())
                    if !shops.values[index].isWorthKeeping { shops.remove(at: index) }
                }
                return try body(&shops.values[index])
            }
            return try blank.withLock { blank throws(TokenGateError) in
                blank.reassignBlank(to: shopID)
                do throws(TokenGateError) {
                    let result = try body(&blank)
                    if blank.isWorthKeeping {
                        // A new shop kept for gate state only: within the limit, or the call's
                        // effect (its hold, its rate-limit window) is dropped with the blank.
                        let share = blank.gateMemory
                        if share.gateOnlyShops > 0 { try gate.checkGateOnlyRoom() }
                        shops[shopID] = blank
                        account(GateMemoryShare(), share)
                        blank = ShopState(shopID: "")
                    }
                    return result
                } catch {
                    // A call that failed part-way may have left something behind.
                    blank = ShopState(shopID: "")
                    throw error
                }
            }
        }
    }

    let shards: [Shard]
    let configuration: ConfigurationCell
    /// The run-time configuration changes in effect (locked inside `configuration`'s lock).
    let runtimeChanges = Mutex(ConfigChangeLog())
    let log: WriteAheadLog
    let directory: String
    let encoding: FactEncoding
    let fileSystem: any FileSystem
    /// Months of raw usage events kept (`Retention`); older ones are dropped at snapshot time.
    public let retentionMonths: Int
    /// Serialises snapshot writes (periodic and final); see Ledger+Snapshots.swift.
    let snapshotLock = Mutex(())
    /// The last sequence the newest snapshot covers (0 before any).
    let snapshotSequence = Atomic<UInt64>(0)
    /// Makes reservation and event ids unique across restarts of the daemon.
    private let bootID: String
    private let counter = Atomic<UInt64>(0)
    /// Live holds and gate-only shops against their limits (GateMemory.swift).
    let gateMemory: GateMemory
    /// Which shop holds each event id (EventIDIndex.swift): ids are unique across the store.
    let eventIDs = EventIDIndex()
    /// Alerts stored by any write, for the server to publish to watchers (Ledger+Reports.swift).
    public let alertFeed = AlertFeed()

    public init(
        directory: String, configuration: Configuration, log: WriteAheadLog, encoding: FactEncoding,
        shardCount: Int = Ledger.shardCountDefault, fileSystem: any FileSystem = PosixFileSystem(),
        bootID: String, retentionMonths: Int = Retention.monthsDefault, gateMemoryLimits: GateMemoryLimits = GateMemoryLimits()
    ) {
        precondition(shardCount > 0, "a ledger needs at least one shard")
        precondition(Retention.monthsRange.contains(retentionMonths), "retentionMonths out of range")
        self.retentionMonths = retentionMonths
        let gate = GateMemory(limits: gateMemoryLimits)
        self.gateMemory = gate
        self.shards = (0..<shardCount).map { _ in Shard(gate: gate) }
        self.configuration = ConfigurationCell(configuration)
        self.log = log
        self.directory = directory
        self.encoding = encoding
        self.fileSystem = fileSystem
        self.bootID = bootID
    }

    public var currentConfiguration: Configuration { configuration.current }

    // MARK: - The hot RPCs

    /// The gate. Shops that are neither known nor reserving leave no state behind, so a stream of
    /// made-up shop ids cannot grow memory.
    public func canMakeRequest(_ request: CanMakeRequestRequest, now: UnixMillis) throws(TokenGateError) -> CanMakeRequestResponse {
        let snapshot = configuration.snapshot
        let shard = shard(for: request.shopID)
        if request.reserve { try gateMemory.checkReservationRoom() }
        return try shard.shops.withLock { shops throws(TokenGateError) in
            try shard.withState(request.shopID, in: &shops) { shop throws(TokenGateError) in
                try shop.canMakeRequest(request, config: snapshot.value, now: now) {
                    nextReservationID(shopID: request.shopID)
                }
            }
        }
    }

    public func releaseReservation(_ request: ReleaseReservationRequest, now: UnixMillis) throws(TokenGateError) -> ReleaseReservationResponse {
        guard let shopID = Self.shopID(ofReservation: request.reservationID) else {
            throw .notFound("reservation '\(request.reservationID)' is not one this daemon issued")
        }
        let released = try withExistingShop(shopID) { shop throws(TokenGateError) in
            try shop.releaseReservation(id: request.reservationID, now: now)
        }
        guard let released else { throw .notFound("reservation '\(request.reservationID)' is unknown or expired") }
        return ReleaseReservationResponse(releasedNanoUSD: released)
    }

    public func optimize(_ request: ApplyOptimizationRequest, now: UnixMillis) throws(TokenGateError) -> ApplyOptimizationResponse {
        let snapshot = configuration.snapshot
        let shard = shard(for: request.shopID)
        return try shard.shops.withLock { shops throws(TokenGateError) in
            try shard.withState(request.shopID, in: &shops) { shop throws(TokenGateError) in
                try shop.optimize(request, config: snapshot.value, now: now)
            }
        }
    }

    /// Records a usage event. Returns the response and the log sequence the caller must wait for
    /// (with `waitUntilDurable`) before acknowledging. An empty event id gets a generated one.
    public func logUsage(_ request: LogUsageRequest, now: UnixMillis) throws(TokenGateError) -> (LogUsageResponse, UInt64) {
        var request = request
        if request.eventID.isEmpty { request.eventID = nextID(prefix: "evt") }
        let snapshot = configuration.snapshot
        let digest = EventIDDigest(request.eventID)
        let idHash = digest.hash
        // The id's stripe stays locked until the event is filed under its shop, so the same id
        // sent for two shops at once is recorded for one and refused for the other.
        let logged = try eventIDs.withStripe(idHash) { owners throws(TokenGateError) -> LoggedUsage in
            if let number = owners.owner(of: idHash), case let owner = eventIDs.shops.shopID(number),
                owner != request.shopID, let first = readShop(owner, { $0.event(id: request.eventID) })
            {
                throw .alreadyExists(
                    "event_id '\(request.eventID)' was recorded for shop '\(owner)' (at "
                        + "\(UTCCalendar.iso8601(first.recordedAtUnixMs))); the first field that differs is shop_id. "
                        + "Event ids are unique across the store: give each model call its own id")
            }
            let logged = try withShop(request.shopID) { shop throws(TokenGateError) -> LoggedUsage in
                switch try shop.planUsage(request, config: snapshot.value, now: now, digest: digest) {
                case .duplicate(let response):
                    // The first call may still be waiting for its fsync: wait for everything logged so far.
                    // Its alerts are stored now if a crash lost them between the two writes.
                    return LoggedUsage(response, max(log.lastSequence, try storeAlerts(response.alerts, in: &shop)), recorded: false)
                case .record(let event, let response):
                    try checkRetention(event, now: now)
                    let sequence = try append(.usage(event))
                    shop.apply(usage: event, digest: digest)
                    if !request.reservationID.isEmpty {
                        shop.settleReservation(id: request.reservationID, byEvent: event.eventID, now: now)
                    }
                    if shop.idIndexNumber == 0 { shop.idIndexNumber = eventIDs.shops.number(of: request.shopID) }
                    var logged = LoggedUsage(response, max(sequence, try storeAlerts(response.alerts, in: &shop)), recorded: true)
                    logged.owner = shop.idIndexNumber
                    return logged
                }
            }
            if logged.recorded { owners.set(idHash, owner: logged.owner) }
            return logged
        }
        return (logged.response, logged.sequence)
    }

    /// LogUsage's result inside the locks (a struct: a tuple's type metadata was looked up at
    /// run time on every call).
    struct LoggedUsage {
        var response: LogUsageResponse
        var sequence: UInt64
        var recorded: Bool
        /// The shop's number in the id index (set when `recorded`).
        var owner: UInt32 = 0
        init(_ response: LogUsageResponse, _ sequence: UInt64, recorded: Bool) {
            self.response = response
            self.sequence = sequence
            self.recorded = recorded
        }
    }

    /// Files every event the shops hold in the id index (after recovery). Collected shard by
    /// shard, then filed with no shard lock held (the index's locks come first); the stripes are
    /// sized for every event first. The shards are split between the recovery workers' cores
    /// (the index's stripes and shop numbers have their own locks): on one thread the rebuild
    /// took 2.3 s of a 13.6 s recovery of 10M events over 10,000 shops, 1.1 s on two (perf).
    func rebuildEventIDIndex() {
        eventIDs.reserve(shards.reduce(0) { total, shard in
            total + shard.shops.withLock { shops in shops.values.reduce(0) { $0 + $1.eventCount } }
        })
        let workers = StoreLimits.recoveryWorkers
        DispatchQueue.concurrentPerform(iterations: workers) { worker in
            var entries: [IndexEntry] = []
            for shard in stride(from: worker, to: shards.count, by: workers).map({ shards[$0] }) {
                shard.shops.withLock { shops in
                    for (shopID, shop) in shops where shop.eventCount > 0 {
                        let owner = eventIDs.shops.number(of: shopID)
                        shop.forEachEventIDHash { entries.append(IndexEntry(hash: $0, owner: owner)) }
                    }
                }
                for entry in entries { eventIDs.insert(entry.hash, owner: entry.owner) }
                entries.removeAll(keepingCapacity: true)
            }
        }
    }

    /// An id hash and its owner's number, collected under a shard's lock for the id index.
    private struct IndexEntry {
        var hash: Int
        var owner: UInt32
    }

    public func generateBilling(_ request: GenerateBillingRequest, now: UnixMillis) throws(TokenGateError) -> (GenerateBillingResponse, UInt64?) {
        let config = currentConfiguration
        return try withShop(request.shopID) { shop throws(TokenGateError) in
            switch try shop.planBilling(request, config: config, now: now) {
            case .existing(let response):
                return (response, log.lastSequence)
            case .preview(let response):
                return (response, nil)
            case .store(let record, let response):
                let sequence = try append(.billing(record))
                shop.apply(.billing(record))
                return (response, sequence)
            }
        }
    }

    /// Blocks until `sequence` is durable under the fsync policy. A failed fsync is fatal: the
    /// error says so and the daemon must stop (`StoreError.failed`).
    public func waitUntilDurable(_ sequence: UInt64) throws(StoreError) {
        try log.waitUntilDurable(sequence)
    }

    /// Calls `notify` once `sequence` is durable, or with the error that means it never will
    /// be, without blocking this thread: on it when already known, else on the log's flusher
    /// (so `notify` must not block).
    public func whenDurable(_ sequence: UInt64, _ notify: @escaping @Sendable (Result<Void, StoreError>) -> Void) {
        log.whenDurable(sequence, notify)
    }

    /// The last sequence durable under the fsync policy: after a failed batch write, the calls
    /// whose sequence is above it were not acknowledged.
    public var durableSequence: UInt64 { log.durableSequence }

    /// The sequence of the last record appended to the log.
    public var lastSequence: UInt64 { log.lastSequence }

    // MARK: - Recovery and snapshots

    /// Loads the newest valid snapshot, then replays the log after it.
    public func recover(repair: Bool) throws -> LedgerRecovery {
        var result = LedgerRecovery(snapshotFile: nil, snapshotFacts: 0, logRecords: 0, lastSequence: 0, warnings: [])
        var afterSequence: UInt64 = 0
        // Decoding here, applying on worker threads (RecoveryApplier.swift).
        let applier = try RecoveryApplier(ledger: self)
        let report: RecoveryReport
        do {
            if let snapshot = try Snapshot.loadNewest(directory: directory, fileSystem: fileSystem) {
                for entry in snapshot.entries {
                    applier.add(try encoding.decodeForRecovery(entry, entry.indices), from: entry, newBuffer: true)
                }
                afterSequence = snapshot.lastSequence
                snapshotSequence.store(afterSequence, ordering: .relaxed)
                result.snapshotFile = snapshot.file
                result.snapshotFacts = snapshot.entries.count
                result.warnings += snapshot.warnings
            }
            var segmentSequence: UInt64?
            report = try log.recover(afterSequence: afterSequence, repair: repair) { segmentFirst, _, segment, body in
                let fact = try encoding.decodeForRecovery(segment, body)
                applier.add(fact, from: segment, newBuffer: segmentFirst != segmentSequence)
                segmentSequence = segmentFirst
            }
            applier.finish()
            rebuildEventIDIndex()
        } catch {
            applier.finish()
            throw error
        }
        result.logRecords = report.recordsReplayed
        result.lastSequence = max(afterSequence, report.lastSequence)
        result.warnings += report.warnings
        return result
    }

    public func close() throws {
        try log.close()
    }

    // MARK: - Private

    func shard(for shopID: String) -> Shard {
        shards[shardIndex(for: shopID)]
    }

    func shardIndex(for shopID: String) -> Int {
        shardIndex(forHash: Self.shopHash(shopID))
    }

    /// The hash that places a shop in its shard (recovery also groups facts by it).
    static func shopHash(_ shopID: String) -> Int {
        var hasher = Hasher()
        hasher.combine(shopID)
        return hasher.finalize()
    }

    func shardIndex(forHash hash: Int) -> Int {
        Int(UInt(bitPattern: hash) % UInt(shards.count))
    }

    /// Runs `body` on the shop's state in place (created when missing, and dropped again when
    /// the call left nothing worth keeping), under its shard's lock.
    func withShop<Result>(
        _ shopID: String, _ body: (inout ShopState) throws(TokenGateError) -> Result
    ) throws(TokenGateError) -> Result {
        let shard = shard(for: shopID)
        return try shard.shops.withLock { shops throws(TokenGateError) in
            var index = shops.index(forKey: shopID)
            let created = index == nil
            if created {
                shops[shopID] = ShopState(shopID: shopID)
                index = shops.index(forKey: shopID)
            }
            let at = index!
            let before = shops.values[at].readGateMemory()
            defer {
                shard.account(before, shops.values[at].readGateMemory())
                // A refused or read-only call on a new shop id leaves nothing behind.
                if created, !shops.values[at].isWorthKeeping { shops.remove(at: at) }
            }
            return try body(&shops.values[at])
        }
    }

    private func withExistingShop<Result>(
        _ shopID: String, _ body: (inout ShopState) throws(TokenGateError) -> Result
    ) throws(TokenGateError) -> Result? {
        let shard = shard(for: shopID)
        return try shard.shops.withLock { shops throws(TokenGateError) in
            guard let index = shops.index(forKey: shopID) else { return nil }
            let before = shops.values[index].readGateMemory()
            defer { shard.account(before, shops.values[index].readGateMemory()) }
            return try body(&shops.values[index])
        }
    }

    func append(_ fact: Fact) throws(TokenGateError) -> UInt64 {
        do {
            return try log.append(encoding.encode(fact))
        } catch {
            throw TokenGateError(.unavailable, "the write-ahead log refused the write: \(error)")
        }
    }

    /// Retention: an event in a month whose raw events are no longer kept could not be
    /// deduplicated against its earlier copies, so it is refused.
    private func checkRetention(_ event: UsageEvent, now: UnixMillis) throws(TokenGateError) {
        let month = MonthKey(unixMs: event.occurredAtUnixMs)
        let oldest = Retention.oldestAcceptedMonth(now: now, months: retentionMonths)
        guard month >= oldest else {
            throw .failedPrecondition(
                "occurred_at \(UTCCalendar.iso8601(event.occurredAtUnixMs)) is in \(month.text), older than the "
                    + "\(retentionMonths)-month retention of raw events allows (oldest accepted month: \(oldest.text))")
        }
    }

    private func nextID(prefix: String) -> String {
        let number = counter.add(1, ordering: .relaxed).newValue
        return "\(prefix)-\(bootID)-\(number)"
    }

    /// Reservation ids carry their shop, so a release finds the shard without a global index.
    func nextReservationID(shopID: String) -> String {
        "\(nextID(prefix: "rsv")):\(shopID)"
    }

    static func shopID(ofReservation id: String) -> String? {
        guard id.hasPrefix("rsv-"), let colon = id.firstIndex(of: ":") else { return nil }
        let shop = id[id.index(after: colon)...]
        return shop.isEmpty ? nil : String(shop)
    }
}

extension ShopState {
    /// A shop stays in memory once it is known or has reservations to remember; a check of a
    /// made-up shop id leaves nothing behind.
    var isWorthKeeping: Bool { isKnown || tracksReservations || hasBillingRecords || tracksRateLimits }
}

extension Fact {
    /// The shop a fact belongs to (empty for a configuration change).
    public var shopID: String {
        switch self {
        case .usage(let event): event.shopID
        case .billing(let record): record.shopID
        case .tierAssignment(let shopID, _, _): shopID
        case .alert(let alert): alert.shopID
        case .paidMark(let mark): mark.shopID
        case .voidMark(let mark): mark.shopID
        case .configChange: ""
        case .monthAggregate(let shopID, _, _): shopID
        }
    }
}
