// LogUsage while snapshots run (issue 18): a store of `--scale-events` events is recovered, then
// 64 connections log usage on the busiest shops twice: once with snapshots off, once with
// snapshots back to back (`--snapshot-every-records 1`: each one starts as soon as the last
// ended and anything was logged). The p99 difference is what a snapshot costs the writers of
// the shops it is copying (with a copy-on-write copy of a whole shop, a writer of that shop paid
// for duplicating its event arrays under the shard lock).
import Foundation
import TokenGateClient
import TokenGateClock
import TokenGateCore

extension BenchRun {
    func measureSnapshotStall() async throws {
        let events = options.scaleEvents
        // Few shops, so each busy shop holds many events (the load writes to the first 1,000).
        let shops = BenchOptions.loadShops
        let label = "\(events.formatted()) events over \(shops.formatted()) shops"
        report.section("LogUsage while snapshots run (\(label), \(LoadShape.manyConnections.label), --fsync always)")
        let nowMs = SystemClockReading.nowMs()
        let runs: [(key: String, label: String, flags: [String])] = [
            ("idle", "no snapshot", ["--snapshot-every-records", "0", "--snapshot-every-seconds", "0"]),
            ("during", "snapshots back to back", ["--snapshot-every-records", "1", "--snapshot-every-seconds", "0"]),
        ]
        for run in runs {
            let data = fresh("snapshot-\(run.key)")
            _ = try ScaleData.generate(directory: data, shops: shops, events: events, nowMs: nowMs)
            let (daemon, socket, _) = try await startDaemon(dataDirectory: data, extraArguments: run.flags)
            defer { daemon.kill() }
            let workload = self.workload
            let tag: UInt32 = 0x5a4b_0000
            let measured = try await gateLoad(socket, .manyConnections) { client, worker, call throws(TokenGateError) in
                _ = try await client.logUsage(workload.logUsage(worker: worker, call: call, tag: tag))
            }
            report.add("snapshot.\(run.key).\(LoadShape.manyConnections.key)", "LogUsage, \(run.label)", measured, latencies: true, rate: true)
            guard run.key == "during" else { continue }
            // The first snapshot started at startup (the recovered log counts as unsnapshotted)
            // and ran through the load; wait for it to end and report how long it took.
            let client = TokenGateClient(socketPath: socket, defaultTimeoutMs: 60_000)
            defer { client.close() }
            let deadline = MonotonicClock.nanoseconds() + 300_000_000_000
            var count = 0.0
            var sum = 0.0
            while MonotonicClock.nanoseconds() < deadline {
                let lines = try await client.getMetrics().text.split(separator: "\n")
                func value(_ name: String) -> Double {
                    lines.first { $0.hasPrefix(name + " ") }?.split(separator: " ").last.flatMap { Double($0) } ?? 0
                }
                count = value("tokengate_snapshot_duration_seconds_count")
                sum = value("tokengate_snapshot_duration_seconds_sum")
                if count >= 1 { break }
                try await Task.sleep(nanoseconds: 200_000_000)
            }
            report.add("snapshot.during.first_s", "duration of the snapshots written by then (mean)", count > 0 ? sum / count : nil, "s")
            report.add("snapshot.during.load_s", "load phase (warm-up + window) within the first snapshot",
                Double(warmupNs + durationNs) / 1e9, "s")
        }
    }
}
