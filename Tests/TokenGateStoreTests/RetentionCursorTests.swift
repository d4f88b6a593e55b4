// Usage-log cursors across the monthly retention drop: the drop renumbers a shop's events, so a
// cursor from before it must be refused as stale (FAILED_PRECONDITION saying what to do), never
// continue at a shifted position and silently skip events; cursors issued after the drop keep
// working across a restart (the generation they carry is rebuilt by replay).
import TokenGateCore
import TokenGateWire
import XCTest

@testable import TokenGateStore

final class RetentionCursorTests: XCTestCase {
    func testACursorFromBeforeTheRetentionDropIsRefusedNotShifted() throws {
        let disk = SimulatedFileSystem()
        let (ledger, _) = try openLedger(disk, retentionMonths: 13)
        let june2025 = try MonthKey(year: 2025, month: 6)
        for index in 0..<3 {
            try logDurably(ledger, usage("old-\(index)", shop: "shop", tokens: 1_000), now: june2025.startUnixMs + 86_400_000)
        }
        for index in 0..<4 { try logDurably(ledger, usage("new-\(index)", shop: "shop")) }
        let filter = UsageFilter(shopID: "shop")
        let first = try ledger.queryUsageLogs(.init(filter: filter, pageSize: 2))
        XCTAssertEqual(first.events.map(\.eventID), ["old-0", "old-1"])

        XCTAssertEqual(try ledger.writeSnapshot(now: ledgerNow).eventsDropped, 3)
        XCTAssertThrowsError(try ledger.queryUsageLogs(.init(filter: filter, pageSize: 2, cursor: first.nextCursor))) { error in
            XCTAssertEqual((error as? TokenGateError)?.code, .failedPrecondition, "\(error)")
            XCTAssertTrue("\(error)".contains("stale") && "\(error)".contains("2025-06"), "\(error)")
        }

        // From the start again: every kept event once; a cursor issued now survives a restart.
        let again = try ledger.queryUsageLogs(.init(filter: filter, pageSize: 2))
        XCTAssertEqual(again.events.map(\.eventID), ["new-0", "new-1"])
        try ledger.writeSnapshot(now: ledgerNow)
        try ledger.close()
        let (recovered, _) = try openLedger(disk, retentionMonths: 13)
        let rest = try recovered.queryUsageLogs(.init(filter: filter, pageSize: 2, cursor: again.nextCursor))
        XCTAssertEqual(rest.events.map(\.eventID), ["new-2", "new-3"])
        try recovered.close()
    }
}
