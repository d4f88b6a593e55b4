// The PostgreSQL shipper (DESIGN §8, issue 19): a thread of its own that tails the write-ahead
// log from a cursor kept in PostgreSQL and writes every durable fact there, a batch per
// transaction with the cursor moved in the same transaction, so a crash anywhere neither loses nor
// doubles a row. It never runs on the request path: requests only append to the log as always.
// While PostgreSQL is unreachable it retries with capped exponential backoff and the log keeps
// the unshipped segments (`WriteAheadLog.holdSegments`); a cursor older than the log (a fresh
// database, a deleted cursor) is served from the newest snapshot first.

import Dispatch
import Foundation
import Synchronization
import TokenGateClock
import TokenGateCore
import TokenGatePostgres
import TokenGateStore
import TokenGateWire

/// How the shipper runs (`tokengated --postgres ...`).
public struct ShipperOptions: Sendable {
    /// libpq connection string or URI.
    public var conninfo: String
    /// This host's key in PostgreSQL (the `host_id` column and the cursor's row).
    public var hostID: String
    /// Unshipped log beyond this many bytes raises the backlog alert (a warning and a metric);
    /// usage is never refused because of it.
    public var backlogBytesMax: Int = 1 << 30
    /// Log records per transaction.
    public var batchRecordsMax: Int = 20_000
    /// Sleep when there is nothing (or little) to ship: bounds the lag under live traffic and
    /// sets how many commits a second the shipper costs PostgreSQL.
    public var idlePollMilliseconds: Int = 100
    /// First and largest wait between attempts while PostgreSQL fails.
    public var backoffInitialMilliseconds: Int = 100
    public var backoffMaxMilliseconds: Int = 5_000
    /// Fleet mode (`--fleet`, issue 20): shipped usage settles the budget pools and this
    /// host's leases in the same transaction.
    public var settlesLeases = false
    /// Usage rows by COPY into the batch's transaction (false: always the unnest INSERT). A
    /// batch that meets a row already in PostgreSQL is rolled back and sent again by INSERT.
    public var copiesUsage = true

    public init(conninfo: String, hostID: String) {
        self.conninfo = conninfo
        self.hostID = hostID
    }
}

/// What `tokengate ship status` and the metrics show.
public struct ShipStatus: Sendable {
    /// The last sequence PostgreSQL holds (nil until the cursor was read).
    public var cursor: UInt64?
    /// The last sequence the log holds durably.
    public var durableSequence: UInt64 = 0
    public var connected = false
    public var rowsShipped: UInt64 = 0
    public var batchesShipped: UInt64 = 0
    /// Rows per second over the last batches.
    public var rowsPerSecond: Double = 0
    /// Monotonic ms when the cursor last equalled the durable sequence.
    public var caughtUpAtMs: Int64 = 0
    public var lastError: String?
    public var lastErrorAtUnixMs: UnixMillis = 0
    public var errors: UInt64 = 0
    /// Batches whose COPY met a row already in PostgreSQL and were sent again by INSERT.
    public var copyRetries: UInt64 = 0
    public var backlogBytes: Int = 0
    public var backlogOverLimit = false
    public var schemaVersion = 0

    /// Records not yet in PostgreSQL.
    public var lagRecords: UInt64 {
        guard let cursor else { return durableSequence }
        return durableSequence > cursor ? durableSequence - cursor : 0
    }
}

/// The shipper thread and its status.
public final class Shipper: Sendable {
    public let options: ShipperOptions
    private let log: WriteAheadLog
    private let ledger: Ledger
    private let logger: Logger
    /// Fleet mode: unused lease goes back inside the transaction that settles the usage.
    private let fleet: FleetLeases?
    private let status = Mutex(ShipStatus())
    private let loop = BackgroundLoop(name: "tokengate-shipper")

