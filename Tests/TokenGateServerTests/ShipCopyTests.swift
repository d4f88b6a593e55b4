// The shipper's two ways of writing usage rows against a REAL PostgreSQL (scripts/with-postgres.sh):
// COPY text (the fast way) must give every column exactly the value the INSERT computes in SQL,
// for the awkward events too; COPY meeting a row already there must fail as a whole (the shipper
// then rolls back and sends the batch by INSERT), and the INSERT then skips it.
import Foundation
import TokenGateClient
import TokenGateCore
import TokenGatePostgres
import TokenGateWire
import XCTest

final class ShipCopyTests: XCTestCase {
    /// Events whose every column is awkward somewhere: COPY's reserved characters and JSON's in
    /// ids and metadata, non-ASCII text, token counts whose sum overflows 64 bits, negative and
    /// extreme costs, the first and last instants COPY writes, a late event's billing period.
    static func awkwardEvents() -> [UsageEvent] {
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        func event(
            _ id: String, shop: String = "shop_1", input: UInt64 = 120, output: UInt64 = 30, cached: UInt64 = 0,
            cost: Int64 = 1_121_100, occurred: Int64, recorded: Int64? = nil, metadata: UsageMetadata = UsageMetadata(),
            period: String = ""
        ) -> UsageEvent {
            UsageEvent(
                eventID: id, shopID: shop, userID: "user \t\"x\"\\", conversationID: "conv\n{1,2}\r",
                operationType: "chat", model: "gpt-4o-mini", inputTokens: input, outputTokens: output, cachedInputTokens: cached,
                occurredAtUnixMs: occurred, costNanoUSD: cost, metadata: metadata, recordedAtUnixMs: recorded ?? occurred + 7,
                billingPeriod: period)
        }
        return [
            event("plain", occurred: now),
            event("tab\tnew\nline\rback\\slash\"quote'", shop: "shop,{}\"\\", occurred: now - 1),
            event("é日本\u{1F600}", shop: "ünïcode", occurred: now - 2),
            event("overflowing tokens", input: .max, output: .max, cached: .max, occurred: now - 3),
            event("negative cost", cost: -1, occurred: now - 4),
            event("largest cost", cost: .max, occurred: now - 5),
            event("smallest cost", cost: .min + 1, occurred: now - 6),
            event("epoch", cost: 0, occurred: 0, recorded: 0),
            event("last copyable instant", occurred: CopyText.unixMsMax, recorded: CopyText.unixMsMax),
            event("late", occurred: UTCCalendar.parseISO8601("2026-10-31T23:59:59.999Z")!, period: "2026-11"),
            event(
                "metadata pairs", occurred: now - 8,
                metadata: UsageMetadata(
                    messageLength: .max, historyLength: 3, knowledgeBaseSize: .max,
                    extra: [
                        MetadataEntry(key: "k\t\"\\", value: "v\n\u{1}é"), MetadataEntry(key: "plain", value: ""),
                    ])),
        ]
    }

    /// Every column as PostgreSQL's text, ordered by event id.
    static func rows(_ database: PostgresConnection) throws -> [[String?]] {
        try database.query(
            """
            SELECT event_id, shop_id, user_id, conversation_id, operation_type, model_name, input_tokens::text,
                   output_tokens::text, cached_input_tokens::text, total_tokens::text, total_cost::text,
                   total_cost_nano_usd::text, metadata::text, (extract(epoch FROM created_at) * 1000000)::numeric::text,
                   (extract(epoch FROM recorded_at) * 1000000)::numeric::text, billing_period, host_id
            FROM token_usage_logs ORDER BY event_id COLLATE "C"
            """
        ).rows
    }

    /// Runs a `.copy` batch as the shipper does: BEGIN, COPY of its text, then its statements.
    static func shipByCopy(_ batch: inout ShipBatch, through sequence: UInt64, _ database: PostgresConnection) throws {
        try database.execute("BEGIN")
        try database.beginCopyIn(ShipBatch.copyUsage)
        try database.putCopyData(batch.takeCopyText())
        _ = try database.endCopyIn()
        _ = try database.pipeline(batch.statements(shippedThrough: sequence))
    }

