// The one place that calls libpq. A `PostgresConnection` wraps a `PGconn` owned by this object
// (created in `init`, freed by `PQfinish` in `deinit`); every `PGresult` is read into Swift values
// and cleared in the same function that received it, so no C pointer leaves this file. Parameters
// are passed as text: their C strings are copied with `strdup` for the duration of the send call
// and freed before it returns.
//
// A connection is used by one thread at a time (the shipper's, or a test's); it is not Sendable.

import CLibPQ
import Glibc

/// An error from PostgreSQL or from libpq, as a Swift value.
public struct PostgresError: Error, CustomStringConvertible, Sendable {
    /// What failed.
    public enum Kind: Sendable {
        /// The connection could not be made or was lost.
        case connection
        /// The server refused a statement (see `sqlState`).
        case statement
        /// The schema is newer than this daemon knows (see `Migrations`).
        case schemaTooNew
        /// libpq misbehaved or returned something unexpected.
        case protocolViolation
    }

    public var kind: Kind
    public var message: String
    /// The five-character SQLSTATE, when the server sent one.
    public var sqlState: String?

    public init(_ kind: Kind, _ message: String, sqlState: String? = nil) {
        self.kind = kind
        self.message = message
        self.sqlState = sqlState
    }

    public var description: String {
        sqlState.map { "\(message) (SQLSTATE \($0))" } ?? message
    }
}

/// The rows of one statement's result, as text (NULL as nil), and the rows it affected.
public struct PostgresRows: Sendable {
    public var columns: [String] = []
    public var rows: [[String?]] = []
    /// `PQcmdTuples`: rows inserted, updated or deleted (0 for other statements).
    public var affected: Int = 0

    /// The first column of the first row.
    public var scalar: String? { rows.first?.first ?? nil }
}

/// One statement with its text parameters, for `pipeline`.
public struct PostgresStatement: Sendable {
    public var sql: String
    public var parameters: [String?]

    public init(_ sql: String, _ parameters: [String?] = []) {
        self.sql = sql
        self.parameters = parameters
    }
}

/// A blocking libpq connection.
public final class PostgresConnection {
    /// The libpq connection (internal: PostgresConnection+Notify.swift reads notifications on it).
    let connection: OpaquePointer

    /// Connects with a libpq connection string or URI.
    /// - Throws: `.connection` with libpq's message.
    public init(conninfo: String) throws(PostgresError) {
        guard let connection = PQconnectdb(conninfo) else {
            throw PostgresError(.connection, "libpq could not allocate a connection")
        }
        guard PQstatus(connection) == CONNECTION_OK else {
            let message = Self.trimmed(PQerrorMessage(connection))
            PQfinish(connection)
            throw PostgresError(.connection, "cannot connect to PostgreSQL: \(message)")
        }
        self.connection = connection
        // libpq prints server notices on stderr; the daemon's log is the place for what matters.
        try execute("SET client_min_messages = warning")
    }

    deinit {
        PQfinish(connection)
    }

    /// False once libpq has seen the connection break.
    public var isHealthy: Bool { PQstatus(connection) == CONNECTION_OK }

    /// Runs `sql` (one or more statements, no parameters) and returns the last result.
    @discardableResult
    public func execute(_ sql: String) throws(PostgresError) -> PostgresRows {
        guard PQsendQuery(connection, sql) == 1 else { throw connectionError() }
        var last = PostgresRows()
        var failure: PostgresError?
        while let result = PQgetResult(connection) {
            defer { PQclear(result) }
            switch read(result) {
            case .success(let rows): last = rows
            case .failure(let error): failure = failure ?? error
            }
        }
        if let failure { throw failure }
        return last
    }

