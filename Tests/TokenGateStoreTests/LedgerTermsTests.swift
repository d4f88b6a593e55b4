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

    /// Terms of the month for tier terms: a fee change does not re-price a month already over,
    /// backdating stops at a final bill on the tier, and the versions survive replay and snapshots.
    func testTierTermsAreVersionedAndBackdatingStopsAtAFinalBill() throws {
        let disk = SimulatedFileSystem()
        var (ledger, _) = try openLedger(disk)
        try logDurably(ledger, usage("t-oct", shop: "shop_t", at: october.startUnixMs + 10))
        try logDurably(ledger, usage("t-nov", shop: "shop_t"))
        func starter(fee: Int64) -> UpsertTierRequest {
            var tier = Configuration.defaults.tiers["starter"]!
            tier.monthlyFeeNanoUSD = fee
            return UpsertTierRequest(tier: TierSettings(tier: tier, rateLimit: nil))
        }
        // Starter's fee goes to $7 now (25 November): October keeps $5.
        _ = try ledger.changeConfiguration(.upsertTier(starter(fee: 7_000_000_000)), now: ledgerNow)
        let octoberBill = try ledger.generateBilling(.init(shopID: "shop_t", period: october.text), now: ledgerNow).0.record
        XCTAssertEqual(octoberBill.totalChargeNanoUSD, 5_000_000_000, "terms of October, not of the day it was billed")
        let novemberPreview = try ledger.generateBilling(.init(shopID: "shop_t", period: november.text, preview: true), now: ledgerNow)
        XCTAssertEqual(novemberPreview.0.record.totalChargeNanoUSD, 7_000_000_000)
        // Backdating into October is refused (October is final for shop_t, on starter); into November it is fine.
        var backdated = starter(fee: 6_000_000_000)
        backdated.effectiveFromUnixMs = october.startUnixMs + 20
        XCTAssertThrowsError(try ledger.changeConfiguration(.upsertTier(backdated), now: ledgerNow)) { error in
            XCTAssertEqual((error as? TokenGateError)?.code, .failedPrecondition)
            XCTAssertTrue((error as? TokenGateError)?.message.contains("2026-10") == true, "\(error)")
        }
        backdated.effectiveFromUnixMs = november.startUnixMs
        _ = try ledger.changeConfiguration(.upsertTier(backdated), now: ledgerNow)
        var future = starter(fee: 1)
        future.effectiveFromUnixMs = ledgerNow + 86_400_000
        XCTAssertThrowsError(try ledger.changeConfiguration(.upsertTier(future), now: ledgerNow))
        XCTAssertEqual(try ledger.generateBilling(.init(shopID: "shop_t", period: november.text, preview: true), now: ledgerNow)
            .0.record.totalChargeNanoUSD, 7_000_000_000, "1-24 November at $6, from 25 November $7: November's last instant says $7")
        XCTAssertEqual(ledger.currentConfiguration.tierTerms(named: "starter", at: november.startUnixMs + 1)?.monthlyFeeNanoUSD,
                       6_000_000_000)
        try ledger.close()
        for round in 0..<2 {
            (ledger, _) = try openLedger(disk)
            let config = ledger.currentConfiguration
            XCTAssertEqual(config.tierTerms(named: "starter", at: october.startUnixMs + 1)?.monthlyFeeNanoUSD, 5_000_000_000)
            XCTAssertEqual(config.tierTerms(named: "starter", at: november.startUnixMs + 1)?.monthlyFeeNanoUSD, 6_000_000_000)
            XCTAssertEqual(config.tiers["starter"]?.monthlyFeeNanoUSD, 7_000_000_000, "the gate's terms: now")
            if round == 0 { try ledger.writeSnapshot(now: ledgerNow) }
            try ledger.close()
        }
    }

    /// Corrections append: a void record stays beside its reissue, through replay and snapshots,
    /// with the id index and the versioned assignments (the restart test).
    func testVoidRecordsReissuesAndTheIDIndexSurviveSnapshotsAndReplay() throws {
        let disk = SimulatedFileSystem()
        var (ledger, _) = try openLedger(disk)
        try logDurably(ledger, usage("oct-1", shop: "shop_v", at: october.startUnixMs + 10))
        _ = try ledger.assignShopTier(.init(shopID: "shop_v", tier: "professional", effectiveFromUnixMs: october.startUnixMs + 5),
                                      now: ledgerNow)
        let first = try ledger.generateBilling(.init(shopID: "shop_v", period: october.text), now: ledgerNow).0.record
        XCTAssertEqual(first.tier, "professional")
        // Wrong tier: void October, backdate starter into it (now allowed), reissue.
        XCTAssertThrowsError(try ledger.voidBilling(.init(shopID: "shop_v", period: october.text, reason: ""), now: ledgerNow, byUID: 0))
        let (voided, sequence) = try ledger.voidBilling(
            .init(shopID: "shop_v", period: october.text, reason: "wrong tier"), now: ledgerNow + 1, byUID: 1234)
        try ledger.waitUntilDurable(sequence)
        XCTAssertTrue(voided.record.isVoid)
        XCTAssertEqual(voided.record.voidedByUID, 1234)
        XCTAssertThrowsError(try ledger.markPaid(.init(shopID: "shop_v", period: october.text), now: ledgerNow)) { error in
            XCTAssertEqual((error as? TokenGateError)?.code, .notFound, "a void record cannot be marked paid")
        }
        _ = try ledger.assignShopTier(.init(shopID: "shop_v", tier: "starter", effectiveFromUnixMs: october.startUnixMs + 5),
                                      now: ledgerNow + 2)
        let (reissue, reissueSequence) = try ledger.generateBilling(.init(shopID: "shop_v", period: october.text), now: ledgerNow + 3)
        try ledger.waitUntilDurable(try XCTUnwrap(reissueSequence))
        XCTAssertTrue(reissue.newlyStored)
        XCTAssertEqual(reissue.record.tier, "starter")
        XCTAssertEqual(reissue.record.totalChargeNanoUSD, 5_000_000_000)
        _ = try ledger.markPaid(.init(shopID: "shop_v", period: october.text), now: ledgerNow + 4)
        XCTAssertThrowsError(try ledger.voidBilling(.init(shopID: "shop_v", period: october.text, reason: "again"),
                                                    now: ledgerNow + 5, byUID: 0)) { error in
            XCTAssertEqual((error as? TokenGateError)?.code, .failedPrecondition, "a paid record cannot be voided")
        }
        try logDurably(ledger, usage("nov-1", shop: "other_v"))
        let expected = try ledger.listBillingRecords(.init(shopID: "shop_v")).records
        XCTAssertEqual(expected.map(\.isVoid), [true, false])
        XCTAssertEqual(expected.map(\.tier), ["professional", "starter"])
        try ledger.close()

        for round in 0..<2 {
            (ledger, _) = try openLedger(disk)
            XCTAssertEqual(try ledger.listBillingRecords(.init(shopID: "shop_v")).records, expected, "round \(round)")
            XCTAssertEqual(ledger.shop("shop_v")?.tierName(config: .defaults, at: october.startUnixMs + 6), "starter")
            XCTAssertThrowsError(try ledger.logUsage(usage("oct-1", shop: "other_v"), now: ledgerNow)) { error in
                XCTAssertEqual((error as? TokenGateError)?.code, .alreadyExists, "round \(round)")
            }
            if round == 0 { try ledger.writeSnapshot(now: ledgerNow) }
            try ledger.close()
        }
    }
}
