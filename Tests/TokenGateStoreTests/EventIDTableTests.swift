// The store-wide id index's compact table (EventIDIndex.swift): insert, lookup, growth, removal
// by backward shift, one owner per hash, and a seeded random run against a Dictionary.

import XCTest

@testable import TokenGateStore

final class EventIDTableTests: XCTestCase {
    /// A hash whose home slot (top bits) is `top` in a table of 2^bits slots, told apart by `low`.
    func hash(top: UInt64, bits: UInt64, low: UInt64) -> Int {
        Int(Int64(bitPattern: top << (64 - bits) | low))
    }

    func testInsertLookupOverwriteAndGrowth() {
        var table = EventIDTable()
        XCTAssertNil(table.owner(of: 42))
        XCTAssertEqual(table.capacity, 0, "no memory before the first id")
        table.set(42, owner: 1)
        XCTAssertEqual(table.owner(of: 42), 1)
        XCTAssertEqual(table.capacity, EventIDTable.capacityMin)
        table.set(42, owner: 2)
        XCTAssertEqual(table.owner(of: 42), 2, "a hash names one owner: the later id takes it over")
        XCTAssertEqual(table.count, 1)
        var generator = SystemRandomNumberGenerator()
        var filed: [Int: UInt32] = [42: 2]
        while filed.count < 10_000 {
            let hash = Int(bitPattern: UInt(generator.next() as UInt64))
            let owner = UInt32.random(in: 1...50)
            table.set(hash, owner: owner)
            filed[hash] = owner
            XCTAssertLessThanOrEqual(
                table.count * EventIDTable.loadDenominator, table.capacity * EventIDTable.loadNumerator, "load limit")
        }
        XCTAssertEqual(table.count, filed.count)
        XCTAssertEqual(table.capacity, 16_384, "doubled to the smallest power of two under 4/5 load")
        XCTAssertEqual(table.bytes, 16_384 * 12, "12 bytes a slot")
        for (hash, owner) in filed { XCTAssertEqual(table.owner(of: hash), owner) }
        XCTAssertNil(table.owner(of: 43))
    }

    func testRemovalIsByOwnerAndKeepsClustersReachable() {
        var table = EventIDTable()
        table.reserve(8)
        XCTAssertEqual(table.capacity, 16)
        // Five hashes with the same home (slot 3), one homed at slot 4, and a cluster that wraps
        // from the last slot to the first.
        let sameHome = (0..<5).map { hash(top: 3, bits: 4, low: UInt64($0) + 1) }
        let nextHome = hash(top: 4, bits: 4, low: 99)
        let wrapping = (0..<3).map { hash(top: 15, bits: 4, low: UInt64($0) + 1) }
        for (index, hash) in (sameHome + [nextHome] + wrapping).enumerated() { table.set(hash, owner: UInt32(index + 1)) }
        XCTAssertEqual(table.count, 9)

        XCTAssertFalse(table.remove(sameHome[1], owner: 9), "another shop's id is not removed")
        XCTAssertEqual(table.owner(of: sameHome[1]), 2)
        XCTAssertTrue(table.remove(sameHome[1], owner: 2))
        XCTAssertFalse(table.remove(sameHome[1], owner: 2), "removed once")
        XCTAssertNil(table.owner(of: sameHome[1]))
        XCTAssertTrue(table.remove(sameHome[0], owner: 1))
        for (index, hash) in sameHome.enumerated() where index >= 2 { XCTAssertEqual(table.owner(of: hash), UInt32(index + 1)) }
        XCTAssertEqual(table.owner(of: nextHome), 6, "an entry pushed past its home is still found after the shift")
        XCTAssertTrue(table.remove(wrapping[0], owner: 7))
        XCTAssertEqual(table.owner(of: wrapping[1]), 8, "shifted back across the end of the table")
        XCTAssertEqual(table.owner(of: wrapping[2]), 9)
        XCTAssertEqual(table.count, 6)
        XCTAssertEqual(table.entries.count, 6)
    }

    func testRandomOperationsAgainstADictionary() {
        let seed = UInt64.random(in: 1...UInt64.max)
        print("EventIDTableTests seed: \(seed)")
        var random = SeededGenerator(seed: seed)
        var table = EventIDTable()
        var model: [Int: UInt32] = [:]
        // Few distinct home slots, so clusters are long, wrap around, and collide.
        let pool = (0..<400).map { _ in
            Int(Int64(bitPattern: (random.next() as UInt64) & 0xF000_0000_0000_00FF))
        }
        for step in 0..<20_000 {
            let hash = pool[Int(random.next() % UInt64(pool.count))]
            let owner = UInt32(random.next() % 4) + 1
            switch random.next() % 3 {
            case 0, 1:
                table.set(hash, owner: owner)
                model[hash] = owner
            default:
                let removed = table.remove(hash, owner: owner)
                XCTAssertEqual(removed, model[hash] == owner, "seed \(seed) step \(step)")
                if removed { model[hash] = nil }
            }
            XCTAssertEqual(table.count, model.count, "seed \(seed) step \(step)")
            if step % 500 == 0 || step == 19_999 {
                for hash in pool { XCTAssertEqual(table.owner(of: hash), model[hash], "seed \(seed) step \(step)") }
                XCTAssertEqual(Set(table.entries.map(\.hash)), Set(model.keys), "seed \(seed) step \(step)")
            }
        }
    }

    func testShopNumbers() {
        let shops = ShopNumbers()
        XCTAssertNil(shops.existingNumber(of: "shop_a"))
        let a = shops.number(of: "shop_a")
        let b = shops.number(of: "shop_b")
        XCTAssertNotEqual(a, 0)
        XCTAssertNotEqual(a, b)
        XCTAssertEqual(shops.number(of: "shop_a"), a)
        XCTAssertEqual(shops.existingNumber(of: "shop_b"), b)
        XCTAssertEqual(shops.shopID(b), "shop_b")
        XCTAssertEqual(shops.count, 2)
    }
}

/// SplitMix64: a reproducible sequence from a printed seed.
private struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
