// Tests of LogUsage planning: cost at the event's time, totals of the event's day and month,
// violations reported (never refused), alerts on crossing, idempotency by event id, and the
// bounds on occurred_at.

import XCTest

@testable import TokenGateCore

final class UsageTests: XCTestCase {
    let config = Fixture.config()
    let now = Fixture.now

    func testSeedEventIsPricedAndRecorded() throws {
        var state = ShopState(shopID: "shop")
        let request = LogUsageRequest(
            eventID: "evt-1", shopID: "shop", userID: "user_456", conversationID: "conv_789", operationType: "chat_message",
            model: "gemini-2.5-flash", inputTokens: 2062, outputTokens: 201,
            metadata: UsageMetadata(messageLength: 50, historyLength: 5, knowledgeBaseSize: 1500))
        guard case .record(let event, let response) = try state.planUsage(request, config: config, now: now) else {
            return XCTFail("expected a record")
        }
        XCTAssertEqual(event.costNanoUSD, 1_121_100)
        XCTAssertEqual(event.occurredAtUnixMs, now, "0 means now")
        XCTAssertEqual(event.recordedAtUnixMs, now)
        XCTAssertEqual(event.metadata.knowledgeBaseSize, 1500)
        XCTAssertEqual(response, LogUsageResponse(
            eventID: "evt-1", costNanoUSD: 1_121_100, dailyTotalNanoUSD: 1_121_100, monthlyTotalNanoUSD: 1_121_100,
            occurredAtUnixMs: now, billingPeriod: MonthKey(unixMs: now).text, reservationOutcome: ReservationOutcome.none))
        XCTAssertNil(state.event(id: "evt-1"), "planning does not mutate")
        state.apply(.usage(event))
        XCTAssertEqual(state.event(id: "evt-1"), event)
        let month = state.aggregate(month: MonthKey(unixMs: now))
        XCTAssertEqual(month, MonthAggregate(messages: 1, inputTokens: 2062, outputTokens: 201, cachedInputTokens: 0, costNanoUSD: 1_121_100))
    }

    func testTotalsAreOfTheEventsOwnDayAndMonth() throws {
        var state = ShopState(shopID: "shop")
        _ = try state.log(Fixture.usage("today", input: 1000), config: config, now: now)
        let yesterday = try state.log(Fixture.usage("yesterday", input: 500, at: utc(2026, 11, 24, 23)), config: config, now: now)
        XCTAssertEqual(yesterday.dailyTotalNanoUSD, usd("0.5"))
        XCTAssertEqual(yesterday.monthlyTotalNanoUSD, usd("1.5"))
        XCTAssertEqual(state.spent(day: DayKey(unixMs: now)), usd("1"))
        let lastMonth = try state.log(Fixture.usage("october", input: 200, at: utc(2026, 10, 31, 23, 59, 59, 999)), config: config, now: now)
        XCTAssertEqual(lastMonth.monthlyTotalNanoUSD, usd("0.2"))
        XCTAssertEqual(state.aggregate(month: MonthKey(unixMs: now)).messages, 2)
    }

    func testViolationsAreReportedButTheUsageIsRecorded() throws {
        var state = ShopState(shopID: "shop")
        let response = try state.log(Fixture.usage("big", input: 12_000, output: 2_500, model: "gemini-2.5-flash"), config: config, now: now)
        XCTAssertEqual(response.violations.map(\.kind), [.inputTokens, .outputTokens, .totalTokens])
        XCTAssertEqual(response.violations[0], LimitViolation(
            kind: .inputTokens, limit: 10_000, actual: 12_000,
            message: "input tokens 12000 exceed the per-message limit of 10000 for chat_message"))
        XCTAssertEqual(response.violations[2].actual, 14_500)
        XCTAssertNotNil(state.event(id: "big"))
    }

