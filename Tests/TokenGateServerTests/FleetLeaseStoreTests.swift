// The lease SQL against a real PostgreSQL (scripts/with-postgres.sh starts one for the run;
// each test makes a database of its own with TestPostgres): grants are idempotent by
// sequence number, the conditional grant never lets hosts racing on separate connections lease
// more than the cap, shipped usage settles once however often it is shipped, and release-host
// gives a host's leases back.

import Dispatch
import Foundation
import Synchronization
import TokenGateCore
import TokenGatePostgres
import XCTest

/// A database of its own for one test (TestPostgres, PostgresShippingTests.swift), migrated.
struct FleetTestDatabase {
    let conninfo: String

    init() throws {
        conninfo = try TestPostgres.database()
        try Migrations.migrate(try PostgresConnection(conninfo: conninfo))
    }

    func connect() throws -> PostgresConnection { try PostgresConnection(conninfo: conninfo) }
}

final class FleetLeaseStoreTests: XCTestCase {
    let day = DayKey(unixMs: 1_796_601_600_000)
    var pool: PoolKey { PoolKey(shopID: "shop-a", window: .day(day)) }

    /// A usage event of shop-a at 01:00 on `day`.
    func event(_ id: String, cost: NanoUSD) -> UsageEvent {
        UsageEvent(
            eventID: id, shopID: "shop-a", userID: "u", conversationID: "c", operationType: "chat_message",
            model: "m", inputTokens: 10, outputTokens: 5, cachedInputTokens: 0,
            occurredAtUnixMs: day.startUnixMs + 3_600_000, costNanoUSD: cost, metadata: UsageMetadata(),
            recordedAtUnixMs: day.startUnixMs + 3_600_000)
    }

    /// The refill thread's batches (`applyTogether`: one transaction, `apply`: one each, both
    /// one round trip) answer each request as `grant` and `giveBack` would, refuse what does not
    /// fit, and change nothing when sent again with the same sequences.
    func testBatchesOfGrantsAndReturnsAnswerEachLikeOne() throws {
        let database = try FleetTestDatabase()
        let a = LeaseStore(connection: try database.connect(), hostID: "a")
        let pools = ["shop-c", "shop-a", "shop-b"].map { PoolKey(shopID: $0, window: .day(day)) } + [
            PoolKey(shopID: "shop-a", window: .month(day.month))
        ]
        let first = pools.enumerated().map { index, pool in
            LeaseRequest(LeaseOperation(kind: .grant, amountNanoUSD: index == 1 ? 2_000 : 300, sequence: 1), pool: pool, capNanoUSD: 1_000)
        }
        for together in [true, false] {
            let answers = try (together ? a.applyTogether(first, ttlMs: 30_000) : a.apply(first, ttlMs: 30_000)).map { try $0.get() }
            XCTAssertEqual(answers.map(\.applied), together ? [true, false, true, true] : [false, false, false, false])
            XCTAssertEqual(answers.map(\.state.lease.amountNanoUSD), [300, 0, 300, 300])
            XCTAssertEqual(answers.map(\.state.pool.leasedNanoUSD), [300, 0, 300, 300])
            XCTAssertEqual(answers[1].state.pool.capNanoUSD, 1_000, "a refused grant still records the cap")
        }
        // Returns and grants mixed in one batch; the same batch again changes nothing.
        let second = [
            LeaseRequest(LeaseOperation(kind: .giveBack, amountNanoUSD: 100, sequence: 2), pool: pools[0], capNanoUSD: 0),
            LeaseRequest(LeaseOperation(kind: .grant, amountNanoUSD: 1_000, sequence: 2), pool: pools[1], capNanoUSD: 1_000),
            LeaseRequest(LeaseOperation(kind: .grant, amountNanoUSD: 701, sequence: 2), pool: pools[2], capNanoUSD: 1_000),
        ]
        let applied = try a.applyTogether(second, ttlMs: 30_000).map { try $0.get() }
        XCTAssertEqual(applied.map(\.applied), [true, true, false])
        XCTAssertEqual(applied.map(\.state.lease.amountNanoUSD), [200, 1_000, 300])
        let again = try a.applyTogether(second, ttlMs: 30_000).map { try $0.get() }
        XCTAssertEqual(again.map(\.applied), [false, false, false])
        XCTAssertEqual(again.map(\.state.lease.amountNanoUSD), [200, 1_000, 300])
        XCTAssertEqual(try a.read(pools[1]).pool.leasedNanoUSD, 1_000)
    }