    /// Runs one statement with text parameters ($1, $2, ...).
    @discardableResult
    public func query(_ sql: String, _ parameters: [String?] = []) throws(PostgresError) -> PostgresRows {
        guard send(PostgresStatement(sql, parameters)) else { throw connectionError() }
        var outcome: Result<PostgresRows, PostgresError> = .success(PostgresRows())
        while let result = PQgetResult(connection) {
            defer { PQclear(result) }
            let read = read(result)
            if case .success = outcome { outcome = read }
        }
        return try outcome.get()
    }

    /// Sends every statement in libpq's pipeline mode, then one sync, and reads all results:
    /// one round trip for the lot. Returns each statement's rows; throws the first error (the
    /// server aborts the rest of the pipeline up to the sync, so wrap writes in BEGIN/COMMIT
    /// statements of the same pipeline to make them all or nothing).
    public func pipeline(_ statements: [PostgresStatement]) throws(PostgresError) -> [PostgresRows] {
        try sendPipelined(statements)
        let results = try readPipelined(statementCount: statements.count)
        endPipelineMode()
        return results
    }

    /// Sends `statements` and a sync in pipeline mode (entered if needed) without reading any
    /// result, so the caller can prepare the next group while the server runs this one. Read
    /// each group's results with `readPipelined`, in the order the groups were sent.
    public func sendPipelined(_ statements: [PostgresStatement]) throws(PostgresError) {
        if PQpipelineStatus(connection) == PQ_PIPELINE_OFF {
            guard PQenterPipelineMode(connection) == 1 else { throw connectionError() }
        }
        for statement in statements {
            guard send(statement) else { throw connectionError() }
        }
        guard PQpipelineSync(connection) == 1 else { throw connectionError() }
    }

    /// Reads the results of the oldest group sent with `sendPipelined` (`statementCount`
    /// statements and their sync).
    public func readPipelined(statementCount: Int) throws(PostgresError) -> [PostgresRows] {
        var results: [PostgresRows] = []
        var failure: PostgresError?
        for _ in 0..<statementCount {
            var rows = PostgresRows()
            while let result = PQgetResult(connection) {
                defer { PQclear(result) }
                if PQresultStatus(result) == PGRES_PIPELINE_ABORTED { continue }
                switch read(result) {
                case .success(let read): rows = read
                case .failure(let error): failure = failure ?? error
                }
            }
            results.append(rows)
        }
        // The sync's own result.
        guard let sync = PQgetResult(connection) else { throw connectionError() }
        let syncStatus = PQresultStatus(sync)
        PQclear(sync)
        guard syncStatus == PGRES_PIPELINE_SYNC else {
            throw failure ?? PostgresError(.protocolViolation, "pipeline ended without its sync (status \(syncStatus.rawValue))")
        }
        if let failure { throw failure }
        return results
    }

    /// Leaves pipeline mode once every group sent has been read (a no-op otherwise).
    public func endPipelineMode() {
        _ = PQexitPipelineMode(connection)
    }

    /// Runs `COPY ... FROM STDIN` with `sql`, sending each chunk of COPY text data, and returns
    /// the rows copied.
    public func copyIn(_ sql: String, chunks: [[UInt8]]) throws(PostgresError) -> Int {
        try beginCopyIn(sql)
        for chunk in chunks { try putCopyData(chunk) }
        return try endCopyIn()
    }

    /// Starts `COPY ... FROM STDIN` (`sql`); send the data with `putCopyData` and finish with
    /// `endCopyIn`. Not in pipeline mode (libpq has no COPY there). On a thrown error the
    /// connection is not in COPY mode.
    public func beginCopyIn(_ sql: String) throws(PostgresError) {
        guard let start = PQexec(connection, sql) else { throw connectionError() }
        let status = PQresultStatus(start)
        if status != PGRES_COPY_IN {
            defer { PQclear(start) }
            if case .failure(let error) = read(start) { throw error }
            throw PostgresError(.protocolViolation, "\(sql) did not start a COPY")
        }
        PQclear(start)
    }

