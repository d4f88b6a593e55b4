// The tokengate CLI against a real daemon: the README's tour, JSON output and exit codes.
import Foundation
import XCTest

final class CLITests: XCTestCase {
    func testCheckLogDenyAndBillPreview() throws {
        let daemon = try TestDaemon()
        let check = try daemon.runCLI(["--json", "check", "shop_1"])
        XCTAssertEqual(check.exitCode, 0, check.stderr)
        XCTAssertEqual(try parseJSONObject(check.stdout)["decision"] as? String, "ALLOW")

        let log = try daemon.runCLI(["log", "shop_1", "--model", "gemini-2.5-pro", "--input-tokens", "1000000",
                                     "--output-tokens", "200000", "--event-id", "cli-1", "--json"])
        XCTAssertEqual(log.exitCode, 0, log.stderr)
        XCTAssertEqual(try parseJSONObject(log.stdout)["cost_nano_usd"] as? Int, 5_500_000_000)

        let denied = try parseJSONObject(try daemon.runCLI(["check", "shop_1", "--json"]).stdout)
        XCTAssertEqual(denied["decision"] as? String, "DENY")
        XCTAssertEqual(denied["reason"] as? String, "DAILY_CAP_REACHED")

        let period = String(ISO8601DateFormatter().string(from: Date()).prefix(7))
        let bill = try daemon.runCLI(["bill", "shop_1", "--period", period, "--preview"])
        XCTAssertEqual(bill.exitCode, 0, bill.stderr)
        XCTAssertTrue(bill.stdout.contains("base_charge"), bill.stdout)
        XCTAssertTrue(bill.stdout.contains("$5.00"), bill.stdout)
    }

    func testErrorsExitNonZeroWithOneLine() throws {
        let daemon = try TestDaemon()
        let bad = try daemon.runCLI(["bill", "shop_1", "--period", "2026-1"])
        XCTAssertEqual(bad.exitCode, 1)
        XCTAssertTrue(bad.stderr.contains("INVALID_ARGUMENT"), bad.stderr)
        XCTAssertEqual(bad.stderr.split(separator: "\n").count, 1)

        let usage = try daemon.runCLI(["check"])
        XCTAssertEqual(usage.exitCode, 2, "a missing SHOP is a usage error")

        let absent = try TestDaemon.runCLI(["--socket", daemon.directory + "/nobody.sock", "health"])
        XCTAssertEqual(absent.exitCode, 1)
        XCTAssertTrue(absent.stderr.contains("is the daemon running"), absent.stderr)
    }

    func testHelpIsAvailableForEveryVerb() throws {
        for verb in ["check", "release", "optimize", "log", "bill", "health"] {
            let help = try TestDaemon.runCLI([verb, "--help"])
            XCTAssertEqual(help.exitCode, 0)
            XCTAssertTrue(help.stdout.contains("Usage: tokengate \(verb)"), help.stdout)
        }
    }
}
