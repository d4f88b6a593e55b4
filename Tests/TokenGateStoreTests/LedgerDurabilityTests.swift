// The ledger's durability: snapshots written while writers keep going lose nothing and count
// nothing twice, a crash at every step of a snapshot recovers the acknowledged state, the log
// behind the older snapshot is kept so a damaged newest snapshot can fall back, retention drops
// old raw events but keeps their month totals, and a seeded workload recovers to the very state
// it had (restart equivalence), after a clean shutdown and after a power loss.

import Synchronization
import TokenGateCore
import XCTest

@testable import TokenGateStore
import TokenGateTestSupport

final class LedgerDurabilityTests: XCTestCase {
    // MARK: - Snapshots under load

    /// Writers log usage while another thread writes snapshots back to back; the machine loses
    /// power at a random moment (possibly mid-snapshot). Every acknowledged event must come back
    /// exactly once, and every shop's totals must equal the sum of its recovered events.
    func testPowerLossDuringSnapshotsUnderLoadKeepsEveryAcknowledgedEventOnce() throws {
        var generator = SystemRandomNumberGenerator()
        var snapshots = 0
        for round in 0..<8 {
            let seed = UInt64.random(in: 0..<1_000_000, using: &generator)
            print("snapshot-under-load round \(round): seed \(seed)")
            snapshots += try snapshotCrashRound(seed: seed)
        }
        XCTAssertGreaterThan(snapshots, 8, "snapshots ran while the writers wrote")
    }

    /// One round; returns the number of snapshots written before the crash.
    func snapshotCrashRound(seed: UInt64) throws -> Int {
        var random = SplitMix64(seed: seed)
        let disk = SimulatedFileSystem()
        let process = ProcessDisk(disk)
        let (ledger, _) = try openLedger(process, segmentBytesMax: 600 + Int(random.next() % 4_000))
        let crashAfter = Int(random.next() % 1_200) + 50
        let unsyncedKept = Int(random.next() % 200)
        let acknowledged = Mutex<[String: LogUsageResponse]>([:])
        let writersDone = Atomic<Int>(0)
        let snapshots = Atomic<Int>(0)
        let finished = runThreads(9, timeout: 60) { thread in
            if thread == 8 {
                while writersDone.load(ordering: .acquiring) < 8 {
                    if (try? ledger.writeSnapshot(now: ledgerNow)) != nil { snapshots.add(1, ordering: .relaxed) }
                }
                return
            }
            defer { writersDone.add(1, ordering: .releasing) }
            for index in 0..<400 {
                let id = "t\(thread)-\(index)"
                let request = usage(id, shop: "shop-\((thread * 7 + index) % 13)", tokens: UInt64(100 + index))
                guard let response = try? logDurably(ledger, request) else { return }
                let count = acknowledged.withLock { acks -> Int in
                    acks[id] = response
                    return acks.count
                }
                if count == crashAfter { process.crash(powerLoss: true) { _ in unsyncedKept } }
            }
        }
        XCTAssertTrue(finished, "seed \(seed)")
        _ = try? ledger.close()

        let (recovered, _) = try openLedger(disk)
        let acks = acknowledged.withLock { $0 }
        XCTAssertGreaterThanOrEqual(acks.count, crashAfter, "seed \(seed)")
        for (id, response) in acks {
            let shop = "shop-\(Self.shopIndex(of: id))"
            XCTAssertEqual(
                recovered.shop(shop)?.event(id: id)?.costNanoUSD, response.costNanoUSD, "\(id) lost, seed \(seed)")
        }
        try assertTotalsMatchEvents(recovered, "seed \(seed)")
        try recovered.close()
        return snapshots.load(ordering: .relaxed)
    }

    static func shopIndex(of id: String) -> Int {
        let parts = id.dropFirst().split(separator: "-")
        return (Int(parts[0])! * 7 + Int(parts[1])!) % 13
    }

    /// Each shop's month totals equal the sum of its events: nothing counted twice or lost.
    func assertTotalsMatchEvents(_ ledger: Ledger, _ context: String) throws {
        for (id, _) in ledger.factsByShop {
            let shop = try XCTUnwrap(ledger.shop(id))
            XCTAssertEqual(Set(shop.events.map(\.eventID)).count, shop.events.count, "duplicate events, \(context)")
            let month = MonthKey(unixMs: ledgerNow)
            let events = shop.events.filter { MonthKey(unixMs: $0.occurredAtUnixMs) == month }
            XCTAssertEqual(shop.aggregate(month: month).messages, UInt64(events.count), "\(id), \(context)")
            XCTAssertEqual(
                shop.aggregate(month: month).costNanoUSD, events.reduce(0) { $0 + $1.costNanoUSD }, "\(id), \(context)")
        }
    }

