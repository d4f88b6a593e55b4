// Wires the daemon's parts together in the order that keeps promises: lock the data dir, bind
// the socket (health answers NOT_SERVING meanwhile), recover the ledger, then serve; on SIGTERM
// or SIGINT drain, write a final snapshot and exit 0.
import CTokenGateSys
import Dispatch
import Foundation
import TokenGateClock
import TokenGateCore
import TokenGatePostgres
import TokenGateStore
import TokenGateWire

/// Everything `tokengated` can be told on its command line.
public struct DaemonOptions: Sendable {
    public static let dataDirectoryDefault = "./tokengate-data"

    public var socketPath: String
    public var dataDirectory = DaemonOptions.dataDirectoryDefault
    public var fsync: FsyncPolicy = .always
    public var repair = false
    public var shardCount = Ledger.shardCountDefault
    /// Limits on peers (DESIGN §5), each settable by a flag.
    public var limits = ServerLimits()
    public var socketMode: UInt32 = 0o660
    /// nil: the daemon's own uid and root.
    public var adminUIDs: Set<UInt32>?
    public var allowedUIDs: Set<UInt32> = []
    public var allowedGIDs: Set<UInt32> = []
    /// Log format, metrics file (see DaemonOperations.swift).
    public var operations = OperationsOptions()
    /// When the daily high-cost check runs (UTC) and the daily spend it flags.
    public var highCostCheck = DailyCheckSchedule.highCostDefault
    public var highCostThresholdNanoUSD = ReportLimits.dailyHighCostThresholdDefaultNanoUSD
    /// JSON config file over the embedded defaults; nil = defaults only.
    public var configFile: String?
    /// When periodic snapshots are written (`--snapshot-every-records`, `--snapshot-every-seconds`).
    public var snapshots = SnapshotPolicy()
    /// Months of raw usage events kept (`--retention-months`).
    public var retentionMonths = Retention.monthsDefault
    /// What gate calls may make the daemon keep (`--max-live-reservations`, `--max-gate-only-shops`).
    public var gateMemory = GateMemoryLimits()
    /// Shipping to PostgreSQL (`--postgres`, `$TOKENGATE_POSTGRES`); nil: off, nothing changes.
    public var postgres: ShipperOptions?
    /// `--billing-grace-hours`: overrides the config file's `billing_grace_hours` when set.
    public var billingGraceHours: UInt64?
    /// Budgets across hosts (`--fleet`, needs `postgres`): the gate admits against leases carved
    /// from PostgreSQL's budget pools (FleetLeases.swift); off: nothing changes.
    public var fleet = false
    /// PostgreSQL's lease expiry in fleet mode (`--fleet-lease-ttl-ms`).
    public var fleetLeaseTTLMs: Int64 = 30_000
    /// Fleet configuration's polling period (`--fleet-config-poll-ms`) and LISTEN
    /// (`--fleet-config-listen on|off`; off: polling alone, as behind a pooler that drops LISTEN).
    public var fleetConfigPollMs = 2_000
    public var fleetConfigListen = true
    /// Every shop's outage allowance (`--fleet-outage-allowance-usd`, over the config file's
    /// `fleet_outage_allowance.default_usd`); nil: the file's, else 0.
    public var fleetOutageAllowanceNanoUSD: NanoUSD?
    /// Takeover of gone hosts' expired leases (`--fleet-reclaim-after-ms`); nil: the lease TTL.
    public var fleetReclaimAfterMs: Int64?

    public init(environment: [String: String] = ProcessInfo.processInfo.environment) {
        socketPath = SocketPaths.defaultPath(environment: environment)
        if let conninfo = environment["TOKENGATE_POSTGRES"], !conninfo.isEmpty {
            postgres = ShipperOptions(conninfo: conninfo, hostID: Self.hostIDDefault)
        }
    }

    /// The host id rows are shipped under unless `--host-id` names one: the host name.
    public static var hostIDDefault: String { ProcessInfo.processInfo.hostName }
}

