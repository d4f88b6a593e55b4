// Fleet configuration (`--fleet`, DESIGN §8, issue 20 item 6): run-time configuration changes
// (prices, tiers, tier assignments, limits, rate limits, optimization rules, shadow mode, the
// unknown-shop policy) made through any daemon are published to PostgreSQL's append-only
// `tokengate_config_changes`, numbered in commit order, and every daemon applies every change in
// that order, exactly once:
//
// - An admin setter takes the next number (the counter's row lock keeps every other publisher
//   out until it commits), catches up through the number before, checks the change against that
//   configuration (exactly the one it will apply over), writes the row, the readable tables and a
//   NOTIFY, commits, then catches up through its number and answers. It applies its own change the way every other
//   daemon does, from the table; only the setters publish, so applying never publishes again (no
//   echo). When PostgreSQL is unreachable the setter answers UNAVAILABLE and nothing changes
//   anywhere.
// - A thread per daemon holds a connection of its own that LISTENs on `tokengate_config`; a
//   notification wakes it at once, and it also reads the table every `pollMs` whatever happens
//   (a lost notification, a connection through a pooler that drops LISTEN, `--fleet-config-listen
//   off`), reconnecting while PostgreSQL is away.
// - Applying logs the change in the write-ahead log, as any change is logged, so a restart
//   without PostgreSQL serves the last configuration applied; the last number applied is kept in
//   the data directory (after the log holds the changes), so a restart resumes after it.
//
// Two daemons setting the same setting at once: the counter's row lock orders the two
// transactions; every daemon applies both in that order and ends with the later one.

import Dispatch
import Foundation
import Synchronization
import TokenGateCore
import TokenGatePostgres
import TokenGateStore
import TokenGateWire

/// How fleet configuration runs.
public struct FleetConfigOptions: Sendable {
    public var conninfo: String
    public var hostID: String
    /// How often the table is read when no notification came (the fallback's bound).
    public var pollMs: Int = 2_000
    /// LISTEN for notifications (off: polling alone).
    public var listen = true
    /// Wait between attempts while PostgreSQL fails.
    public var retryMs: Int = 1_000

    public init(conninfo: String, hostID: String) {
        self.conninfo = conninfo
        self.hostID = hostID
    }
}

/// Publishes this daemon's configuration changes and applies the fleet's.
public final class FleetConfig: Sendable {
    /// How a change reached this daemon (a metrics label).
    enum Path: Int, CaseIterable {
        case notify, poll, publish
        var label: String { ["notify", "poll", "publish"][rawValue] }
    }

    struct PathStats {
        var applied: UInt64 = 0
        var ageSumMs: UInt64 = 0
        var ageMaxMs: UInt64 = 0
    }

    public let options: FleetConfigOptions
    private let ledger: Ledger
    private let logger: Logger
    /// The last published sequence applied; its lock serializes applying.
    private let applied: Mutex<Int64>
    /// The setters' connection (one setter at a time publishes through it).
    private let publisher = Mutex<PostgresConnection?>(nil)
    private let loop = BackgroundLoop(name: "tokengate-fleet-config")
    // Metrics.
    private let appliedSequence = Atomic<Int64>(0)
    private let listening = Atomic<Bool>(false)
    private let connected = Atomic<Bool>(false)
    private let published = Atomic<UInt64>(0)
    private let failures = Atomic<UInt64>(0)
    /// Per path: changes applied, the sum and the largest of their ages (ms).
    private let pathStats = Mutex([PathStats](repeating: PathStats(), count: Path.allCases.count))
    private let undecodable = Atomic<Bool>(false)

    public init(options: FleetConfigOptions, ledger: Ledger, logger: Logger) {
        self.options = options
        self.ledger = ledger
        self.logger = logger
        let start = ledger.appliedFleetConfigSequence()
        applied = Mutex(start)
        appliedSequence.store(start, ordering: .relaxed)
    }

    // MARK: - The admin setters