    // MARK: - Crash points of a snapshot

    /// A crash after writing the temp file, after syncing it, after the rename (before the
    /// directory fsync) and after the directory fsync, with and without power loss, recovers to
    /// the acknowledged state every time.
    func testCrashAtEveryStepOfALedgerSnapshotRecoversTheAcknowledgedState() throws {
        for point in CrashPoint.allCases {
            for powerLoss in [false, true] {
                let disk = SimulatedFileSystem()
                let process = ProcessDisk(disk)
                let (ledger, _) = try openLedger(process, segmentBytesMax: 700)
                for index in 0..<30 { try logDurably(ledger, usage("a\(index)", shop: "s\(index % 4)")) }
                try ledger.writeSnapshot(now: ledgerNow)
                for index in 0..<20 { try logDurably(ledger, usage("b\(index)", shop: "s\(index % 5)")) }
                let expected = ledger.factsByShop
                disk.setCrashPoint(point)
                XCTAssertThrowsError(try ledger.writeSnapshot(now: ledgerNow), "\(point)")
                process.crash(powerLoss: powerLoss)
                _ = try? ledger.close()

                let (recovered, recovery) = try openLedger(disk)
                XCTAssertEqual(recovered.factsByShop, expected, "\(point), power loss \(powerLoss)")
                XCTAssertFalse(recovery.warnings.contains { $0.contains("invalid") }, "\(recovery.warnings)")
                // The next snapshot and restart work from there.
                try logDurably(recovered, usage("c", shop: "s1"))
                try recovered.writeSnapshot(now: ledgerNow)
                let after = recovered.factsByShop
                try recovered.close()
                let (again, _) = try openLedger(disk)
                XCTAssertEqual(again.factsByShop, after, "\(point), power loss \(powerLoss)")
                try again.close()
            }
        }
    }

    // MARK: - Log kept for the older snapshot

    /// Segments are removed only behind the older of the two snapshots kept, so a damaged newest
    /// snapshot falls back to the older one and replays the log from there: nothing is lost.
    func testDamagedNewestSnapshotFallsBackToTheOlderOneAndItsLog() throws {
        let disk = SimulatedFileSystem()
        let (ledger, _) = try openLedger(disk, segmentBytesMax: 500)
        for index in 0..<40 { try logDurably(ledger, usage("a\(index)", shop: "s\(index % 3)")) }
        let first = try ledger.writeSnapshot(now: ledgerNow)
        for index in 0..<40 { try logDurably(ledger, usage("b\(index)", shop: "s\(index % 3)")) }
        let second = try ledger.writeSnapshot(now: ledgerNow)
        for index in 0..<10 { try logDurably(ledger, usage("c\(index)", shop: "s\(index % 3)")) }
        let expected = ledger.factsByShop
        try ledger.close()

        let files = try dataFiles(disk)
        XCTAssertEqual(files.snapshots, [Snapshot.fileName(first.sequence), Snapshot.fileName(second.sequence)])
        let firstSegment = try XCTUnwrap(files.segments.first.flatMap(LogFormat.parseSegmentName))
        XCTAssertGreaterThan(firstSegment, 1, "segments behind the older snapshot are gone")
        XCTAssertLessThanOrEqual(firstSegment, first.sequence + 1, "the log after the older snapshot is kept")

        var damaged = disk.contents("/data/" + Snapshot.fileName(second.sequence))!
        damaged[damaged.count / 2] ^= 0x10
        disk.setContents("/data/" + Snapshot.fileName(second.sequence), damaged)
        let (recovered, recovery) = try openLedger(disk)
        XCTAssertEqual(recovery.snapshotFile, "/data/" + Snapshot.fileName(first.sequence))
        XCTAssertTrue(recovery.warnings.contains { $0.contains(Snapshot.fileName(second.sequence)) }, "\(recovery.warnings)")
        XCTAssertEqual(recovered.factsByShop, expected)
        try recovered.close()
    }

    // MARK: - Retention

