// What the gate may make the daemon keep in memory (DESIGN §5: no peer can make the daemon hold
// memory the operator did not budget for). The gate keeps state only for reservations and
// rate-limit windows; a peer inventing shop ids with `reserve: true` made the daemon keep about
// 800 bytes per id for twice the reservation TTL (about 430 since a gate-only ShopState is
// compact, issue 18). Two named limits bound that: live holds in all, and shops kept with gate
// state only (no usage, tier or bills). Past either, a gate call that would add to it gets
// RESOURCE_EXHAUSTED. Usage is never refused by these limits.

import Synchronization
import TokenGateCore

/// The gate's memory limits; each has a flag (tokengated `--max-live-reservations`,
/// `--max-gate-only-shops`).
public struct GateMemoryLimits: Sendable, Equatable {
    /// Live holds across all shops. A hold covers one model call in flight: 1,000,000 is far
    /// above the calls a host can have in flight, and costs well under 512 MB at its worst.
    public var liveReservationsMax = 1_000_000
    /// Shops kept only for their holds or rate-limit windows (no usage, tier or bill): a real
    /// shop logs usage soon after its first check, so this bounds what made-up ids can cost.
    public var gateOnlyShopsMax = 200_000

    public init() {}

    /// Checks the values; returns a message naming the first bad one.
    public func problem() -> String? {
        if liveReservationsMax < 1 { return "liveReservationsMax must be at least 1" }
        if gateOnlyShopsMax < 1 { return "gateOnlyShopsMax must be at least 1" }
        return nil
    }
}

/// The ledger's running counts against `GateMemoryLimits`. Each shard adds the changes its calls
/// make; the sweeper recounts each shard exactly (under its lock) and corrects the totals, so a
/// path that changed a state without reporting it cannot make the counts drift for long. The
/// checks read the totals without a lock: concurrent calls on other shards may pass a limit
/// by at most the number of calls executing at once.
final class GateMemory: Sendable {
    let limits: GateMemoryLimits
    let liveReservations = Atomic<Int>(0)
    let gateOnlyShops = Atomic<Int>(0)

    init(limits: GateMemoryLimits) { self.limits = limits }

    /// Throws RESOURCE_EXHAUSTED when no more holds may be made.
    @inline(__always)
    func checkReservationRoom() throws(TokenGateError) {
        if liveReservations.load(ordering: .relaxed) >= limits.liveReservationsMax {
            throw TokenGateError(
                .resourceExhausted,
                "\(limits.liveReservationsMax) reservations are live (tokengated --max-live-reservations); "
                    + "settle or release holds, or retry without reserve")
        }
    }

    /// Throws RESOURCE_EXHAUSTED when no more gate-only shops may be kept.
    func checkGateOnlyRoom() throws(TokenGateError) {
        if gateOnlyShops.load(ordering: .relaxed) >= limits.gateOnlyShopsMax {
            throw TokenGateError(
                .resourceExhausted,
                "\(limits.gateOnlyShopsMax) shops without usage hold reservations or rate-limit state "
                    + "(tokengated --max-gate-only-shops); log usage for real shops, or retry later")
        }
    }
}

/// A shard's share of the totals in `GateMemory`, changed only under the shard's lock.
struct GateMemoryShare {
    var liveReservations = 0
    var gateOnlyShops = 0
}

extension ShopState {
    /// What this state counts against `GateMemoryLimits`.
    var gateMemory: GateMemoryShare {
        GateMemoryShare(liveReservations: liveReservationCount, gateOnlyShops: isGateOnly ? 1 : 0)
    }

    /// `gateMemory` through a mutating access: on a state held in a dictionary
    /// (`shops.values[index]`), a getter returns a copy of the whole ShopState (a retain and a
    /// release per field); a mutating access reads it in place.
    @inline(__always)
    mutating func readGateMemory() -> GateMemoryShare { gateMemory }

    /// Kept only for holds or rate-limit windows.
    var isGateOnly: Bool { !isKnown && !hasBillingRecords && (tracksReservations || tracksRateLimits) }
}
