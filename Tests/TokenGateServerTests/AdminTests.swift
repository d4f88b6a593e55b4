// The configuration RPCs against the real daemon: changes through the client library take
// effect at once and survive SIGKILL and a clean restart; only admin uids may make them (a CLI
// run as another uid gets PERMISSION_DENIED); the JSON config file is loaded, and a bad file or
// one that conflicts with a logged change stops startup with a message naming the key.

import Foundation
import TokenGateClient
import XCTest

/// Runs the real CLI as uid/gid 65534 (nobody) through setpriv; the daemon's socket must be
/// reachable by that user (`--socket-mode 0666` and a traversable directory).
func runCLIAsNobody(_ daemon: TestDaemon, _ arguments: [String]) throws -> TestDaemon.CLIResult {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/setpriv")
    process.arguments = ["--reuid=65534", "--regid=65534", "--clear-groups", TestDaemon.productsDirectory + "/tokengate",
                         "--socket", daemon.socketPath] + arguments
    let out = Pipe()
    let err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    let stdout = out.fileHandleForReading.readDataToEndOfFile()
    let stderr = err.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return TestDaemon.CLIResult(
        exitCode: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self),
        stderr: String(decoding: stderr, as: UTF8.self))
}

/// Starts `tokengated` with `arguments` expecting it to fail at startup; returns its exit status and stderr.
func startupFailure(_ arguments: [String]) throws -> (status: Int32, stderr: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: TestDaemon.productsDirectory + "/tokengated")
    process.arguments = arguments
    let err = Pipe()
    process.standardError = err
    try process.run()
    let stderr = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    return (process.terminationStatus, stderr)
}

final class AdminTests: XCTestCase {
    static let dailyDollar = OperationLimits(
        maxInputTokensPerMessage: 10_000, maxOutputTokensPerMessage: 2_000, maxTotalTokensPerMessage: 12_000,
        dailyCostCapNanoUSD: 1_000_000_000, monthlyCostCapNanoUSD: 100_000_000_000, alertThresholdPercent: 80)

    /// Applies one change of every kind through the client library.
    private func changeEverything(_ client: TokenGateClient) async throws {
        _ = try await client.setLimits(.init(limits: OperationLimitsEntry(operationType: "chat_message", shopID: "shop_a", limits: Self.dailyDollar)))
        _ = try await client.setPrice(.init(version: ModelPrice(model: "house-model", version: PriceVersion(
            effectiveFromUnixMs: 0, base: PriceRates(inputPerMillion: 1_000_000_000, outputPerMillion: 2_000_000_000, cachedInputPerMillion: 0),
            source: "test"))))
        _ = try await client.upsertTier(.init(tier: TierSettings(tier: Tier(
            name: "gold", monthlyFeeNanoUSD: 99_000_000_000, includedMessages: nil, overagePerMessageNanoUSD: 0, maxMonthlySpendNanoUSD: nil,
            selfServe: false), rateLimit: RateLimit(requestsPerMinute: 600))))
        let assigned = try await client.assignShopTier(.init(shopID: "shop_a", tier: "gold"))
        XCTAssertEqual(assigned.previousTier, "starter")
        _ = try await client.setRateLimit(.init(shopID: "shop_b", rateLimit: RateLimit(requestsPerMinute: 2)))
        _ = try await client.setOptimizationRules(.init(rules: OptimizationRules(
            modelDowngrades: ["house-model": "gemini-2.5-flash"], thresholdPercent: 50, historyCap: 3)))
        let shadow = try await client.setShadowMode(.init(shopID: "shop_c", enabled: true))
        XCTAssertEqual(shadow.shadowShops, ["shop_c"])
        let policy = try await client.setUnknownShopPolicy(.init(policy: .deny))
        XCTAssertEqual(policy.policy, .deny)
    }

    func testChangesTakeEffectAndSurviveKillAndRestart() async throws {
        let daemon = try TestDaemon()
        var client = daemon.client()
        try await changeEverything(client)
        let changed = try await client.getConfiguration()
        XCTAssertEqual(changed.effectiveLimits(operationType: "chat_message", shopID: "shop_a")?.limits, Self.dailyDollar)
        XCTAssertEqual(changed.unknownShopPolicy, .deny)
        let check = try await client.canMakeRequest(.init(shopID: "shop_a", model: "house-model", estimatedInputTokens: 1_000))
        XCTAssertEqual(check.decision, .allow, "shop_a is known (assigned), priced by the new model")
        XCTAssertEqual(check.estimatedCostNanoUSD, 1_000_000)
        XCTAssertEqual(check.dailyRemainingNanoUSD, 1_000_000_000, "the shop's $1.00 override")
        let unknown = try await client.canMakeRequest(.init(shopID: "never_seen"))
        XCTAssertEqual(unknown.reason, .unknownShop)

        daemon.stop(signal: SIGKILL)
        try daemon.start()
        client = daemon.client()
        var again = try await client.getConfiguration()
        XCTAssertEqual(again, changed, "every acknowledged change survives SIGKILL (log replay)")
        daemon.stop(signal: SIGTERM)
        try daemon.start()
        client = daemon.client()
        again = try await client.getConfiguration()
        XCTAssertEqual(again, changed, "and a clean restart (snapshot)")
        let reassigned = try await client.assignShopTier(.init(shopID: "shop_a", tier: "starter"))
        XCTAssertEqual(reassigned.previousTier, "gold")
    }

