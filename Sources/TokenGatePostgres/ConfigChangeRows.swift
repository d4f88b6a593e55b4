// A published configuration change as rows people can read: its kind, the setting it
// overwrites, a JSON description (money as nano-USD integers, never floating point) and the
// statements that bring the readable tables to the setting in force. Tiers, prices and tier
// assignments reuse the shipper's statements (ShipStatements), which every host's shipper also
// runs when it ships the change from its log: both are idempotent.

import TokenGateCore

struct ConfigChangeRows {
    var kind: String
    var setting: String
    var shopID: String?
    var details: String
    var readable: [PostgresStatement]

    // Each upsert below locks the row of its key; it runs after the counter's lock is taken, so
    // the row always ends with the setting of the highest change_seq.
    static let upsertLimits = """
        INSERT INTO tokengate_operation_limits (
          shop_id, operation_type, max_input_tokens_per_message, max_output_tokens_per_message,
          max_total_tokens_per_message, daily_cost_cap, daily_cost_cap_nano_usd, monthly_cost_cap,
          monthly_cost_cap_nano_usd, alert_threshold_percent, change_seq, host_id, updated_at)
        VALUES ($1, $2, $3::numeric, $4::numeric, $5::numeric, $6::bigint::numeric / 1000000000, $6::bigint,
                $7::bigint::numeric / 1000000000, $7::bigint, $8::integer, \(ConfigStatements.currentSequence), $9, now())
        ON CONFLICT (shop_id, operation_type) DO UPDATE SET
          max_input_tokens_per_message = EXCLUDED.max_input_tokens_per_message,
          max_output_tokens_per_message = EXCLUDED.max_output_tokens_per_message,
          max_total_tokens_per_message = EXCLUDED.max_total_tokens_per_message,
          daily_cost_cap = EXCLUDED.daily_cost_cap, daily_cost_cap_nano_usd = EXCLUDED.daily_cost_cap_nano_usd,
          monthly_cost_cap = EXCLUDED.monthly_cost_cap, monthly_cost_cap_nano_usd = EXCLUDED.monthly_cost_cap_nano_usd,
          alert_threshold_percent = EXCLUDED.alert_threshold_percent, change_seq = EXCLUDED.change_seq,
          host_id = EXCLUDED.host_id, updated_at = now()
        """

    static let upsertRateLimit = """
        INSERT INTO tokengate_rate_limits (tier_name, shop_id, requests_per_minute, tokens_per_minute, change_seq, host_id, updated_at)
        VALUES ($1, $2, $3::bigint, $4::numeric, \(ConfigStatements.currentSequence), $5, now())
        ON CONFLICT (tier_name, shop_id) DO UPDATE SET requests_per_minute = EXCLUDED.requests_per_minute,
          tokens_per_minute = EXCLUDED.tokens_per_minute, change_seq = EXCLUDED.change_seq, host_id = EXCLUDED.host_id,
          updated_at = now()
        """

    static let upsertShadow = """
        INSERT INTO tokengate_shadow_mode (shop_id, enabled, change_seq, host_id, updated_at)
        VALUES ($1, $2::boolean, \(ConfigStatements.currentSequence), $3, now())
        ON CONFLICT (shop_id) DO UPDATE SET enabled = EXCLUDED.enabled, change_seq = EXCLUDED.change_seq,
          host_id = EXCLUDED.host_id, updated_at = now()
        """

    static let upsertSetting = """
        INSERT INTO tokengate_fleet_settings (setting, value, change_seq, host_id, updated_at)
        VALUES ($1, $2::jsonb, \(ConfigStatements.currentSequence), $3, now())
        ON CONFLICT (setting) DO UPDATE SET value = EXCLUDED.value, change_seq = EXCLUDED.change_seq,
          host_id = EXCLUDED.host_id, updated_at = now()
        """

    /// The rows of `fact` (a run-time configuration change or a tier assignment).
    static func describe(_ fact: Fact, hostID: String) -> ConfigChangeRows {
        switch fact {
        case .tierAssignment(let shopID, let tier, let from):
            return ConfigChangeRows(
                kind: "tier_assignment", setting: "tier_assignment/\(shopID)", shopID: shopID,
                details: object(["shop_id": quoted(shopID), "tier_name": quoted(tier), "effective_from_unix_ms": "\(from)"]),
                readable: [PostgresStatement(ShipStatements.insertTierAssignment, [shopID, tier, hostID, String(from)])])
        case .configChange(let change):
            return describe(change, hostID: hostID)
        default:
            preconditionFailure("only configuration changes and tier assignments are published, not \(fact)")
        }
    }

