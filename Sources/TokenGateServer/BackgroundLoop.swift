// The one shape of the daemon's background threads that run until shutdown (the shipper, the
// fleet's refill thread and its configuration follower): a named thread runs a loop that checks
// `isStopping` and sleeps through `sleep`, which `wake()` and `stop()` cut short; `stop()`
// returns once the loop has returned.

import Dispatch
import Foundation
import Synchronization

final class BackgroundLoop: Sendable {
    private let name: String
    private let stopping = Atomic<Bool>(false)
    private let signal = DispatchSemaphore(value: 0)
    private let finished = DispatchSemaphore(value: 0)

    init(name: String) {
        self.name = name
    }

    /// True once `stop()` was called.
    var isStopping: Bool { stopping.load(ordering: .relaxed) }

    /// Runs `body` on a new thread of this loop's name.
    func start(_ body: @escaping @Sendable () -> Void) {
        let thread = Thread { [finished] in
            body()
            finished.signal()
        }
        thread.name = name
        thread.start()
    }

    /// Ends the loop's current (or next) sleep early.
    func wake() {
        signal.signal()
    }

    /// Sleeps until `deadline`, a `wake()` or `stop()`.
    func sleep(until deadline: DispatchTime) {
        _ = signal.wait(timeout: deadline)
    }

    func sleep(milliseconds: Int) {
        sleep(until: .now() + .milliseconds(milliseconds))
    }

    /// Asks the loop to stop and waits until it has returned (after `start`).
    func stop() {
        stopping.store(true, ordering: .relaxed)
        signal.signal()
        finished.wait()
    }
}
