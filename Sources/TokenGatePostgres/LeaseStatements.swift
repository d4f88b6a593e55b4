// Budgets across hosts (DESIGN §8, issue 20): the pools and leases tables (migration 3) and
// every statement that reads or writes them, with its parameters and what it locks. They do in
// SQL exactly what TokenGateCore's `LeaseBook` does in memory (the simulation test's model).
// Money is nano-USD bigint throughout; budget windows are `day:YYYY-MM-DD` and `month:YYYY-MM`
// (UTC), as `BudgetWindow.description` writes them.
//
// Lock order, the same in every transaction so two hosts never deadlock: a host's own lease
// rows (by shop, window), then pool rows (by shop, window).

import TokenGateCore

/// The fleet's SQL, in one place.
public enum LeaseStatements {
    // MARK: - Migration 3

    static let migration = """
        -- One row per (shop, budget window): the fleet's cap, the settled spend of every host,
        -- and the sum of the hosts' outstanding leases. Invariant: settled + leased <= cap,
        -- except for spend that arrived without a hold (usage is never refused).
        CREATE TABLE tokengate_budget_pools (
          shop_id text NOT NULL,
          budget_window text NOT NULL,
          cap_nano_usd bigint,
          settled_nano_usd bigint NOT NULL DEFAULT 0,
          leased_nano_usd bigint NOT NULL DEFAULT 0 CHECK (leased_nano_usd >= 0),
          updated_at timestamptz NOT NULL DEFAULT now(),
          PRIMARY KEY (shop_id, budget_window)
        );

        -- One row per (host, shop, window): what the host may still spend (amount), its shipped
        -- spend, and the sequence number of the last grant or return applied (retries carry the
        -- same number and change nothing).
        CREATE TABLE tokengate_leases (
          host_id text NOT NULL,
          shop_id text NOT NULL,
          budget_window text NOT NULL,
          amount_nano_usd bigint NOT NULL DEFAULT 0 CHECK (amount_nano_usd >= 0),
          settled_nano_usd bigint NOT NULL DEFAULT 0,
          sequence bigint NOT NULL DEFAULT 0,
          expires_at timestamptz NOT NULL DEFAULT now(),
          updated_at timestamptz NOT NULL DEFAULT now(),
          PRIMARY KEY (host_id, shop_id, budget_window)
        );
        CREATE INDEX tokengate_leases_pool ON tokengate_leases (shop_id, budget_window);
        """

    // MARK: - Grants and returns

    /// Creates the pool row of ($1 shop, $2 window) when missing, its settled spend counted from
    /// the usage already shipped in the window (summed only while the row is missing: a grant
    /// on an existing pool reads no usage rows). Concurrent settlement cannot be lost: a ship
    /// transaction that inserted usage first holds the row's key until it commits (this insert
    /// then does nothing), and one that comes later adds to the row this one made.
    static let ensurePool = """
        INSERT INTO tokengate_budget_pools (shop_id, budget_window, settled_nano_usd)
        SELECT $1, $2, coalesce(sum(total_cost_nano_usd), 0)::bigint FROM token_usage_logs
        WHERE shop_id = $1 AND CASE WHEN $2 LIKE 'day:%'
            THEN to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD') = substr($2, 5)
            ELSE to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM') = substr($2, 7) END
          AND NOT EXISTS (SELECT 1 FROM tokengate_budget_pools WHERE shop_id = $1 AND budget_window = $2)
        ON CONFLICT (shop_id, budget_window) DO NOTHING
        """

    /// Creates ($1 host, $2 shop, $3 window)'s lease row when missing.
    static let ensureLease = """
        INSERT INTO tokengate_leases (host_id, shop_id, budget_window) VALUES ($1, $2, $3)
        ON CONFLICT (host_id, shop_id, budget_window) DO NOTHING
        """

    /// Locks the host's lease row for the rest of the transaction (first in the lock order), so
    /// the next statement reads its sequence as it is.
    static let lockLease = """
        SELECT sequence FROM tokengate_leases WHERE host_id = $1 AND shop_id = $2 AND budget_window = $3 FOR UPDATE
        """

