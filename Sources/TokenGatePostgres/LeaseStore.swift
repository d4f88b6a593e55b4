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

/// A grant or return to send for a pool; `capNanoUSD` is the fleet cap a grant asks under
/// (ignored by a return).
public struct LeaseRequest: Sendable {
    public var operation: LeaseOperation
    public var pool: PoolKey
    public var capNanoUSD: NanoUSD

    public init(_ operation: LeaseOperation, pool: PoolKey, capNanoUSD: NanoUSD) {
        self.operation = operation
        self.pool = pool
        self.capNanoUSD = capNanoUSD
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
        try apply([LeaseRequest(operation, pool: pool, capNanoUSD: capNanoUSD)], ttlMs: ttlMs)[0].get()
    }

    /// Sends return `operation` for `pool`. Answers whether this call applied it and the state after.
    public func giveBack(_ operation: LeaseOperation, pool: PoolKey) throws(PostgresError) -> (applied: Bool, state: LeaseState) {
        try apply([LeaseRequest(operation, pool: pool, capNanoUSD: 0)], ttlMs: 0)[0].get()
    }

    /// Sends many grants and returns in one round trip: each is its own transaction (its
    /// statements and a sync, as `grant` and `giveBack` send them), all pipelined, so one that
    /// fails changes nothing and leaves the others alone. Answers each in order; a connection
    /// that broke fails every request whose answer was not read (each stays to be retried with
    /// its sequence number).
    public func apply(_ requests: [LeaseRequest], ttlMs: Int64) throws(PostgresError)
        -> [Result<(applied: Bool, state: LeaseState), PostgresError>]
    {
        var counts: [Int] = []
        counts.reserveCapacity(requests.count)
        for request in requests {
            let statements = self.statements(request, ttlMs: ttlMs)
            try connection.sendPipelined(statements)
            counts.append(statements.count)
        }
        var answers: [Result<(applied: Bool, state: LeaseState), PostgresError>] = []
        answers.reserveCapacity(requests.count)
        var broken: PostgresError?
        for (request, count) in zip(requests, counts) {
            if let broken {
                answers.append(.failure(broken))
                continue
            }
            do throws(PostgresError) {
                let results = try connection.readPipelined(statementCount: count)
                answers.append(.success(try Self.answer(request, results)))
            } catch {
                answers.append(.failure(error))
                // A statement's error ends at its group's sync; anything else ends the connection.
                if !connection.isHealthy { broken = error }
            }
        }
        if broken == nil { connection.endPipelineMode() }
        return answers
    }

    /// Sends many grants and returns as ONE transaction in one round trip (one commit, so one
    /// WAL flush, for the lot): every lease row first, then every pool, each in key order (the
    /// lock order of `LeaseStatements`). When the transaction fails on a statement (not the
    /// connection), nothing of it happened, and each request is sent again on its own
    /// (`apply`), so one bad request cannot hold up the others. Answers each request in order.
    public func applyTogether(_ requests: [LeaseRequest], ttlMs: Int64) throws(PostgresError)
        -> [Result<(applied: Bool, state: LeaseState), PostgresError>]
    {
        if requests.count < 2 { return try apply(requests, ttlMs: ttlMs) }
        let order = requests.indices.sorted { a, b in
            let (x, y) = (requests[a].pool, requests[b].pool)
            return x.shopID != y.shopID ? x.shopID < y.shopID : x.window.description < y.window.description
        }
        var statements = [PostgresStatement("BEGIN")]
        for index in order {
            let pool = requests[index].pool
            let key = [hostID, pool.shopID, pool.window.description]
            if requests[index].operation.kind == .grant { statements.append(PostgresStatement(LeaseStatements.ensureLease, key)) }
            statements.append(PostgresStatement(LeaseStatements.lockLease, key))
        }
        var firsts = Array(repeating: 0, count: requests.count)
        for index in order {
            // Each request's statements after BEGIN, without its own BEGIN, lease locks and COMMIT.
            let own = self.statements(requests[index], ttlMs: ttlMs)
            let body = requests[index].operation.kind == .grant ? own[3..<(own.count - 1)] : own[1..<(own.count - 1)]
            firsts[index] = statements.count
            statements.append(contentsOf: body)
        }
        statements.append(PostgresStatement("COMMIT"))
        let results: [PostgresRows]
        do throws(PostgresError) {
            results = try connection.pipeline(statements)
        } catch {
            guard connection.isHealthy else { throw error }
            connection.endPipelineMode()
            // The failed transaction block stays open (aborted) until it is rolled back.
            _ = try connection.execute("ROLLBACK")
            return try apply(requests, ttlMs: ttlMs)
        }
        return requests.indices.map { index -> Result<(applied: Bool, state: LeaseState), PostgresError> in
            let first = firsts[index]
            // In `statements`, a grant's body is ensurePool, grant, setCap, readState; a
            // return's is giveBack, readState.
            switch requests[index].operation.kind {
            case .grant:
                return Result { () throws(PostgresError) in
                    (results[first + 1].affected == 1, try Self.state(results[first + 3]))
                }
            case .giveBack:
                return Result { () throws(PostgresError) in
                    (results[first].affected == 1, try Self.state(results[first + 1]))
                }
            }
        }
    }