    /// A run-time change made through this daemon: checked, published, applied from the table.
    /// Returns the change as published, the configuration after it and the log sequence to wait for.
    func change(_ change: ConfigChange, now: UnixMillis) throws(TokenGateError) -> (ConfigChange, Configuration, UInt64?) {
        try withPublisher { connection throws(TokenGateError) in
            var resolved = change
            let logSequence = try publish(connection) { () throws(TokenGateError) -> Fact in
                resolved = try ledger.planConfigurationChange(change, now: now)
                return .configChange(resolved)
            }
            // Read after catching up: the configuration with this change (and any before it) applied.
            return (resolved, ledger.currentConfiguration, logSequence)
        }
    }

    /// AssignShopTier through this daemon, likewise.
    func assignShopTier(_ request: AssignShopTierRequest, now: UnixMillis) throws(TokenGateError) -> (AssignShopTierResponse, UInt64?) {
        try withPublisher { connection throws(TokenGateError) in
            var response: AssignShopTierResponse?
            let logSequence = try publish(connection) { () throws(TokenGateError) -> Fact in
                let (fact, answer) = try ledger.planTierAssignment(request, now: now)
                response = answer
                return fact
            }
            return (response!, logSequence)
        }
    }

    private func withPublisher<Result: Sendable>(
        _ body: (PostgresConnection) throws(TokenGateError) -> Result
    ) throws(TokenGateError) -> Result {
        try publisher.withLock { (connection: inout PostgresConnection?) throws(TokenGateError) -> Result in
            do throws(PostgresError) {
                // A connection PostgreSQL dropped while it sat idle (a restart) is replaced
                // before anything is published through it.
                if let idle = connection, (try? idle.query("SELECT 1")) == nil { connection = nil }
                if connection == nil {
                    connection = try PostgresConnection(conninfo: options.conninfo)
                }
            } catch {
                throw Self.unreachable(error)
            }
            do throws(TokenGateError) {
                return try body(connection!)
            } catch {
                if connection?.isHealthy == false { connection = nil }
                throw error
            }
        }
    }

    /// Takes the next number (locking out every other publisher), catches up through the number
    /// before it, checks the change (`plan`) against that configuration, which is exactly the one
    /// it will apply over, publishes it and catches up through it. Returns the log sequence to
    /// wait for. A refused check rolls back: nothing is published.
    private func publish(_ connection: PostgresConnection, _ plan: () throws(TokenGateError) -> Fact) throws(TokenGateError) -> UInt64? {
        let sequence: Int64
        do {
            sequence = try ConfigStatements.beginPublish(connection)
        } catch {
            throw Self.unreachable(error)
        }
        let fact: Fact
        do throws(TokenGateError) {
            _ = try catchUp(connection, path: .publish, through: sequence - 1)
            fact = try plan()
        } catch {
            try? ConfigStatements.abortPublish(connection)
            throw error
        }
        do {
            try ConfigStatements.commitPublish(fact, record: FactCodec.encode(fact), hostID: options.hostID, connection: connection)
        } catch {
            // The COMMIT may have reached PostgreSQL before the connection failed.
            throw TokenGateError(
                .unavailable,
                "publishing configuration change \(sequence) to PostgreSQL failed (\(error)); whether it was committed is "
                    + "unknown: GetConfiguration (or tokengate_config_changes) shows it once PostgreSQL answers, on every daemon or none")
        }
        published.add(1, ordering: .relaxed)
        do throws(TokenGateError) {
            return try catchUp(connection, path: .publish, through: sequence)
        } catch {
            throw TokenGateError(
                error.code,
                "configuration change \(sequence) is published (every daemon applies it, this one as soon as it can), "
                    + "but applying it here failed: \(error.message)")
        }
    }

    static func unreachable(_ error: PostgresError) -> TokenGateError {
        TokenGateError(
            .unavailable,
            "fleet mode keeps configuration in PostgreSQL, and writing it there failed (\(error)); "
                + "the change was made on no daemon. Retry once PostgreSQL answers")
    }

