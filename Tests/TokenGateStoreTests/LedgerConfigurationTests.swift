// Configuration changes are writes like any other: they survive a restart through log replay and
// through a snapshot (which keeps the latest change of each setting), they are layered over the
// base configuration the daemon starts with, a base that conflicts with them is reported, and a
// snapshot taken while writes are running loses none of them.

import Foundation
import TokenGateCore
import TokenGateWire
import XCTest

@testable import TokenGateStore

final class LedgerConfigurationTests: XCTestCase {
    let now: UnixMillis = 1_795_000_000_000
    var directory = ""

    override func setUp() { directory = makeTemporaryDirectory() }
    override func tearDown() { removeDirectory(directory) }

    private func openLedger(base: Configuration = .defaults) throws -> Ledger {
        let log = try WriteAheadLog(directory: directory, policy: .always)
        let encoding = FactEncoding(encode: FactCodec.encode, decode: { bytes in try FactCodec.decode(bytes) })
        let ledger = Ledger(directory: directory, configuration: base, log: log, encoding: encoding, shardCount: 8, bootID: "t")
        _ = try ledger.recover(repair: false)
        return ledger
    }

    private func limits(daily: Int64) -> OperationLimits {
        OperationLimits(
            maxInputTokensPerMessage: 10_000, maxOutputTokensPerMessage: 2_000, maxTotalTokensPerMessage: 12_000,
            dailyCostCapNanoUSD: daily, monthlyCostCapNanoUSD: 100_000_000_000, alertThresholdPercent: 80)
    }

    /// A handful of changes of different kinds, some of the same setting.
    private func makeChanges(_ ledger: Ledger) throws {
        for daily in [1, 2, 3] as [Int64] {
            _ = try ledger.changeConfiguration(.setLimits(.init(limits: OperationLimitsEntry(
                operationType: "chat_message", shopID: "shop_1", limits: limits(daily: daily * 1_000_000_000)))), now: now)
        }
        _ = try ledger.changeConfiguration(.setRateLimit(.init(tier: "starter", rateLimit: RateLimit(requestsPerMinute: 30))), now: now)
        _ = try ledger.changeConfiguration(.setShadowMode(.init(shopID: "shop_2", enabled: true)), now: now)
        _ = try ledger.changeConfiguration(.setUnknownShopPolicy(.init(policy: .deny)), now: now)
        _ = try ledger.changeConfiguration(.setPrice(.init(version: ModelPrice(model: "house", version: PriceVersion(
            effectiveFromUnixMs: 0, base: PriceRates(inputPerMillion: 1, outputPerMillion: 2, cachedInputPerMillion: 1), source: "")))), now: now)
        _ = try ledger.assignShopTier(AssignShopTierRequest(shopID: "shop_1", tier: "professional"), now: now)
    }

    func testRefusedCallsOnUnknownShopsLeaveNoState() throws {
        let ledger = try openLedger()
        XCTAssertThrowsError(try ledger.generateBilling(.init(shopID: "ghost_1", period: "2026-13"), now: now))
        XCTAssertThrowsError(try ledger.logUsage(.init(shopID: "ghost_2", model: "no-such-model", inputTokens: 1), now: now))
        _ = try ledger.canMakeRequest(.init(shopID: "ghost_3"), now: now)
        XCTAssertEqual(ledger.gauges(now: now, topShops: 0).shopsPerShard.reduce(0, +), 0)
        _ = try ledger.logUsage(.init(shopID: "real", inputTokens: 1), now: now)
        XCTAssertEqual(ledger.gauges(now: now, topShops: 0).shopsPerShard.reduce(0, +), 1)
    }

    func testChangesSurviveLogReplay() throws {
        let first = try openLedger()
        try makeChanges(first)
        let expected = first.currentConfiguration
        XCTAssertEqual(try expected.limits(shopID: "shop_1", operationType: "chat_message").dailyCostCapNanoUSD, 3_000_000_000)
        try first.close()

        let second = try openLedger()
        XCTAssertEqual(second.currentConfiguration, expected)
        XCTAssertNil(second.configurationProblem())
        let (again, _) = try second.assignShopTier(AssignShopTierRequest(shopID: "shop_1", tier: "starter"), now: now)
        XCTAssertEqual(again.previousTier, "professional", "the tier assignment was replayed too")
        try second.close()
    }

