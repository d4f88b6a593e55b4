// The client library against the real daemon going away and coming back: usage logged through
// one client while tokengated is killed and restarted reaches it exactly once, and events
// spooled on disk by one worker process are delivered by the next.
import Foundation
import Synchronization
import TokenGateClient
import XCTest

final class ClientResilienceTests: XCTestCase {
    static let tasks = 16
    static let eventsPerTask = 40
    /// Each task waits here, before its event at this index, until the daemon is back.
    static let eventsBeforeRestart = 25
    /// The daemon is killed once this many events have been attempted (of 16 × 25 before the barrier).
    static let attemptsBeforeKill = 160
    /// 1,000 input tokens at $0.30/M + 100 output tokens at $2.50/M.
    static let eventCostNanoUSD: Int64 = 550_000
    static let dailyCapNanoUSD: Int64 = 5_000_000_000

    private final class Progress: Sendable {
        let attempted = Atomic(0)
        let restarted = Atomic(false)
        let logged = Atomic(0)
        let spooled = Atomic(0)
    }

    func testDaemonKilledAndRestartedWhileSixteenTasksLogUsage() async throws {
        let daemon = try TestDaemon()
        var configuration = TokenGateClient.Configuration(socketPath: daemon.socketPath)
        configuration.defaultTimeoutMs = 2_000
        configuration.spoolDirectory = daemon.directory + "/worker-spool"
        let client = try TokenGateClient(configuration: configuration)
        let progress = Progress()
        let shops = (0..<4).map { "shop_restart_\($0)" }

        async let outcomes = withThrowingTaskGroup(of: [Logged].self) { group in
            for task in 0..<Self.tasks {
                group.addTask { try await Self.logEvents(task: task, shops: shops, client: client, progress: progress) }
            }
            var all: [Logged] = []
            for try await some in group { all += some }
            return all
        }
        try await Self.restartMidway(daemon, progress: progress)
        let all = try await outcomes
        let left = await client.flushSpool(timeoutMs: 30_000)
        XCTAssertEqual(left, 0, "the spool must drain once the daemon is back")

        let sent = Self.tasks * Self.eventsPerTask
        XCTAssertEqual(all.count, sent)
        XCTAssertEqual(Set(all.map(\.outcome.eventID)).count, sent, "every event has its own id")
        let spooled = progress.spooled.load(ordering: .relaxed)
        XCTAssertGreaterThan(spooled, 0, "events logged while the daemon was down must have been spooled")
        let metrics = client.metrics
        XCTAssertEqual(Int(metrics.spooledCount), spooled)
        XCTAssertEqual(Int(metrics.resentCount), spooled, "every spooled event was acknowledged on re-send")
        XCTAssertEqual(metrics.spoolRejectedCount, 0)

        // Exactly once: every id is known to the daemon, and each shop's spend is its events' cost.
        let verifier = daemon.client()
        for logged in all {
            let recorded = try await Self.isRecorded(verifier, id: logged.outcome.eventID, shop: logged.shop)
            XCTAssertTrue(recorded, "event \(logged.outcome.eventID) must be recorded")
        }
        var counted = 0
        for shop in shops {
            let verdict = try await verifier.canMakeRequest(.init(shopID: shop))
            let spent = Self.dailyCapNanoUSD - verdict.dailyRemainingNanoUSD
            XCTAssertEqual(spent % Self.eventCostNanoUSD, 0)
            counted += Int(spent / Self.eventCostNanoUSD)
        }
        XCTAssertEqual(counted, sent, "no event is lost and none is counted twice")
        print("restart test: sent \(sent), acknowledged directly \(progress.logged.load(ordering: .relaxed)), spooled \(spooled), recovered from the spool \(metrics.resentCount), answered as duplicates on re-send \(metrics.resentDuplicateCount), counted by the daemon \(counted), double-counted \(counted - sent)")
        let spoolFile = configuration.spoolDirectory! + "/usage.spool"
        let size = try FileManager.default.attributesOfItem(atPath: spoolFile)[.size] as? Int
        XCTAssertEqual(size, 8, "the drained spool file is cut back to its header")
        client.shutdown()
    }

    func testEventsSpooledOnDiskByOneWorkerAreDeliveredByTheNext() async throws {
        let daemon = try TestDaemon()
        daemon.stop(signal: SIGTERM)
        var configuration = TokenGateClient.Configuration(socketPath: daemon.socketPath)
        configuration.spoolDirectory = daemon.directory + "/worker-spool"
        let before = try TokenGateClient(configuration: configuration)
        var ids: [String] = []
        for _ in 0..<5 {
            let outcome = try await before.logUsageOrSpool(Self.event(id: "", shop: "shop_disk"))
            guard case .spooled = outcome else { return XCTFail("the daemon is down: \(outcome)") }
            ids.append(outcome.eventID)
        }
        before.shutdown()  // the worker exits with five events on disk

        try daemon.start()
        let after = try TokenGateClient(configuration: configuration)
        XCTAssertEqual(after.metrics.spoolDepth, 5, "the new worker finds the events on disk")
        let left = await after.flushSpool(timeoutMs: 20_000)
        XCTAssertEqual(left, 0)
        XCTAssertEqual(after.metrics.resentCount, 5)
        for id in ids {
            let recorded = try await Self.isRecorded(after, id: id, shop: "shop_disk")
            XCTAssertTrue(recorded, "event \(id) must be recorded once")
        }
        let verdict = try await after.canMakeRequest(.init(shopID: "shop_disk"))
        XCTAssertEqual(Self.dailyCapNanoUSD - verdict.dailyRemainingNanoUSD, 5 * Self.eventCostNanoUSD)
        after.shutdown()
    }