    func testBadChangesGetClearStatuses() async throws {
        let daemon = try TestDaemon()
        let client = daemon.client()
        await assertStatus(.notFound) { _ = try await client.assignShopTier(.init(shopID: "s", tier: "platinum")) }
        await assertStatus(.invalidArgument) { _ = try await client.assignShopTier(.init(shopID: "", tier: "starter")) }
        await assertStatus(.invalidArgument) {
            _ = try await client.setPrice(.init(version: ModelPrice(model: "m", version: PriceVersion(
                effectiveFromUnixMs: 1_000, base: PriceRates(inputPerMillion: 1, outputPerMillion: 1, cachedInputPerMillion: 1), source: ""))))
        }
        await assertStatus(.invalidArgument) {
            _ = try await client.setOptimizationRules(.init(rules: OptimizationRules(modelDowngrades: ["a": "unpriced"], thresholdPercent: nil, historyCap: 1)))
        }
        await assertStatus(.invalidArgument) { _ = try await client.setRateLimit(.init(rateLimit: .unlimited)) }
        let config = try await client.getConfiguration()
        XCTAssertEqual(config.prices.count, 2, "refused changes change nothing")
    }

    func testNonAdminUidGetsPermissionDenied() throws {
        guard getuid() == 0, FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv") else {
            throw XCTSkip("needs root and setpriv to run a client under another uid")
        }
        let daemon = try TestDaemon(arguments: ["--socket-mode", "0666"])
        XCTAssertEqual(chmod(daemon.directory, 0o755), 0)
        let refused = try runCLIAsNobody(daemon, ["limits", "set", "--shop", "shop_x", "--daily-usd", "0.50"])
        XCTAssertEqual(refused.exitCode, 1, refused.stderr)
        XCTAssertTrue(refused.stderr.contains("PERMISSION_DENIED"), refused.stderr)
        XCTAssertTrue(refused.stderr.contains("uid 65534 is not in the admin list"), refused.stderr)
        for verb in [["shadow", "on"], ["shop-tier", "s", "professional"], ["unknown-shops", "deny"], ["rate-limit", "--shop", "s", "--rpm", "1"]] {
            let result = try runCLIAsNobody(daemon, verb)
            XCTAssertTrue(result.stderr.contains("PERMISSION_DENIED"), "\(verb): \(result.stderr)")
        }
        // The gate and reading the configuration stay open to every peer that can reach the socket.
        let check = try runCLIAsNobody(daemon, ["--json", "check", "shop_x"])
        XCTAssertEqual(check.exitCode, 0, check.stderr)
        XCTAssertEqual(try parseJSONObject(check.stdout)["decision"] as? String, "ALLOW")
        XCTAssertEqual(try runCLIAsNobody(daemon, ["limits", "list"]).exitCode, 0)
        let limits = try parseJSONObject(try daemon.runCLI(["--json", "limits", "list", "--shop", "shop_x"]).stdout)
        XCTAssertEqual((limits["limits"] as? [[String: Any]])?.contains { $0["shop_id"] as? String == "shop_x" }, false, "nothing changed")
    }

    func testAdminUidsFlagReplacesTheDefaultList() async throws {
        guard getuid() == 0, FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv") else {
            throw XCTSkip("needs root and setpriv to run a client under another uid")
        }
        let daemon = try TestDaemon(arguments: ["--socket-mode", "0666", "--admin-uids", "65534"])
        XCTAssertEqual(chmod(daemon.directory, 0o755), 0)
        await assertStatus(.permissionDenied) { _ = try await daemon.client().setShadowMode(.init(enabled: true)) }
        let allowed = try runCLIAsNobody(daemon, ["--json", "shadow", "on", "--shop", "shop_n"])
        XCTAssertEqual(allowed.exitCode, 0, allowed.stderr)
        XCTAssertEqual(try parseJSONObject(allowed.stdout)["shops"] as? [String], ["shop_n"])
    }

    func testConfigFileIsLoaded() async throws {
        let file = NSTemporaryDirectory() + "tokengate-config-\(UUID().uuidString).json"
        defer { try? FileManager.default.removeItem(atPath: file) }
        try Data("""
            {"limits": {"chat_message": {"daily_usd": "2.50"}},
             "tiers": {"gold": {"monthly_fee_usd": "99", "included_messages": "unlimited", "overage_per_message_usd": 0,
                                "max_monthly_spend_usd": "none", "requests_per_minute": 1}},
             "default_tier": "gold", "reservation_ttl_ms": 5000}
            """.utf8).write(to: URL(fileURLWithPath: file))
        let daemon = try TestDaemon(arguments: ["--config", file])
        let client = daemon.client()
        let config = try await client.getConfiguration()
        XCTAssertEqual(config.reservationTTLMs, 5_000)
        XCTAssertEqual(config.defaultTier, "gold")
        let first = try await client.canMakeRequest(.init(shopID: "s", estimatedInputTokens: 100, reserve: true))
        XCTAssertEqual(first.dailyRemainingNanoUSD, 2_500_000_000)
        XCTAssertEqual(first.reservationExpiresUnixMs - Int64(Date().timeIntervalSince1970 * 1_000), 5_000, accuracy: 2_000)
        let second = try await client.canMakeRequest(.init(shopID: "s"))
        XCTAssertEqual(second.reason, .rateLimited, "the default tier 'gold' allows one request a minute")
    }

    func testBadConfigFileStopsStartupNamingTheKey() throws {
        let directory = NSTemporaryDirectory() + "tokengate-badconfig-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let file = directory + "/config.json"
        try Data(#"{"limits": {"chat_message": {"daily_usd": "five"}}}"#.utf8).write(to: URL(fileURLWithPath: file))
        let common = ["--socket", directory + "/s.sock", "--data-dir", directory + "/data", "--config"]
        let bad = try startupFailure(common + [file])
        XCTAssertEqual(bad.status, 1)
        XCTAssertTrue(bad.stderr.contains("config file \(file): limits.chat_message.daily_usd is invalid: 'five' is not a dollar amount"), bad.stderr)
        try Data(#"{"limits": {"chat_message": {"daly_usd": "5"}}}"#.utf8).write(to: URL(fileURLWithPath: file))
        let typo = try startupFailure(common + [file])
        XCTAssertTrue(typo.stderr.contains("unknown key 'limits.chat_message.daly_usd'"), typo.stderr)
        let missing = try startupFailure(common + [directory + "/absent.json"])
        XCTAssertTrue(missing.stderr.contains("cannot be opened"), missing.stderr)
    }

    func testAFileThatConflictsWithALoggedChangeStopsStartup() async throws {
        let file = NSTemporaryDirectory() + "tokengate-config-\(UUID().uuidString).json"
        defer { try? FileManager.default.removeItem(atPath: file) }
        let withGold = #"{"tiers": {"gold": {"monthly_fee_usd": "9", "included_messages": 10, "overage_per_message_usd": "0", "max_monthly_spend_usd": "none"}}}"#
        try Data(withGold.utf8).write(to: URL(fileURLWithPath: file))
        let daemon = try TestDaemon(arguments: ["--config", file])
        _ = try await daemon.client().setRateLimit(.init(tier: "gold", rateLimit: RateLimit(requestsPerMinute: 10)))
        daemon.stop()
        try Data("{}".utf8).write(to: URL(fileURLWithPath: file))
        let failure = try startupFailure(["--socket", daemon.socketPath, "--data-dir", daemon.dataDirectory, "--config", file])
        XCTAssertEqual(failure.status, 1)
        XCTAssertTrue(failure.stderr.contains("rate limit for tier 'gold', which is not configured"), failure.stderr)
        XCTAssertTrue(failure.stderr.contains("1 run-time changes"), failure.stderr)
        try Data(withGold.utf8).write(to: URL(fileURLWithPath: file))
        try daemon.start()
        let config = try await daemon.client().getConfiguration()
        XCTAssertEqual(config.tiers.first { $0.tier.name == "gold" }?.rateLimit, RateLimit(requestsPerMinute: 10))
    }

    func testRateLimitAndShadowCounterThroughTheDaemon() async throws {
        let daemon = try TestDaemon()
        let client = daemon.client()
        _ = try await client.setRateLimit(.init(shopID: "shop_r", rateLimit: RateLimit(requestsPerMinute: 2)))
        var reasons: [DecisionReason] = []
        for _ in 0..<3 { reasons.append(try await client.canMakeRequest(.init(shopID: "shop_r")).reason) }
        XCTAssertEqual(reasons, [.withinBudget, .withinBudget, .rateLimited])

        _ = try await client.setShadowMode(.init(shopID: "shop_r", enabled: true))
        let shadowed = try await client.canMakeRequest(.init(shopID: "shop_r"))
        XCTAssertEqual(shadowed.decision, .allow)
        XCTAssertTrue(shadowed.shadowDenied)
        XCTAssertEqual(shadowed.shadowReason, .rateLimited)
        _ = try await client.canMakeRequest(.init(shopID: "shop_r", estimatedInputTokens: 50_000))
        let total = try await client.getConfiguration().shadowDeniedTotal
        XCTAssertEqual(total, 2)
        let status = try parseJSONObject(try daemon.runCLI(["--json", "shadow", "status"]).stdout)
        XCTAssertEqual(status["shadow_denied_total"] as? Int, 2)
    }
}
