// End-to-end tests: the real tokengated on a temporary socket, driven through TokenGateClient,
// raw frames and the tokengate CLI.
import Foundation
import TokenGateClient
import TokenGateWire
import XCTest

final class EndToEndTests: XCTestCase {
    /// An event that alone costs more than the default $5.00 daily cap: 1M prompt tokens of
    /// gemini-2.5-pro are priced at the >200k rate ($2.50/M in, $15.00/M out) = $2.50 + $3.00.
    static func expensiveEvent(shop: String, id: String = "") -> LogUsageRequest {
        LogUsageRequest(eventID: id, shopID: shop, userID: "u1", conversationID: "c1", model: "gemini-2.5-pro",
                        inputTokens: 1_000_000, outputTokens: 200_000)
    }

    func testFreshShopIsAllowedWithFullBudget() async throws {
        let daemon = try TestDaemon()
        let response = try await daemon.client().canMakeRequest(.init(shopID: "shop_1", estimatedInputTokens: 2_000, maxOutputTokens: 500))
        XCTAssertEqual(response.decision, .allow)
        XCTAssertEqual(response.reason, .withinBudget)
        XCTAssertEqual(response.dailyRemainingNanoUSD, 5_000_000_000)
        XCTAssertEqual(response.monthlyRemainingNanoUSD, 100_000_000_000)
        // 2,000 in at $0.30/M + 500 out at $2.50/M = $0.0006 + $0.00125.
        XCTAssertEqual(response.estimatedCostNanoUSD, 1_850_000)
    }

    func testUsagePastTheDailyCapDeniesTheNextCheck() async throws {
        let daemon = try TestDaemon()
        let client = daemon.client()
        let logged = try await client.logUsage(Self.expensiveEvent(shop: "shop_cap"))
        XCTAssertEqual(logged.costNanoUSD, 5_500_000_000)
        XCTAssertEqual(logged.dailyTotalNanoUSD, 5_500_000_000)
        XCTAssertFalse(logged.violations.isEmpty, "1M input tokens is over chat_message's 10,000 per-message limit")
        let verdict = try await client.canMakeRequest(.init(shopID: "shop_cap", estimatedInputTokens: 10, maxOutputTokens: 10))
        XCTAssertEqual(verdict.decision, .deny)
        XCTAssertEqual(verdict.reason, .dailyCapReached)
        XCTAssertEqual(verdict.dailyRemainingNanoUSD, 0)
        let other = try await client.canMakeRequest(.init(shopID: "shop_other"))
        XCTAssertEqual(other.decision, .allow, "one shop's spend must not affect another's")
    }

    func testLogUsageIsIdempotentByEventID() async throws {
        let daemon = try TestDaemon()
        let client = daemon.client()
        let request = LogUsageRequest(eventID: "evt-1", shopID: "shop_idem", inputTokens: 2_062, outputTokens: 201)
        let first = try await client.logUsage(request)
        let second = try await client.logUsage(request)
        XCTAssertFalse(first.duplicate)
        XCTAssertTrue(second.duplicate)
        XCTAssertEqual(first.costNanoUSD, second.costNanoUSD)
        XCTAssertEqual(second.dailyTotalNanoUSD, first.costNanoUSD, "the repeat must not be counted twice")
        // 2,062 × $0.30/M = 618,600 nano; 201 × $2.50/M = 502,500 nano.
        XCTAssertEqual(first.costNanoUSD, 1_121_100)
    }

    func testManyConcurrentCallsShareOneConnection() async throws {
        let daemon = try TestDaemon()
        let client = daemon.client()
        let results = try await withThrowingTaskGroup(of: LogUsageResponse.self) { group in
            for index in 0..<300 {
                group.addTask {
                    try await client.logUsage(.init(eventID: "e\(index)", shopID: "shop_\(index % 7)", inputTokens: 1_000, outputTokens: 100))
                }
            }
            var all: [LogUsageResponse] = []
            for try await result in group { all.append(result) }
            return all
        }
        XCTAssertEqual(Set(results.map(\.eventID)).count, 300)
        XCTAssertTrue(results.allSatisfy { !$0.duplicate && $0.costNanoUSD == 550_000 })
    }

