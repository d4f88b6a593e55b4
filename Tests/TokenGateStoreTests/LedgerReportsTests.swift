// Tests of the ledger's billing, report, usage-log and alert operations on a real write-ahead
// log: batch billing stored once, paid marks, alerts stored once and announced with a durable
// sequence, the scheduled high-cost check, cursors that survive a restart (log replay and
// snapshot), CSV chunking, and reports that visit every shard.

import Foundation
import Synchronization
import TokenGateCore
import TokenGateWire
import XCTest

@testable import TokenGateStore

/// Unix ms of a UTC civil time.
private func utc(_ year: Int64, _ month: Int64, _ day: Int64, _ hour: Int64 = 0) -> UnixMillis {
    (UTCCalendar.daysFromCivil(year: year, month: month, day: day) * 24 + hour) * 3_600_000
}

final class LedgerReportsTests: XCTestCase {
    let now = utc(2026, 11, 25, 12)
    var directory = ""

    override func setUp() { directory = makeTemporaryDirectory() }
    override func tearDown() { removeDirectory(directory) }

    func openLedger() throws -> Ledger {
        let log = try WriteAheadLog(directory: directory, policy: .always)
        let ledger = Ledger(
            directory: directory, configuration: .defaults, log: log,
            encoding: FactEncoding(encode: FactCodec.encode, decode: { try FactCodec.decode($0) }), shardCount: 4,
            bootID: "test")
        _ = try ledger.recover(repair: false)
        return ledger
    }

    /// 1,000 input + 100 output tokens of gemini-2.5-flash: $0.00055.
    func cheap(_ id: String, shop: String, at: UnixMillis = 0) -> LogUsageRequest {
        LogUsageRequest(eventID: id, shopID: shop, inputTokens: 1_000, outputTokens: 100, occurredAtUnixMs: at)
    }

    /// 1M input + 200k output tokens of gemini-2.5-pro: $5.50, over the $5.00 daily cap.
    func expensive(_ id: String, shop: String, at: UnixMillis = 0) -> LogUsageRequest {
        LogUsageRequest(eventID: id, shopID: shop, model: "gemini-2.5-pro", inputTokens: 1_000_000, outputTokens: 200_000,
                        occurredAtUnixMs: at)
    }

    func testBatchBillingStoresOnceAndPaidMarksSurviveRestarts() throws {
        var ledger = try openLedger()
        let october = utc(2026, 10, 10)
        for (index, shop) in ["a", "b", "c"].enumerated() {
            for event in 0...index { _ = try ledger.logUsage(cheap("\(shop)\(event)", shop: shop, at: october), now: now) }
        }
        _ = try ledger.logUsage(cheap("d0", shop: "d"), now: now)  // November only: not billed for October
        XCTAssertThrowsError(try ledger.generateBillingBatch(.init(period: "2026-11"), now: now)) { error in
            XCTAssertEqual((error as? TokenGateError)?.code, .failedPrecondition)
        }
        let (first, sequence) = try ledger.generateBillingBatch(.init(period: "2026-10"), now: now)
        XCTAssertNotNil(sequence)
        XCTAssertEqual(first.generated, 3)
        XCTAssertEqual(first.alreadyStored, 0)
        XCTAssertEqual(first.records.map(\.shopID), ["a", "b", "c"])
        XCTAssertEqual(first.records.map(\.messagesUsed), [1, 2, 3])
        XCTAssertEqual(first.totalChargeNanoUSD, 15_000_000_000, "three starter shops under 1,000 messages")
        let (again, _) = try ledger.generateBillingBatch(.init(period: "2026-10"), now: now + 1)
        XCTAssertEqual(again.generated, 0)
        XCTAssertEqual(again.alreadyStored, 3)
        XCTAssertEqual(again.records, first.records, "the stored records come back unchanged")

        XCTAssertThrowsError(try ledger.markPaid(.init(shopID: "d", period: "2026-10"), now: now)) { error in
            XCTAssertEqual((error as? TokenGateError)?.code, .notFound)
        }
        let (paid, _) = try ledger.markPaid(.init(shopID: "b", period: "2026-10"), now: now)
        XCTAssertTrue(paid.record.paid)
        try ledger.close()

        ledger = try openLedger()  // replay of the log alone
        XCTAssertEqual(try ledger.listBillingRecords(.init(shopID: "b")).records.map(\.paid), [true])
        XCTAssertEqual(try ledger.listBillingRecords(.init(shopID: "a")).records.map(\.paid), [false])
        XCTAssertEqual(try ledger.listBillingRecords(.init(shopID: "nobody")).records, [])
        try ledger.writeSnapshot()
        try ledger.close()

        ledger = try openLedger()  // the snapshot
        XCTAssertEqual(try ledger.listBillingRecords(.init(shopID: "b")).records.map(\.paid), [true])
        XCTAssertEqual(try ledger.generateBillingBatch(.init(period: "2026-10"), now: now).0.generated, 0)
        try ledger.close()
    }

