// Who may close the books (DESIGN §3 GenerateBilling, §5): a final bill, a batch, a paid mark
// are admin actions; a preview is open to every peer. The CLI runs as a foreign uid: as root
// (CI) the test drops to `nobody` with setpriv; as another user it runs the CLI as itself
// against a daemon whose admin list is root only.
import Foundation
import TokenGateClient
import XCTest

final class BillingAccessTests: XCTestCase {
    func testFinalBillsAreAdminOnlyAndPreviewsAreOpen() async throws {
        let root = getuid() == 0
        var arguments = ["--socket-mode", "0666", "--billing-grace-hours", "0"]
        if !root { arguments += ["--admin-uids", "0"] }
        let daemon = try TestDaemon(arguments: arguments)
        // The foreign uid must be able to reach the socket in the test's temporary directory.
        XCTAssertEqual(chmod(daemon.directory, 0o711), 0)
        let lastMonth = MonthKey(unixMs: nowMs()).previous
        let client = daemon.client()
        _ = try await client.logUsage(.init(eventID: "access-1", shopID: "shop_a", inputTokens: 1_000, outputTokens: 100,
                                            occurredAtUnixMs: lastMonth.startUnixMs))

        func foreign(_ arguments: [String]) throws -> TestDaemon.CLIResult {
            let cli = TestDaemon.productsDirectory + "/tokengate"
            let command = ["--socket", daemon.socketPath] + arguments
            guard root else { return try TestDaemon.runCLI(command) }
            return try TestDaemon.run(
                "/usr/bin/setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", cli] + command)
        }
        let whoami = try foreign(["health", "--json"])
        XCTAssertEqual(whoami.exitCode, 0, "the foreign uid reaches the daemon: \(whoami.stderr)")

        let preview = try foreign(["bill", "shop_a", "--period", lastMonth.text, "--preview", "--json"])
        XCTAssertEqual(preview.exitCode, 0, preview.stderr)
        XCTAssertEqual(try parseJSONObject(preview.stdout)["messages_used"] as? Int, 1, preview.stdout)

        for denied in [["bill", "shop_a", "--period", lastMonth.text], ["bill-all", "--period", lastMonth.text],
                       ["mark-paid", "shop_a", "--period", lastMonth.text]] {
            let result = try foreign(denied)
            XCTAssertEqual(result.exitCode, 1, "\(denied): \(result.stdout)")
            XCTAssertTrue(result.stderr.contains("PERMISSION_DENIED"), "\(denied): \(result.stderr)")
        }
        let records = try await client.listBillingRecords(.init(shopID: "shop_a")).records
        XCTAssertEqual(records, [], "nothing was stored")
        if root {
            let stored = try await client.generateBilling(.init(shopID: "shop_a", period: lastMonth.text))
            XCTAssertTrue(stored.newlyStored, "root is an admin")
            // A stored record is still no business of a foreign peer asking for a final bill.
            let again = try foreign(["bill", "shop_a", "--period", lastMonth.text])
            XCTAssertTrue(again.stderr.contains("PERMISSION_DENIED"), again.stderr)
        }
    }

    func testGracePeriodDelaysFinalBillsAndSaysWhen() async throws {
        // A year of grace: last month cannot be closed yet, whatever today is.
        let daemon = try TestDaemon(arguments: ["--billing-grace-hours", "8760"])
        let client = daemon.client()
        let lastMonth = MonthKey(unixMs: nowMs()).previous
        _ = try await client.logUsage(.init(eventID: "grace-1", shopID: "shop_g", inputTokens: 10, outputTokens: 1,
                                            occurredAtUnixMs: lastMonth.startUnixMs))
        let possible = UTCCalendar.iso8601(lastMonth.endUnixMs + 8_760 * 3_600_000)
        do {
            _ = try await client.generateBilling(.init(shopID: "shop_g", period: lastMonth.text))
            XCTFail("a final bill inside the grace period must be refused")
        } catch {
            XCTAssertEqual(error.code, .failedPrecondition)
            XCTAssertTrue(error.message.contains("possible from \(possible)"), error.message)
        }
        await assertStatus(.failedPrecondition) { _ = try await client.generateBillingBatch(.init(period: lastMonth.text)) }
        let preview = try await client.generateBilling(.init(shopID: "shop_g", period: lastMonth.text, preview: true))
        XCTAssertEqual(preview.record.messagesUsed, 1, "previews are not delayed")

        // The config file's billing_grace_hours, overridden by the flag.
        daemon.stop()
        let file = daemon.directory + "/config.json"
        try Data(#"{"billing_grace_hours": 0}"#.utf8).write(to: URL(fileURLWithPath: file))
        daemon.extraArguments = ["--config", file]
        try daemon.start()
        let stored = try await daemon.client().generateBilling(.init(shopID: "shop_g", period: lastMonth.text))
        XCTAssertTrue(stored.newlyStored, "billing_grace_hours 0 in the config file")
        daemon.stop()
        daemon.extraArguments = ["--config", file, "--billing-grace-hours", "8760"]
        try daemon.start()
        await assertStatus(.failedPrecondition) { _ = try await daemon.client().generateBillingBatch(.init(period: lastMonth.text)) }
        let bad = try TestDaemon.run(TestDaemon.productsDirectory + "/tokengated", ["--billing-grace-hours", "-1"])
        XCTAssertEqual(bad.exitCode, 2)
        XCTAssertTrue(bad.stderr.contains("--billing-grace-hours must be 0...8760"), bad.stderr)
    }
}