public enum Daemon {
    /// Runs the daemon until a signal stops it. Never returns.
    public static func run(_ commandLine: DaemonOptions) -> Never {
        let logger = Logger(format: commandLine.operations.logFormat)
        let fail: @Sendable (String) -> Never = { message in FatalExit.exit(message, logger: logger) }
        let startedMs = MonotonicClock.milliseconds()
        let configuration = loadConfiguration(commandLine, fail: fail)
        let options = withConfigFilePostgres(commandLine, fail: fail)
        let lock: DataDirectoryLock
        let ledger: Ledger
        let log: WriteAheadLog
        do {
            lock = try DataDirectoryLock(directory: options.dataDirectory)
            log = try WriteAheadLog(directory: options.dataDirectory, policy: options.fsync)
            let encoding = FactEncoding(
                encode: FactCodec.encode, decode: { bytes in try FactCodec.decode(bytes) }, decodeUsage: FactCodec.decodeUsage)
            ledger = Ledger(
                directory: options.dataDirectory, configuration: configuration, log: log, encoding: encoding,
                shardCount: options.shardCount, bootID: randomBootID(), retentionMonths: options.retentionMonths,
                gateMemoryLimits: options.gateMemory)
        } catch {
            fail("cannot open data dir \(options.dataDirectory): \(error)")
        }
        let fleet = makeFleet(options, ledger: ledger, logger: logger, fail: fail)
        let fleetConfig = makeFleetConfig(options, ledger: ledger, logger: logger)
        let service = BudgetService(ledger: ledger, clock: SystemClock(), fleet: fleet, fleetConfig: fleetConfig)
        let shipper = options.postgres.map { postgres in
            checkPostgresSchema(postgres, logger: logger, fail: fail)
            var postgres = postgres
            postgres.settlesLeases = fleet != nil
            return Shipper(options: postgres, log: log, ledger: ledger, logger: logger, fleet: fleet)
        }
        service.shipper.withLock { $0 = shipper }
        var serverConfiguration = ServerConfiguration(socketPath: options.socketPath, adminUIDs: options.adminUIDs ?? [getuid(), 0])
        serverConfiguration.limits = options.limits
        serverConfiguration.socketMode = options.socketMode
        serverConfiguration.allowedUIDs = options.allowedUIDs
        serverConfiguration.allowedGIDs = options.allowedGIDs
        let server = Server(configuration: serverConfiguration, service: service, ledger: ledger, logger: logger, onFatal: fail)
        do {
            try server.start()
        } catch {
            let hint = (error as? SocketError)?.errno == EADDRINUSE ? " (another tokengated is serving on it)" : ""
            fail("cannot listen on \(options.socketPath)\(hint): \(error)")
        }
        if let problem = Operations.startMetricsEndpoint(options.operations, limits: options.limits, service: service, logger: logger) {
            fail(problem)
        }
        let recovery: LedgerRecovery
        do {
            recovery = try ledger.recover(repair: options.repair)
        } catch {
            fail("recovery failed: \(error). Inspect with `tokengate wal verify \(options.dataDirectory)`; `tokengated --repair` cuts the log at the first bad record.")
        }
        for warning in recovery.warnings { logger.warning(warning) }
        // Replay frees as much as it keeps (log buffers, decoded records, outgrown arrays), and
        // malloc keeps freed heap pages resident: handing them back roughly halved the resident
        // size of a recovered store (2M events: 633 -> 258 MB).
        _ = tokengate_release_free_memory()
        checkRecoveredConfiguration(ledger, options: options, fail: fail)
        startSweeper(ledger: ledger, clock: SystemClock())
        shipper?.start()
        fleet?.start()
        fleetConfig?.start()
        service.isReady = true
        let startupMs = MonotonicClock.milliseconds() - startedMs
        logger.info("tokengated serving", [
            "version": TokenGateVersion.current, "socket": server.inheritedListener?.path ?? options.socketPath,
            "socket_activated": "\(server.inheritedListener != nil)", "data_dir": options.dataDirectory,
            "fsync": options.fsync.rawValue, "config": options.configFile ?? "(embedded defaults)",
            "runtime_config_changes": "\(ledger.runtimeChangeCount)", "snapshot_facts": "\(recovery.snapshotFacts)",
            "log_records": "\(recovery.logRecords)", "last_sequence": "\(recovery.lastSequence)",
            "startup_ms": "\(startupMs)",
        ])
        Operations.startServing(
            options.operations, service: service, recovery: recovery, startupMs: startupMs, logger: logger,
            liveness: { stallMs in server.isLive(stallMs: stallMs) })
        HighCostScheduler(
            ledger: ledger, clock: SystemClock(), schedule: options.highCostCheck,
            thresholdNanoUSD: options.highCostThresholdNanoUSD, logger: logger
        ).start()
        let scheduler = startSnapshots(options, ledger: ledger, service: service, logger: logger)
        installSignalHandlers(
            server: server, service: service, ledger: ledger, scheduler: scheduler, lock: lock, logger: logger)
        dispatchMain()
    }