    func testBillingStoresOncePerPeriodAndPreviewsTheOpenMonth() async throws {
        let daemon = try TestDaemon(arguments: ["--billing-grace-hours", "0"])
        let client = daemon.client()
        let now = Int64(Date().timeIntervalSince1970 * 1_000)
        let lastMonth = MonthKey(unixMs: MonthKey(unixMs: now).startUnixMs - 1)
        for index in 0..<3 {
            _ = try await client.logUsage(.init(eventID: "b\(index)", shopID: "shop_bill", inputTokens: 1_000, outputTokens: 100,
                                                occurredAtUnixMs: lastMonth.startUnixMs + 3_600_000))
        }
        let stored = try await client.generateBilling(.init(shopID: "shop_bill", period: lastMonth.text))
        XCTAssertTrue(stored.newlyStored)
        XCTAssertEqual(stored.record.messagesUsed, 3)
        XCTAssertEqual(stored.record.tier, "starter")
        XCTAssertEqual(stored.record.baseChargeNanoUSD, 5_000_000_000)
        XCTAssertEqual(stored.record.totalChargeNanoUSD, 5_000_000_000)
        let again = try await client.generateBilling(.init(shopID: "shop_bill", period: lastMonth.text))
        XCTAssertFalse(again.newlyStored)
        XCTAssertEqual(again.record, stored.record)

        let current = MonthKey(unixMs: now).text
        do {
            _ = try await client.generateBilling(.init(shopID: "shop_bill", period: current))
            XCTFail("billing an open month without preview must fail")
        } catch {
            XCTAssertEqual(error.code, .failedPrecondition)
        }
        let preview = try await client.generateBilling(.init(shopID: "shop_bill", period: current, preview: true))
        XCTAssertTrue(preview.record.preview)
        // Usage of the billed month is still recorded (the tokens were spent): it lands on this month's bill.
        let late = try await client.logUsage(.init(shopID: "shop_bill", inputTokens: 1, outputTokens: 1,
                                                   occurredAtUnixMs: lastMonth.startUnixMs + 7_200_000, reservationID: "rsv-gone"))
        XCTAssertEqual(late.billingPeriod, current)
        XCTAssertEqual(late.reservationOutcome, .unknown)
        let after = try await client.generateBilling(.init(shopID: "shop_bill", period: current, preview: true))
        XCTAssertEqual(after.record.messagesUsed, preview.record.messagesUsed + 1, "the late event is on this month's bill")
        let final = try await client.generateBilling(.init(shopID: "shop_bill", period: lastMonth.text))
        XCTAssertEqual(final.record, again.record, "a final bill never changes")
    }

    func testBadInputGetsClearStatuses() async throws {
        let daemon = try TestDaemon()
        let client = daemon.client()
        await assertStatus(.invalidArgument) { _ = try await client.canMakeRequest(.init(shopID: "")) }
        await assertStatus(.invalidArgument) { _ = try await client.canMakeRequest(.init(shopID: "s", operationType: "no_such_op")) }
        await assertStatus(.notFound) { _ = try await client.canMakeRequest(.init(shopID: "s", model: "gpt-imaginary")) }
        await assertStatus(.invalidArgument) { _ = try await client.generateBilling(.init(shopID: "s", period: "2026-13")) }
        await assertStatus(.unimplemented) {
            let _: HealthCheckResponse = try await client.call("/tokengate.v1.BudgetService/NoSuchMethod", HealthCheckRequest())
        }
        let still = try await client.canMakeRequest(.init(shopID: "s"))
        XCTAssertEqual(still.decision, .allow, "errors must not break the connection")
    }

