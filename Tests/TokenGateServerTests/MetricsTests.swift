// Metrics and logs against the real daemon: known traffic, then the Prometheus text parsed back
// (strictly: every sample belongs to a declared family, histograms are cumulative) and checked
// for the exact counters; `tokengate metrics`, `tokengate top --once`, the .prom file and
// JSON log lines.
import Foundation
import TokenGateClient
import TokenGateWire
import XCTest

@testable import TokenGateServer

final class MetricsTests: XCTestCase {
    func testMetricsTextHasTheCountersOfKnownTraffic() async throws {
        let daemon = try TestDaemon()
        let client = daemon.client()
        for _ in 0..<5 { _ = try await client.canMakeRequest(.init(shopID: "shop_m", estimatedInputTokens: 100, maxOutputTokens: 10)) }
        _ = try await client.logUsage(EndToEndTests.expensiveEvent(shop: "shop_m"))
        for _ in 0..<2 { _ = try await client.canMakeRequest(.init(shopID: "shop_m")) }
        await XCTAssertThrowsCode(.invalidArgument) { _ = try await client.generateBilling(.init(shopID: "shop_m", period: "2026-1")) }
        await XCTAssertThrowsCode(.unimplemented) {
            let _: HealthCheckResponse = try await client.call("/tokengate.v1.BudgetService/NoSuchMethod", HealthCheckRequest())
        }
        _ = try await client.reportClientMetrics(.init(clientID: "host/w1", failOpenTotal: 3, spooledTotal: 7, spoolDepth: 2))
        _ = try await client.reportClientMetrics(.init(clientID: "host/w2", failClosedTotal: 1))

        let metrics = try ExpositionParser(try await client.getMetrics().text)
        XCTAssertEqual(metrics.value("tokengate_calls_total", ["method": "CanMakeRequest", "code": "OK"]), 7)
        XCTAssertEqual(metrics.value("tokengate_calls_total", ["method": "LogUsage", "code": "OK"]), 1)
        XCTAssertEqual(metrics.value("tokengate_calls_total", ["method": "GenerateBilling", "code": "INVALID_ARGUMENT"]), 1)
        XCTAssertEqual(metrics.value("tokengate_call_errors_total", ["method": "GenerateBilling"]), 1)
        XCTAssertEqual(metrics.value("tokengate_call_errors_total", ["method": "CanMakeRequest"]), 0)
        XCTAssertEqual(metrics.value("tokengate_calls_total", ["method": "unknown", "code": "UNIMPLEMENTED"]), 1)
        XCTAssertEqual(metrics.value("tokengate_call_duration_seconds_count", ["method": "CanMakeRequest"]), 7)
        XCTAssertEqual(metrics.value("tokengate_decisions_total", ["decision": "ALLOW", "reason": "WITHIN_BUDGET"]), 5)
        XCTAssertEqual(metrics.value("tokengate_decisions_total", ["decision": "DENY", "reason": "DAILY_CAP_REACHED"]), 2)
        // The usage event and the two alerts it raised (daily threshold and daily cap).
        XCTAssertEqual(metrics.value("tokengate_log_appends_total"), 3)
        XCTAssertGreaterThanOrEqual(metrics.value("tokengate_log_fsync_duration_seconds_count") ?? 0, 1)
        XCTAssertEqual(metrics.value("tokengate_durability_wait_seconds_count"), 1)
        XCTAssertEqual(metrics.value("tokengate_shop_cost_today_nano_usd", ["shop": "shop_m"]), 5_500_000_000)
        XCTAssertEqual(metrics.value("tokengate_client_fail_open_total", ["client": "host/w1"]), 3)
        XCTAssertEqual(metrics.value("tokengate_client_spooled_total", ["client": "host/w1"]), 7)
        XCTAssertEqual(metrics.value("tokengate_client_spool_depth", ["client": "host/w1"]), 2)
        XCTAssertEqual(metrics.value("tokengate_client_fail_closed_total", ["client": "host/w2"]), 1)
        XCTAssertEqual(metrics.value("tokengate_clients_reporting"), 2)
        XCTAssertEqual(metrics.value("tokengate_serving"), 1)
        XCTAssertEqual(metrics.value("tokengate_shops"), 1)
        XCTAssertEqual(metrics.samples.filter { $0.name == "tokengate_shard_shops" }.count, 64)
        XCTAssertGreaterThanOrEqual(metrics.value("tokengate_connections_open") ?? 0, 1)
        XCTAssertGreaterThan(metrics.value("process_resident_memory_bytes") ?? 0, 1_000_000)
        XCTAssertEqual(metrics.types["tokengate_call_duration_seconds"], "histogram")
        XCTAssertEqual(metrics.types["tokengate_snapshot_duration_seconds"], "histogram")
    }