    private static func installSignalHandlers(
        server: Server, service: BudgetService, ledger: Ledger, scheduler: SnapshotScheduler, lock: DataDirectoryLock,
        logger: Logger
    ) {
        for signalNumber in [SIGTERM, SIGINT] {
            signal(signalNumber, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: .global())
            source.setEventHandler {
                logger.info("draining", ["signal": signalNumber == SIGTERM ? "SIGTERM" : "SIGINT"])
                server.beginDraining()
                Operations.beginDraining()
                service.isReady = false
                service.finishStreams()
                server.drain()
                // Every unused lease goes back to its pool for the other hosts.
                service.fleet?.stop()
                service.fleetConfig?.stop()
                scheduler.stop()
                do {
                    let snapshot = try ledger.writeSnapshot(now: service.now())
                    try ledger.close()
                    lock.release()
                    logger.info("stopped", ["snapshot_sequence": "\(snapshot.sequence)", "snapshot_facts": "\(snapshot.facts)"])
                    exit(0)
                } catch {
                    logger.error("final snapshot failed; the log still holds every acknowledged write", ["error": "\(error)"])
                    exit(1)
                }
            }
            source.resume()
            signalSources.append(source)
        }
        signal(SIGPIPE, SIG_IGN)
    }

    nonisolated(unsafe) private static var signalSources: [any DispatchSourceSignal] = []

    /// With --postgres: a schema newer than this daemon knows stops startup here, before anything
    /// is served; PostgreSQL being unreachable does not (the shipper retries, the log keeps all).
    private static func checkPostgresSchema(_ options: ShipperOptions, logger: Logger, fail: (String) -> Never) {
        do {
            let connection = try PostgresConnection(conninfo: options.conninfo)
            let (from, to) = try Migrations.migrate(connection)
            if from != to { logger.info("migrated the PostgreSQL schema", ["from": "\(from)", "to": "\(to)"]) }
        } catch let error where error.kind == .schemaTooNew {
            fail("--postgres: \(error.message)")
        } catch {
            logger.warning("PostgreSQL is not reachable at startup; serving anyway, the shipper retries", ["error": "\(error)"])
        }
    }

    /// Fleet mode's leases (`--fleet`), or nil.
    private static func makeFleet(_ options: DaemonOptions, ledger: Ledger, logger: Logger, fail: (String) -> Never) -> FleetLeases? {
        guard options.fleet else { return nil }
        guard let postgres = options.postgres else { fail("--fleet needs --postgres (or $TOKENGATE_POSTGRES)") }
        var fleetOptions = FleetOptions(conninfo: postgres.conninfo, hostID: postgres.hostID)
        fleetOptions.leaseTTLMs = options.fleetLeaseTTLMs
        fleetOptions.renewBeforeMs = min(fleetOptions.renewBeforeMs, options.fleetLeaseTTLMs / 3)
        fleetOptions.reclaimAfterMs = options.fleetReclaimAfterMs ?? options.fleetLeaseTTLMs
        fleetOptions.outageAllowance = fleetOutageAllowance(options, fail: fail)
        logger.info("fleet mode: budgets from leases on PostgreSQL's pools", [
            "host_id": postgres.hostID, "lease_ttl_ms": "\(options.fleetLeaseTTLMs)",
            "reclaim_after_ms": "\(fleetOptions.reclaimAfterMs)",
            "outage_allowance_usd": Money.formatUSD(fleetOptions.outageAllowance.defaultNanoUSD),
            "outage_allowance_shops": "\(fleetOptions.outageAllowance.shops.count)",
        ])
        return FleetLeases(options: fleetOptions, ledger: ledger, clock: SystemClock(), logger: logger)
    }

    /// Fleet configuration (`--fleet`), or nil.
    private static func makeFleetConfig(_ options: DaemonOptions, ledger: Ledger, logger: Logger) -> FleetConfig? {
        guard options.fleet, let postgres = options.postgres else { return nil }
        var configOptions = FleetConfigOptions(conninfo: postgres.conninfo, hostID: postgres.hostID)
        configOptions.pollMs = options.fleetConfigPollMs
        configOptions.listen = options.fleetConfigListen
        let config = FleetConfig(options: configOptions, ledger: ledger, logger: logger)
        logger.info("fleet configuration: run-time changes go through PostgreSQL", [
            "listen": "\(options.fleetConfigListen)", "poll_ms": "\(options.fleetConfigPollMs)",
        ])
        return config
    }

    private static func randomBootID() -> String {
        String(UInt64.random(in: 0...UInt64.max), radix: 36)
    }
}

public enum TokenGateVersion {
    public static let current = "0.1.0"
}