    // MARK: - Applying

    /// Reads and applies every change after the last applied (or through `sequence`, which
    /// must then be reached). Returns the log sequence of the last change applied (nil: none).
    private func catchUp(_ connection: PostgresConnection, path: Path, through sequence: Int64? = nil) throws(TokenGateError)
        -> UInt64?
    {
        var logSequence: UInt64?
        while true {
            let from = applied.withLock { $0 }
            if let sequence, from >= sequence { return logSequence }
            let changes: [PublishedConfigChange]
            do {
                changes = try ConfigStatements.changes(after: from, connection: connection)
            } catch {
                throw Self.unreachable(error)
            }
            if changes.isEmpty {
                guard let sequence else { return logSequence }
                throw TokenGateError(.internal, "published configuration change \(sequence) is not in PostgreSQL after \(from)")
            }
            if let last = try apply(changes, path: path) { logSequence = last }
            if applied.withLock({ $0 }) == from {
                throw TokenGateError(.internal, "published configuration change \(from + 1) could not be applied; see the daemon's log")
            }
        }
    }

    /// Applies `changes` (oldest first) that follow the last applied, in order, stopping at a
    /// gap or at a record this daemon cannot decode; then waits until the log holds them and
    /// records the last number. Returns the log sequence of the last change applied.
    private func apply(_ changes: [PublishedConfigChange], path: Path) throws(TokenGateError) -> UInt64? {
        try applied.withLock { (last: inout Int64) throws(TokenGateError) -> UInt64? in
            var logSequence: UInt64?
            for change in changes where change.sequence > last {
                guard change.sequence == last + 1 else { break }
                let fact: Fact
                do {
                    fact = try FactCodec.decode(change.record)
                } catch {
                    if !undecodable.exchange(true, ordering: .relaxed) {
                        logger.error("fleet configuration: cannot decode published change; applying stops here (a newer tokengated published it?)", [
                            "change_seq": "\(change.sequence)", "error": "\(error)",
                        ])
                    }
                    break
                }
                logSequence = try ledger.applyPublished(fact)
                last = change.sequence
                let age = UInt64(max(change.ageMs, 0))
                pathStats.withLock { stats in
                    stats[path.rawValue].applied += 1
                    stats[path.rawValue].ageSumMs += age
                    stats[path.rawValue].ageMaxMs = max(stats[path.rawValue].ageMaxMs, age)
                }
            }
            guard let logSequence else { return nil }
            do {
                try ledger.waitUntilDurable(logSequence)
                try ledger.recordAppliedFleetConfigSequence(last)
            } catch {
                throw TokenGateError(.unavailable, "fleet configuration change \(last) was applied but could not be made durable: \(error)")
            }
            appliedSequence.store(last, ordering: .relaxed)
            return logSequence
        }
    }

    // MARK: - The follower thread

    public func start() {
        loop.start { [self] in run() }
    }

    public func stop() {
        loop.stop()
    }

    private func run() {
        var connection: PostgresConnection?
        var reported: Int64 = -1
        var path = Path.poll
        var failedInARow = 0
        while !loop.isStopping {
            do {
                if connection == nil || connection?.isHealthy == false {
                    let fresh = try PostgresConnection(conninfo: options.conninfo)
                    // Named, so an operator (or a test) can find it in pg_stat_activity.
                    try fresh.execute("SET application_name = 'tokengate-config-listen'")
                    if options.listen { try fresh.listen(ConfigStatements.channel) }
                    connection = fresh
                    connected.store(true, ordering: .relaxed)
                    listening.store(options.listen, ordering: .relaxed)
                }
                if let problem = catchUpReportingProblems(connection!, path: path) {
                    // PostgreSQL failed: reconnect. Anything else (an undecodable change) was logged; the next poll retries.
                    if problem.code == .unavailable { throw problem }
                    failures.add(1, ordering: .relaxed)
                }
                let now = applied.withLock { $0 }
                if now != reported {
                    try ConfigStatements.reportApplied(now, hostID: options.hostID, connection: connection!)
                    reported = now
                }
                failedInARow = 0
                path = try waitForNews(connection!)
            } catch {
                failedInARow += 1
                connection = nil
                connected.store(false, ordering: .relaxed)
                listening.store(false, ordering: .relaxed)
                if failures.add(1, ordering: .relaxed).newValue % 20 == 1 {
                    logger.warning("fleet configuration: PostgreSQL failed; serving the configuration applied so far, retrying", [
                        "error": "\(error)"
                    ])
                }
                // A connection that broke is replaced at once (and the table read); after that, every retryMs.
                if failedInARow > 1 { loop.sleep(milliseconds: options.retryMs) }
                path = .poll
            }
        }
    }

