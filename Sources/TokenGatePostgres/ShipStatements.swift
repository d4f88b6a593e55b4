// Every statement the shipper runs, with its parameters and what it locks. Times travel as Unix
// milliseconds and become timestamptz in SQL; money travels as nano-USD and the numeric USD
// column is computed from it in SQL (`* 0.000000001`: exact, where numeric division keeps only 16
// significant digits and so rounded amounts of $10M and more), so no floating-point value is
// ever involved.

import TokenGateCore

/// The shipper's SQL, in one place.
public enum ShipStatements {
    /// Usage events from 14 parallel arrays ($1...$14) and the host id ($15). Row locks on the
    /// inserted keys only; a key already present is skipped (the event was shipped before). The
    /// billing period comes from the daemon (the UTC month it bills the event in), not to_char.
    static let insertUsage = """
        INSERT INTO token_usage_logs (
          event_id, shop_id, user_id, conversation_id, operation_type, model_name, input_tokens, output_tokens,
          cached_input_tokens, total_tokens, total_cost, total_cost_nano_usd, metadata, created_at, recorded_at,
          billing_period, host_id)
        SELECT e, s, u, c, o, m, i, ot, ci, i + ot, n::numeric * 0.000000001, n, md::jsonb,
               timestamptz 'epoch' + oc * interval '1 millisecond',
               timestamptz 'epoch' + rc * interval '1 millisecond',
               bp, $15
        FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::numeric[],
                    $8::numeric[], $9::numeric[], $10::bigint[], $11::text[], $12::bigint[], $13::bigint[], $14::text[])
             AS r(e, s, u, c, o, m, i, ot, ci, n, md, oc, rc, bp)
        ON CONFLICT (event_id) DO NOTHING
        """

    /// A stored bill; (shop, period, created_at) is its natural key (created_at: when the daemon
    /// generated it, so a reissue after a void is another row). Skipped when that row exists or
    /// when the period already has a live bill (the partial unique index). Locks those keys.
    static let insertBilling = """
        INSERT INTO billing_records (
          shop_id, billing_period, tier_name, messages_used, tokens_used, api_cost, api_cost_nano_usd, base_charge,
          base_charge_nano_usd, overage_charge, overage_charge_nano_usd, total_charge, total_charge_nano_usd, paid,
          paid_at, created_at, host_id)
        VALUES ($1, $2::date, $3, $4::bigint, $5::numeric, $6::bigint::numeric * 0.000000001, $6::bigint,
                $7::bigint::numeric * 0.000000001, $7::bigint, $8::bigint::numeric * 0.000000001, $8::bigint,
                $9::bigint::numeric * 0.000000001, $9::bigint, $10::boolean, NULL,
                timestamptz 'epoch' + $11::bigint * interval '1 millisecond', $12)
        ON CONFLICT DO NOTHING
        """

    /// A bill marked paid ($1 shop, $2 period as a date, $3 paid at, Unix ms): the live bill
    /// generated before the mark (so re-shipping the paid mark of a since-voided bill does not
    /// touch its reissue). Locks the bill's row; a bill already paid is left as it is.
    static let markPaid = """
        UPDATE billing_records SET paid = true, paid_at = timestamptz 'epoch' + $3::bigint * interval '1 millisecond'
        WHERE shop_id = $1 AND billing_period = $2::date AND NOT paid AND voided_at IS NULL
          AND created_at <= timestamptz 'epoch' + $3::bigint * interval '1 millisecond'
        """

    /// A bill voided ($1 shop, $2 period as a date, $3 voided at, Unix ms, $4 reason, $5 uid):
    /// the period's live bill is marked, unless this void (its time) is already on a bill of the
    /// period, so re-shipping it never voids the reissue. Locks the bill's row.
    static let markVoid = """
        UPDATE billing_records SET voided_at = timestamptz 'epoch' + $3::bigint * interval '1 millisecond',
          voided_at_unix_ms = $3::bigint, void_reason = $4, voided_by_uid = $5::bigint
        WHERE shop_id = $1 AND billing_period = $2::date AND voided_at IS NULL
          AND NOT EXISTS (SELECT 1 FROM billing_records v WHERE v.shop_id = $1 AND v.billing_period = $2::date
                          AND v.voided_at_unix_ms = $3::bigint)
        """

