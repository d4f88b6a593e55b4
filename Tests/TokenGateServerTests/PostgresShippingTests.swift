// Shipping to a REAL PostgreSQL (issue 19): scripts/with-postgres.sh starts one server per test
// run and exports TOKENGATE_TEST_POSTGRES; each test creates a database of its own. Without the
// variable these tests skip, unless TOKENGATE_REQUIRE_POSTGRES=1 (scripts/test.sh sets it), which
// turns the skip into a failure so CI cannot pass them silently.
import Foundation
import TokenGateClient
import TokenGatePostgres
import XCTest

final class PostgresShippingTests: XCTestCase {
    /// The host id a daemon ships under when the test names none (the host name).
    static let host = ProcessInfo.processInfo.hostName

    // MARK: - Migrations

    /// An empty database migrates to the latest version; a database at version 1 (with a row)
    /// migrates to the latest keeping the row; running again changes nothing; a schema newer
    /// than the daemon knows is refused, by the function and by tokengated at startup.
    func testMigrationsFromEmptyFromPreviousAndRefusingNewer() throws {
        let empty = try TestPostgres.database()
        let connection = try PostgresConnection(conninfo: empty)
        let first = try Migrations.migrate(connection)
        XCTAssertEqual(first.from, 0)
        XCTAssertEqual(first.to, Migrations.latestVersion)
        XCTAssertEqual(try Migrations.migrate(connection).from, Migrations.latestVersion)
        XCTAssertEqual(try connection.query("SELECT count(*) FROM get_high_cost_shops(1.00)").scalar, "0")

        let previous = try PostgresConnection(conninfo: try TestPostgres.database())
        XCTAssertEqual(try Migrations.migrate(previous, upTo: 1).to, 1)
        try previous.execute(
            """
            INSERT INTO token_usage_logs VALUES ('e1', 's1', 'u', 'c', 'chat_message', 'm', 1, 2, 0, 3, 0.000000005, 5,
              '{}', now(), now(), '2026-12', 'h')
            """)
        XCTAssertThrowsError(try previous.query("SELECT * FROM get_high_cost_shops(0)"))
        let upgrade = try Migrations.migrate(previous)
        XCTAssertEqual(upgrade.from, 1)
        XCTAssertEqual(upgrade.to, Migrations.latestVersion)
        XCTAssertEqual(try previous.query("SELECT total_cost_nano_usd FROM token_usage_logs WHERE event_id = 'e1'").scalar, "5")
        XCTAssertEqual(try previous.query("SELECT count(*) FROM get_high_cost_shops(0)").scalar, "1")

        try connection.execute("INSERT INTO tokengate_schema_migrations (version, name) VALUES (99, 'from the future')")
        XCTAssertThrowsError(try Migrations.migrate(connection)) { error in
            XCTAssertEqual((error as? PostgresError)?.kind, .schemaTooNew)
        }
        let daemon = Process()
        daemon.executableURL = URL(fileURLWithPath: TestDaemon.productsDirectory + "/tokengated")
        let directory = NSTemporaryDirectory() + "tg-pg-\(UInt32.random(in: 0...UInt32.max))"
        daemon.arguments = ["--socket", directory + ".sock", "--data-dir", directory, "--postgres", empty]
        let stderr = Pipe()
        daemon.standardError = stderr
        try daemon.run()
        let message = String(decoding: stderr.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        daemon.waitUntilExit()
        try? FileManager.default.removeItem(atPath: directory)
        XCTAssertNotEqual(daemon.terminationStatus, 0)
        XCTAssertTrue(message.contains("schema is at version 99"), message)
    }

    /// Migration 7 leaves `token_usage_logs` with the primary key, (shop_id, created_at) and a
    /// BRIN on created_at, from version 6 with rows as from empty, and the seed's 24-hour query
    /// still finds them.
    func testUsageIndexesAreThePrimaryKeyOneShopsTimeAndABRINOnTime() throws {
        let indexes = "SELECT string_agg(indexdef, E'\\n' ORDER BY indexname) FROM pg_indexes WHERE tablename = 'token_usage_logs'"
        let expected = [
            "CREATE INDEX token_usage_logs_created_at_brin ON public.token_usage_logs USING brin (created_at)",
            "CREATE UNIQUE INDEX token_usage_logs_pkey ON public.token_usage_logs USING btree (event_id)",
            "CREATE INDEX token_usage_logs_shop_created_at ON public.token_usage_logs USING btree (shop_id, created_at)",
        ].joined(separator: "\n")
        let fresh = try PostgresConnection(conninfo: try TestPostgres.database())
        try Migrations.migrate(fresh)
        XCTAssertEqual(try fresh.query(indexes).scalar, expected)

        let upgraded = try PostgresConnection(conninfo: try TestPostgres.database())
        XCTAssertEqual(try Migrations.migrate(upgraded, upTo: 6).to, 6)
        XCTAssertNotEqual(try upgraded.query(indexes).scalar, expected)
        try upgraded.execute(
            """
            INSERT INTO token_usage_logs SELECT 'e' || i, 's1', 'u', 'c', 'chat_message', 'm', 1, 2, 0, 3, 2.000000000,
              2000000000, '{}', now() - i * interval '1 minute', now(), '2026-12', 'h' FROM generate_series(1, 2000) i
            """)
        XCTAssertEqual(try Migrations.migrate(upgraded).from, 6)
        XCTAssertEqual(try upgraded.query(indexes).scalar, expected)
        // The rows 1 to 1,439 minutes old are inside the seed's last 24 hours.
        XCTAssertEqual(try upgraded.query("SELECT messages_today FROM get_high_cost_shops(1.00)").scalar, "1439")
    }

    // MARK: - Exactly once across kill -9

    /// 16 writers log usage while the daemon is SIGKILLed three times (snapshots every 300
    /// records, so segments rotate and are held for the shipper). After the last restart every
    /// event sent is re-sent (the daemon answers duplicates for the ones it had), so the set of
    /// events is exactly the events sent: PostgreSQL must hold each once, with the same costs.
    func testEventsLoggedAcrossKillNineArriveExactlyOnce() async throws {
        let conninfo = try TestPostgres.database()
        let daemon = try TestDaemon(arguments: ["--postgres", conninfo, "--host-id", "kill-host", "--snapshot-every-records", "300"])
        let occurredAt = Int64(Date().timeIntervalSince1970 * 1000)
        var sent: [LogUsageRequest] = []
        for round in 0..<3 {
            let log = SentLog()
            try await withThrowingTaskGroup(of: Void.self) { group in
                for writer in 0..<16 {
                    let client = daemon.client()
                    group.addTask {
                        for number in 0... {
                            let request = LogUsageRequest(
                                eventID: "r\(round)-w\(writer)-\(number)", shopID: "pg_shop_\(writer % 4)",
                                inputTokens: UInt64(100 + number % 900), outputTokens: UInt64(10 + writer), occurredAtUnixMs: occurredAt)
                            log.append(request)
                            guard (try? await client.logUsage(request)) != nil else { return }
                        }
                    }
                }
                try await Task.sleep(nanoseconds: 400_000_000)
                daemon.stop(signal: SIGKILL)
                try await group.waitForAll()
            }
            sent += log.requests
            try daemon.start()
        }
        let client = daemon.client(timeoutMs: 30_000)
        var costs: [String: Int64] = [:]
        for request in sent { costs[request.eventID] = try await client.logUsage(request).costNanoUSD }
        let expectedSum = costs.values.reduce(0, +)
        let database = try PostgresConnection(conninfo: conninfo)
        let shipped = try await TestPostgres.waitFor(database, "SELECT count(*), coalesce(sum(total_cost_nano_usd), 0) FROM token_usage_logs") {
            $0 == ["\(costs.count)", "\(expectedSum)"]
        }
        XCTAssertEqual(shipped, ["\(costs.count)", "\(expectedSum)"])
        // Every row is an event that was sent, with the cost the daemon answered.
        let rows = try database.query("SELECT event_id, total_cost_nano_usd, host_id FROM token_usage_logs")
        for row in rows.rows {
            XCTAssertEqual(costs[row[0]!].map { "\($0)" }, row[1], "event \(row[0]!)")
            XCTAssertEqual(row[2], "kill-host")
        }
        print("exactly once across kill -9: \(costs.count) events, \(expectedSum) nano-USD, in PostgreSQL once each")
    }

    // MARK: - PostgreSQL down under load

    /// PostgreSQL is stopped while writers log usage and ask the gate: every call is answered,
    /// the shipper reports the error; once PostgreSQL is back the backlog ships in full.
    func testPostgresStoppedUnderLoadKeepsServingAndShipsTheBacklogAfter() async throws {
        let conninfo = try TestPostgres.database()
        let daemon = try TestDaemon(arguments: ["--postgres", conninfo, "--ship-backlog-bytes-max", "20000"])
        let client = daemon.client()
        let occurredAt = Int64(Date().timeIntervalSince1970 * 1000)
        _ = try await client.logUsage(LogUsageRequest(eventID: "before", shopID: "down_shop", inputTokens: 10, occurredAtUnixMs: occurredAt))
        try TestPostgres.control("stop")
        var answered = 0
        do {
            defer { try? TestPostgres.control("start") }
            for number in 0..<500 {
                _ = try await client.canMakeRequest(CanMakeRequestRequest(shopID: "down_shop"))
                _ = try await client.logUsage(
                    LogUsageRequest(eventID: "down-\(number)", shopID: "down_shop", inputTokens: 100, occurredAtUnixMs: occurredAt))
                answered += 1
            }
            // The backoff is at most 5 s; the backlog (500 records, over 20,000 bytes) is checked after each attempt.
            var metrics = ""
            for _ in 0..<80 {
                metrics = try await client.getMetrics().text
                if metrics.contains("tokengate_ship_backlog_over_limit{host_id=\"") && metrics.contains("_over_limit{host_id=\"\(Self.host)\"} 1") { break }
                try await Task.sleep(nanoseconds: 100_000_000)
            }
            XCTAssertTrue(metrics.contains("tokengate_ship_connected{host_id=\"\(Self.host)\"} 0"), metrics)
            XCTAssertTrue(metrics.contains("tokengate_ship_last_error_info"), "no error reported while PostgreSQL is down")
            XCTAssertTrue(metrics.contains("tokengate_ship_backlog_over_limit{host_id=\"\(Self.host)\"} 1"), "no backlog alert: \(metrics)")
            let lag = MetricsText.value(metrics, "tokengate_ship_lag_records")
            XCTAssertGreaterThanOrEqual(lag ?? 0, 500, "the 500 events logged while PostgreSQL was down are not in the lag")
        }
        XCTAssertEqual(answered, 500)
        let database = try PostgresConnection(conninfo: conninfo)
        let count = try await TestPostgres.waitFor(database, "SELECT count(*) FROM token_usage_logs WHERE shop_id = 'down_shop'") { $0 == ["501"] }
        XCTAssertEqual(count, ["501"])
        // The daemon learns of the commit when it reads the batch's results: poll briefly.
        var status = try daemon.runCLI(["ship", "status", "--json"])
        for _ in 0..<50 where !status.stdout.contains("\"lag_records\":0") {
            try await Task.sleep(nanoseconds: 100_000_000)
            status = try daemon.runCLI(["ship", "status", "--json"])
        }
        XCTAssertEqual(status.exitCode, 0, status.stderr)
        XCTAssertTrue(status.stdout.contains("\"lag_records\":0"), status.stdout)
        XCTAssertTrue(status.stdout.contains("\"cursor\":501"), status.stdout)
    }

    // MARK: - Re-ship changes nothing; everything durable lands

    /// Usage of this month and last, a bill for last month, a tier assignment and alerts are
    /// shipped (the configuration's tiers and prices too). The cursor is then deleted and the
    /// daemon restarted: it ships everything again (the first segments are gone, so from the
    /// snapshot, then the log) and not one row changes (same content, same xmin).
    func testCursorDeletedFullReshipChangesNoRow() async throws {
        let conninfo = try TestPostgres.database()
        let daemon = try TestDaemon(arguments: ["--postgres", conninfo, "--snapshot-every-records", "50"])
        let client = daemon.client()
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        let lastMonth = now - 40 * 86_400_000
        for number in 0..<400 {
            _ = try await client.logUsage(
                LogUsageRequest(
                    eventID: "re-\(number)", shopID: "re_shop_\(number % 3)", model: "gemini-2.5-pro", inputTokens: 200_000,
                    outputTokens: 50_000, occurredAtUnixMs: number % 2 == 0 ? now : lastMonth))
        }
        let period = String(UTCMonth.text(lastMonth))
        let bill = try await client.generateBilling(GenerateBillingRequest(shopID: "re_shop_0", period: period))
        let assign = try daemon.runCLI(["shop-tier", "re_shop_1", "professional"])
        XCTAssertEqual(assign.exitCode, 0, assign.stderr + assign.stdout)
        let database = try PostgresConnection(conninfo: conninfo)
        _ = try await TestPostgres.waitFor(database, "SELECT count(*) FROM token_usage_logs") { $0 == ["400"] }
        _ = try await TestPostgres.waitFor(database, "SELECT count(*) FROM tokengate_tier_assignments") { $0 == ["1"] }
        XCTAssertEqual(
            try database.query("SELECT total_charge_nano_usd, messages_used FROM billing_records WHERE shop_id = 're_shop_0'").rows.first,
            ["\(bill.record.totalChargeNanoUSD)", "\(bill.record.messagesUsed)"])
        XCTAssertEqual(try database.query("SELECT tier_name FROM tokengate_tier_assignments").scalar, "professional")
        XCTAssertNotEqual(try database.query("SELECT count(*) FROM pricing_tiers").scalar, "0")
        XCTAssertNotEqual(try database.query("SELECT count(*) FROM tokengate_price_versions").scalar, "0")
        XCTAssertNotEqual(try database.query("SELECT count(*) FROM usage_alerts").scalar, "0", "the spend crossed no alert")
        // Snapshots (polled about once a second) retire shipped segments: log more until the
        // first segment is gone, so the re-ship below must start from the snapshot.
        let firstSegment = daemon.dataDirectory + "/wal-00000000000000000001.log"
        var extra = 0
        while FileManager.default.fileExists(atPath: firstSegment) && extra < 1_200 {
            for _ in 0..<60 {
                _ = try await client.logUsage(LogUsageRequest(eventID: "more-\(extra)", shopID: "re_shop_2", inputTokens: 10, occurredAtUnixMs: now))
                extra += 1
            }
            try await Task.sleep(nanoseconds: 1_200_000_000)
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: firstSegment), "no segment was retired: the snapshot path is untested")
        _ = try await TestPostgres.waitFor(database, "SELECT count(*) FROM token_usage_logs") { $0 == ["\(400 + extra)"] }
        let before = try Self.digest(database)
        let cursor = try database.query("SELECT shipped_through FROM tokengate_ship_cursor").scalar!
        try database.execute("DELETE FROM tokengate_ship_cursor")
        daemon.stop(signal: SIGTERM)
        try daemon.start()
        let reshipped = try await TestPostgres.waitFor(database, "SELECT shipped_through >= \(cursor) FROM tokengate_ship_cursor") { $0 == ["t"] }
        XCTAssertEqual(reshipped, ["t"])
        XCTAssertEqual(try Self.digest(database), before)
    }

