// The daemon's periodic snapshots: starts the scheduler after recovery and logs one line per
// snapshot with the figures an operator watches (size, duration, and the longest time the
// snapshot held a shard lock, which bounds how long it delayed any call).
import TokenGateCore
import TokenGateStore

extension Daemon {
    /// Starts periodic snapshots under `options.snapshots`; a failed start is logged, not fatal
    /// (the log still holds every write, and the shutdown snapshot still runs).
    static func startSnapshots(
        _ options: DaemonOptions, ledger: Ledger, service: BudgetService, logger: Logger
    ) -> SnapshotScheduler {
        let scheduler = SnapshotScheduler(
            ledger: ledger, policy: options.snapshots, clock: { service.now() },
            report: { result in
                switch result {
                case .success(let summary):
                    logger.info("snapshot written", summaryFields(summary))
                case .failure(let error):
                    logger.warning("periodic snapshot failed; the log still holds every write", ["error": "\(error)"])
                }
            })
        do {
            try scheduler.start()
        } catch {
            logger.warning("periodic snapshots could not start", ["error": "\(error)"])
        }
        return scheduler
    }

    /// The log-line fields of a snapshot.
    static func summaryFields(_ summary: SnapshotSummary) -> KeyValuePairs<String, String> {
        [
            "sequence": "\(summary.sequence)", "facts": "\(summary.facts)", "bytes": "\(summary.bytes)",
            "events_dropped": "\(summary.eventsDropped)", "duration_ms": "\(summary.durationMicros / 1_000)",
            "longest_lock_hold_us": "\(summary.longestLockHoldMicros)",
        ]
    }
}
