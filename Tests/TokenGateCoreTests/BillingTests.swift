// Tests of tier charges with the seed's numbers, the honest recommendation (the seed's
// message-count thresholds recommended a dearer tier), and GenerateBilling planning: open
// periods, previews, stored records and the month boundary.

import XCTest

@testable import TokenGateCore

final class BillingTests: XCTestCase {
    let tiers = Configuration.defaults.tiers
    var starter: Tier { tiers["starter"]! }
    var professional: Tier { tiers["professional"]! }
    var enterprise: Tier { tiers["enterprise"]! }

    func testSeedCharges() throws {
        let starter1500 = try Billing.charges(tier: starter, messages: 1_500)
        XCTAssertEqual(starter1500.base, usd("5"))
        XCTAssertEqual(starter1500.overage, usd("0.075"))
        XCTAssertEqual(starter1500.total, 5_075_000_000)

        let starterCapped = try Billing.charges(tier: starter, messages: 400_000)
        XCTAssertEqual(starterCapped.overage, usd("59.85"))
        XCTAssertEqual(starterCapped.total, usd("50.00"))

        XCTAssertEqual(try Billing.charges(tier: professional, messages: 10_000).total, usd("15.00"))
        XCTAssertEqual(try Billing.charges(tier: professional, messages: 10_001).total, usd("15.0001"))
        XCTAssertEqual(try Billing.charges(tier: starter, messages: 0).total, usd("5"))
        XCTAssertEqual(try Billing.charges(tier: starter, messages: 1_000).overage, 0)
        // Unlimited included messages never pay overage.
        XCTAssertEqual(try Billing.charges(tier: enterprise, messages: 5_000_000).total, 0)
    }

    func testChargesOverflowIsAnError() {
        assertThrows(.outOfRange) { () throws(TokenGateError) in try Billing.charges(tier: self.starter, messages: .max) }
    }

    func testRecommendationAt5000MessagesKeepsStarter() throws {
        // The seed's thresholds said "professional" for 1,001...10,000 messages, but starter
        // costs $5.60 there and professional $15.00.
        XCTAssertEqual(try Billing.charges(tier: starter, messages: 5_000).total, usd("5.60"))
        let recommendation = try Billing.recommend(messages: 5_000, currentTier: starter, tiers: tiers)
        XCTAssertEqual(recommendation.tier, "starter")
        XCTAssertEqual(recommendation.total, usd("5.60"))
        XCTAssertEqual(recommendation.saving, 0)
        // A professional shop at 5,000 messages is told it could save $9.40 on starter.
        let fromProfessional = try Billing.recommend(messages: 5_000, currentTier: professional, tiers: tiers)
        XCTAssertEqual(fromProfessional.tier, "starter")
        XCTAssertEqual(fromProfessional.saving, usd("9.40"))
    }

    func testRecommendationPicksProfessionalWhenItIsCheaper() throws {
        // 250,000 messages: starter $42.35, professional $39.00.
        let recommendation = try Billing.recommend(messages: 250_000, currentTier: starter, tiers: tiers)
        XCTAssertEqual(recommendation.tier, "professional")
        XCTAssertEqual(recommendation.total, usd("39"))
        XCTAssertEqual(recommendation.saving, usd("3.35"))
    }

    func testTiesKeepTheCurrentTierElseTheFirstName() throws {
        // 183,000 messages cost $32.30 on both self-serve tiers.
        XCTAssertEqual(try Billing.charges(tier: starter, messages: 183_000).total, usd("32.30"))
        XCTAssertEqual(try Billing.charges(tier: professional, messages: 183_000).total, usd("32.30"))
        XCTAssertEqual(try Billing.recommend(messages: 183_000, currentTier: starter, tiers: tiers).tier, "starter")
        XCTAssertEqual(try Billing.recommend(messages: 183_000, currentTier: professional, tiers: tiers).tier, "professional")
        XCTAssertEqual(try Billing.recommend(messages: 183_000, currentTier: enterprise, tiers: tiers).tier, "professional")
    }