    /// Prepares a shipper for `log` (whose segments it holds from now on, until it learns the
    /// cursor). Call `start` after recovery.
    public init(options: ShipperOptions, log: WriteAheadLog, ledger: Ledger, logger: Logger, fleet: FleetLeases? = nil) {
        self.options = options
        self.log = log
        self.ledger = ledger
        self.logger = logger
        self.fleet = fleet
        log.holdSegments(from: 1)
    }

    /// A copy of the current status, with the log's durable sequence read now (so the lag is
    /// current even while the shipper waits out a backoff).
    public var currentStatus: ShipStatus {
        let durable = shippableSequence()
        return status.withLock { status in
            var copy = status
            copy.durableSequence = max(copy.durableSequence, durable)
            return copy
        }
    }

    /// Starts the shipper's thread.
    public func start() {
        status.withLock { $0.caughtUpAtMs = MonotonicClock.milliseconds() }
        loop.start { [self] in run() }
    }

    /// Stops the thread after its current batch (used at shutdown and by tests).
    public func stop() {
        loop.stop()
    }

    // MARK: - The loop

    private func run() {
        var backoff = options.backoffInitialMilliseconds
        while !loop.isStopping {
            do {
                let connection = try connect()
                backoff = options.backoffInitialMilliseconds
                try shipUntilStopped(connection)
            } catch {
                record(error)
                // While PostgreSQL is away the backlog grows: keep its figures and alert current.
                let durable = shippableSequence()
                status.withLock { $0.durableSequence = durable }
                checkBacklog(cursor: status.withLock { $0.cursor ?? 0 }, tail: LogTail(directory: log.directory))
                sleep(milliseconds: backoff)
                backoff = min(backoff * 2, options.backoffMaxMilliseconds)
            }
        }
        status.withLock { $0.connected = false }
    }

    /// Connects, migrates, ships the configuration's tiers and prices, and reads the cursor.
    private func connect() throws -> PostgresConnection {
        let connection = try PostgresConnection(conninfo: options.conninfo)
        let (_, version) = try Migrations.migrate(connection)
        var batch = ShipBatch(hostID: options.hostID)
        batch.add(ledger.currentConfiguration)
        _ = try connection.pipeline(batch.statements(shippedThrough: nil))
        let cursor = try readCursor(connection)
        log.holdSegments(from: cursor + 1)
        status.withLock {
            $0.connected = true
            $0.cursor = cursor
            $0.schemaVersion = version
        }
        logger.info("shipping to PostgreSQL", ["host_id": options.hostID, "cursor": "\(cursor)", "schema_version": "\(version)"])
        return connection
    }

    private func readCursor(_ connection: PostgresConnection) throws -> UInt64 {
        let rows = try connection.query(ShipStatements.readCursor, [options.hostID])
        return rows.scalar.flatMap { UInt64($0) } ?? 0
    }

    /// A batch sent in pipeline mode whose results are not read yet.
    private struct InFlight {
        var through: UInt64
        var statementCount: Int
        var rows: Int
        /// Usage rows sent by INSERT (its statement is the second), 0 when copied or none.
        var inserting: Int
        /// Lease returns riding the transaction, and the index of their first statement.
        var returns: [ShipmentReturn] = []
        var returnsAt = 0
    }

    /// Ships batches until stopped or an error (thrown to `run`, which backs off and reconnects
    /// and reads the cursor again, so a batch whose commit was not confirmed is sent again).
    /// One batch stays in flight: the next one is read from the log and decoded while
    /// PostgreSQL runs (and commits) the previous one, whose results are read after. Usage rows
    /// go by COPY (`copyBatch`) unless a batch met rows already shipped; then by INSERT until a
    /// batch finds none there.
    private func shipUntilStopped(_ connection: PostgresConnection) throws {
        // Returns sent in a transaction not yet confirmed: on a failure the refill thread
        // sends them again, with the same sequence numbers.
        var unconfirmed: [ShipmentReturn] = []
        do {
            try shipUntilStopped(connection, unconfirmed: &unconfirmed)
        } catch {
            if !unconfirmed.isEmpty { fleet?.shipmentFailed(unconfirmed) }
            throw error
        }
    }

