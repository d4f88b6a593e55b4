// Tests of the compact event store: every field of every event comes back exactly as applied
// (packed UUIDs, ids that cannot be packed, interned and empty strings, values too wide for the
// narrow record, metadata pairs), duplicate ids are found whatever their form, and the
// open-addressing tables keep working through growth and hash collisions.

import XCTest

@testable import TokenGateCore

final class EventStoreTests: XCTestCase {
    private func event(_ id: String, user: String = "u", conversation: String = "c", input: UInt64 = 10) -> UsageEvent {
        UsageEvent(
            eventID: id, shopID: "shop", userID: user, conversationID: conversation, operationType: "chat_message",
            model: "gemini-2.5-flash", inputTokens: input, outputTokens: 5, cachedInputTokens: 2,
            occurredAtUnixMs: 1_700_000_000_000, costNanoUSD: 1_234, metadata: UsageMetadata(messageLength: 3, historyLength: 4, knowledgeBaseSize: 5),
            recordedAtUnixMs: 1_700_000_000_100)
    }

    func testEveryFieldRoundTripsWhateverItsForm() {
        var events = [
            event("0f8fad5b-d9cb-469f-a165-70867728950e"),
            event("0F8FAD5B-D9CB-469F-A165-70867728950E"),  // uppercase: not packed, still exact
            event("0f8fad5b-d9cb-469f-a165-70867728950"),  // 35 characters
            event("0f8fad5b_d9cb-469f-a165-70867728950e"),  // dash misplaced
            event("0f8fad5bd9cb469fa16570867728950e0000"),  // 36 hex digits, no dashes
            event("00000000-0000-0000-0000-000000000000"),
            event("ffffffff-ffff-ffff-ffff-ffffffffffff"),
            event("évènement-1", user: "", conversation: ""),
            event("e2", user: "ünïcode user with a long name over fifteen bytes", conversation: "c"),
        ]
        var wide = event("wide")
        wide.inputTokens = CoreLimits.tokensPerCallMax
        wide.outputTokens = UInt64(UInt32.max) + 1
        wide.cachedInputTokens = UInt64.max
        wide.metadata.knowledgeBaseSize = UInt64.max
        wide.recordedAtUnixMs = Int64.max
        events.append(wide)
        var late = event("late")
        late.recordedAtUnixMs = late.occurredAtUnixMs + Int64(Int32.max) + 1
        events.append(late)
        var early = event("early")
        early.recordedAtUnixMs = early.occurredAtUnixMs + Int64(Int32.min)
        events.append(early)
        var extra = event("extra")
        extra.metadata.extra = [MetadataEntry(key: "k", value: "v"), MetadataEntry(key: "", value: "")]
        events.append(extra)
        var negative = event("negative")
        negative.occurredAtUnixMs = -5
        negative.recordedAtUnixMs = Int64.min
        negative.costNanoUSD = -7
        events.append(negative)

        var store = EventStore()
        for event in events { XCTAssertTrue(store.appendIfNew(event), event.eventID) }
        XCTAssertEqual(store.count, events.count)
        for (position, expected) in events.enumerated() {
            XCTAssertEqual(store.event(at: position, shopID: "shop"), expected, expected.eventID)
            XCTAssertEqual(store.position(of: expected.eventID), position, expected.eventID)
            let tokens = store.tokens(at: position)
            XCTAssertEqual([tokens.input, tokens.output, tokens.cached],
                           [expected.inputTokens, expected.outputTokens, expected.cachedInputTokens])
        }
        XCTAssertNotNil(EventIDKey("0f8fad5b-d9cb-469f-a165-70867728950e"))
        XCTAssertNil(EventIDKey("0F8FAD5B-D9CB-469F-A165-70867728950E"))
    }

