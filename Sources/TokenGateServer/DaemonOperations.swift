// What the daemon does for its operator once it serves: tell systemd it is ready (after
// recovery, never before), pet the watchdog at half WatchdogSec, and write the metrics to a
// .prom file every N seconds for node_exporter's textfile collector (temp file, fsync, rename,
// so the collector never reads half a file).
import Dispatch
import Synchronization
import TokenGateWire
import TokenGateCore
import TokenGateStore

/// The operations options of `tokengated`.
public struct OperationsOptions: Sendable {
    /// Shortest and longest interval between writes of the metrics file.
    public static let metricsIntervalSecondsRange = 1...3_600
    /// Once every 15 s matches a common Prometheus scrape interval.
    public static let metricsIntervalSecondsDefault = 15

    /// Format of the log lines on stderr.
    public var logFormat: LogFormat = .logfmt
    /// Where to write the metrics (a `.prom` file); nil = never.
    public var metricsFile: String?
    /// Seconds between writes of `metricsFile`.
    public var metricsIntervalSeconds = OperationsOptions.metricsIntervalSecondsDefault
    /// Where to serve `GET /metrics` over HTTP; nil = nowhere.
    public var metricsListen: MetricsListenAddress?
    /// Allows `metricsListen` on an address other hosts can reach (the metrics name shops and
    /// their spend, so by default they stay on the loopback interface).
    public var metricsListenAnyAddress = false

    /// logfmt, no metrics file.
    public init() {}
}

/// The background duties of a serving daemon.
public enum Operations {
    /// Timers live as long as the process; kept here so they are not released.
    nonisolated(unsafe) private static var timers: [any DispatchSourceTimer] = []

    /// Called once recovery has finished and the service is ready: records the log position
    /// for the metrics, sends READY=1, and starts the watchdog and metrics-file timers.
    public static func startServing(
        _ options: OperationsOptions, service: BudgetService, recovery: LedgerRecovery, startupMs: Int64, logger: Logger,
        liveness: @escaping @Sendable (_ stallMs: Int64) -> Bool = { _ in true }
    ) {
        service.metrics.recordRecovered(lastSequence: recovery.lastSequence)
        let status = "serving; recovered \(recovery.snapshotFacts) snapshot facts and \(recovery.logRecords) log records in \(startupMs) ms"
        if SystemdNotify.ready(status: status) { logger.info("notified systemd", ["state": "READY=1"]) }
        if let interval = SystemdNotify.watchdogIntervalMicroseconds() {
            // WATCHDOG=1 only while the accept loop runs and the flusher is not stuck in one
            // write and sync for longer than the interval (half WatchdogSec): a daemon that can
            // no longer accept or make writes durable is restarted by systemd.
            let stallMs = Int64(max(1, interval / 1_000))
            let warned = Atomic<Bool>(false)
            repeatEvery(.microseconds(Int(min(interval, UInt64(Int.max))))) {
                if liveness(stallMs) {
                    SystemdNotify.watchdog()
                    warned.store(false, ordering: .relaxed)
                } else if !warned.exchange(true, ordering: .relaxed) {
                    logger.error("not live (accept loop stopped or the log's flusher is stuck); withholding WATCHDOG=1")
                }
            }
        }
        if let path = options.metricsFile {
            let write: @Sendable () -> Void = { writeMetricsFile(path, service: service, logger: logger) }
            write()
            repeatEvery(.seconds(options.metricsIntervalSeconds), write)
        }
    }

    /// Binds and starts the HTTP metrics endpoint when `--metrics-listen` asks for one; it
    /// answers 503 until the service is ready. Returns a message for a refused or unbindable address.
    public static func startMetricsEndpoint(
        _ options: OperationsOptions, limits: ServerLimits, service: BudgetService, logger: Logger
    ) -> String? {
        guard let address = options.metricsListen else { return nil }
        guard let loopback = TCPSocket.isLoopback(host: address.host) else {
            return "--metrics-listen: '\(address.host)' is not a numeric IPv4 or IPv6 address"
        }
        if !loopback && !options.metricsListenAnyAddress {
            return "--metrics-listen \(address.description) is not a loopback address; the metrics name shops and their spend, so add --metrics-listen-any to serve them beyond this host"
        }
        let endpoint: MetricsHTTPServer
        do {
            endpoint = try MetricsHTTPServer(address: address, limits: limits)
        } catch {
            return "--metrics-listen \(address.description): \(error)"
        }
        endpoint.start(serving: { service.isReady }, metrics: { service.metricsText(now: service.now()) }, logger: logger)
        logger.info("serving metrics over HTTP", ["url": "http://\(endpoint.address.description)/metrics"])
        return nil
    }

    /// Called when draining begins.
    public static func beginDraining() {
        SystemdNotify.stopping()
    }

    /// Writes the current metrics to `path` atomically; a failure is logged, never fatal.
    static func writeMetricsFile(_ path: String, service: BudgetService, logger: Logger) {
        let text = service.metricsText(now: service.now())
        do throws(SystemError) {
            try PosixFileSystem().writeAtomically(path, Array(text.utf8))
        } catch {
            logger.warning("cannot write the metrics file", ["path": path, "error": "\(error)"])
        }
    }

    private static func repeatEvery(_ interval: DispatchTimeInterval, _ body: @escaping @Sendable () -> Void) {
        let timer = DispatchSource.makeTimerSource(queue: .global())
        timer.schedule(deadline: .now() + interval, repeating: interval)
        timer.setEventHandler(handler: body)
        timer.resume()
        timers.append(timer)
    }
}