    /// A connection remembers its last method and series: switching between an empty path, an
    /// unknown one and known ones must still answer and count each call under its own method.
    func testEachCallIsCountedUnderItsOwnMethodWhenAConnectionSwitchesMethods() async throws {
        let daemon = try TestDaemon()
        let client = daemon.client()
        let healthBefore = try ExpositionParser(try await client.getMetrics().text)
            .value("tokengate_calls_total", ["method": "Health", "code": "OK"]) ?? 0
        for path in ["", "/tokengate.v1.BudgetService/NoSuchMethod", "", MethodPath.health, "/x", MethodPath.health] {
            do {
                let _: HealthCheckResponse = try await client.call(path, HealthCheckRequest())
                XCTAssertEqual(path, MethodPath.health, "only Health answers OK")
            } catch {
                XCTAssertEqual(error.code, .unimplemented, "\(path): \(error)")
            }
        }
        _ = try await client.canMakeRequest(.init(shopID: "shop_s"))
        let metrics = try ExpositionParser(try await client.getMetrics().text)
        XCTAssertEqual(metrics.value("tokengate_calls_total", ["method": "unknown", "code": "UNIMPLEMENTED"]), 4)
        XCTAssertEqual(metrics.value("tokengate_calls_total", ["method": "Health", "code": "OK"]), healthBefore + 2)
        XCTAssertEqual(metrics.value("tokengate_calls_total", ["method": "CanMakeRequest", "code": "OK"]), 1)
    }

    func testReportClientMetricsNeedsAClientID() async throws {
        let daemon = try TestDaemon()
        await XCTAssertThrowsCode(.invalidArgument) { _ = try await daemon.client().reportClientMetrics(.init(clientID: "")) }
        await XCTAssertThrowsCode(.invalidArgument) {
            _ = try await daemon.client().reportClientMetrics(.init(clientID: String(repeating: "x", count: 129)))
        }
    }

    func testCLIMetricsAndTopOnce() async throws {
        let daemon = try TestDaemon()
        _ = try await daemon.client().logUsage(EndToEndTests.expensiveEvent(shop: "shop_top"))
        _ = try await daemon.client().canMakeRequest(.init(shopID: "shop_top"))
        let metrics = try daemon.runCLI(["metrics"])
        XCTAssertEqual(metrics.exitCode, 0, metrics.stderr)
        let parsed = try ExpositionParser(metrics.stdout)
        XCTAssertEqual(parsed.value("tokengate_calls_total", ["method": "LogUsage", "code": "OK"]), 1)

        let top = try daemon.runCLI(["top", "--once", "--interval-ms", "200"])
        XCTAssertEqual(top.exitCode, 0, top.stderr)
        XCTAssertFalse(top.stdout.contains("\u{1B}"), "--once prints a plain frame")
        for expected in ["SERVING", "METHOD", "CALLS/S", "LogUsage", "DENY", "DAILY_CAP_REACHED", "TOP SHOPS BY COST TODAY", "shop_top", "$5.50"] {
            XCTAssertTrue(top.stdout.contains(expected), "missing \(expected) in:\n\(top.stdout)")
        }
        let badInterval = try daemon.runCLI(["top", "--once", "--interval-ms", "5"])
        XCTAssertEqual(badInterval.exitCode, 2)
    }

    func testMetricsFileIsRewrittenForTheTextfileCollector() async throws {
        let directory = try makeShortTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let file = directory + "/tokengate.prom"
        let daemon = try TestDaemon(arguments: ["--metrics-file", file, "--metrics-interval", "1"])
        _ = try await daemon.client().logUsage(.init(shopID: "shop_file", inputTokens: 1_000, outputTokens: 100))
        var appends: Double?
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline && appends != 1 {
            try await Task.sleep(nanoseconds: 100_000_000)
            if let text = try? String(contentsOfFile: file, encoding: .utf8) { appends = try ExpositionParser(text).value("tokengate_log_appends_total") }
        }
        XCTAssertEqual(appends, 1, "the file was not rewritten with the new count within 10 s")
        XCTAssertFalse(FileManager.default.fileExists(atPath: file + ".tmp"))
    }