    private func shipUntilStopped(_ connection: PostgresConnection, unconfirmed: inout [ShipmentReturn]) throws {
        var tail = LogTail(directory: log.directory, recordBytesMax: StoreLimits.defaultRecordBytesMax)
        var sent = status.withLock { $0.cursor ?? 0 }
        var inFlight: InFlight?
        var lastConfirmNs = MonotonicClock.nanoseconds()
        var copying = options.copiesUsage
        /// Reads the batch in flight, if any, and leaves pipeline mode.
        func confirmInFlight() throws {
            if let pending = inFlight {
                if try confirm(pending, connection, since: &lastConfirmNs, unconfirmed: &unconfirmed), options.copiesUsage {
                    copying = true
                }
            }
            inFlight = nil
            connection.endPipelineMode()
        }
        while !loop.isStopping {
            let durable = shippableSequence()
            status.withLock { $0.durableSequence = durable }
            switch try tail.read(from: sent + 1, through: durable, limit: options.batchRecordsMax) {
            case .missing(let oldest):
                try confirmInFlight()
                sent = try shipSnapshot(connection, cursor: sent, oldestInLog: oldest)
            case .records(let records) where records.isEmpty:
                if inFlight != nil {
                    try confirmInFlight()
                    continue
                }
                checkBacklog(cursor: sent, tail: tail)
                status.withLock { $0.caughtUpAtMs = MonotonicClock.milliseconds() }
                sleep(milliseconds: options.idlePollMilliseconds)
                lastConfirmNs = MonotonicClock.nanoseconds()
            case .records(let records):
                let through = records.last!.sequence
                var finish: (statements: [PostgresStatement], rows: Int, inserting: Int, shopIDs: Set<String>)?
                if copying {
                    finish = try copyBatch(records, through: through, connection, before: confirmInFlight)
                    if finish == nil { copying = false }
                }
                if finish == nil {
                    var batch = ShipBatch(hostID: options.hostID)
                    batch.settlesLeases = options.settlesLeases
                    for record in records { batch.add(try FactCodec.decode(record.body)) }
                    finish = (batch.statements(shippedThrough: through), batch.rowCount, batch.usageCount, batch.usageShopIDs)
                }
                var statements = finish!.statements
                // Fleet mode: unused lease of the shops settled goes back in the same transaction,
                // before its COMMIT.
                let returns = options.settlesLeases ? (fleet?.shipmentReturns(shopIDs: finish!.shopIDs) ?? []) : []
                let returnsAt = statements.count - 1
                statements.insert(
                    contentsOf: returns.flatMap { LeaseStore.giveBackStatements($0.operation, pool: $0.pool, hostID: options.hostID) },
                    at: returnsAt)
                unconfirmed += returns
                try connection.sendPipelined(statements)
                if let pending = inFlight {
                    if try confirm(pending, connection, since: &lastConfirmNs, unconfirmed: &unconfirmed), options.copiesUsage {
                        copying = true
                    }
                }
                inFlight = InFlight(
                    through: through, statementCount: statements.count, rows: finish!.rows, inserting: finish!.inserting,
                    returns: returns, returnsAt: returnsAt)
                sent = through
                // Caught up with live traffic: let a batch gather instead of paying a commit (and
                // PostgreSQL's fsync) for every few records, which competes with the daemon.
                if records.count < options.batchRecordsMax / 4 {
                    try confirmInFlight()
                    sleep(milliseconds: options.idlePollMilliseconds)
                }
            }
        }
        if let pending = inFlight { _ = try confirm(pending, connection, since: &lastConfirmNs, unconfirmed: &unconfirmed) }
    }

    /// COPY text sent per `PQputCopyData`: PostgreSQL works on one chunk while the next is made.
    static let copyChunkBytes = 1 << 18

