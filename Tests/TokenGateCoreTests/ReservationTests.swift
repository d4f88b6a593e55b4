// Tests of reservations: holds count as spent, release returns the amount once, settle by
// LogUsage, expiry after the TTL, clear errors for a second settle or release, and the bounded
// memory of ended ids.

import XCTest

@testable import TokenGateCore

final class ReservationTests: XCTestCase {
    let config = Fixture.config()
    let now = Fixture.now
    let ids = IDMaker()

    func testHoldsCountAsSpentSoConcurrentChecksCannotOvershoot() throws {
        var state = ShopState(shopID: "shop")
        for index in 1...5 {
            let response = try state.check(Fixture.gate(input: 500, output: 500, reserve: true), config: config, now: now, ids: ids)
            XCTAssertEqual(response.decision, .allow, "hold \(index)")
            XCTAssertEqual(response.reservationID, "r\(index)")
            XCTAssertEqual(response.reservationExpiresUnixMs, now + 120_000)
            XCTAssertEqual(response.dailyRemainingNanoUSD, usd("5") - usd("1") * NanoUSD(index - 1), "remaining before this hold")
        }
        XCTAssertEqual(state.heldNanoUSD, usd("5"))
        let sixth = try state.check(Fixture.gate(input: 500, output: 500, reserve: true), config: config, now: now, ids: ids)
        XCTAssertEqual(sixth.reason, .dailyCapReached)
        XCTAssertEqual(sixth.reservationID, "")
        XCTAssertEqual(ids.issued, 5, "no id is made for a denied request")
        XCTAssertTrue(sixth.warning)

        XCTAssertEqual(try state.releaseReservation(id: "r3", now: now), usd("1"))
        XCTAssertEqual(state.heldNanoUSD, usd("4"))
        XCTAssertEqual(try state.check(Fixture.gate(input: 500, output: 500), config: config, now: now, ids: ids).decision, .allow)
    }

    func testReleaseTwiceAndUnknownAreClearErrors() throws {
        var state = ShopState(shopID: "shop")
        _ = try state.check(Fixture.gate(input: 100, reserve: true), config: config, now: now, ids: ids)
        XCTAssertEqual(try state.releaseReservation(id: "r1", now: now), usd("0.1"))
        assertThrows(.failedPrecondition, "reservation 'r1' was already released at 2026-11-25T12:00:00.000Z") {
            () throws(TokenGateError) in try state.releaseReservation(id: "r1", now: self.now + 1)
        }
        assertThrows(.notFound, "reservation 'nope' is unknown") { () throws(TokenGateError) in
            try state.releaseReservation(id: "nope", now: self.now)
        }
        assertThrows(.invalidArgument, "reservation_id is empty") { () throws(TokenGateError) in
            try state.releaseReservation(id: "", now: self.now)
        }
    }

    func testLogUsageSettlesTheHoldAndRecordsTheActualCost() throws {
        var state = ShopState(shopID: "shop")
        let gate = try state.check(Fixture.gate(input: 1000, output: 1000, reserve: true), config: config, now: now, ids: ids)
        XCTAssertEqual(state.heldNanoUSD, usd("2"))
        let logged = try state.log(Fixture.usage("e1", input: 1000, output: 300, reservation: gate.reservationID), config: config, now: now + 10)
        XCTAssertEqual(logged.costNanoUSD, usd("1.3"))
        XCTAssertEqual(state.heldNanoUSD, 0)
        XCTAssertEqual(state.spent(day: DayKey(unixMs: now)), usd("1.3"))
        XCTAssertEqual(try state.check(Fixture.gate(), config: config, now: now, ids: ids).dailyRemainingNanoUSD, usd("3.7"))
        assertThrows(.failedPrecondition, "was already settled by event 'e1'") { () throws(TokenGateError) in
            try state.releaseReservation(id: "r1", now: self.now + 20)
        }
        // Another event naming the same reservation is still recorded (the call happened): the
        // outcome says the hold had already ended. The same event is just a duplicate.
        let second = try state.log(Fixture.usage("e2", input: 10, reservation: "r1"), config: config, now: now + 30)
        XCTAssertEqual(second.reservationOutcome, .alreadyEnded)
        XCTAssertFalse(second.duplicate)
        XCTAssertEqual(logged.reservationOutcome, .settled)
        XCTAssertEqual(try state.log(Fixture.usage("e3", input: 10, reservation: "never-issued"), config: config, now: now + 31)
            .reservationOutcome, .unknown)
        XCTAssertEqual(try state.log(Fixture.usage("e4", input: 10), config: config, now: now + 32).reservationOutcome, .none)
        XCTAssertTrue(try state.log(Fixture.usage("e1", input: 1000, output: 300, reservation: "r1"), config: config, now: now + 40).duplicate)
    }

