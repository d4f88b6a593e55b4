// The lease protocol's round trips (DESIGN §8, issue 20): a grant, a return, a read, and the
// admin's write-off, each one transaction of `LeaseStatements` sent in pipeline mode (one round
// trip). Every write carries the host's sequence number, so sending one again after a lost
// reply changes nothing and answers the lease as it stands.

import TokenGateCore

/// A pool and one host's lease on it, as PostgreSQL holds them.
public struct LeaseState: Sendable, Equatable {
    public var pool: LeasePool
    public var lease: Lease
    /// Hosts holding an unexpired, non-empty lease on the pool.
    public var activeHosts: Int

    public init(pool: LeasePool, lease: Lease, activeHosts: Int) {
        self.pool = pool
        self.lease = lease
        self.activeHosts = activeHosts
    }
}

/// Grants, returns and reads over one connection (used by one thread at a time).
public struct LeaseStore {
    public let connection: PostgresConnection
    public let hostID: String

    public init(connection: PostgresConnection, hostID: String) {
        self.connection = connection
        self.hostID = hostID
    }

    /// Sends grant `operation` for `pool` under `cap` (the conditional UPDATE), the lease's
    /// expiry moved to now + `ttlMs`. Answers whether this call applied it and the state after.
    public func grant(_ operation: LeaseOperation, pool: PoolKey, capNanoUSD: NanoUSD, ttlMs: Int64) throws(PostgresError)
        -> (applied: Bool, state: LeaseState)
    {
        precondition(operation.kind == .grant && operation.amountNanoUSD > 0, "a grant is of a positive amount")
        let key = [hostID, pool.shopID, pool.window.description]
        let results = try connection.pipeline([
            PostgresStatement("BEGIN"),
            PostgresStatement(LeaseStatements.ensureLease, key),
            PostgresStatement(LeaseStatements.lockLease, key),
            PostgresStatement(LeaseStatements.ensurePool, [pool.shopID, pool.window.description]),
            PostgresStatement(
                LeaseStatements.grant,
                key + [String(capNanoUSD), String(operation.amountNanoUSD), String(operation.sequence), String(ttlMs)]),
            PostgresStatement(LeaseStatements.setCap, [pool.shopID, pool.window.description, String(capNanoUSD)]),
            PostgresStatement(LeaseStatements.readState, key),
            PostgresStatement("COMMIT"),
        ])
        return (results[4].affected == 1, try Self.state(results[6]))
    }

    /// Sends return `operation` for `pool`. Answers whether this call applied it and the state after.
    public func giveBack(_ operation: LeaseOperation, pool: PoolKey) throws(PostgresError) -> (applied: Bool, state: LeaseState) {
        precondition(operation.kind == .giveBack, "not a return")
        let key = [hostID, pool.shopID, pool.window.description]
        let results = try connection.pipeline([
            PostgresStatement("BEGIN"),
            PostgresStatement(LeaseStatements.giveBack, key + [String(operation.sequence), String(operation.amountNanoUSD)]),
            PostgresStatement(LeaseStatements.readState, key),
            PostgresStatement("COMMIT"),
        ])
        return (results[1].affected == 1, try Self.state(results[2]))
    }

    /// Renews every lease of this host (expiry now + `ttlMs`); returns how many.
    public func renewAll(ttlMs: Int64) throws(PostgresError) -> Int {
        try connection.query(LeaseStatements.renewAll, [hostID, String(ttlMs)]).affected
    }

    /// The pool and this host's lease as they stand (all zero when never leased).
    public func read(_ pool: PoolKey) throws(PostgresError) -> LeaseState {
        try Self.state(connection.query(LeaseStatements.readState, [hostID, pool.shopID, pool.window.description]))
    }

    /// Every lease row of this host with its pool, keyed by shop id and window text
    /// (`BudgetWindow.description`), for a start to read back in one query.
    public func hostLeases() throws(PostgresError) -> [String: [String: LeaseState]] {
        var found: [String: [String: LeaseState]] = [:]
        for row in try connection.query(LeaseStatements.hostLeases, [hostID]).rows {
            guard row.count == 9, let shop = row[0], let window = row[1] else { continue }
            var rows = PostgresRows()
            rows.rows = [Array(row[2...])]
            found[shop, default: [:]][window] = try Self.state(rows)
        }
        return found
    }

