// Lock-free counters and fixed-bucket latency histograms for the daemon's metrics. Recording is
// a few relaxed atomic adds and no allocation, so the hot path and the log's flusher can record
// every call. They live in the store, the lowest module that measures anything (fsync and
// snapshot durations); the server's metrics registry builds on the same types.
import Synchronization
import TokenGateClock

/// A monotonically increasing count, safe to add to from any thread.
public final class AtomicCounter: Sendable {
    private let storage = Atomic<UInt64>(0)

    /// A counter at zero.
    public init() {}

    /// Adds `amount` (relaxed: counters need no ordering with other memory).
    @inline(__always)
    public func add(_ amount: UInt64 = 1) {
        storage.wrappingAdd(amount, ordering: .relaxed)
    }

    /// The current count.
    public var value: UInt64 { storage.load(ordering: .relaxed) }
}

/// A histogram of durations with fixed buckets from 1 µs to 10 s, the range of everything the
/// daemon times (a gate call takes microseconds, an fsync milliseconds, a snapshot seconds).
/// Buckets are not cumulative here; the exposition makes them so.
public final class LatencyHistogram: Sendable {
    /// Upper bounds of the buckets in nanoseconds, in 1-2-5 steps (2.5 at the top end), which
    /// keeps the relative error of a quantile estimate under about 2.5× per bucket.
    public static let boundsNanoseconds: [UInt64] = [
        1_000, 2_000, 5_000, 10_000, 20_000, 50_000, 100_000, 200_000, 500_000,
        1_000_000, 2_000_000, 5_000_000, 10_000_000, 20_000_000, 50_000_000,
        100_000_000, 250_000_000, 500_000_000, 1_000_000_000, 2_500_000_000, 5_000_000_000, 10_000_000_000,
    ]

    /// One counter per bound, then the overflow (`+Inf`) bucket.
    private let buckets: [AtomicCounter]
    private let sum = Atomic<UInt64>(0)

    /// An empty histogram.
    public init() {
        buckets = (0...Self.boundsNanoseconds.count).map { _ in AtomicCounter() }
    }

    /// Records one observation.
    @inline(__always)
    public func record(nanoseconds: UInt64) {
        buckets[Self.bucketIndex(nanoseconds)].add()
        sum.wrappingAdd(nanoseconds, ordering: .relaxed)
    }

    /// Records the time since `startNanoseconds` (a `MonotonicClock.nanoseconds()` reading).
    @inline(__always)
    public func record(since startNanoseconds: UInt64) {
        let now = MonotonicClock.nanoseconds()
        record(nanoseconds: now > startNanoseconds ? now - startNanoseconds : 0)
    }

    /// The index of the first bucket whose bound is at or above `nanoseconds`.
    @inline(__always)
    static func bucketIndex(_ nanoseconds: UInt64) -> Int {
        let bounds = boundsNanoseconds
        var low = 0
        var high = bounds.count
        while low < high {
            let middle = (low + high) / 2
            if bounds[middle] < nanoseconds { low = middle + 1 } else { high = middle }
        }
        return low
    }

    /// A copy of the counts. Taken without a lock, so under concurrent recording the sum may
    /// include an observation the buckets do not yet show; scrapes tolerate that.
    public func snapshot() -> HistogramSnapshot {
        HistogramSnapshot(bucketCounts: buckets.map(\.value), sumNanoseconds: sum.load(ordering: .relaxed))
    }
}

/// The counts of a `LatencyHistogram` at one moment.
public struct HistogramSnapshot: Sendable, Equatable {
    /// Observations per bucket (not cumulative); the last one is the `+Inf` bucket.
    public var bucketCounts: [UInt64]
    /// Sum of every observation.
    public var sumNanoseconds: UInt64

    /// A snapshot with these counts.
    public init(bucketCounts: [UInt64], sumNanoseconds: UInt64) {
        self.bucketCounts = bucketCounts
        self.sumNanoseconds = sumNanoseconds
    }

    /// Number of observations.
    public var count: UInt64 { bucketCounts.reduce(0, &+) }
}

/// The store's own measurements, kept by the write-ahead log and shared with the ledger that
/// owns it.
public final class StoreMetrics: Sendable {
    /// Duration of each fdatasync of a log segment by the flusher.
    public let fsyncLatency = LatencyHistogram()
    /// Duration of each snapshot, periodic or at shutdown.
    public let snapshotDuration = LatencyHistogram()
    /// Snapshots that failed (the log then keeps growing until one succeeds).
    public let snapshotFailures = Atomic<UInt64>(0)
    /// True from a failed snapshot until the next one succeeds.
    public let snapshotFailing = Atomic<Bool>(false)

    /// Empty histograms.
    public init() {}
}