    /// The grant: one conditional UPDATE of the pool, `settled + leased + slice <= cap`, applied
    /// only when sequence $6 is newer than the lease's (a retry changes nothing), and the lease
    /// grown by the same amount with its expiry moved to now + $7 ms. $1 host, $2 shop,
    /// $3 window, $4 cap, $5 slice. Locks the pool row.
    static let grant = """
        WITH pool AS (
          UPDATE tokengate_budget_pools
          SET leased_nano_usd = leased_nano_usd + $5::bigint, cap_nano_usd = $4::bigint, updated_at = now()
          WHERE shop_id = $2 AND budget_window = $3
            AND settled_nano_usd + leased_nano_usd + $5::bigint <= $4::bigint
            AND $6::bigint > (SELECT sequence FROM tokengate_leases WHERE host_id = $1 AND shop_id = $2 AND budget_window = $3)
          RETURNING 1
        )
        UPDATE tokengate_leases
        SET amount_nano_usd = amount_nano_usd + $5::bigint, sequence = $6::bigint,
            expires_at = now() + $7::bigint * interval '1 millisecond', updated_at = now()
        WHERE host_id = $1 AND shop_id = $2 AND budget_window = $3 AND EXISTS (SELECT 1 FROM pool)
        RETURNING amount_nano_usd
        """

    /// A grant that does not fit still records the cap the host asked with ($3), so that a
    /// lowered cap reaches the pool; $1 shop, $2 window. Locks the pool row.
    static let setCap = """
        UPDATE tokengate_budget_pools SET cap_nano_usd = $3::bigint, updated_at = now()
        WHERE shop_id = $1 AND budget_window = $2 AND cap_nano_usd IS DISTINCT FROM $3::bigint
        """

    /// Renews every lease host $1 holds: expiry moved to now + $2 ms (one statement for all of
    /// them, so renewal costs one transaction per pass, not one per pool). Locks those rows in
    /// key order, as the shipper's settlement does (in any other order the two could deadlock,
    /// and PostgreSQL would abort one after a second).
    static let renewAll = """
        UPDATE tokengate_leases l SET expires_at = now() + $2::bigint * interval '1 millisecond'
        FROM (SELECT shop_id, budget_window FROM tokengate_leases WHERE host_id = $1 AND amount_nano_usd > 0
              ORDER BY shop_id, budget_window FOR UPDATE) k
        WHERE l.host_id = $1 AND l.shop_id = k.shop_id AND l.budget_window = k.budget_window
        """

    /// A return: $5 (at most what is outstanding) goes from ($1 host, $2 shop, $3 window)'s
    /// lease back to the pool, once per sequence $4. Locks the lease row, then the pool row.
    static let giveBack = """
        WITH lease AS (
          SELECT amount_nano_usd, least(amount_nano_usd, greatest($5::bigint, 0)) AS back
          FROM tokengate_leases
          WHERE host_id = $1 AND shop_id = $2 AND budget_window = $3 AND sequence < $4::bigint
          FOR UPDATE
        ), pool AS (
          UPDATE tokengate_budget_pools SET leased_nano_usd = leased_nano_usd - (SELECT back FROM lease), updated_at = now()
          WHERE shop_id = $2 AND budget_window = $3 AND EXISTS (SELECT 1 FROM lease)
          RETURNING 1
        )
        UPDATE tokengate_leases SET amount_nano_usd = amount_nano_usd - (SELECT back FROM lease), sequence = $4::bigint,
          updated_at = now()
        WHERE host_id = $1 AND shop_id = $2 AND budget_window = $3 AND EXISTS (SELECT 1 FROM pool)
        RETURNING amount_nano_usd
        """

    /// The pool and ($1 host)'s lease on ($2 shop, $3 window), and the hosts holding a lease
    /// on it: cap, settled, leased, amount, host settled, sequence, active hosts. No locks.
    static let readState = """
        SELECT p.cap_nano_usd, p.settled_nano_usd, p.leased_nano_usd,
               coalesce(l.amount_nano_usd, 0), coalesce(l.settled_nano_usd, 0), coalesce(l.sequence, 0),
               (SELECT count(*) FROM tokengate_leases a WHERE a.shop_id = $2 AND a.budget_window = $3
                  AND a.amount_nano_usd > 0 AND a.expires_at > now())
        FROM tokengate_budget_pools p
        LEFT JOIN tokengate_leases l ON l.host_id = $1 AND l.shop_id = p.shop_id AND l.budget_window = p.budget_window
        WHERE p.shop_id = $2 AND p.budget_window = $3
        """