    /// Writes off every outstanding lease of `hostID` (`tokengate fleet release-host`). Returns
    /// how many leases and how much went back to the pools.
    public static func releaseHost(_ hostID: String, connection: PostgresConnection) throws(PostgresError) -> (
        leases: Int, amountNanoUSD: NanoUSD
    ) {
        let row = try connection.query(LeaseStatements.releaseHost, [hostID]).rows.first ?? []
        guard row.count == 2, let count = row[0].flatMap({ Int($0) }), let amount = row[1].flatMap({ NanoUSD($0) }) else {
            throw PostgresError(.protocolViolation, "release-host answered an unexpected row")
        }
        return (count, amount)
    }

    /// Takeover of expired leases of gone hosts (`LeaseStatements.reclaimExpired`): leases
    /// expired more than `graceMs` ago whose host has not shipped in that time either. Returns
    /// each lease reclaimed (host, pool, amount).
    public func reclaimExpired(graceMs: Int64) throws(PostgresError) -> [(hostID: String, pool: String, amountNanoUSD: NanoUSD)] {
        try connection.query(LeaseStatements.reclaimExpired, [hostID, String(graceMs)]).rows.compactMap { row in
            guard row.count == 4, let host = row[0], let shop = row[1], let window = row[2],
                let amount = row[3].flatMap({ NanoUSD($0) })
            else { return nil }
            return (host, shop + " " + window, amount)
        }
    }

    // MARK: - Returns inside the shipper's transaction

    /// The statements of return `operation` for `pool` to send inside another transaction (the
    /// shipper's, after its settlement): the return, then the state read. Their two results go
    /// to `shippedReturn`.
    public static func giveBackStatements(_ operation: LeaseOperation, pool: PoolKey, hostID: String) -> [PostgresStatement] {
        precondition(operation.kind == .giveBack, "not a return")
        let key = [hostID, pool.shopID, pool.window.description]
        return [
            PostgresStatement(LeaseStatements.giveBack, key + [String(operation.sequence), String(operation.amountNanoUSD)]),
            PostgresStatement(LeaseStatements.readState, key),
        ]
    }

    /// The answer of `giveBackStatements` from their two results: whether the return was
    /// applied, and the state after.
    public static func shippedReturn(_ results: ArraySlice<PostgresRows>) throws(PostgresError) -> (applied: Bool, state: LeaseState) {
        guard results.count == 2 else { throw PostgresError(.protocolViolation, "a return has \(results.count) results, not 2") }
        return (results[results.startIndex].affected == 1, try state(results[results.startIndex + 1]))
    }

    static func state(_ rows: PostgresRows) throws(PostgresError) -> LeaseState {
        guard let row = rows.rows.first else { return LeaseState(pool: LeasePool(), lease: Lease(), activeHosts: 0) }
        guard row.count == 7 else { throw PostgresError(.protocolViolation, "lease state has \(row.count) columns, not 7") }
        func number(_ index: Int) throws(PostgresError) -> Int64 {
            guard let text = row[index], let value = Int64(text) else {
                throw PostgresError(.protocolViolation, "lease state column \(index) is not a number: \(row[index] ?? "NULL")")
            }
            return value
        }
        let cap = row[0].flatMap { NanoUSD($0) }
        return LeaseState(
            pool: LeasePool(capNanoUSD: cap, settledNanoUSD: try number(1), leasedNanoUSD: try number(2)),
            lease: Lease(amountNanoUSD: try number(3), settledNanoUSD: try number(4), sequence: try number(5)),
            activeHosts: Int(try number(6)))
    }
}

extension LeaseState {
    /// As the Core model's reply.
    public func reply(applied: Bool) -> LeaseReply { LeaseReply(applied: applied, lease: lease, pool: pool) }
}
