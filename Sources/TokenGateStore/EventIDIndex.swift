// The store-wide event id index (DESIGN §3 idempotency): event ids are unique across the whole
// store, not per shop, so one id sent for two shops is a conflict, not two events. Each shop's
// EventStore already finds its own ids in O(1); this index only says which shop holds an id.
//
// It is derived state, never logged: built from the shops' events after recovery (snapshot +
// log replay), extended by every recorded LogUsage, trimmed when retention drops raw events.
// Entries are filed by the id's 64-bit hash (`ShopState.eventIDHash`) with the owning shop's
// number in `ShopNumbers`, 12 bytes per slot of an open-addressing table (`EventIDTable`), not
// a copy of the id nor a String per event. A hash names one owner: a later id with the same
// hash takes the entry over. A hit is verified in the owner's own store, so a hash collision
// may hide a cross-shop conflict (2^-64 per pair of ids) but is never reported as one.
//
// Lock order: a stripe's lock, then a shard's lock, then `ShopNumbers`' lock (a leaf).
import Synchronization
import TokenGateCore

final class EventIDIndex: Sendable {
    /// Stripes, so that LogUsage calls of different ids rarely wait for each other.
    static let stripeCount = 64
    private final class Stripe: Sendable {
        let table = Mutex(EventIDTable())
    }

    private let stripes: [Stripe]
    /// The shops that own ids, by number (the tables' owner field).
    let shops = ShopNumbers()

    init() {
        stripes = (0..<Self.stripeCount).map { _ in Stripe() }
    }

    /// Runs `body` with the table of `hash`'s stripe locked.
    func withStripe<Result>(
        _ hash: Int, _ body: (inout EventIDTable) throws(TokenGateError) -> Result
    ) throws(TokenGateError) -> Result {
        try stripes[Self.stripe(hash)].table.withLock { table throws(TokenGateError) in try body(&table) }
    }

    /// Gives every stripe room for its share of `entries` ids (recovery, before `insert`s), so
    /// that rebuilding does not double each table a dozen times.
    func reserve(_ entries: Int) {
        // A stripe's share varies by a few percent around the mean.
        let perStripe = entries / Self.stripeCount + entries / Self.stripeCount / 16 + 16
        for stripe in stripes { stripe.table.withLock { $0.reserve(perStripe) } }
    }

    /// Files `hash` under the shop numbered `owner` (recovery).
    func insert(_ hash: Int, owner: UInt32) {
        stripes[Self.stripe(hash)].table.withLock { $0.set(hash, owner: owner) }
    }

    /// Forgets `hash` when `shopID` owns it (retention dropped the event).
    func remove(_ hash: Int, shopID: String) {
        guard let owner = shops.existingNumber(of: shopID) else { return }
        stripes[Self.stripe(hash)].table.withLock { _ = $0.remove(hash, owner: owner) }
    }

    /// Number of ids filed (tests, metrics).
    var count: Int { stripes.reduce(0) { total, stripe in total + stripe.table.withLock { $0.count } } }

    /// Bytes the stripes' tables hold (tests, docs).
    var tableBytes: Int { stripes.reduce(0) { total, stripe in total + stripe.table.withLock { $0.bytes } } }

    private static func stripe(_ hash: Int) -> Int {
        Int(UInt(bitPattern: hash >> 7) % UInt(stripeCount))
    }
}

/// One stripe's ids: open addressing with linear probing over two parallel arrays, a 64-bit id
/// hash and a 32-bit owner number per slot (owner 0 = empty), 12 bytes a slot. A slot's home is
/// the top bits of the hash (the stripe was chosen by bits 7...12, which all of its hashes
/// share). Grows by doubling past a load of 4/5; deletion shifts the following entries of the
/// cluster back, so there are no tombstones and lookups never slow down after trims.
/// Never allocates on a lookup, nor on a `set` that needs no growth.
struct EventIDTable: Sendable {
    /// Why 4/5: linear probing stays at a few probes of 8 contiguous bytes each, and the table
    /// costs 12 B / load per id (15-30 B between doublings).
    static let loadNumerator = 4
    static let loadDenominator = 5
    static let capacityMin = 16

    private var hashes: [UInt64] = []
    private var owners: [UInt32] = []
    /// 64 - log2(capacity): the shift that turns a hash into its home slot.
    private var shift: UInt64 = 64
    private(set) var count = 0

    /// Slots (a power of two, or 0 before the first entry).
    var capacity: Int { hashes.count }

    /// Bytes the two arrays hold.
    var bytes: Int { capacity * (MemoryLayout<UInt64>.stride + MemoryLayout<UInt32>.stride) }

    /// The number of the shop that owns `hash`, or nil.
    func owner(of hash: Int) -> UInt32? {
        guard count > 0 else { return nil }
        let key = UInt64(bitPattern: Int64(hash))
        let mask = capacity - 1
        var slot = home(key)
        while owners[slot] != 0 {
            if hashes[slot] == key { return owners[slot] }
            slot = (slot + 1) & mask
        }
        return nil
    }

