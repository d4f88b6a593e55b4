// The project's one monotonic clock, for durations, deadlines and timeouts (never for the time
// of day: that is the wall clock the server injects into the domain). It is a module of its own
// because the store, the server and the client library all time things, and the only module
// they share is the pure core, which reads no clock. A syscall wrapper: a stack `timespec`
// filled by `clock_gettime` (a vDSO call, about 20 ns), nothing retained.
import Glibc

/// CLOCK_MONOTONIC: it never goes back when the wall clock is set, and stops in suspend.
public enum MonotonicClock {
    /// Nanoseconds since an arbitrary start (the boot); only differences mean anything.
    @inlinable @inline(__always)
    public static func nanoseconds() -> UInt64 {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        return UInt64(spec.tv_sec) &* 1_000_000_000 &+ UInt64(spec.tv_nsec)
    }

    /// Milliseconds since the same start, for millisecond deadlines and timeouts.
    @inlinable @inline(__always)
    public static func milliseconds() -> Int64 {
        Int64(nanoseconds() / 1_000_000)
    }
}