    func testAlertsAreStoredOnceAnnouncedAndListedNewestFirst() throws {
        let ledger = try openLedger()
        let announced = Mutex<[(Alert, UInt64)]>([])
        ledger.alertFeed.setListener { alerts, sequence in announced.withLock { $0 += alerts.map { ($0, sequence) } } }
        let (first, firstSequence) = try ledger.logUsage(expensive("e1", shop: "s"), now: now)
        XCTAssertEqual(first.alerts.map(\.kind), [.dailyThreshold, .dailyCap])
        XCTAssertEqual(announced.withLock { $0.map(\.0.kind) }, [.dailyThreshold, .dailyCap])
        XCTAssertGreaterThanOrEqual(firstSequence, announced.withLock { $0.map(\.1).max()! }, "the ack waits for the alerts too")
        _ = try ledger.logUsage(expensive("e1", shop: "s"), now: now + 1)  // a repeat
        _ = try ledger.logUsage(expensive("e2", shop: "s"), now: now + 2)  // same day: nothing new crosses
        _ = try ledger.logUsage(expensive("e3", shop: "t"), now: now + 3)
        XCTAssertEqual(announced.withLock { $0.count }, 4)
        let all = try ledger.listAlerts(.init())
        XCTAssertEqual(all.alerts.map(\.shopID), ["t", "t", "s", "s"], "newest first")
        XCTAssertEqual(try ledger.listAlerts(.init(shopID: "s", limit: 1)).alerts.map(\.kind), [.dailyThreshold])
        XCTAssertThrowsError(try ledger.listAlerts(.init(limit: ReportLimits.alertsListMax + 1))) { error in
            XCTAssertEqual((error as? TokenGateError)?.code, .invalidArgument)
        }
        try ledger.close()
        let reopened = try openLedger()
        XCTAssertEqual(try reopened.listAlerts(.init()).alerts, all.alerts)
        try reopened.close()
    }

    func testDailyHighCostCheckAlertsShopsOverTheThresholdOnce() throws {
        let ledger = try openLedger()
        let yesterday = utc(2026, 11, 24, 10)
        _ = try ledger.logUsage(expensive("big", shop: "big", at: yesterday), now: now)
        for index in 0..<3 { _ = try ledger.logUsage(cheap("small\(index)", shop: "small", at: yesterday), now: now) }
        let day = DayKey(unixMs: yesterday)
        let (alerts, sequence) = try ledger.runDailyHighCostCheck(day: day, thresholdNanoUSD: 5_000_000_000, now: now)
        XCTAssertEqual(alerts.map(\.shopID), ["big"])
        XCTAssertEqual(alerts.first?.kind, .highDailyCost)
        XCTAssertEqual(alerts.first?.period, "2026-11-24")
        XCTAssertNotNil(sequence)
        let rerun = try ledger.runDailyHighCostCheck(day: day, thresholdNanoUSD: 5_000_000_000, now: now + 1)
        XCTAssertEqual(rerun.alerts, [])
        XCTAssertNil(rerun.durableAt)
        XCTAssertEqual(try ledger.runDailyHighCostCheck(day: day, thresholdNanoUSD: 1_000, now: now).alerts.map(\.shopID), ["small"])
        try ledger.close()
    }

    func testCursorSurvivesReplayAndSnapshot() throws {
        var ledger = try openLedger()
        for index in 0..<5 { _ = try ledger.logUsage(cheap("e\(index)", shop: "s"), now: now + Int64(index)) }
        let filter = UsageFilter(shopID: "s")
        let first = try ledger.queryUsageLogs(.init(filter: filter, pageSize: 2))
        XCTAssertEqual(first.events.map(\.eventID), ["e0", "e1"])
        try ledger.close()
        ledger = try openLedger()
        _ = try ledger.logUsage(cheap("e5", shop: "s"), now: now + 10)
        let second = try ledger.queryUsageLogs(.init(filter: filter, pageSize: 2, cursor: first.nextCursor))
        XCTAssertEqual(second.events.map(\.eventID), ["e2", "e3"])
        try ledger.writeSnapshot()
        try ledger.close()
        ledger = try openLedger()
        let third = try ledger.queryUsageLogs(.init(filter: filter, pageSize: 5, cursor: second.nextCursor))
        XCTAssertEqual(third.events.map(\.eventID), ["e4", "e5"])
        XCTAssertEqual(third.nextCursor, "")
        // A cursor past the end (from other data) and a query without a shop are refused.
        let foreign = UsageCursor.encode(position: 99, filter: filter)
        for bad in [QueryUsageLogsRequest(filter: filter, cursor: foreign), QueryUsageLogsRequest(filter: UsageFilter()),
                    QueryUsageLogsRequest(filter: filter, pageSize: ReportLimits.usagePageSizeMax + 1)] {
            XCTAssertThrowsError(try ledger.queryUsageLogs(bad)) { error in
                XCTAssertEqual((error as? TokenGateError)?.code, .invalidArgument, "\(error)")
            }
        }
        try ledger.close()
    }