    func testCopyWritesExactlyTheRowsTheInsertWrites() throws {
        let events = Self.awkwardEvents()
        let inserted = try PostgresConnection(conninfo: try TestPostgres.database())
        let copied = try PostgresConnection(conninfo: try TestPostgres.database())
        try Migrations.migrate(inserted)
        try Migrations.migrate(copied)

        var insertBatch = ShipBatch(hostID: "h\t1")
        var copyBatch = ShipBatch(hostID: "h\t1", usageForm: .copy)
        for event in events {
            insertBatch.add(.usage(event))
            copyBatch.add(.usage(event))
        }
        XCTAssertTrue(copyBatch.copiesExactly)
        XCTAssertTrue(copyBatch.usageIsCopied)
        XCTAssertEqual(copyBatch.copyText.rows, events.count)
        _ = try inserted.pipeline(insertBatch.statements(shippedThrough: 11))
        try Self.shipByCopy(&copyBatch, through: 11, copied)

        let expected = try Self.rows(inserted)
        XCTAssertEqual(expected.count, events.count)
        let actual = try Self.rows(copied)
        XCTAssertEqual(actual.count, expected.count)
        for (copiedRow, insertedRow) in zip(actual, expected) {
            XCTAssertEqual(copiedRow, insertedRow, "COPY wrote another value than the INSERT")
        }
        // A few values spelled out, so both ways cannot agree on a wrong one.
        let overflow = try copied.query(
            "SELECT total_tokens::text, cached_input_tokens::text FROM token_usage_logs WHERE event_id = 'overflowing tokens'")
        XCTAssertEqual(overflow.rows, [["36893488147419103230", "18446744073709551615"]])
        let late = try copied.query(
            "SELECT billing_period, created_at = '2026-10-31T23:59:59.999Z' FROM token_usage_logs WHERE event_id = 'late'")
        XCTAssertEqual(late.rows, [["2026-11", "t"]])
        XCTAssertEqual(
            try copied.query("SELECT total_cost::text FROM token_usage_logs WHERE event_id = 'negative cost'").scalar,
            "-0.000000001")
        XCTAssertEqual(try copied.query(ShipStatements.readCursor, ["h\t1"]).scalar, "11")
    }

    /// A usage event still in its log record's bytes makes the same COPY row as the event
    /// decoded to Strings (the shipper's way for every plain record).
    func testCopyFromTheRecordsBytesEqualsCopyFromTheEvent() {
        var plain = 0
        var events = Self.awkwardEvents()
        events.append(
            UsageEvent(
                eventID: "ascii\t\\\"", shopID: "s", userID: "u", conversationID: "c", operationType: "o", model: "m",
                inputTokens: 1, outputTokens: 2, cachedInputTokens: 3, occurredAtUnixMs: 1_796_000_000_000, costNanoUSD: 4,
                metadata: UsageMetadata(messageLength: 5, historyLength: 6, knowledgeBaseSize: 7),
                recordedAtUnixMs: 1_796_000_000_001, billingPeriod: "2027-01"))
        for event in events {
            let record = FactCodec.encode(.usage(event))
            guard let bytes = FactCodec.decodeUsage(record, record.indices) else { continue }
            plain += 1
            var fromBytes = CopyText()
            var fromEvent = CopyText()
            XCTAssertEqual(fromBytes.appendUsage(bytes, in: record, hostID: "h"), fromEvent.appendUsage(event, hostID: "h"))
            XCTAssertEqual(fromBytes.bytes, fromEvent.bytes, event.eventID)
            var batch = ShipBatch(hostID: "h", usageForm: .copy)
            batch.addUsage(bytes, in: record)
            XCTAssertEqual(batch.copyText.bytes, fromEvent.bytes)
            XCTAssertEqual(batch.usageCount, 1)
        }
        XCTAssertGreaterThanOrEqual(plain, 8, "too few events took the direct decoder's way")
    }

    /// A time COPY cannot write exactly leaves the batch for the INSERT (the shipper checks
    /// `copiesExactly` and sends the batch by INSERT; nothing of it went by COPY).
    func testATimeBeyondWhatCopyWritesExactlyIsLeftToTheInsert() {
        var batch = ShipBatch(hostID: "h", usageForm: .copy)
        var event = Self.awkwardEvents()[0]
        batch.add(.usage(event))
        XCTAssertTrue(batch.copiesExactly)
        event.eventID = "far future"
        event.occurredAtUnixMs = CopyText.unixMsMax + 1
        batch.add(.usage(event))
        XCTAssertFalse(batch.copiesExactly)
        XCTAssertEqual(batch.copyText.rows, 1, "the event past 2255 was written as COPY text")
    }

    /// A COPY abandoned half-way (the shipper's way out when a later event cannot be copied)
    /// leaves nothing, and the connection serves the INSERT of the same batch after ROLLBACK.
    func testAnAbandonedCopyLeavesNothingAndTheConnectionGoesOn() throws {
        let database = try PostgresConnection(conninfo: try TestPostgres.database())
        try Migrations.migrate(database)
        var batch = ShipBatch(hostID: "h", usageForm: .copy)
        for event in Self.awkwardEvents() { batch.add(.usage(event)) }
        try database.execute("BEGIN")
        try database.beginCopyIn(ShipBatch.copyUsage)
        try database.putCopyData(batch.takeCopyText())
        database.abandonCopyIn("a usage time outside what COPY writes exactly")
        try database.execute("ROLLBACK")
        XCTAssertEqual(try database.query("SELECT count(*) FROM token_usage_logs").scalar, "0")
        var insert = ShipBatch(hostID: "h")
        for event in Self.awkwardEvents() { insert.add(.usage(event)) }
        _ = try database.pipeline(insert.statements(shippedThrough: 3))
        XCTAssertEqual(try database.query("SELECT count(*) FROM token_usage_logs").scalar, "\(Self.awkwardEvents().count)")
    }