    func testRetentionDropsOldEventsAtSnapshotTimeAndKeepsTheirTotals() throws {
        let disk = SimulatedFileSystem()
        let (ledger, _) = try openLedger(disk, retentionMonths: 13)
        let june2025 = try MonthKey(year: 2025, month: 6)
        let then = june2025.startUnixMs + 10 * 86_400_000
        for index in 0..<3 { try logDurably(ledger, usage("old-\(index)", shop: "shop", tokens: 1_000), now: then) }
        try logDurably(ledger, usage("new-0", shop: "shop"))
        let juneTotals = try XCTUnwrap(ledger.shop("shop")).aggregate(month: june2025)
        XCTAssertEqual(juneTotals.messages, 3)

        // Too old to be deduplicated later: refused, before and after the snapshot.
        for month in [june2025, try MonthKey(year: 2025, month: 10)] {
            XCTAssertThrowsError(try logDurably(ledger, usage("late", shop: "shop", at: month.startUnixMs))) { error in
                XCTAssertEqual((error as? TokenGateError)?.code, .failedPrecondition)
                XCTAssertTrue("\(error)".contains("13-month retention"), "\(error)")
            }
        }
        try logDurably(ledger, usage("late-ok", shop: "shop", at: try MonthKey(year: 2025, month: 11).startUnixMs))

        let summary = try ledger.writeSnapshot(now: ledgerNow)
        XCTAssertEqual(summary.eventsDropped, 3)
        let shop = try XCTUnwrap(ledger.shop("shop"))
        XCTAssertEqual(Set(shop.events.map(\.eventID)), ["new-0", "late-ok"])
        XCTAssertEqual(shop.aggregate(month: june2025), juneTotals)
        let billed = try ledger.generateBilling(.init(shopID: "shop", period: "2025-06"), now: ledgerNow)
        try ledger.waitUntilDurable(try XCTUnwrap(billed.1))
        XCTAssertEqual(billed.0.record.messagesUsed, 3)
        XCTAssertEqual(billed.0.record.apiCostNanoUSD, juneTotals.costNanoUSD)
        try ledger.writeSnapshot(now: ledgerNow)
        let expected = ledger.factsByShop
        try ledger.close()

        let (recovered, _) = try openLedger(disk, retentionMonths: 13)
        XCTAssertEqual(recovered.factsByShop, expected)
        XCTAssertEqual(try XCTUnwrap(recovered.shop("shop")).aggregate(month: june2025), juneTotals)
        let again = try recovered.generateBilling(.init(shopID: "shop", period: "2025-06"), now: ledgerNow).0
        XCTAssertFalse(again.newlyStored)
        XCTAssertEqual(again.record, billed.0.record, "the billing record is kept")
        try recovered.close()
    }

    // MARK: - Restart equivalence

    /// A seeded workload (usage with repeats, late events, billing of last month, snapshots at
    /// random moments) ends with a clean shutdown or a power loss; the recovered ledger has the
    /// same facts, bills and gate answers as the one before.
    func testRestartEquivalenceForASeededWorkload() throws {
        var generator = SystemRandomNumberGenerator()
        for round in 0..<6 {
            let seed = UInt64.random(in: 0..<1_000_000, using: &generator)
            print("restart equivalence round \(round): seed \(seed)")
            try restartRound(seed: seed, powerLoss: round % 2 == 1)
        }
    }

