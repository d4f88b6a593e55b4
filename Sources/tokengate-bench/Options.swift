// The benchmark's command line: the two modes (--quick, under a minute; full, the figures
// docs/performance.md quotes), the output form, and the knobs the test suite uses to run it in
// seconds.
// Sizes and durations live here as named constants so a reader sees what "full" means.
import Foundation

/// How long and how large one benchmark run is.
struct BenchOptions: Sendable {
    /// Measured window of each load phase, in milliseconds (after its warm-up).
    var phaseMs: Int = 3_000
    /// Warm-up of each load phase, in milliseconds, not counted.
    var warmupMs: Int = 300
    /// Shops in the small and the large store of the scale test.
    var scaleShopsSmall = 1_000
    var scaleShopsLarge = 1_000_000
    /// Usage events in the store whose memory and recovery are measured, and the shops they span.
    var scaleEvents = 10_000_000
    var scaleEventShops = 10_000
    var quick = false
    var json = false
    /// Path of `tokengated`; default: next to this binary.
    var daemonPath: String?
    /// Path of `redis-server`; default: found on PATH. `--no-redis` skips the peer.
    var redisPath: String?
    var redisDisabled = false
    var skipScale = false
    var skipPinned = false
    /// Sections to run (`--only`); empty = all of them.
    var onlySections: Set<String> = []

    /// The sections of a run, in order; `--only` picks some of them.
    static let sections = ["floor", "gate", "log", "pinned", "scale", "snapshot"]

    /// Whether `section` runs: it is picked (or nothing is picked) and not skipped.
    func runs(_ section: String) -> Bool {
        if section == "scale" && skipScale || section == "pinned" && skipPinned { return false }
        return onlySections.isEmpty || onlySections.contains(section)
    }

    /// Concurrency of the "many connections" figures.
    static let connectionsMany = 64
    /// Calls kept in flight on one connection for the pipelined figures.
    static let inFlightOnOneConnection = 32
    /// Shops the load phases spread their calls over.
    static let loadShops = 1_000

    static let usage = """
        Usage: tokengate-bench [--quick] [--json] [options]

        Measures TokenGate against the raw Unix-socket floor and Redis on this machine, in one run:
        it starts its own tokengated, echo servers and redis-server on temporary sockets.

        Options:
          --quick              about a minute: short phases, a small scale test
          --json               one JSON object on stdout (progress goes to stderr)
          --phase-ms N         measured window of each load phase (default 3000; quick 700)
          --warmup-ms N        warm-up before each window (default 300; quick 150)
          --scale-shops N      shops in the large store of the scale test (default 1000000)
          --scale-events N     usage events in the memory/recovery store and the snapshot
                               test's store (default 10000000)
          --daemon PATH        tokengated to measure (default: next to this binary)
          --redis PATH         redis-server to compare with (default: found on PATH)
          --no-redis           skip the Redis peer
          --no-scale           skip the scale test
          --no-pinned          skip the one-core pinned round trip
          --only LIST          run only these sections, comma-separated, from:
                               floor, gate, log, pinned, scale, snapshot (for profiling work; gate
                               without floor takes the thread server as the floor; gate and
                               log measure the Redis peer too, unless --no-redis)
          -h, --help           print this help

        """

    /// Parses the command line; exits 2 on a usage mistake.
    static func parse(_ arguments: [String]) -> BenchOptions {
        var options = BenchOptions()
        if arguments.contains("--quick") { options.applyQuick() }
        var index = 0
        while index < arguments.count {
            let argument = arguments[index]
            index += 1
            let value = index < arguments.count ? arguments[index] : nil
            switch argument {
            case "--quick": break
            case "--json": options.json = true
            case "--phase-ms": options.phaseMs = number(argument, value)
            case "--warmup-ms": options.warmupMs = number(argument, value)
            case "--scale-shops": options.scaleShopsLarge = number(argument, value)
            case "--scale-events": options.scaleEvents = number(argument, value)
            case "--daemon": options.daemonPath = text(argument, value)
            case "--redis": options.redisPath = text(argument, value)
            case "--no-redis": options.redisDisabled = true
            case "--no-scale": options.skipScale = true
            case "--no-pinned": options.skipPinned = true
            case "--only": options.onlySections = sections(argument, value)
            case "-h", "--help":
                print(usage, terminator: "")
                exit(0)
            default: fail("unknown argument '\(argument)' (see --help)")
            }
            if ["--phase-ms", "--warmup-ms", "--scale-shops", "--scale-events", "--daemon", "--redis", "--only"].contains(argument) {
                index += 1
            }
        }
        options.scaleEventShops = min(options.scaleEventShops, max(1, options.scaleEvents / 10))
        return options
    }

    private static func text(_ flag: String, _ value: String?) -> String {
        guard let value else { fail("\(flag) needs a value (see --help)") }
        return value
    }

    private static func sections(_ flag: String, _ value: String?) -> Set<String> {
        let picked = Set(text(flag, value).split(separator: ",").map(String.init))
        if let unknown = picked.subtracting(BenchOptions.sections).first {
            fail("\(flag): unknown section '\(unknown)' (sections: \(BenchOptions.sections.joined(separator: ", ")))")
        }
        return picked
    }

    private static func number(_ flag: String, _ value: String?) -> Int {
        guard let value, let number = Int(value), number > 0 else { fail("\(flag) needs a positive number (see --help)") }
        return number
    }

    /// The quick mode: every figure, from shorter phases and a smaller store.
    mutating func applyQuick() {
        quick = true
        phaseMs = 700
        warmupMs = 150
        scaleShopsLarge = 100_000
        scaleEvents = 300_000
        scaleEventShops = 3_000
    }
}

/// Prints a usage mistake and exits 2.
func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("tokengate-bench: \(message)\n".utf8))
    exit(2)
}
