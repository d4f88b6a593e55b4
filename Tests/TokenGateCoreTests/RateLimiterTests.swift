// Rate limits: GCRA's edges (a minute's allowance at once, then one call per interval, exact for
// rates that do not divide a minute, no fresh burst at a minute boundary), token limits, and how
// the limiter sits in the gate (after the budget, per tier or per shop, shadow mode, sweeping).

import XCTest

@testable import TokenGateCore

final class GCRABucketTests: XCTestCase {
    let t0 = utc(2026, 11, 25, 12, 0, 59, 999)

    /// Calls of `cost` at `now` against `rate`, keeping the bucket when they conform.
    private func run(_ bucket: inout GCRABucket, cost: UInt64 = 1, rate: UInt64, at now: UnixMillis) -> Bool {
        let (next, _) = bucket.check(cost: cost, rate: rate, now: now)
        if let next { bucket = next }
        return next != nil
    }

    func testAMinutesAllowanceAtOnceThenOnePerInterval() {
        var bucket = GCRABucket()
        for call in 0..<3 { XCTAssertTrue(run(&bucket, rate: 3, at: t0), "call \(call) of a fresh minute") }
        XCTAssertFalse(run(&bucket, rate: 3, at: t0), "a fourth call at once")
        XCTAssertFalse(run(&bucket, rate: 3, at: t0 + 19_999), "one ms before the interval")
        XCTAssertTrue(run(&bucket, rate: 3, at: t0 + 20_000), "exactly one interval later")
        XCTAssertFalse(run(&bucket, rate: 3, at: t0 + 20_000), "only one call per interval")
    }

    func testNoSecondBurstAtAMinuteBoundary() {
        // A fixed window would allow 3 calls at 12:00:59.999 and 3 more at 12:01:00.000.
        var bucket = GCRABucket()
        for _ in 0..<3 { XCTAssertTrue(run(&bucket, rate: 3, at: t0)) }
        let nextMinute = t0 + 1
        XCTAssertEqual(nextMinute % 60_000, 0, "12:01:00.000 starts a new minute")
        XCTAssertFalse(run(&bucket, rate: 3, at: nextMinute), "the new minute brings no fresh burst")
        var allowed = 0
        for ms in stride(from: t0, through: t0 + 60_000, by: 1_000) where run(&bucket, rate: 3, at: ms) { allowed += 1 }
        XCTAssertEqual(allowed, 3, "a minute after a burst, exactly one more minute's allowance has accrued")
    }

    func testRatesThatDoNotDivideAMinuteAreExact() {
        // 7 per minute: one every 8,571.43 ms.
        var bucket = GCRABucket()
        for call in 0..<7 { XCTAssertTrue(run(&bucket, rate: 7, at: t0), "call \(call)") }
        XCTAssertFalse(run(&bucket, rate: 7, at: t0))
        XCTAssertFalse(run(&bucket, rate: 7, at: t0 + 8_571))
        XCTAssertTrue(run(&bucket, rate: 7, at: t0 + 8_572))
        // After a long idle period the bucket is full again, not fuller.
        let later = t0 + 3_600_000
        for _ in 0..<7 { XCTAssertTrue(run(&bucket, rate: 7, at: later)) }
        XCTAssertFalse(run(&bucket, rate: 7, at: later))
    }

    func testRetryTimeIsWhenTheCallWouldConform() {
        var bucket = GCRABucket()
        XCTAssertTrue(run(&bucket, cost: 6_000, rate: 10_000, at: t0))
        let (next, retry) = bucket.check(cost: 5_000, rate: 10_000, now: t0)
        XCTAssertNil(next)
        // 1,000 tokens over at 10,000 per minute: 6 s.
        XCTAssertEqual(retry, 6_000)
        XCTAssertFalse(run(&bucket, cost: 5_000, rate: 10_000, at: t0 + 5_999))
        XCTAssertTrue(run(&bucket, cost: 5_000, rate: 10_000, at: t0 + 6_000))
        let (never, noRetry) = GCRABucket().check(cost: 10_001, rate: 10_000, now: t0)
        XCTAssertNil(never)
        XCTAssertNil(noRetry, "a call larger than a minute's allowance never conforms")
    }

    func testARateChangeKeepsWhatIsOwed() {
        var bucket = GCRABucket()
        for _ in 0..<60 { XCTAssertTrue(run(&bucket, rate: 60, at: t0)) }
        // Raised to 120 a minute: the 60 calls made are half the new allowance.
        for call in 0..<60 { XCTAssertTrue(run(&bucket, rate: 120, at: t0), "call \(call) under the raised rate") }
        XCTAssertFalse(run(&bucket, rate: 120, at: t0))
        XCTAssertTrue(bucket.isIdle(at: t0 + 60_000))
        XCTAssertFalse(bucket.isIdle(at: t0 + 59_999))
        // Lowered to 30 a minute right away: the 120 calls owed are four minutes' worth, and the
        // next call fits once at most a minute less one interval (58 s) is owed: 182 s from now.
        let (lowered, retry) = bucket.check(cost: 1, rate: 30, now: t0)
        XCTAssertNil(lowered)
        XCTAssertEqual(retry, 182_000)
    }

    func testHugeRatesAndTimesDoNotOverflow() {
        var bucket = GCRABucket()
        let rate = CoreLimits.tokensPerMinuteMax
        XCTAssertTrue(run(&bucket, cost: CoreLimits.tokensPerCallMax, rate: rate, at: Int64.max / 2))
        XCTAssertTrue(run(&bucket, cost: CoreLimits.tokensPerCallMax, rate: rate, at: Int64.max / 2))
    }
}