    func testGrantIsConditionalAndIdempotentBySequence() throws {
        let database = try FleetTestDatabase()
        let a = LeaseStore(connection: try database.connect(), hostID: "a")
        let b = LeaseStore(connection: try database.connect(), hostID: "b")
        let grant = LeaseOperation(kind: .grant, amountNanoUSD: 600, sequence: 1)
        let first = try a.grant(grant, pool: pool, capNanoUSD: 1_000, ttlMs: 30_000)
        XCTAssertTrue(first.applied)
        XCTAssertEqual(first.state.lease.amountNanoUSD, 600)
        // The same grant again (its reply was lost): nothing changes, the lease is answered.
        let retry = try a.grant(grant, pool: pool, capNanoUSD: 1_000, ttlMs: 30_000)
        XCTAssertFalse(retry.applied)
        XCTAssertEqual(retry.state.lease, Lease(amountNanoUSD: 600, settledNanoUSD: 0, sequence: 1))
        XCTAssertEqual(retry.state.pool, LeasePool(capNanoUSD: 1_000, settledNanoUSD: 0, leasedNanoUSD: 600))
        // 600 + 500 > 1000: refused; 400 fits exactly.
        XCTAssertFalse(try b.grant(LeaseOperation(kind: .grant, amountNanoUSD: 500, sequence: 1), pool: pool, capNanoUSD: 1_000, ttlMs: 30_000).applied)
        let exact = try b.grant(LeaseOperation(kind: .grant, amountNanoUSD: 400, sequence: 2), pool: pool, capNanoUSD: 1_000, ttlMs: 30_000)
        XCTAssertTrue(exact.applied)
        XCTAssertEqual(exact.state.pool.leasedNanoUSD, 1_000)
        XCTAssertEqual(exact.state.activeHosts, 2)
        // A return, twice: applied once.
        let back = LeaseOperation(kind: .giveBack, amountNanoUSD: 250, sequence: 2)
        XCTAssertTrue(try a.giveBack(back, pool: pool).applied)
        let again = try a.giveBack(back, pool: pool)
        XCTAssertFalse(again.applied)
        XCTAssertEqual(again.state.lease.amountNanoUSD, 350)
        XCTAssertEqual(again.state.pool.leasedNanoUSD, 750)
        // A lowered cap reaches the pool even when the grant does not fit.
        XCTAssertFalse(try a.grant(LeaseOperation(kind: .grant, amountNanoUSD: 100, sequence: 3), pool: pool, capNanoUSD: 700, ttlMs: 30_000).applied)
        XCTAssertEqual(try a.read(pool).pool.capNanoUSD, 700)
        // release-host writes b's lease off.
        let released = try LeaseStore.releaseHost("b", connection: try database.connect())
        XCTAssertEqual(released.leases, 1)
        XCTAssertEqual(released.amountNanoUSD, 400)
        XCTAssertEqual(try a.read(pool).pool.leasedNanoUSD, 350)
        XCTAssertEqual(try b.read(pool).lease.amountNanoUSD, 0)
    }

    func testRacingHostsNeverLeaseMoreThanTheCap() throws {
        let database = try FleetTestDatabase()
        let cap: NanoUSD = 1_000_000
        let hostCount = 8
        let granted = Mutex<[NanoUSD]>(Array(repeating: 0, count: hostCount))
        let failures = Mutex<[String]>([])
        let conninfo = database.conninfo
        let pool = self.pool
        DispatchQueue.concurrentPerform(iterations: hostCount) { host in
            do {
                let store = LeaseStore(connection: try PostgresConnection(conninfo: conninfo), hostID: "host-\(host)")
                var sequence: Int64 = 0
                var refusals = 0
                // Slices of different sizes until three in a row are refused.
                while refusals < 3 {
                    sequence += 1
                    let slice = NanoUSD(7_000 + host * 1_311 + Int(sequence % 5) * 997)
                    let operation = LeaseOperation(kind: .grant, amountNanoUSD: slice, sequence: sequence)
                    let reply = try store.grant(operation, pool: pool, capNanoUSD: cap, ttlMs: 30_000)
                    if reply.applied {
                        granted.withLock { $0[host] += slice }
                        refusals = 0
                    } else {
                        refusals += 1
                    }
                    let state = reply.state.pool
                    if state.settledNanoUSD + state.leasedNanoUSD > cap {
                        failures.withLock { $0.append("host \(host) saw \(state)") }
                    }
                }
            } catch {
                failures.withLock { $0.append("host \(host): \(error)") }
            }
        }
        XCTAssertEqual(failures.withLock { $0 }, [])
        let state = try LeaseStore(connection: try database.connect(), hostID: "host-0").read(pool)
        let total = granted.withLock { $0.reduce(0, +) }
        XCTAssertEqual(state.pool.leasedNanoUSD, total, "the pool's leased amount is the sum of the grants applied")
        XCTAssertLessThanOrEqual(total, cap)
        XCTAssertGreaterThan(total, cap - 20_000, "the racing hosts stopped far from the cap: \(total) of \(cap)")
        let sum = try database.connect().query("SELECT sum(amount_nano_usd)::bigint FROM tokengate_leases").scalar
        XCTAssertEqual(sum, String(total))
    }

