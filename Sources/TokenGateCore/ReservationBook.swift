// One shop's reservations: live holds against its budgets, and a bounded memory of how ended
// ones ended, so a second settle or release gets a clear answer instead of a vague NOT_FOUND.
// Holds live in memory only (DESIGN §3): they are never logged, and a restart drops them.

/// How a reservation ended.
public enum ReservationEnd: Sendable, Equatable {
    /// LogUsage recorded the call under this event id.
    case settled(eventID: String)
    /// ReleaseReservation cancelled it.
    case released
    /// Its TTL ran out before it was settled or released.
    case expired
}

/// A live hold: an amount counted as spent until `expiresUnixMs`.
public struct ReservationHold: Sendable, Equatable {
    /// The worst-case cost held.
    public var amountNanoUSD: NanoUSD
    /// When the gate created the hold.
    public var createdUnixMs: UnixMillis
    /// The first instant the hold no longer counts.
    public var expiresUnixMs: UnixMillis
}

/// Live holds and recently ended reservation ids of one shop.
struct ReservationBook: Sendable {
    private struct Ended: Sendable {
        var how: ReservationEnd
        var at: UnixMillis
        var forgetAt: UnixMillis
    }

    private(set) var live: [String: ReservationHold] = [:]
    /// Sum of `live` amounts (saturating), kept current so the gate never sums the table.
    private(set) var heldTotal: NanoUSD = 0
    /// No live hold expires before this; `expire` does nothing until then.
    private var earliestExpiry: UnixMillis = .max
    /// Ended ids and how they ended; `order` lists them in the order they ended, for forgetting
    /// the oldest first, and `head` is its first entry not yet forgotten.
    private struct EndedMemory: Sendable {
        var ended: [String: Ended] = [:]
        var order: [(id: String, forgetAt: UnixMillis)] = []
        var head = 0

        /// Drops remembered ids past their forget time, oldest first, and any beyond the count
        /// limit. Ends happen in roughly time order, so the front of `order` is (nearly) the oldest.
        mutating func forget(now: UnixMillis) {
            while head < order.count {
                let (id, forgetAt) = order[head]
                let overLimit = order.count - head > CoreLimits.endedReservationsPerShopMax
                guard forgetAt <= now || overLimit else { break }
                if ended[id]?.forgetAt == forgetAt { ended[id] = nil }
                head += 1
            }
            if head > 64, head * 2 > order.count {
                order.removeFirst(head)
                head = 0
            }
        }
    }

    /// Empty while no ended id is remembered, else one element: a shop that only holds (issue 18,
    /// gate-only shops) keeps one word for this, not three.
    private var endedStorage: [EndedMemory] = []

    /// True when no hold is live and no ended id is remembered.
    var isEmpty: Bool { live.isEmpty && endedStorage.isEmpty }

    /// Holds that are still live at `now` (expiry is exclusive: a hold is gone at `now >= expiry`).
    func held(at now: UnixMillis) -> (amount: NanoUSD, count: Int) {
        if now < earliestExpiry { return (heldTotal, live.count) }
        var amount: NanoUSD = 0
        var count = 0
        for hold in live.values where now < hold.expiresUnixMs {
            amount = Money.addSaturating(amount, hold.amountNanoUSD)
            count += 1
        }
        return (amount, count)
    }

    /// The live hold `id` at `now`, or nil when it is unknown, ended or expired.
    func liveHold(_ id: String, at now: UnixMillis) -> ReservationHold? {
        guard let hold = live[id], now < hold.expiresUnixMs else { return nil }
        return hold
    }

    /// How `id` ended and when, if it is still remembered at `now` (for twice its TTL after it
    /// ended, and among the last `endedReservationsPerShopMax`).
    func ending(_ id: String, at now: UnixMillis) -> (how: ReservationEnd, at: UnixMillis)? {
        guard !endedStorage.isEmpty, let ended = endedStorage[0].ended[id], now < ended.forgetAt else { return nil }
        return (ended.how, ended.at)
    }

    /// Throws `resourceExhausted` when the shop cannot take another hold.
    func checkCapacity(shopID: String) throws(TokenGateError) {
        guard live.count < CoreLimits.liveReservationsPerShopMax else {
            throw TokenGateError(
                .resourceExhausted,
                "shop '\(shopID)' already has \(live.count) live reservations; settle or release some, or stop reserving")
        }
    }

    /// Creates hold `id`; returns its expiry. Throws `internal` for an empty or reused id.
    mutating func hold(id: String, amount: NanoUSD, now: UnixMillis, ttlMs: Int64) throws(TokenGateError) -> UnixMillis {
        guard !id.isEmpty, live[id] == nil, endedStorage.isEmpty || endedStorage[0].ended[id] == nil else {
            throw .internalError("reservation id '\(id)' is empty or already in use")
        }
        let expires = Money.addSaturating(now, max(1, ttlMs))
        live[id] = ReservationHold(amountNanoUSD: amount, createdUnixMs: now, expiresUnixMs: expires)
        heldTotal = Money.addSaturating(heldTotal, amount)
        earliestExpiry = min(earliestExpiry, expires)
        return expires
    }

    /// Ends live hold `id` as `how` at `now`; returns it, or nil when it was not live.
    @discardableResult
    mutating func end(_ id: String, as how: ReservationEnd, now: UnixMillis) -> ReservationHold? {
        guard let hold = live.removeValue(forKey: id) else { return nil }
        heldTotal = live.isEmpty ? 0 : max(0, heldTotal - hold.amountNanoUSD)
        remember(id, how: how, at: now, ttlMs: hold.expiresUnixMs - hold.createdUnixMs)
        forget(now: now)
        return hold
    }

    /// Ends every hold whose expiry has come, and forgets ended ids older than twice their TTL.
    mutating func expire(now: UnixMillis) {
        if now >= earliestExpiry {
            let expired = live.filter { now >= $0.value.expiresUnixMs }
            for (id, hold) in expired.sorted(by: { $0.value.expiresUnixMs < $1.value.expiresUnixMs }) {
                live[id] = nil
                remember(id, how: .expired, at: hold.expiresUnixMs, ttlMs: hold.expiresUnixMs - hold.createdUnixMs)
            }
            heldTotal = live.values.reduce(0) { Money.addSaturating($0, $1.amountNanoUSD) }
            earliestExpiry = live.values.map(\.expiresUnixMs).min() ?? .max
        }
        forget(now: now)
    }

    private mutating func remember(_ id: String, how: ReservationEnd, at: UnixMillis, ttlMs: Int64) {
        let forgetAt = Money.addSaturating(at, Money.addSaturating(ttlMs, ttlMs))
        if endedStorage.isEmpty { endedStorage.append(EndedMemory()) }
        endedStorage[0].ended[id] = Ended(how: how, at: at, forgetAt: forgetAt)
        endedStorage[0].order.append((id, forgetAt))
    }

    /// Forgets old ended ids (`EndedMemory.forget`); frees the memory once nothing is remembered.
    private mutating func forget(now: UnixMillis) {
        guard !endedStorage.isEmpty else { return }
        endedStorage[0].forget(now: now)
        if endedStorage[0].ended.isEmpty { endedStorage = [] }
    }
}