    func testCSVExportIsChunkedStartsWithTheHeaderAndStopsForAGonePeer() throws {
        let ledger = try openLedger()
        let padding = String(repeating: "x", count: 1_000)
        for index in 0..<600 {
            var request = cheap("e\(index)", shop: "shop\(index % 3)")
            request.metadata.extra = [MetadataEntry(key: "pad", value: padding)]
            _ = try ledger.logUsage(request, now: now)
        }
        var chunks: [ExportUsageCSVChunk] = []
        try ledger.exportUsageCSV(.init()) { chunks.append($0); return true }
        XCTAssertGreaterThan(chunks.count, 1, "600 rows of over 1 KB do not fit one chunk")
        XCTAssertEqual(chunks.reduce(0) { $0 + $1.rows }, 600)
        XCTAssertTrue(chunks.allSatisfy { $0.data.count < ReportLimits.csvChunkBytesTarget + 4_096 })
        let text = String(decoding: chunks.flatMap(\.data), as: UTF8.self)
        XCTAssertTrue(text.hasPrefix(UsageCSV.headerRow))
        XCTAssertEqual(text.components(separatedBy: "event_id,shop_id").count, 2, "one header row")
        let shopColumn = text.split(separator: "\r\n").dropFirst().map { $0.split(separator: ",")[1] }
        XCTAssertEqual(shopColumn, shopColumn.sorted(), "shops in id order")

        var sent = 0
        try ledger.exportUsageCSV(.init()) { _ in sent += 1; return false }
        XCTAssertEqual(sent, 1, "a peer that is gone stops the export")

        var empty: [ExportUsageCSVChunk] = []
        try ledger.exportUsageCSV(.init(filter: UsageFilter(shopID: "nobody"))) { empty.append($0); return true }
        XCTAssertEqual(empty, [ExportUsageCSVChunk(data: Array(UsageCSV.headerRow.utf8), rows: 0)])
        try ledger.close()
    }

    func testReportsVisitEveryShard() throws {
        let ledger = try openLedger()
        for index in 0..<40 {
            let request = index < 20 ? cheap("e\(index)", shop: "shop\(index)") : cheap("e\(index)", shop: "shop\(index % 20)")
            _ = try ledger.logUsage(request, now: now)
        }
        _ = try ledger.logUsage(expensive("x", shop: "shop7"), now: now)
        let statistics = try ledger.statistics(.init())
        XCTAssertEqual(statistics.totals.events, 41)
        XCTAssertEqual(statistics.byShop.count, 20)
        XCTAssertEqual(statistics.byShop.first?.key, "shop7")
        XCTAssertEqual(try ledger.statistics(.init(filter: UsageFilter(shopID: "shop3"))).totals.events, 2)
        XCTAssertEqual(try ledger.statistics(.init(filter: UsageFilter(fromUnixMs: now + 1))).totals.events, 0)
        let report = try ledger.monthlyReport(.init(period: "2026-11"))
        XCTAssertEqual(report.totals, statistics.totals)
        XCTAssertEqual(try ledger.monthlySummary(.init(period: "2026-11")).shops.count, 20)
        XCTAssertEqual(try ledger.monthlySummary(.init(period: "2026-10")).shops, [])
        XCTAssertEqual(try ledger.projections(.init(), now: now).projections.count, 20)
        XCTAssertEqual(try ledger.projections(.init(shopID: "idle"), now: now).projections.first?.spentNanoUSD, 0)
        let high = try ledger.highCostShops(.init(), now: now)
        XCTAssertEqual(high.shops.map(\.shopID), ["shop7"], "only shop7 spent more than $1.00")
        XCTAssertEqual(try ledger.highCostShops(.init(thresholdNanoUSD: 1, top: 3), now: now).shops.count, 3)
        XCTAssertThrowsError(try ledger.highCostShops(.init(thresholdNanoUSD: -1), now: now))
        XCTAssertThrowsError(try ledger.monthlyReport(.init(period: "2026-13")))
        try ledger.close()
    }
}
