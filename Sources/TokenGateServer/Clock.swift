// The wall clock, injected so that tests and the domain never read time on their own.
import Glibc
import TokenGateCore

/// A source of the current time in Unix milliseconds.
public protocol WallClock: Sendable {
    func nowUnixMs() -> UnixMillis
}

/// The system's real-time clock.
public struct SystemClock: WallClock {
    public init() {}

    public func nowUnixMs() -> UnixMillis {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return UnixMillis(spec.tv_sec) * 1_000 + UnixMillis(spec.tv_nsec) / 1_000_000
    }
}