final class GateRateLimitTests: XCTestCase {
    let now = Fixture.now

    private func config(shop: RateLimit? = nil, tier: RateLimit? = nil, shadow: Bool = false) -> Configuration {
        Fixture.config { config in
            if let shop { config.shopRateLimits["shop"] = shop }
            if let tier { config.tierRateLimits["starter"] = tier }
            config.shadowMode = shadow
        }
    }

    func testRequestsPerMinuteDenyWithRateLimited() throws {
        let config = config(shop: RateLimit(requestsPerMinute: 2))
        var state = ShopState(shopID: "shop")
        let ids = IDMaker()
        for _ in 0..<2 { XCTAssertEqual(try state.check(Fixture.gate(input: 10), config: config, now: now, ids: ids).decision, .allow) }
        let denied = try state.check(Fixture.gate(input: 10), config: config, now: now, ids: ids)
        XCTAssertEqual(denied.decision, .deny)
        XCTAssertEqual(denied.reason, .rateLimited)
        XCTAssertTrue(denied.message.contains("2 requests per minute"), denied.message)
        XCTAssertTrue(denied.message.contains("retry in 30000 ms"), denied.message)
        XCTAssertEqual(try state.check(Fixture.gate(input: 10), config: config, now: now + 30_000, ids: ids).decision, .allow)
    }

    func testTokensPerMinuteCountTheWorstCase() throws {
        let config = config(tier: RateLimit(tokensPerMinute: 1_000))
        var state = ShopState(shopID: "shop")
        let ids = IDMaker()
        XCTAssertEqual(try state.check(Fixture.gate(input: 400, output: 300), config: config, now: now, ids: ids).decision, .allow)
        let denied = try state.check(Fixture.gate(input: 200, output: 200), config: config, now: now, ids: ids)
        XCTAssertEqual(denied.reason, .rateLimited)
        XCTAssertTrue(denied.message.contains("1000 tokens per minute"), denied.message)
        XCTAssertEqual(try state.check(Fixture.gate(input: 300), config: config, now: now, ids: ids).decision, .allow)
        let tooBig = try state.check(Fixture.gate(input: 1_001), config: config, now: now + 600_000, ids: ids)
        XCTAssertTrue(tooBig.message.contains("exceed the whole per-minute allowance"), tooBig.message)
    }

    func testAShopsOwnLimitReplacesItsTiers() throws {
        let config = config(shop: RateLimit(requestsPerMinute: 5), tier: RateLimit(requestsPerMinute: 1))
        XCTAssertEqual(config.rateLimit(shopID: "shop", tier: "starter"), RateLimit(requestsPerMinute: 5))
        XCTAssertEqual(config.rateLimit(shopID: "other", tier: "starter"), RateLimit(requestsPerMinute: 1))
        XCTAssertEqual(config.rateLimit(shopID: "other", tier: "professional"), .unlimited)
        var other = ShopState(shopID: "other")
        let ids = IDMaker()
        XCTAssertEqual(try other.check(Fixture.gate("other"), config: config, now: now, ids: ids).decision, .allow)
        XCTAssertEqual(try other.check(Fixture.gate("other"), config: config, now: now, ids: ids).reason, .rateLimited)
        other.apply(.tierAssignment(shopID: "other", tier: "professional"))
        XCTAssertEqual(try other.check(Fixture.gate("other"), config: config, now: now, ids: ids).decision, .allow,
                       "a tier without a rate limit is unlimited")
    }

    func testCallsTheBudgetRefusesUseNoRateAllowance() throws {
        let config = config(shop: RateLimit(requestsPerMinute: 1))
        var state = ShopState(shopID: "shop")
        let ids = IDMaker()
        let overLimit = try state.check(Fixture.gate(input: 20_000), config: config, now: now, ids: ids)
        XCTAssertEqual(overLimit.reason, .messageTokenLimit)
        XCTAssertFalse(state.tracksRateLimits)
        XCTAssertEqual(try state.check(Fixture.gate(input: 10), config: config, now: now, ids: ids).decision, .allow)
        XCTAssertEqual(try state.check(Fixture.gate(input: 10), config: config, now: now, ids: ids).reason, .rateLimited)
    }

    func testShadowModeAllowsAndReportsButRecordsOnlyConformingCalls() throws {
        let config = config(shop: RateLimit(requestsPerMinute: 1), shadow: true)
        var state = ShopState(shopID: "shop")
        let ids = IDMaker()
        XCTAssertFalse(try state.check(Fixture.gate(), config: config, now: now, ids: ids).shadowDenied)
        for _ in 0..<3 {
            let response = try state.check(Fixture.gate(), config: config, now: now, ids: ids)
            XCTAssertEqual(response.decision, .allow)
            XCTAssertTrue(response.shadowDenied)
            XCTAssertEqual(response.shadowReason, .rateLimited)
        }
        // Enforcement would have refused those three, so they do not push the bucket further out.
        XCTAssertFalse(try state.check(Fixture.gate(), config: config, now: now + 60_000, ids: ids).shadowDenied)
    }

    func testSweepForgetsIdleRateStateOfUnknownShops() throws {
        let config = config(tier: RateLimit(requestsPerMinute: 10))
        var state = ShopState(shopID: "drive-by")
        _ = try state.check(Fixture.gate("drive-by"), config: config, now: now, ids: IDMaker())
        XCTAssertTrue(state.tracksRateLimits)
        state.sweep(now: now + 5_999)
        XCTAssertTrue(state.tracksRateLimits, "still inside its interval")
        state.sweep(now: now + 6_000)
        XCTAssertFalse(state.tracksRateLimits)
    }
}
