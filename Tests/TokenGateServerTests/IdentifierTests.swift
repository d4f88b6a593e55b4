// Identifiers against the real daemon (DESIGN §4): ids with control characters are refused with
// INVALID_ARGUMENT naming the field, and odd but valid ids (quotes, backslashes, braces,
// combining marks, non-ASCII) come back out of every machine text the daemon writes (the
// Prometheus exposition of GetMetrics and `tokengate metrics`, CSV export, JSON and logfmt log
// lines) intact, as read by reference parsers: Python's `prometheus_client`, `csv` and `json`
// (scripts/test.sh installs prometheus_client with pip).
import Foundation
import TokenGateClient
import TokenGateCore
import XCTest

@testable import TokenGateServer

final class IdentifierTests: XCTestCase {
    /// The shop id of issue 18 that used to write a forged line into the exposition.
    static let injection = "a\"}\r\nfake_metric{x=\"1"

    /// Odd but valid: each must survive every writer and parser unchanged (at most 10: the
    /// exposition lists the top 10 shops of the day).
    static let oddIDs = [
        "q\"uote", "back\\slash\\", "{brace}=x,y", "ünïcødé-日本-🛒", "\u{301}starts-with-a-combining-mark",
        "ends-with-quote\"", "line\\nnot-a-newline", "sp ace and 'single'", "#hash # HELP x",
    ]

    func testControlCharactersInAnyIDAreRefusedNamingTheField() async throws {
        let daemon = try TestDaemon()
        let client = daemon.client()
        // (A NUL cannot be sent by this client: it cuts strings at NUL as protobuf-c packs them;
        // EmbeddedNULTests sends one byte by byte.)
        for bad in [Self.injection, "tab\there", "del\u{7F}", "c1\u{85}next-line", "c1\u{9F}", ""] {
            await assertRefused("shop_id", bad) { _ = try await client.logUsage(.init(shopID: bad, inputTokens: 1)) }
            await assertRefused("shop_id", bad) { _ = try await client.canMakeRequest(.init(shopID: bad, reserve: true)) }
        }
        await assertRefused("event_id", "e\r\n") { _ = try await client.logUsage(.init(eventID: "e\r\n", shopID: "s", inputTokens: 1)) }
        await assertRefused("user_id", "u\n") { _ = try await client.logUsage(.init(shopID: "s", userID: "u\n", inputTokens: 1)) }
        await assertRefused("conversation_id", "c\u{1B}[2J") {
            _ = try await client.logUsage(.init(shopID: "s", conversationID: "c\u{1B}[2J", inputTokens: 1))
        }
        await assertRefused("model", "m\r") { _ = try await client.logUsage(.init(shopID: "s", model: "m\r", inputTokens: 1)) }
        await assertRefused("operation_type", "o\n") { _ = try await client.canMakeRequest(.init(shopID: "s", operationType: "o\n")) }
        await assertRefused("request_id", "r\u{7F}") { _ = try await client.canMakeRequest(.init(shopID: "s", requestID: "r\u{7F}")) }
        await assertRefused("metadata.extra key", "k\n") {
            _ = try await client.logUsage(.init(shopID: "s", inputTokens: 1, metadata: .init(extra: [.init(key: "k\n", value: "v")])))
        }
        await assertRefused("client_id", "w\n") { _ = try await client.reportClientMetrics(.init(clientID: "w\n")) }
        await assertRefused("shop_id", "x\n") { _ = try await client.assignShopTier(.init(shopID: "x\n", tier: "free")) }
        await assertRefused("tier.name", "t\n") {
            _ = try await client.upsertTier(.init(tier: TierSettings(tier: Tier(
                name: "t\n", monthlyFeeNanoUSD: 0, includedMessages: nil, overagePerMessageNanoUSD: 0, maxMonthlySpendNanoUSD: nil,
                selfServe: false))))
        }
        // Nothing of the injection reached the exposition, and it still parses.
        let text = try await client.getMetrics().text
        XCTAssertFalse(text.contains("fake_metric"), text)
        _ = try Self.referenceParse(.prometheus, text)
    }