    func testChangesSurviveASnapshotCompacted() throws {
        let first = try openLedger()
        try makeChanges(first)
        let (sequence, facts) = try first.writeSnapshot()
        XCTAssertEqual(sequence, 8)
        XCTAssertEqual(facts, 6, "five settings changed (three limit changes are one setting) and one shop's tier")
        _ = try first.changeConfiguration(.setShadowMode(.init(enabled: true)), now: now)
        let expected = first.currentConfiguration
        try first.close()

        let second = try openLedger()
        XCTAssertEqual(second.currentConfiguration, expected)
        XCTAssertEqual(second.runtimeChangeCount, 6)
        try second.close()
    }

    func testRunTimeChangesAreLayeredOverANewBase() throws {
        let first = try openLedger()
        try makeChanges(first)
        try first.close()

        var newBase = Configuration.defaults
        newBase.reservationTTLMs = 30_000
        newBase.shopLimitOverrides["shop_1"] = ["chat_message": limits(daily: 9_000_000_000)]
        newBase.limits["chat_message"]!.dailyCostCapNanoUSD = 7_000_000_000
        let second = try openLedger(base: newBase)
        let config = second.currentConfiguration
        XCTAssertEqual(config.reservationTTLMs, 30_000, "a setting never changed at run time follows the base")
        XCTAssertEqual(try config.limits(shopID: "other", operationType: "chat_message").dailyCostCapNanoUSD, 7_000_000_000)
        XCTAssertEqual(try config.limits(shopID: "shop_1", operationType: "chat_message").dailyCostCapNanoUSD, 3_000_000_000,
                       "a setting changed at run time keeps its run-time value")
        try second.close()
    }

    func testABaseThatConflictsWithAChangeIsReported() throws {
        var base = Configuration.defaults
        base.tiers["gold"] = Tier(name: "gold", monthlyFeeNanoUSD: 0, includedMessages: nil, overagePerMessageNanoUSD: 0,
                                  maxMonthlySpendNanoUSD: nil, selfServe: false)
        let first = try openLedger(base: base)
        _ = try first.changeConfiguration(.setRateLimit(.init(tier: "gold", rateLimit: RateLimit(requestsPerMinute: 1))), now: now)
        try first.close()
        let second = try openLedger()
        XCTAssertEqual(second.configurationProblem(), "rate limit for tier 'gold', which is not configured")
        try second.close()
    }

    func testRefusedChangesAreNotLogged() throws {
        let ledger = try openLedger()
        XCTAssertThrowsError(try ledger.changeConfiguration(.setRateLimit(.init(tier: "nope", rateLimit: .unlimited)), now: now))
        XCTAssertThrowsError(try ledger.assignShopTier(AssignShopTierRequest(shopID: "s", tier: "nope"), now: now)) {
            XCTAssertEqual(($0 as? TokenGateError)?.code, .notFound)
        }
        XCTAssertEqual(try ledger.writeSnapshot().sequence, 0)
        try ledger.close()
    }

    /// Writes land on every shard while a snapshot is taken, then the daemon stops without another
    /// snapshot: every acknowledged write must be in that snapshot or in the log after it.
    func testASnapshotDuringWritesLosesNothing() throws {
        var ledger = try openLedger()
        let (threads, perThread, now) = (4, 60, self.now)
        var written: [(id: String, shop: String)] = []
        for round in 0..<8 {
            let current = ledger
            let done = runThreads(threads + 1) { index in
                if index == threads {
                    usleep(UInt32(500 * (round % 4)))
                    _ = try? current.writeSnapshot()
                    return
                }
                for n in 0..<perThread {
                    let request = LogUsageRequest(eventID: "e-\(round)-\(index)-\(n)", shopID: "shop-\(n % 37)", inputTokens: 10)
                    guard let (_, sequence) = try? current.logUsage(request, now: now) else { continue }
                    try? current.waitUntilDurable(sequence)
                    if n % 20 == 0 {
                        let change = ConfigChange.setShadowMode(.init(shopID: "t\(round)-\(index)-\(n)", enabled: true))
                        _ = try? current.changeConfiguration(change, now: now)
                    }
                }
            }
            XCTAssertTrue(done)
            written += (0..<threads).flatMap { index in (0..<perThread).map { ("e-\(round)-\(index)-\($0)", "shop-\($0 % 37)") } }
            let expected = ledger.currentConfiguration
            try ledger.close()
            ledger = try openLedger()
            XCTAssertEqual(ledger.currentConfiguration.shadowShops, expected.shadowShops, "round \(round)")
            for (id, shop) in written {
                let (response, _) = try ledger.logUsage(LogUsageRequest(eventID: id, shopID: shop, inputTokens: 10), now: now)
                XCTAssertTrue(response.duplicate, "round \(round): event \(id) was lost")
            }
        }
        XCTAssertEqual(ledger.currentConfiguration.shadowShops.count, 8 * threads * perThread / 20)
        try ledger.close()
    }
}