    func testHoldsExpireAfterTheTTL() throws {
        var state = ShopState(shopID: "shop")
        _ = try state.check(Fixture.gate(input: 5000, reserve: true), config: config, now: now, ids: ids)
        XCTAssertEqual(try state.check(Fixture.gate(input: 1), config: config, now: now + 119_999, ids: ids).reason, .dailyCapReached)
        XCTAssertEqual(state.held(at: now + 119_999).amountNanoUSD, usd("5"))
        XCTAssertEqual(state.held(at: now + 120_000).amountNanoUSD, 0, "expiry is exclusive")
        let after = try state.check(Fixture.gate(input: 1), config: config, now: now + 120_000, ids: ids)
        XCTAssertEqual(after.decision, .allow)
        XCTAssertEqual(after.dailyRemainingNanoUSD, usd("5"))
        XCTAssertEqual(state.heldNanoUSD, 0)
        assertThrows(.failedPrecondition, "expired at 2026-11-25T12:02:00.000Z") { () throws(TokenGateError) in
            try state.releaseReservation(id: "r1", now: self.now + 130_000)
        }
        // Usage that arrives after expiry is still recorded: the hold is gone, the tokens were spent.
        let late = try state.log(Fixture.usage("late", input: 100, reservation: "r1"), config: config, now: now + 140_000)
        XCTAssertEqual(late.costNanoUSD, usd("0.1"))
    }

    func testExpiredHoldsAreDroppedEvenWithoutAGateCall() throws {
        var state = ShopState(shopID: "shop")
        _ = try state.check(Fixture.gate(input: 100, reserve: true), config: config, now: now, ids: ids)
        XCTAssertEqual(state.reservation(id: "r1", now: now + 119_999)?.amountNanoUSD, usd("0.1"))
        XCTAssertNil(state.reservation(id: "r1", now: now + 120_000), "expired before any sweep")
        XCTAssertEqual(state.heldNanoUSD, usd("0.1"), "not swept yet")
        state.expireReservations(now: now + 120_000)
        XCTAssertEqual(state.heldNanoUSD, 0)
        XCTAssertNil(state.reservation(id: "r1", now: now + 120_000))
        XCTAssertEqual(state.reservationEnding(id: "r1", now: now + 120_000)?.how, .expired)
    }

    func testEndedIdsAreForgottenAfterTwiceTheTTL() throws {
        var state = ShopState(shopID: "shop")
        _ = try state.check(Fixture.gate(input: 100, reserve: true), config: config, now: now, ids: ids)
        _ = try state.releaseReservation(id: "r1", now: now)
        assertThrows(.failedPrecondition) { () throws(TokenGateError) in try state.releaseReservation(id: "r1", now: self.now + 239_999) }
        assertThrows(.notFound) { () throws(TokenGateError) in try state.releaseReservation(id: "r1", now: self.now + 240_000) }
        // Once forgotten, a LogUsage naming it records normally.
        XCTAssertNoThrow(try state.planUsage(Fixture.usage("e9", reservation: "r1"), config: config, now: now + 240_000))
    }

    func testReleasedReservationStillLetsUsageBeRecorded() throws {
        var state = ShopState(shopID: "shop")
        _ = try state.check(Fixture.gate(input: 100, reserve: true), config: config, now: now, ids: ids)
        _ = try state.releaseReservation(id: "r1", now: now)
        XCTAssertEqual(try state.log(Fixture.usage("e1", input: 100, reservation: "r1"), config: config, now: now).costNanoUSD, usd("0.1"))
    }

    func testLiveHoldsPerShopAreBounded() throws {
        var state = ShopState(shopID: "shop")
        let free = Fixture.gate(reserve: true)  // $0 holds, so only the count limit can stop them
        for _ in 0..<CoreLimits.liveReservationsPerShopMax {
            _ = try state.check(free, config: config, now: now, ids: ids)
        }
        assertThrows(.resourceExhausted, "live reservations") { () throws(TokenGateError) in
            try state.check(free, config: self.config, now: self.now, ids: self.ids)
        }
        XCTAssertEqual(ids.issued, CoreLimits.liveReservationsPerShopMax)
    }

    func testReusedReservationIDIsAnInternalError() throws {
        var state = ShopState(shopID: "shop")
        _ = try state.canMakeRequest(Fixture.gate(reserve: true), config: config, now: now) { "same" }
        assertThrows(.internal, "already in use") { () throws(TokenGateError) in
            try state.canMakeRequest(Fixture.gate(reserve: true), config: self.config, now: self.now) { "same" }
        }
    }
}