    /// Issue 17: a spooled event of a month billed meanwhile, or under a reservation that ended,
    /// is recorded once (the tokens were spent); only a malformed one leaves the spool, into the
    /// dead-letter file that `tokengate dead-letters` reads.
    func testSpoolDropsNothingButMalformedEvents() async throws {
        let daemon = try TestDaemon(arguments: ["--billing-grace-hours", "0"])
        daemon.stop(signal: SIGTERM)
        let thisMonth = MonthKey(unixMs: nowMs())
        let lastMonth = thisMonth.previous
        var configuration = TokenGateClient.Configuration(socketPath: daemon.socketPath)
        configuration.spoolDirectory = daemon.directory + "/late-spool"
        let before = try TokenGateClient(configuration: configuration)
        var late = Self.event(id: "late-1", shop: "shop_late")
        late.occurredAtUnixMs = lastMonth.endUnixMs - 1
        var orphan = Self.event(id: "orphan-1", shop: "shop_late")
        orphan.reservationID = "rsv-gone-1:shop_late"
        var malformed = Self.event(id: "bad-1", shop: "shop_late")
        malformed.model = "no-such-model"
        for event in [late, orphan, malformed] {
            guard case .spooled = try await before.logUsageOrSpool(event) else { return XCTFail("the daemon is down") }
        }
        before.shutdown()

        try daemon.start()
        // Last month is closed before the spool reaches the daemon.
        let closed = try await daemon.client().generateBilling(.init(shopID: "shop_late", period: lastMonth.text))
        XCTAssertEqual(closed.record.messagesUsed, 0)
        let after = try TokenGateClient(configuration: configuration)
        let left = await after.flushSpool(timeoutMs: 20_000)
        XCTAssertEqual(left, 0)
        XCTAssertEqual(after.metrics.resentCount, 2, "the late and the orphaned event were recorded")
        XCTAssertEqual(after.metrics.spoolRejectedCount, 1, "only the malformed one was refused")
        let bill = try await after.generateBilling(.init(shopID: "shop_late", period: thisMonth.text, preview: true))
        XCTAssertEqual(bill.record.messagesUsed, 2, "the late event landed on this month's bill")
        let again = try await after.generateBilling(.init(shopID: "shop_late", period: lastMonth.text))
        XCTAssertEqual(again.record, closed.record, "the final bill did not change")
        after.shutdown()

        let letters = try TestDaemon.runCLI(["dead-letters", daemon.directory + "/late-spool", "--json"])
        XCTAssertEqual(letters.exitCode, 0, letters.stderr)
        let report = try parseJSONObject(letters.stdout)
        XCTAssertEqual(report["count"] as? Int, 1)
        let first = (report["events"] as? [[String: Any]])?.first
        XCTAssertEqual(first?["event_id"] as? String, "bad-1")
        XCTAssertEqual(first?["model"] as? String, "no-such-model")
        XCTAssertEqual(first?["code"] as? String, "NOT_FOUND")
    }

    func testGatePolicyLeavesRealAnswersAndCallerErrorsAlone() async throws {
        let daemon = try TestDaemon()
        var configuration = TokenGateClient.Configuration(socketPath: daemon.socketPath)
        configuration.whenUnreachable = .failOpen()
        let client = try TokenGateClient(configuration: configuration)
        let verdict = try await client.canMakeRequest(.init(shopID: "shop_policy"))
        XCTAssertFalse(verdict.isPolicyAnswer)
        XCTAssertEqual(verdict.reason, .withinBudget)
        await assertStatus(.invalidArgument) { _ = try await client.canMakeRequest(.init(shopID: "")) }
        daemon.stop(signal: SIGKILL)
        let down = try await client.canMakeRequest(.init(shopID: "shop_policy"))
        XCTAssertTrue(down.isPolicyAnswer)
        XCTAssertEqual(down.decision, .allow)
        XCTAssertEqual(client.metrics.failOpenCount, 1)
    }

