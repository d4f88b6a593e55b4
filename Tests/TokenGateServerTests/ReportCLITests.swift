// The report verbs of the tokengate CLI against a real daemon: every verb's JSON, the shop
// dashboard in text, `export-csv` parsed by Python's csv module, and `alerts watch` printing one
// JSON object per line as alerts are raised.

import Foundation
import Synchronization
import TokenGateClient
import XCTest

/// Runs `python3 -c script arguments...`; returns stdout.
private func python(_ script: String, _ arguments: [String]) throws -> Data {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["python3", "-c", script] + arguments
    let out = Pipe()
    process.standardOutput = out
    try process.run()
    let data = out.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    XCTAssertEqual(process.terminationStatus, 0)
    return data
}

final class ReportCLITests: XCTestCase {
    func json(_ daemon: TestDaemon, _ arguments: [String], file: StaticString = #filePath, line: UInt = #line) throws -> [String: Any] {
        let result = try daemon.runCLI(arguments + ["--json"])
        XCTAssertEqual(result.exitCode, 0, "\(arguments): \(result.stderr)", file: file, line: line)
        return try parseJSONObject(result.stdout, file: file, line: line)
    }

    func testEveryReportVerbAnswersInJSONAndText() async throws {
        let daemon = try TestDaemon(arguments: ["--billing-grace-hours", "0"])
        let client = daemon.client()
        let month = MonthKey(unixMs: nowMs())
        let lastMonth = month.previous
        for index in 0..<3 {
            _ = try await client.logUsage(.init(eventID: "m\(index)", shopID: "shop_1", inputTokens: 2_062, outputTokens: 201))
        }
        _ = try await client.logUsage(expensiveEvent("big", shop: "shop_2"))
        _ = try await client.logUsage(.init(eventID: "old", shopID: "shop_1", operationType: "suggestion", inputTokens: 100,
                                            outputTokens: 10, occurredAtUnixMs: lastMonth.startUnixMs + 1))

        let view = try json(daemon, ["shop", "shop_1"])
        XCTAssertEqual(view["tier"] as? String, "starter")
        XCTAssertEqual(view["messages_this_month"] as? Int, 3)
        XCTAssertEqual(view["api_cost_this_month_nano_usd"] as? Int, 3 * 1_121_100)
        XCTAssertEqual(view["estimated_bill_nano_usd"] as? Int, 5_000_000_000)
        let panel = try daemon.runCLI(["shop", "shop_1"]).stdout
        for text in ["AI Usage & Billing: shop_1", "Current Plan", "Messages This Month", "Estimated Bill", "$5.00", "Daily budget"] {
            XCTAssertTrue(panel.contains(text), "\(text) in \(panel)")
        }

        let stats = try json(daemon, ["stats"])
        XCTAssertEqual((stats["totals"] as? [String: Any])?["events"] as? Int, 5)
        XCTAssertEqual((stats["by_shop"] as? [[String: Any]])?.first?["key"] as? String, "shop_2")
        let filtered = try json(daemon, ["stats", "--shop", "shop_1", "--from", month.text + "-01"])
        XCTAssertEqual((filtered["totals"] as? [String: Any])?["events"] as? Int, 3)
        XCTAssertEqual((filtered["by_operation"] as? [[String: Any]])?.map { $0["key"] as? String }, ["chat_message"])

        let summary = try json(daemon, ["summary", "--period", lastMonth.text])
        XCTAssertEqual((summary["shops"] as? [[String: Any]])?.map { $0["shop_id"] as? String }, ["shop_1"])
        let report = try json(daemon, ["report", "--period", month.text])
        XCTAssertEqual((report["totals"] as? [String: Any])?["cost_nano_usd"] as? Int, 3 * 1_121_100 + 5_500_000_000)
        let high = try json(daemon, ["high-cost", "--threshold-usd", "1.00", "--top", "5"])
        XCTAssertEqual((high["shops"] as? [[String: Any]])?.map { $0["shop_id"] as? String }, ["shop_2"])
        let projection = try json(daemon, ["projection", "--shop", "shop_2"])
        let row = try XCTUnwrap((projection["projections"] as? [[String: Any]])?.first)
        let spent = try XCTUnwrap(row["spent_nano_usd"] as? Int)
        let rate = try XCTUnwrap(row["daily_run_rate_nano_usd"] as? Int)
        let daysLeft = try XCTUnwrap(row["days_left"] as? Int)
        XCTAssertEqual(row["projected_month_end_nano_usd"] as? Int, spent + rate * daysLeft)

        let logs = try json(daemon, ["logs", "shop_1", "--page-size", "2"])
        XCTAssertEqual((logs["events"] as? [[String: Any]])?.count, 2)
        let cursor = try XCTUnwrap(logs["next_cursor"] as? String)
        let rest = try json(daemon, ["logs", "shop_1", "--cursor", cursor, "--all"])
        XCTAssertEqual((rest["events"] as? [[String: Any]])?.map { $0["event_id"] as? String }, ["m2", "old"])
        XCTAssertEqual(rest["next_cursor"] as? String, "")

        let alerts = try json(daemon, ["alerts", "list"])
        XCTAssertEqual((alerts["alerts"] as? [[String: Any]])?.count, 2)
        let batch = try json(daemon, ["bill-all", "--period", lastMonth.text])
        XCTAssertEqual(batch["generated"] as? Int, 1)
        let paid = try json(daemon, ["mark-paid", "shop_1", "--period", lastMonth.text])
        XCTAssertEqual(paid["paid"] as? Bool, true)
        XCTAssertEqual(paid["total_charge_nano_usd"] as? Int, 5_000_000_000)
        let bills = try json(daemon, ["bills", "shop_1"])
        XCTAssertEqual((bills["records"] as? [[String: Any]])?.first?["paid"] as? Bool, true)
        let text = try daemon.runCLI(["bills", "shop_1"]).stdout
        XCTAssertTrue(text.contains(lastMonth.text) && text.contains("yes"), text)
    }