    /// An alert, stored once per (shop, kind, period) as the daemon does.
    static let insertAlert = """
        INSERT INTO usage_alerts (
          shop_id, alert_type, period, threshold, threshold_nano_usd, actual_cost, actual_cost_nano_usd, message,
          created_at, host_id)
        VALUES ($1, $2, $3, $4::bigint::numeric * 0.000000001, $4::bigint, $5::bigint::numeric * 0.000000001,
                $5::bigint, $6, timestamptz 'epoch' + $7::bigint * interval '1 millisecond', $8)
        ON CONFLICT (shop_id, alert_type, period) DO NOTHING
        """

    /// One version of a tier's terms ($1 name, $2 effective from, Unix ms, then the terms); a
    /// version set again for the same instant replaces it (as the daemon does), an identical one
    /// changes nothing (not even `updated_at`).
    static let upsertTierVersion = """
        INSERT INTO tokengate_tier_versions (
          tier_name, effective_from_unix_ms, effective_from, monthly_fee, monthly_fee_nano_usd, included_messages,
          overage_rate, overage_rate_nano_usd, max_monthly_spend, max_monthly_spend_nano_usd, self_serve)
        VALUES ($1, $2::bigint, timestamptz 'epoch' + $2::bigint * interval '1 millisecond',
                $3::bigint::numeric * 0.000000001, $3::bigint, $4::bigint, $5::bigint::numeric * 0.000000001,
                $5::bigint, $6::bigint::numeric * 0.000000001, $6::bigint, $7::boolean)
        ON CONFLICT (tier_name, effective_from_unix_ms) DO UPDATE SET
          monthly_fee = EXCLUDED.monthly_fee, monthly_fee_nano_usd = EXCLUDED.monthly_fee_nano_usd,
          included_messages = EXCLUDED.included_messages, overage_rate = EXCLUDED.overage_rate,
          overage_rate_nano_usd = EXCLUDED.overage_rate_nano_usd, max_monthly_spend = EXCLUDED.max_monthly_spend,
          max_monthly_spend_nano_usd = EXCLUDED.max_monthly_spend_nano_usd, self_serve = EXCLUDED.self_serve,
          updated_at = now()
        WHERE (tokengate_tier_versions.monthly_fee_nano_usd, tokengate_tier_versions.included_messages,
               tokengate_tier_versions.overage_rate_nano_usd, tokengate_tier_versions.max_monthly_spend_nano_usd,
               tokengate_tier_versions.self_serve)
          IS DISTINCT FROM (EXCLUDED.monthly_fee_nano_usd, EXCLUDED.included_messages, EXCLUDED.overage_rate_nano_usd,
               EXCLUDED.max_monthly_spend_nano_usd, EXCLUDED.self_serve)
        """

    /// A tier's row in `pricing_tiers` ($1 name) set from its versions: the one in force now
    /// (the earliest when all are in the future). Updated only when a term differs, so shipping
    /// the same terms again changes nothing (not even `updated_at`).
    static let refreshTier = """
        INSERT INTO pricing_tiers (
          tier_name, monthly_fee, monthly_fee_nano_usd, included_messages, overage_rate, overage_rate_nano_usd,
          max_monthly_spend, max_monthly_spend_nano_usd, self_serve)
        SELECT tier_name, monthly_fee, monthly_fee_nano_usd, included_messages, overage_rate, overage_rate_nano_usd,
               max_monthly_spend, max_monthly_spend_nano_usd, self_serve
        FROM tokengate_tier_versions WHERE tier_name = $1
        ORDER BY effective_from <= now() DESC,
                 CASE WHEN effective_from <= now() THEN -effective_from_unix_ms ELSE effective_from_unix_ms END
        LIMIT 1
        ON CONFLICT (tier_name) DO UPDATE SET
          monthly_fee = EXCLUDED.monthly_fee, monthly_fee_nano_usd = EXCLUDED.monthly_fee_nano_usd,
          included_messages = EXCLUDED.included_messages, overage_rate = EXCLUDED.overage_rate,
          overage_rate_nano_usd = EXCLUDED.overage_rate_nano_usd, max_monthly_spend = EXCLUDED.max_monthly_spend,
          max_monthly_spend_nano_usd = EXCLUDED.max_monthly_spend_nano_usd, self_serve = EXCLUDED.self_serve,
          updated_at = now()
        WHERE (pricing_tiers.monthly_fee_nano_usd, pricing_tiers.included_messages, pricing_tiers.overage_rate_nano_usd,
               pricing_tiers.max_monthly_spend_nano_usd, pricing_tiers.self_serve)
          IS DISTINCT FROM (EXCLUDED.monthly_fee_nano_usd, EXCLUDED.included_messages, EXCLUDED.overage_rate_nano_usd,
               EXCLUDED.max_monthly_spend_nano_usd, EXCLUDED.self_serve)
        """

