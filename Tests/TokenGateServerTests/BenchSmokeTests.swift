// Runs the benchmark program in --quick mode with a tiny budget, as the issue asks: it must
// start its own daemons, measure every section and print figures and ratios. Speed is not
// asserted (that is what the benchmark reports); that every figure came out is.
import Foundation
import XCTest

final class BenchSmokeTests: XCTestCase {
    /// The whole run must finish within this, or the test fails instead of hanging.
    static let runSecondsMax: Double = 90

    /// `--only ship` against the run's PostgreSQL, on a tiny backlog: every ship figure is
    /// measured, the three ship targets are evaluated, and the index-free comparison is printed.
    func testShipSectionPrintsItsFigures() throws {
        _ = try TestPostgres.database()  // skips (or fails under TOKENGATE_REQUIRE_POSTGRES) without a server
        let root = try runBench([
            "--only", "ship", "--json", "--no-redis", "--ship-events", "3000", "--phase-ms", "200", "--warmup-ms", "30",
        ])
        let figures = try XCTUnwrap(root["figures"] as? [String: Any])
        for key in ["ship.events_per_s", "ship.copy_events_per_s", "ship.log.off.c64.calls_per_s", "ship.log.on.c64.calls_per_s", "ship.log.bare.c64.calls_per_s"] {
            XCTAssertGreaterThan(figures[key] as? Double ?? 0, 0, "\(key) must be a measured, positive figure")
        }
        // CPU per row, read from /proc (the run's PostgreSQL is local); a tiny backlog may read 0 ticks.
        for key in ["ship.daemon_cpu_us_per_row", "ship.postgres_cpu_us_per_row", "ship.copy_postgres_cpu_us_per_row"] {
            XCTAssertNotNil(figures[key] as? Double, "\(key) was not measured")
        }
        let targets = try XCTUnwrap(root["targets"] as? [[String: Any]])
        let ship = targets.filter { ($0["name"] as? String ?? "").contains("shipping") }
        XCTAssertEqual(ship.filter { $0["target"] as? String != "none" }.count, 3, "\(ship)")
        XCTAssertNotNil(ship.first { ($0["name"] as? String ?? "").contains("without indexes") }?["value"] as? Double, "\(ship)")
        for key in ["ship.log.on.postgres_cpu_us_per_call", "ship.log.bare.postgres_cpu_us_per_call"] {
            XCTAssertNotNil(figures[key] as? Double, "\(key) was not measured")
        }
    }

    /// `--only fleet` against the run's PostgreSQL with short phases: the gate with and without
    /// leases, the lease transactions, the 3-daemon utilization run (never over a cap) and the
    /// three fleet targets are all measured and evaluated.
    func testFleetSectionPrintsItsFigures() throws {
        _ = try TestPostgres.database()  // skips (or fails under TOKENGATE_REQUIRE_POSTGRES) without a server
        let root = try runBench(["--only", "fleet", "--json", "--no-redis", "--phase-ms", "400", "--warmup-ms", "30"])
        let figures = try XCTUnwrap(root["figures"] as? [String: Any])
        for key in ["fleet.gate.off.c64.calls_per_s", "fleet.gate.on.c64.calls_per_s", "fleet.gate.on.c64.p50_us", "fleet.utilization_min"] {
            XCTAssertGreaterThan(figures[key] as? Double ?? 0, 0, "\(key) must be a measured, positive figure")
        }
        for key in ["fleet.lease_xact_per_s", "fleet.refill_waits", "fleet.spend_lease_xact_per_s_per_host"] {
            XCTAssertNotNil(figures[key] as? Double, "\(key) must be measured")
        }
        XCTAssertEqual(figures["fleet.overshoot_usd"] as? Double, 0, "no shop's settled spend may pass its cap")
        let targets = try XCTUnwrap(root["targets"] as? [[String: Any]])
        XCTAssertEqual(targets.filter { ($0["name"] as? String ?? "").hasPrefix("fleet:") }.count, 3)
    }

    func testQuickBenchmarkPrintsEveryFigure() throws {
        let root = try runBench([
            "--quick", "--json", "--phase-ms", "120", "--warmup-ms", "30", "--scale-shops", "3000", "--scale-events", "20000",
            "--only", "floor,gate,log,pinned,scale",  // ship: testShipSectionPrintsItsFigures
        ])
        let machine = try XCTUnwrap(root["machine"] as? [String: Any])
        XCTAssertEqual(machine["nproc"] as? String, String(ProcessInfo.processInfo.activeProcessorCount))
        XCTAssertNotNil(machine["date"])
        let figures = try XCTUnwrap(root["figures"] as? [String: Any])
        let measured = [
            "floor.seq.p50_us", "floor.c64.calls_per_s", "floor.pipe32.calls_per_s",
            "tg.can.seq.p50_us", "tg.can.seq.p999_us", "tg.can.c64.calls_per_s", "tg.can.pipe32.calls_per_s",
            "tg.log.always.seq.calls_per_s", "tg.log.always.c64.calls_per_s", "tg.log.everysec.c64.calls_per_s",
            "tg.log.never.pipe32.calls_per_s", "pinned.floor.p50_us", "pinned.tg.p50_us",
            "scale.can.small.p50_us", "scale.can.large.p50_us", "scale.events.recovery_s", "scale.events.bytes_per_event",
            "scale.events.log_always.c64.calls_per_s", "scale.report.ms",
        ]
        for key in measured {
            let value = figures[key] as? Double
            XCTAssertNotNil(value, "\(key) missing")
            XCTAssertGreaterThan(value ?? 0, 0, "\(key) must be a measured, positive figure")
        }
        // CPU time per call comes from /proc/stat in 10 ms ticks: with this tiny budget a
        // share may round to 0, so only its presence is checked.
        for key in ["floor.thread.c64", "floor.c64", "tg.can.c64"].flatMap({ [$0 + ".cpu_user_us", $0 + ".cpu_system_us"] }) {
            let value = figures[key] as? Double
            XCTAssertNotNil(value, "\(key) missing")
            XCTAssertGreaterThanOrEqual(value ?? -1, 0, key)
        }
        let targets = try XCTUnwrap(root["targets"] as? [[String: Any]])
        XCTAssertGreaterThanOrEqual(targets.count, 11, "every target of issue 6 is evaluated")
    }

    func testOnlyRefusesAnUnknownSection() throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: TestDaemon.productsDirectory + "/tokengate-bench")
        process.arguments = ["--only", "gate,fast"]
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle(forWritingAtPath: "/dev/null")
        try process.run()
        let message = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 2)
        XCTAssertTrue(message.contains("unknown section 'fast'"), message)
    }

    /// Runs tokengate-bench with `arguments` (bounded by `runSecondsMax`), asserts it exited 0,
    /// and returns its JSON report.
    private func runBench(_ arguments: [String]) throws -> [String: Any] {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: TestDaemon.productsDirectory + "/tokengate-bench")
        process.arguments = arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle(forWritingAtPath: "/dev/null")
        try process.run()
        let watchdog = DispatchWorkItem { process.terminate() }
        DispatchQueue.global().asyncAfter(deadline: .now() + Self.runSecondsMax, execute: watchdog)
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        watchdog.cancel()
        XCTAssertEqual(process.terminationStatus, 0, String(decoding: data, as: UTF8.self))
        return try XCTUnwrap(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    }
}