    /// Each table's rows with their xmin, so an UPDATE that rewrote a row identically still shows.
    static func digest(_ database: PostgresConnection) throws -> [String] {
        try [
            "token_usage_logs", "billing_records", "pricing_tiers", "usage_alerts", "tokengate_price_versions",
            "tokengate_tier_assignment_history", "tokengate_tier_versions",
        ].map { table in
            try database.query("SELECT count(*) || ':' || md5(string_agg(xmin::text || t::text, ',' ORDER BY t::text)) FROM \(table) t")
                .scalar ?? ""
        }
    }

    // MARK: - Voids beside reissues, versioned tiers (migration 4)

    /// A bill, its void and its reissue arrive as two rows (one void with reason, time and
    /// uid, one live); a backdated tier assignment arrives with its time and removes the later
    /// one; tier-term versions are kept, `pricing_tiers` showing the terms in force. Shipping
    /// the same facts again (a deleted cursor) changes no row (same content, same xmin).
    func testVoidReissueAndVersionedTiersLandAndReshipChangesNoRow() throws {
        let database = try PostgresConnection(conninfo: try TestPostgres.database())
        try Migrations.migrate(database)
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        let day: Int64 = 86_400_000
        func bill(_ total: Int64, at time: Int64) -> BillingRecord {
            BillingRecord(
                shopID: "v_shop", period: "2026-10", tier: "starter", messagesUsed: 3, tokensUsed: 30, apiCostNanoUSD: 7,
                baseChargeNanoUSD: total, overageChargeNanoUSD: 0, totalChargeNanoUSD: total, generatedAtUnixMs: time)
        }
        func tier(_ fee: Int64) -> Tier {
            Tier(name: "growth", monthlyFeeNanoUSD: fee, includedMessages: 100, overagePerMessageNanoUSD: 5,
                maxMonthlySpendNanoUSD: nil, selfServe: true)
        }
        let facts: [Fact] = [
            .billing(bill(1_000, at: now - 3 * day)),
            .paidMark(PaidMark(shopID: "v_shop", period: "2026-10", paidAtUnixMs: now - 3 * day + 1)),
            .voidMark(VoidMark(shopID: "v_shop", period: "2026-10", reason: "wrong tier", voidedAtUnixMs: now - 2 * day, voidedByUID: 501)),
            .billing(bill(2_000, at: now - 2 * day + 5)),
            .tierAssignment(shopID: "v_shop", tier: "pro", effectiveFromUnixMs: now - day),
            .tierAssignment(shopID: "v_shop", tier: "growth", effectiveFromUnixMs: now - 10 * day),
            .tierAssignment(shopID: "v_shop", tier: "pro", effectiveFromUnixMs: now + 10 * day),
            .configChange(.upsertTier(UpsertTierRequest(tier: TierSettings(tier: tier(10)), effectiveFromUnixMs: 0))),
            .configChange(.upsertTier(UpsertTierRequest(tier: TierSettings(tier: tier(20)), effectiveFromUnixMs: now - day))),
            .configChange(.upsertTier(UpsertTierRequest(tier: TierSettings(tier: tier(30)), effectiveFromUnixMs: now + day))),
        ]
        func ship(through sequence: UInt64) throws {
            var batch = ShipBatch(hostID: "h1")
            for fact in facts { batch.add(fact) }
            _ = try database.pipeline(batch.statements(shippedThrough: sequence))
        }
        try ship(through: 10)
        let bills = try database.query(
            """
            SELECT total_charge_nano_usd, paid, void_reason, voided_at_unix_ms, voided_by_uid,
                   voided_at = timestamptz 'epoch' + voided_at_unix_ms * interval '1 millisecond'
            FROM billing_records WHERE shop_id = 'v_shop' AND billing_period = '2026-10-01' ORDER BY created_at
            """)
        XCTAssertEqual(
            bills.rows,
            [["1000", "t", "wrong tier", "\(now - 2 * day)", "501", "t"], ["2000", "f", nil, nil, nil, nil]])
        XCTAssertEqual(try database.query("SELECT total_charge_nano_usd FROM tokengate_live_billing_records").rows, [["2000"]])
        XCTAssertEqual(
            try database.query("SELECT tier_name, effective_from_unix_ms FROM tokengate_tier_assignment_history ORDER BY 2").rows,
            [["growth", "\(now - 10 * day)"], ["pro", "\(now + 10 * day)"]], "the backdated assignment lost its time")
        XCTAssertEqual(
            try database.query("SELECT tier_name, effective_from_unix_ms FROM tokengate_tier_assignments").rows,
            [["growth", "\(now - 10 * day)"]])
        XCTAssertEqual(
            try database.query("SELECT effective_from_unix_ms, monthly_fee_nano_usd FROM tokengate_tier_versions ORDER BY 1").rows,
            [["0", "10"], ["\(now - day)", "20"], ["\(now + day)", "30"]])
        XCTAssertEqual(try database.query("SELECT monthly_fee_nano_usd FROM pricing_tiers WHERE tier_name = 'growth'").scalar, "20")

        // The assignment history is compared by content: replaying a backdated assignment
        // re-inserts, then deletes again, the later rows it superseded (the end state is the same).
        let history = "SELECT shop_id, effective_from_unix_ms, tier_name, host_id FROM tokengate_tier_assignment_history ORDER BY 2"
        let before = try Self.digest(database)
        let historyBefore = try database.query(history).rows
        try database.execute("DELETE FROM tokengate_ship_cursor")
        try ship(through: 10)
        var after = try Self.digest(database)
        after[5] = before[5]
        XCTAssertEqual(after, before, "re-shipping the same facts changed a row")
        XCTAssertEqual(try database.query(history).rows, historyBefore)
        // A second void of the reissue, then a third bill: three rows, one live.
        var batch = ShipBatch(hostID: "h1")
        batch.add(.voidMark(VoidMark(shopID: "v_shop", period: "2026-10", reason: "again", voidedAtUnixMs: now - day, voidedByUID: 0)))
        batch.add(.billing(bill(3_000, at: now - day + 1)))
        _ = try database.pipeline(batch.statements(shippedThrough: 12))
        XCTAssertEqual(
            try database.query("SELECT total_charge_nano_usd, void_reason FROM billing_records ORDER BY created_at").rows,
            [["1000", "wrong tier"], ["2000", "again"], ["3000", nil]])
    }

