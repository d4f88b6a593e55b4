// End-to-end tests of billing, reports, usage logs and alerts: the real tokengated on a
// temporary socket driven through TokenGateClient (previews and stored bills, batch billing,
// paid marks, paging across a restart while events arrive, alert watchers, the startup run of
// the daily high-cost check), plus the scheduler itself in-process with an injected clock.

import Foundation
import Synchronization
import TokenGateClient
import TokenGateWire
import XCTest

@testable import TokenGateServer
@testable import TokenGateStore

/// An expensive backfillable event: 1M input + 200k output tokens of gemini-2.5-pro, $5.50.
func expensiveEvent(_ id: String, shop: String, at occurredAt: UnixMillis = 0) -> LogUsageRequest {
    LogUsageRequest(eventID: id, shopID: shop, model: "gemini-2.5-pro", inputTokens: 1_000_000, outputTokens: 200_000,
                    occurredAtUnixMs: occurredAt)
}

/// Now, in Unix milliseconds.
func nowMs() -> UnixMillis { Int64(Date().timeIntervalSince1970 * 1_000) }

/// Polls `condition` every 20 ms for up to `seconds`; returns whether it became true.
func eventually(seconds: Double = 10, _ condition: () async throws -> Bool) async rethrows -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if try await condition() { return true }
        try? await Task.sleep(nanoseconds: 20_000_000)
    }
    return try await condition()
}

final class BillingEndToEndTests: XCTestCase {
    func testPreviewStoredBatchAndPaidBills() async throws {
        let daemon = try TestDaemon(arguments: ["--billing-grace-hours", "0"])
        let client = daemon.client()
        let thisMonth = MonthKey(unixMs: nowMs())
        let lastMonth = thisMonth.previous
        // The last millisecond of last month belongs to it; the next one to this month.
        _ = try await client.logUsage(.init(eventID: "late", shopID: "shop_a", inputTokens: 1_000, outputTokens: 100,
                                            occurredAtUnixMs: lastMonth.endUnixMs - 1))
        _ = try await client.logUsage(.init(eventID: "new", shopID: "shop_a", inputTokens: 1_000, outputTokens: 100,
                                            occurredAtUnixMs: thisMonth.startUnixMs))
        _ = try await client.logUsage(.init(eventID: "b1", shopID: "shop_b", inputTokens: 1_000, outputTokens: 100,
                                            occurredAtUnixMs: lastMonth.startUnixMs))

        let open = try await client.generateBilling(.init(shopID: "shop_a", period: thisMonth.text, preview: true))
        XCTAssertTrue(open.record.preview)
        XCTAssertFalse(open.newlyStored)
        await assertStatus(.failedPrecondition) { _ = try await client.generateBilling(.init(shopID: "shop_a", period: thisMonth.text)) }

        let preview = try await client.generateBilling(.init(shopID: "shop_a", period: lastMonth.text, preview: true))
        XCTAssertTrue(preview.record.preview)
        XCTAssertEqual(preview.record.messagesUsed, 1)
        let none = try await client.listBillingRecords(.init(shopID: "shop_a")).records
        XCTAssertEqual(none, [], "a preview stores nothing")

        let stored = try await client.generateBilling(.init(shopID: "shop_a", period: lastMonth.text))
        XCTAssertTrue(stored.newlyStored)
        XCTAssertFalse(stored.record.preview)
        XCTAssertEqual(stored.record.totalChargeNanoUSD, 5_000_000_000)
        let repeated = try await client.generateBilling(.init(shopID: "shop_a", period: lastMonth.text))
        XCTAssertFalse(repeated.newlyStored)
        XCTAssertEqual(repeated.record, stored.record)

        let batch = try await client.generateBillingBatch(.init(period: lastMonth.text))
        XCTAssertEqual(batch.generated, 1, "shop_b")
        XCTAssertEqual(batch.alreadyStored, 1, "shop_a")
        XCTAssertEqual(batch.records.map(\.shopID), ["shop_a", "shop_b"])
        XCTAssertEqual(batch.totalChargeNanoUSD, 10_000_000_000)
        await assertStatus(.failedPrecondition) { _ = try await client.generateBillingBatch(.init(period: thisMonth.text)) }

        let paid = try await client.markPaid(.init(shopID: "shop_b", period: lastMonth.text))
        XCTAssertTrue(paid.record.paid)
        await assertStatus(.notFound) { _ = try await client.markPaid(.init(shopID: "shop_b", period: thisMonth.text)) }
        XCTAssertEqual(daemon.stop(), 0)
        try daemon.start()
        let records = try await daemon.client().listBillingRecords(.init(shopID: "shop_b")).records
        XCTAssertEqual(records.map(\.paid), [true], "the paid mark survives a restart")
    }
}