    func testOddButValidIDsSurviveMetricsCSVAndLogsThroughReferenceParsers() async throws {
        let daemon = try TestDaemon()
        let client = daemon.client()
        for (index, shop) in Self.oddIDs.enumerated() {
            _ = try await client.logUsage(
                .init(eventID: "ev-\(shop)", shopID: shop, userID: "user \"\(index)\"", inputTokens: UInt64(1_000_000 * (index + 1)),
                      metadata: .init(extra: [.init(key: "k{\(index)}", value: "v,\"\r\n\\")])))
        }
        let expected = Dictionary(uniqueKeysWithValues: Self.oddIDs.enumerated().map { ($0.element, 300_000_000 * ($0.offset + 1)) })

        // GetMetrics and `tokengate metrics`: the shop label of each sample, read by prometheus_client.
        for text in [try await client.getMetrics().text, try daemon.runCLI(["metrics"]).stdout] {
            let parsed = try Self.referenceParse(.prometheus, text)
            var shops: [String: Int] = [:]
            for sample in parsed as? [[Any]] ?? [] where sample[0] as? String == "tokengate_shop_cost_today_nano_usd" {
                shops[(sample[1] as? [String: String])?["shop"] ?? "?"] = (sample[2] as? NSNumber)?.intValue
            }
            XCTAssertEqual(shops, expected)
        }

        // CSV export, read by Python's csv module: shop, event id, user id and metadata intact.
        var csv: [UInt8] = []
        for try await chunk in client.exportUsageCSV() { csv += chunk.data }
        let rows = try XCTUnwrap(try Self.referenceParse(.csv, String(decoding: csv, as: UTF8.self)) as? [[String]])
        let header = try XCTUnwrap(rows.first)
        let shopColumn = try XCTUnwrap(header.firstIndex(of: "shop_id"))
        let eventColumn = try XCTUnwrap(header.firstIndex(of: "event_id"))
        XCTAssertEqual(Set(rows.dropFirst().map { $0[shopColumn] }), Set(Self.oddIDs))
        XCTAssertEqual(Set(rows.dropFirst().map { $0[eventColumn] }), Set(Self.oddIDs.map { "ev-" + $0 }))
        let metadataColumn = try XCTUnwrap(header.firstIndex(of: "metadata"))
        for row in rows.dropFirst() {
            let metadata = try XCTUnwrap(try Self.referenceParse(.json, row[metadataColumn]) as? [String: String], row[metadataColumn])
            XCTAssertEqual(Array(metadata.values), ["v,\"\r\n\\"])
        }

        // Log lines: JSON read by Python's json, logfmt kept on one line.
        for id in Self.oddIDs + ["cr\r\nlf", "c1\u{85}\u{7F}"] {
            let line = Logger.jsonLine(1, .info, "m\r\n", ["shop": id])
            XCTAssertFalse(line.unicodeScalars.contains { $0.value < 0x20 || (0x7F...0x9F).contains($0.value) }, line)
            let object = try XCTUnwrap(try Self.referenceParse(.json, line) as? [String: Any])
            XCTAssertEqual(object["shop"] as? String, id)
            XCTAssertEqual(object["msg"] as? String, "m\r\n")
            let logfmt = Logger.logfmtLine(1, .info, "m", ["shop": id])
            XCTAssertFalse(logfmt.unicodeScalars.contains { $0.value < 0x20 }, logfmt)
        }
    }

    // MARK: - Helpers

    private func assertRefused(
        _ field: String, _ value: String, file: StaticString = #filePath, line: UInt = #line, _ body: () async throws -> Void
    ) async {
        do {
            try await body()
            XCTFail("\(field) \(value.debugDescription) was accepted", file: file, line: line)
        } catch let error as TokenGateError {
            XCTAssertEqual(error.code, .invalidArgument, error.message, file: file, line: line)
            XCTAssertTrue(error.message.contains(field), "\(field): \(error.message)", file: file, line: line)
        } catch {
            XCTFail("\(field): \(error)", file: file, line: line)
        }
    }

    enum Format: String { case prometheus, csv, json }

    /// `text` read by Python's reference parser for `format`, returned as decoded JSON:
    /// prometheus: [[name, labels, value], ...]; csv: [[field, ...], ...]; json: the value.
    static func referenceParse(_ format: Format, _ text: String) throws -> Any {
        let script = """
            import sys, json, csv, io
            text = sys.stdin.buffer.read().decode('utf-8')
            kind = sys.argv[1]
            if kind == 'prometheus':
                from prometheus_client.parser import text_string_to_metric_families
                out = [[s.name, s.labels, s.value] for f in text_string_to_metric_families(text) for s in f.samples]
            elif kind == 'csv':
                out = list(csv.reader(io.StringIO(text, newline='')))
            else:
                out = json.loads(text)
            print(json.dumps(out))
            """
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", script, format.rawValue]
        let input = Pipe()
        let output = Pipe()
        let errors = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        input.fileHandleForWriting.write(Data(text.utf8))
        try input.fileHandleForWriting.close()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        let stderr = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw TokenGateError(.internal, "the \(format) reference parser refused the text: \(String(decoding: stderr, as: UTF8.self))\n\(text)")
        }
        return try JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])
    }
}

extension IdentifierTests {
    func testConfigFileIdentifiersWithControlCharactersStopStartupNamingTheKey() throws {
        var template = Array("/tmp/tg-idcfg-XXXXXX".utf8CString)
        let directory = String(cString: try XCTUnwrap(mkdtemp(&template)))
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let file = directory + "/config.json"
        let common = ["--socket", directory + "/s.sock", "--data-dir", directory + "/data", "--config", file]
        for (json, field) in [
            (#"{"shadow_shops": ["fine", "bad\u0085shop"]}"#, "shadow_shops entry"),
            (#"{"tiers": {"gold\n": {"monthly_fee_usd": "9", "included_messages": 10, "overage_per_message_usd": "0", "max_monthly_spend_usd": "none"}}}"#,
             "tier name"),
        ] {
            try Data(json.utf8).write(to: URL(fileURLWithPath: file))
            let failure = try startupFailure(common)
            XCTAssertEqual(failure.status, 1)
            XCTAssertTrue(failure.stderr.contains(field) && failure.stderr.contains("control character"), failure.stderr)
        }
    }
}