    /// The README's Swift example, as written there (socket and spool directory aside).
    func testReadmeExample() async throws {
        let daemon = try TestDaemon()
        var configuration = TokenGateClient.Configuration(socketPath: daemon.socketPath)
        configuration.whenUnreachable = .failOpen(timeoutMs: 250)  // or .failClosed
        configuration.spoolDirectory = daemon.directory + "/spool"  // optional: survives a worker restart
        let gate = try TokenGateClient(configuration: configuration)

        let verdict = try await gate.canMakeRequest(.init(shopID: "shop_1", estimatedInputTokens: 2_000, maxOutputTokens: 500))
        var logged: LogUsageResponse?
        if verdict.decision == .allow {
            // ... call the model, then:
            switch try await gate.logUsageOrSpool(.init(shopID: "shop_1", inputTokens: 2_062, outputTokens: 201)) {
            case .logged(let response): logged = response
            case .spooled(let eventID, let depth, _): XCTFail("the daemon is up, yet \(eventID) was spooled (\(depth))")
            }
        }
        XCTAssertEqual(logged?.costNanoUSD, 1_121_100)
        XCTAssertEqual(gate.metrics.calls, 2)
        XCTAssertEqual(gate.metrics.spoolDepth, 0)
        gate.shutdown()
    }

    /// The executor example of docs/swift-client.md, as written there (a counter aside).
    func testReadmeExecutorExample() async throws {
        let daemon = try TestDaemon()
        let gate = daemon.client()
        let shops = (0..<20).map { "shop_\($0)" }
        let allowed = Counter()
        await withTaskGroup(of: Void.self) { group in
            for shop in shops {
                group.addTask(executorPreference: gate.executor) {
                    let verdict = try? await gate.canMakeRequest(.init(shopID: shop, estimatedInputTokens: 2_000, maxOutputTokens: 500))
                    if verdict?.decision == .allow { allowed.add() }
                }
            }
        }
        XCTAssertEqual(allowed.value, shops.count)
        XCTAssertEqual(gate.metrics.errors, 0)
    }

    // MARK: - Helpers

    final class Counter: Sendable {
        private let count = Mutex(0)
        func add() { count.withLock { $0 += 1 } }
        var value: Int { count.withLock { $0 } }
    }

    /// Whether the daemon holds event `id`: a re-send of it is a duplicate, or (the client
    /// stamped the event's time before its first send) refused as the same id with another
    /// occurred_at. An unknown id would be recorded anew (`duplicate` false).
    static func isRecorded(_ client: TokenGateClient, id: String, shop: String) async throws -> Bool {
        let result: Result<LogUsageResponse, TokenGateError>
        do {
            result = .success(try await client.logUsage(event(id: id, shop: shop)))
        } catch {
            result = .failure(error)
        }
        switch result {
        case .success(let response): return response.duplicate
        case .failure(let error):
            guard error.code == .alreadyExists, error.message.contains("occurred_at_unix_ms") else { throw error }
            return true
        }
    }

    static func event(id: String, shop: String) -> LogUsageRequest {
        LogUsageRequest(eventID: id, shopID: shop, userID: "u", conversationID: "c", inputTokens: 1_000, outputTokens: 100)
    }

    private struct Logged: Sendable {
        var outcome: LogUsageOutcome
        var shop: String
    }

    private static func logEvents(task: Int, shops: [String], client: TokenGateClient, progress: Progress) async throws -> [Logged] {
        var outcomes: [Logged] = []
        for index in 0..<eventsPerTask {
            if index == eventsBeforeRestart {
                while !progress.restarted.load(ordering: .acquiring) { try await Task.sleep(for: .milliseconds(5)) }
            }
            progress.attempted.add(1, ordering: .relaxed)
            let shop = shops[(task + index) % shops.count]
            let outcome = try await client.logUsageOrSpool(event(id: "", shop: shop))
            switch outcome {
            case .logged: progress.logged.add(1, ordering: .relaxed)
            case .spooled: progress.spooled.add(1, ordering: .relaxed)
            }
            outcomes.append(Logged(outcome: outcome, shop: shop))
        }
        return outcomes
    }

    /// Kills the daemon (SIGKILL) once enough events were attempted, restarts it when every
    /// task reached the barrier, then lets the tasks log the rest while the spool drains.
    private static func restartMidway(_ daemon: TestDaemon, progress: Progress) async throws {
        let beforeBarrier = tasks * eventsBeforeRestart
        while progress.attempted.load(ordering: .relaxed) < attemptsBeforeKill { try await Task.sleep(for: .milliseconds(1)) }
        await offThePool { _ = daemon.stop(signal: SIGKILL) }
        while progress.attempted.load(ordering: .relaxed) < beforeBarrier { try await Task.sleep(for: .milliseconds(2)) }
        try await offThePool { try daemon.start() }
        progress.restarted.store(true, ordering: .releasing)
    }

    /// Runs blocking test plumbing (waiting for a process) off Swift's cooperative threads.
    private static func offThePool<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async { continuation.resume(with: Result { try body() }) }
        }
    }

    private static func offThePool(_ body: @escaping @Sendable () -> Void) async {
        await withCheckedContinuation { continuation in
            DispatchQueue.global().async {
                body()
                continuation.resume()
            }
        }
    }
}