    /// Starts the transaction of `records` with their usage rows by COPY, streamed while the
    /// records are decoded (`before` runs first, when the first chunk is ready: it confirms the
    /// previous batch, whose commit thus overlaps the decoding). Returns the statements that
    /// finish the transaction (to send in pipeline mode), or nil when the batch must go by
    /// INSERT instead: a row was already in PostgreSQL (unique violation) or a time cannot be
    /// copied exactly; then the transaction was rolled back and nothing of the batch is there.
    private func copyBatch(
        _ records: [WALRecord], through: UInt64, _ connection: PostgresConnection, before: () throws -> Void
    ) throws -> (statements: [PostgresStatement], rows: Int, inserting: Int, shopIDs: Set<String>)? {
        var batch = ShipBatch(hostID: options.hostID, usageForm: .copy)
        batch.settlesLeases = options.settlesLeases
        var copyStarted = false
        func sendCopyText() throws {
            if !copyStarted {
                try before()
                try connection.execute("BEGIN")
                try connection.beginCopyIn(ShipBatch.copyUsage)
                copyStarted = true
            }
            try connection.putCopyData(batch.takeCopyText())
        }
        for record in records {
            // Usage events, nearly every record, straight from their bytes to COPY text.
            if let usage = FactCodec.decodeUsage(record.body, record.body.indices) {
                batch.addUsage(usage, in: record.body)
            } else {
                batch.add(try FactCodec.decode(record.body))
            }
            guard batch.copiesExactly else { break }
            if batch.copyText.bytes.count >= Self.copyChunkBytes { try sendCopyText() }
        }
        guard batch.copiesExactly else {
            if copyStarted {
                connection.abandonCopyIn("a usage time outside what COPY writes exactly")
                try connection.execute("ROLLBACK")
            }
            return nil
        }
        if !batch.copyText.bytes.isEmpty { try sendCopyText() }
        if copyStarted {
            do throws(PostgresError) {
                _ = try connection.endCopyIn()
            } catch {
                // 23505 unique_violation: a row shipped before (a re-ship, an event id logged twice).
                guard error.sqlState == "23505" else { throw error }
                try connection.execute("ROLLBACK")
                status.withLock { $0.copyRetries += 1 }
                return nil
            }
        }
        return (batch.statements(shippedThrough: through), batch.rowCount, 0, batch.usageShopIDs)
    }

    /// Reads the results of a batch sent earlier: once its COMMIT succeeded, the cursor has
    /// moved, so the log may drop what it covers. Returns true when it sent usage rows by
    /// INSERT and none of them was there already (so COPY may be tried again).
    @discardableResult
    private func confirm(
        _ batch: InFlight, _ connection: PostgresConnection, since lastConfirmNs: inout UInt64,
        unconfirmed: inout [ShipmentReturn]
    ) throws -> Bool {
        let results = try connection.readPipelined(statementCount: batch.statementCount)
        if !batch.returns.isEmpty, let fleet {
            var answers: [(applied: Bool, state: LeaseState)] = []
            for index in batch.returns.indices {
                let first = batch.returnsAt + 2 * index
                answers.append(try LeaseStore.shippedReturn(results[first..<first + 2]))
            }
            fleet.shipmentAnswered(batch.returns, answers)
            unconfirmed.removeFirst(min(batch.returns.count, unconfirmed.count))
        }
        let now = MonotonicClock.nanoseconds()
        let seconds = Double(now - lastConfirmNs) / 1e9
        lastConfirmNs = now
        log.holdSegments(from: batch.through + 1)
        let durable = shippableSequence()
        status.withLock { status in
            status.cursor = batch.through
            status.rowsShipped += UInt64(batch.rows)
            status.batchesShipped += 1
            let rate = seconds > 0 ? Double(batch.rows) / seconds : 0
            status.rowsPerSecond = status.batchesShipped == 1 ? rate : status.rowsPerSecond * 0.7 + rate * 0.3
            status.lastError = nil
            if batch.through >= durable { status.caughtUpAtMs = MonotonicClock.milliseconds() }
        }
        checkBacklog(cursor: batch.through, tail: LogTail(directory: log.directory))
        return batch.inserting > 0 && results.count > 1 && results[1].affected == batch.inserting
    }

