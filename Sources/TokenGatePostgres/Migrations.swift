// The PostgreSQL schema (DESIGN §8) as numbered, append-only migrations, recorded in a table of
// their own. Never edit a migration that has shipped: add the next number. The seed's table and
// column names are kept (`token_usage_logs`, `billing_records`, `pricing_tiers`, `usage_alerts`)
// so the seed's SQL runs unchanged; every numeric USD column has a nano-USD bigint beside it, and
// the numeric one is derived from it in SQL (never from a floating-point value).

/// One schema step.
public struct Migration: Sendable {
    public var version: Int
    public var name: String
    public var sql: String

    public init(version: Int, name: String, sql: String) {
        self.version = version
        self.name = name
        self.sql = sql
    }
}

/// The schema's migrations and the function that applies them.
public enum Migrations {
    /// Every migration this daemon knows, in order. Append only.
    public static let all: [Migration] = [
        Migration(version: 1, name: "seed tables, ship cursor", sql: seedTables),
        Migration(version: 2, name: "price versions, tier assignments, month aggregates, get_high_cost_shops", sql: projectTables),
        // Budgets across hosts (issue 20): LeaseStatements.swift.
        Migration(version: 3, name: "budget pools and host leases", sql: LeaseStatements.migration),
        Migration(version: 4, name: "void billing records beside reissues, tier assignment and tier terms history", sql: versionedBilling),
        // Fleet configuration (issue 20, item 6): ConfigStatements.swift.
        Migration(version: 5, name: "fleet configuration changes and the settings in force", sql: ConfigStatements.migration),
        // Budgets across hosts, expiry (issue 20 item 4): LeaseStatements.swift.
        Migration(version: 6, name: "lease reclaims of expired leases", sql: LeaseStatements.reclaimMigration),
        Migration(version: 7, name: "token_usage_logs: created_at as BRIN, no (shop_id, billing_period) index", sql: leanerUsageIndexes),
        // The outage allowance used, kept across restarts (issue 20 item 5): LeaseStatements.swift.
        Migration(version: 8, name: "outage allowance used per lease", sql: LeaseStatements.outageMigration),
    ]

    /// The newest schema version this daemon knows.
    public static var latestVersion: Int { all.last!.version }

    /// Serializes migrations of daemons sharing one database (an arbitrary constant key).
    static let advisoryLockKey = "7301946021"

    /// Brings the schema up to `target` (default: the latest), each migration of `migrations`
    /// not yet recorded (even one numbered below the highest applied) in a transaction of its
    /// own under an advisory lock, and returns the highest version found before and after.
    /// - Throws: `.schemaTooNew` when the database has a migration this daemon does not know
    ///   (a newer daemon migrated it): the daemon must not write to a schema it does not understand.
    @discardableResult
    public static func migrate(
        _ connection: PostgresConnection, upTo target: Int = latestVersion, using migrations: [Migration] = all
    ) throws(PostgresError) -> (
        from: Int, to: Int
    ) {
        try connection.execute(
            """
            CREATE TABLE IF NOT EXISTS tokengate_schema_migrations (
              version integer PRIMARY KEY,
              name text NOT NULL,
              applied_at timestamptz NOT NULL DEFAULT now()
            )
            """)
        let found = try currentVersion(connection)
        let applied = try appliedVersions(connection)
        let latestVersion = migrations.map(\.version).max() ?? 0
        guard found <= latestVersion else {
            throw PostgresError(
                .schemaTooNew,
                "the PostgreSQL schema is at version \(found) but this tokengated knows versions up to \(latestVersion): "
                    + "a newer tokengated migrated it; run that version (or newer), never an older one, against this database")
        }
        var version = found
        // Every known version not yet recorded, not only those above the highest: migrations
        // numbered on parallel branches may arrive after a higher one was applied.
        for migration in migrations where !applied.contains(migration.version) && migration.version <= target {
            try connection.execute("BEGIN")
            do {
                try connection.query("SELECT pg_advisory_xact_lock($1::bigint)", [advisoryLockKey])
                // Another daemon may have applied it while we waited for the lock.
                if try !appliedVersions(connection).contains(migration.version) {
                    try connection.execute(migration.sql)
                    try connection.query(
                        "INSERT INTO tokengate_schema_migrations (version, name) VALUES ($1::integer, $2)",
                        [String(migration.version), migration.name])
                }
                try connection.execute("COMMIT")
            } catch {
                _ = try? connection.execute("ROLLBACK")
                throw error
            }
            version = max(version, migration.version)
        }
        return (found, version)
    }