    func testShippedUsageSettlesOnceAndShrinksTheLease() throws {
        let database = try FleetTestDatabase()
        let connection = try database.connect()
        let store = LeaseStore(connection: connection, hostID: "a")
        _ = try store.grant(LeaseOperation(kind: .grant, amountNanoUSD: 10_000, sequence: 1), pool: pool, capNanoUSD: 50_000, ttlMs: 30_000)
        var batch = ShipBatch(hostID: "a")
        batch.settlesLeases = true
        batch.add(.usage(event("e1", cost: 3_000)))
        batch.add(.usage(event("e2", cost: 4_000)))
        _ = try connection.pipeline(batch.statements(shippedThrough: 2))
        // The same rows shipped again (a snapshot re-shipped, a cursor reset): settled once.
        _ = try connection.pipeline(batch.statements(shippedThrough: 2))
        var state = try store.read(pool)
        XCTAssertEqual(state.pool, LeasePool(capNanoUSD: 50_000, settledNanoUSD: 7_000, leasedNanoUSD: 3_000))
        XCTAssertEqual(state.lease, Lease(amountNanoUSD: 3_000, settledNanoUSD: 7_000, sequence: 1))
        XCTAssertEqual(state.lease.entitlementNanoUSD, 10_000, "settling moves spend from the lease to settled")
        // Spend beyond the lease (no reservation) is settled all the same; the lease goes to 0.
        var more = ShipBatch(hostID: "a")
        more.settlesLeases = true
        more.add(.usage(event("e3", cost: 5_000)))
        _ = try connection.pipeline(more.statements(shippedThrough: 3))
        state = try store.read(pool)
        XCTAssertEqual(state.pool, LeasePool(capNanoUSD: 50_000, settledNanoUSD: 12_000, leasedNanoUSD: 0))
        let month = try store.read(PoolKey(shopID: "shop-a", window: .month(day.month)))
        XCTAssertEqual(month.pool.settledNanoUSD, 12_000, "the month's pool is settled in the same transaction")
        // A pool made after usage was shipped counts that usage as settled.
        let other = PoolKey(shopID: "shop-a", window: .day(day))
        try connection.execute("DELETE FROM tokengate_budget_pools; DELETE FROM tokengate_leases")
        let fresh = try store.grant(LeaseOperation(kind: .grant, amountNanoUSD: 500, sequence: 1), pool: other, capNanoUSD: 12_500, ttlMs: 30_000)
        XCTAssertEqual(fresh.state.pool.settledNanoUSD, 12_000)
        XCTAssertTrue(fresh.applied)
        XCTAssertFalse(
            try store.grant(LeaseOperation(kind: .grant, amountNanoUSD: 1, sequence: 2), pool: other, capNanoUSD: 12_500, ttlMs: 30_000).applied)
    }

    /// Returns inside the shipper's transaction (FleetRecovery.swift): the settlement and the
    /// return commit together, and a transaction that fails applies neither.
    func testReturnInTheShipTransactionCommitsWithTheSettlementOrNotAtAll() throws {
        let database = try FleetTestDatabase()
        let connection = try database.connect()
        let store = LeaseStore(connection: connection, hostID: "a")
        _ = try store.grant(LeaseOperation(kind: .grant, amountNanoUSD: 10_000, sequence: 1), pool: pool, capNanoUSD: 50_000, ttlMs: 30_000)
        func transaction(_ id: String, cost: NanoUSD, giveBack: LeaseOperation, failing: Bool) -> (statements: [PostgresStatement], at: Int) {
            var batch = ShipBatch(hostID: "a")
            batch.settlesLeases = true
            batch.add(.usage(event(id, cost: cost)))
            var statements = batch.statements(shippedThrough: nil)
            let at = statements.count - 1
            statements.insert(contentsOf: LeaseStore.giveBackStatements(giveBack, pool: pool, hostID: "a"), at: at)
            if failing { statements.insert(PostgresStatement("SELECT 1 / 0"), at: statements.count - 1) }
            return (statements, at)
        }
        // Usage of 3,000 settled and 5,000 of the lease returned, in one transaction.
        let back = LeaseOperation(kind: .giveBack, amountNanoUSD: 5_000, sequence: 2)
        let shipped = transaction("e1", cost: 3_000, giveBack: back, failing: false)
        let results = try connection.pipeline(shipped.statements)
        let answer = try LeaseStore.shippedReturn(results[shipped.at..<shipped.at + 2])
        XCTAssertTrue(answer.applied)
        XCTAssertEqual(answer.state.lease, Lease(amountNanoUSD: 2_000, settledNanoUSD: 3_000, sequence: 2))
        XCTAssertEqual(answer.state.pool, LeasePool(capNanoUSD: 50_000, settledNanoUSD: 3_000, leasedNanoUSD: 2_000))
        // Its answer lost, the return is sent again on its own: applied once.
        let retry = try store.giveBack(back, pool: pool)
        XCTAssertFalse(retry.applied)
        XCTAssertEqual(retry.state.lease.amountNanoUSD, 2_000)
        // A transaction that fails before COMMIT: neither the usage nor the return.
        let failed = transaction("e2", cost: 1_000, giveBack: LeaseOperation(kind: .giveBack, amountNanoUSD: 500, sequence: 3), failing: true)
        XCTAssertThrowsError(try connection.pipeline(failed.statements))
        let fresh = try database.connect()
        let state = try LeaseStore(connection: fresh, hostID: "a").read(pool)
        XCTAssertEqual(state.pool, LeasePool(capNanoUSD: 50_000, settledNanoUSD: 3_000, leasedNanoUSD: 2_000))
        XCTAssertEqual(state.lease, Lease(amountNanoUSD: 2_000, settledNanoUSD: 3_000, sequence: 2))
        XCTAssertEqual(try fresh.query("SELECT count(*) FROM token_usage_logs").scalar, "1")
    }

