// Recovery applies facts on worker threads, grouped by shop (RecoveryApplier.swift). These tests
// check that what it rebuilds equals what the live ledger applied one fact at a time, in log
// order: the same events per shop in the same order, the first copy of a duplicate id kept,
// from the log alone and from a snapshot plus the log.

import TokenGateCore
import XCTest

@testable import TokenGateStore
import TokenGateTestSupport

final class ParallelReplayTests: XCTestCase {
    /// Events interleaved over many shops, with repeated ids whose later copies differ (so a
    /// replay that reordered a shop's facts would keep the wrong copy), UUID and other ids.
    private func logMixedEvents(_ ledger: Ledger, prefix: String, count: Int) throws {
        func id(_ index: Int) -> String {
            index % 2 == 0 ? String(format: "%08x-0000-4000-8000-%012x", index, prefix.utf8.count) : "\(prefix)-\(index)"
        }
        for index in 0..<count {
            // Every fifth call repeats the previous call's id and shop with other token counts:
            // refused (ALREADY_EXISTS), so the log holds the first copy only.
            let original = index % 5 == 4 ? index - 1 : index
            let request = usage(id(original), shop: "shop-\(original * 7 % 97)", tokens: UInt64(100 + index))
            guard original == index else {
                XCTAssertThrowsError(try logDurably(ledger, request)) { error in
                    XCTAssertEqual((error as? TokenGateError)?.code, .alreadyExists)
                }
                continue
            }
            try logDurably(ledger, request)
        }
    }

    func testReplayFromTheLogEqualsTheLiveLedger() throws {
        let disk = SimulatedFileSystem()
        let (ledger, _) = try openLedger(disk, segmentBytesMax: 64 << 10)
        try logMixedEvents(ledger, prefix: "a", count: 1_500)
        let expected = ledger.factsByShop
        try ledger.close()

        let (recovered, recovery) = try openLedger(disk, segmentBytesMax: 64 << 10)
        XCTAssertGreaterThanOrEqual(recovery.logRecords, 1_200, "every distinct event was logged and replayed")
        XCTAssertEqual(recovered.factsByShop, expected)
        XCTAssertEqual(expected.count, 97)
        // The first copy of a repeated id is the one kept (100 + 3 tokens, not 100 + 4).
        let kept = recovered.shop("shop-\(3 * 7 % 97)")?.event(id: "a-3")
        XCTAssertEqual(kept?.inputTokens, 103)
        try recovered.close()
    }

    func testReplayFromASnapshotAndTheLogEqualsTheLiveLedger() throws {
        let disk = SimulatedFileSystem()
        let (ledger, _) = try openLedger(disk, segmentBytesMax: 64 << 10)
        try logMixedEvents(ledger, prefix: "a", count: 900)
        try ledger.writeSnapshot(now: ledgerNow)
        try logMixedEvents(ledger, prefix: "b", count: 600)
        let expected = ledger.factsByShop
        try ledger.close()

        let (recovered, recovery) = try openLedger(disk, segmentBytesMax: 64 << 10)
        XCTAssertNotNil(recovery.snapshotFile)
        XCTAssertEqual(recovered.factsByShop, expected)
        try recovered.close()
    }

    /// The workers' grouping sort must order keys exactly as `sort()` does, including many keys
    /// sharing a top half (a shop's facts), whose low halves (log positions) must stay ascending.
    func testGroupingSortEqualsSort() {
        let seed = UInt64.random(in: 1...UInt64.max)
        print("ParallelReplayTests seed \(seed)")
        var random = SplitMix64(seed: seed)
        for count in [0, 1, 2, 255, 256, 257, 10_000] {
            let tops = (0..<max(1, count / 8)).map { _ in random.next() >> 32 }
            var keys = (0..<count).map { index in tops[Int(random.next() % UInt64(tops.count))] << 32 | UInt64(index) }
            let expected = keys.sorted()
            RecoveryApplier.sortByTopHalf(&keys)
            XCTAssertEqual(keys, expected, "seed \(seed) count \(count)")
        }
    }
}