    func testEnterpriseIsNeverRecommendedAutomatically() throws {
        // Enterprise is cheapest here ($0 fee, unlimited) but custom-priced: not recommended.
        for messages: UInt64 in [0, 5_000, 400_000] {
            let fromEnterprise = try Billing.recommend(messages: messages, currentTier: enterprise, tiers: tiers)
            XCTAssertNotEqual(fromEnterprise.tier, "enterprise")
            XCTAssertEqual(fromEnterprise.saving, 0, "a dearer tier is no saving")
            XCTAssertNotEqual(try Billing.recommend(messages: messages, currentTier: starter, tiers: tiers).tier, "enterprise")
        }
        // 10M messages: no self-serve tier would serve them under its cap, so none is offered.
        let huge = try Billing.recommend(messages: 10_000_000, currentTier: enterprise, tiers: tiers)
        XCTAssertEqual(huge.tier, "enterprise")
        XCTAssertEqual(huge.saving, 0)
        let onlyCustom = ["enterprise": enterprise]
        let none = try Billing.recommend(messages: 10, currentTier: enterprise, tiers: onlyCustom)
        XCTAssertEqual(none.tier, "enterprise")
        XCTAssertEqual(none.saving, 0)
    }

    func testRecommendationNeverPointsPastATiersSpendCap() throws {
        // The case: a professional shop with 1M messages pays $114.00. Starter's capped
        // total is $50.00 ("save $64"), but its uncapped charge is $154.85: the gate would refuse
        // ~70 % of the calls past the $50 cap. Professional is the honest answer.
        XCTAssertEqual(try Billing.charges(tier: professional, messages: 1_000_000).total, usd("114"))
        XCTAssertEqual(try Billing.charges(tier: starter, messages: 1_000_000).total, usd("50"))
        let recommendation = try Billing.recommend(messages: 1_000_000, currentTier: professional, tiers: tiers)
        XCTAssertEqual(recommendation.tier, "professional")
        XCTAssertEqual(recommendation.total, usd("114"))
        XCTAssertEqual(recommendation.saving, 0)
        // From starter (capped at $50, refusing calls) the honest advice is professional, which costs more.
        let fromStarter = try Billing.recommend(messages: 1_000_000, currentTier: starter, tiers: tiers)
        XCTAssertEqual(fromStarter.tier, "professional")
        XCTAssertEqual(fromStarter.saving, 0)
    }

    func testRecommendationWithTiersWhereTheCappedTotalWouldMislead() throws {
        // "cheap": $1 + $0.001 a message, capped at $10; "flat": $20, unlimited, no cap.
        let cheap = Tier(name: "cheap", monthlyFeeNanoUSD: usd("1"), includedMessages: 0, overagePerMessageNanoUSD: usd("0.001"),
                         maxMonthlySpendNanoUSD: usd("10"), selfServe: true)
        let flat = Tier(name: "flat", monthlyFeeNanoUSD: usd("20"), includedMessages: nil, overagePerMessageNanoUSD: 0,
                        maxMonthlySpendNanoUSD: nil, selfServe: true)
        let custom = Tier(name: "custom", monthlyFeeNanoUSD: 0, includedMessages: nil, overagePerMessageNanoUSD: 0,
                          maxMonthlySpendNanoUSD: nil, selfServe: false)
        let set = ["cheap": cheap, "flat": flat, "custom": custom]
        // 50,000 messages: cheap's capped total $10 (uncapped $51), flat $20, custom $0.
        let big = try Billing.recommend(messages: 50_000, currentTier: flat, tiers: set)
        XCTAssertEqual(big.tier, "flat", "cheap would refuse calls past $10; custom is never auto-recommended")
        XCTAssertEqual(big.saving, 0)
        // 8,000 messages: cheap $9.00 stays below its cap, so it is offered, saving $11.
        let small = try Billing.recommend(messages: 8_000, currentTier: flat, tiers: set)
        XCTAssertEqual(small.tier, "cheap")
        XCTAssertEqual(small.saving, usd("11"))
        // 9,000 messages: cheap's uncapped $10.00 reaches the cap (the gate denies at the cap).
        XCTAssertEqual(try Billing.recommend(messages: 9_000, currentTier: flat, tiers: set).tier, "flat")
    }

    // MARK: - GenerateBilling

    /// A shop with `count` flash events in 2026-11 (each 1,000 in / 100 out tokens).
    func shop(messages count: Int, lastAt: UnixMillis = utc(2026, 11, 30, 23, 59, 59, 999)) -> ShopState {
        var state = ShopState(shopID: "shop")
        for index in 0..<count {
            state.apply(.usage(UsageEvent(
                eventID: "e\(index)", shopID: "shop", userID: "", conversationID: "", operationType: "chat_message",
                model: "gemini-2.5-flash", inputTokens: 1_000, outputTokens: 100, cachedInputTokens: 0,
                occurredAtUnixMs: lastAt - Int64(index) * 1_000, costNanoUSD: 550_000, metadata: UsageMetadata(),
                recordedAtUnixMs: lastAt)))
        }
        return state
    }

