// tokengated: the TokenGate daemon. Parses its arguments and hands over to Daemon.run.
import Foundation
import TokenGateServer
import TokenGateCore
import TokenGateStore

let usage = """
    Usage: tokengated [--socket PATH] [--data-dir DIR] [--fsync always|everysec|never] [--repair]
                      [--high-cost-check-at HH:MM] [--high-cost-threshold-usd X]

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
      --high-cost-check-at HH:MM
                         UTC time of the daily high-cost check of the day before (default: 02:00);
                         at startup the latest check due is run again (alerts are stored once)
      --high-cost-threshold-usd X
                         the check alerts on shops that spent more than X dollars in a UTC day
                         (default: 5.00)
      --version          print the version
      -h, --help         print this help

    """

func die(_ message: String) -> Never {
    FileHandle.standardError.write(Data("tokengated: \(message)\n".utf8))
    exit(2)
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
    case "--high-cost-check-at":
        let text = value(for: argument)
        do {
            options.highCostCheck = try DailyCheckSchedule(parsing: text)
        } catch {
            die("--high-cost-check-at: \(error.message)")
        }
    case "--high-cost-threshold-usd":
        let text = value(for: argument)
        guard let threshold = try? Money.parseUSD(text), threshold >= 0 else {
            die("--high-cost-threshold-usd must be a dollar amount >= 0 such as 5.00, not '\(text)'")
        }
        options.highCostThresholdNanoUSD = threshold
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