    /// The same through a daemon: GenerateBilling, VoidBilling, GenerateBilling again and a
    /// backdated AssignShopTier arrive (two bills, one void with the daemon's reason, time and
    /// uid; the assignment with its time); a restart after deleting the cursor changes no row.
    func testDaemonVoidReissueAndBackdatedAssignmentArrive() async throws {
        let conninfo = try TestPostgres.database()
        let daemon = try TestDaemon(arguments: ["--postgres", conninfo])
        let client = daemon.client()
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        let lastMonth = now - 40 * 86_400_000
        for number in 0..<5 {
            _ = try await client.logUsage(
                LogUsageRequest(eventID: "vd-\(number)", shopID: "vd_shop", model: "gemini-2.5-pro", inputTokens: 100_000,
                    outputTokens: 1_000, occurredAtUnixMs: lastMonth))
        }
        let period = UTCMonth.text(lastMonth)
        _ = try await client.generateBilling(GenerateBillingRequest(shopID: "vd_shop", period: period))
        let voided = try await client.voidBilling(VoidBillingRequest(shopID: "vd_shop", period: period, reason: "tier was wrong"))
        let backdated = now - 35 * 86_400_000
        _ = try await client.assignShopTier(AssignShopTierRequest(shopID: "vd_shop", tier: "professional", effectiveFromUnixMs: backdated))
        let reissue = try await client.generateBilling(GenerateBillingRequest(shopID: "vd_shop", period: period))
        let database = try PostgresConnection(conninfo: conninfo)
        _ = try await TestPostgres.waitFor(database, "SELECT count(*) FROM billing_records") { $0 == ["2"] }
        _ = try await TestPostgres.waitFor(database, "SELECT count(*) FROM tokengate_tier_assignment_history") { $0 == ["1"] }
        let rows = try database.query(
            "SELECT void_reason, voided_at_unix_ms, voided_by_uid, total_charge_nano_usd FROM billing_records ORDER BY created_at")
        XCTAssertEqual(
            rows.rows,
            [
                ["tier was wrong", "\(voided.record.voidedAtUnixMs)", "\(voided.record.voidedByUID)", "\(voided.record.totalChargeNanoUSD)"],
                [nil, nil, nil, "\(reissue.record.totalChargeNanoUSD)"],
            ])
        XCTAssertEqual(voided.record.voidedByUID, getuid())
        XCTAssertEqual(
            try database.query("SELECT tier_name, effective_from_unix_ms FROM tokengate_tier_assignments").rows, [["professional", "\(backdated)"]])
        let before = try Self.digest(database)
        let cursor = try database.query("SELECT shipped_through FROM tokengate_ship_cursor").scalar!
        try database.execute("DELETE FROM tokengate_ship_cursor")
        daemon.stop(signal: SIGTERM)
        try daemon.start()
        let reshipped = try await TestPostgres.waitFor(database, "SELECT shipped_through >= \(cursor) FROM tokengate_ship_cursor") { $0 == ["t"] }
        XCTAssertEqual(reshipped, ["t"])
        XCTAssertEqual(try Self.digest(database), before)
    }

