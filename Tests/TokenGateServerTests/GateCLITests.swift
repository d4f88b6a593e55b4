// The gate through the CLI and the wire: reserve, settle and release with the fixed verb names,
// every configuration verb with exact dollar parsing, and bad input (empty shop id, huge token
// counts, unknown operation type, invalid UTF-8, amounts that overflow) answered with a clear
// status and a message.

import Foundation
import TokenGateClient
import TokenGateWire
import XCTest

final class GateCLITests: XCTestCase {
    private func json(_ daemon: TestDaemon, _ arguments: [String], file: StaticString = #filePath, line: UInt = #line) throws -> [String: Any] {
        let result = try daemon.runCLI(["--json"] + arguments)
        XCTAssertEqual(result.exitCode, 0, "\(arguments): \(result.stderr)", file: file, line: line)
        return try parseJSONObject(result.stdout, file: file, line: line)
    }

    func testReserveLogAndReleaseThroughTheCLI() throws {
        let daemon = try TestDaemon()
        let held = try json(daemon, ["check", "shop_1", "--reserve", "--input-tokens", "2000", "--output-tokens", "500"])
        let id = try XCTUnwrap(held["reservation_id"] as? String)
        XCTAssertEqual(held["estimated_cost_nano_usd"] as? Int, 1_850_000)
        let afterHold = try json(daemon, ["check", "shop_1"])
        XCTAssertEqual(afterHold["daily_remaining_nano_usd"] as? Int, 5_000_000_000 - 1_850_000, "the hold counts as spent")
        let logged = try json(daemon, ["log", "shop_1", "--input-tokens", "1000", "--output-tokens", "100", "--reservation", id])
        XCTAssertEqual(logged["cost_nano_usd"] as? Int, 550_000)
        let settled = try json(daemon, ["check", "shop_1"])
        XCTAssertEqual(settled["daily_remaining_nano_usd"] as? Int, 5_000_000_000 - 550_000, "settled at the actual cost")
        let twice = try daemon.runCLI(["release", id])
        XCTAssertEqual(twice.exitCode, 1)
        XCTAssertTrue(twice.stderr.contains("FAILED_PRECONDITION") && twice.stderr.contains("already settled"), twice.stderr)

        let second = try XCTUnwrap(try json(daemon, ["check", "shop_1", "--reserve", "--output-tokens", "2000"])["reservation_id"] as? String)
        XCTAssertEqual(try json(daemon, ["release", second])["released_nano_usd"] as? Int, 5_000_000)
        let again = try daemon.runCLI(["release", second])
        XCTAssertTrue(again.stderr.contains("already released"), again.stderr)
        let unknown = try daemon.runCLI(["release", "rsv-nope:shop_1"])
        XCTAssertTrue(unknown.stderr.contains("NOT_FOUND"), unknown.stderr)
    }