    /// A shop's tier ($1 shop, $2 tier, $3 host) from $4 (Unix ms) on: later assignments give
    /// way to it (as in the daemon); the same assignment again changes nothing.
    static let insertTierAssignment = """
        WITH later AS (
          DELETE FROM tokengate_tier_assignment_history WHERE shop_id = $1 AND effective_from_unix_ms > $4::bigint
        )
        INSERT INTO tokengate_tier_assignment_history (shop_id, effective_from_unix_ms, effective_from, tier_name, host_id)
        VALUES ($1, $4::bigint, timestamptz 'epoch' + $4::bigint * interval '1 millisecond', $2, $3)
        ON CONFLICT (shop_id, effective_from_unix_ms) DO UPDATE SET tier_name = EXCLUDED.tier_name,
          host_id = EXCLUDED.host_id, updated_at = now()
        WHERE tokengate_tier_assignment_history.tier_name IS DISTINCT FROM EXCLUDED.tier_name
        """

    /// A model's price version; a version set again for the same instant replaces it (as the
    /// daemon does), and an identical one changes nothing.
    static let upsertPriceVersion = """
        INSERT INTO tokengate_price_versions (
          model_name, is_fallback, effective_from, effective_from_unix_ms, input_per_million_nano_usd,
          output_per_million_nano_usd, cached_input_per_million_nano_usd, input_price_per_million,
          output_price_per_million, prompt_tiers, source, host_id)
        VALUES ($1, $2::boolean, timestamptz 'epoch' + $3::bigint * interval '1 millisecond', $3::bigint, $4::bigint,
                $5::bigint, $6::bigint, $4::bigint::numeric * 0.000000001, $5::bigint::numeric * 0.000000001, $7::jsonb,
                $8, $9)
        ON CONFLICT (model_name, is_fallback, effective_from_unix_ms) DO UPDATE SET
          input_per_million_nano_usd = EXCLUDED.input_per_million_nano_usd,
          output_per_million_nano_usd = EXCLUDED.output_per_million_nano_usd,
          cached_input_per_million_nano_usd = EXCLUDED.cached_input_per_million_nano_usd,
          input_price_per_million = EXCLUDED.input_price_per_million,
          output_price_per_million = EXCLUDED.output_price_per_million,
          prompt_tiers = EXCLUDED.prompt_tiers, source = EXCLUDED.source
        WHERE (tokengate_price_versions.input_per_million_nano_usd, tokengate_price_versions.output_per_million_nano_usd,
               tokengate_price_versions.cached_input_per_million_nano_usd, tokengate_price_versions.prompt_tiers,
               tokengate_price_versions.source)
          IS DISTINCT FROM (EXCLUDED.input_per_million_nano_usd, EXCLUDED.output_per_million_nano_usd,
               EXCLUDED.cached_input_per_million_nano_usd, EXCLUDED.prompt_tiers, EXCLUDED.source)
        """

    /// The totals of a month whose raw events retention dropped (from a snapshot only).
    static let insertMonthAggregate = """
        INSERT INTO tokengate_month_aggregates (
          shop_id, billing_period, messages, input_tokens, output_tokens, cached_input_tokens, total_cost,
          total_cost_nano_usd, host_id)
        VALUES ($1, $2, $3::bigint, $4::numeric, $5::numeric, $6::numeric, $7::bigint::numeric * 0.000000001, $7::bigint, $8)
        ON CONFLICT (shop_id, billing_period) DO NOTHING
        """