    func restartRound(seed: UInt64, powerLoss: Bool) throws {
        var random = SplitMix64(seed: seed)
        let disk = SimulatedFileSystem()
        let process = ProcessDisk(disk)
        let (ledger, _) = try openLedger(process, segmentBytesMax: 300 + Int(random.next() % 3_000))
        let month = MonthKey(unixMs: ledgerNow)
        for step in 0..<600 {
            let shop = "shop-\(random.next() % 9)"
            switch random.next() % 40 {
            case 0:
                _ = try? ledger.writeSnapshot(now: ledgerNow)
            case 1:
                if let (_, sequence) = try? ledger.generateBilling(.init(shopID: shop, period: month.previous.text), now: ledgerNow),
                    let sequence
                {
                    try ledger.waitUntilDurable(sequence)
                }
            default:
                let id = "e\(random.next() % 500)"  // repeats are duplicates
                let at = random.next() % 5 == 0 ? month.previous.startUnixMs + Int64(step) * 1_000 : 0
                _ = try? logDurably(ledger, usage(id, shop: shop, tokens: 50 + random.next() % 5_000, at: at))
            }
        }
        let expected = ledger.factsByShop
        let shops = expected.keys.sorted()
        let bills = try shops.map { try ledger.generateBilling(.init(shopID: $0, period: month.text, preview: true), now: ledgerNow).0 }
        let gates = try shops.map { try ledger.canMakeRequest(.init(shopID: $0, estimatedInputTokens: 10), now: ledgerNow) }
        if powerLoss {
            process.crash(powerLoss: true)
            _ = try? ledger.close()
        } else {
            try ledger.writeSnapshot(now: ledgerNow)
            try ledger.close()
        }

        let (recovered, _) = try openLedger(disk)
        XCTAssertEqual(recovered.factsByShop, expected, "seed \(seed)")
        XCTAssertEqual(
            try shops.map { try recovered.generateBilling(.init(shopID: $0, period: month.text, preview: true), now: ledgerNow).0 },
            bills, "seed \(seed)")
        XCTAssertEqual(
            try shops.map { try recovered.canMakeRequest(.init(shopID: $0, estimatedInputTokens: 10), now: ledgerNow) },
            gates, "seed \(seed)")
        try assertTotalsMatchEvents(recovered, "seed \(seed)")
        try recovered.close()
    }

    // MARK: - Builder and scheduler

    func testSnapshotBuilderWritesWhatEncodeWrites() throws {
        var random = SplitMix64(seed: 7)
        let entries = (0..<50).map { index in (0..<Int(random.next() % 300)).map { _ in UInt8(truncatingIfNeeded: random.next() &+ UInt64(index)) } }
        var builder = SnapshotBuilder()
        for entry in entries { try builder.append(entry) }
        XCTAssertEqual(builder.entryCount, 50)
        let built = builder.finish(lastSequence: 99)
        XCTAssertEqual(built, try Snapshot.encode(lastSequence: 99, entries: entries))
        XCTAssertEqual(builder.entryCount, 0, "finish hands the buffer over")
        var empty = SnapshotBuilder()
        XCTAssertEqual(empty.finish(lastSequence: 0), try Snapshot.encode(lastSequence: 0, entries: []))
    }

    func testSchedulerSnapshotsByRecordCountAndByTime() throws {
        let disk = SimulatedFileSystem()
        let (ledger, _) = try openLedger(disk)
        let reports = Mutex<[Result<SnapshotSummary, any Error>]>([])
        let byCount = SnapshotScheduler(
            ledger: ledger, policy: SnapshotPolicy(everyRecords: 10, everySeconds: 0), clock: { ledgerNow },
            report: { result in reports.withLock { $0.append(result) } })
        try byCount.start()
        for index in 0..<9 { try logDurably(ledger, usage("a\(index)", shop: "s")) }
        usleep(300_000)
        XCTAssertEqual(reports.withLock { $0.count }, 0, "9 records are under the threshold of 10")
        try logDurably(ledger, usage("a9", shop: "s"))
        XCTAssertTrue(waitUntil { reports.withLock { $0.count } == 1 }, "10 records trigger a snapshot")
        byCount.stop()
        let first = try XCTUnwrap(try reports.withLock { $0.first }?.get())
        XCTAssertEqual(first.sequence, 10)
        XCTAssertEqual(ledger.recordsSinceSnapshot, 0)

        let byTime = SnapshotScheduler(
            ledger: ledger, policy: SnapshotPolicy(everyRecords: 0, everySeconds: 1), clock: { ledgerNow },
            report: { result in reports.withLock { $0.append(result) } })
        try byTime.start()
        try logDurably(ledger, usage("b0", shop: "s"))
        XCTAssertTrue(waitUntil { reports.withLock { $0.count } == 2 }, "a second passed with a record logged")
        byTime.stop()
        XCTAssertEqual(try reports.withLock { $0.last }?.get().sequence, 11)
        XCTAssertEqual(try dataFiles(disk).snapshots, [Snapshot.fileName(10), Snapshot.fileName(11)])
        try ledger.close()
    }
}

/// Polls `condition` every 10 ms for up to `seconds`.
func waitUntil(seconds: Double = 10, _ condition: () -> Bool) -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if condition() { return true }
        usleep(10_000)
    }
    return condition()
}