final class LedgerSweepTests: XCTestCase {
    let directory = makeTemporaryDirectory()
    let now: UnixMillis = 1_795_000_000_000

    override func tearDown() { removeDirectory(directory) }

    /// A recovered, empty ledger whose default tier allows `requestsPerMinute` per shop.
    func openLedger(requestsPerMinute: UInt32, shardCount: Int) throws -> Ledger {
        let log = try WriteAheadLog(directory: directory, policy: .always)
        var base = Configuration.defaults
        base.tierRateLimits["starter"] = RateLimit(requestsPerMinute: requestsPerMinute)
        let ledger = Ledger(
            directory: directory, configuration: base, log: log,
            encoding: FactEncoding(encode: FactCodec.encode, decode: { bytes in try FactCodec.decode(bytes) }),
            shardCount: shardCount, bootID: "t")
        _ = try ledger.recover(repair: false)
        return ledger
    }

    /// Shops with no state are checked on one blank state per shard: what one check leaves
    /// (a rate-limit window) must become that shop's own and never reach the next shop.
    func testUnknownShopsNeverShareTheBlankState() throws {
        let ledger = try openLedger(requestsPerMinute: 1, shardCount: 1)
        func decide(_ shop: String) throws -> DecisionReason { try ledger.canMakeRequest(CanMakeRequestRequest(shopID: shop), now: now).reason }

        XCTAssertEqual(try decide("a"), .withinBudget)
        XCTAssertEqual(try decide("b"), .withinBudget, "b's first request is not counted in a's window")
        XCTAssertThrowsError(try ledger.canMakeRequest(CanMakeRequestRequest(shopID: "c", model: "no-such-model"), now: now))
        XCTAssertEqual(try decide("d"), .withinBudget, "a failed check leaves nothing behind for the next shop")
        _ = try ledger.optimize(ApplyOptimizationRequest(shopID: "e"), now: now)  // borrows the blank, keeps nothing
        XCTAssertEqual(try decide("a"), .rateLimited)
        XCTAssertEqual(try decide("b"), .rateLimited)
        XCTAssertEqual(ledger.shards[0].shops.withLock { $0.keys.sorted() }, ["a", "b", "d"])
        try ledger.close()
    }

    func testSweepForgetsShopsWithNothingLeftToRemember() throws {
        let ledger = try openLedger(requestsPerMinute: 60, shardCount: 4)
        func shopCount() -> Int { ledger.shards.reduce(0) { $0 + $1.shops.withLock { $0.count } } }

        _ = try ledger.canMakeRequest(CanMakeRequestRequest(shopID: "drive-by"), now: now)
        _ = try ledger.canMakeRequest(CanMakeRequestRequest(shopID: "holder", maxOutputTokens: 10, reserve: true), now: now)
        _ = try ledger.logUsage(LogUsageRequest(shopID: "known", inputTokens: 1), now: now)
        XCTAssertEqual(shopCount(), 3, "rate-limit state and a hold keep unknown shops in memory for now")
        ledger.sweep(now: now + 999)
        XCTAssertEqual(shopCount(), 3, "one request of 60 a minute is owed for a second")
        ledger.sweep(now: now + 1_000)
        XCTAssertEqual(shopCount(), 2, "the drive-by shop is forgotten; the holder still holds")
        ledger.sweep(now: now + 120_000 * 3)
        XCTAssertEqual(shopCount(), 1, "the expired hold is forgotten after twice its TTL; the known shop stays")
        try ledger.close()
    }
}
