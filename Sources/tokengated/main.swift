// tokengated: the TokenGate daemon. Parses its arguments and hands over to Daemon.run.
import Foundation
import TokenGateServer
import TokenGateStore

let usage = """
    Usage: tokengated [--socket PATH] [--data-dir DIR] [--config FILE] [--fsync always|everysec|never] [--repair]

    Serves TokenGate's BudgetService on a Unix socket, with embedded defaults (prices, limits,
    tiers); no config file is needed.

    Options:
      --socket PATH      Unix socket to listen on (default: $TOKENGATE_SOCKET or /tmp/tokengate.sock)
      --data-dir DIR     where the write-ahead log and snapshots live (default: ./tokengate-data)
      --fsync POLICY     always (default: every acknowledged write is on disk, group commit),
                         everysec (up to ~1 s of acknowledged writes may be lost on power failure),
                         never (the OS decides; a power failure may lose recent writes)
      --shards N         number of store shards (default: 64)
      --config FILE      JSON config file overriding the embedded defaults (see README); run-time
                         changes made with admin RPCs are kept in the log and win over it
      --admin-uids LIST  comma-separated uids allowed to call admin methods (default: the
                         daemon's own uid and root)
      --socket-mode MODE octal file mode of the socket (default: 0660); tests use 0666 to reach
                         the daemon as another user
      --repair           cut the log at the first corrupt record instead of refusing to start
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
    case "--config": options.configFile = value(for: argument)
    case "--admin-uids":
        let text = value(for: argument)
        let uids = text.split(separator: ",", omittingEmptySubsequences: false).map { UInt32($0) }
        guard !uids.isEmpty, uids.allSatisfy({ $0 != nil }) else { die("--admin-uids must be uids separated by commas, not '\(text)'") }
        options.adminUIDs = Set(uids.compactMap { $0 })
    case "--socket-mode":
        let text = value(for: argument)
        guard let mode = UInt32(text, radix: 8), mode <= 0o777 else { die("--socket-mode must be an octal mode such as 0660, not '\(text)'") }
        options.socketMode = mode
    case "--repair": options.repair = true
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