    /// A database at version 2 with a bill, a tier and an assignment migrates to the latest:
    /// the rows stay (the assignment and tier terms as versions holding since always, the bill
    /// live), and a void and reissue then land beside it. Migrating from the seed's version 1
    /// works too.
    func testMigrationFromVersionTwoKeepsRowsAndTakesVoids() throws {
        let database = try PostgresConnection(conninfo: try TestPostgres.database())
        XCTAssertEqual(try Migrations.migrate(database, upTo: 2).to, 2)
        try database.execute(
            """
            INSERT INTO billing_records (shop_id, billing_period, tier_name, messages_used, tokens_used, api_cost,
              api_cost_nano_usd, base_charge, base_charge_nano_usd, overage_charge, overage_charge_nano_usd, total_charge,
              total_charge_nano_usd, paid, created_at, host_id)
            VALUES ('m_shop', '2026-09-01', 'starter', 1, 2, 0, 0, 0.000000009, 9, 0, 0, 0.000000009, 9, false,
              timestamptz 'epoch' + 1000 * interval '1 millisecond', 'h');
            INSERT INTO pricing_tiers (tier_name, monthly_fee, monthly_fee_nano_usd, included_messages, overage_rate,
              overage_rate_nano_usd, self_serve) VALUES ('starter', 0.000000004, 4, 10, 0, 0, true);
            INSERT INTO tokengate_tier_assignments (shop_id, tier_name, host_id) VALUES ('m_shop', 'starter', 'h');
            """)
        let upgrade = try Migrations.migrate(database)
        XCTAssertEqual(upgrade.from, 2)
        XCTAssertEqual(upgrade.to, Migrations.latestVersion)
        XCTAssertEqual(try database.query("SELECT tier_name, effective_from_unix_ms FROM tokengate_tier_assignments").rows.first, ["starter", "0"])
        XCTAssertEqual(try database.query("SELECT effective_from_unix_ms, monthly_fee_nano_usd FROM tokengate_tier_versions").rows, [["0", "4"]])
        XCTAssertEqual(try database.query("SELECT count(*) FROM tokengate_live_billing_records").scalar, "1")
        var batch = ShipBatch(hostID: "h")
        batch.add(.voidMark(VoidMark(shopID: "m_shop", period: "2026-09", reason: "r", voidedAtUnixMs: 5_000, voidedByUID: 7)))
        batch.add(
            .billing(
                BillingRecord(
                    shopID: "m_shop", period: "2026-09", tier: "starter", messagesUsed: 1, tokensUsed: 2, apiCostNanoUSD: 0,
                    baseChargeNanoUSD: 8, overageChargeNanoUSD: 0, totalChargeNanoUSD: 8, generatedAtUnixMs: 6_000)))
        _ = try database.pipeline(batch.statements(shippedThrough: 1))
        XCTAssertEqual(
            try database.query("SELECT total_charge_nano_usd, voided_by_uid FROM billing_records ORDER BY created_at").rows,
            [["9", "7"], ["8", nil]])
        // A second live bill of a period is still refused (the partial unique index).
        XCTAssertThrowsError(
            try database.execute(
                """
                INSERT INTO billing_records (shop_id, billing_period, tier_name, messages_used, tokens_used, api_cost,
                  api_cost_nano_usd, base_charge, base_charge_nano_usd, overage_charge, overage_charge_nano_usd,
                  total_charge, total_charge_nano_usd, paid, created_at, host_id)
                VALUES ('m_shop', '2026-09-01', 'starter', 1, 2, 0, 0, 0, 0, 0, 0, 0, 0, false, now(), 'h')
                """))

        // A version numbered below one already applied (the fleet's 3, when a database was
        // migrated to 4 by a daemon without it) is applied when a daemon that knows it starts.
        let skipped = try PostgresConnection(conninfo: try TestPostgres.database())
        XCTAssertEqual(try Migrations.migrate(skipped, upTo: 4, using: Migrations.all.filter { $0.version != 3 }).to, 4)
        XCTAssertEqual(
            try skipped.query("SELECT count(*) FROM pg_tables WHERE tablename = 'tokengate_budget_pools'").scalar, "0")
        XCTAssertEqual(try Migrations.migrate(skipped).to, Migrations.latestVersion)
        XCTAssertEqual(try skipped.query("SELECT count(*) FROM tokengate_budget_pools").scalar, "0")
        XCTAssertEqual(
            try skipped.query("SELECT string_agg(version::text, ',' ORDER BY version) FROM tokengate_schema_migrations").scalar,
            Migrations.all.map { String($0.version) }.joined(separator: ","))

        let seed = try PostgresConnection(conninfo: try TestPostgres.database())
        XCTAssertEqual(try Migrations.migrate(seed, upTo: 1).to, 1)
        XCTAssertEqual(try Migrations.migrate(seed).to, Migrations.latestVersion)
        XCTAssertEqual(try seed.query("SELECT count(*) FROM tokengate_tier_assignments").scalar, "0")
    }

