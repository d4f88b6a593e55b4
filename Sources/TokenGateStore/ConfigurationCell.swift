// The ledger's configuration, read by every call and changed rarely. It used to sit behind one
// global Mutex that every call took to copy it: at 64 connections a third of the daemon's CPU
// went to contention on that lock (Swift's Mutex spins, then takes a priority-inheritance
// futex), and removing it doubled CanMakeRequest throughput (tokengate-bench). Now writers still
// take one lock around the master copy, and then publish an immutable snapshot into a set of
// read cells; a reader locks only the cell its thread maps to, for the time of one retain.
import Glibc
import Synchronization
import TokenGateCore

/// The configuration with cheap concurrent reads: `current` for readers, `withLock` to change it.
public final class ConfigurationCell: Sendable {
    /// Read cells (a power of two up to 64, for the hash below): more than the threads that
    /// usually read at once, so two rarely share one.
    static let readCellCount = 64

    /// An immutable configuration, shared by reference so a read costs one retain (a hot
    /// call borrows `value` from it rather than copying the struct's dozen references).
    public final class Snapshot: Sendable {
        public let value: Configuration
        init(_ value: Configuration) { self.value = value }
    }

    /// One read cell (a class, because a Mutex cannot be copied into an array).
    private final class Cell: Sendable {
        let snapshot: Mutex<Snapshot>
        init(_ snapshot: Snapshot) { self.snapshot = Mutex(snapshot) }
    }

    private let master: Mutex<Configuration>
    private let cells: [Cell]

    public init(_ configuration: Configuration) {
        master = Mutex(configuration)
        let snapshot = Snapshot(configuration)
        cells = (0..<Self.readCellCount).map { _ in Cell(snapshot) }
    }

    /// The configuration as of the last completed change.
    public var current: Configuration { snapshot.value }

    /// The snapshot of the configuration as of the last completed change.
    public var snapshot: Snapshot {
        // Fibonacci hashing of the thread handle: thread stacks are far apart, so its low bits
        // alone would send every thread to the same cell.
        let cell = Int(truncatingIfNeeded: (UInt64(pthread_self()) &* 0x9E37_79B9_7F4A_7C15) >> 58) % cells.count
        return cells[cell].snapshot.withLock { $0 }
    }

    /// Runs `body` on the master copy under its lock; whatever it leaves there is published to
    /// every read cell before this returns, so a read that starts afterwards sees it.
    public func withLock<Result, Failure: Error>(
        _ body: (inout Configuration) throws(Failure) -> Result
    ) throws(Failure) -> Result {
        try master.withLock { configuration throws(Failure) -> Result in
            defer {
                let snapshot = Snapshot(configuration)
                for cell in cells { cell.snapshot.withLock { $0 = snapshot } }
            }
            return try body(&configuration)
        }
    }
}