    /// Sends one chunk of COPY data (any split: rows may straddle chunks). Blocks only while
    /// the socket is full, so the server works on earlier chunks while the caller makes the
    /// next one.
    public func putCopyData(_ chunk: [UInt8]) throws(PostgresError) {
        guard !chunk.isEmpty else { return }
        let sent = chunk.withUnsafeBufferPointer { buffer in
            buffer.baseAddress!.withMemoryRebound(to: CChar.self, capacity: buffer.count) {
                PQputCopyData(connection, $0, Int32(buffer.count))
            }
        }
        guard sent == 1 else { throw connectionError() }
    }

    /// Ends the COPY started by `beginCopyIn` and returns the rows copied, or throws the
    /// server's error (a failed COPY aborts the transaction it ran in).
    public func endCopyIn() throws(PostgresError) -> Int {
        guard PQputCopyEnd(connection, nil) == 1 else { throw connectionError() }
        var outcome: Result<PostgresRows, PostgresError> = .success(PostgresRows())
        while let result = PQgetResult(connection) {
            defer { PQclear(result) }
            let read = read(result)
            if case .success = outcome { outcome = read }
        }
        return try outcome.get().affected
    }

    /// Ends the COPY started by `beginCopyIn` as failed (`reason` in the server's error), which
    /// aborts its transaction; the caller then rolls back.
    public func abandonCopyIn(_ reason: String) {
        guard PQputCopyEnd(connection, reason) == 1 else { return }
        while let result = PQgetResult(connection) { PQclear(result) }
    }

    // MARK: - Fenced helpers

    /// Sends one statement with text parameters; false when libpq refused to send.
    private func send(_ statement: PostgresStatement) -> Bool {
        let values: [UnsafeMutablePointer<CChar>?] = statement.parameters.map { value in value.flatMap { strdup($0) } }
        defer { for value in values { free(value) } }
        return values.withUnsafeBufferPointer { buffer in
            buffer.withMemoryRebound(to: UnsafePointer<CChar>?.self) { constValues in
                PQsendQueryParams(
                    connection, statement.sql, Int32(values.count), nil, constValues.baseAddress, nil, nil, 0) == 1
            }
        }
    }

    /// Copies a result into Swift values, or its error.
    private func read(_ result: OpaquePointer) -> Result<PostgresRows, PostgresError> {
        let status = PQresultStatus(result)
        switch status {
        case PGRES_TUPLES_OK, PGRES_COMMAND_OK, PGRES_EMPTY_QUERY, PGRES_COPY_IN:
            var rows = PostgresRows()
            let columnCount = PQnfields(result)
            let rowCount = PQntuples(result)
            rows.columns = (0..<columnCount).map { String(cString: PQfname(result, $0)) }
            rows.rows.reserveCapacity(Int(rowCount))
            for row in 0..<rowCount {
                rows.rows.append(
                    (0..<columnCount).map { column in
                        PQgetisnull(result, row, column) == 1 ? nil : String(cString: PQgetvalue(result, row, column))
                    })
            }
            rows.affected = Int(String(cString: PQcmdTuples(result))) ?? 0
            return .success(rows)
        default:
            let message = Self.trimmed(PQresultErrorMessage(result))
            let state = PQresultErrorField(result, Int32(UInt8(ascii: "C"))).map { String(cString: $0) }
            let kind: PostgresError.Kind = PQstatus(connection) == CONNECTION_OK ? .statement : .connection
            return .failure(PostgresError(kind, message.isEmpty ? "statement failed (status \(status.rawValue))" : message, sqlState: state))
        }
    }

    func connectionError() -> PostgresError {
        PostgresError(.connection, "PostgreSQL connection: " + Self.trimmed(PQerrorMessage(connection)))
    }

    static func trimmed(_ message: UnsafePointer<CChar>?) -> String {
        guard let message else { return "" }
        var text = String(cString: message)
        while text.last == "\n" || text.last == " " { text.removeLast() }
        return text
    }
}