    func testUsageMistakesExitWith2AndDaemonErrorsWith1() throws {
        let daemon = try TestDaemon()
        XCTAssertEqual(try daemon.runCLI(["summary"]).exitCode, 2, "missing --period")
        XCTAssertEqual(try daemon.runCLI(["alerts", "sing"]).exitCode, 2)
        XCTAssertEqual(try daemon.runCLI(["stats", "--from", "yesterday"]).exitCode, 2)
        let bad = try daemon.runCLI(["report", "--period", "2026-13"])
        XCTAssertEqual(bad.exitCode, 1)
        XCTAssertTrue(bad.stderr.contains("INVALID_ARGUMENT"), bad.stderr)
        let unpaid = try daemon.runCLI(["mark-paid", "shop_none", "--period", "2020-01"])
        XCTAssertEqual(unpaid.exitCode, 1)
        XCTAssertTrue(unpaid.stderr.contains("NOT_FOUND"), unpaid.stderr)
        for verb in ["shop", "stats", "summary", "report", "high-cost", "projection", "logs", "export-csv", "alerts", "bill-all",
                     "mark-paid", "bills"] {
            let help = try TestDaemon.runCLI([verb, "--help"])
            XCTAssertEqual(help.exitCode, 0)
            XCTAssertTrue(help.stdout.contains("Usage: tokengate \(verb)"), help.stdout)
        }
    }

    func testExportCSVRoundTripsThroughPythonsCSVModule() async throws {
        let daemon = try TestDaemon()
        let client = daemon.client()
        let texts = ["plain", "comma, here", "quote \" here", "line\nbreak", "crlf\r\nend", "\"quoted\"", "ü ✓"]
        // User ids are identifiers (no control characters, DESIGN §4); metadata values are free text.
        let userIDs = texts.map { $0.replacingOccurrences(of: "\r", with: "\\r").replacingOccurrences(of: "\n", with: "\\n") }
        for (index, text) in texts.enumerated() {
            var request = LogUsageRequest(
                eventID: "x\(index)", shopID: "shop_csv", userID: userIDs[index], inputTokens: 10, outputTokens: 1)
            request.metadata = UsageMetadata(messageLength: 3, extra: [MetadataEntry(key: "note", value: text)])
            _ = try await client.logUsage(request)
        }
        _ = try await client.logUsage(.init(eventID: "other", shopID: "shop_other", inputTokens: 1))
        let export = try daemon.runCLI(["export-csv", "--shop", "shop_csv"])
        XCTAssertEqual(export.exitCode, 0, export.stderr)
        let path = daemon.directory + "/usage.csv"
        try Data(export.stdout.utf8).write(to: URL(fileURLWithPath: path))
        let script = """
            import csv, json, sys
            with open(sys.argv[1], newline='', encoding='utf-8') as f:
                rows = list(csv.DictReader(f, strict=True))
            json.dump([[r['event_id'], r['user_id'], json.loads(r['metadata'])['note'], r['cost_nano_usd']] for r in rows], sys.stdout)
            """
        let rows = try XCTUnwrap(JSONSerialization.jsonObject(with: try python(script, [path])) as? [[String]])
        XCTAssertEqual(rows.map { $0[0] }, texts.indices.map { "x\($0)" }, "only shop_csv, in recording order")
        XCTAssertEqual(rows.map { $0[1] }, userIDs)
        XCTAssertEqual(rows.map { $0[2] }, texts)
        XCTAssertEqual(rows.map { $0[3] }, Array(repeating: "5500", count: texts.count))
    }

    func testAlertsWatchPrintsOneJSONObjectPerLine() async throws {
        let daemon = try TestDaemon()
        let client = daemon.client()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: TestDaemon.productsDirectory + "/tokengate")
        process.arguments = ["--socket", daemon.socketPath, "alerts", "watch"]
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle(forWritingAtPath: "/dev/null")
        let received = Mutex(Data())
        out.fileHandleForReading.readabilityHandler = { handle in
            let data = handle.availableData
            received.withLock { $0.append(data) }
        }
        try process.run()
        defer {
            out.fileHandleForReading.readabilityHandler = nil
            if process.isRunning { process.terminate() }
            process.waitUntilExit()
        }
        // The watcher may not be registered yet: raise alerts on new shops until lines arrive.
        var shops: [String] = []
        let arrived = try await eventually(seconds: 20) {
            let shop = "shop_watch\(shops.count)"
            shops.append(shop)
            _ = try await client.logUsage(expensiveEvent("w-\(shop)", shop: shop))
            try? await Task.sleep(nanoseconds: 100_000_000)
            return received.withLock { String(decoding: $0, as: UTF8.self) }.split(separator: "\n").count >= 2
        }
        XCTAssertTrue(arrived, "alerts watch printed nothing")
        let lines = received.withLock { String(decoding: $0, as: UTF8.self) }.split(separator: "\n")
        for line in lines.prefix(2) {
            let object = try parseJSONObject(String(line))
            XCTAssertTrue(shops.contains(object["shop_id"] as? String ?? ""), String(line))
            XCTAssertTrue(["DAILY_THRESHOLD", "DAILY_CAP"].contains(object["kind"] as? String ?? ""), String(line))
            XCTAssertEqual(object["actual_nano_usd"] as? Int, 5_500_000_000)
        }
        process.terminate()
        process.waitUntilExit()
        XCTAssertEqual(try daemon.runCLI(["health"]).exitCode, 0, "a watcher that goes away leaves the daemon serving")
    }
}
