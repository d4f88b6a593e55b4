// The configuration cell that replaced the ledger's global configuration lock: a change made
// with `withLock` must be what every thread reads once `withLock` has returned, and readers
// racing a writer must only ever see whole configurations, the old one or the new one.
import Dispatch
import Synchronization
import TokenGateCore
import TokenGateStore
import XCTest

final class ConfigurationCellTests: XCTestCase {
    func testChangeIsVisibleToEveryThreadOnceWithLockReturns() {
        let cell = ConfigurationCell(.defaults)
        XCTAssertEqual(cell.current, .defaults)
        cell.withLock { $0.reservationTTLMs = 7_000 }
        let seen = Mutex<Set<Int64>>([])
        DispatchQueue.concurrentPerform(iterations: 64) { _ in
            let ttl = cell.current.reservationTTLMs
            seen.withLock { _ = $0.insert(ttl) }
        }
        XCTAssertEqual(seen.withLock { $0 }, [7_000], "a thread read a configuration older than the finished change")
    }

    func testReadersRacingAWriterSeeOnlyWholeConfigurations() {
        let cell = ConfigurationCell(.defaults)
        let done = Atomic<Bool>(false)
        let torn = Atomic<Int>(0)
        let reads = Atomic<Int>(0)
        DispatchQueue.concurrentPerform(iterations: 4) { worker in
            if worker == 0 {
                for step in 1...2_000 {
                    // Two fields that must change together: a reader seeing them differ saw half a change.
                    cell.withLock { config in
                        config.reservationTTLMs = Int64(step)
                        config.defaultTier = "tier-\(step)"
                    }
                }
                done.store(true, ordering: .releasing)
            } else {
                while !done.load(ordering: .acquiring) {
                    let config = cell.current
                    reads.add(1, ordering: .relaxed)
                    let consistent = config == .defaults || config.defaultTier == "tier-\(config.reservationTTLMs)"
                    if !consistent { torn.add(1, ordering: .relaxed) }
                }
            }
        }
        XCTAssertEqual(torn.load(ordering: .relaxed), 0, "a reader saw a configuration half changed")
        XCTAssertGreaterThan(reads.load(ordering: .relaxed), 0)
        XCTAssertEqual(cell.current.reservationTTLMs, 2_000)
    }

    func testAThrowingChangeLeavesWhatItDidBeforeThrowing() {
        struct Refused: Error {}
        let cell = ConfigurationCell(.defaults)
        XCTAssertThrowsError(try cell.withLock { (config: inout Configuration) throws(Refused) in
            config.shadowMode = true
            throw Refused()
        })
        // The master copy and the readers agree, whatever the body left behind.
        XCTAssertEqual(cell.current, cell.withLock { $0 })
    }
}
