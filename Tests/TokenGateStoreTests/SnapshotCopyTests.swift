// A snapshot must not make writers copy whole shops (issue 18): it used to keep a copy-on-write
// copy of each shop while encoding it, so the first append to that shop meanwhile duplicated
// the shop's event storage under the shard lock. Here a write lands in the middle of the
// snapshot's encoding (from the codec itself) and the shop's event storage must stay the same
// buffer.
import Synchronization
import TokenGateWire
import XCTest

@testable import TokenGateCore
@testable import TokenGateStore

final class SnapshotCopyTests: XCTestCase {
    final class Hook: Sendable {
        let action = Mutex<(@Sendable () -> Void)?>(nil)
        func fire() {
            let body = action.withLock { action in
                defer { action = nil }
                return action
            }
            body?()
        }
    }

    final class Seen: Sendable { let addresses = Mutex<(UInt, UInt)?>(nil) }

    func testAWriteDuringTheSnapshotDoesNotCopyTheShopsEventStorage() throws {
        let hook = Hook()
        let encoding = FactEncoding(
            encode: { fact in
                if case .usage(let event) = fact, event.shopID == "big" { hook.fire() }
                return FactCodec.encode(fact)
            },
            decode: { bytes in try FactCodec.decode(bytes) })
        let disk = SimulatedFileSystem()
        let log = try WriteAheadLog(directory: "/data", policy: .always, fileSystem: disk)
        let ledger = Ledger(
            directory: "/data", configuration: .defaults, log: log, encoding: encoding, shardCount: 4, fileSystem: disk,
            bootID: "copy")
        _ = try ledger.recover(repair: false)
        @Sendable func storage() -> (address: UInt, count: Int, capacity: Int) {
            ledger.shard(for: "big").shops.withLock { shops in
                let records = shops["big"]!.eventStore.records
                return (records.withUnsafeBufferPointer { UInt(bitPattern: $0.baseAddress) }, records.count, records.capacity)
            }
        }
        var index = 0
        // Enough events that a copy would matter, with room for one more (no regrowth).
        while index < 2_000 || storage().capacity - storage().count < 8 {
            try logDurably(ledger, usage("e-\(index)", shop: "big"))
            index += 1
        }
        let before = storage().address
        let during = Seen()
        let next = index
        hook.action.withLock {
            $0 = {
                let address = storage().address
                _ = try? ledger.logUsage(usage("e-\(next)", shop: "big"), now: ledgerNow)
                during.addresses.withLock { $0 = (address, storage().address) }
            }
        }
        try ledger.writeSnapshot()
        let (atWrite, afterWrite) = try XCTUnwrap(during.addresses.withLock { $0 }, "the write in the middle of the snapshot ran")
        XCTAssertEqual(atWrite, before)
        XCTAssertEqual(afterWrite, before, "the append copied the shop's event storage: the snapshot held a copy of the shop")
        XCTAssertEqual(storage().count, index + 1)
        try ledger.close()
    }
}
