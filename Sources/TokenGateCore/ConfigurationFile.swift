// The optional JSON config file of `tokengated --config FILE` (DESIGN §4): it overrides the
// embedded defaults key by key. Dollar amounts are decimal text read exactly (a JSON string such
// as "5.00", or a plain JSON number without an exponent, never through a Double); an unknown key
// or a wrong type is an error naming the key's path, so a typo never goes unnoticed.
//
// Shape (every key optional):
//   prices            { MODEL: [ VERSION, ... ] }   replaces that model's versions
//   fallback_price    VERSION or null
//   tiers             { NAME: TIER }                 merged into an existing tier, or a new one
//   default_tier      "starter"
//   limits            { OPERATION: LIMITS }          merged into the operation's limits, or new
//   shop_limits       { SHOP: { OPERATION: LIMITS } } per-shop overrides, merged into the above
//   shop_rate_limits  { SHOP: { requests_per_minute, tokens_per_minute } }
//   optimization      { model_downgrades: { FROM: TO }, threshold_percent (or null), history_cap }
//   reservation_ttl_ms, unknown_shops ("default_tier" | "deny"), shadow_mode, shadow_shops
//   postgres          { conninfo, host_id, ship_backlog_bytes_max }   the daemon's shipping (DESIGN §8);
//                     --postgres and $TOKENGATE_POSTGRES win over it
//   billing_grace_hours  hours after a period's end before its final bill (default 24)
//   fleet_outage_allowance  { default_usd, shops: { SHOP: USD } }   fleet mode (OutageAllowance.swift)
// VERSION: effective_from_unix_ms, input_usd_per_million, output_usd_per_million,
//   cached_input_usd_per_million (default: the input price), prompt_tiers [ { prompt_tokens_above,
//   input_usd_per_million, output_usd_per_million, cached_input_usd_per_million } ], source.
// TIER: monthly_fee_usd, included_messages (a count or "unlimited"), overage_per_message_usd,
//   max_monthly_spend_usd (an amount or "none"), self_serve, requests_per_minute, tokens_per_minute.
// LIMITS: max_input_tokens, max_output_tokens, max_total_tokens, daily_usd, monthly_usd, alert_percent.

/// Reads the config file over a base configuration.
public enum ConfigurationFile {
    /// A config file is a page or two of JSON; 1 MiB bounds what startup will read and parse.
    public static let bytesMax = 1 << 20

    /// Top-level keys, in the order they are applied (so `shop_limits` builds on `limits`
    /// whatever order the file lists them in).
    static let topLevelKeys = [
        "prices", "fallback_price", "tiers", "default_tier", "limits", "shop_limits", "shop_rate_limits", "optimization",
        "reservation_ttl_ms", "unknown_shops", "shadow_mode", "shadow_shops", "postgres", "billing_grace_hours",
        "fleet_outage_allowance",
    ]

    /// `base` with the file's settings applied, validated as a whole.
    ///
    /// Throws `invalidArgument` whose message starts with the path of the offending key
    /// (`tiers.starter.monthly_fee_usd: ...`), or with line and column for malformed JSON.
    public static func apply(_ bytes: [UInt8], to base: Configuration) throws(TokenGateError) -> Configuration {
        guard bytes.count <= bytesMax else {
            throw .invalidArgument("the file is \(bytes.count) bytes; a config file may have at most \(bytesMax)")
        }
        let root = ConfigField(value: try JSONValue.parse(bytes), path: "")
        let members = Dictionary(uniqueKeysWithValues: try root.members(allowed: topLevelKeys).map { ($0.key, $0.field) })
        var config = base
        for key in topLevelKeys {
            guard let field = members[key] else { continue }
            try apply(key, field, to: &config)
        }
        do {
            try config.validate()
        } catch {
            throw .invalidArgument("the configuration it makes is invalid: \(error.message)")
        }
        return config
    }

    /// The file's `postgres` section: PostgreSQL shipping settings, nil where absent.
    public struct PostgresSettings: Sendable, Equatable {
        public var conninfo: String?
        public var hostID: String?
        public var shipBacklogBytesMax: UInt64?

        public init(conninfo: String?, hostID: String?, shipBacklogBytesMax: UInt64?) {
            self.conninfo = conninfo
            self.hostID = hostID
            self.shipBacklogBytesMax = shipBacklogBytesMax
        }
    }