    /// The highest applied migration (0 for an empty database).
    public static func currentVersion(_ connection: PostgresConnection) throws(PostgresError) -> Int {
        let rows = try connection.query("SELECT coalesce(max(version), 0) FROM tokengate_schema_migrations")
        return Int(rows.scalar ?? "0") ?? 0
    }

    /// Every applied migration's version.
    static func appliedVersions(_ connection: PostgresConnection) throws(PostgresError) -> Set<Int> {
        let rows = try connection.query("SELECT version FROM tokengate_schema_migrations")
        return Set(rows.rows.compactMap { $0.first.flatMap { $0 }.flatMap { Int($0) } })
    }

    // MARK: - 1: the seed's tables and the ship cursor

    static let seedTables = """
        CREATE TABLE token_usage_logs (
          event_id text PRIMARY KEY,
          shop_id text NOT NULL,
          user_id text NOT NULL,
          conversation_id text NOT NULL,
          operation_type text NOT NULL,
          model_name text NOT NULL,
          input_tokens numeric(20, 0) NOT NULL,
          output_tokens numeric(20, 0) NOT NULL,
          cached_input_tokens numeric(20, 0) NOT NULL,
          total_tokens numeric(20, 0) NOT NULL,
          total_cost numeric(20, 9) NOT NULL,
          total_cost_nano_usd bigint NOT NULL,
          metadata jsonb NOT NULL DEFAULT '{}',
          created_at timestamptz NOT NULL,
          recorded_at timestamptz NOT NULL,
          billing_period text NOT NULL,
          host_id text NOT NULL
        );
        -- The seed's monthly summary groups by month of created_at; its high-cost query scans the last 24 hours.
        CREATE INDEX token_usage_logs_created_at ON token_usage_logs (created_at);
        CREATE INDEX token_usage_logs_shop_created_at ON token_usage_logs (shop_id, created_at);
        CREATE INDEX token_usage_logs_shop_period ON token_usage_logs (shop_id, billing_period);

        CREATE TABLE billing_records (
          id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
          shop_id text NOT NULL,
          billing_period date NOT NULL,
          tier_name text NOT NULL,
          messages_used bigint NOT NULL,
          tokens_used numeric(20, 0) NOT NULL,
          api_cost numeric(20, 9) NOT NULL,
          api_cost_nano_usd bigint NOT NULL,
          base_charge numeric(20, 9) NOT NULL,
          base_charge_nano_usd bigint NOT NULL,
          overage_charge numeric(20, 9) NOT NULL,
          overage_charge_nano_usd bigint NOT NULL,
          total_charge numeric(20, 9) NOT NULL,
          total_charge_nano_usd bigint NOT NULL,
          paid boolean NOT NULL DEFAULT false,
          paid_at timestamptz,
          created_at timestamptz NOT NULL,
          host_id text NOT NULL,
          UNIQUE (shop_id, billing_period)
        );
        CREATE INDEX idx_billing_shop_period ON billing_records (shop_id, billing_period);

        CREATE TABLE pricing_tiers (
          id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
          tier_name text NOT NULL UNIQUE,
          monthly_fee numeric(20, 9) NOT NULL,
          monthly_fee_nano_usd bigint NOT NULL,
          included_messages bigint,
          overage_rate numeric(20, 9) NOT NULL,
          overage_rate_nano_usd bigint NOT NULL,
          max_monthly_spend numeric(20, 9),
          max_monthly_spend_nano_usd bigint,
          self_serve boolean NOT NULL,
          created_at timestamptz NOT NULL DEFAULT now(),
          updated_at timestamptz NOT NULL DEFAULT now()
        );

        CREATE TABLE usage_alerts (
          id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
          shop_id text NOT NULL,
          alert_type text NOT NULL,
          period text NOT NULL,
          threshold numeric(20, 9) NOT NULL,
          threshold_nano_usd bigint NOT NULL,
          actual_cost numeric(20, 9) NOT NULL,
          actual_cost_nano_usd bigint NOT NULL,
          message text NOT NULL,
          created_at timestamptz NOT NULL,
          host_id text NOT NULL,
          UNIQUE (shop_id, alert_type, period)
        );
        CREATE INDEX usage_alerts_created_at ON usage_alerts (created_at);

        -- How far each host's write-ahead log has been shipped; moved in the transaction of the rows.
        CREATE TABLE tokengate_ship_cursor (
          host_id text PRIMARY KEY,
          shipped_through bigint NOT NULL,
          updated_at timestamptz NOT NULL DEFAULT now()
        );
        """