    func testAlertsAreRaisedWhenTotalsCrossTheThresholdAndTheCap() throws {
        var state = ShopState(shopID: "shop")
        XCTAssertEqual(try state.log(Fixture.usage("a", input: 3999), config: config, now: now).alerts, [])
        let threshold = try state.log(Fixture.usage("b", input: 1), config: config, now: now).alerts
        XCTAssertEqual(threshold.map(\.kind), [.dailyThreshold])
        XCTAssertEqual(threshold.first?.thresholdNanoUSD, usd("4"))
        XCTAssertEqual(threshold.first?.actualNanoUSD, usd("4"))
        XCTAssertEqual(threshold.first?.period, "2026-11-25")
        XCTAssertEqual(threshold.first?.raisedAtUnixMs, now)
        XCTAssertEqual(try state.log(Fixture.usage("c", input: 500), config: config, now: now).alerts, [], "crossed once")
        let cap = try state.log(Fixture.usage("d", input: 96_000), config: config, now: now).alerts
        XCTAssertEqual(cap.map(\.kind), [.dailyCap, .monthlyThreshold, .monthlyCap])
        XCTAssertEqual(cap.last?.period, "2026-11")
        XCTAssertEqual(cap.last?.actualNanoUSD, usd("100.5"))
        XCTAssertEqual(cap.last?.thresholdNanoUSD, usd("100"))
    }

    func testDuplicateEventIDReturnsTheFirstResult() throws {
        var state = ShopState(shopID: "shop")
        let first = try state.log(Fixture.usage("e1", input: 1000), config: config, now: now)
        _ = try state.log(Fixture.usage("e2", input: 2000), config: config, now: now)
        // Retried later, unchanged (occurred_at 0 stays 0): the first result is returned and nothing changes.
        let again = try state.log(Fixture.usage("e1", input: 1000), config: config, now: now + 60_000)
        var expected = first
        expected.duplicate = true
        expected.reservationOutcome = .unspecified  // the first call's outcome is not kept
        XCTAssertEqual(again, expected)
        XCTAssertEqual(again.dailyTotalNanoUSD, usd("1"), "the total as of the first call, not now")
        XCTAssertEqual(state.events.count, 2)
        XCTAssertEqual(state.spent(day: DayKey(unixMs: now)), usd("3"))
        // The same id with other content is a client bug: ALREADY_EXISTS naming the first field that differs.
        assertThrows(.alreadyExists, "with another input_tokens") { () throws(TokenGateError) in
            try state.planUsage(Fixture.usage("e1", input: 9999, output: 9), config: self.config, now: self.now + 60_000)
        }
        assertThrows(.alreadyExists, "with another model") { () throws(TokenGateError) in
            try state.planUsage(Fixture.usage("e1", input: 1000, model: "other"), config: self.config, now: self.now)
        }
        assertThrows(.alreadyExists, "with another occurred_at_unix_ms") { () throws(TokenGateError) in
            try state.planUsage(Fixture.usage("e1", input: 1000, at: self.now - 1), config: self.config, now: self.now)
        }
        var otherMetadata = Fixture.usage("e1", input: 1000)
        otherMetadata.metadata.messageLength = 7
        assertThrows(.alreadyExists, "with another metadata") { () throws(TokenGateError) in
            try state.planUsage(otherMetadata, config: self.config, now: self.now)
        }
        // The time it arrived, sent explicitly, is the same request as 0.
        XCTAssertTrue(try state.log(Fixture.usage("e1", input: 1000, at: now), config: config, now: now + 1).duplicate)
        // Applying the same fact twice (log replay) is a no-op too.
        state.apply(.usage(state.event(id: "e1")!))
        XCTAssertEqual(state.events.count, 2)
        XCTAssertEqual(state.spent(day: DayKey(unixMs: now)), usd("3"))
    }