    func testDuplicatesAreRefusedAndUnknownIdsNotFound() {
        var store = EventStore()
        XCTAssertTrue(store.appendIfNew(event("0f8fad5b-d9cb-469f-a165-70867728950e")))
        XCTAssertTrue(store.appendIfNew(event("plain")))
        XCTAssertFalse(store.appendIfNew(event("0f8fad5b-d9cb-469f-a165-70867728950e", input: 99)))
        XCTAssertFalse(store.appendIfNew(event("plain", input: 99)))
        XCTAssertEqual(store.count, 2)
        XCTAssertEqual(store.event(at: 0, shopID: "shop").inputTokens, 10, "the first copy stays")
        XCTAssertNil(store.position(of: "0f8fad5b-d9cb-469f-a165-70867728950f"))
        XCTAssertNil(store.position(of: "PLAIN"))
        XCTAssertNil(store.position(of: ""))
    }

    func testManyEventsThroughGrowth() {
        var store = EventStore()
        let count = 20_000
        for index in 0..<count {
            let id = index % 2 == 0 ? String(format: "%08x-0000-4000-8000-%012x", index, index * 7) : "id-\(index)"
            XCTAssertTrue(store.appendIfNew(event(id, user: "user-\(index % 37)", conversation: "conv-\(index / 3)")))
        }
        for index in stride(from: 0, to: count, by: 997) {
            let id = index % 2 == 0 ? String(format: "%08x-0000-4000-8000-%012x", index, index * 7) : "id-\(index)"
            XCTAssertEqual(store.position(of: id), index)
            let stored = store.event(at: index, shopID: "shop")
            XCTAssertEqual(stored.eventID, id)
            XCTAssertEqual(stored.userID, "user-\(index % 37)")
            XCTAssertEqual(stored.conversationID, "conv-\(index / 3)")
        }
        XCTAssertNil(store.position(of: "id-\(count)"))
    }

    func testSlotTableFindsEntriesThroughCollisions() {
        // Every entry hashes to the same slot, and the table wraps around its end: lookups walk
        // the probe chain and still find each entry, and a missing key is not found.
        var keys: [String] = []
        var table = SlotTable()
        for index in 0..<100 {
            let key = "k\(index)"
            if table.isFull {
                table.reset(forEntries: keys.count + 1)
                for entry in keys.indices { table.insert(entry, hash: -1) }
            }
            XCTAssertNil(table.find(hash: -1) { keys[$0] == key })
            table.insert(keys.count, hash: -1)
            keys.append(key)
        }
        XCTAssertEqual(table.count, 100)
        for (index, key) in keys.enumerated() { XCTAssertEqual(table.find(hash: -1) { keys[$0] == key }, index) }
        XCTAssertNil(table.find(hash: -1) { keys[$0] == "missing" })
    }

    func testStringTableInternsOnce() {
        var table = StringTable()
        let strings = ["", "a", "", "long string that is not a small Swift string", "a", "ä", "a\u{308}"]
        let indexes = strings.map { table.intern($0) }
        XCTAssertEqual(indexes[0], indexes[2])
        XCTAssertEqual(indexes[1], indexes[4])
        for (string, index) in zip(strings, indexes) { XCTAssertEqual(table.string(index), string) }
        XCTAssertEqual(table.count, 5)
        // A hint is only a guess: a wrong or out-of-range one still gives the right index.
        XCTAssertEqual(table.intern("a", hint: indexes[1]), indexes[1])
        XCTAssertEqual(table.intern("a", hint: indexes[0]), indexes[1])
        XCTAssertEqual(table.intern("", hint: 99), indexes[0])
        XCTAssertEqual(table.intern("new", hint: indexes[1]), 5)
        XCTAssertEqual(table.string(5), "new")
    }

    func testShopStateRoundTripsThroughDurableFacts() {
        var shop = ShopState(shopID: "shop")
        let events = [event("0f8fad5b-d9cb-469f-a165-70867728950e"), event("E2", user: ""), event("e3", input: 1 << 40)]
        for event in events { shop.apply(.usage(event)) }
        shop.apply(.usage(events[0]))
        XCTAssertEqual(shop.events, events)
        var rebuilt = ShopState(shopID: "shop")
        for fact in shop.durableFacts { rebuilt.apply(fact) }
        XCTAssertEqual(rebuilt.events, events)
        XCTAssertEqual(rebuilt.event(id: "E2"), events[1])
        XCTAssertNil(rebuilt.event(id: "e2"))
    }
}
