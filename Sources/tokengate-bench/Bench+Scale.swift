// The one-core pinned round trip (DESIGN.md §9: server and client on CPU 0, which strips the
// cross-core wake-up and leaves what decoding, the store, encoding and the client cost), and the
// scale test: gate latency with few and many shops, memory per stored event, recovery time,
// LogUsage on a loaded store and the monthly report.
import Foundation
import TokenGateClient
import TokenGateClock
import TokenGateCore

extension BenchRun {
    // MARK: - Pinned

    func measurePinned(_ sizes: MessageSizes) async throws {
        report.section("One core: servers and client pinned to CPU 0 (taskset -c 0), 1 conn sequential, alternating slices")
        let (echo, echoSocket) = try startEchoServer("thread", sizes, pinToCPU: 0)
        defer { echo.kill() }
        let (daemon, gateSocket, _) = try await startDaemon(pinToCPU: 0)
        defer { daemon.kill() }
        let figures = try pinnedClient([
            echoSocket, gateSocket, String(sizes.requestBytes), String(sizes.responseBytes), String(options.phaseMs),
            String(options.warmupMs), String(Self.pairedSlices),
        ])
        report.add("pinned.floor.p50_us", "floor p50", figures["floor_p50_us"], "µs")
        report.add("pinned.floor.p99_us", "floor p99", figures["floor_p99_us"], "µs")
        report.add("pinned.tg.p50_us", "CanMakeRequest p50", figures["gate_p50_us"], "µs")
        report.add("pinned.tg.p99_us", "CanMakeRequest p99", figures["gate_p99_us"], "µs")
    }

    /// Runs this binary as the pinned client and reads its one line of figures.
    func pinnedClient(_ arguments: [String]) throws -> [String: Double] {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try Machine.which("taskset"))
        process.arguments = ["-c", "0", Machine.selfPath, "--pinned-client"] + arguments
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0, let object = try? JSONSerialization.jsonObject(with: data) as? [String: Double]
        else { throw BenchError("pinned client failed: \(String(decoding: data, as: UTF8.self))") }
        return object
    }

    // MARK: - Scale

    func measureScale() async throws {
        report.section("Scale (stores written straight to the log, recovered by tokengated at start)")
        let nowMs = SystemClockReading.nowMs()
        let (empty, _, _) = try await startDaemon()
        let emptyResident = empty.residentBytes ?? 0
        empty.kill()
        report.add("scale.empty.rss_mib", "resident memory, empty store", Double(emptyResident) / 1_048_576, "MiB")
        for (name, shops) in [("small", options.scaleShopsSmall), ("large", options.scaleShopsLarge)] {
            let data = fresh("scale-\(name)")
            _ = try ScaleData.generate(directory: data, shops: shops, events: shops, nowMs: nowMs)
            let (daemon, socket, ready) = try await startDaemon(dataDirectory: data)
            defer { daemon.kill() }
            let scaled = Workload(shopCount: shops)
            let measured = try await gateLoad(socket, .sequential) { client, worker, call throws(TokenGateError) in
                _ = try await client.canMakeRequest(scaled.canMakeRequest(worker: worker, call: call &* 104_729))
            }
            let label = "\(shops.formatted()) shops"
            report.add("scale.can.\(name)", "CanMakeRequest 1 conn, \(label)", measured, latencies: true, rate: false)
            report.add("scale.\(name).recovery_s", "start to SERVING, \(label)", ready, "s")
            let perShop = Double((daemon.residentBytes ?? 0) - emptyResident) / Double(shops)
            report.add("scale.\(name).bytes_per_shop", "resident memory per shop, \(label)", perShop, "B")
        }
        try await measureEventStore(nowMs: nowMs, emptyResident: emptyResident)
    }

    func measureEventStore(nowMs: UnixMillis, emptyResident: Int) async throws {
        let events = options.scaleEvents
        let shops = options.scaleEventShops
        let data = fresh("scale-events")
        let generationStarted = MonotonicClock.nanoseconds()
        let logBytes = try ScaleData.generate(directory: data, shops: shops, events: events, nowMs: nowMs)
        progress("generated \(events) events over \(shops) shops (\(logBytes >> 20) MiB of log) in "
            + String(format: "%.1f s", Double(MonotonicClock.nanoseconds() - generationStarted) / 1e9))
        let label = "\(events.formatted()) events over \(shops.formatted()) shops"
        report.add("scale.events.log_mib", "log size, \(label)", Double(logBytes) / 1_048_576, "MiB")
        let (daemon, socket, ready) = try await startDaemon(dataDirectory: data)
        defer { daemon.kill() }
        report.add("scale.events.recovery_s", "recovery (start to SERVING), \(label)", ready, "s")
        let resident = daemon.residentBytes ?? 0
        report.add("scale.events.rss_mib", "resident memory, \(label)", Double(resident) / 1_048_576, "MiB")
        report.add("scale.events.bytes_per_event", "resident memory per stored event", Double(resident - emptyResident) / Double(events), "B")
        let workload = self.workload
        let tag: UInt32 = 0x10ad_0000
        let measured = try await gateLoad(socket, .manyConnections) { client, worker, call throws(TokenGateError) in
            _ = try await client.logUsage(workload.logUsage(worker: worker, call: call, tag: tag))
        }
        report.add("scale.events.log_always.\(LoadShape.manyConnections.key)",
            "LogUsage --fsync always, \(LoadShape.manyConnections.label), loaded", measured, latencies: false, rate: true)
        try await measureMonthlyReport(socket, shops: shops, nowMs: nowMs)
    }

    func measureMonthlyReport(_ socket: String, shops: Int, nowMs: UnixMillis) async throws {
        let client = TokenGateClient(socketPath: socket, defaultTimeoutMs: 600_000)
        defer { client.close() }
        let started = MonotonicClock.nanoseconds()
        let response = try await client.monthlyReport(GetMonthlyReportRequest(period: MonthKey(unixMs: nowMs).text))
        let elapsedMs = Double(MonotonicClock.nanoseconds() - started) / 1e6
        guard response.totals.events > 0 else { throw BenchError("the monthly report counted no messages over the loaded store") }
        report.add("scale.report.ms", "monthly report over \(shops.formatted()) shops", elapsedMs, "ms")
    }
}

/// Wall-clock time, for dating generated events inside the current month.
enum SystemClockReading {
    static func nowMs() -> UnixMillis {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return UnixMillis(spec.tv_sec) * 1_000 + UnixMillis(spec.tv_nsec) / 1_000_000
    }
}
