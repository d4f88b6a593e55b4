// Fleet configuration (DESIGN §8, issue 20 item 6): every run-time configuration change made
// through any daemon in fleet mode is one row of an append-only table, numbered by a counter that
// the publishing transaction holds locked until it commits, so the numbers have no gaps and the
// order of the numbers is the order of the commits. Every daemon applies the rows in that order,
// exactly once. The same transaction keeps readable tables of the settings in force (limits,
// rate limits, shadow mode, unknown-shop policy, optimization rules; tiers, prices and tier
// assignments land in the tables the shipper already writes) and sends a NOTIFY, which PostgreSQL
// delivers at commit.

import TokenGateCore

/// One published change as the daemons read it back.
public struct PublishedConfigChange: Sendable, Equatable {
    /// The fleet-wide sequence number (1, 2, ...; no gaps).
    public var sequence: Int64
    /// The change as the write-ahead log stores it (storage.proto), to decode and apply.
    public var record: [UInt8]
    /// Milliseconds from the commit (PostgreSQL's clock) to this read (the same clock).
    public var ageMs: Int64

    public init(sequence: Int64, record: [UInt8], ageMs: Int64) {
        self.sequence = sequence
        self.record = record
        self.ageMs = ageMs
    }
}

/// The SQL of fleet configuration and the functions that run it.
public enum ConfigStatements {
    /// The NOTIFY channel; the payload is the change's sequence number.
    public static let channel = "tokengate_config"

    /// Migration 5.
    static let migration = """
        -- The counter of published changes, one row. A publishing transaction increments it first
        -- and holds its row lock until it commits, so sequence numbers have no gaps and commit in order.
        CREATE TABLE tokengate_config_head (
          id boolean PRIMARY KEY DEFAULT true CHECK (id),
          last_seq bigint NOT NULL
        );
        INSERT INTO tokengate_config_head (id, last_seq) VALUES (true, 0);

        -- Every run-time configuration change made through a daemon in fleet mode, append only.
        CREATE TABLE tokengate_config_changes (
          change_seq bigint PRIMARY KEY,
          kind text NOT NULL,
          setting text NOT NULL,
          shop_id text,
          details jsonb NOT NULL,
          record bytea NOT NULL,
          host_id text NOT NULL,
          created_at timestamptz NOT NULL,
          created_at_unix_ms bigint NOT NULL
        );
        CREATE INDEX tokengate_config_changes_setting ON tokengate_config_changes (setting, change_seq);

        -- How far each daemon has applied the changes (for `tokengate fleet status`).
        CREATE TABLE tokengate_config_hosts (
          host_id text PRIMARY KEY,
          applied_seq bigint NOT NULL,
          applied_at timestamptz NOT NULL DEFAULT now()
        );

        -- The settings in force that were set at run time (a setting without a row is each
        -- daemon's config file or embedded default). shop_id '' = every shop.
        CREATE TABLE tokengate_operation_limits (
          shop_id text NOT NULL,
          operation_type text NOT NULL,
          max_input_tokens_per_message numeric(20, 0) NOT NULL,
          max_output_tokens_per_message numeric(20, 0) NOT NULL,
          max_total_tokens_per_message numeric(20, 0) NOT NULL,
          daily_cost_cap numeric(20, 9) NOT NULL,
          daily_cost_cap_nano_usd bigint NOT NULL,
          monthly_cost_cap numeric(20, 9) NOT NULL,
          monthly_cost_cap_nano_usd bigint NOT NULL,
          alert_threshold_percent integer NOT NULL,
          change_seq bigint NOT NULL,
          host_id text NOT NULL,
          updated_at timestamptz NOT NULL DEFAULT now(),
          PRIMARY KEY (shop_id, operation_type)
        );
        -- A tier's (shop_id '') or a shop's (tier_name '') rate limit; 0 = no limit.
        CREATE TABLE tokengate_rate_limits (
          tier_name text NOT NULL,
          shop_id text NOT NULL,
          requests_per_minute bigint NOT NULL,
          tokens_per_minute numeric(20, 0) NOT NULL,
          change_seq bigint NOT NULL,
          host_id text NOT NULL,
          updated_at timestamptz NOT NULL DEFAULT now(),
          PRIMARY KEY (tier_name, shop_id)
        );
        CREATE TABLE tokengate_shadow_mode (
          shop_id text PRIMARY KEY,
          enabled boolean NOT NULL,
          change_seq bigint NOT NULL,
          host_id text NOT NULL,
          updated_at timestamptz NOT NULL DEFAULT now()
        );
        -- unknown_shop_policy ("default_tier" or "deny") and optimization_rules.
        CREATE TABLE tokengate_fleet_settings (
          setting text PRIMARY KEY,
          value jsonb NOT NULL,
          change_seq bigint NOT NULL,
          host_id text NOT NULL,
          updated_at timestamptz NOT NULL DEFAULT now()
        );
        """

