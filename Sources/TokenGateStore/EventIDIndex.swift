// The store-wide event id index (DESIGN §3 idempotency): event ids are unique across the whole
// store, not per shop, so one id sent for two shops is a conflict, not two events. Each shop's
// EventStore already finds its own ids in O(1); this index only says which shop holds an id.
//
// It is derived state, never logged: built from the shops' events after recovery (snapshot +
// log replay), extended by every recorded LogUsage, trimmed when retention drops raw events.
// Entries are filed by the id's 64-bit hash (`ShopState.eventIDHash`) with the owning shop id,
// so an entry costs a hash and a shared String, not a copy of the id; a hit is verified in the
// owner's own store, so a hash collision is never reported as a conflict.
//
// Lock order: a stripe's lock, then a shard's lock, never the other way round.
import Synchronization
import TokenGateCore

final class EventIDIndex: Sendable {
    /// Stripes, so that LogUsage calls of different ids rarely wait for each other.
    static let stripeCount = 64
    private final class Stripe: Sendable {
        let entries = Mutex<[Int: String]>([:])
    }

    private let stripes: [Stripe]

    init() {
        stripes = (0..<Self.stripeCount).map { _ in Stripe() }
    }

    /// Runs `body` with the entries of `hash`'s stripe locked.
    func withStripe<Result>(
        _ hash: Int, _ body: (inout [Int: String]) throws(TokenGateError) -> Result
    ) throws(TokenGateError) -> Result {
        try stripes[Self.stripe(hash)].entries.withLock { entries throws(TokenGateError) in try body(&entries) }
    }

    /// Files `hash` under `shopID` (recovery).
    func insert(_ hash: Int, shopID: String) {
        stripes[Self.stripe(hash)].entries.withLock { $0[hash] = shopID }
    }

    /// Forgets `hash` when `shopID` owns it (retention dropped the event).
    func remove(_ hash: Int, shopID: String) {
        stripes[Self.stripe(hash)].entries.withLock { entries in
            if entries[hash] == shopID { entries[hash] = nil }
        }
    }

    /// Number of ids filed (tests, metrics).
    var count: Int { stripes.reduce(0) { total, stripe in total + stripe.entries.withLock { $0.count } } }

    private static func stripe(_ hash: Int) -> Int {
        Int(UInt(bitPattern: hash >> 7) % UInt(stripeCount))
    }
}