    /// Every lease row of ($1 host) with its pool, read once at startup (a pool with no row here
    /// has sequence 0 for this host and needs no read): shop, window, then `readState`'s columns.
    /// The read is also a fence: each row's sequence moves on by one, so a grant or return the
    /// host's previous life sent and PostgreSQL had not yet applied (a transaction waiting on a
    /// lock when the process died) changes nothing if it lands later; one that holds the row's
    /// lock is waited for and read as applied. Locks the host's lease rows in key order.
    static let hostLeases = """
        WITH fenced AS (
          UPDATE tokengate_leases l SET sequence = l.sequence + 1, updated_at = now()
          FROM (SELECT shop_id, budget_window FROM tokengate_leases WHERE host_id = $1
                ORDER BY shop_id, budget_window FOR UPDATE) k
          WHERE l.host_id = $1 AND l.shop_id = k.shop_id AND l.budget_window = k.budget_window
          RETURNING l.shop_id, l.budget_window, l.amount_nano_usd, l.settled_nano_usd, l.sequence
        )
        SELECT f.shop_id, f.budget_window, p.cap_nano_usd, p.settled_nano_usd, p.leased_nano_usd, f.amount_nano_usd,
               f.settled_nano_usd, f.sequence, 1
        FROM fenced f JOIN tokengate_budget_pools p USING (shop_id, budget_window)
        """

    // MARK: - Settlement (in the shipper's transaction)

    /// Settles the usage rows this transaction inserted (`xmin` is the current transaction: a
    /// row shipped before, skipped by ON CONFLICT DO NOTHING, is not counted again) among event
    /// ids $1, for host $2: each (shop, window)'s pool gains the spend as settled (created when
    /// missing), and the host's lease gives up what the spend used of it. Locks the host's
    /// lease rows, then the pool rows, each in key order.
    static let settle = """
        WITH fresh AS (
          SELECT shop_id, created_at, total_cost_nano_usd AS cost FROM token_usage_logs
          WHERE event_id = ANY($1::text[]) AND xmin = pg_current_xact_id()::xid
        ), spend AS (
          SELECT shop_id, 'day:' || to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS budget_window,
                 sum(cost)::bigint AS cost FROM fresh GROUP BY 1, 2
          UNION ALL
          SELECT shop_id, 'month:' || to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM'), sum(cost)::bigint FROM fresh GROUP BY 1, 2
        ), locked AS (
          SELECT l.shop_id, l.budget_window, least(l.amount_nano_usd, s.cost) AS used
          FROM tokengate_leases l JOIN spend s USING (shop_id, budget_window)
          WHERE l.host_id = $2 ORDER BY l.shop_id, l.budget_window FOR UPDATE OF l
        ), leases AS (
          INSERT INTO tokengate_leases AS l (host_id, shop_id, budget_window, settled_nano_usd)
          SELECT $2, shop_id, budget_window, cost FROM spend ORDER BY shop_id, budget_window
          ON CONFLICT (host_id, shop_id, budget_window) DO UPDATE SET
            amount_nano_usd = l.amount_nano_usd - coalesce((SELECT used FROM locked k WHERE k.shop_id = l.shop_id
                                                              AND k.budget_window = l.budget_window), 0),
            settled_nano_usd = l.settled_nano_usd + EXCLUDED.settled_nano_usd, updated_at = now()
          RETURNING 1
        )
        INSERT INTO tokengate_budget_pools AS p (shop_id, budget_window, settled_nano_usd)
        SELECT s.shop_id, s.budget_window, s.cost FROM spend s ORDER BY s.shop_id, s.budget_window
        ON CONFLICT (shop_id, budget_window) DO UPDATE SET
          settled_nano_usd = p.settled_nano_usd + EXCLUDED.settled_nano_usd,
          leased_nano_usd = p.leased_nano_usd - coalesce((SELECT used FROM locked k WHERE k.shop_id = p.shop_id
                                                          AND k.budget_window = p.budget_window), 0),
          updated_at = now()
        """

    // MARK: - Expiry and takeover (migration 6)

    static let reclaimMigration = """
        -- What other hosts took back from this lease after it expired (its host gone), when and
        -- by whom: the bound on what a late shipment of that host's spend can put over a cap.
        ALTER TABLE tokengate_leases
          ADD COLUMN reclaimed_nano_usd bigint NOT NULL DEFAULT 0,
          ADD COLUMN reclaimed_at timestamptz,
          ADD COLUMN reclaimed_by text;
        """

    /// What of its outage allowance (issue 20 item 5) a host admitted in each window, kept
    /// beside its lease so that a restart does not spend the allowance again.
    static let outageMigration = """
        ALTER TABLE tokengate_leases ADD COLUMN outage_used_nano_usd bigint NOT NULL DEFAULT 0;
        """