    // MARK: - 2: the project's own tables, and the seed's alert function

    static let projectTables = """
        CREATE TABLE tokengate_price_versions (
          model_name text NOT NULL,
          is_fallback boolean NOT NULL,
          effective_from timestamptz NOT NULL,
          effective_from_unix_ms bigint NOT NULL,
          input_per_million_nano_usd bigint NOT NULL,
          output_per_million_nano_usd bigint NOT NULL,
          cached_input_per_million_nano_usd bigint NOT NULL,
          input_price_per_million numeric(20, 9) NOT NULL,
          output_price_per_million numeric(20, 9) NOT NULL,
          prompt_tiers jsonb NOT NULL DEFAULT '[]',
          source text NOT NULL,
          host_id text NOT NULL,
          PRIMARY KEY (model_name, is_fallback, effective_from_unix_ms)
        );

        CREATE TABLE tokengate_tier_assignments (
          shop_id text PRIMARY KEY,
          tier_name text NOT NULL,
          host_id text NOT NULL,
          updated_at timestamptz NOT NULL DEFAULT now()
        );

        -- Totals of months whose raw events retention dropped before they could be shipped.
        CREATE TABLE tokengate_month_aggregates (
          shop_id text NOT NULL,
          billing_period text NOT NULL,
          messages bigint NOT NULL,
          input_tokens numeric(20, 0) NOT NULL,
          output_tokens numeric(20, 0) NOT NULL,
          cached_input_tokens numeric(20, 0) NOT NULL,
          total_cost numeric(20, 9) NOT NULL,
          total_cost_nano_usd bigint NOT NULL,
          host_id text NOT NULL,
          PRIMARY KEY (shop_id, billing_period)
        );

        -- The seed's alert job calls get_high_cost_shops(cost_threshold): shops whose cost over
        -- the last 24 hours is above the threshold (USD), as the seed's high-cost query computes
        -- them. `id` is the shop id (the seed joins it to its shops table for name and e-mail).
        CREATE FUNCTION get_high_cost_shops(cost_threshold numeric)
        RETURNS TABLE (
          id text, shop_id text, messages_today bigint, tokens_today numeric, cost_today numeric,
          cost_today_nano_usd numeric, projected_monthly_cost numeric
        )
        LANGUAGE sql STABLE AS $$
          SELECT t.shop_id, t.shop_id, COUNT(*), SUM(t.total_tokens), SUM(t.total_cost),
                 SUM(t.total_cost_nano_usd), ROUND(SUM(t.total_cost) * 30::numeric, 2)
          FROM token_usage_logs t
          WHERE t.created_at > NOW() - INTERVAL '24 hours'
          GROUP BY t.shop_id
          HAVING SUM(t.total_cost) > cost_threshold
          ORDER BY SUM(t.total_cost) DESC
        $$;
        """

    // MARK: - 4: voids beside reissues; tier assignments and tier terms as versions (issue 17)