    /// Files `hash` under `owner` (a nonzero shop number), replacing the owner it had.
    mutating func set(_ hash: Int, owner: UInt32) {
        precondition(owner != 0, "shop number 0 marks an empty slot")
        if (count + 1) * Self.loadDenominator > capacity * Self.loadNumerator { resize(capacity: growth(count + 1)) }
        let key = UInt64(bitPattern: Int64(hash))
        let mask = capacity - 1
        var slot = home(key)
        while owners[slot] != 0 {
            if hashes[slot] == key {
                owners[slot] = owner
                return
            }
            slot = (slot + 1) & mask
        }
        hashes[slot] = key
        owners[slot] = owner
        count += 1
    }

    /// Forgets `hash` if `owner` owns it; returns whether it did.
    @discardableResult
    mutating func remove(_ hash: Int, owner: UInt32) -> Bool {
        guard count > 0 else { return false }
        let key = UInt64(bitPattern: Int64(hash))
        let mask = capacity - 1
        var slot = home(key)
        while owners[slot] != 0 {
            if hashes[slot] == key {
                guard owners[slot] == owner else { return false }
                shiftBack(from: slot)
                count -= 1
                return true
            }
            slot = (slot + 1) & mask
        }
        return false
    }

    /// Grows (never shrinks) to hold `entries` entries under the load limit.
    mutating func reserve(_ entries: Int) {
        let needed = growth(entries)
        if needed > capacity { resize(capacity: needed) }
    }

    /// Every (hash, owner) filed, in slot order (tests).
    var entries: [(hash: Int, owner: UInt32)] {
        owners.indices.filter { owners[$0] != 0 }.map { (Int(Int64(bitPattern: hashes[$0])), owners[$0]) }
    }

    // MARK: - Private

    private func home(_ key: UInt64) -> Int { Int(truncatingIfNeeded: key >> shift) }

    /// The smallest power-of-two capacity holding `entries` under the load limit.
    private func growth(_ entries: Int) -> Int {
        var capacity = max(self.capacity, Self.capacityMin)
        while entries * Self.loadDenominator > capacity * Self.loadNumerator { capacity *= 2 }
        return capacity
    }

    private mutating func resize(capacity newCapacity: Int) {
        let oldHashes = hashes
        let oldOwners = owners
        hashes = [UInt64](repeating: 0, count: newCapacity)
        owners = [UInt32](repeating: 0, count: newCapacity)
        shift = UInt64(64 - newCapacity.trailingZeroBitCount)
        let mask = newCapacity - 1
        for index in oldOwners.indices where oldOwners[index] != 0 {
            var slot = home(oldHashes[index])
            while owners[slot] != 0 { slot = (slot + 1) & mask }
            hashes[slot] = oldHashes[index]
            owners[slot] = oldOwners[index]
        }
    }

    /// Empties `slot` and moves back each later entry of its cluster whose home is not between
    /// the hole and itself (cyclically), so every entry stays reachable from its home.
    private mutating func shiftBack(from slot: Int) {
        let mask = capacity - 1
        var hole = slot
        var next = (slot + 1) & mask
        while owners[next] != 0 {
            let wanted = home(hashes[next])
            // Distance from home to `next` is at least the distance from the hole to `next`:
            // the entry may move into the hole.
            if (next &- wanted) & mask >= (next &- hole) & mask {
                hashes[hole] = hashes[next]
                owners[hole] = owners[next]
                hole = next
            }
            next = (next + 1) & mask
        }
        hashes[hole] = 0
        owners[hole] = 0
    }
}

/// Shop ids numbered from 1 for the id index's 4-byte owner field. Numbers are never reused nor
/// forgotten (a shop costs its id once here, not once per event).
final class ShopNumbers: Sendable {
    private struct Numbers {
        var byID: [String: UInt32] = [:]
        /// `names[n]` is shop number n; `names[0]` is unused.
        var names: [String] = [""]
    }

    private let numbers = Mutex(Numbers())

    /// The number of `shopID`, numbering it first when it has none.
    func number(of shopID: String) -> UInt32 {
        numbers.withLock { numbers in
            if let number = numbers.byID[shopID] { return number }
            precondition(numbers.names.count < Int(UInt32.max), "the id index numbers at most \(UInt32.max - 1) shops")
            let number = UInt32(numbers.names.count)
            numbers.names.append(shopID)
            numbers.byID[shopID] = number
            return number
        }
    }

    /// The number of `shopID` if it has one.
    func existingNumber(of shopID: String) -> UInt32? {
        numbers.withLock { $0.byID[shopID] }
    }

    /// The shop id numbered `number` (one `number(of:)` returned).
    func shopID(_ number: UInt32) -> String {
        numbers.withLock { $0.names[Int(number)] }
    }

    /// Shops numbered.
    var count: Int { numbers.withLock { $0.names.count - 1 } }
}