    /// COPY meeting a row already shipped fails with unique_violation and leaves nothing (its
    /// transaction aborted); the INSERT of the same batch then skips that row and adds the rest.
    func testCopyMeetingAShippedRowFailsWholeAndTheInsertSkipsIt() throws {
        let database = try PostgresConnection(conninfo: try TestPostgres.database())
        try Migrations.migrate(database)
        let events = Self.awkwardEvents()
        var first = ShipBatch(hostID: "h", usageForm: .copy)
        first.add(.usage(events[0]))
        try Self.shipByCopy(&first, through: 1, database)

        var again = ShipBatch(hostID: "h", usageForm: .copy)
        for event in events { again.add(.usage(event)) }
        try database.execute("BEGIN")
        try database.beginCopyIn(ShipBatch.copyUsage)
        try database.putCopyData(again.takeCopyText())
        XCTAssertThrowsError(try database.endCopyIn()) { error in
            XCTAssertEqual((error as? PostgresError)?.sqlState, "23505", "\(error)")
        }
        try database.execute("ROLLBACK")
        XCTAssertEqual(try database.query("SELECT count(*) FROM token_usage_logs").scalar, "1")

        var insert = ShipBatch(hostID: "h")
        for event in events { insert.add(.usage(event)) }
        let results = try database.pipeline(insert.statements(shippedThrough: 11))
        XCTAssertEqual(results[1].affected, events.count - 1)
        XCTAssertEqual(try database.query("SELECT count(*) FROM token_usage_logs").scalar, "\(events.count)")
        XCTAssertEqual(try database.query(ShipStatements.readCursor, ["h"]).scalar, "11")
    }

    /// Through a daemon: events shipped by COPY; the cursor deleted and the daemon restarted,
    /// it ships the whole log again: the COPY meets the rows, is rolled back and the batch goes
    /// by INSERT (the retry counted), changing no row; events logged after go by COPY again.
    func testAReshipFallsBackToInsertAndChangesNoRow() async throws {
        let conninfo = try TestPostgres.database()
        let daemon = try TestDaemon(arguments: ["--postgres", conninfo, "--host-id", "copy-host"])
        let client = daemon.client()
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        func log(_ prefix: String, _ count: Int) async throws {
            for number in 0..<count {
                _ = try await client.logUsage(
                    LogUsageRequest(
                        eventID: "\(prefix)-\(number)", shopID: "copy_shop_\(number % 3)", model: "gemini-2.5-pro",
                        inputTokens: 1_000, outputTokens: 100, occurredAtUnixMs: now))
            }
        }
        try await log("first", 300)
        let database = try PostgresConnection(conninfo: conninfo)
        _ = try await TestPostgres.waitFor(database, "SELECT count(*) FROM token_usage_logs") { $0 == ["300"] }
        let before = try PostgresShippingTests.digest(database)
        let cursor = try database.query("SELECT shipped_through FROM tokengate_ship_cursor").scalar!
        try database.execute("DELETE FROM tokengate_ship_cursor")
        daemon.stop(signal: SIGTERM)
        try daemon.start()
        let reshipped = try await TestPostgres.waitFor(database, "SELECT shipped_through >= \(cursor) FROM tokengate_ship_cursor") {
            $0 == ["t"]
        }
        XCTAssertEqual(reshipped, ["t"])
        XCTAssertEqual(try PostgresShippingTests.digest(database), before, "the re-ship changed a row")
        let metrics = try await daemon.client().getMetrics().text
        XCTAssertGreaterThanOrEqual(
            MetricsText.value(metrics, "tokengate_ship_copy_retries_total") ?? 0, 1, "the COPY met no shipped row: \(metrics)")

        // Events logged after the re-ship arrive too (by COPY again once an INSERT batch met
        // no shipped row).
        try await log("after", 50)
        _ = try await TestPostgres.waitFor(database, "SELECT count(*) FROM token_usage_logs") { $0 == ["350"] }
        XCTAssertEqual(
            try database.query("SELECT sum(total_cost_nano_usd) = sum(total_cost * 1000000000) FROM token_usage_logs").scalar, "t")
    }
}