    /// Takes the next sequence number. Locks the counter's one row until COMMIT, which
    /// serializes publishers (and so orders their commits by number).
    static let nextSequence = "UPDATE tokengate_config_head SET last_seq = last_seq + 1 RETURNING last_seq"

    /// The change row ($1 kind, $2 setting, $3 shop or NULL, $4 details, $5 record as hex, $6 host).
    /// Inserts a new key only (append only); the counter's lock is already held.
    static let insertChange = """
        INSERT INTO tokengate_config_changes (
          change_seq, kind, setting, shop_id, details, record, host_id, created_at, created_at_unix_ms)
        SELECT last_seq, $1, $2, $3, $4::jsonb, decode($5, 'hex'), $6, clock_timestamp(),
               (extract(epoch FROM clock_timestamp()) * 1000)::bigint
        FROM tokengate_config_head
        """

    /// Queued with the transaction; PostgreSQL delivers it to the listeners at COMMIT.
    static let notify = "SELECT pg_notify('\(channel)', last_seq::text) FROM tokengate_config_head"

    /// The sequence of this transaction's change, for the readable tables.
    static let currentSequence = "(SELECT last_seq FROM tokengate_config_head)"

    /// Changes after $1, oldest first, with their age by PostgreSQL's clock. Locks nothing (a
    /// primary-key range scan, empty when nothing changed).
    static let changesAfter = """
        SELECT change_seq, encode(record, 'hex'),
               (extract(epoch FROM clock_timestamp()) * 1000)::bigint - created_at_unix_ms
        FROM tokengate_config_changes WHERE change_seq > $1::bigint ORDER BY change_seq LIMIT 500
        """

    /// A host's progress ($1 host, $2 sequence), never backwards. Locks the host's row.
    static let reportApplied = """
        INSERT INTO tokengate_config_hosts (host_id, applied_seq, applied_at) VALUES ($1, $2::bigint, now())
        ON CONFLICT (host_id) DO UPDATE
        SET applied_seq = GREATEST(tokengate_config_hosts.applied_seq, EXCLUDED.applied_seq), applied_at = now()
        """

    // MARK: - Running them

    /// Opens a publishing transaction and takes the next sequence number (one round trip). The
    /// counter's row stays locked until `commitPublish` or `abortPublish`: every change below the
    /// number is committed, and no other daemon can publish, so the caller can catch up through
    /// number - 1 and check its change against exactly the configuration it will apply over.
    public static func beginPublish(_ connection: PostgresConnection) throws(PostgresError) -> Int64 {
        let results: [PostgresRows]
        do {
            results = try connection.pipeline([
                // A publisher that hangs holding the counter (a stopped process) holds it at most
                // this long; one waiting for it gives up after 5 s instead of hanging its setter.
                PostgresStatement("BEGIN"), PostgresStatement("SET LOCAL lock_timeout = '5s'"),
                PostgresStatement("SET LOCAL idle_in_transaction_session_timeout = '10s'"), PostgresStatement(nextSequence),
            ])
        } catch {
            try? abortPublish(connection)
            throw error
        }
        guard let text = results[3].scalar, let sequence = Int64(text) else {
            try? abortPublish(connection)
            throw PostgresError(.protocolViolation, "the configuration counter answered \(results[3].rows)")
        }
        return sequence
    }

