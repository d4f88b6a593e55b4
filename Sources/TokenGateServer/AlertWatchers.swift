// The watchers of WatchAlerts: long-lived response streams, each for one shop or all, that
// receive every alert the ledger stores. Alerts are published from one serial queue after the
// log has made them durable, so a watcher never sees an alert that a crash could take back,
// and the write path that raised them never waits for a slow watcher.
import Dispatch
import Synchronization
import TokenGateCore
import TokenGateStore
import TokenGateWire

final class AlertWatchers: Sendable {
    /// Why 4,096: one watcher per connection at most is the expected use, and connections are
    /// capped at that number by default.
    static var watchersMax: Int { 4_096 }

    private struct Watcher: Sendable {
        let stream: ResponseStream
        /// Empty: every shop.
        let shopID: String
    }

    private let watchers = Mutex<[Watcher]>([])
    /// Waits for durability and publishes, one batch of alerts at a time, in the order stored.
    private let queue = DispatchQueue(label: "tokengate.alert-watchers")

    /// Adds a watcher of `shopID`'s alerts (every shop's when empty).
    func add(_ stream: ResponseStream, shopID: String) {
        watchers.withLock { watchers in
            watchers.removeAll { $0.stream.isClosed }
            guard watchers.count < Self.watchersMax else {
                stream.finish(TokenGateError(.resourceExhausted, "too many alert watchers (\(Self.watchersMax)); retry later"))
                return
            }
            watchers.append(Watcher(stream: stream, shopID: shopID))
        }
    }

    /// Publishes `alerts` once the log has made `sequence` durable. Returns at once.
    func publishWhenDurable(_ alerts: [Alert], durableAt sequence: UInt64, ledger: Ledger) {
        queue.async { [self] in
            do {
                try ledger.waitUntilDurable(sequence)
            } catch {
                // The log failed: the daemon is stopping without acknowledging these writes.
                return
            }
            publish(alerts)
        }
    }

    /// Sends each alert to the watchers of its shop; drops watchers whose peer is gone. Sends do
    /// not block: a watcher that stops reading has its alerts queued up to
    /// `ServerLimits.queuedReplyBytesMax`, then is dropped; the others never wait for it.
    func publish(_ alerts: [Alert]) {
        watchers.withLock { watchers in
            for alert in alerts {
                watchers.removeAll { watcher in
                    guard watcher.shopID.isEmpty || watcher.shopID == alert.shopID else { return watcher.stream.isClosed }
                    return !watcher.stream.sendWithoutBlocking(alert)
                }
            }
        }
    }

    /// Waits until every alert handed to `publishWhenDurable` so far has been published.
    func drain() { queue.sync {} }

    /// Ends every watcher's stream with `error` (the daemon is stopping).
    func finishAll(_ error: TokenGateError? = nil) {
        let all = watchers.withLock { watchers in
            defer { watchers = [] }
            return watchers
        }
        for watcher in all { watcher.stream.finish(error) }
    }
}