    func testConfigurationVerbs() throws {
        let daemon = try TestDaemon()
        // limits: partial changes keep the other values; amounts are exact decimal text.
        let limits = try json(daemon, ["limits", "set", "--shop", "shop_l", "--daily-usd", "0.000000001", "--max-output", "500"])
        let entry = try XCTUnwrap((limits["limits"] as? [[String: Any]])?.first)
        XCTAssertEqual(entry["daily_cap_nano_usd"] as? Int, 1)
        XCTAssertEqual(entry["max_output_tokens"] as? Int, 500)
        XCTAssertEqual(entry["max_input_tokens"] as? Int, 10_000)
        XCTAssertEqual(entry["monthly_cap_nano_usd"] as? Int, 100_000_000_000)
        let tooPrecise = try daemon.runCLI(["limits", "set", "--daily-usd", "1.0000000001"])
        XCTAssertEqual(tooPrecise.exitCode, 2, "more than 9 decimals cannot be nano-USD")
        XCTAssertTrue(tooPrecise.stderr.contains("--daily-usd"), tooPrecise.stderr)
        let listed = try json(daemon, ["limits", "list", "--shop", "shop_l", "--op", "chat_message"])
        XCTAssertEqual((listed["limits"] as? [[String: Any]])?.count, 2, "the default and the shop's override")

        // prices: a new model, then its price in the list.
        let price = try json(daemon, ["prices", "set", "house", "--input-usd", "0.10", "--output-usd", "0.40", "--above-tokens", "1000",
                                      "--above-input-usd", "0.2", "--above-output-usd", "0.8", "--source", "test list"])
        XCTAssertEqual((price["price_usd_per_million_tokens"] as? [String: Any])?["input_per_million_nano_usd"] as? Int, 100_000_000)
        let prices = try json(daemon, ["prices", "list"])
        let house = (prices["prices_usd_per_million_tokens"] as? [[String: Any]])?.first { $0["model"] as? String == "house" }
        XCTAssertEqual((house?["prompt_tiers"] as? [[String: Any]])?.first?["prompt_tokens_above"] as? Int, 1_000)
        XCTAssertEqual(try json(daemon, ["check", "s", "--model", "house", "--input-tokens", "1000"])["estimated_cost_nano_usd"] as? Int, 100_000)

        // tiers: a new tier needs every price; a change keeps what it does not name.
        let incomplete = try daemon.runCLI(["tiers", "set", "gold", "--fee", "99"])
        XCTAssertEqual(incomplete.exitCode, 2)
        XCTAssertTrue(incomplete.stderr.contains("missing --included (gold is a new tier)"), incomplete.stderr)
        _ = try json(daemon, ["tiers", "set", "gold", "--fee", "99", "--included", "unlimited", "--overage", "0", "--cap", "none", "--rpm", "100"])
        let gold = try json(daemon, ["tiers", "set", "gold", "--fee", "89.50"])["tier"] as? [String: Any]
        XCTAssertEqual(gold?["monthly_fee_nano_usd"] as? Int, 89_500_000_000)
        XCTAssertEqual(gold?["requests_per_minute"] as? Int, 100)
        XCTAssertEqual(gold?["unlimited_messages"] as? Bool, true)
        XCTAssertEqual(try json(daemon, ["shop-tier", "shop_l", "gold"])["previous_tier"] as? String, "starter")

        // rate limits, rules, shadow mode, the unknown-shop policy, the summary.
        XCTAssertEqual(try json(daemon, ["rate-limit", "--shop", "shop_r", "--tpm", "5000"])["tokens_per_minute"] as? Int, 5_000)
        let rules = try json(daemon, ["rules", "set", "--downgrade", "house=gemini-2.5-flash", "--history-cap", "2"])
        XCTAssertEqual((rules["downgrades"] as? [[String: Any]])?.count, 2)
        XCTAssertEqual(rules["history_cap"] as? Int, 2)
        XCTAssertEqual(try json(daemon, ["shadow", "on"])["global"] as? Bool, true)
        XCTAssertEqual(try json(daemon, ["shadow", "off"])["global"] as? Bool, false)
        XCTAssertEqual(try json(daemon, ["shadow", "on", "--shop", "shop_s"])["shops"] as? [String], ["shop_s"])
        XCTAssertEqual(try json(daemon, ["unknown-shops", "deny"])["policy"] as? String, "deny")
        let summary = try json(daemon, ["config"])
        XCTAssertEqual(summary["unknown_shops"] as? String, "deny")
        XCTAssertEqual(summary["shop_rate_limits"] as? Int, 1)
        XCTAssertEqual(summary["shadow_shops"] as? [String], ["shop_s"])
        let human = try daemon.runCLI(["tiers", "list"])
        XCTAssertTrue(human.stdout.contains("gold") && human.stdout.contains("fee $89.50"), human.stdout)
    }

    func testHelpForTheConfigurationVerbs() throws {
        for verb in ["config", "prices", "tiers", "shop-tier", "limits", "rate-limit", "rules", "shadow", "unknown-shops"] {
            let help = try TestDaemon.runCLI([verb, "--help"])
            XCTAssertEqual(help.exitCode, 0)
            XCTAssertTrue(help.stdout.contains("Usage: tokengate \(verb)"), help.stdout)
        }
    }

