// Store-wide idempotency (DESIGN §3): one event id index for the whole store, rebuilt from
// snapshots and log replay; a repeated id for another shop is ALREADY_EXISTS naming shop_id;
// a retry is answered with the first call's totals.

import Dispatch
import Synchronization
import TokenGateCore
import XCTest

@testable import TokenGateStore

final class LedgerIdempotencyTests: XCTestCase {
    func assertConflict(_ ledger: Ledger, _ request: LogUsageRequest, naming field: String, file: StaticString = #filePath,
                        line: UInt = #line) {
        XCTAssertThrowsError(try ledger.logUsage(request, now: ledgerNow), file: file, line: line) { error in
            XCTAssertEqual((error as? TokenGateError)?.code, .alreadyExists, file: file, line: line)
            XCTAssertTrue((error as? TokenGateError)?.message.contains(field) == true, "\(error)", file: file, line: line)
        }
    }

    func testOneIDUnderTwoShopsIsRefusedAcrossSnapshotsAndReplay() throws {
        let disk = SimulatedFileSystem()
        var (ledger, _) = try openLedger(disk)
        let first = try logDurably(ledger, usage("shared", shop: "shop_a"))
        // Many shops, so that the two shops land in different shards at least once.
        for index in 0..<20 { assertConflict(ledger, usage("shared", shop: "other_\(index)"), naming: "shop_id") }
        XCTAssertNil(ledger.shop("other_0"), "a refused call leaves no shop behind")
        XCTAssertEqual(try logDurably(ledger, usage("shared", shop: "shop_a")).dailyTotalNanoUSD, first.dailyTotalNanoUSD)
        assertConflict(ledger, usage("shared", shop: "shop_a", tokens: 7), naming: "input_tokens")
        try logDurably(ledger, usage("after-snapshot", shop: "shop_b"))
        try ledger.close()

        // Log replay alone.
        (ledger, _) = try openLedger(disk)
        XCTAssertEqual(ledger.eventIDs.count, 2)
        assertConflict(ledger, usage("shared", shop: "shop_b"), naming: "shop_id")
        assertConflict(ledger, usage("after-snapshot", shop: "shop_a"), naming: "shop_id")
        try ledger.writeSnapshot(now: ledgerNow)
        try logDurably(ledger, usage("in-the-log", shop: "shop_c"))
        try ledger.close()

        // Snapshot + log.
        (ledger, _) = try openLedger(disk)
        XCTAssertEqual(ledger.eventIDs.count, 3)
        assertConflict(ledger, usage("shared", shop: "shop_c"), naming: "shop_id")
        assertConflict(ledger, usage("in-the-log", shop: "shop_a"), naming: "shop_id")
        let retry = try logDurably(ledger, usage("shared", shop: "shop_a"))
        XCTAssertTrue(retry.duplicate)
        XCTAssertEqual(retry.dailyTotalNanoUSD, first.dailyTotalNanoUSD, "the first call's totals, kept beside the event")
        XCTAssertEqual(retry.monthlyTotalNanoUSD, first.monthlyTotalNanoUSD)
        try ledger.close()
    }

    func testRetentionForgetsDroppedIDs() throws {
        let disk = SimulatedFileSystem()
        let (ledger, _) = try openLedger(disk, retentionMonths: 2)
        try logDurably(ledger, usage("old", shop: "shop_a", at: try MonthKey(year: 2026, month: 10).startUnixMs + 2 * 86_400_000))
        try logDurably(ledger, usage("new", shop: "shop_a"))
        XCTAssertEqual(ledger.eventIDs.count, 2)
        _ = try ledger.writeSnapshot(now: try MonthKey(year: 2027, month: 1).startUnixMs + 14 * 86_400_000)
        XCTAssertEqual(ledger.eventIDs.count, 1, "the October event's id left with its event")
        try ledger.close()
    }

    func testConcurrentSameIDForTwoShopsRecordsOne() throws {
        let disk = SimulatedFileSystem()
        let (ledger, _) = try openLedger(disk)
        for round in 0..<50 {
            let outcomes = Mutex<[Bool]>([])
            DispatchQueue.concurrentPerform(iterations: 4) { worker in
                let recorded = (try? ledger.logUsage(usage("race-\(round)", shop: "shop_\(worker)"), now: ledgerNow)) != nil
                outcomes.withLock { $0.append(recorded) }
            }
            XCTAssertEqual(outcomes.withLock { $0.filter { $0 }.count }, 1, "round \(round)")
        }
        try ledger.close()
    }
}
