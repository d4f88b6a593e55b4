// Issue 18: a shop kept only for gate state (holds, rate-limit windows) is its id, its
// reservation book and its rate limiter; its tier, usage and bill records are allocated on the
// first such fact. These tests pin the size of the inline state and check that the compact form
// behaves like the full one: holds kept, expired, released, and settled by LogUsage.

import XCTest

@testable import TokenGateCore

final class CompactShopStateTests: XCTestCase {
    let config = Fixture.config()
    let now = Fixture.now
    let ids = IDMaker()

    func testInlineStateIsSmall() {
        // The shard's dictionary stores a ShopState inline in every slot; before issue 18's
        // compaction it was about 350 bytes.
        let stride = MemoryLayout<ShopState>.stride
        print("MemoryLayout<ShopState>.stride = \(stride) B, ShopRecords = \(MemoryLayout<ShopRecords>.stride) B, "
            + "ReservationBook = \(MemoryLayout<ReservationBook>.stride) B, RateLimiterState = \(MemoryLayout<RateLimiterState>.stride) B")
        XCTAssertLessThanOrEqual(stride, 80)
    }

    func testAGateOnlyShopKeepsHoldsWithoutRecordsAndTheyExpire() throws {
        var state = ShopState(shopID: "shop")
        let gate = try state.check(Fixture.gate(input: 1000, output: 1000, reserve: true), config: config, now: now, ids: ids)
        XCTAssertEqual(gate.decision, .allow)
        XCTAssertEqual(state.heldNanoUSD, usd("2"))
        XCTAssertEqual(state.liveReservationCount, 1)
        XCTAssertFalse(state.hasRecords, "a hold allocates no tier, usage or bill records")
        XCTAssertFalse(state.isKnown)
        XCTAssertTrue(state.tracksReservations)
        // The hold counts against the next check, still without records.
        let second = try state.check(Fixture.gate(), config: config, now: now + 1, ids: ids)
        XCTAssertEqual(second.dailyRemainingNanoUSD, usd("3"))
        XCTAssertFalse(state.hasRecords)
        // Past its TTL it expires, and its end is remembered.
        state.expireReservations(now: gate.reservationExpiresUnixMs)
        XCTAssertEqual(state.heldNanoUSD, 0)
        XCTAssertEqual(state.liveReservationCount, 0)
        XCTAssertEqual(state.reservationEnding(id: gate.reservationID, now: gate.reservationExpiresUnixMs)?.how, .expired)
        XCTAssertFalse(state.hasRecords)
    }

    func testReleaseOnAGateOnlyShopKeepsItCompact() throws {
        var state = ShopState(shopID: "shop")
        let gate = try state.check(Fixture.gate(input: 100, reserve: true), config: config, now: now, ids: ids)
        XCTAssertEqual(try state.releaseReservation(id: gate.reservationID, now: now + 5), usd("0.1"))
        XCTAssertEqual(state.heldNanoUSD, 0)
        XCTAssertFalse(state.hasRecords)
        XCTAssertEqual(state.reservationEnding(id: gate.reservationID, now: now + 6)?.how, .released)
    }

    func testLogUsageSettlesAGateOnlyHoldAndAllocatesTheRecords() throws {
        var state = ShopState(shopID: "shop")
        let gate = try state.check(Fixture.gate(input: 1000, output: 1000, reserve: true), config: config, now: now, ids: ids)
        XCTAssertFalse(state.hasRecords)
        let logged = try state.log(Fixture.usage("e1", input: 1000, output: 300, reservation: gate.reservationID), config: config, now: now + 10)
        XCTAssertEqual(logged.reservationOutcome, .settled)
        XCTAssertTrue(state.hasRecords)
        XCTAssertTrue(state.isKnown)
        XCTAssertEqual(state.heldNanoUSD, 0)
        XCTAssertEqual(state.spent(day: DayKey(unixMs: now)), usd("1.3"))
        XCTAssertEqual(state.events.map(\.eventID), ["e1"])
        XCTAssertEqual(state.reservationEnding(id: gate.reservationID, now: now + 20)?.how, .settled(eventID: "e1"))
        // A copy shares the records until one of them changes (copy on write).
        var copy = state
        _ = try copy.log(Fixture.usage("e2", input: 1000), config: config, now: now + 30)
        XCTAssertEqual(state.events.map(\.eventID), ["e1"])
        XCTAssertEqual(copy.events.map(\.eventID), ["e1", "e2"])
    }
}
