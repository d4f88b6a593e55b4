// The PostgreSQL shipping benchmark (`--only ship`, issue 19): a daemon with a backlog of usage
// events already in its log is attached to an empty database and the time until PostgreSQL holds
// all of them is measured; the floor is COPY of the same rows into a table with the same columns
// and indexes in the same database, in the same run. Then LogUsage at 64 connections against two
// daemons, shipping on and off, in alternating slices.
import Foundation
import TokenGateClient
import TokenGateClock
import TokenGateCore
import TokenGatePostgres
import TokenGateStore
import TokenGateWire

extension BenchRun {
    func measureShip() async throws {
        report.section("PostgreSQL shipping (tokengated --postgres) against COPY of the same rows, same database")
        let environment = ProcessInfo.processInfo.environment
        guard let admin = options.postgres ?? environment["TOKENGATE_BENCH_POSTGRES"] ?? environment["TOKENGATE_TEST_POSTGRES"] else {
            report.add("ship.events_per_s", "shipping from a backlog", nil, "/s",
                note: "skipped: no PostgreSQL (--postgres CONNINFO, or run under scripts/with-postgres.sh)")
            return
        }
        let events = options.shipEvents
        let data = fresh("ship-data")
        progress("ship: writing a backlog of \(events) events")
        _ = try ScaleData.generate(directory: data, shops: 1_000, events: events, nowMs: SystemClockReading.nowMs())
        let (databaseName, database) = try Self.createDatabase(admin, "tg_bench_ship")
        try await measureBacklogShipping(database, data: data, events: events)
        // The backlog and its copy (2M rows) would keep PostgreSQL busy (autovacuum, checkpoint)
        // through the next measurements: they go, and the next measurement starts quiet.
        try Self.dropDatabase(admin, databaseName)
        try await measureLogUsageWithShipping(admin)
    }

    /// Ships the backlog of `events` in `data` into `database`, then COPY of the same rows.
    private func measureBacklogShipping(_ database: String, data: String, events: Int) async throws {
        let connection = try PostgresConnection(conninfo: database)
        try Migrations.migrate(connection)
        try connection.execute("CREATE TABLE bench_copy (LIKE token_usage_logs INCLUDING ALL)")

        progress("ship: shipping \(events) events")
        let server = try ProcessCPU.postgresServer(connection)
        let (daemon, _, _) = try await startDaemon(dataDirectory: data, extraArguments: ["--postgres", database, "--host-id", "bench"])
        let daemonCPU = ProcessCPU.seconds(daemon.process.processIdentifier)
        let serverCPU = server.flatMap(ProcessCPU.serverSeconds)
        let started = MonotonicClock.nanoseconds()
        var shipped = 0
        while shipped < events {
            try await Task.sleep(nanoseconds: 50_000_000)
            shipped = Int(try connection.query("SELECT shipped_through FROM tokengate_ship_cursor WHERE host_id = 'bench'").scalar ?? "0") ?? 0
            guard daemon.process.isRunning else { throw BenchError("tokengated exited while shipping") }
        }
        let shipSeconds = Double(MonotonicClock.nanoseconds() - started) / 1e9
        let shipDaemonCPU = ProcessCPU.seconds(daemon.process.processIdentifier).flatMap { after in daemonCPU.map { after - $0 } }
        let shipServerCPU = server.flatMap(ProcessCPU.serverSeconds).flatMap { after in serverCPU.map { after - $0 } }
        daemon.kill()
        let rows = Int(try connection.query("SELECT count(*) FROM token_usage_logs").scalar ?? "0") ?? 0
        guard rows == events else { throw BenchError("PostgreSQL holds \(rows) rows, not \(events)") }

        progress("ship: COPY of the same \(events) rows")
        let copyText = try Self.copyText(data)
        let copyServerCPU = server.flatMap(ProcessCPU.serverSeconds)
        let copyStarted = MonotonicClock.nanoseconds()
        let copied = try connection.copyIn("COPY bench_copy (\(CopyText.usageColumns)) FROM STDIN", chunks: copyText)
        let copySeconds = Double(MonotonicClock.nanoseconds() - copyStarted) / 1e9
        let copyServerCPUAfter = server.flatMap(ProcessCPU.serverSeconds)
        guard copied == events else { throw BenchError("COPY wrote \(copied) rows, not \(events)") }

        let shipRate = Double(events) / shipSeconds
        let copyRate = Double(events) / copySeconds
        report.add("ship.events_per_s", "shipping a backlog of \(events) events (from SERVING to the cursor at the end)", shipRate, "/s")
        report.add("ship.copy_events_per_s", "COPY of the same rows into a table like it (the floor)", copyRate, "/s")
        // CPU per row, which the other tenants of a shared machine disturb less than rates.
        let perRow = { (seconds: Double?) in seconds.map { $0 * 1e6 / Double(events) } }
        report.add("ship.daemon_cpu_us_per_row", "tokengated CPU per shipped event (shipping and all else it did)", perRow(shipDaemonCPU), "µs")
        report.add("ship.postgres_cpu_us_per_row", "PostgreSQL CPU per shipped row (all its processes)", perRow(shipServerCPU), "µs")
        report.add(
            "ship.copy_postgres_cpu_us_per_row", "PostgreSQL CPU per row of the COPY",
            perRow(copyServerCPUAfter.flatMap { after in copyServerCPU.map { after - $0 } }), "µs")
    }

