// The access and limit flags of tokengated (DESIGN.md §5), parsed into DaemonOptions.
import TokenGateServer

struct FlagError: Error {
    var message: String
}

/// The flags this parser knows, so `main` asks for a value only for one of them.
let accessAndLimitFlags: Set<String> = [
    "--socket-mode", "--admin-uids", "--allow-uids", "--allow-gids", "--max-request-frame", "--max-response-frame",
    "--max-connections", "--max-calls-in-flight", "--max-executing-calls", "--frame-read-timeout-ms",
    "--idle-timeout-ms", "--write-timeout-ms", "--drain-timeout-ms", "--max-live-reservations", "--max-gate-only-shops",
    "--max-queued-reply-bytes",
]

/// Applies one access or limit flag; false when `flag` is not one of them.
func parseAccessOrLimitFlag(_ flag: String, value: @autoclosure () -> String, into options: inout DaemonOptions) throws -> Bool {
    guard accessAndLimitFlags.contains(flag) else { return false }
    let text = value()
    func number<N: FixedWidthInteger>(_: N.Type, _ range: ClosedRange<N>) throws -> N {
        guard let number = N(text), range.contains(number) else {
            throw FlagError(message: "\(flag) must be a whole number in \(range.lowerBound)...\(range.upperBound), not '\(text)'")
        }
        return number
    }
    /// A comma-separated list of uids or gids.
    func ids() throws -> Set<UInt32> {
        let parts = text.split(separator: ",", omittingEmptySubsequences: false).map { UInt32($0) }
        guard parts.allSatisfy({ $0 != nil }) else { throw FlagError(message: "\(flag) must be ids separated by commas, not '\(text)'") }
        return Set(parts.compactMap { $0 })
    }
    switch flag {
    case "--socket-mode":
        guard let mode = UInt32(text, radix: 8), mode <= 0o777 else { throw FlagError(message: "--socket-mode must be octal like 0660, not '\(text)'") }
        options.socketMode = mode
    case "--admin-uids": options.adminUIDs = (options.adminUIDs ?? []).union(try ids())
    case "--allow-uids": options.allowedUIDs.formUnion(try ids())
    case "--allow-gids": options.allowedGIDs.formUnion(try ids())
    case "--max-request-frame": options.limits.requestFrameBytesMax = try number(Int.self, 1_024...(64 << 20))
    case "--max-response-frame": options.limits.responseFrameBytesMax = try number(Int.self, 1_024...(1 << 30))
    case "--max-connections": options.limits.connectionsMax = try number(Int.self, 1...1_000_000)
    case "--max-calls-in-flight": options.limits.callsInFlightPerConnectionMax = try number(Int.self, 1...65_536)
    case "--max-executing-calls": options.limits.callsExecutingMax = try number(Int.self, 1...1_000_000)
    case "--frame-read-timeout-ms": options.limits.frameReadTimeoutMs = try number(Int32.self, 1...Int32.max)
    case "--idle-timeout-ms": options.limits.idleTimeoutMs = try number(Int32.self, 0...Int32.max)
    case "--write-timeout-ms": options.limits.writeTimeoutMs = try number(Int32.self, 1...Int32.max)
    case "--drain-timeout-ms": options.limits.drainTimeoutMs = try number(Int64.self, 0...3_600_000)
    case "--max-live-reservations": options.gateMemory.liveReservationsMax = try number(Int.self, 1...100_000_000)
    case "--max-gate-only-shops": options.gateMemory.gateOnlyShopsMax = try number(Int.self, 1...100_000_000)
    case "--max-queued-reply-bytes": options.limits.queuedReplyBytesMax = try number(Int.self, 64 << 10...(1 << 30))
    default: return false
    }
    return true
}
