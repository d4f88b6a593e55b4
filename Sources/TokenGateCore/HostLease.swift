// One host's side of a lease on a (shop, window) pool (DESIGN §8): what it believes it may
// spend, until when, and the one grant or return it has in flight. The server's refill thread
// and the seeded simulation both drive this value, so the protocol they test is one.
//
// Safety rests on two rules. The host's entitlement only grows from a reply PostgreSQL sent
// after applying a grant, and shrinks before a return is sent. And the lease is trusted only
// until `validUntil`, counted from when the grant was *sent* (so before PostgreSQL's own
// expiry, whatever the clocks say).

/// A grant or return to send, with its sequence number (a retry sends the same one).
public struct LeaseOperation: Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        case grant
        case giveBack
    }

    public var kind: Kind
    public var amountNanoUSD: NanoUSD
    public var sequence: Int64

    public init(kind: Kind, amountNanoUSD: NanoUSD, sequence: Int64) {
        self.kind = kind
        self.amountNanoUSD = amountNanoUSD
        self.sequence = sequence
    }
}

/// A host's view of its lease on one pool.
public struct HostLease: Sendable, Equatable {
    /// Settled plus outstanding, as PostgreSQL last answered (minus returns in flight).
    public private(set) var entitlementNanoUSD: NanoUSD
    /// The pool as last seen (for the others' share and the next slice's size).
    public private(set) var pool: LeasePool
    /// This host's shipped spend as last seen.
    public private(set) var settledNanoUSD: NanoUSD
    /// The last sequence PostgreSQL applied or this host sent.
    public private(set) var sequence: Int64
    /// The operation sent and not yet answered.
    public private(set) var inFlight: LeaseOperation?
    /// When the operation in flight was sent (monotonic ms).
    public private(set) var inFlightSentAtMs: Int64 = 0
    /// The lease is trusted until then (monotonic ms); afterwards only spend already made counts.
    public private(set) var validUntilMs: Int64

    /// A lease as read from PostgreSQL (at startup, or for a pool never leased: all zero).
    public init(lease: Lease, pool: LeasePool, readAtMs: Int64, ttlMs: Int64) {
        entitlementNanoUSD = lease.entitlementNanoUSD
        settledNanoUSD = lease.settledNanoUSD
        sequence = lease.sequence
        self.pool = pool
        validUntilMs = lease.amountNanoUSD > 0 ? readAtMs + HostLease.trustedMs(ttlMs) : readAtMs
    }

    /// The part of PostgreSQL's lease TTL a host trusts: a margin for the time the grant spent
    /// in flight before PostgreSQL stamped it is not needed (the host counts from sending), but
    /// a second is kept for a stalled thread between the check and the admission.
    public static func trustedMs(_ ttlMs: Int64) -> Int64 { max(ttlMs - 1_000, ttlMs / 2) }

    /// What the gate may count on at `nowMs`: the entitlement while the lease is valid, else
    /// only what this host has used (`localUsed`: spend plus holds), so nothing new fits.
    public func entitlement(at nowMs: Int64, localUsed: NanoUSD) -> NanoUSD {
        nowMs < validUntilMs ? entitlementNanoUSD : min(entitlementNanoUSD, localUsed)
    }

    /// The other hosts' settled spend and outstanding leases, as last seen.
    public var othersNanoUSD: NanoUSD {
        max(0, Money.addSaturating(Money.addSaturating(pool.settledNanoUSD, pool.leasedNanoUSD), -entitlementNanoUSD))
    }

    /// This window's allowance for the gate.
    public func allowance(at nowMs: Int64, localUsed: NanoUSD) -> FleetWindowAllowance {
        FleetWindowAllowance(entitlementNanoUSD: entitlement(at: nowMs, localUsed: localUsed), othersNanoUSD: othersNanoUSD)
    }

    /// What the gate may count on while PostgreSQL is unreachable and `outageLeft` of the
    /// shop's outage allowance is left: the lease as last answered, expired or not, plus that
    /// (DESIGN §8; the spend beyond the lease settles over the pool once PostgreSQL is back).
    public func outageEntitlement(outageLeft: NanoUSD) -> NanoUSD {
        Money.addSaturating(entitlementNanoUSD, max(0, outageLeft))
    }

    /// Unused lease: entitlement minus this host's spend and holds.
    public func unused(localUsed: NanoUSD) -> NanoUSD { max(0, entitlementNanoUSD - localUsed) }

    /// Starts a grant of `amount` (nil while another operation is in flight).
    public mutating func beginGrant(_ amount: NanoUSD, nowMs: Int64) -> LeaseOperation? {
        guard inFlight == nil, amount > 0 else { return nil }
        sequence += 1
        let operation = LeaseOperation(kind: .grant, amountNanoUSD: amount, sequence: sequence)
        inFlight = operation
        inFlightSentAtMs = nowMs
        return operation
    }

    /// Starts returning `amount` of the unused lease; the entitlement shrinks now, before the
    /// return is sent, so the gate can no longer count on it.
    public mutating func beginGiveBack(_ amount: NanoUSD, localUsed: NanoUSD, nowMs: Int64) -> LeaseOperation? {
        let amount = min(amount, unused(localUsed: localUsed))
        guard inFlight == nil, amount > 0 else { return nil }
        sequence += 1
        entitlementNanoUSD -= amount
        let operation = LeaseOperation(kind: .giveBack, amountNanoUSD: amount, sequence: sequence)
        inFlight = operation
        inFlightSentAtMs = nowMs
        return operation
    }

    /// PostgreSQL's reply to the operation in flight (a reply to anything else is ignored).
    /// `ttlMs` is PostgreSQL's lease TTL; validity counts from when the operation was sent.
    public mutating func received(_ reply: LeaseReply, for operation: LeaseOperation, ttlMs: Int64) {
        guard inFlight == operation else { return }
        inFlight = nil
        pool = reply.pool
        settledNanoUSD = reply.lease.settledNanoUSD
        sequence = max(sequence, reply.lease.sequence)
        entitlementNanoUSD = reply.lease.entitlementNanoUSD
        if operation.kind == .grant, reply.lease.sequence >= operation.sequence {
            validUntilMs = max(validUntilMs, inFlightSentAtMs + HostLease.trustedMs(ttlMs))
        }
    }

    /// PostgreSQL renewed every lease of this host by a statement sent at `sentAtMs` (after the
    /// entitlement was last changed by PostgreSQL, so the renewal covered it).
    public mutating func renewed(sentAtMs: Int64, ttlMs: Int64) {
        validUntilMs = max(validUntilMs, sentAtMs + HostLease.trustedMs(ttlMs))
    }

    /// The operation in flight failed without an answer that can be trusted (lost reply,
    /// broken connection): it stays in flight, to be sent again with the same sequence.
    public func retry() -> LeaseOperation? { inFlight }

    /// The pool as seen by a read that changed nothing (a refused grant included).
    public mutating func saw(_ pool: LeasePool) { self.pool = pool }
}