    /// The `postgres` section of a config file (nil when the file has none).
    /// Throws `invalidArgument` naming the key, as `apply` does.
    public static func postgresSettings(_ bytes: [UInt8]) throws(TokenGateError) -> PostgresSettings? {
        let root = ConfigField(value: try JSONValue.parse(bytes), path: "")
        guard let field = try root.memberMap(allowed: topLevelKeys)["postgres"] else { return nil }
        return try postgres(field)
    }

    private static func postgres(_ field: ConfigField) throws(TokenGateError) -> PostgresSettings {
        let members = try field.memberMap(allowed: ["conninfo", "host_id", "ship_backlog_bytes_max"])
        return PostgresSettings(
            conninfo: try members["conninfo"]?.string(), hostID: try members["host_id"]?.string(),
            shipBacklogBytesMax: try members["ship_backlog_bytes_max"]?.unsigned(max: UInt64(Int64.max)))
    }

    private static func apply(_ key: String, _ field: ConfigField, to config: inout Configuration) throws(TokenGateError) {
        switch key {
        case "prices":
            for (model, versions) in try field.entries() {
                config.prices.models[model] = try versions.items().map { item throws(TokenGateError) in try priceVersion(item) }
                    .sorted { $0.effectiveFromUnixMs < $1.effectiveFromUnixMs }
            }
        case "fallback_price": config.prices.fallback = field.value == .null ? nil : try priceVersion(field)
        case "tiers":
            for (name, tierField) in try field.entries() { try applyTier(name, tierField, to: &config) }
        case "default_tier": config.defaultTier = try field.string()
        case "limits":
            for (operation, limitsField) in try field.entries() {
                config.limits[operation] = try limits(limitsField, over: config.limits[operation])
            }
        case "shop_limits":
            for (shop, shopField) in try field.entries() {
                for (operation, limitsField) in try shopField.entries() {
                    let over = config.shopLimitOverrides[shop]?[operation] ?? config.limits[operation]
                    config.shopLimitOverrides[shop, default: [:]][operation] = try limits(limitsField, over: over)
                }
            }
        case "shop_rate_limits":
            for (shop, rateField) in try field.entries() {
                let rate = try rateLimit(rateField, over: config.shopRateLimits[shop] ?? .unlimited, checkKeys: true)
                config.shopRateLimits[shop] = rate.isUnlimited ? nil : rate
            }
        case "optimization": config.optimization = try optimization(field, over: config.optimization)
        case "billing_grace_hours":
            config.billingGraceMs = Int64(try field.unsigned(max: Configuration.billingGraceHoursMax)) * 3_600_000
        case "reservation_ttl_ms": config.reservationTTLMs = Int64(try field.unsigned(max: UInt64(CoreLimits.reservationTTLMsMax)))
        case "unknown_shops":
            switch try field.string() {
            case "default_tier": config.unknownShopPolicy = .defaultTier
            case "deny": config.unknownShopPolicy = .deny
            case let other: throw field.fail("is \"\(other)\"; expected \"default_tier\" or \"deny\"")
            }
        case "shadow_mode": config.shadowMode = try field.bool()
        case "shadow_shops": config.shadowShops = Set(try field.items().map { item throws(TokenGateError) in try item.string() })
        case "postgres": _ = try postgres(field)  // the daemon's setting, not the domain's: checked here, read by `postgresSettings`
        case "fleet_outage_allowance": _ = try outageAllowance(field)  // likewise (OutageAllowance.swift)
        default: preconditionFailure("top-level key '\(key)' is allowed but not handled")
        }
    }

    // MARK: - Sections

    private static let rateKeys: Set<String> = ["requests_per_minute", "tokens_per_minute"]

    private static func priceVersion(_ field: ConfigField) throws(TokenGateError) -> PriceVersion {
        let members = try field.memberMap(allowed: [
            "effective_from_unix_ms", "input_usd_per_million", "output_usd_per_million", "cached_input_usd_per_million",
            "prompt_tiers", "source",
        ])
        let effective = try members["effective_from_unix_ms"].map { f throws(TokenGateError) in try f.unsigned(max: UInt64(Int64.max)) } ?? 0
        var tiers: [PromptTier] = []
        for item in try members["prompt_tiers"]?.items() ?? [] {
            let tierMembers = try item.memberMap(allowed: [
                "prompt_tokens_above", "input_usd_per_million", "output_usd_per_million", "cached_input_usd_per_million",
            ])
            let above = try item.required(tierMembers, "prompt_tokens_above").unsigned(max: CoreLimits.tokensPerCallMax)
            tiers.append(PromptTier(promptTokensAbove: above, rates: try rates(item, tierMembers)))
        }
        return PriceVersion(
            effectiveFromUnixMs: Int64(effective), base: try rates(field, members), promptTiers: tiers,
            source: try members["source"]?.string() ?? "config file")
    }