    private func statements(_ request: LeaseRequest, ttlMs: Int64) -> [PostgresStatement] {
        let operation = request.operation
        let pool = request.pool
        let key = [hostID, pool.shopID, pool.window.description]
        switch operation.kind {
        case .grant:
            precondition(operation.amountNanoUSD > 0, "a grant is of a positive amount")
            return [
                PostgresStatement("BEGIN"),
                PostgresStatement(LeaseStatements.ensureLease, key),
                PostgresStatement(LeaseStatements.lockLease, key),
                PostgresStatement(LeaseStatements.ensurePool, [pool.shopID, pool.window.description]),
                PostgresStatement(
                    LeaseStatements.grant,
                    key + [
                        String(request.capNanoUSD), String(operation.amountNanoUSD), String(operation.sequence), String(ttlMs),
                    ]),
                PostgresStatement(LeaseStatements.setCap, [pool.shopID, pool.window.description, String(request.capNanoUSD)]),
                PostgresStatement(LeaseStatements.readState, key),
                PostgresStatement("COMMIT"),
            ]
        case .giveBack:
            return [
                PostgresStatement("BEGIN"),
                PostgresStatement(LeaseStatements.giveBack, key + [String(operation.sequence), String(operation.amountNanoUSD)]),
                PostgresStatement(LeaseStatements.readState, key),
                PostgresStatement("COMMIT"),
            ]
        }
    }

    private static func answer(_ request: LeaseRequest, _ results: [PostgresRows]) throws(PostgresError)
        -> (applied: Bool, state: LeaseState)
    {
        switch request.operation.kind {
        case .grant: return (results[4].affected == 1, try state(results[6]))
        case .giveBack: return (results[1].affected == 1, try state(results[2]))
        }
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

    /// Records this host's outage allowance used in (`shopID`, `window`): the largest figure
    /// recorded stays.
    public func recordOutageUsed(shopID: String, window: BudgetWindow, usedNanoUSD: NanoUSD) throws(PostgresError) {
        try connection.query(LeaseStatements.recordOutageUsed, [hostID, shopID, window.description, String(usedNanoUSD)])
    }

    /// This host's outage allowance used in the windows containing `unixMs`, by pool.
    public func outageUsed(at unixMs: UnixMillis) throws(PostgresError) -> [PoolKey: NanoUSD] {
        let windows = BudgetWindow.containing(unixMs)
        var found: [PoolKey: NanoUSD] = [:]
        for row in try connection.query(LeaseStatements.outageUsed, [hostID] + windows.map(\.description)).rows {
            guard row.count == 3, let shop = row[0], let used = row[2].flatMap({ NanoUSD($0) }),
                let window = windows.first(where: { $0.description == row[1] })
            else { continue }
            found[PoolKey(shopID: shop, window: window)] = used
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