    // MARK: - The config file's postgres section; text that array literals must escape

    /// Shipping turned on by the config file's `postgres` section; ids and metadata holding
    /// quotes, backslashes, commas, braces and non-ASCII text arrive byte for byte.
    func testConfigFileTurnsShippingOnAndTextArrivesIntact() async throws {
        let conninfo = try TestPostgres.database()
        let config = NSTemporaryDirectory() + "tg-pg-config-\(UInt32.random(in: 0...UInt32.max)).json"
        let json = "{\"postgres\": {\"conninfo\": \"\(conninfo)\", \"host_id\": \"from-file\"}}"
        try json.write(toFile: config, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: config) }
        let daemon = try TestDaemon(arguments: ["--config", config])
        let user = #"us"er\,{x} NULL"#
        let conversation = "conv ✓ ü, \"q\""
        let metadata = UsageMetadata(messageLength: 7, extra: [MetadataEntry(key: #"k"ey"#, value: #"v\al"ue"#)])
        _ = try await daemon.client().logUsage(
            LogUsageRequest(eventID: "text-1", shopID: "text_shop", userID: user, conversationID: conversation, inputTokens: 5,
                occurredAtUnixMs: Int64(Date().timeIntervalSince1970 * 1000), metadata: metadata))
        let database = try PostgresConnection(conninfo: conninfo)
        _ = try await TestPostgres.waitFor(database, "SELECT count(*) FROM token_usage_logs") { $0 == ["1"] }
        let row = try database.query(
            #"SELECT user_id, conversation_id, host_id, metadata->>'k"ey', metadata->>'messageLength' FROM token_usage_logs"#)
        XCTAssertEqual(row.rows.first, [user, conversation, "from-file", #"v\al"ue"#, "7"])
    }

    // MARK: - The seed's SQL

    /// The seed's "monthly summary by shop" and "high-cost shops" queries, run verbatim, agree
    /// with GetMonthlySummary and GetHighCostShops (what `tokengate summary` and
    /// `tokengate high-cost` print), and get_high_cost_shops(1.00) finds the same shops.
    func testSeedQueriesAgreeWithSummaryAndHighCost() async throws {
        let conninfo = try TestPostgres.database()
        let daemon = try TestDaemon(arguments: ["--postgres", conninfo])
        let client = daemon.client()
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        for number in 0..<120 {
            let big = number % 4 == 0
            _ = try await client.logUsage(
                LogUsageRequest(
                    eventID: "seed-\(number)", shopID: "seed_shop_\(number % 5)", model: big ? "gemini-2.5-pro" : "gemini-2.5-flash",
                    inputTokens: big ? 150_000 : UInt64(1_000 + number), outputTokens: big ? 40_000 : 200, occurredAtUnixMs: now - 60_000))
        }
        let database = try PostgresConnection(conninfo: conninfo)
        _ = try await TestPostgres.waitFor(database, "SELECT count(*) FROM token_usage_logs") { $0 == ["120"] }
        let summary = try database.query(Self.seedMonthlySummary)
        let period = UTCMonth.text(now - 60_000)
        let expected = try await client.monthlySummary(GetMonthlySummaryRequest(period: period)).shops
        XCTAssertEqual(summary.rows.count, expected.count)
        for row in summary.rows {
            guard let shop = expected.first(where: { $0.shopID == row[0] }) else { return XCTFail("shop \(row[0] ?? "")") }
            XCTAssertEqual(row[2], "\(shop.messages)")
            XCTAssertEqual(row[3], "\(shop.inputTokens)")
            XCTAssertEqual(row[4], "\(shop.outputTokens)")
            XCTAssertEqual(row[5], "\(shop.totalTokens)")
            XCTAssertEqual(Self.nano(row[6]!), shop.costNanoUSD, "api_cost of \(shop.shopID)")
        }
        let highCost = try database.query(Self.seedHighCost)
        let gate = try await client.highCostShops(GetHighCostShopsRequest(thresholdNanoUSD: 1_000_000_000)).shops
        XCTAssertFalse(gate.isEmpty, "no shop spent more than $1: the test proves nothing")
        XCTAssertEqual(highCost.rows.map { $0[0]! }.sorted(), gate.map(\.shopID).sorted())
        for row in highCost.rows {
            let shop = gate.first { $0.shopID == row[0] }!
            XCTAssertEqual(row[1], "\(shop.messages)")
            XCTAssertEqual(row[2], "\(shop.tokens)")
            XCTAssertEqual(Self.nano(row[3]!), shop.costNanoUSD)
        }
        let function = try database.query("SELECT shop_id FROM get_high_cost_shops(1.00)")
        XCTAssertEqual(function.rows.map { $0[0]! }.sorted(), gate.map(\.shopID).sorted())
    }

    /// "Get Monthly Summary by Shop", verbatim from the seed.
    static let seedMonthlySummary = """
        SELECT
          shop_id,
          DATE_TRUNC('month', created_at) as month,
          COUNT(*) as message_count,
          SUM(input_tokens) as total_input_tokens,
          SUM(output_tokens) as total_output_tokens,
          SUM(total_tokens) as total_tokens,
          SUM(total_cost) as api_cost,
          AVG(total_tokens) as avg_tokens_per_msg,
          AVG(total_cost) as avg_cost_per_msg
        FROM token_usage_logs
        GROUP BY shop_id, DATE_TRUNC('month', created_at)
        ORDER BY month DESC, api_cost DESC;
        """

    /// "Identify High-Cost Shops", verbatim from the seed.
    static let seedHighCost = """
        SELECT
          shop_id,
          COUNT(*) as messages_today,
          SUM(total_tokens) as tokens_today,
          SUM(total_cost) as cost_today,
          ROUND(SUM(total_cost) * 30::numeric, 2) as projected_monthly_cost
        FROM token_usage_logs
        WHERE created_at > NOW() - INTERVAL '24 hours'
        GROUP BY shop_id
        HAVING SUM(total_cost) > 1.00  -- Cost > $1 today
        ORDER BY cost_today DESC
        LIMIT 20;
        """

    /// A numeric USD text ("1.234500000") as nano-USD, exactly.
    static func nano(_ text: String) -> Int64 {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        let whole = Int64(parts[0])!
        var fraction = parts.count > 1 ? String(parts[1]) : ""
        fraction = String((fraction + "000000000").prefix(9))
        return whole * 1_000_000_000 + Int64(fraction)!
    }

}

/// Reads one sample's value from Prometheus text.
enum MetricsText {
    static func value(_ text: String, _ name: String) -> Double? {
        for line in text.split(separator: "\n") where line.hasPrefix(name + "{") || line.hasPrefix(name + " ") {
            return line.split(separator: " ").last.flatMap { Double($0) }
        }
        return nil
    }
}

/// The sent requests of one round, shared by the writer tasks.
final class SentLog: @unchecked Sendable {
    private let lock = NSLock()
    private var sent: [LogUsageRequest] = []
    func append(_ request: LogUsageRequest) { lock.withLock { sent.append(request) } }
    var requests: [LogUsageRequest] { lock.withLock { sent } }
}

/// "YYYY-MM" of a Unix-ms time, UTC.
enum UTCMonth {
    static func text(_ unixMs: Int64) -> String {
        let date = Date(timeIntervalSince1970: Double(unixMs) / 1000)
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let parts = calendar.dateComponents([.year, .month], from: date)
        return String(format: "%04d-%02d", parts.year!, parts.month!)
    }
}

/// The PostgreSQL server of this test run (scripts/with-postgres.sh).
enum TestPostgres {
    /// Polls `sql` until `done` holds for its first row (or 60 s pass) and returns that row.
    static func waitFor(_ database: PostgresConnection, _ sql: String, _ done: ([String]) -> Bool) async throws -> [String] {
        let deadline = Date().addingTimeInterval(60)
        var row: [String] = []
        while Date() < deadline {
            row = (try database.query(sql).rows.first ?? []).map { $0 ?? "NULL" }
            if done(row) { return row }
            try await Task.sleep(nanoseconds: 50_000_000)
        }
        return row
    }

    /// A new database of its own for one test, as a conninfo; skips (or fails, under
    /// TOKENGATE_REQUIRE_POSTGRES=1) when no server was started for the run.
    static func database() throws -> String {
        let environment = ProcessInfo.processInfo.environment
        guard let admin = environment["TOKENGATE_TEST_POSTGRES"], !admin.isEmpty else {
            if environment["TOKENGATE_REQUIRE_POSTGRES"] == "1" {
                XCTFail("TOKENGATE_REQUIRE_POSTGRES=1 but TOKENGATE_TEST_POSTGRES is unset: run under scripts/with-postgres.sh")
            }
            throw XCTSkip("no PostgreSQL for this run (scripts/with-postgres.sh sets TOKENGATE_TEST_POSTGRES)")
        }
        let name = "tg_test_\(UInt64.random(in: 0...UInt64.max))"
        try PostgresConnection(conninfo: admin).execute("CREATE DATABASE \(name)")
        return admin + " dbname=\(name)"
    }

    /// `pg_ctl stop` / `pg_ctl start` of the run's server (as the postgres user under root).
    static func control(_ action: String) throws {
        let environment = ProcessInfo.processInfo.environment
        guard let pgCtl = environment["TOKENGATE_TEST_PG_CTL"], let data = environment["TOKENGATE_TEST_PG_DATA"] else {
            throw XCTSkip("scripts/with-postgres.sh did not say how to stop its server")
        }
        let runAs = environment["TOKENGATE_TEST_PG_RUN_AS"] ?? ""
        var arguments = [pgCtl, "-D", data, "-w", "-m", "fast", "-s", action]
        if action == "start" { arguments += ["-l", data + "/../server.log"] }
        if !runAs.isEmpty { arguments = ["/usr/sbin/runuser", "-u", runAs, "--"] + arguments }
        // posix_spawn and waitpid, not Foundation's Process: its waitUntilExit never returned
        // once pg_ctl had left a server running in the background.
        var pid: pid_t = 0
        let argv = arguments.map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        guard posix_spawn(&pid, arguments[0], nil, nil, argv, environ) == 0 else {
            throw TokenGateError(.internal, "cannot run \(arguments[0])")
        }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
        guard status == 0 else { throw TokenGateError(.internal, "pg_ctl \(action) exited with status \(status)") }
    }
}
