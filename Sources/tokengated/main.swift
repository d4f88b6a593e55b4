// tokengated: the TokenGate daemon. Parses its arguments and hands over to Daemon.run.
import Foundation
import TokenGateCore
import TokenGateServer
import TokenGateCore
import TokenGateStore

let usage = """
    Usage: tokengated [--socket PATH] [--data-dir DIR] [--config FILE] [--fsync always|everysec|never] [--repair]
                      [--log-format logfmt|json] [--metrics-file PATH [--metrics-interval SECONDS]]
                      [--metrics-listen ADDR:PORT [--metrics-listen-any]]
                      [--high-cost-check-at HH:MM] [--high-cost-threshold-usd X]
                      [--snapshot-every-records N] [--snapshot-every-seconds S] [--retention-months M]
                      [--postgres CONNINFO [--host-id ID] [--ship-backlog-bytes-max N] [--fleet [--fleet-lease-ttl-ms MS]
                                   [--fleet-config-poll-ms MS] [--fleet-config-listen on|off]
                                   [--fleet-outage-allowance-usd USD] [--fleet-reclaim-after-ms MS]]]
                      [--billing-grace-hours N]

    Serves TokenGate's BudgetService on a Unix socket, with embedded defaults (prices, limits,
    tiers); no config file is needed.

    Options:
      --socket PATH      Unix socket to listen on (default: $TOKENGATE_SOCKET, else
                         /run/tokengate/tokengate.sock for root, else
                         $XDG_RUNTIME_DIR/tokengate/tokengate.sock); its directory is created
                         0750 and refused when another user owns it
      --data-dir DIR     where the write-ahead log and snapshots live (default: ./tokengate-data)
      --fsync POLICY     always (default: every acknowledged write is on disk, group commit),
                         everysec (up to ~1 s of acknowledged writes may be lost on power failure),
                         never (the OS decides; a power failure may lose recent writes)
      --shards N         number of store shards (default: 64)
      --config FILE      JSON config file overriding the embedded defaults (docs/configuration.md);
                         run-time changes made with admin RPCs are kept in the log and win over it
      --repair           cut the log at the first corrupt record instead of refusing to start
      --log-format F     logfmt (default) or json: one line per event on stderr
      --metrics-file P   write the metrics (Prometheus text) to P every --metrics-interval
                         seconds (default 15), atomically, for node_exporter's textfile collector
      --metrics-interval SECONDS  1...3600
      --metrics-listen ADDR:PORT  serve GET /metrics (Prometheus text 0.0.4) over HTTP, e.g.
                         127.0.0.1:9464; a loopback address unless --metrics-listen-any is given
      --metrics-listen-any  allow --metrics-listen on a non-loopback address (the metrics name
                         shops and their spend: firewall it)

    Under systemd with socket activation (LISTEN_FDS=1), it serves on the passed socket (fd 3)
    and --socket only names it in the logs; with Type=notify it sends READY=1 after recovery.

    Access and limits (DESIGN.md §5; defaults in brackets):
      --socket-mode OCTAL          file mode of the socket [0660]
      --admin-uids UID,...         may call admin methods [the daemon's uid and root]
      --allow-uids UID,...         only listed uids/gids may connect at all [anyone who can
      --allow-gids GID,...           open the socket]
      --max-request-frame BYTES    largest request frame [65536]
      --max-response-frame BYTES   largest response frame [4194304]
      --max-connections N          connections at once [4096]
      --max-calls-in-flight N      pipelined calls answered per batch on one connection [256]
      --max-executing-calls N      calls answered at once; more get RESOURCE_EXHAUSTED [256]
      --frame-read-timeout-ms MS   drop a peer that stalls mid-frame [10000]
      --idle-timeout-ms MS         close an idle connection; 0 = never [600000]
      --write-timeout-ms MS        drop a peer that stops reading replies [10000]
      --drain-timeout-ms MS        on SIGTERM, wait this long for read calls to be answered [10000]
      --max-live-reservations N    holds live at once in all; more get RESOURCE_EXHAUSTED [1000000]
      --max-gate-only-shops N      shops kept only for holds or rate windows [200000]
      --max-queued-reply-bytes B   replies queued for a peer that is not reading, per
                                   connection or watcher; past it the peer is dropped [8388608]
      --high-cost-check-at HH:MM
                         UTC time of the daily high-cost check of the day before (default: 02:00);
                         at startup the latest check due is run again (alerts are stored once)
      --high-cost-threshold-usd X
                         the check alerts on shops that spent more than X dollars in a UTC day
                         (default: 5.00)
      --snapshot-every-records N
                         write a snapshot once N records were logged since the last (default:
                         1000000; 0 = never by count)
      --snapshot-every-seconds S
                         write a snapshot every S seconds when anything was logged (default: 3600;
                         0 = never by time)
      --retention-months M
                         keep raw usage events for M months (2...1200, default: 13); older ones are
                         dropped at snapshot time, their monthly totals and billing records kept
      --postgres CONNINFO
                         ship every durable record to PostgreSQL (libpq conninfo or URI; also
                         $TOKENGATE_POSTGRES); the daemon creates and migrates the schema
      --host-id ID       this host's key in PostgreSQL (default: the host name)
      --ship-backlog-bytes-max N
                         unshipped log over N bytes raises the backlog alert (default: 1 GiB);
                         usage is never refused for it
      --billing-grace-hours N
                         a final bill of a month is possible only N hours after it ended, so that
                         spools and restarts around midnight land their usage first (0...8760,
                         default: 24; overrides the config file's billing_grace_hours)
      --fleet            budgets across hosts (docs/fleet.md): every daemon with --fleet on one
                         PostgreSQL enforces each shop's caps for the fleet, admitting locally
                         against a lease carved from the shop's pool
      --fleet-lease-ttl-ms MS
                         how long a lease is trusted without PostgreSQL (default: 30000); after
                         that a host cut off from PostgreSQL denies (fails closed)
      --fleet-config-poll-ms MS
                         how often fleet configuration is read from PostgreSQL besides
                         LISTEN/NOTIFY (200...10000, default: 2000)
      --fleet-config-listen on|off
                         LISTEN for configuration changes (default: on; off: polling alone,
                         e.g. behind a connection pooler that drops LISTEN)
      --fleet-outage-allowance-usd USD
                         what a host cut off from PostgreSQL may admit beyond its lease, per shop
                         and window (default: 0, fail closed; the config file's
                         fleet_outage_allowance sets it per shop); settled when PostgreSQL is back
      --fleet-reclaim-after-ms MS
                         another host's lease expired this long ago, its host silent as long, is
                         reclaimed for the fleet (default: the lease TTL; 0: never)
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
var pendingHostID: String?
var pendingBacklogBytesMax: UInt64?
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
    case "--repair": options.repair = true
    case "--log-format":
        let text = value(for: argument)
        guard let format = LogFormat(rawValue: text) else { die("--log-format must be logfmt or json, not '\(text)'") }
        options.operations.logFormat = format
    case "--metrics-file": options.operations.metricsFile = value(for: argument)
    case "--metrics-listen":
        let text = value(for: argument)
        guard let address = MetricsListenAddress.parse(text) else {
            die("--metrics-listen must be ADDR:PORT such as 127.0.0.1:9464 or [::1]:9464, not '\(text)'")
        }
        options.operations.metricsListen = address
    case "--metrics-listen-any": options.operations.metricsListenAnyAddress = true
    case "--metrics-interval":
        let text = value(for: argument)
        guard let seconds = Int(text), OperationsOptions.metricsIntervalSecondsRange.contains(seconds) else {
            die("--metrics-interval must be 1...3600 seconds, not '\(text)'")
        }
        options.operations.metricsIntervalSeconds = seconds
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
    case "--snapshot-every-records": options.snapshots.everyRecords = number(argument, value(for: argument))
    case "--snapshot-every-seconds": options.snapshots.everySeconds = number(argument, value(for: argument))
    case "--retention-months":
        let range = Retention.monthsRange
        let text = value(for: argument)
        guard let months = Int(text), range.contains(months) else {
            die("--retention-months must be \(range.lowerBound)...\(range.upperBound), not '\(text)'")
        }
        options.retentionMonths = months
    case "--postgres":
        let conninfo = value(for: argument)
        guard !conninfo.isEmpty else { die("--postgres needs a libpq connection string, e.g. 'host=/run/postgresql dbname=tokengate'") }
        var postgres = options.postgres ?? ShipperOptions(conninfo: conninfo, hostID: DaemonOptions.hostIDDefault)
        postgres.conninfo = conninfo
        options.postgres = postgres
    case "--host-id":
        let id = value(for: argument)
        guard !id.isEmpty, id.utf8.count <= 128 else { die("--host-id must be 1 to 128 bytes") }
        pendingHostID = id
    case "--ship-backlog-bytes-max":
        pendingBacklogBytesMax = number(argument, value(for: argument))
    case "--billing-grace-hours":
        let text = value(for: argument)
        guard let hours = UInt64(text), hours <= Configuration.billingGraceHoursMax else {
            die("--billing-grace-hours must be 0...\(Configuration.billingGraceHoursMax), not '\(text)'")
        }
        options.billingGraceHours = hours
    case "--fleet": options.fleet = true
    case "--fleet-lease-ttl-ms":
        let text = value(for: argument)
        guard let ms = Int64(text), (2_000...3_600_000).contains(ms) else {
            die("--fleet-lease-ttl-ms must be 2000...3600000, not '\(text)'")
        }
        options.fleetLeaseTTLMs = ms
    case "--fleet-config-poll-ms":
        let text = value(for: argument)
        guard let ms = Int(text), (200...10_000).contains(ms) else { die("--fleet-config-poll-ms must be 200...10000, not '\(text)'") }
        options.fleetConfigPollMs = ms
    case "--fleet-config-listen":
        let text = value(for: argument)
        guard text == "on" || text == "off" else { die("--fleet-config-listen must be on or off, not '\(text)'") }
        options.fleetConfigListen = text == "on"
    case "--fleet-outage-allowance-usd":
        let text = value(for: argument)
        guard let amount = try? Money.parseUSD(text), amount >= 0 else {
            die("--fleet-outage-allowance-usd must be a dollar amount >= 0 such as 0.50, not '\(text)'")
        }
        options.fleetOutageAllowanceNanoUSD = amount
    case "--fleet-reclaim-after-ms":
        let text = value(for: argument)
        guard let ms = Int64(text), ms == 0 || (1_000...86_400_000).contains(ms) else {
            die("--fleet-reclaim-after-ms must be 0 (never) or 1000...86400000, not '\(text)'")
        }
        options.fleetReclaimAfterMs = ms
    case "--version":
        print("tokengated \(TokenGateVersion.current)")
        exit(0)
    case "-h", "--help":
        print(usage, terminator: "")
        exit(0)
    default:
        do {
            guard try parseAccessOrLimitFlag(argument, value: value(for: argument), into: &options) else {
                die("unknown argument '\(argument)' (see --help)")
            }
        } catch let error as FlagError {
            die(error.message)
        }
    }
}
if pendingHostID != nil || pendingBacklogBytesMax != nil {
    guard var postgres = options.postgres else { die("--host-id and --ship-backlog-bytes-max need --postgres (or $TOKENGATE_POSTGRES)") }
    if let id = pendingHostID { postgres.hostID = id }
    if let bytes = pendingBacklogBytesMax { postgres.backlogBytesMax = Int(clamping: bytes) }
    options.postgres = postgres
}
if options.fleet && options.postgres == nil { die("--fleet needs --postgres (or $TOKENGATE_POSTGRES)") }
Daemon.run(options)