    private static func rates(_ field: ConfigField, _ members: [String: ConfigField]) throws(TokenGateError) -> PriceRates {
        let input = try field.required(members, "input_usd_per_million").usd()
        return PriceRates(
            inputPerMillion: input, outputPerMillion: try field.required(members, "output_usd_per_million").usd(),
            cachedInputPerMillion: try members["cached_input_usd_per_million"]?.usd() ?? input)
    }

    private static func applyTier(_ name: String, _ field: ConfigField, to config: inout Configuration) throws(TokenGateError) {
        let members = try field.memberMap(allowed: [
            "monthly_fee_usd", "included_messages", "overage_per_message_usd", "max_monthly_spend_usd", "self_serve",
        ] + rateKeys.sorted())
        let existing = config.tiers[name]
        func value<T>(_ key: String, _ current: T?, _ read: (ConfigField) throws(TokenGateError) -> T) throws(TokenGateError) -> T {
            if let member = members[key] { return try read(member) }
            if let current { return current }
            throw field.fail("is a new tier, so \(key) is required")
        }
        let included: UInt64? = try value("included_messages", existing.map(\.includedMessages)) { f throws(TokenGateError) in
            if f.value == .string("unlimited") { return nil }
            return try f.unsigned(max: UInt64.max)
        }
        let cap: NanoUSD? = try value("max_monthly_spend_usd", existing.map(\.maxMonthlySpendNanoUSD)) { f throws(TokenGateError) in
            f.value == .string("none") ? nil : try f.usd()
        }
        config.tiers[name] = Tier(
            name: name, monthlyFeeNanoUSD: try value("monthly_fee_usd", existing?.monthlyFeeNanoUSD) { f throws(TokenGateError) in try f.usd() },
            includedMessages: included,
            overagePerMessageNanoUSD: try value("overage_per_message_usd", existing?.overagePerMessageNanoUSD) { f throws(TokenGateError) in try f.usd() },
            maxMonthlySpendNanoUSD: cap,
            selfServe: try members["self_serve"]?.bool() ?? existing?.selfServe ?? true)
        if !rateKeys.isDisjoint(with: members.keys) {
            let rate = try rateLimit(field, over: config.tierRateLimits[name] ?? .unlimited, checkKeys: false)
            config.tierRateLimits[name] = rate.isUnlimited ? nil : rate
        }
    }

    private static func rateLimit(_ field: ConfigField, over current: RateLimit, checkKeys: Bool) throws(TokenGateError) -> RateLimit {
        let members = checkKeys ? try field.memberMap(allowed: rateKeys.sorted()) : try field.memberMap(allowed: nil)
        var rate = current
        if let requests = members["requests_per_minute"] {
            rate.requestsPerMinute = UInt32(try requests.unsigned(max: UInt64(UInt32.max)))
        }
        if let tokens = members["tokens_per_minute"] { rate.tokensPerMinute = try tokens.unsigned(max: CoreLimits.tokensPerMinuteMax) }
        return rate
    }

    private static func limits(_ field: ConfigField, over current: OperationLimits?) throws(TokenGateError) -> OperationLimits {
        let members = try field.memberMap(allowed: [
            "max_input_tokens", "max_output_tokens", "max_total_tokens", "daily_usd", "monthly_usd", "alert_percent",
        ])
        func tokens(_ key: String, _ existing: UInt64?) throws(TokenGateError) -> UInt64 {
            if let member = members[key] { return try member.unsigned(max: CoreLimits.tokensPerCallMax) }
            if let existing { return existing }
            throw field.fail("is a new operation type, so \(key) is required")
        }
        func usd(_ key: String, _ existing: NanoUSD?) throws(TokenGateError) -> NanoUSD {
            if let member = members[key] { return try member.usd() }
            if let existing { return existing }
            throw field.fail("is a new operation type, so \(key) is required")
        }
        let percent = try members["alert_percent"].map { f throws(TokenGateError) in UInt32(try f.unsigned(max: 100)) }
        guard let alert = percent ?? current?.alertThresholdPercent else {
            throw field.fail("is a new operation type, so alert_percent is required")
        }
        return OperationLimits(
            maxInputTokensPerMessage: try tokens("max_input_tokens", current?.maxInputTokensPerMessage),
            maxOutputTokensPerMessage: try tokens("max_output_tokens", current?.maxOutputTokensPerMessage),
            maxTotalTokensPerMessage: try tokens("max_total_tokens", current?.maxTotalTokensPerMessage),
            dailyCostCapNanoUSD: try usd("daily_usd", current?.dailyCostCapNanoUSD),
            monthlyCostCapNanoUSD: try usd("monthly_usd", current?.monthlyCostCapNanoUSD), alertThresholdPercent: alert)
    }