    /// LogUsage at 64 connections with --postgres and without, alternating slices; and, to show
    /// what the indexes cost, a third daemon shipping into a `token_usage_logs` without any index.
    private func measureLogUsageWithShipping(_ admin: String) async throws {
        let (_, database) = try Self.createDatabase(admin, "tg_bench_log")
        let (_, bareDatabase) = try Self.createDatabase(admin, "tg_bench_log_bare")
        let bare = try PostgresConnection(conninfo: bareDatabase)
        try Migrations.migrate(bare)
        try bare.execute(
            """
            ALTER TABLE token_usage_logs DROP CONSTRAINT token_usage_logs_pkey;
            DO $$ DECLARE i record; BEGIN
              FOR i IN SELECT indexname FROM pg_indexes WHERE tablename = 'token_usage_logs' LOOP
                EXECUTE 'DROP INDEX ' || quote_ident(i.indexname);
              END LOOP;
            END $$
            """)
        var daemons: [Child] = []
        defer { for daemon in daemons { daemon.kill() } }
        var sockets: [String] = []
        for arguments in [[], ["--postgres", database, "--host-id", "bench-log"], ["--postgres", bareDatabase, "--host-id", "bench-bare"]] {
            let (daemon, socket, _) = try await startDaemon(extraArguments: arguments)
            daemons.append(daemon)
            sockets.append(socket)
        }
        let keys = ["off", "on", "bare"]
        let workload = self.workload
        let server = try ProcessCPU.postgresServer(bare)
        let daemonCPU = daemons.map { ProcessCPU.seconds($0.process.processIdentifier) }
        let slices = Self.pairedSlices
        let sliceNs = durationNs / UInt64(slices)
        var measured = keys.map { _ in Measurement(calls: 0, elapsedNs: 0, latenciesNs: []) }
        // PostgreSQL CPU during each daemon's slices (its shipper trails its slice by up to one
        // poll interval, which then counts in the next daemon's slice).
        var serverCPU: [Double?] = keys.map { _ in server == nil ? nil : 0 }
        for _ in 0..<slices {
            for (index, socket) in sockets.enumerated() {
                let tag = UInt32.random(in: 0...UInt32.max)
                let before = server.flatMap(ProcessCPU.serverSeconds)
                measured[index].merge(
                    try await gateLoad(socket, .manyConnections, durationNs: sliceNs) { client, worker, call throws(TokenGateError) in
                        _ = try await client.logUsage(workload.logUsage(worker: worker, call: call, tag: tag))
                    })
                let after = server.flatMap(ProcessCPU.serverSeconds)
                serverCPU[index] = serverCPU[index].flatMap { sum in after.flatMap { after in before.map { sum + after - $0 } } }
            }
        }
        let labels = ["shipping off", "shipping on", "shipping into a table without indexes"]
        for index in keys.indices {
            let calls = max(Double(measured[index].calls), 1)
            report.add("ship.log.\(keys[index]).c64", "LogUsage, 64 conns, \(labels[index])", measured[index], latencies: true, rate: true)
            // Where each daemon's CPU goes, per LogUsage call it answered (the slices' warm-ups
            // included, so a little high).
            report.add(
                "ship.log.\(keys[index]).daemon_cpu_us_per_call", "tokengated CPU per LogUsage call, \(labels[index])",
                daemonCPU[index].flatMap { before in ProcessCPU.seconds(daemons[index].process.processIdentifier).map { ($0 - before) * 1e6 / calls } },
                "µs")
            if index > 0 {
                report.add(
                    "ship.log.\(keys[index]).postgres_cpu_us_per_call", "PostgreSQL CPU per LogUsage call, \(labels[index])",
                    serverCPU[index].map { $0 * 1e6 / calls }, "µs")
            }
        }
    }