final class IdempotencyEndToEndTests: XCTestCase {
    func testClientAlwaysSendsAnEventIDAndConflictsAreAlreadyExists() async throws {
        let daemon = try TestDaemon()
        let client = daemon.client()
        let first = try await client.logUsage(.init(shopID: "shop_i", inputTokens: 100, outputTokens: 10))
        XCTAssertTrue(first.eventID.hasPrefix("tgc-"), "the client names the event: \(first.eventID)")
        XCTAssertEqual(first.eventID.count, 4 + 36)
        let retry = try await client.logUsage(.init(eventID: first.eventID, shopID: "shop_i", inputTokens: 100, outputTokens: 10))
        XCTAssertTrue(retry.duplicate)
        XCTAssertEqual(retry.monthlyTotalNanoUSD, first.monthlyTotalNanoUSD)
        do {
            _ = try await client.logUsage(.init(eventID: first.eventID, shopID: "shop_j", inputTokens: 100, outputTokens: 10))
            XCTFail("one id under two shops must be refused")
        } catch {
            XCTAssertEqual(error.code, .alreadyExists)
            XCTAssertTrue(error.message.contains("shop_id"), error.message)
        }
        await assertStatus(.alreadyExists) {
            _ = try await client.logUsage(.init(eventID: first.eventID, shopID: "shop_i", inputTokens: 101, outputTokens: 10))
        }
    }
}

final class VoidEndToEndTests: XCTestCase {
    func testVoidThroughTheCLIKeepsBothRecords() async throws {
        let daemon = try TestDaemon(arguments: ["--billing-grace-hours", "0"])
        let client = daemon.client()
        let lastMonth = MonthKey(unixMs: nowMs()).previous
        _ = try await client.logUsage(.init(eventID: "void-1", shopID: "shop_vd", inputTokens: 10, outputTokens: 1,
                                            occurredAtUnixMs: lastMonth.startUnixMs))
        _ = try await client.generateBilling(.init(shopID: "shop_vd", period: lastMonth.text))
        let usage = try daemon.runCLI(["void", "shop_vd", "--period", lastMonth.text])
        XCTAssertEqual(usage.exitCode, 2, "--reason is required")
        let voided = try daemon.runCLI(["void", "shop_vd", "--period", lastMonth.text, "--reason", "wrong tier", "--json"])
        XCTAssertEqual(voided.exitCode, 0, voided.stderr)
        XCTAssertEqual(try parseJSONObject(voided.stdout)["void_reason"] as? String, "wrong tier")
        _ = try await client.generateBilling(.init(shopID: "shop_vd", period: lastMonth.text))
        let bills = try daemon.runCLI(["bills", "shop_vd", "--json"])
        XCTAssertEqual(bills.exitCode, 0, bills.stderr)
        let records = try parseJSONObject(bills.stdout)["records"] as? [[String: Any]]
        XCTAssertEqual(records?.map { $0["void"] as? Bool }, [true, false])
        XCTAssertEqual(records?.first?["voided_by_uid"] as? Int, Int(getuid()))
        let text = try daemon.runCLI(["bills", "shop_vd"])
        XCTAssertTrue(text.stdout.contains("VOID"), text.stdout)
        XCTAssertTrue(text.stdout.contains("wrong tier"), text.stdout)
        await assertStatus(.notFound) { _ = try await client.voidBilling(.init(shopID: "shop_vd", period: "2020-01", reason: "x")) }
    }
}