    func testOversizedFrameIsRefusedAndConnectionClosed() throws {
        let daemon = try TestDaemon()
        let fd = try UnixSocket.connect(path: daemon.socketPath)
        defer { UnixSocket.close(fd) }
        try UnixSocket.writeAll(fd, [0xFF, 0xFF, 0xFF, 0xFF])
        var reader = FrameReader(frameBytesMax: 1 << 20)
        var chunk = [UInt8](repeating: 0, count: 4_096)
        var frames: [[UInt8]] = []
        while true {
            let count = try UnixSocket.read(fd, into: &chunk)
            if count == 0 { break }
            reader.append(chunk[0..<count])
            while let frame = try reader.nextFrame() { frames.append(frame) }
        }
        XCTAssertEqual(frames.count, 1)
        let response = try ResponseEnvelope.decode(frames[0])
        XCTAssertEqual(response.statusCode, StatusCode.resourceExhausted.rawValue)
    }

    func testAcknowledgedUsageSurvivesCleanRestartAndKill() async throws {
        let daemon = try TestDaemon()
        var client = daemon.client()
        let first = try await client.logUsage(.init(eventID: "keep-1", shopID: "shop_durable", inputTokens: 5_000, outputTokens: 500))
        XCTAssertEqual(daemon.stop(signal: SIGTERM), 0, "a clean shutdown exits 0")
        try daemon.start()
        client = daemon.client()
        let replay = try await client.logUsage(.init(eventID: "keep-1", shopID: "shop_durable", inputTokens: 5_000, outputTokens: 500))
        XCTAssertTrue(replay.duplicate, "the event must be known after a snapshot restart")
        _ = try await client.logUsage(.init(eventID: "keep-2", shopID: "shop_durable", inputTokens: 5_000, outputTokens: 500))
        daemon.stop(signal: SIGKILL)
        try daemon.start()
        client = daemon.client()
        let after = try await client.logUsage(.init(eventID: "keep-2", shopID: "shop_durable", inputTokens: 5_000, outputTokens: 500))
        XCTAssertTrue(after.duplicate, "an acknowledged event must survive SIGKILL")
        XCTAssertEqual(after.dailyTotalNanoUSD, 2 * first.costNanoUSD)
    }

    func testSecondDaemonOnTheSameSocketRefusesToStart() throws {
        let daemon = try TestDaemon()
        let second = Process()
        second.executableURL = URL(fileURLWithPath: TestDaemon.productsDirectory + "/tokengated")
        second.arguments = ["--socket", daemon.socketPath, "--data-dir", daemon.directory + "/other"]
        let err = Pipe()
        second.standardError = err
        try second.run()
        let message = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        second.waitUntilExit()
        XCTAssertNotEqual(second.terminationStatus, 0)
        XCTAssertTrue(message.contains("another tokengated"), message)
        XCTAssertEqual(try daemon.runCLI(["health"]).exitCode, 0, "the running daemon must be untouched")
    }
}

func assertStatus(
    _ code: StatusCode, file: StaticString = #filePath, line: UInt = #line, _ body: () async throws -> Void
) async {
    do {
        try await body()
        XCTFail("expected \(code)", file: file, line: line)
    } catch {
        guard let error = error as? TokenGateError else {
            XCTFail("expected a TokenGateError, got \(error)", file: file, line: line)
            return
        }
        XCTAssertEqual(error.code, code, error.message, file: file, line: line)
        XCTAssertFalse(error.message.isEmpty, "an error needs a message a person can act on", file: file, line: line)
    }
}

final class StreamingTests: XCTestCase {
    func testHealthWatchStreamsStatusAndEndsOnShutdown() async throws {
        let daemon = try TestDaemon()
        let client = daemon.client()
        var statuses: [ServingStatus] = []
        var ending: TokenGateError?
        do {
            for try await update in client.watchHealth() {
                statuses.append(update.status)
                if statuses.count == 1 {
                    // Unary calls keep working on the same connection while the stream is open.
                    let verdict = try await client.canMakeRequest(.init(shopID: "shop_watch"))
                    XCTAssertEqual(verdict.decision, .allow)
                    kill(daemon.process!.processIdentifier, SIGTERM)
                }
            }
        } catch let error as TokenGateError {
            ending = error
        }
        XCTAssertEqual(statuses.first, .serving)
        XCTAssertEqual(statuses.last, .notServing, "draining must be announced to watchers")
        XCTAssertEqual(ending?.code, .unavailable)
        XCTAssertEqual(daemon.stop(signal: SIGTERM), 0)
    }
}
