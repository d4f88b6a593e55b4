// A crashed host's lease, end to end (DESIGN §8, issue 20 item 4): two real tokengated with
// --fleet on one real PostgreSQL (scripts/with-postgres.sh). One of them holds a lease (a call
// reserved and never logged) and is killed with SIGKILL after shipping its log. Its lease is then
// written off by an admin through the real CLI (`tokengate fleet release-host HOST`), or taken
// back by the other daemon once it expired (takeover). Either way the survivor can then spend
// the shop's whole cap, never more, and the killed daemon's restart counts nothing twice.

import Foundation
import TokenGateClient
import TokenGateCore
import TokenGatePostgres
import XCTest

final class FleetRecoveryEndToEndTests: XCTestCase {
    static let capNanoUSD: NanoUSD = 60_000_000  // $0.06 a day: about twenty calls
    static let worstCaseNanoUSD = FleetEndToEndTests.worstCaseNanoUSD
    static let shop = "fleet-r"

    func testReleaseHostThroughTheCLIFreesACrashedHostsLease() async throws {
        let fleet = try await Fleet(extra: ["--fleet-reclaim-after-ms", "0"])
        let stranded = try await fleet.crashHostOneHoldingALease()

        // The admin writes host-1 off through the real CLI (PostgreSQL only, no daemon).
        let result = try TestDaemon.runCLI(["fleet", "release-host", "host-1", "--postgres", fleet.conninfo, "--json"])
        XCTAssertEqual(result.exitCode, 0, result.stderr)
        let report = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any], result.stdout)
        XCTAssertEqual(report["host_id"] as? String, "host-1")
        XCTAssertEqual(report["leases_released"] as? Int, stranded.leases, result.stdout)
        XCTAssertEqual((report["released_nano_usd"] as? NSNumber)?.int64Value, stranded.amount, result.stdout)
        let after = try fleet.lease("host-1")
        XCTAssertEqual(after.amount, 0, "host-1's day lease is still outstanding after release-host")
        XCTAssertGreaterThan(after.sequence, stranded.daySequence, "release-host did not move the sequence on")
        // Again: nothing left to write off.
        let again = try TestDaemon.runCLI(["fleet", "release-host", "host-1", "--postgres", fleet.conninfo, "--json"])
        XCTAssertEqual(again.exitCode, 0, again.stderr)
        XCTAssertTrue(again.stdout.contains("\"leases_released\":0") || again.stdout.contains("\"leases_released\": 0"), again.stdout)
        let status = try TestDaemon.runCLI(["fleet", "status", "--postgres", fleet.conninfo])
        XCTAssertEqual(status.exitCode, 0, status.stderr)
        XCTAssertTrue(status.stdout.contains(Self.shop), status.stdout)

        try await fleet.finish(label: "release-host")
    }

    func testExpiredLeaseOfAGoneHostIsTakenOverByTheOthers() async throws {
        // Leases trusted 2 s, reclaimed by another host 1 s after they expired.
        let fleet = try await Fleet(extra: ["--fleet-lease-ttl-ms", "2000", "--fleet-reclaim-after-ms", "1000"])
        let stranded = try await fleet.crashHostOneHoldingALease()
        // host-0's refill thread reclaims host-1's expired leases (it renews and reclaims every
        // third of the TTL): expired at most 2 s after host-1's last renewal, plus the 1 s grace.
        let connection = try fleet.database.connect()
        let deadline = Date().addingTimeInterval(15)
        var reclaimed: [[String?]] = []
        while Date() < deadline {
            reclaimed = try connection.query(
                "SELECT budget_window, amount_nano_usd, reclaimed_nano_usd, reclaimed_by FROM tokengate_leases "
                    + "WHERE host_id = 'host-1' AND reclaimed_nano_usd > 0 ORDER BY 1").rows
            if reclaimed.count == stranded.leases { break }
            usleep(100_000)
        }
        XCTAssertEqual(reclaimed.count, stranded.leases, "host-1's expired leases were not reclaimed: \(reclaimed)")
        XCTAssertEqual(reclaimed.reduce(NanoUSD(0)) { $0 + (NanoUSD($1[2] ?? "") ?? 0) }, stranded.amount)
        for row in reclaimed {
            XCTAssertEqual(row[1], "0")
            XCTAssertEqual(row[3], "host-0")
        }
        let metrics = try fleet.daemons[0].runCLI(["metrics"])
        XCTAssertTrue(metrics.stdout.contains("tokengate_fleet_reclaimed_leases_total{host_id=\"host-0\"} \(stranded.leases)"), metrics.stdout)

        try await fleet.finish(label: "takeover")
    }

    /// PostgreSQL outage allowance (issue 20 item 5), one daemon and a $1 cap: after a few calls
    /// the idle shop's lease goes back (5 s), PostgreSQL is stopped, and the daemon admits
    /// exactly up to the $0.01 allowance beyond its (now empty) lease, then denies (fails
    /// closed). Once PostgreSQL is back the spend settles against the pool, the metric counts
    /// what was admitted beyond the lease, and PostgreSQL records it: restarted, the daemon
    /// does not spend the day's allowance again in a second outage.
    func testOutageAllowanceAdmitsAStatedAmountThenFailsClosed() async throws {
        let allowance: NanoUSD = 10_000_000
        let fleet = try await Fleet(extra: ["--fleet-outage-allowance-usd", "0.01"], count: 1, capNanoUSD: 1_000_000_000)
        let daemon = fleet.daemons[0]
        _ = try await fleet.spend(daemon, calls: 4)
        try fleet.waitUntilShipped()
        // The idle pool's unused lease goes back after 5 s: the daemon then holds nothing.
        let deadline = Date().addingTimeInterval(20)
        while try fleet.lease("host-0").amount > 0 && Date() < deadline { usleep(100_000) }
        XCTAssertEqual(try fleet.lease("host-0").amount, 0, "the idle lease did not go back")
        let before = fleet.logged
        try TestPostgres.control("stop")
        var restarted = false
        defer { if !restarted { try? TestPostgres.control("start") } }
        let admitted = try await fleet.spend(daemon, calls: nil)
        let during = fleet.logged - before
        try TestPostgres.control("start")
        restarted = true
        try fleet.waitUntilShipped()
        var counted: NanoUSD = -1
        for _ in 0..<50 {
            let metrics = try daemon.runCLI(["metrics"]).stdout
            counted = metrics.split(separator: "\n").first { $0.hasPrefix("tokengate_fleet_outage_admitted_nano_usd_total{") }
                .flatMap { NanoUSD($0.split(separator: " ").last ?? "") } ?? -1
            if counted > 0 { break }
            usleep(100_000)
        }
        let day = "day:" + DayKey(unixMs: UnixMillis(Date().timeIntervalSince1970 * 1000)).text
        let settled = NanoUSD(
            try fleet.database.connect().query(
                "SELECT settled_nano_usd FROM tokengate_budget_pools WHERE shop_id = $1 AND budget_window = $2", [Self.shop, day]
            ).scalar ?? "") ?? -1
        print(
            "FleetRecoveryEndToEndTests outage: \(Self.shop) spent \(Money.formatUSD(before)) and returned its lease before "
                + "PostgreSQL stopped, then \(Money.formatUSD(during)) in \(admitted) calls while it was down (allowance "
                + "\(Money.formatUSD(allowance)), counted \(Money.formatUSD(counted))); settled \(Money.formatUSD(settled))")
        XCTAssertGreaterThan(admitted, 0, "nothing was admitted under the outage allowance")
        XCTAssertLessThanOrEqual(during, allowance, "more than the allowance was admitted while PostgreSQL was down")
        XCTAssertGreaterThan(during, allowance - Self.worstCaseNanoUSD, "the allowance was not used up (failed closed too early)")
        XCTAssertEqual(counted, during, "the metric does not count what was admitted beyond the lease")
        XCTAssertEqual(settled, fleet.logged, "the outage spend did not settle against the pool")

        // What was used of the allowance is recorded beside the lease, so the daemon, restarted,
        // admits in a second outage of the same day at most what was left of it.
        var recorded: NanoUSD = -1
        for _ in 0..<50 {
            recorded = NanoUSD(
                try fleet.database.connect().query(
                    "SELECT outage_used_nano_usd FROM tokengate_leases WHERE host_id = 'host-0' AND shop_id = $1 AND budget_window = $2",
                    [Self.shop, day]
                ).scalar ?? "") ?? -1
            if recorded == during { break }
            usleep(100_000)
        }
        XCTAssertEqual(recorded, during, "the outage allowance used is not recorded in PostgreSQL")
        XCTAssertEqual(daemon.stop(), 0)
        try daemon.start()
        _ = try await fleet.spend(daemon, calls: 2)  // granted: the restarted daemon has read its leases back
        try fleet.waitUntilShipped()
        let idle = Date().addingTimeInterval(20)
        while try fleet.lease("host-0").amount > 0 && Date() < idle { usleep(100_000) }
        let beforeSecond = fleet.logged
        try TestPostgres.control("stop")
        restarted = false
        let secondAdmitted = try await fleet.spend(daemon, calls: nil)
        let secondDuring = fleet.logged - beforeSecond
        try TestPostgres.control("start")
        restarted = true
        print(
            "FleetRecoveryEndToEndTests outage after a restart: \(Money.formatUSD(secondDuring)) in \(secondAdmitted) calls "
                + "(left of the allowance: \(Money.formatUSD(allowance - during)))")
        XCTAssertLessThanOrEqual(secondDuring, allowance - during, "a restart spent the day's outage allowance again")
        try fleet.waitUntilShipped()
        XCTAssertEqual(daemon.stop(), 0)
    }

    /// Two daemons on one PostgreSQL and one shop with a small daily cap.
    final class Fleet {
        let database: FleetTestDatabase
        var conninfo: String { database.conninfo }
        let daemons: [TestDaemon]
        /// Cost of every usage logged (what PostgreSQL must hold once shipped).
        var logged: NanoUSD = 0
        var calls = 0

        init(extra: [String], count: Int = 2, capNanoUSD: NanoUSD = FleetRecoveryEndToEndTests.capNanoUSD) async throws {
            let database = try FleetTestDatabase()
            self.database = database
            let path = NSTemporaryDirectory() + "fleet-recovery-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).json"
            let cap = Money.formatUSD(capNanoUSD).replacingOccurrences(of: "$", with: "")
            // Every operation type gets the cap (the fleet's cap is their largest).
            let limits = ["chat_message", "product_description", "photo_studio", "suggestion"].map {
                "\"\($0)\": {\"daily_usd\": \"\(cap)\"}"
            }
            try "{\"limits\": {\(limits.joined(separator: ", "))}}".write(toFile: path, atomically: true, encoding: .utf8)
            daemons = try (0..<count).map { host in
                try TestDaemon(arguments: [
                    "--postgres", database.conninfo, "--host-id", "host-\(host)", "--fleet", "--config", path, "--fsync", "never",
                ] + extra)
            }
        }

        /// Some calls on both daemons; then host-1 reserves one more call (its lease covers that
        /// hold at least), everything is shipped, and host-1 is killed with SIGKILL. Returns its
        /// leases as PostgreSQL holds them (the day's sequence, the leases and their amount).
        func crashHostOneHoldingALease() async throws -> (leases: Int, amount: NanoUSD, daySequence: Int64) {
            for daemon in daemons { _ = try await spend(daemon, calls: 4) }
            let client = daemons[1].client()
            let held = try await client.canMakeRequest(request())
            client.close()
            XCTAssertEqual(held.decision, .allow)
            try waitUntilShipped()
            XCTAssertEqual(daemons[1].stop(signal: SIGKILL), SIGKILL)
            let rows = try database.connect().query(
                "SELECT count(*), coalesce(sum(amount_nano_usd), 0)::bigint FROM tokengate_leases WHERE host_id = 'host-1' AND amount_nano_usd > 0"
            ).rows
            let day = try lease("host-1")
            print("FleetRecoveryEndToEndTests: host-1 killed holding \(Money.formatUSD(day.amount)) of today's pool")
            XCTAssertGreaterThanOrEqual(day.amount, FleetRecoveryEndToEndTests.worstCaseNanoUSD, "host-1 holds no lease for its hold")
            return (Int(rows[0][0] ?? "") ?? 0, NanoUSD(rows[0][1] ?? "") ?? 0, day.sequence)
        }

        /// The survivor spends until no call fits for 3 s; then host-1 comes back (its lease
        /// read back as written off) and both stop. PostgreSQL's settled spend equals the shipped
        /// rows, is at most the cap and within one call's worst case of it (the crashed host's
        /// lease was usable), and no lease is left outstanding.
        func finish(label: String) async throws {
            _ = try await spend(daemons[0], calls: nil)
            try daemons[1].start()
            try waitUntilShipped()
            // The restart read its lease back: nothing outstanding for host-1.
            XCTAssertEqual(try lease("host-1").amount, 0)
            for daemon in daemons { XCTAssertEqual(daemon.stop(), 0) }
            let connection = try database.connect()
            let day = "day:" + DayKey(unixMs: UnixMillis(Date().timeIntervalSince1970 * 1000)).text
            let row = try connection.query(
                "SELECT settled_nano_usd, leased_nano_usd FROM tokengate_budget_pools WHERE shop_id = $1 AND budget_window = $2",
                [FleetRecoveryEndToEndTests.shop, day]
            ).rows.first ?? []
            let settled = NanoUSD(row.first.flatMap { $0 } ?? "") ?? -1
            let cap = FleetRecoveryEndToEndTests.capNanoUSD
            print("FleetRecoveryEndToEndTests \(label): \(FleetRecoveryEndToEndTests.shop) spent \(Money.formatUSD(settled)) of \(Money.formatUSD(cap)) in \(calls) calls")
            XCTAssertEqual(settled, logged, "the pool's settled spend differs from the usage logged")
            XCTAssertLessThanOrEqual(settled, cap, "the fleet overshot the cap")
            XCTAssertLessThan(cap - settled, FleetRecoveryEndToEndTests.worstCaseNanoUSD, "the crashed host's lease stayed stranded")
            XCTAssertEqual(row.count > 1 ? row[1] : nil, "0", "leases left outstanding after both daemons stopped")
        }

        func request() -> CanMakeRequestRequest {
            CanMakeRequestRequest(
                shopID: FleetRecoveryEndToEndTests.shop, estimatedInputTokens: FleetEndToEndTests.inputTokens,
                maxOutputTokens: FleetEndToEndTests.maxOutputTokens, reserve: true)
        }

        /// `calls` calls on `daemon` (nil: until none is allowed for 3 s), each reserving its
        /// worst case and logging a smaller cost.
        func spend(_ daemon: TestDaemon, calls limit: Int?) async throws -> Int {
            let client = daemon.client()
            defer { client.close() }
            var allowed = 0
            var denied = 0
            var lastAllowed = Date()
            while limit.map({ allowed < $0 }) ?? (Date().timeIntervalSince(lastAllowed) < 3) {
                let answer = try await client.canMakeRequest(request())
                guard answer.decision == .allow else {
                    // Far below the cap, a denial is at most a refill that was slow (retried).
                    denied += 1
                    if limit != nil && denied > 40 {
                        XCTFail("calls far below the cap keep being denied: \(answer.reason) \(answer.message)")
                        return allowed
                    }
                    try await Task.sleep(nanoseconds: 50_000_000)
                    continue
                }
                allowed += 1
                calls += 1
                lastAllowed = Date()
                let usage = try await client.logUsage(LogUsageRequest(
                    eventID: "r-\(UInt64.random(in: 0...UInt64.max))", shopID: FleetRecoveryEndToEndTests.shop, userID: "u",
                    conversationID: "c", inputTokens: FleetEndToEndTests.inputTokens,
                    outputTokens: UInt64.random(in: 500...FleetEndToEndTests.maxOutputTokens), reservationID: answer.reservationID))
                logged += usage.costNanoUSD
            }
            return allowed
        }

        /// `host`'s lease on today's pool: amount and sequence.
        func lease(_ host: String) throws -> (amount: NanoUSD, sequence: Int64) {
            let day = "day:" + DayKey(unixMs: UnixMillis(Date().timeIntervalSince1970 * 1000)).text
            let row = try database.connect().query(
                "SELECT amount_nano_usd, sequence FROM tokengate_leases WHERE host_id = $1 AND shop_id = $2 AND budget_window = $3",
                [host, FleetRecoveryEndToEndTests.shop, day]
            ).rows.first ?? []
            return (NanoUSD(row.first.flatMap { $0 } ?? "") ?? 0, Int64(row.count > 1 ? row[1] ?? "" : "") ?? 0)
        }

        func waitUntilShipped() throws {
            let connection = try database.connect()
            let deadline = Date().addingTimeInterval(20)
            var shipped: NanoUSD = -1
            while Date() < deadline {
                shipped = NanoUSD(try connection.query("SELECT coalesce(sum(total_cost_nano_usd), 0)::bigint FROM token_usage_logs").scalar ?? "") ?? -1
                if shipped == logged { return }
                usleep(50_000)
            }
            XCTFail("PostgreSQL holds \(shipped) nano-USD of usage, the daemons acknowledged \(logged)")
        }
    }
}
