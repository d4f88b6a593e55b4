// tokengated: the TokenGate daemon. Parses its arguments and hands over to Daemon.run.
import Foundation
import TokenGateCore
import TokenGateServer
import TokenGateStore

let usage = """
    Usage: tokengated [--socket PATH] [--data-dir DIR] [--fsync always|everysec|never] [--repair]
                      [--snapshot-every-records N] [--snapshot-every-seconds S] [--retention-months M]

    Serves TokenGate's BudgetService on a Unix socket, with embedded defaults (prices, limits,
    tiers); no config file is needed.

    Options:
      --socket PATH      Unix socket to listen on (default: $TOKENGATE_SOCKET or /tmp/tokengate.sock)
      --data-dir DIR     where the write-ahead log and snapshots live (default: ./tokengate-data)
      --fsync POLICY     always (default: every acknowledged write is on disk, group commit),
                         everysec (up to ~1 s of acknowledged writes may be lost on power failure),
                         never (the OS decides; a power failure may lose recent writes)
      --shards N         number of store shards (default: 64)
      --repair           cut the log at the first corrupt record instead of refusing to start
      --snapshot-every-records N
                         write a snapshot once N records were logged since the last (default:
                         1000000; 0 = never by count)
      --snapshot-every-seconds S
                         write a snapshot every S seconds when anything was logged (default: 3600;
                         0 = never by time)
      --retention-months M
                         keep raw usage events for M months (2...1200, default: 13); older ones are
                         dropped at snapshot time, their monthly totals and billing records kept
      --version          print the version
      -h, --help         print this help

    """

func die(_ message: String) -> Never {
    FileHandle.standardError.write(Data("tokengated: \(message)\n".utf8))
    exit(2)
}

/// A whole number >= 0 for `flag`, or a usage error.
func number(_ flag: String, _ text: String) -> UInt64 {
    guard let number = UInt64(text) else { die("\(flag) must be a whole number >= 0, not '\(text)'") }
    return number
}

var options = DaemonOptions()
var arguments = CommandLine.arguments.dropFirst()
while let argument = arguments.popFirst() {
    func value(for flag: String) -> String {
        guard let next = arguments.popFirst() else { die("\(flag) needs a value (see --help)") }
        return next
    }
    switch argument {
    case "--socket": options.socketPath = value(for: argument)
    case "--data-dir": options.dataDirectory = value(for: argument)
    case "--fsync":
        let text = value(for: argument)
        guard let policy = FsyncPolicy(rawValue: text) else { die("--fsync must be always, everysec or never, not '\(text)'") }
        options.fsync = policy
    case "--shards":
        let text = value(for: argument)
        guard let count = Int(text), (1...4_096).contains(count) else { die("--shards must be 1...4096, not '\(text)'") }
        options.shardCount = count
    case "--repair": options.repair = true
    case "--snapshot-every-records": options.snapshots.everyRecords = number(argument, value(for: argument))
    case "--snapshot-every-seconds": options.snapshots.everySeconds = number(argument, value(for: argument))
    case "--retention-months":
        let range = Retention.monthsRange
        let text = value(for: argument)
        guard let months = Int(text), range.contains(months) else {
            die("--retention-months must be \(range.lowerBound)...\(range.upperBound), not '\(text)'")
        }
        options.retentionMonths = months
    case "--version":
        print("tokengated \(TokenGateVersion.current)")
        exit(0)
    case "-h", "--help":
        print(usage, terminator: "")
        exit(0)
    default: die("unknown argument '\(argument)' (see --help)")
    }
}
Daemon.run(options)