    func testJSONLogLinesCarryLevelAndStartupFacts() async throws {
        let directory = try makeShortTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let socketPath = directory + "/gate.sock"
        let daemon = try SpawnedDaemon.spawn(
            arguments: ["--socket", socketPath, "--data-dir", directory + "/data", "--log-format", "json", "--fsync", "everysec"],
            listeningFD: nil, stderrPath: directory + "/stderr.log")
        let serving = await waitUntilServing(socketPath: socketPath)
        XCTAssertTrue(serving, daemon.stderr)
        for index in 0..<20 { _ = try await TokenGateClient(socketPath: socketPath).canMakeRequest(.init(shopID: "s\(index)")) }
        let exitCode = await daemon.stop()
        XCTAssertEqual(exitCode, 0)
        // The daily high-cost check's startup run logs one line of its own.
        let lines = daemon.stderr.split(separator: "\n").filter { !$0.contains("daily high-cost check") }
        XCTAssertEqual(lines.count, 3, "startup, draining, stopped; no line per call: \(daemon.stderr)")
        let objects = try lines.map { try parseJSONObject(String($0)) }
        XCTAssertTrue(objects.allSatisfy { $0["level"] is String && $0["msg"] is String && $0["ts"] is Int })
        let startup = objects[0]
        XCTAssertEqual(startup["msg"] as? String, "tokengated serving")
        XCTAssertEqual(startup["socket"] as? String, socketPath)
        XCTAssertEqual(startup["fsync"] as? String, "everysec")
        XCTAssertEqual(startup["version"] as? String, TokenGateVersion.current)
        for key in ["data_dir", "log_records", "snapshot_facts", "startup_ms"] { XCTAssertNotNil(startup[key], key) }
    }

    func testExpositionNumbersAreExact() {
        XCTAssertEqual(ExpositionWriter.seconds(1_500), "0.0000015")
        XCTAssertEqual(ExpositionWriter.seconds(1_000), "0.000001")
        XCTAssertEqual(ExpositionWriter.seconds(2_000_000_000), "2")
        XCTAssertEqual(ExpositionWriter.seconds(12_345_678_901), "12.345678901")
        XCTAssertEqual(ExpositionWriter.escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd")
        XCTAssertEqual(Logger.jsonLine(5, .warning, "m\"x", ["k": "v\n"]), "{\"ts\":5,\"level\":\"warning\",\"msg\":\"m\\\"x\",\"k\":\"v\\n\"}")
    }
}

/// Asserts that `body` throws a TokenGateError with `code`.
func XCTAssertThrowsCode(
    _ code: StatusCode, file: StaticString = #filePath, line: UInt = #line, _ body: () async throws -> Void
) async {
    do {
        try await body()
        XCTFail("expected \(code), got success", file: file, line: line)
    } catch let error as TokenGateError {
        XCTAssertEqual(error.code, code, error.message, file: file, line: line)
    } catch {
        XCTFail("expected \(code), got \(error)", file: file, line: line)
    }
}

/// A strict reader of the Prometheus text format 0.0.4 for tests: every sample must belong to
/// a family declared by `# TYPE` before it, and histograms must be cumulative with
/// `_count` equal to the `+Inf` bucket.
struct ExpositionParser {
    struct Sample {
        var name: String
        var labels: [String: String]
        var value: Double
    }

    struct FormatError: Error, CustomStringConvertible {
        var description: String
    }

    private(set) var samples: [Sample] = []
    private(set) var types: [String: String] = [:]

    init(_ text: String) throws {
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) where !line.isEmpty {
            if line.hasPrefix("# TYPE ") {
                let parts = line.split(separator: " ")
                guard parts.count == 4, ["counter", "gauge", "histogram"].contains(parts[3]) else { throw FormatError(description: "bad TYPE line: \(line)") }
                types[String(parts[2])] = String(parts[3])
            } else if line.hasPrefix("# HELP ") {
                continue
            } else {
                samples.append(try Self.sample(line))
            }
        }
        try check()
    }

    func value(_ name: String, _ labels: [String: String] = [:]) -> Double? {
        samples.first { $0.name == name && $0.labels == labels }?.value
    }

    private static func sample(_ line: Substring) throws -> Sample {
        let regex = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$/
        guard let match = try regex.wholeMatch(in: String(line)), let value = Double(match.4) else {
            throw FormatError(description: "bad sample line: \(line)")
        }
        var labels: [String: String] = [:]
        if let body = match.3 {
            for pair in String(body).matches(of: /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)",?/) {
                labels[String(pair.1)] = String(pair.2).replacingOccurrences(of: "\\\"", with: "\"").replacingOccurrences(of: "\\\\", with: "\\")
            }
        }
        return Sample(name: String(match.1), labels: labels, value: value)
    }

    private func check() throws {
        for sample in samples {
            let family = ["_bucket", "_sum", "_count"].reduce(sample.name) { name, suffix in
                name.hasSuffix(suffix) && types[String(name.dropLast(suffix.count))] == "histogram" ? String(name.dropLast(suffix.count)) : name
            }
            guard types[family] != nil else { throw FormatError(description: "sample \(sample.name) has no TYPE") }
        }
        for (family, type) in types where type == "histogram" {
            let buckets = samples.filter { $0.name == family + "_bucket" }
            for series in Dictionary(grouping: buckets, by: { $0.labels.filter { $0.key != "le" } }) {
                let counts = series.value.map(\.value)
                guard counts == counts.sorted(), series.value.last?.labels["le"] == "+Inf",
                      value(family + "_count", series.key) == counts.last
                else { throw FormatError(description: "histogram \(family) \(series.key) is not cumulative or its count differs") }
            }
        }
    }
}