final class UsageLogsEndToEndTests: XCTestCase {
    func testPagingAcrossARestartWhileEventsArriveNeitherSkipsNorRepeats() async throws {
        let daemon = try TestDaemon()
        var client = daemon.client()
        var logged: [String] = []
        func log(_ count: Int) async throws {
            for _ in 0..<count {
                let id = "p\(logged.count)"
                _ = try await client.logUsage(.init(eventID: id, shopID: "shop_p", inputTokens: 10, outputTokens: 1))
                logged.append(id)
            }
        }
        try await log(7)
        var seen: [String] = []
        var cursor = ""
        var pages = 0
        repeat {
            let page = try await client.queryUsageLogs(.init(filter: UsageFilter(shopID: "shop_p"), pageSize: 3, cursor: cursor))
            seen += page.events.map(\.eventID)
            cursor = page.nextCursor
            pages += 1
            if pages == 1 {
                XCTAssertEqual(daemon.stop(), 0)
                try daemon.start()
                client = daemon.client()
            }
            if pages <= 2 { try await log(2) }
        } while !cursor.isEmpty
        XCTAssertEqual(seen, logged)
        await assertStatus(.invalidArgument) {
            _ = try await client.queryUsageLogs(.init(filter: UsageFilter(shopID: "shop_p"), cursor: "not-a-cursor"))
        }
        await assertStatus(.invalidArgument) {
            _ = try await client.statistics(.init(filter: UsageFilter(fromUnixMs: 10, toUnixMs: 5)))
        }
    }

    func testCSVExportStreamsManyFramesUnderOneCall() async throws {
        let daemon = try TestDaemon()
        let client = daemon.client()
        let padding = String(repeating: "p", count: 900)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<400 {
                group.addTask {
                    var request = LogUsageRequest(eventID: "c\(index)", shopID: "shop_c\(index % 4)", inputTokens: 10, outputTokens: 1)
                    request.metadata.extra = [MetadataEntry(key: "pad", value: padding)]
                    _ = try await client.logUsage(request)
                }
            }
            try await group.waitForAll()
        }
        var chunks = 0
        var rows: UInt64 = 0
        var bytes: [UInt8] = []
        for try await chunk in client.exportUsageCSV() {
            chunks += 1
            rows += chunk.rows
            bytes += chunk.data
        }
        XCTAssertGreaterThan(chunks, 1, "400 rows of about 1 KB are more than one chunk")
        XCTAssertEqual(rows, 400)
        XCTAssertEqual(String(decoding: bytes, as: UTF8.self).split(separator: "\r\n").count, 401)
        // The connection still serves unary calls after the stream ended.
        let health = try await client.health()
        XCTAssertEqual(health.status, .serving)
    }
}

final class AlertsEndToEndTests: XCTestCase {
    func testWatcherReceivesAnAlertRaisedByLogUsageAndDisconnectsCleanly() async throws {
        let daemon = try TestDaemon()
        let watcherClient = daemon.client()
        // The watch request is written before the LogUsage on the same connection, and the daemon
        // answers a connection's calls in order, so the watcher is registered first.
        let stream = watcherClient.watchAlerts(.init(shopID: "shop_w"))
        _ = try await watcherClient.logUsage(expensiveEvent("other", shop: "shop_other"))
        _ = try await watcherClient.logUsage(expensiveEvent("w1", shop: "shop_w"))
        var received: [Alert] = []
        for try await alert in stream {
            received.append(alert)
            if received.count == 2 { break }
        }
        XCTAssertEqual(received.map(\.shopID), ["shop_w", "shop_w"], "the watcher of shop_w sees only its alerts")
        XCTAssertEqual(received.map(\.kind), [.dailyThreshold, .dailyCap])
        watcherClient.close()

        // The daemon goes on: more alerts are stored once and reach a new watcher.
        let client = daemon.client()
        let next = client.watchAlerts()
        _ = try await client.logUsage(expensiveEvent("w2", shop: "shop_w"))  // same day: no new alert
        _ = try await client.logUsage(expensiveEvent("x1", shop: "shop_x"))
        var iterator = next.makeAsyncIterator()
        let first = try await iterator.next()
        XCTAssertEqual(first?.shopID, "shop_x")
        let listed = try await client.listAlerts()
        XCTAssertEqual(listed.alerts.count, 6, "two alerts for each of three shops, none twice")
        XCTAssertEqual(Set(listed.alerts.map { "\($0.shopID)/\($0.kind)/\($0.period)" }).count, 6)
        let health = try await client.health()
        XCTAssertEqual(health.status, .serving)
    }

    func testWatchersAreToldWhenTheDaemonStops() async throws {
        let daemon = try TestDaemon()
        let client = daemon.client()
        let stream = client.watchAlerts()
        _ = try await client.logUsage(expensiveEvent("s1", shop: "shop_s"))
        var kinds: [AlertKind] = []
        var ending: TokenGateError?
        do {
            for try await alert in stream {
                kinds.append(alert.kind)
                if kinds.count == 2 { kill(daemon.process!.processIdentifier, SIGTERM) }
            }
        } catch let error as TokenGateError {
            ending = error
        }
        XCTAssertEqual(kinds, [.dailyThreshold, .dailyCap])
        XCTAssertEqual(ending?.code, .unavailable, "the stream ends with UNAVAILABLE, not silently")
        XCTAssertEqual(daemon.stop(signal: SIGTERM), 0)
    }