    /// Records that host $1 has used $4 of its outage allowance in ($2 shop, $3 window); the
    /// largest figure stays, so a retry or an older figure changes nothing. Locks that lease row.
    static let recordOutageUsed = """
        INSERT INTO tokengate_leases (host_id, shop_id, budget_window, outage_used_nano_usd) VALUES ($1, $2, $3, $4::bigint)
        ON CONFLICT (host_id, shop_id, budget_window) DO UPDATE
          SET outage_used_nano_usd = greatest(tokengate_leases.outage_used_nano_usd, EXCLUDED.outage_used_nano_usd),
              updated_at = now()
        """

    /// Host $1's outage allowance used in the windows $2 and $3 (today's and this month's).
    static let outageUsed = """
        SELECT shop_id, budget_window, outage_used_nano_usd FROM tokengate_leases
        WHERE host_id = $1 AND budget_window IN ($2, $3) AND outage_used_nano_usd > 0
        """

    /// Takeover: every lease of another host that expired more than $2 ms ago, whose host has
    /// not shipped in that time either (it is gone: it neither renews nor ships), goes back to
    /// its pool; its sequence moves on (a late grant, return or retry of that host changes
    /// nothing) and the amount is recorded as reclaimed. $1 is the reclaiming host. Rows another
    /// transaction holds are skipped (the next pass takes them). Returns host, shop, window and
    /// amount of each. Locks those lease rows (in key order), then their pools.
    static let reclaimExpired = """
        WITH gone AS (
          SELECT l.host_id, l.shop_id, l.budget_window, l.amount_nano_usd FROM tokengate_leases l
          WHERE l.host_id <> $1 AND l.amount_nano_usd > 0
            AND l.expires_at < now() - $2::bigint * interval '1 millisecond'
            AND NOT EXISTS (SELECT 1 FROM tokengate_ship_cursor c WHERE c.host_id = l.host_id
                              AND c.updated_at > now() - $2::bigint * interval '1 millisecond')
          ORDER BY l.host_id, l.shop_id, l.budget_window
          FOR UPDATE OF l SKIP LOCKED
        ), per_pool AS (
          SELECT shop_id, budget_window, sum(amount_nano_usd)::bigint AS amount FROM gone GROUP BY 1, 2
        ), pools AS (
          UPDATE tokengate_budget_pools p SET leased_nano_usd = p.leased_nano_usd - s.amount, updated_at = now()
          FROM per_pool s WHERE p.shop_id = s.shop_id AND p.budget_window = s.budget_window
          RETURNING 1
        ), leases AS (
          UPDATE tokengate_leases l SET amount_nano_usd = 0, sequence = l.sequence + 1,
            reclaimed_nano_usd = l.reclaimed_nano_usd + g.amount_nano_usd, reclaimed_at = now(), reclaimed_by = $1,
            updated_at = now()
          FROM gone g WHERE l.host_id = g.host_id AND l.shop_id = g.shop_id AND l.budget_window = g.budget_window
          RETURNING 1
        )
        SELECT host_id, shop_id, budget_window, amount_nano_usd::text FROM gone ORDER BY 1, 2, 3
        """

    // MARK: - Administration

    /// Writes off every outstanding lease of host $1 (`tokengate fleet release-host`): amounts go
    /// back to their pools, sequences move on (a late reply of the host's changes nothing).
    /// Returns the leases released and the amount. Locks the host's lease rows, then the pools.
    static let releaseHost = """
        WITH released AS (
          SELECT shop_id, budget_window, amount_nano_usd FROM tokengate_leases
          WHERE host_id = $1 AND amount_nano_usd > 0 ORDER BY shop_id, budget_window FOR UPDATE
        ), pools AS (
          UPDATE tokengate_budget_pools p SET leased_nano_usd = p.leased_nano_usd - r.amount_nano_usd, updated_at = now()
          FROM released r WHERE p.shop_id = r.shop_id AND p.budget_window = r.budget_window
          RETURNING 1
        ), leases AS (
          UPDATE tokengate_leases l SET amount_nano_usd = 0, sequence = l.sequence + 1, updated_at = now()
          FROM released r WHERE l.host_id = $1 AND l.shop_id = r.shop_id AND l.budget_window = r.budget_window
          RETURNING 1
        )
        SELECT count(*), coalesce(sum(amount_nano_usd), 0)::bigint FROM released
        """
}