    static let versionedBilling = """
        -- A voided bill stays, marked, beside its reissue. A bill's natural key becomes
        -- (shop_id, billing_period, created_at): created_at is the daemon's generation time,
        -- which differs between a bill and its reissue. At most one live bill per shop and period.
        ALTER TABLE billing_records
          ADD COLUMN voided_at timestamptz,
          ADD COLUMN voided_at_unix_ms bigint,
          ADD COLUMN void_reason text,
          ADD COLUMN voided_by_uid bigint;
        ALTER TABLE billing_records DROP CONSTRAINT billing_records_shop_id_billing_period_key;
        ALTER TABLE billing_records ADD CONSTRAINT billing_records_shop_period_created UNIQUE (shop_id, billing_period, created_at);
        CREATE UNIQUE INDEX billing_records_one_live ON billing_records (shop_id, billing_period) WHERE voided_at IS NULL;
        CREATE VIEW tokengate_live_billing_records AS SELECT * FROM billing_records WHERE voided_at IS NULL;

        -- Every assignment with the time it holds from (a backdated one removes the later ones,
        -- as the daemon does). Rows shipped before version 4 had no time: they hold since always.
        CREATE TABLE tokengate_tier_assignment_history (
          shop_id text NOT NULL,
          effective_from_unix_ms bigint NOT NULL,
          effective_from timestamptz NOT NULL,
          tier_name text NOT NULL,
          host_id text NOT NULL,
          updated_at timestamptz NOT NULL DEFAULT now(),
          PRIMARY KEY (shop_id, effective_from_unix_ms)
        );
        INSERT INTO tokengate_tier_assignment_history (shop_id, effective_from_unix_ms, effective_from, tier_name, host_id, updated_at)
          SELECT shop_id, 0, timestamptz 'epoch', tier_name, host_id, updated_at FROM tokengate_tier_assignments;
        DROP TABLE tokengate_tier_assignments;
        -- The assignment in force now, one row per shop, with the columns the table had.
        CREATE VIEW tokengate_tier_assignments AS
          SELECT DISTINCT ON (shop_id) shop_id, tier_name, host_id, updated_at, effective_from, effective_from_unix_ms
          FROM tokengate_tier_assignment_history
          WHERE effective_from <= now()
          ORDER BY shop_id, effective_from_unix_ms DESC;

        -- Every version of a tier's terms; pricing_tiers keeps one row per tier (the seed's
        -- shops.pricing_tier references it) with the terms in force when last shipped.
        CREATE TABLE tokengate_tier_versions (
          tier_name text NOT NULL,
          effective_from_unix_ms bigint NOT NULL,
          effective_from timestamptz NOT NULL,
          monthly_fee numeric(20, 9) NOT NULL,
          monthly_fee_nano_usd bigint NOT NULL,
          included_messages bigint,
          overage_rate numeric(20, 9) NOT NULL,
          overage_rate_nano_usd bigint NOT NULL,
          max_monthly_spend numeric(20, 9),
          max_monthly_spend_nano_usd bigint,
          self_serve boolean NOT NULL,
          updated_at timestamptz NOT NULL DEFAULT now(),
          PRIMARY KEY (tier_name, effective_from_unix_ms)
        );
        INSERT INTO tokengate_tier_versions (
          tier_name, effective_from_unix_ms, effective_from, monthly_fee, monthly_fee_nano_usd, included_messages,
          overage_rate, overage_rate_nano_usd, max_monthly_spend, max_monthly_spend_nano_usd, self_serve, updated_at)
          SELECT tier_name, 0, timestamptz 'epoch', monthly_fee, monthly_fee_nano_usd, included_messages, overage_rate,
                 overage_rate_nano_usd, max_monthly_spend, max_monthly_spend_nano_usd, self_serve, updated_at
          FROM pricing_tiers;
        """

    // MARK: - 7: fewer B-trees on token_usage_logs (issue 19)

    /// Every B-tree on `token_usage_logs` costs PostgreSQL CPU on each shipped row, taken from
    /// the daemon where PostgreSQL shares its host (docs/performance.md: 17-31 µs per LogUsage
    /// call shipped with four B-trees, 6-18 µs with no index, at 64 connections on 2 cores).
    /// `created_at` grows with the log, so a BRIN index serves the seed's 24-hour window at a
    /// fraction of a B-tree's insert cost; nothing of the seed's or the daemon's SQL looks usage up
    /// by (shop_id, billing_period), and one shop's rows are reached through (shop_id, created_at).
    static let leanerUsageIndexes = """
        DROP INDEX IF EXISTS token_usage_logs_shop_period;
        DROP INDEX IF EXISTS token_usage_logs_created_at;
        CREATE INDEX token_usage_logs_created_at_brin ON token_usage_logs USING brin (created_at);
        """
}