    /// Moves this host's cursor ($1 host, $2 sequence); never backwards. Locks the host's row,
    /// which also keeps two shippers of one host from interleaving.
    static let moveCursor = """
        INSERT INTO tokengate_ship_cursor (host_id, shipped_through) VALUES ($1, $2::bigint)
        ON CONFLICT (host_id) DO UPDATE SET shipped_through = GREATEST(tokengate_ship_cursor.shipped_through,
          EXCLUDED.shipped_through), updated_at = now()
        """

    /// This host's cursor ($1 host): one row with the last shipped sequence, or none.
    public static let readCursor = "SELECT shipped_through FROM tokengate_ship_cursor WHERE host_id = $1"

    // MARK: - Parameters of one fact

    static func billing(_ record: BillingRecord, hostID: String) -> PostgresStatement {
        PostgresStatement(
            insertBilling,
            [
                record.shopID, record.period + "-01", record.tier, String(record.messagesUsed), String(record.tokensUsed),
                String(record.apiCostNanoUSD), String(record.baseChargeNanoUSD), String(record.overageChargeNanoUSD),
                String(record.totalChargeNanoUSD), String(record.paid), String(record.generatedAtUnixMs), hostID,
            ])
    }

    static func alert(_ alert: Alert, hostID: String) -> PostgresStatement {
        PostgresStatement(
            insertAlert,
            [
                alert.shopID, alert.kind.description.lowercased(), alert.period, String(alert.thresholdNanoUSD),
                String(alert.actualNanoUSD), alert.message, String(alert.raisedAtUnixMs), hostID,
            ])
    }

    /// A tier version's row, then the tier's current row (two statements).
    static func tier(_ tier: Tier, effectiveFromUnixMs: UnixMillis) -> [PostgresStatement] {
        [
            PostgresStatement(
                upsertTierVersion,
                [
                    tier.name, String(effectiveFromUnixMs), String(tier.monthlyFeeNanoUSD), tier.includedMessages.map { String($0) },
                    String(tier.overagePerMessageNanoUSD), tier.maxMonthlySpendNanoUSD.map { String($0) }, String(tier.selfServe),
                ]),
            PostgresStatement(refreshTier, [tier.name]),
        ]
    }

    static func void(_ mark: VoidMark) -> PostgresStatement {
        PostgresStatement(
            markVoid,
            [mark.shopID, mark.period + "-01", String(mark.voidedAtUnixMs), mark.reason, String(mark.voidedByUID)])
    }

    static func priceVersion(_ price: ModelPrice, isFallback: Bool, hostID: String) -> PostgresStatement {
        let version = price.version
        let tiers = version.promptTiers.map { tier in
            "{\"prompt_tokens_above\":\(tier.promptTokensAbove),\"input_per_million_nano_usd\":\(tier.rates.inputPerMillion),"
                + "\"output_per_million_nano_usd\":\(tier.rates.outputPerMillion),"
                + "\"cached_input_per_million_nano_usd\":\(tier.rates.cachedInputPerMillion)}"
        }
        return PostgresStatement(
            upsertPriceVersion,
            [
                isFallback ? "" : price.model, String(isFallback), String(version.effectiveFromUnixMs),
                String(version.base.inputPerMillion), String(version.base.outputPerMillion),
                String(version.base.cachedInputPerMillion), "[" + tiers.joined(separator: ",") + "]", version.source, hostID,
            ])
    }

    static func monthAggregate(shopID: String, month: MonthKey, _ aggregate: MonthAggregate, hostID: String) -> PostgresStatement {
        PostgresStatement(
            insertMonthAggregate,
            [
                shopID, month.description, String(aggregate.messages), String(aggregate.inputTokens),
                String(aggregate.outputTokens), String(aggregate.cachedInputTokens), String(aggregate.costNanoUSD), hostID,
            ])
    }

    /// The `metadata` jsonb of a usage event: the seed's three fields plus the free pairs.
    static func metadataJSON(_ metadata: UsageMetadata) -> String {
        var json = "{\"messageLength\":\(metadata.messageLength),\"historyLength\":\(metadata.historyLength)"
        json += ",\"knowledgeBaseSize\":\(metadata.knowledgeBaseSize)"
        for entry in metadata.extra {
            json += "," + JSONValue.quoted(entry.key) + ":" + JSONValue.quoted(entry.value)
        }
        return json + "}"
    }
}
