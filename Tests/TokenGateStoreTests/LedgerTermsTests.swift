// Terms of the month and every shop billed (DESIGN §3 GenerateBilling): versioned tier
// assignments, backdating only into periods not yet billed, quiet shops billed their fee, and
// all of it surviving log replay and snapshots.

import TokenGateCore
import XCTest

@testable import TokenGateStore

final class LedgerTermsTests: XCTestCase {
    let october = try! MonthKey(year: 2026, month: 10)
    let november = try! MonthKey(year: 2026, month: 11)

    func testQuietShopsAreBilledAndBackdatingStopsAtAFinalBill() throws {
        let disk = SimulatedFileSystem()
        var (ledger, _) = try openLedger(disk)
        let early = october.startUnixMs + 86_400_000
        // Professional since 2 October, no usage at all: owes $15 for October.
        _ = try ledger.assignShopTier(.init(shopID: "quiet", tier: "professional", effectiveFromUnixMs: early), now: ledgerNow)
        // Assigned only in November: not billed for October.
        _ = try ledger.assignShopTier(.init(shopID: "newcomer", tier: "starter"), now: ledgerNow)
        try logDurably(ledger, usage("busy-1", shop: "busy", at: october.startUnixMs + 5))
        XCTAssertThrowsError(try ledger.assignShopTier(.init(shopID: "quiet", tier: "starter", effectiveFromUnixMs: ledgerNow + 60_000),
                                                       now: ledgerNow)) { error in
            XCTAssertEqual((error as? TokenGateError)?.code, .invalidArgument)
        }

        let (batch, sequence) = try ledger.generateBillingBatch(.init(period: october.text), now: ledgerNow)
        try ledger.waitUntilDurable(try XCTUnwrap(sequence))
        XCTAssertEqual(batch.records.map(\.shopID), ["busy", "quiet"])
        XCTAssertEqual(batch.quiet, 1)
        XCTAssertEqual(batch.records.last?.tier, "professional")
        XCTAssertEqual(batch.records.last?.totalChargeNanoUSD, 15_000_000_000)

        // October is final for "quiet": no backdating into it; into November is fine.
        XCTAssertThrowsError(try ledger.assignShopTier(.init(shopID: "quiet", tier: "starter", effectiveFromUnixMs: early + 1),
                                                       now: ledgerNow)) { error in
            XCTAssertEqual((error as? TokenGateError)?.code, .failedPrecondition)
            XCTAssertTrue((error as? TokenGateError)?.message.contains("2026-10") == true, "\(error)")
        }
        _ = try ledger.assignShopTier(.init(shopID: "quiet", tier: "starter", effectiveFromUnixMs: november.startUnixMs), now: ledgerNow)
        // "busy" had no assignment, but October is final for it too.
        XCTAssertThrowsError(try ledger.assignShopTier(.init(shopID: "busy", tier: "starter", effectiveFromUnixMs: early), now: ledgerNow))
        try ledger.close()

        // Replay, then snapshot + replay: the versions and the bills stay.
        for round in 0..<2 {
            (ledger, _) = try openLedger(disk)
            let preview = try ledger.generateBilling(.init(shopID: "quiet", period: november.text, preview: true), now: ledgerNow).0
            XCTAssertEqual(preview.record.tier, "starter", "round \(round)")
            let quiet = try XCTUnwrap(ledger.shop("quiet"))
            XCTAssertEqual(quiet.tierName(config: .defaults, at: early + 5), "professional", "round \(round)")
            XCTAssertEqual(quiet.tierName(config: .defaults, at: early - 5), "starter", "the default tier before it, round \(round)")
            if round == 0 { try ledger.writeSnapshot(now: ledgerNow) }
            try ledger.close()
        }
    }
}