    func testBadInputIsInvalidArgumentWithAMessage() async throws {
        let daemon = try TestDaemon()
        let client = daemon.client()
        let huge = CoreLimits.tokensPerCallMax + 1
        await assertStatus(.invalidArgument) { _ = try await client.canMakeRequest(.init(shopID: "")) }
        await assertStatus(.invalidArgument) { _ = try await client.logUsage(.init(shopID: "")) }
        await assertStatus(.invalidArgument) { _ = try await client.canMakeRequest(.init(shopID: "s", estimatedInputTokens: huge)) }
        await assertStatus(.invalidArgument) { _ = try await client.logUsage(.init(shopID: "s", outputTokens: huge)) }
        await assertStatus(.invalidArgument) { _ = try await client.logUsage(.init(shopID: "s", operationType: "video")) }
        await assertStatus(.invalidArgument) { _ = try await client.applyOptimization(.init(shopID: "s", operationType: "video")) }
        await assertStatus(.invalidArgument) { _ = try await client.logUsage(.init(shopID: "s", inputTokens: 5, cachedInputTokens: 6)) }
        // A check with no tokens is a budget probe, and a usage event with none counts one $0 message.
        let probe = try await client.canMakeRequest(.init(shopID: "s"))
        XCTAssertEqual(probe.decision, .allow)
        let empty = try await client.logUsage(.init(shopID: "s"))
        XCTAssertEqual(empty.costNanoUSD, 0)

        // Invalid UTF-8 in shop_id, sent as raw bytes: field 1, length 2, 0xFF 0xFE.
        let fd = try UnixSocket.connect(path: daemon.socketPath)
        defer { UnixSocket.close(fd) }
        var out: [UInt8] = []
        let request = RequestEnvelope(callID: 7, method: MethodPath.canMakeRequest, payload: [0x0A, 0x02, 0xFF, 0xFE])
        Framing.appendFrame(request.encoded(), to: &out)
        try UnixSocket.writeAll(fd, out)
        var reader = FrameReader(frameBytesMax: 1 << 20)
        var chunk = [UInt8](repeating: 0, count: 4_096)
        var frame: [UInt8]?
        while frame == nil {
            let count = try UnixSocket.read(fd, into: &chunk)
            guard count > 0 else { break }
            reader.append(chunk[0..<count])
            frame = try reader.nextFrame()
        }
        let response = try ResponseEnvelope.decode(try XCTUnwrap(frame))
        XCTAssertEqual(response.callID, 7)
        XCTAssertEqual(response.statusCode, StatusCode.invalidArgument.rawValue)
        XCTAssertEqual(response.statusMessage, "can_make_request.shop_id is not valid UTF-8")
    }

    func testMoneyOverflowIsAClearErrorNotAWrap() async throws {
        let daemon = try TestDaemon()
        let client = daemon.client()
        // $9 billion per million tokens: 10 billion tokens would cost $90 trillion, past Int64 nano-USD.
        _ = try await client.setPrice(.init(version: ModelPrice(model: "gold-plated", version: PriceVersion(
            effectiveFromUnixMs: 0, base: PriceRates(inputPerMillion: 9_000_000_000_000_000_000, outputPerMillion: 0, cachedInputPerMillion: 0),
            source: "test"))))
        let tokens = CoreLimits.tokensPerCallMax
        do {
            _ = try await client.logUsage(.init(shopID: "s", model: "gold-plated", inputTokens: tokens))
            XCTFail("a cost past Int64 nano-USD must be refused")
        } catch {
            XCTAssertEqual(error.code, .outOfRange)
            XCTAssertTrue(error.message.contains("overflow"), error.message)
        }
        await assertStatus(.outOfRange) {
            _ = try await client.canMakeRequest(.init(shopID: "s", model: "gold-plated", estimatedInputTokens: tokens))
        }
        let cli = try daemon.runCLI(["limits", "set", "--daily-usd", "99999999999"])
        XCTAssertEqual(cli.exitCode, 2)
        XCTAssertTrue(cli.stderr.contains("too large"), cli.stderr)
    }
}