    func testStarterShopWith1500MessagesBills5075() throws {
        var state = shop(messages: 1_500)
        let config = Configuration.defaults
        let response = try state.bill(GenerateBillingRequest(shopID: "shop", period: "2026-11"), config: config, now: utc(2026, 12, 2))
        XCTAssertTrue(response.newlyStored)
        XCTAssertEqual(response.record, BillingRecord(
            shopID: "shop", period: "2026-11", tier: "starter", messagesUsed: 1_500, tokensUsed: 1_650_000,
            apiCostNanoUSD: 1_500 * 550_000, baseChargeNanoUSD: usd("5"), overageChargeNanoUSD: usd("0.075"),
            totalChargeNanoUSD: 5_075_000_000, paid: false, generatedAtUnixMs: utc(2026, 12, 2), preview: false))
        XCTAssertEqual(response.recommendedTier, "starter")
        XCTAssertEqual(state.billingRecord(period: try MonthKey(parsing: "2026-11"))?.totalChargeNanoUSD, 5_075_000_000)

        // Generating again returns the stored record, even under another tier and time.
        state.apply(.tierAssignment(shopID: "shop", tier: "professional"))
        let again = try state.bill(GenerateBillingRequest(shopID: "shop", period: "2026-11"), config: config, now: utc(2027, 1, 5))
        XCTAssertFalse(again.newlyStored)
        XCTAssertEqual(again.record, response.record)
        XCTAssertEqual(state.billingRecords.count, 1)
    }

    func testOpenPeriodCanOnlyBePreviewed() throws {
        var state = shop(messages: 3)
        let config = Configuration.defaults
        let lastMoment = utc(2026, 11, 30, 23, 59, 59, 999)
        assertThrows(.failedPrecondition, "period 2026-11 has not ended") { () throws(TokenGateError) in
            try state.planBilling(GenerateBillingRequest(shopID: "shop", period: "2026-11"), config: config, now: lastMoment)
        }
        guard case .preview(let preview) = try state.planBilling(
            GenerateBillingRequest(shopID: "shop", period: "2026-11", preview: true), config: config, now: lastMoment)
        else { return XCTFail("expected a preview") }
        XCTAssertTrue(preview.record.preview)
        XCTAssertFalse(preview.newlyStored)
        XCTAssertEqual(preview.record.messagesUsed, 3)
        XCTAssertEqual(preview.record.totalChargeNanoUSD, usd("5"))
        XCTAssertTrue(state.billingRecords.isEmpty)
        // One millisecond later the month has ended, but its 24-hour grace period runs until
        // 2026-12-02T00:00:00Z: a final bill says so.
        let graceEnd = utc(2026, 12, 2)
        assertThrows(.failedPrecondition, "a final bill is possible from 2026-12-02T00:00:00") { () throws(TokenGateError) in
            try state.planBilling(GenerateBillingRequest(shopID: "shop", period: "2026-11"), config: config, now: lastMoment + 1)
        }
        assertThrows(.failedPrecondition, "grace period") { () throws(TokenGateError) in
            try state.planBilling(GenerateBillingRequest(shopID: "shop", period: "2026-11"), config: config, now: graceEnd - 1)
        }
        var noGrace = config
        noGrace.billingGraceMs = 0
        guard case .store = try state.planBilling(
            GenerateBillingRequest(shopID: "shop", period: "2026-11"), config: noGrace, now: lastMoment + 1)
        else { return XCTFail("with no grace period the month can be billed once it has ended") }
        guard case .store(let record, _) = try state.planBilling(
            GenerateBillingRequest(shopID: "shop", period: "2026-11"), config: config, now: graceEnd)
        else { return XCTFail("expected a record to store") }
        XCTAssertFalse(record.preview)
        state.apply(.billing(record))
        guard case .existing = try state.planBilling(
            GenerateBillingRequest(shopID: "shop", period: "2026-11", preview: true), config: config, now: graceEnd)
        else { return XCTFail("a stored record is returned even for a preview") }
    }