    /// A new database in the server of `admin`; returns its name and conninfo.
    static func createDatabase(_ admin: String, _ stem: String) throws -> (name: String, conninfo: String) {
        let name = "\(stem)_\(UInt32.random(in: 0...UInt32.max))"
        try PostgresConnection(conninfo: admin).execute("CREATE DATABASE \(name)")
        return (name, admin + " dbname=\(name)")
    }

    /// Drops a database `createDatabase` made (its clients gone), then checkpoints, so that its
    /// dirty pages and pending autovacuum do not run into the next measurement.
    static func dropDatabase(_ admin: String, _ name: String) throws {
        let connection = try PostgresConnection(conninfo: admin)
        try connection.execute("DROP DATABASE \(name) WITH (FORCE)")
        _ = try? connection.execute("CHECKPOINT")  // needs pg_checkpoint or superuser; best effort
    }

    /// The backlog's usage events as COPY text, in chunks of about 1 MiB.
    static func copyText(_ directory: String) throws -> [[UInt8]] {
        var tail = LogTail(directory: directory)
        var chunks: [[UInt8]] = []
        var text = CopyText()
        var next: UInt64 = 1
        while case .records(let records) = try tail.read(from: next, through: UInt64.max, limit: 50_000), !records.isEmpty {
            for record in records {
                if case .usage(let event) = try FactCodec.decode(record.body) { text.appendUsage(event, hostID: "bench") }
                if text.bytes.count >= 1 << 20 {
                    chunks.append(text.bytes)
                    text = CopyText()
                }
            }
            next = records.last!.sequence + 1
        }
        if !text.bytes.isEmpty { chunks.append(text.bytes) }
        return chunks
    }
}

/// CPU time (user + system) of processes on this machine, from /proc; nil where it cannot be
/// read (a PostgreSQL on another host).
enum ProcessCPU {
    /// Seconds of CPU `pid` has used, with its reaped children's when `children` is set.
    static func seconds(_ pid: Int32, children: Bool = false) -> Double? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = text.lastIndex(of: ")")
        else { return nil }
        // After "pid (comm)": state ppid ... utime(14) stime(15) cutime(16) cstime(17).
        let fields = text[text.index(after: close)...].split(separator: " ")
        guard fields.count > 14, let user = Double(fields[11]), let system = Double(fields[12]),
            let childUser = Double(fields[13]), let childSystem = Double(fields[14])
        else { return nil }
        return (user + system + (children ? childUser + childSystem : 0)) / MachineCPU.ticksPerSecond
    }

    /// The postmaster of `connection`'s server (the parent of its backend), when it runs here.
    static func postgresServer(_ connection: PostgresConnection) throws -> Int32? {
        guard let backend = try connection.query("SELECT pg_backend_pid()").scalar.flatMap({ Int32($0) }),
            let text = try? String(contentsOfFile: "/proc/\(backend)/stat", encoding: .utf8),
            let close = text.lastIndex(of: ")")
        else { return nil }
        let fields = text[text.index(after: close)...].split(separator: " ")
        return fields.count > 1 ? Int32(fields[1]) : nil
    }

    /// Seconds of CPU a PostgreSQL server has used: the postmaster, its live children (backends,
    /// WAL writer, checkpointer, autovacuum) and the children it has reaped.
    static func serverSeconds(_ postmaster: Int32) -> Double? {
        guard var total = seconds(postmaster, children: true),
            let list = try? String(contentsOfFile: "/proc/\(postmaster)/task/\(postmaster)/children", encoding: .utf8)
        else { return nil }
        for child in list.split(separator: " ").compactMap({ Int32($0) }) { total += seconds(child) ?? 0 }
        return total
    }
}