    /// One transaction: the rows and the cursor, in pipeline mode.
    private func write(_ batch: ShipBatch, through sequence: UInt64, _ connection: PostgresConnection) throws {
        let started = MonotonicClock.nanoseconds()
        _ = try connection.pipeline(batch.statements(shippedThrough: sequence))
        let seconds = Double(MonotonicClock.nanoseconds() - started) / 1e9
        log.holdSegments(from: sequence + 1)
        status.withLock { status in
            status.cursor = sequence
            status.rowsShipped += UInt64(batch.rowCount)
            status.batchesShipped += 1
            let rate = seconds > 0 ? Double(batch.rowCount) / seconds : 0
            status.rowsPerSecond = status.batchesShipped == 1 ? rate : status.rowsPerSecond * 0.7 + rate * 0.3
            status.lastError = nil
        }
    }

    /// The cursor is older than the log (a fresh database, or a cursor deleted by hand): ships
    /// the newest snapshot's facts (idempotent, so facts already present change nothing), then
    /// moves the cursor to the snapshot's last sequence, from where the log continues.
    private func shipSnapshot(_ connection: PostgresConnection, cursor: UInt64, oldestInLog: UInt64?) throws -> UInt64 {
        guard let snapshot = try Snapshot.loadNewest(directory: log.directory, fileSystem: PosixFileSystem()),
            snapshot.lastSequence + 1 >= (oldestInLog ?? snapshot.lastSequence + 1), snapshot.lastSequence > cursor
        else {
            throw PostgresError(
                .protocolViolation,
                "records \(cursor + 1) to \((oldestInLog ?? 1) - 1) are neither in the log nor in a snapshot; "
                    + "they cannot be shipped (were log segments removed by hand?)")
        }
        logger.info(
            "shipping the snapshot first: the cursor is older than the log",
            ["cursor": "\(cursor)", "snapshot_sequence": "\(snapshot.lastSequence)", "facts": "\(snapshot.entries.count)"])
        var start = 0
        while start < snapshot.entries.count {
            let end = min(start + options.batchRecordsMax, snapshot.entries.count)
            var batch = ShipBatch(hostID: options.hostID)
            batch.settlesLeases = options.settlesLeases
            for entry in snapshot.entries[start..<end] { batch.add(try FactCodec.decode(entry)) }
            let last = end == snapshot.entries.count
            if last {
                try write(batch, through: snapshot.lastSequence, connection)
            } else {
                _ = try connection.pipeline(batch.statements(shippedThrough: nil))
                status.withLock { $0.rowsShipped += UInt64(batch.rowCount) }
            }
            start = end
        }
        if snapshot.entries.isEmpty { try write(ShipBatch(hostID: options.hostID), through: snapshot.lastSequence, connection) }
        return snapshot.lastSequence
    }

    /// The last sequence that can be shipped: only records that survive a crash (fdatasync'd),
    /// so PostgreSQL never holds a record the log could lose and then reuse the number of.
    private func shippableSequence() -> UInt64 {
        log.policy == .never ? log.durableSequence : log.syncedSequence
    }

    private func checkBacklog(cursor: UInt64, tail: LogTail) {
        guard let sizes = try? tail.segmentSizes() else { return }
        var bytes = 0
        for (index, segment) in sizes.enumerated() {
            let lastInSegment = index + 1 < sizes.count ? sizes[index + 1].firstSequence - 1 : UInt64.max
            if lastInSegment > cursor { bytes += segment.bytes }
        }
        let over = bytes > options.backlogBytesMax
        let crossed = status.withLock { status -> Bool in
            defer {
                status.backlogBytes = bytes
                status.backlogOverLimit = over
            }
            return over && !status.backlogOverLimit
        }
        if crossed {
            logger.warning(
                "the PostgreSQL ship backlog is over --ship-backlog-bytes-max; usage is still accepted, the log grows",
                ["backlog_bytes": "\(bytes)", "limit_bytes": "\(options.backlogBytesMax)"])
        }
    }