    func testBillingUsesOnlyTheMonthsEventsAndTheAssignedTier() throws {
        var state = shop(messages: 2)  // at 2026-11-30 23:59:59.999 and .998 - 1 s
        state.apply(.usage(UsageEvent(
            eventID: "december", shopID: "shop", userID: "", conversationID: "", operationType: "chat_message",
            model: "gemini-2.5-flash", inputTokens: 7, outputTokens: 3, cachedInputTokens: 0,
            occurredAtUnixMs: utc(2026, 12, 1), costNanoUSD: 99, metadata: UsageMetadata(), recordedAtUnixMs: utc(2026, 12, 1))))
        // Moved to professional on 2026-12-10, after November ended: November keeps its terms
        // (the seed re-priced it under the tier in effect when the bill was generated).
        state.apply(.tierAssignment(shopID: "shop", tier: "professional", effectiveFromUnixMs: utc(2026, 12, 10)))
        let november = try state.bill(GenerateBillingRequest(shopID: "shop", period: "2026-11"), config: .defaults, now: utc(2027, 1, 2))
        XCTAssertEqual(november.record.messagesUsed, 2)
        XCTAssertEqual(november.record.apiCostNanoUSD, 1_100_000)
        XCTAssertEqual(november.record.tier, "starter", "the tier in effect at November's last instant")
        XCTAssertEqual(november.record.totalChargeNanoUSD, usd("5"))
        XCTAssertEqual(november.recommendedTier, "starter")
        XCTAssertEqual(november.savingNanoUSD, 0)
        let december = try state.bill(GenerateBillingRequest(shopID: "shop", period: "2026-12"), config: .defaults, now: utc(2027, 1, 2))
        XCTAssertEqual(december.record.messagesUsed, 1)
        XCTAssertEqual(december.record.tokensUsed, 10)
        XCTAssertEqual(december.record.apiCostNanoUSD, 99)
        XCTAssertEqual(december.record.tier, "professional", "in effect at December's last instant")
        XCTAssertEqual(december.record.totalChargeNanoUSD, usd("15"))
    }

    func testBackdatedAssignmentReplacesLaterOnesAndSinceAlwaysRecordsStillRead() throws {
        var state = ShopState(shopID: "shop")
        // A record written before assignments were versioned reads as effective since always.
        state.apply(.tierAssignment(shopID: "shop", tier: "professional"))
        XCTAssertEqual(state.tierName(config: .defaults, at: utc(2020, 1, 1)), "professional")
        state.apply(.tierAssignment(shopID: "shop", tier: "enterprise", effectiveFromUnixMs: utc(2026, 12, 1)))
        state.apply(.tierAssignment(shopID: "shop", tier: "starter", effectiveFromUnixMs: utc(2026, 11, 15)))
        XCTAssertEqual(state.tierName(config: .defaults, at: utc(2026, 11, 14)), "professional")
        XCTAssertEqual(state.tierName(config: .defaults, at: utc(2026, 12, 5)), "starter", "the backdated change replaced the later one")
        XCTAssertEqual(state.durableFacts.count, 2)
        XCTAssertTrue(state.hadAssignment(from: utc(2026, 10, 1), to: utc(2026, 11, 1)))
        var quiet = ShopState(shopID: "late")
        quiet.apply(.tierAssignment(shopID: "late", tier: "starter", effectiveFromUnixMs: utc(2026, 11, 1)))
        XCTAssertFalse(quiet.hadAssignment(from: utc(2026, 10, 1), to: utc(2026, 11, 1)), "assigned after October")
        XCTAssertTrue(quiet.hadAssignment(from: utc(2026, 11, 1), to: utc(2026, 12, 1)))
        quiet.apply(.tierAssignment(shopID: "late", tier: "", effectiveFromUnixMs: utc(2026, 11, 1)))
        XCTAssertFalse(quiet.hadAssignment(from: utc(2026, 11, 1), to: utc(2026, 12, 1)), "reverted to the default tier")
    }

    func testBillingValidation() {
        let state = shop(messages: 0)
        assertThrows(.invalidArgument, "period must be YYYY-MM") { () throws(TokenGateError) in
            try state.planBilling(GenerateBillingRequest(shopID: "shop", period: "2026-1"), config: .defaults, now: Fixture.now)
        }
        var refusing = Configuration.defaults
        refusing.unknownShopPolicy = .deny
        assertThrows(.notFound, "unknown") { () throws(TokenGateError) in
            try state.planBilling(GenerateBillingRequest(shopID: "shop", period: "2026-10"), config: refusing, now: Fixture.now)
        }
        var orphan = ShopState(shopID: "shop")
        orphan.apply(.tierAssignment(shopID: "shop", tier: "gold"))
        assertThrows(.failedPrecondition, "tier 'gold'") { () throws(TokenGateError) in
            try orphan.planBilling(GenerateBillingRequest(shopID: "shop", period: "2026-10"), config: .defaults, now: Fixture.now)
        }
    }
}
