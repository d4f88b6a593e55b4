// Tests of the usage CSV: RFC 4180 quoting field by field, and a round trip of nasty text
// (commas, quotes, CR, LF, CRLF, non-ASCII, JSON-looking metadata) through a real CSV parser,
// Python's csv module, run as a separate process.

import Foundation
import XCTest

@testable import TokenGateCore

/// Runs `python3 -c script arguments...` and returns its stdout; fails on a non-zero exit.
func runPython(_ script: String, _ arguments: [String], file: StaticString = #filePath, line: UInt = #line) throws -> Data {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["python3", "-c", script] + arguments
    let out = Pipe()
    let err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    let stdout = out.fileHandleForReading.readDataToEndOfFile()
    let stderr = err.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    XCTAssertEqual(process.terminationStatus, 0, String(decoding: stderr, as: UTF8.self), file: file, line: line)
    return stdout
}

/// Parses a CSV file with Python's csv module; returns its rows.
func parseCSVWithPython(_ path: String, file: StaticString = #filePath, line: UInt = #line) throws -> [[String]] {
    let script = """
        import csv, json, sys
        with open(sys.argv[1], newline='', encoding='utf-8') as f:
            json.dump(list(csv.reader(f, strict=True)), sys.stdout)
        """
    let output = try runPython(script, [path], file: file, line: line)
    return try XCTUnwrap(JSONSerialization.jsonObject(with: output) as? [[String]], file: file, line: line)
}

final class UsageCSVTests: XCTestCase {
    func testFieldsAreQuotedOnlyWhenTheyMustBe() {
        XCTAssertEqual(UsageCSV.field("plain text"), "plain text")
        XCTAssertEqual(UsageCSV.field(""), "")
        XCTAssertEqual(UsageCSV.field("a,b"), "\"a,b\"")
        XCTAssertEqual(UsageCSV.field("say \"hi\""), "\"say \"\"hi\"\"\"")
        XCTAssertEqual(UsageCSV.field("line\nbreak"), "\"line\nbreak\"")
        XCTAssertEqual(UsageCSV.field("cr\r"), "\"cr\r\"")
        XCTAssertEqual(UsageCSV.field("\""), "\"\"\"\"")
    }

    func testRowsEndWithCRLFAndMetadataIsJSON() {
        var event = recorded("e1", at: utc(2026, 11, 25, 23, 59, 59, 999), cost: 1_121_100, input: 2_062, output: 201)
        event.metadata = UsageMetadata(messageLength: 50, historyLength: 5, knowledgeBaseSize: 1_500,
                                       extra: [MetadataEntry(key: "k", value: "v")])
        XCTAssertEqual(
            UsageCSV.row(event),
            "e1,shop,user,conv,chat_message,test-model,2062,201,0,2263,1121100,0.0011211,2026-11-25T23:59:59.999Z,"
                + "\(utc(2026, 11, 25, 23, 59, 59, 999)),\(utc(2026, 11, 25, 23, 59, 59, 999)),50,5,1500,\"{\"\"k\"\":\"\"v\"\"}\"\r\n")
        XCTAssertTrue(UsageCSV.headerRow.hasPrefix("event_id,shop_id,"))
        XCTAssertTrue(UsageCSV.headerRow.hasSuffix("metadata\r\n"))
        XCTAssertEqual(UsageCSV.metadataJSON([]), "{}")
        XCTAssertEqual(UsageCSV.metadataJSON([MetadataEntry(key: "t", value: "a\tb\u{1}\\")]), "{\"t\":\"a\\tb\\u0001\\\\\"}")
    }

    func testRoundTripThroughPythonsCSVModule() throws {
        let nasty = [
            "comma, inside", "quote \" inside", "\"starts and ends with quotes\"", "new\nline", "cr\rlf\r\n", "trailing space ",
            "", "tab\there", "ünïcödé ✓ 🚀", "{\"looks\": \"like json\"}", "=SUM(A1:A2)", "a,\"b\",\nc",
        ]
        var events: [UsageEvent] = []
        for (index, text) in nasty.enumerated() {
            var event = recorded("evt,\(index)\"", at: utc(2026, 11, 1) + Int64(index), cost: NanoUSD(index * 1_000))
            event.userID = text
            event.conversationID = "conv\n\(index)"
            event.metadata = UsageMetadata(
                messageLength: UInt32(index), historyLength: 2, knowledgeBaseSize: 3,
                extra: [MetadataEntry(key: "note,\(index)", value: text), MetadataEntry(key: "q\"", value: "x\r\ny")])
            events.append(event)
        }
        let csv = UsageCSV.headerRow + events.map(UsageCSV.row).joined()
        let path = NSTemporaryDirectory() + "tokengate-csv-\(UUID().uuidString).csv"
        defer { try? FileManager.default.removeItem(atPath: path) }
        try Data(csv.utf8).write(to: URL(fileURLWithPath: path))

        let rows = try parseCSVWithPython(path)
        XCTAssertEqual(rows.first, UsageCSV.columns)
        XCTAssertEqual(rows.count, events.count + 1)
        let column = Dictionary(uniqueKeysWithValues: UsageCSV.columns.enumerated().map { ($1, $0) })
        for (event, row) in zip(events, rows.dropFirst()) {
            XCTAssertEqual(row.count, UsageCSV.columns.count)
            XCTAssertEqual(row[column["event_id"]!], event.eventID)
            XCTAssertEqual(row[column["user_id"]!], event.userID)
            XCTAssertEqual(row[column["conversation_id"]!], event.conversationID)
            XCTAssertEqual(row[column["cost_nano_usd"]!], String(event.costNanoUSD))
            XCTAssertEqual(row[column["occurred_at_unix_ms"]!], String(event.occurredAtUnixMs))
            let metadata = try XCTUnwrap(
                JSONSerialization.jsonObject(with: Data(row[column["metadata"]!].utf8)) as? [String: String])
            XCTAssertEqual(metadata, Dictionary(uniqueKeysWithValues: event.metadata.extra.map { ($0.key, $0.value) }))
        }
    }
}
