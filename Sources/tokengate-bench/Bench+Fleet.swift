// The fleet benchmark (`--only fleet`, issue 20, DESIGN §8):
// 1. CanMakeRequest at 64 connections against two daemons, one with --fleet on PostgreSQL
//    (leases) and one without, in alternating slices after a warm-up that lets the fleet daemon
//    take its leases; with the fleet daemon's lease transactions per second in those slices (its
//    own counter, and PostgreSQL's committed transactions of its database);
// 2. utilization: three --fleet daemons on one fresh database, workers over all three reserving
//    each call's worst case and logging a smaller actual cost, on shops with a small daily cap,
//    until no call fits any more; then each shop's settled spend in PostgreSQL over its cap.
import Foundation
import Synchronization
import TokenGateClient
import TokenGateClock
import TokenGateCore
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
        try await measureFleetGate(admin)
        try await measureFleetUtilization(admin)
    }

    /// The daemon's lease transactions so far (`tokengate_fleet_transactions_total`).
    private func leaseTransactions(_ socket: String) async throws -> Int64 {
        try await fleetCounter(socket, "tokengate_fleet_transactions_total")
    }

    /// A counter of the daemon's fleet metrics (GetMetrics).
    private func fleetCounter(_ socket: String, _ name: String) async throws -> Int64 {
        let client = TokenGateClient(socketPath: socket, defaultTimeoutMs: 5_000)
        defer { client.close() }
        let text = try await client.getMetrics().text
        for line in text.split(separator: "\n") where line.hasPrefix(name + "{") || line.hasPrefix(name + " ") {
            if let value = line.split(separator: " ").last.flatMap({ Int64($0) }) { return value }
        }
        throw BenchError("the fleet daemon's metrics have no \(name)")
    }

    private func measureFleetGate(_ admin: String) async throws {
        let (_, database) = try Self.createDatabase(admin, "tg_bench_fleet")
        let (off, offSocket, _) = try await startDaemon()
        defer { off.kill() }
        let (on, onSocket, _) = try await startDaemon(extraArguments: ["--postgres", database, "--host-id", "bench-fleet", "--fleet"])
        defer { on.kill() }
        let workload = self.workload
        // Warm-up: every shop's first call on the fleet daemon waits for its pools' first grants,
        // and the next few calls size the slices by the shop's rate. Steady state is reached when
        // in a warm-up slice at most one call in a thousand waited for a refill and the leases
        // took at most one transaction per hundred shops (or after 40 phases: two minutes).
        progress("fleet: warming up the leases")
        let warmupStarted = MonotonicClock.nanoseconds()
        while MonotonicClock.nanoseconds() - warmupStarted < 40 * durationNs {
            let before = try await leaseTransactions(onSocket)
            let waitsBefore = try await fleetCounter(onSocket, "tokengate_fleet_refill_waits_total")
            let slice = try await gateLoad(onSocket, .manyConnections, durationNs: durationNs) { client, worker, call throws(TokenGateError) in
                _ = try await client.canMakeRequest(workload.canMakeRequest(worker: worker, call: call))
            }
            let taken = try await leaseTransactions(onSocket) - before
            let waits = try await fleetCounter(onSocket, "tokengate_fleet_refill_waits_total") - waitsBefore
            let rate = Double(slice.calls) / (Double(slice.elapsedNs) / 1e9)
            progress("fleet: warm-up \(Int(rate)) calls/s, \(taken) lease transactions, \(waits) calls waited")
            if taken <= workload.shops.count / 100 && waits <= Int64(slice.calls / 1_000) { break }
        }
        report.add(
            "fleet.warmup_s", "warm-up until a slice had < 0.1 % calls waiting and < 1 lease transaction per 100 shops",
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
        var onLease: Int64 = 0
        var onNs: UInt64 = 0
        let waitsBefore = try await fleetCounter(onSocket, "tokengate_fleet_refill_waits_total")
        let waitedBefore = try await fleetCounter(onSocket, "tokengate_fleet_refill_waited_ms_total")
        for _ in 0..<slices {
            for (index, socket) in [offSocket, onSocket].enumerated() {
                let before = index == 1 ? try commits() : 0
                let leaseBefore = index == 1 ? try await leaseTransactions(onSocket) : 0
                let started = MonotonicClock.nanoseconds()
                measured[index].merge(
                    try await gateLoad(socket, .manyConnections, durationNs: sliceNs) { client, worker, call throws(TokenGateError) in
                        _ = try await client.canMakeRequest(workload.canMakeRequest(worker: worker, call: call))
                    })
                if index == 1 {
                    onNs += MonotonicClock.nanoseconds() - started
                    onCommits += try commits() - before
                    onLease += try await leaseTransactions(onSocket) - leaseBefore
                }
            }
        }
        let waits = try await fleetCounter(onSocket, "tokengate_fleet_refill_waits_total") - waitsBefore
        let waited = try await fleetCounter(onSocket, "tokengate_fleet_refill_waited_ms_total") - waitedBefore
        report.add("fleet.gate.off.c64", "CanMakeRequest, 64 conns, no PostgreSQL", measured[0], latencies: true, rate: true)
        report.add("fleet.gate.on.c64", "CanMakeRequest, 64 conns, fleet leases", measured[1], latencies: true, rate: true)
        let seconds = Double(onNs) / 1e9
        report.add(
            "fleet.lease_xact_per_s", "lease transactions/s of the fleet host (its counter), \(workload.shops.count) shops",
            seconds > 0 ? Double(onLease) / seconds : 0, "/s, 2 places")
        report.add("fleet.refill_waits", "calls that waited for a refill in those slices (\(waited) ms in all)", Double(waits), "")
        // pg_stat_database is updated by backends about every 0.5 s: a rate, not an exact count;
        // it includes the shipper's (nothing to ship here) and this benchmark's own reads.
        report.add(
            "fleet.pg_xact_per_s", "PostgreSQL commits/s of the fleet host's database, \(workload.shops.count) shops",
            seconds > 0 ? Double(onCommits) / seconds : 0, "/s")
    }

    /// Shops, their daily cap and the calls of the utilization run.
    private enum Spend {
        static let shops = (0..<8).map { "fleet-util-\($0)" }
        static let capNanoUSD: NanoUSD = 500_000_000  // $0.50 a day, every operation type
        static let inputTokens: UInt64 = 2_000
        static let maxOutputTokens: UInt64 = 1_000
        /// gemini-2.5-flash: 2,000 × $0.30/M + 1,000 × $2.50/M.
        static let worstCaseNanoUSD: NanoUSD = 3_100_000
        static let workersPerDaemon = 8
        /// A shop is done once no call of it was allowed for this long.
        static let quietNs: UInt64 = 5_000_000_000
        static let hosts = 3
    }

    /// Three daemons, one PostgreSQL: workers reserve each call's worst case on any daemon, log
    /// a smaller actual cost, and stop once no call of a shop was allowed for 5 s; then the
    /// shops' settled spend over their cap, and each host's lease transactions per second.
    private func measureFleetUtilization(_ admin: String) async throws {
        let (_, database) = try Self.createDatabase(admin, "tg_bench_fleet_util")
        let cap = Money.formatUSD(Spend.capNanoUSD).replacingOccurrences(of: "$", with: "")
        let limits = ["chat_message", "product_description", "photo_studio", "suggestion"].map { "\"\($0)\": {\"daily_usd\": \"\(cap)\"}" }
        let config = fresh("fleet-config") + ".json"
        try "{\"limits\": {\(limits.joined(separator: ", "))}}".write(toFile: config, atomically: true, encoding: .utf8)
        var daemons: [Child] = []
        var sockets: [String] = []
        defer { for daemon in daemons { daemon.kill() } }
        for host in 0..<Spend.hosts {
            let (daemon, socket, _) = try await startDaemon(
                fsync: "never",
                extraArguments: ["--postgres", database, "--host-id", "bench-host-\(host)", "--fleet", "--config", config])
            daemons.append(daemon)
            sockets.append(socket)
        }
        progress("fleet: spending \(Spend.shops.count) shops' \(Money.formatUSD(Spend.capNanoUSD)) daily caps over \(Spend.hosts) daemons")
        var leaseBefore: [Int64] = []
        for socket in sockets { leaseBefore.append(try await leaseTransactions(socket)) }
        let started = MonotonicClock.nanoseconds()
        let tally = SpendTally(shops: Spend.shops, now: started)
        let deadline = started + 90_000_000_000
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (index, socket) in sockets.enumerated() {
                for worker in 0..<Spend.workersPerDaemon {
                    group.addTask {
                        try await Self.spendLoop(socket: socket, worker: index * 100 + worker, tally: tally, deadline: deadline)
                    }
                }
            }
            try await group.waitForAll()
        }
        let elapsedNs = MonotonicClock.nanoseconds() - started
        var leaseTaken: Int64 = 0
        for (socket, before) in zip(sockets, leaseBefore) { leaseTaken += try await leaseTransactions(socket) - before }
        // Every daemon ships what it acknowledged; then the pools' settled spend is final.
        let logged = tally.costs.withLock { $0 }
        let connection = try PostgresConnection(conninfo: database)
        var settled: [String: NanoUSD] = [:]
        let shippedBy = MonotonicClock.nanoseconds() + 30_000_000_000
        while MonotonicClock.nanoseconds() < shippedBy {
            let rows = try connection.query(
                "SELECT shop_id, settled_nano_usd FROM tokengate_budget_pools WHERE budget_window LIKE 'day:%'")
            settled = Dictionary(uniqueKeysWithValues: rows.rows.compactMap { row in
                guard let shop = row[0], let value = row[1].flatMap({ NanoUSD($0) }) else { return nil }
                return (shop, value)
            })
            if Spend.shops.allSatisfy({ settled[$0] == logged[$0] }) { break }
            try await Task.sleep(nanoseconds: 100_000_000)
        }
        let ratios = Spend.shops.map { Double(settled[$0] ?? 0) / Double(Spend.capNanoUSD) }
        let over = Spend.shops.map { max(0, (settled[$0] ?? 0) - Spend.capNanoUSD) }.max() ?? 0
        let spentText = Spend.shops.map { Money.formatUSD(settled[$0] ?? 0) }.joined(separator: " ")
        progress("fleet: settled per shop \(spentText) of \(Money.formatUSD(Spend.capNanoUSD)) each")
        let label = "\(Spend.hosts) daemons, \(Spend.shops.count) shops, \(Money.formatUSD(Spend.capNanoUSD)) daily cap"
        report.add("fleet.utilization_min", "utilization (settled / cap), lowest shop, \(label)", ratios.min() ?? 0, "fraction")
        report.add("fleet.utilization_mean", "utilization (settled / cap), mean of the shops", ratios.reduce(0, +) / Double(ratios.count), "fraction")
        report.add("fleet.overshoot_usd", "largest overshoot of a cap (settled beyond it)", Double(over) / 1e9, "USD")
        report.add("fleet.spend_run_s", "time until no call fit on any daemon (+5 s quiet)", Double(elapsedNs) / 1e9, "s")
        report.add(
            "fleet.spend_calls_per_s", "reserved calls admitted/s over the 3 daemons",
            Double(tally.allowed.withLock { $0 }) / (Double(elapsedNs) / 1e9), "/s")
        report.add(
            "fleet.spend_lease_xact_per_s_per_host", "lease transactions/s per host in that run (end game near the cap included)",
            Double(leaseTaken) / Double(Spend.hosts) / (Double(elapsedNs) / 1e9), "/s, 2 places")
    }

    /// Counts of the utilization run, shared by its workers.
    final class SpendTally: Sendable {
        let costs = Mutex<[String: NanoUSD]>([:])
        let lastAllowedNs: Mutex<[String: UInt64]>
        let allowed = Mutex<Int>(0)

        /// A shop's quiet period starts at its last allowed call; before its first, the shop has
        /// 30 s (its first grants may wait on a busy PostgreSQL).
        init(shops: [String], now: UInt64) {
            let firstCallGraceNs: UInt64 = 30_000_000_000
            lastAllowedNs = Mutex(Dictionary(uniqueKeysWithValues: shops.map { ($0, now + firstCallGraceNs - Spend.quietNs) }))
        }
    }

    /// One worker: picks a shop not done yet, reserves the worst case, and logs a random actual
    /// cost (output tokens 0...max) against the reservation, until every shop is done.
    private static func spendLoop(socket: String, worker: Int, tally: SpendTally, deadline: UInt64) async throws {
        let client = TokenGateClient(socketPath: socket, defaultTimeoutMs: 5_000)
        defer { client.close() }
        var generator = SystemRandomNumberGenerator()
        var call = 0
        while MonotonicClock.nanoseconds() < deadline {
            let now = MonotonicClock.nanoseconds()
            let open = tally.lastAllowedNs.withLock { last in Spend.shops.filter { (last[$0] ?? 0) + Spend.quietNs > now } }
            guard let shop = open.randomElement(using: &generator) else { return }
            call += 1
            let answer = try await client.canMakeRequest(CanMakeRequestRequest(
                shopID: shop, estimatedInputTokens: Spend.inputTokens, maxOutputTokens: Spend.maxOutputTokens, reserve: true))
            guard answer.decision == .allow else { continue }
            tally.lastAllowedNs.withLock { $0[shop] = MonotonicClock.nanoseconds() }
            tally.allowed.withLock { $0 += 1 }
            let logged = try await client.logUsage(LogUsageRequest(
                eventID: Workload.eventID(tag: 0xf1ee7, worker: worker, call: call), shopID: shop, userID: "u", conversationID: "c",
                inputTokens: Spend.inputTokens, outputTokens: UInt64.random(in: 0...Spend.maxOutputTokens, using: &generator),
                reservationID: answer.reservationID))
            tally.costs.withLock { $0[shop, default: 0] += logged.costNanoUSD }
        }
    }
}