    private static func describe(_ change: ConfigChange, hostID: String) -> ConfigChangeRows {
        switch change {
        case .setPrice(let request):
            let version = request.version.version
            let model = request.asFallback ? "" : request.version.model
            let tiers = version.promptTiers.map { tier in
                object([
                    "prompt_tokens_above": "\(tier.promptTokensAbove)", "input_per_million_nano_usd": "\(tier.rates.inputPerMillion)",
                    "output_per_million_nano_usd": "\(tier.rates.outputPerMillion)",
                    "cached_input_per_million_nano_usd": "\(tier.rates.cachedInputPerMillion)",
                ])
            }
            return ConfigChangeRows(
                kind: "set_price", setting: request.asFallback ? "fallback_price" : "price/\(model)/\(version.effectiveFromUnixMs)",
                shopID: nil,
                details: object([
                    "model_name": quoted(model), "is_fallback": "\(request.asFallback)",
                    "effective_from_unix_ms": "\(version.effectiveFromUnixMs)",
                    "input_per_million_nano_usd": "\(version.base.inputPerMillion)",
                    "output_per_million_nano_usd": "\(version.base.outputPerMillion)",
                    "cached_input_per_million_nano_usd": "\(version.base.cachedInputPerMillion)",
                    "prompt_tiers": "[" + tiers.joined(separator: ",") + "]", "source": quoted(version.source),
                ]),
                readable: [ShipStatements.priceVersion(request.version, isFallback: request.asFallback, hostID: hostID)])
        case .upsertTier(let request):
            let tier = request.tier.tier
            var fields = [
                "tier_name": quoted(tier.name), "effective_from_unix_ms": "\(request.effectiveFromUnixMs)",
                "monthly_fee_nano_usd": "\(tier.monthlyFeeNanoUSD)", "included_messages": tier.includedMessages.map { "\($0)" } ?? "null",
                "overage_per_message_nano_usd": "\(tier.overagePerMessageNanoUSD)",
                "max_monthly_spend_nano_usd": tier.maxMonthlySpendNanoUSD.map { "\($0)" } ?? "null", "self_serve": "\(tier.selfServe)",
            ]
            var readable = ShipStatements.tier(tier, effectiveFromUnixMs: request.effectiveFromUnixMs)
            if let rate = request.tier.rateLimit {
                fields["rate_limit"] = rateObject(rate)
                readable.append(
                    PostgresStatement(upsertRateLimit, [tier.name, "", String(rate.requestsPerMinute), String(rate.tokensPerMinute), hostID]))
            }
            return ConfigChangeRows(
                kind: "upsert_tier", setting: "tier/\(tier.name)/\(request.effectiveFromUnixMs)", shopID: nil, details: object(fields),
                readable: readable)
        case .setLimits(let request):
            let entry = request.limits
            let limits = entry.limits
            return ConfigChangeRows(
                kind: "set_limits", setting: "limits/\(entry.shopID)/\(entry.operationType)", shopID: entry.shopID.isEmpty ? nil : entry.shopID,
                details: object([
                    "shop_id": quoted(entry.shopID), "operation_type": quoted(entry.operationType),
                    "max_input_tokens_per_message": "\(limits.maxInputTokensPerMessage)",
                    "max_output_tokens_per_message": "\(limits.maxOutputTokensPerMessage)",
                    "max_total_tokens_per_message": "\(limits.maxTotalTokensPerMessage)",
                    "daily_cost_cap_nano_usd": "\(limits.dailyCostCapNanoUSD)", "monthly_cost_cap_nano_usd": "\(limits.monthlyCostCapNanoUSD)",
                    "alert_threshold_percent": "\(limits.alertThresholdPercent)",
                ]),
                readable: [
                    PostgresStatement(
                        upsertLimits,
                        [
                            entry.shopID, entry.operationType, String(limits.maxInputTokensPerMessage),
                            String(limits.maxOutputTokensPerMessage), String(limits.maxTotalTokensPerMessage),
                            String(limits.dailyCostCapNanoUSD), String(limits.monthlyCostCapNanoUSD), String(limits.alertThresholdPercent),
                            hostID,
                        ])
                ])
        case .setRateLimit(let request):
            let rate = request.rateLimit
            return ConfigChangeRows(
                kind: "set_rate_limit", setting: request.shopID.isEmpty ? "rate_limit/tier/\(request.tier)" : "rate_limit/shop/\(request.shopID)",
                shopID: request.shopID.isEmpty ? nil : request.shopID,
                details: object(["tier_name": quoted(request.tier), "shop_id": quoted(request.shopID), "rate_limit": rateObject(rate)]),
                readable: [
                    PostgresStatement(
                        upsertRateLimit,
                        [request.tier, request.shopID, String(rate.requestsPerMinute), String(rate.tokensPerMinute), hostID])
                ])
        case .setOptimizationRules(let request):
            let rules = request.rules
            let downgrades = rules.modelDowngrades.sorted { $0.key < $1.key }.map { quoted($0.key) + ":" + quoted($0.value) }
            let value = object([
                "model_downgrades": "{" + downgrades.joined(separator: ",") + "}",
                "threshold_percent": rules.thresholdPercent.map { "\($0)" } ?? "null", "history_cap": "\(rules.historyCap)",
            ])
            return ConfigChangeRows(
                kind: "set_optimization_rules", setting: "optimization_rules", shopID: nil, details: value,
                readable: [PostgresStatement(upsertSetting, ["optimization_rules", value, hostID])])
        case .setShadowMode(let request):
            return ConfigChangeRows(
                kind: "set_shadow_mode", setting: "shadow/\(request.shopID)", shopID: request.shopID.isEmpty ? nil : request.shopID,
                details: object(["shop_id": quoted(request.shopID), "enabled": "\(request.enabled)"]),
                readable: [PostgresStatement(upsertShadow, [request.shopID, String(request.enabled), hostID])])
        case .setUnknownShopPolicy(let request):
            let policy = quoted(request.policy == .deny ? "deny" : "default_tier")
            return ConfigChangeRows(
                kind: "set_unknown_shop_policy", setting: "unknown_shop_policy", shopID: nil, details: object(["policy": policy]),
                readable: [PostgresStatement(upsertSetting, ["unknown_shop_policy", policy, hostID])])
        }
    }

    private static func quoted(_ text: String) -> String { JSONValue.quoted(text) }

    private static func rateObject(_ rate: RateLimit) -> String {
        object(["requests_per_minute": "\(rate.requestsPerMinute)", "tokens_per_minute": "\(rate.tokensPerMinute)"])
    }

    /// A JSON object of already-encoded values, keys sorted.
    private static func object(_ fields: [String: String]) -> String {
        "{" + fields.sorted { $0.key < $1.key }.map { quoted($0.key) + ":" + $0.value }.joined(separator: ",") + "}"
    }
}
