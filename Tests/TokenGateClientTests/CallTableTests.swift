// The client's table of calls in flight against Dictionary, under random inserts, updates and
// removals of ids that mostly come in order (as a connection numbers its calls) and sometimes
// collide in the low bits (ids far apart), so runs, wrap-around and growth all happen.
import XCTest

@testable import TokenGateClient
import TokenGateTestSupport

final class CallTableTests: XCTestCase {
    func testMatchesADictionaryUnderRandomOperations() {
        let seed = UInt64.random(in: 1...UInt64.max)
        print("CallTableTests seed \(seed)")
        var random = SplitMix64(seed: seed)
        var table = CallTable<Int>()
        var model: [UInt64: Int] = [:]
        var nextID: UInt64 = 1
        for round in 0..<50_000 {
            let roll = random.next() % 10
            if roll < 4 || model.isEmpty {
                // New calls: usually the next id, sometimes one far away with the same low bits.
                let id = random.next() % 8 == 0 ? nextID &+ (random.next() % 64) << 20 : nextID
                nextID += 1
                table[id] = round
                model[id] = round
            } else {
                let id = Array(model.keys)[Int(random.next() % UInt64(model.count))]
                if roll < 7 {
                    XCTAssertEqual(table.removeValue(forKey: id), model.removeValue(forKey: id), "seed \(seed) round \(round)")
                } else {
                    XCTAssertTrue(table.update(id) { $0 = -round })
                    model[id] = -round
                }
            }
            // A miss costs as much to check as a hit.
            XCTAssertNil(table[nextID &+ 1_000_000], "seed \(seed) round \(round)")
            if round % 97 == 0 {
                XCTAssertEqual(table.count, model.count, "seed \(seed) round \(round)")
                for (id, value) in model { XCTAssertEqual(table[id], value, "seed \(seed) round \(round) id \(id)") }
                XCTAssertEqual(Dictionary(uniqueKeysWithValues: table.entries.map { ($0.id, $0.value) }), model)
            }
            if round == 25_000 {
                table.removeAll()
                model.removeAll()
                XCTAssertTrue(table.isEmpty)
            }
        }
        XCTAssertFalse(table.update(0) { $0 = 1 }, "id 0 is never a call")
    }
}