    private func catchUpReportingProblems(_ connection: PostgresConnection, path: Path) -> TokenGateError? {
        do {
            _ = try catchUp(connection, path: path)
            return nil
        } catch {
            return error
        }
    }

    /// Waits up to `pollMs` for a notification (in slices, to notice a stop); answers how the
    /// next read was prompted.
    private func waitForNews(_ connection: PostgresConnection) throws -> Path {
        let deadline = DispatchTime.now() + .milliseconds(options.pollMs)
        while !loop.isStopping && DispatchTime.now() < deadline {
            if options.listen {
                if try !connection.waitForNotifications(timeoutMs: 200).isEmpty { return .notify }
            } else {
                loop.sleep(until: min(deadline, .now() + .milliseconds(200)))
            }
        }
        return .poll
    }

    // MARK: - Metrics

    func exposition() -> String {
        var writer = ExpositionWriter()
        let host: KeyValuePairs<String, String> = ["host_id": options.hostID]
        writer.family("tokengate_fleet_config_sequence", "gauge", "The last fleet configuration change (tokengate_config_changes.change_seq) this host applied.")
        writer.sample("tokengate_fleet_config_sequence", host, UInt64(max(appliedSequence.load(ordering: .relaxed), 0)))
        writer.family("tokengate_fleet_config_connected", "gauge", "1 while the configuration thread holds a working PostgreSQL connection.")
        writer.sample("tokengate_fleet_config_connected", host, connected.load(ordering: .relaxed) ? 1 : 0)
        writer.family("tokengate_fleet_config_listening", "gauge", "1 while that connection LISTENs for changes (0: polling alone).")
        writer.sample("tokengate_fleet_config_listening", host, listening.load(ordering: .relaxed) ? 1 : 0)
        writer.family("tokengate_fleet_config_published_total", "counter", "Configuration changes published through this host.")
        writer.sample("tokengate_fleet_config_published_total", host, published.load(ordering: .relaxed))
        writer.family("tokengate_fleet_config_errors_total", "counter", "Failed reads of the fleet configuration (retried).")
        writer.sample("tokengate_fleet_config_errors_total", host, failures.load(ordering: .relaxed))
        let stats = pathStats.withLock { $0 }
        let families: [(String, String, String, (PathStats) -> UInt64)] = [
            ("tokengate_fleet_config_applied_total", "counter",
             "Fleet configuration changes applied, by what prompted the read: notify, poll, or publish (this host's own setter).", \.applied),
            ("tokengate_fleet_config_age_ms_sum", "counter", "Sum of the applied changes' ages (commit to read, PostgreSQL's clock), ms.", \.ageSumMs),
            ("tokengate_fleet_config_age_ms_max", "gauge", "Largest applied change's age since start, ms.", \.ageMaxMs),
        ]
        for (name, type, help, value) in families {
            writer.family(name, type, help)
            for path in Path.allCases {
                writer.sample(name, ["host_id": options.hostID, "path": path.label], value(stats[path.rawValue]))
            }
        }
        return writer.text
    }
}
