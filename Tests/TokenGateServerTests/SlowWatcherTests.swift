// Queued reply bytes are bounded per watcher (DESIGN §5), against the real daemon: an alert
// watcher that stops reading is dropped once its queue passes --max-queued-reply-bytes, and the
// other watchers keep receiving alerts at once (on main the publisher blocked on the slow one
// under the watchers' mutex for the whole write timeout).
import Foundation
import Synchronization
import TokenGateClient
import TokenGateCore
import TokenGateWire
import XCTest

final class SlowWatcherTests: XCTestCase {
    final class Count: Sendable { let value = Atomic<Int>(0) }

    func testAWatcherThatStopsReadingIsDroppedAndOthersAreNotDelayed() async throws {
        let daemon = try TestDaemon(arguments: [
            "--max-response-frame", "65536", "--max-queued-reply-bytes", "65536", "--write-timeout-ms", "30000",
        ])
        // The slow watcher asks for every alert and never reads.
        let slow = try RawPeer(daemon.socketPath, receiveTimeoutMs: 10_000)
        try slow.call(method: MethodPath.watchAlerts, payload: WatchAlertsRequest().encoded(), callID: 1)
        let fast = daemon.client()
        let received = Count()
        let stream = fast.watchAlerts()
        let reader = Task {
            for try await _ in stream { received.value.add(1, ordering: .relaxed) }
        }
        _ = try await fast.health()  // the watch is registered before the traffic below
        usleep(100_000)

        // 1,500 shops over their daily cap: two alerts each, about 450 KB for the slow watcher.
        let shops = 1_500
        let client = daemon.client(timeoutMs: 60_000)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for task in 0..<16 {
                group.addTask {
                    for shop in stride(from: task, to: shops, by: 16) {
                        _ = try await client.logUsage(EndToEndTests.expensiveEvent(shop: "slow_w_\(shop)"))
                    }
                }
            }
            try await group.waitForAll()
        }
        let loggedAt = Date()
        while received.value.load(ordering: .relaxed) < 2 * shops && Date().timeIntervalSince(loggedAt) < 8 { usleep(10_000) }
        let delay = Date().timeIntervalSince(loggedAt)
        print("slow watcher: the fast watcher had \(received.value.load(ordering: .relaxed)) of \(2 * shops) alerts "
            + String(format: "%.2f s after the last LogUsage", delay))
        XCTAssertEqual(received.value.load(ordering: .relaxed), 2 * shops, "the fast watcher was held up by the slow one")
        // The slow watcher's connection was shut down: after what its socket holds, end of file.
        XCTAssertTrue(slow.isClosedByPeer(), "the slow watcher must be dropped")
        reader.cancel()
        daemon.stop()
    }
}
