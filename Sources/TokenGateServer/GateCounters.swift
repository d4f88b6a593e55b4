// Counters of the gate's decisions that an operator watches: calls shadow mode let through that
// the gate would have denied, by reason. They live in memory (since the daemon started);
// GetConfiguration reports the total and a metrics endpoint can export them by reason.
import Synchronization
import TokenGateCore

/// Thread-safe counts of the gate's shadow-mode would-be denials.
public final class GateCounters: Sendable {
    private let shadowDenied = Mutex<[DecisionReason: UInt64]>([:])

    /// Empty counters.
    public init() {}

    /// Counts one call shadow mode allowed although the gate would have denied it for `reason`.
    public func recordShadowDenial(_ reason: DecisionReason) {
        shadowDenied.withLock { $0[reason, default: 0] &+= 1 }
    }

    /// Would-be denials by reason since the daemon started.
    public var shadowDenials: [DecisionReason: UInt64] { shadowDenied.withLock { $0 } }

    /// All would-be denials since the daemon started.
    public var shadowDeniedTotal: UInt64 { shadowDenied.withLock { $0.values.reduce(0, &+) } }
}
