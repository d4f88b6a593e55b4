// Call deadlines without a timer per call. A dispatch timer per call (`asyncAfter`) cost a
// wake-up of libdispatch's manager thread on every call and a timer firing five seconds later
// (tokengate-bench: a sixth of the client's CPU). Instead each connection keeps its calls'
// deadlines next to their continuations, and one sweeper thread per process looks every
// `tickMs` for calls past their deadline. A deadline therefore fires at most about one tick
// late, never early. The sweeper parks after a second without deadlines, so an idle process
// has no wake-ups.
import Foundation
import Synchronization
import TokenGateClock

final class DeadlineSweeper: Sendable {
    /// How often calls in flight are checked: the most a deadline can fire late.
    static let tickMs: UInt32 = 5
    /// Ticks without any deadline in flight before the thread parks until the next call.
    static let idleTicksBeforeParking = 200

    static let shared = DeadlineSweeper()

    private struct Registry {
        var connections: [WeakConnection] = []
        var threadStarted = false
    }

    private struct WeakConnection: @unchecked Sendable {
        weak var connection: ClientConnection?
    }

    private let registry = Mutex(Registry())
    /// True while the thread waits on `wake`; a caller that sees it signals.
    private let parked = Atomic<Bool>(false)
    private let wake = DispatchSemaphore(value: 0)

    /// Starts watching `connection`'s deadlines (it is dropped when it is released or failed).
    func register(_ connection: ClientConnection) {
        let start = registry.withLock { registry in
            registry.connections.append(WeakConnection(connection: connection))
            defer { registry.threadStarted = true }
            return !registry.threadStarted
        }
        if start {
            let thread = Thread { [self] in run() }
            thread.name = "tokengate-deadlines"
            thread.start()
        }
    }

    /// Called after a call with a deadline was registered: wakes the thread if it parked.
    func noteDeadline() {
        if parked.load(ordering: .acquiring), parked.compareExchange(expected: true, desired: false, ordering: .acquiringAndReleasing).exchanged {
            wake.signal()
        }
    }

    private func run() {
        var idleTicks = 0
        while true {
            usleep(Self.tickMs * 1_000)
            if sweep() {
                idleTicks = 0
                continue
            }
            idleTicks += 1
            guard idleTicks >= Self.idleTicksBeforeParking else { continue }
            // Park, then look once more: a deadline registered before `parked` was set would
            // not have signalled.
            parked.store(true, ordering: .releasing)
            if sweep() {
                if parked.compareExchange(expected: true, desired: false, ordering: .acquiringAndReleasing).exchanged {
                    idleTicks = 0
                    continue
                }
            }
            wake.wait()
            idleTicks = 0
        }
    }

    /// Expires overdue calls on every live connection; true when any deadline is still pending.
    private func sweep() -> Bool {
        let connections = registry.withLock { registry -> [ClientConnection] in
            registry.connections.removeAll { $0.connection.map { !$0.isUsable } ?? true }
            return registry.connections.compactMap(\.connection)
        }
        let now = MonotonicClock.nanoseconds()
        var pending = false
        for connection in connections where connection.expireDeadlines(now: now) { pending = true }
        return pending
    }
}