    private func record(_ error: any Error) {
        let message = "\(error)"
        let first = status.withLock { status -> Bool in
            let first = status.lastError != message
            status.connected = false
            status.lastError = message
            status.lastErrorAtUnixMs = UnixMillis(Date().timeIntervalSince1970 * 1000)
            status.errors += 1
            return first
        }
        if first { logger.warning("shipping to PostgreSQL failed; retrying with backoff", ["error": message]) }
    }

    private func sleep(milliseconds: Int) {
        loop.sleep(milliseconds: milliseconds)
    }
}

// MARK: - Metrics

extension Shipper {
    /// The shipper's samples in Prometheus text format, appended to GetMetrics' text (and read
    /// back by `tokengate ship status`).
    func exposition() -> String {
        let status = currentStatus
        var writer = ExpositionWriter()
        let host: KeyValuePairs<String, String> = ["host_id": options.hostID]
        writer.family("tokengate_ship_connected", "gauge", "1 while the shipper holds a working PostgreSQL connection.")
        writer.sample("tokengate_ship_connected", host, status.connected ? 1 : 0)
        writer.family("tokengate_ship_cursor_sequence", "gauge", "The last log sequence PostgreSQL holds (the cursor).")
        writer.sample("tokengate_ship_cursor_sequence", host, status.cursor ?? 0)
        writer.family("tokengate_ship_durable_sequence", "gauge", "The last log sequence that may be shipped (durable).")
        writer.sample("tokengate_ship_durable_sequence", host, status.durableSequence)
        writer.family("tokengate_ship_lag_records", "gauge", "Log records not yet in PostgreSQL.")
        writer.sample("tokengate_ship_lag_records", host, status.lagRecords)
        writer.family("tokengate_ship_lag_seconds", "gauge", "Seconds since PostgreSQL last held every durable record.")
        let lagMs = status.lagRecords == 0 ? 0 : max(0, MonotonicClock.milliseconds() - status.caughtUpAtMs)
        writer.sample("tokengate_ship_lag_seconds", host, String(format: "%.3f", Double(lagMs) / 1000))
        writer.family("tokengate_ship_rows_total", "counter", "Rows written to PostgreSQL (already present ones included).")
        writer.sample("tokengate_ship_rows_total", host, status.rowsShipped)
        writer.family("tokengate_ship_rows_per_second", "gauge", "Rows per second of recent batches.")
        writer.sample("tokengate_ship_rows_per_second", host, String(format: "%.0f", status.rowsPerSecond))
        writer.family("tokengate_ship_errors_total", "counter", "Failed connections and batches (each retried with backoff).")
        writer.sample("tokengate_ship_errors_total", host, status.errors)
        writer.family(
            "tokengate_ship_copy_retries_total", "counter",
            "Batches whose COPY met a row already in PostgreSQL (a re-ship), rolled back and sent again by INSERT.")
        writer.sample("tokengate_ship_copy_retries_total", host, status.copyRetries)
        writer.family("tokengate_ship_backlog_bytes", "gauge", "Bytes of log segments kept for shipping.")
        writer.sample("tokengate_ship_backlog_bytes", host, UInt64(status.backlogBytes))
        writer.family(
            "tokengate_ship_backlog_over_limit", "gauge", "1 while the backlog exceeds --ship-backlog-bytes-max (the alert).")
        writer.sample("tokengate_ship_backlog_over_limit", host, status.backlogOverLimit ? 1 : 0)
        writer.family("tokengate_ship_schema_version", "gauge", "The PostgreSQL schema's migration version.")
        writer.sample("tokengate_ship_schema_version", host, UInt64(status.schemaVersion))
        if let error = status.lastError {
            writer.family("tokengate_ship_last_error_info", "gauge", "The last shipping error (cleared by the next good batch).")
            writer.sample(
                "tokengate_ship_last_error_info", ["host_id": options.hostID, "error": error], String(status.lastErrorAtUnixMs))
        }
        return writer.text
    }
}