    /// Takeover (LeaseStatements.reclaimExpired): only leases expired longer than the grace,
    /// of hosts that have not shipped in that time either, and never the caller's own; two on
    /// one pool are summed; the sequence moves on, so the gone host's retry changes nothing.
    func testReclaimTakesOnlyExpiredLeasesOfSilentHosts() throws {
        let database = try FleetTestDatabase()
        let connection = try database.connect()
        func grant(_ host: String, _ amount: NanoUSD, ttlMs: Int64) throws {
            let reply = try LeaseStore(connection: connection, hostID: host).grant(
                LeaseOperation(kind: .grant, amountNanoUSD: amount, sequence: 1), pool: pool, capNanoUSD: 10_000, ttlMs: ttlMs)
            XCTAssertTrue(reply.applied)
        }
        try grant("a", 3_000, ttlMs: 1)  // expired, silent: reclaimed
        try grant("b", 2_000, ttlMs: 1)  // expired, silent: reclaimed (same pool)
        try grant("c", 1_000, ttlMs: 60_000)  // not expired
        try grant("e", 500, ttlMs: 1)  // expired, but it shipped a moment ago
        try grant("d", 700, ttlMs: 1)  // the reclaiming host's own
        usleep(1_100_000)
        try connection.execute("INSERT INTO tokengate_ship_cursor (host_id, shipped_through) VALUES ('e', 1)")
        let reclaimed = try LeaseStore(connection: connection, hostID: "d").reclaimExpired(graceMs: 1_000)
        XCTAssertEqual(reclaimed.map(\.hostID), ["a", "b"])
        XCTAssertEqual(reclaimed.map(\.amountNanoUSD), [3_000, 2_000])
        let state = try LeaseStore(connection: connection, hostID: "a").read(pool)
        XCTAssertEqual(state.pool.leasedNanoUSD, 2_200, "the pool's leased amount did not drop by both reclaimed leases")
        XCTAssertEqual(state.lease, Lease(amountNanoUSD: 0, settledNanoUSD: 0, sequence: 2))
        XCTAssertEqual(
            try connection.query(
                "SELECT host_id || ':' || reclaimed_nano_usd || ':' || coalesce(reclaimed_by, '-') FROM tokengate_leases ORDER BY host_id"
            ).rows.map { $0[0] ?? "" },
            ["a:3000:d", "b:2000:d", "c:0:-", "d:0:-", "e:0:-"])
        // Again: nothing more (a, b are empty; the rest still do not qualify).
        XCTAssertEqual(try LeaseStore(connection: connection, hostID: "d").reclaimExpired(graceMs: 1_000).count, 0)
        // The gone host's late retry of its grant changes nothing; its next sequence works.
        let a = LeaseStore(connection: connection, hostID: "a")
        XCTAssertFalse(try a.grant(LeaseOperation(kind: .grant, amountNanoUSD: 3_000, sequence: 1), pool: pool, capNanoUSD: 10_000, ttlMs: 30_000).applied)
        XCTAssertFalse(try a.grant(LeaseOperation(kind: .grant, amountNanoUSD: 3_000, sequence: 2), pool: pool, capNanoUSD: 10_000, ttlMs: 30_000).applied)
        XCTAssertTrue(try a.grant(LeaseOperation(kind: .grant, amountNanoUSD: 3_000, sequence: 3), pool: pool, capNanoUSD: 10_000, ttlMs: 30_000).applied)
    }
}