    func testDailyHighCostCheckRunsAtStartupForTheDayBefore() async throws {
        // The first daemon's startup check (of yesterday, at 00:00) has a threshold no shop reaches.
        let daemon = try TestDaemon(arguments: ["--high-cost-check-at", "00:00", "--high-cost-threshold-usd", "1000"])
        let client = daemon.client()
        let yesterday = DayKey(unixMs: nowMs()).startUnixMs - 3_600_000
        _ = try await client.logUsage(expensiveEvent("y1", shop: "shop_h", at: yesterday))
        XCTAssertEqual(daemon.stop(), 0)
        daemon.extraArguments = ["--high-cost-check-at", "00:00", "--high-cost-threshold-usd", "5"]
        try daemon.start()
        let restarted = daemon.client()
        let found = try await eventually {
            try await restarted.listAlerts(.init(shopID: "shop_h")).alerts.contains { $0.kind == .highDailyCost }
        }
        XCTAssertTrue(found, "the startup run of the 00:00 check alerts on yesterday's $5.50")
        let highCost = try await restarted.listAlerts(.init(shopID: "shop_h")).alerts.filter { $0.kind == .highDailyCost }
        XCTAssertEqual(highCost.count, 1)
        let alert = highCost.first
        XCTAssertEqual(alert?.period, DayKey(unixMs: yesterday).text)
        XCTAssertEqual(alert?.actualNanoUSD, 5_500_000_000)
        XCTAssertEqual(alert?.thresholdNanoUSD, 5_000_000_000)
    }

    func testDaemonRefusesABadCheckTime() throws {
        let directory = NSTemporaryDirectory() + "tg-bad-\(UUID().uuidString)"
        let process = Process()
        process.executableURL = URL(fileURLWithPath: TestDaemon.productsDirectory + "/tokengated")
        process.arguments = ["--socket", directory + "/s.sock", "--data-dir", directory, "--high-cost-check-at", "25:00"]
        let err = Pipe()
        process.standardError = err
        try process.run()
        let message = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 2)
        XCTAssertTrue(message.contains("HH:MM"), message)
    }
}

/// A clock the test moves by hand.
final class ManualClock: WallClock, @unchecked Sendable {
    private let now: Mutex<UnixMillis>
    init(_ start: UnixMillis) { now = Mutex(start) }
    func nowUnixMs() -> UnixMillis { now.withLock { $0 } }
    func set(_ time: UnixMillis) { now.withLock { $0 = time } }
}

final class HighCostSchedulerTests: XCTestCase {
    func testScheduledRunsCheckTheDayBeforeEachRunOnce() throws {
        let directory = NSTemporaryDirectory() + "tg-scheduler-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let ledger = Ledger(
            directory: directory, configuration: .defaults, log: try WriteAheadLog(directory: directory, policy: .always),
            encoding: FactEncoding(encode: FactCodec.encode, decode: { try FactCodec.decode($0) }), bootID: "t")
        _ = try ledger.recover(repair: false)
        let day = UTCCalendar.millisecondsPerDay
        let start = MonthKey(unixMs: 1_830_000_000_000).startUnixMs  // a month start, 00:00 UTC
        let clock = ManualClock(start + 5 * day)
        // $5.50 on day 2 and on day 4 (0-based), $0.00055 on day 3.
        for (index, offset) in [2, 4].enumerated() {
            _ = try ledger.logUsage(expensiveEvent("e\(index)", shop: "s", at: start + Int64(offset) * day + 3_600_000), now: clock.nowUnixMs())
        }
        _ = try ledger.logUsage(.init(eventID: "c", shopID: "s", inputTokens: 1_000, outputTokens: 100,
                                      occurredAtUnixMs: start + 3 * day), now: clock.nowUnixMs())
        let scheduler = HighCostScheduler(
            ledger: ledger, clock: clock, schedule: .highCostDefault, thresholdNanoUSD: 5_000_000_000, logger: Logger())
        // From day 2 at 03:00 to day 5 at 02:00: runs at days 3, 4 and 5, checking days 2, 3, 4.
        let handled = scheduler.runDueChecks(after: start + 2 * day + 3 * 3_600_000, now: start + 5 * day + 2 * 3_600_000)
        XCTAssertEqual(handled, start + 5 * day + 2 * 3_600_000)
        var alerts = try ledger.listAlerts(.init(shopID: "s")).alerts.filter { $0.kind == .highDailyCost }
        XCTAssertEqual(Set(alerts.map(\.period)), [DayKey(unixMs: start + 2 * day).text, DayKey(unixMs: start + 4 * day).text])
        XCTAssertTrue(alerts.allSatisfy { $0.raisedAtUnixMs == clock.nowUnixMs() })
        // Nothing is due before the next 02:00; a re-run of a day stores nothing new.
        XCTAssertEqual(scheduler.runDueChecks(after: handled, now: handled + day - 1), handled)
        XCTAssertEqual(try scheduler.runCheck(forRunAt: start + 5 * day + 2 * 3_600_000), [])
        alerts = try ledger.listAlerts(.init(shopID: "s")).alerts.filter { $0.kind == .highDailyCost }
        XCTAssertEqual(alerts.count, 2)
        try ledger.close()
    }
}
