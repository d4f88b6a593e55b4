// Wires the daemon's parts together in the order that keeps promises: lock the data dir, bind
// the socket (health answers NOT_SERVING meanwhile), recover the ledger, then serve; on SIGTERM
// or SIGINT drain, write a final snapshot and exit 0.
import Dispatch
import Foundation
import TokenGateCore
import TokenGateStore
import TokenGateWire

/// Everything `tokengated` can be told on its command line.
public struct DaemonOptions: Sendable {
    public static let socketPathDefault = "/tmp/tokengate.sock"
    public static let dataDirectoryDefault = "./tokengate-data"

    public var socketPath: String
    public var dataDirectory = DaemonOptions.dataDirectoryDefault
    public var fsync: FsyncPolicy = .always
    public var repair = false
    public var shardCount = Ledger.shardCountDefault
    /// When periodic snapshots are written (`--snapshot-every-records`, `--snapshot-every-seconds`).
    public var snapshots = SnapshotPolicy()
    /// Months of raw usage events kept (`--retention-months`).
    public var retentionMonths = Retention.monthsDefault

    public init(environment: [String: String] = ProcessInfo.processInfo.environment) {
        socketPath = environment["TOKENGATE_SOCKET"].flatMap { $0.isEmpty ? nil : $0 } ?? Self.socketPathDefault
    }
}

public enum Daemon {
    /// Runs the daemon until a signal stops it. Never returns.
    public static func run(_ options: DaemonOptions) -> Never {
        let logger = Logger()
        let fail: @Sendable (String) -> Never = { message in
            logger.error(message)
            exit(1)
        }
        let startedMs = monotonicMs()
        let lock: DataDirectoryLock
        let ledger: Ledger
        do {
            lock = try DataDirectoryLock(directory: options.dataDirectory)
            let log = try WriteAheadLog(directory: options.dataDirectory, policy: options.fsync)
            let encoding = FactEncoding(encode: FactCodec.encode, decode: { bytes in try FactCodec.decode(bytes) })
            ledger = Ledger(
                directory: options.dataDirectory, configuration: .defaults, log: log, encoding: encoding,
                shardCount: options.shardCount, bootID: randomBootID(), retentionMonths: options.retentionMonths)
        } catch {
            fail("cannot open data dir \(options.dataDirectory): \(error)")
        }
        let service = BudgetService(ledger: ledger, clock: SystemClock())
        let server = Server(
            configuration: ServerConfiguration(socketPath: options.socketPath, adminUIDs: [getuid(), 0]),
            service: service, ledger: ledger, logger: logger, onFatal: fail)
        do {
            try server.start()
        } catch {
            let hint = (error as? SocketError)?.errno == EADDRINUSE ? " (another tokengated is serving on it)" : ""
            fail("cannot listen on \(options.socketPath)\(hint): \(error)")
        }
        let recovery: LedgerRecovery
        do {
            recovery = try ledger.recover(repair: options.repair)
        } catch {
            fail("recovery failed: \(error). Inspect with `tokengate wal verify \(options.dataDirectory)`; `tokengated --repair` cuts the log at the first bad record.")
        }
        for warning in recovery.warnings { logger.warning(warning) }
        service.isReady = true
        logger.info("tokengated serving", [
            "version": TokenGateVersion.current, "socket": options.socketPath, "data_dir": options.dataDirectory,
            "fsync": options.fsync.rawValue, "snapshot_facts": "\(recovery.snapshotFacts)",
            "log_records": "\(recovery.logRecords)", "last_sequence": "\(recovery.lastSequence)",
            "startup_ms": "\(monotonicMs() - startedMs)",
        ])
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
                service.isReady = false
                server.drain()
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

    private static func randomBootID() -> String {
        String(UInt64.random(in: 0...UInt64.max), radix: 36)
    }
}

public enum TokenGateVersion {
    public static let current = "0.1.0"
}