    func testOccurredAtBounds() throws {
        var state = ShopState(shopID: "shop")
        XCTAssertNoThrow(try state.planUsage(Fixture.usage("edge", at: now + 5_000), config: config, now: now))
        assertThrows(.invalidArgument, "in the future") { () throws(TokenGateError) in
            try state.planUsage(Fixture.usage("future", at: self.now + 5_001), config: self.config, now: self.now)
        }
        assertThrows(.invalidArgument, "occurred_at_unix_ms is -1") { () throws(TokenGateError) in
            try state.planUsage(Fixture.usage("past", at: -1), config: self.config, now: self.now)
        }
        // Once October is billed, October usage is still recorded (the tokens were spent): it
        // lands on November's bill, and stays in October's reports.
        _ = try state.log(Fixture.usage("oct", input: 10, at: utc(2026, 10, 10)), config: config, now: now)
        _ = try state.bill(GenerateBillingRequest(shopID: "shop", period: "2026-10"), config: config, now: now)
        let late = try state.log(Fixture.usage("late", input: 20, at: utc(2026, 10, 31, 23, 59, 59, 999)), config: config, now: now)
        XCTAssertEqual(late.billingPeriod, "2026-11")
        XCTAssertEqual(state.event(id: "late")?.billingPeriod, "2026-11")
        let october = try MonthKey(parsing: "2026-10")
        let november = try MonthKey(parsing: "2026-11")
        XCTAssertEqual(state.aggregate(month: october).messages, 2, "reports group by when usage occurred")
        XCTAssertEqual(state.billedAggregate(month: october).messages, 1)
        XCTAssertEqual(state.billedAggregate(month: november).messages, 1)
        XCTAssertEqual(try state.log(Fixture.usage("ok", at: utc(2026, 11, 1)), config: config, now: now).billingPeriod, "2026-11")
        XCTAssertEqual(state.billedAggregate(month: november).messages, 2)
        // A shop rebuilt from its durable facts (a snapshot) keeps the late event on November.
        var rebuilt = ShopState(shopID: "shop")
        for fact in state.durableFacts { rebuilt.apply(fact) }
        XCTAssertEqual(rebuilt.billedAggregate(month: november), state.billedAggregate(month: november))
        XCTAssertEqual(rebuilt.billedAggregate(month: october), state.billedAggregate(month: october))
        // A retry of an event already recorded in the billed month is still answered.
        XCTAssertTrue(try state.log(Fixture.usage("oct", input: 10, at: utc(2026, 10, 10)), config: config, now: now).duplicate)
    }

    func testPriceInEffectAtTheEventsTimeIsUsed() throws {
        let change = utc(2026, 11, 20)
        let repriced = Fixture.config { config in
            var newer = config.prices.models["test-model"]![0]
            newer.effectiveFromUnixMs = change
            newer.base.inputPerMillion = usd("2000")
            config.prices.models["test-model"]!.append(newer)
        }
        let state = ShopState(shopID: "shop")
        guard case .record(let before, _) = try state.planUsage(Fixture.usage("a", input: 1000, at: change - 1), config: repriced, now: now),
            case .record(let after, _) = try state.planUsage(Fixture.usage("b", input: 1000, at: change), config: repriced, now: now)
        else { return XCTFail("expected records") }
        XCTAssertEqual(before.costNanoUSD, usd("1"))
        XCTAssertEqual(after.costNanoUSD, usd("2"))
    }

    func testValidation() {
        let state = ShopState(shopID: "shop")
        var metadata = Fixture.usage("m")
        metadata.metadata.extra = (0...CoreLimits.metadataEntriesMax).map { MetadataEntry(key: "k\($0)", value: "v") }
        let cases: [(StatusCode, String, LogUsageRequest)] = [
            (.invalidArgument, "event_id is empty", Fixture.usage("")),
            (.invalidArgument, "event_id is 129 bytes", Fixture.usage(String(repeating: "e", count: 129))),
            (.invalidArgument, "shop_id is empty", Fixture.usage("e", shop: "")),
            (.invalidArgument, "cached_input_tokens (11) exceeds input_tokens (10)", Fixture.usage("e", input: 10, cached: 11)),
            (.invalidArgument, "output_tokens is 10000000001", Fixture.usage("e", output: 10_000_000_001)),
            (.invalidArgument, "unknown operation_type 'video'", Fixture.usage("e", operation: "video")),
            (.notFound, "unknown model 'gpt-x'", Fixture.usage("e", model: "gpt-x")),
            (.invalidArgument, "metadata.extra has 33 entries", metadata),
        ]
        for (code, message, request) in cases {
            assertThrows(code, message) { () throws(TokenGateError) in try state.planUsage(request, config: self.config, now: self.now) }
        }
    }
}
