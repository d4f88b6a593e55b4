// The fleet benchmark (`--only fleet`, issue 20): CanMakeRequest at 64 connections against two
// daemons, one with --fleet on PostgreSQL (leases) and one without, in alternating slices after a
// warm-up that lets the fleet daemon take its leases; and PostgreSQL's committed transactions per
// second for the fleet daemon's database during its slices (lease grants and returns, plus the
// shipper's, which has nothing to ship here).
import Foundation
import TokenGateClient
import TokenGateClock
import TokenGatePostgres

extension BenchRun {
    func measureFleet() async throws {
        report.section("Fleet leases (tokengated --postgres --fleet) against the same gate without PostgreSQL")
        let environment = ProcessInfo.processInfo.environment
        guard let admin = options.postgres ?? environment["TOKENGATE_BENCH_POSTGRES"] ?? environment["TOKENGATE_TEST_POSTGRES"] else {
            report.add("fleet.gate.on.c64", "CanMakeRequest with fleet leases", nil, "/s",
                note: "skipped: no PostgreSQL (--postgres CONNINFO, or run under scripts/with-postgres.sh)")
            return
        }
        let database = try Self.createDatabase(admin, "tg_bench_fleet")
        let (off, offSocket, _) = try await startDaemon()
        defer { off.kill() }
        let (on, onSocket, _) = try await startDaemon(extraArguments: ["--postgres", database, "--host-id", "bench-fleet", "--fleet"])
        defer { on.kill() }
        let workload = self.workload
        // Warm-up: every shop's first call on the fleet daemon waits for its first lease (a read
        // and a grant per pool, two pools per shop, one at a time), until the gate runs at least
        // half as fast as without PostgreSQL or a minute has passed.
        progress("fleet: warming up the leases")
        let warmupStarted = MonotonicClock.nanoseconds()
        while MonotonicClock.nanoseconds() - warmupStarted < 60_000_000_000 {
            let slice = try await gateLoad(onSocket, .manyConnections, durationNs: durationNs) { client, worker, call throws(TokenGateError) in
                _ = try await client.canMakeRequest(workload.canMakeRequest(worker: worker, call: call))
            }
            let rate = Double(slice.calls) / (Double(slice.elapsedNs) / 1e9)
            progress("fleet: warm-up \(Int(rate)) calls/s")
            if rate > 5_000 { break }
        }
        report.add(
            "fleet.warmup_s", "warm-up until every shop's pools were leased",
            Double(MonotonicClock.nanoseconds() - warmupStarted) / 1e9, "s")
        let stats = try PostgresConnection(conninfo: database)
        let name = "datname = current_database()"
        func commits() throws -> Int64 {
            Int64(try stats.query("SELECT xact_commit FROM pg_stat_database WHERE \(name)").scalar ?? "0") ?? 0
        }
        let slices = Self.pairedSlices
        let sliceNs = durationNs / UInt64(slices)
        var measured = [Measurement(calls: 0, elapsedNs: 0, latenciesNs: []), Measurement(calls: 0, elapsedNs: 0, latenciesNs: [])]
        var onCommits: Int64 = 0
        var onNs: UInt64 = 0
        for _ in 0..<slices {
            for (index, socket) in [offSocket, onSocket].enumerated() {
                let before = try commits()
                let started = MonotonicClock.nanoseconds()
                measured[index].merge(
                    try await gateLoad(socket, .manyConnections, durationNs: sliceNs) { client, worker, call throws(TokenGateError) in
                        _ = try await client.canMakeRequest(workload.canMakeRequest(worker: worker, call: call))
                    })
                if index == 1 {
                    onCommits += try commits() - before
                    onNs += MonotonicClock.nanoseconds() - started
                }
            }
        }
        report.add("fleet.gate.off.c64", "CanMakeRequest, 64 conns, no PostgreSQL", measured[0], latencies: true, rate: true)
        report.add("fleet.gate.on.c64", "CanMakeRequest, 64 conns, fleet leases", measured[1], latencies: true, rate: true)
        // pg_stat_database is updated by backends about every 0.5 s: a rate, not an exact count.
        let perSecond = onNs > 0 ? Double(onCommits) / (Double(onNs) / 1e9) : 0
        report.add(
            "fleet.pg_xact_per_s", "PostgreSQL commits/s of the fleet daemon's database, \(workload.shops.count) shops",
            perSecond, "/s")
    }
}