    private static func optimization(_ field: ConfigField, over current: OptimizationRules) throws(TokenGateError) -> OptimizationRules {
        let members = try field.memberMap(allowed: ["model_downgrades", "threshold_percent", "history_cap"])
        var rules = current
        if let downgrades = members["model_downgrades"] {
            rules.modelDowngrades = [:]
            for (from, to) in try downgrades.entries() { rules.modelDowngrades[from] = try to.string() }
        }
        if let threshold = members["threshold_percent"] {
            rules.thresholdPercent = threshold.value == .null ? nil : UInt32(try threshold.unsigned(max: 100))
        }
        if let cap = members["history_cap"] { rules.historyCap = UInt32(try cap.unsigned(max: UInt64(UInt32.max))) }
        return rules
    }
}

/// A value in the config file and the path that names it in error messages.
struct ConfigField {
    let value: JSONValue
    let path: String

    func fail(_ problem: String) -> TokenGateError {
        .invalidArgument("\(path.isEmpty ? "the file" : path) \(problem)")
    }

    func child(_ key: String) -> String { path.isEmpty ? key : path + "." + key }

    /// The members of an object whose keys must all be in `allowed` (nil: any key, for objects
    /// whose other keys are checked elsewhere).
    func members(allowed: [String]?) throws(TokenGateError) -> [(key: String, field: ConfigField)] {
        guard case .object(let members) = value else { throw fail("must be an object, not \(value.kindName)") }
        var result: [(key: String, field: ConfigField)] = []
        for (key, member) in members {
            if let allowed, !allowed.contains(key) {
                throw .invalidArgument("unknown key '\(child(key))'; expected one of: \(allowed.joined(separator: ", "))")
            }
            result.append((key, ConfigField(value: member, path: child(key))))
        }
        return result
    }

    func memberMap(allowed: [String]?) throws(TokenGateError) -> [String: ConfigField] {
        Dictionary(uniqueKeysWithValues: try members(allowed: allowed).map { ($0.key, $0.field) })
    }

    /// An object used as a map (model, tier, shop or operation names as keys).
    func entries() throws(TokenGateError) -> [(key: String, field: ConfigField)] {
        try members(allowed: nil)
    }

    func required(_ members: [String: ConfigField], _ key: String) throws(TokenGateError) -> ConfigField {
        guard let member = members[key] else { throw fail("needs \(key)") }
        return member
    }

    func items() throws(TokenGateError) -> [ConfigField] {
        guard case .array(let items) = value else { throw fail("must be an array, not \(value.kindName)") }
        return items.enumerated().map { ConfigField(value: $1, path: "\(path)[\($0)]") }
    }

    func string() throws(TokenGateError) -> String {
        guard case .string(let text) = value else { throw fail("must be a string, not \(value.kindName)") }
        return text
    }

    func bool() throws(TokenGateError) -> Bool {
        guard case .bool(let flag) = value else { throw fail("must be true or false, not \(value.kindName)") }
        return flag
    }

    /// A whole number in 0...max, written as plain digits.
    func unsigned(max: UInt64) throws(TokenGateError) -> UInt64 {
        guard case .number(let text) = value else { throw fail("must be a whole number, not \(value.kindName)") }
        guard let number = UInt64(text), number <= max else { throw fail("is \(text); it must be a whole number 0...\(max)") }
        return number
    }

    /// A non-negative dollar amount: decimal text such as "5.00" or "0.00015" (a string, or a
    /// JSON number written without an exponent), read exactly with `Money.parseUSD`.
    func usd() throws(TokenGateError) -> NanoUSD {
        let text: String
        switch value {
        case .string(let string): text = string
        case .number(let number): text = number
        default: throw fail("must be a dollar amount such as \"5.00\", not \(value.kindName)")
        }
        let amount: NanoUSD
        do {
            amount = try Money.parseUSD(text)
        } catch {
            throw fail("is invalid: \(error.message)")
        }
        guard amount >= 0 else { throw fail("is \(text); dollar amounts must not be negative") }
        return amount
    }
}