    /// Writes the change under the number `beginPublish` took, the readable rows and the
    /// NOTIFY, and commits (one round trip). `record` is the change as the log stores it.
    public static func commitPublish(_ fact: Fact, record: [UInt8], hostID: String, connection: PostgresConnection) throws(PostgresError) {
        let described = ConfigChangeRows.describe(fact, hostID: hostID)
        var statements = [
            PostgresStatement(insertChange, [described.kind, described.setting, described.shopID, described.details, hex(record), hostID])
        ]
        statements += described.readable
        statements += [PostgresStatement(notify), PostgresStatement("COMMIT")]
        do {
            _ = try connection.pipeline(statements)
        } catch {
            try? abortPublish(connection)
            throw error
        }
    }

    /// Rolls the publishing transaction back (the number is given out again).
    public static func abortPublish(_ connection: PostgresConnection) throws(PostgresError) {
        try connection.execute("ROLLBACK")
    }

    /// Publishes one change in one transaction without a check in between (tests and tools).
    public static func publish(_ fact: Fact, record: [UInt8], hostID: String, connection: PostgresConnection) throws(PostgresError)
        -> Int64
    {
        let sequence = try beginPublish(connection)
        try commitPublish(fact, record: record, hostID: hostID, connection: connection)
        return sequence
    }

    /// The changes after `sequence`, oldest first (at most 500).
    public static func changes(after sequence: Int64, connection: PostgresConnection) throws(PostgresError) -> [PublishedConfigChange] {
        try connection.query(changesAfter, [String(sequence)]).rows.map { row throws(PostgresError) in
            guard row.count == 3, let number = row[0].flatMap({ Int64($0) }), let hexText = row[1], let record = bytes(hex: hexText)
            else { throw PostgresError(.protocolViolation, "a configuration change row is malformed: \(row)") }
            return PublishedConfigChange(sequence: number, record: record, ageMs: row[2].flatMap { Int64($0) } ?? 0)
        }
    }

    /// Records that `hostID` has applied every change through `sequence`.
    public static func reportApplied(_ sequence: Int64, hostID: String, connection: PostgresConnection) throws(PostgresError) {
        try connection.query(reportApplied, [hostID, String(sequence)])
    }

    /// The last published sequence and each host's applied sequence (`tokengate fleet status`).
    public static func status(connection: PostgresConnection) throws(PostgresError) -> (head: Int64, hosts: [(String, Int64, String)]) {
        let head = Int64(try connection.query("SELECT last_seq FROM tokengate_config_head").scalar ?? "0") ?? 0
        let hosts = try connection.query(
            "SELECT host_id, applied_seq, to_char(applied_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') "
                + "FROM tokengate_config_hosts ORDER BY host_id"
        ).rows.map { ($0[0] ?? "", Int64($0[1] ?? "") ?? 0, $0[2] ?? "") }
        return (head, hosts)
    }

    static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count * 2)
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0xF)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    static func bytes(hex: String) -> [UInt8]? {
        let text = Array(hex.utf8)
        guard text.count % 2 == 0 else { return nil }
        func nibble(_ c: UInt8) -> UInt8? {
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
            default: nil
            }
        }
        var out: [UInt8] = []
        out.reserveCapacity(text.count / 2)
        var index = 0
        while index < text.count {
            guard let high = nibble(text[index]), let low = nibble(text[index + 1]) else { return nil }
            out.append(high << 4 | low)
            index += 2
        }
        return out
    }
}
