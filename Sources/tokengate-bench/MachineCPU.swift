// Where a load's CPU time goes: the whole machine's user and system time per call, read from
// /proc/stat around each slice. At 64 connections both the floor and TokenGate keep every core
// busy, so calls per second alone cannot say whether TokenGate's extra cost is its own code
// (user time) or the kernel's work on its behalf (system time); this figure can.
import Foundation
import TokenGateClock

/// Busy CPU time of all cores together, in clock ticks (`/proc/stat`, first line).
struct MachineCPU {
    var userTicks: Double
    var systemTicks: Double

    /// Now, or nil where /proc/stat cannot be read (then the figures read n/a).
    static func now() -> MachineCPU? {
        guard let text = try? String(contentsOfFile: "/proc/stat", encoding: .utf8),
            let line = text.split(separator: "\n").first, line.hasPrefix("cpu ")
        else { return nil }
        // user nice system idle iowait irq softirq steal ...
        let ticks = line.split(separator: " ").dropFirst().compactMap { Double($0) }
        guard ticks.count >= 7 else { return nil }
        return MachineCPU(userTicks: ticks[0] + ticks[1], systemTicks: ticks[2] + ticks[5] + ticks[6])
    }

    static let ticksPerSecond = Double(sysconf(Int32(_SC_CLK_TCK)))
}

/// User and system CPU time per call over several slices of one load.
struct CPUPerCall {
    private var userTicks = 0.0
    private var systemTicks = 0.0
    private var calls: UInt64 = 0
    private var complete = true

    /// Measures `slice`, which makes `measured.calls` calls in a window of `windowNs` after its
    /// warm-up: the ticks of the whole slice are scaled to the window (the cores are busy
    /// throughout, so warm-up and window burn CPU at the same rate).
    mutating func measure(windowNs: UInt64, _ slice: () async throws -> Measurement) async rethrows -> Measurement {
        let before = MachineCPU.now()
        let started = MonotonicClock.nanoseconds()
        let measured = try await slice()
        let wallNs = MonotonicClock.nanoseconds() - started
        guard let before, let after = MachineCPU.now(), wallNs > 0 else {
            complete = false
            return measured
        }
        let share = Double(windowNs) / Double(wallNs)
        userTicks += (after.userTicks - before.userTicks) * share
        systemTicks += (after.systemTicks - before.systemTicks) * share
        calls += measured.calls
        return measured
    }

    /// Microseconds of user and of system time per call, or nil without a reading.
    var microseconds: (user: Double?, system: Double?) {
        guard complete, calls > 0 else { return (nil, nil) }
        let perTick = 1e6 / MachineCPU.ticksPerSecond / Double(calls)
        return (userTicks * perTick, systemTicks * perTick)
    }
}
