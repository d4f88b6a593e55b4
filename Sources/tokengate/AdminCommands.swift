// The CLI's configuration verbs (DESIGN §4): list and change prices, tiers, limits, shop tier
// assignments, rate limits, optimization rules, shadow mode and the unknown-shop policy at run
// time. Setters that change part of a setting read the current configuration first and send
// the whole setting back, so unspecified options keep their values. Dollar amounts are decimal
// text parsed exactly with Money.parseUSD; the daemon allows setters only to admin uids.
import TokenGateClient

/// The configuration verbs, in help order.
let adminCommands: [Command] = [
    Command(
        name: "config", synopsis: "config", summary: "the configuration in effect, in brief, and the shadow-mode counter (GetConfiguration)",
        options: [], switches: []
    ) { _, client in describeSummary(try await client.getConfiguration()) },
    Command(
        name: "prices",
        synopsis: "prices list | prices set (MODEL | --fallback) --input-usd X --output-usd Y [--cached-usd Z] [--effective-from TIME] "
            + "[--above-tokens N --above-input-usd X --above-output-usd Y [--above-cached-usd Z]] [--source TEXT]",
        summary: "list model prices (USD per 1M tokens) or add a price version (SetPrice); a version is complete: repeat its prompt tier",
        options: ["--input-usd", "--output-usd", "--cached-usd", "--effective-from", "--above-tokens", "--above-input-usd",
                  "--above-output-usd", "--above-cached-usd", "--source"],
        switches: ["--fallback"]
    ) { arguments, client in
        switch try subcommand(arguments, ["list", "set"]) {
        case "list": return describePrices(try await client.getConfiguration())
        default: return describe(try await client.setPrice(try priceRequest(arguments)).version)
        }
    },
    Command(
        name: "tiers",
        synopsis: "tiers list | tiers set NAME [--fee X] [--included N|unlimited] [--overage X] [--cap X|none] [--self-serve yes|no] "
            + "[--rpm N] [--tpm N] [--effective-from 2026-11-01T00:00:00Z]",
        summary: "list pricing tiers or create / change one (UpsertTier); options not given keep their values; "
            + "terms apply from now, or backdated into months not yet billed on the tier",
        options: ["--fee", "--included", "--overage", "--cap", "--self-serve", "--rpm", "--tpm", "--effective-from"], switches: []
    ) { arguments, client in
        switch try subcommand(arguments, ["list", "set"]) {
        case "list": return describeTiers(try await client.getConfiguration())
        default:
            let request = try tierRequest(arguments, current: try await client.getConfiguration())
            return describeTiers([try await client.upsertTier(request).tier], key: "tier")
        }
    },
    Command(
        name: "shop-tier", synopsis: "shop-tier SHOP TIER [--effective-from 2026-11-01T00:00:00Z]",
        summary: "put SHOP on TIER for billing and rate limits (AssignShopTier), from now or backdated into a month not yet billed",
        options: ["--effective-from"], switches: []
    ) { arguments, client in
        let response = try await client.assignShopTier(
            .init(shopID: try arguments.positional(0, "SHOP"), tier: try arguments.positional(1, "TIER"),
                  effectiveFromUnixMs: try arguments.time("--effective-from")))
        var report = Report()
        report.add("shop_id", response.shopID)
        report.add("tier", response.tier)
        report.add("previous_tier", response.previousTier)
        return report
    },
    Command(
        name: "limits",
        synopsis: "limits list [--shop SHOP] [--op OP] | limits set [--shop SHOP] [--op OP] [--daily-usd X] [--monthly-usd Y] "
            + "[--max-input N] [--max-output N] [--max-total N] [--alert-percent P]",
        summary: "list per-operation limits and per-shop overrides, or change them (SetLimits; --op defaults to chat_message)",
        options: ["--shop", "--op", "--daily-usd", "--monthly-usd", "--max-input", "--max-output", "--max-total", "--alert-percent"],
        switches: []
    ) { arguments, client in
        switch try subcommand(arguments, ["list", "set"]) {
        case "list": return describeLimits(try await client.getConfiguration(), arguments: arguments)
        default:
            let request = try limitsRequest(arguments, current: try await client.getConfiguration())
            return describeLimits([try await client.setLimits(request).limits])
        }
    },
    Command(
        name: "rate-limit", synopsis: "rate-limit (--tier TIER | --shop SHOP) [--rpm N] [--tpm N]",
        summary: "set requests / tokens per minute of a tier or a shop (SetRateLimit); an omitted value is unlimited, "
            + "neither removes the limit",
        options: ["--tier", "--shop", "--rpm", "--tpm"], switches: []
    ) { arguments, client in
        let request = SetRateLimitRequest(
            tier: arguments.string("--tier", default: ""), shopID: arguments.string("--shop", default: ""),
            rateLimit: RateLimit(requestsPerMinute: try arguments.unsigned32("--rpm"), tokensPerMinute: try arguments.unsigned("--tpm")))
        let response = try await client.setRateLimit(request)
        var report = Report()
        report.add("requests_per_minute", response.rateLimit.requestsPerMinute)
        report.add("tokens_per_minute", response.rateLimit.tokensPerMinute)
        return report
    },
    Command(
        name: "rules",
        synopsis: "rules list | rules set [--downgrade FROM=TO] [--remove-downgrade FROM] [--threshold-percent P] [--history-cap N]",
        summary: "list or change ApplyOptimization's rules (SetOptimizationRules; --threshold-percent 0 = the alert threshold)",
        options: ["--downgrade", "--remove-downgrade", "--threshold-percent", "--history-cap"], switches: []
    ) { arguments, client in
        switch try subcommand(arguments, ["list", "set"]) {
        case "list": return describe(try await client.getConfiguration().optimization)
        default:
            let rules = try rulesRequest(arguments, current: try await client.getConfiguration().optimization)
            return describe(try await client.setOptimizationRules(.init(rules: rules)).rules)
        }
    },
    Command(
        name: "shadow", synopsis: "shadow on|off|status [--shop SHOP]",
        summary: "shadow mode, globally or for one shop: the gate allows and counts what it would deny (SetShadowMode)",
        options: ["--shop"], switches: []
    ) { arguments, client in
        let verb = try subcommand(arguments, ["on", "off", "status"])
        if verb != "status" {
            _ = try await client.setShadowMode(.init(shopID: arguments.string("--shop", default: ""), enabled: verb == "on"))
        }
        let config = try await client.getConfiguration()
        var report = Report()
        report.add("global", config.shadowMode)
        report.addList("shops", config.shadowShops, json: config.shadowShops.map { .string($0) })
        report.add("shadow_denied_total", config.shadowDeniedTotal)
        return report
    },
    Command(
        name: "unknown-shops", synopsis: "unknown-shops default-tier|deny",
        summary: "what the gate does with shops it has never seen (SetUnknownShopPolicy)", options: [], switches: []
    ) { arguments, client in
        let policy: UnknownShopPolicy = try subcommand(arguments, ["default-tier", "deny"]) == "deny" ? .deny : .defaultTier
        var report = Report()
        report.add("policy", policyName(try await client.setUnknownShopPolicy(.init(policy: policy)).policy))
        return report
    },
]

// MARK: - Argument helpers

/// The first positional word, which must be one of `allowed`.
func subcommand(_ arguments: Arguments, _ allowed: [String]) throws -> String {
    let word = try arguments.positional(0, allowed.joined(separator: "|"))
    guard allowed.contains(word) else { throw UsageError(message: "'\(word)' is not one of \(allowed.joined(separator: ", "))") }
    return word
}

/// A non-negative dollar amount option, parsed exactly; nil when absent.
func usd(_ arguments: Arguments, _ name: String) throws -> NanoUSD? {
    guard let text = arguments.string(name) else { return nil }
    let amount: NanoUSD
    do {
        amount = try Money.parseUSD(text)
    } catch {
        throw UsageError(message: "\(name): \(error.message)")
    }
    guard amount >= 0 else { throw UsageError(message: "\(name) must not be negative, not '\(text)'") }
    return amount
}

/// A dollar amount option that must be given.
func requiredUSD(_ arguments: Arguments, _ name: String, _ why: String = "") throws -> NanoUSD {
    guard let amount = try usd(arguments, name) else { throw UsageError(message: "missing \(name)\(why)") }
    return amount
}

func priceRequest(_ arguments: Arguments) throws -> SetPriceRequest {
    let fallback = arguments.has("--fallback")
    let model = fallback ? "" : try arguments.positional(1, "MODEL (or --fallback)")
    let input = try requiredUSD(arguments, "--input-usd")
    let base = PriceRates(
        inputPerMillion: input, outputPerMillion: try requiredUSD(arguments, "--output-usd"),
        cachedInputPerMillion: try usd(arguments, "--cached-usd") ?? input)
    var tiers: [PromptTier] = []
    if arguments.string("--above-tokens") != nil {
        let aboveInput = try requiredUSD(arguments, "--above-input-usd", " (with --above-tokens)")
        tiers.append(PromptTier(
            promptTokensAbove: try arguments.unsigned("--above-tokens"),
            rates: PriceRates(
                inputPerMillion: aboveInput, outputPerMillion: try requiredUSD(arguments, "--above-output-usd", " (with --above-tokens)"),
                cachedInputPerMillion: try usd(arguments, "--above-cached-usd") ?? aboveInput)))
    }
    let version = PriceVersion(
        effectiveFromUnixMs: try arguments.time("--effective-from"), base: base, promptTiers: tiers,
        source: arguments.string("--source", default: ""))
    return SetPriceRequest(version: ModelPrice(model: model, version: version), asFallback: fallback)
}

func tierRequest(_ arguments: Arguments, current: GetConfigurationResponse) throws -> UpsertTierRequest {
    let name = try arguments.positional(1, "NAME")
    let existing = current.tiers.first { $0.tier.name == name }
    let why = " (\(name) is a new tier)"
    func amount(_ option: String, _ present: NanoUSD?) throws -> NanoUSD {
        if let given = try usd(arguments, option) { return given }
        if let present { return present }
        throw UsageError(message: "missing \(option)\(why)")
    }
    var included = existing?.tier.includedMessages
    if let text = arguments.string("--included") {
        included = text == "unlimited" ? nil : try arguments.unsigned("--included")
    } else if existing == nil {
        throw UsageError(message: "missing --included\(why)")
    }
    var cap = existing?.tier.maxMonthlySpendNanoUSD
    if let text = arguments.string("--cap") {
        cap = text == "none" ? nil : try usd(arguments, "--cap")
    } else if existing == nil {
        throw UsageError(message: "missing --cap\(why)")
    }
    var selfServe = existing?.tier.selfServe ?? true
    if let text = arguments.string("--self-serve") {
        guard text == "yes" || text == "no" else { throw UsageError(message: "--self-serve must be yes or no, not '\(text)'") }
        selfServe = text == "yes"
    }
    let tier = Tier(
        name: name, monthlyFeeNanoUSD: try amount("--fee", existing?.tier.monthlyFeeNanoUSD), includedMessages: included,
        overagePerMessageNanoUSD: try amount("--overage", existing?.tier.overagePerMessageNanoUSD),
        maxMonthlySpendNanoUSD: cap, selfServe: selfServe)
    var rate: RateLimit?
    if arguments.string("--rpm") != nil || arguments.string("--tpm") != nil {
        let present = existing?.rateLimit ?? .unlimited
        rate = RateLimit(
            requestsPerMinute: try arguments.unsigned32("--rpm", default: present.requestsPerMinute),
            tokensPerMinute: try arguments.unsigned("--tpm", default: present.tokensPerMinute))
    }
    return UpsertTierRequest(
        tier: TierSettings(tier: tier, rateLimit: rate), effectiveFromUnixMs: try arguments.time("--effective-from"))
}

func limitsRequest(_ arguments: Arguments, current: GetConfigurationResponse) throws -> SetLimitsRequest {
    let operation = arguments.string("--op", default: "chat_message")
    let shop = arguments.string("--shop", default: "")
    let present = current.effectiveLimits(operationType: operation, shopID: shop)?.limits
    let why = " (\(operation) has no limits yet)"
    func tokens(_ option: String, _ value: UInt64?) throws -> UInt64 {
        if arguments.string(option) != nil { return try arguments.unsigned(option) }
        if let value { return value }
        throw UsageError(message: "missing \(option)\(why)")
    }
    func amount(_ option: String, _ value: NanoUSD?) throws -> NanoUSD {
        if let given = try usd(arguments, option) { return given }
        if let value { return value }
        throw UsageError(message: "missing \(option)\(why)")
    }
    func percent() throws -> UInt32 {
        if arguments.string("--alert-percent") != nil { return try arguments.unsigned32("--alert-percent") }
        if let value = present?.alertThresholdPercent { return value }
        throw UsageError(message: "missing --alert-percent\(why)")
    }
    let limits = OperationLimits(
        maxInputTokensPerMessage: try tokens("--max-input", present?.maxInputTokensPerMessage),
        maxOutputTokensPerMessage: try tokens("--max-output", present?.maxOutputTokensPerMessage),
        maxTotalTokensPerMessage: try tokens("--max-total", present?.maxTotalTokensPerMessage),
        dailyCostCapNanoUSD: try amount("--daily-usd", present?.dailyCostCapNanoUSD),
        monthlyCostCapNanoUSD: try amount("--monthly-usd", present?.monthlyCostCapNanoUSD), alertThresholdPercent: try percent())
    return SetLimitsRequest(limits: OperationLimitsEntry(operationType: operation, shopID: shop, limits: limits))
}

func rulesRequest(_ arguments: Arguments, current: OptimizationRules) throws -> OptimizationRules {
    var rules = current
    if let mapping = arguments.string("--downgrade") {
        let parts = mapping.split(separator: "=", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else {
            throw UsageError(message: "--downgrade must look like FROM=TO, not '\(mapping)'")
        }
        rules.modelDowngrades[String(parts[0])] = String(parts[1])
    }
    if let from = arguments.string("--remove-downgrade") {
        guard rules.modelDowngrades.removeValue(forKey: from) != nil else { throw UsageError(message: "no downgrade from '\(from)' is configured") }
    }
    if arguments.string("--threshold-percent") != nil {
        let percent = try arguments.unsigned32("--threshold-percent")
        rules.thresholdPercent = percent == 0 ? nil : percent
    }
    if arguments.string("--history-cap") != nil { rules.historyCap = try arguments.unsigned32("--history-cap") }
    return rules
}

// MARK: - Descriptions

func policyName(_ policy: UnknownShopPolicy) -> String { policy == .deny ? "deny" : "default-tier" }

/// Rows as aligned columns, each line indented, after a newline (for a table under its key).
func table(_ rows: [[String]]) -> String {
    guard !rows.isEmpty else { return "-" }
    let widths = (0..<(rows.map(\.count).max() ?? 0)).map { column in rows.map { column < $0.count ? $0[column].count : 0 }.max() ?? 0 }
    return rows.map { row in
        "\n  " + row.enumerated().map { $1.padding(toLength: $0 == row.count - 1 ? $1.count : widths[$0], withPad: " ", startingAt: 0) }
            .joined(separator: "  ")
    }.joined()
}

func describeSummary(_ config: GetConfigurationResponse) -> Report {
    var report = Report()
    report.add("models", UInt64(Set(config.prices.map(\.model)).count))
    report.add("fallback_price", config.fallbackPrice != nil)
    report.addList("tiers", config.tiers.map(\.tier.name), json: config.tiers.map { .string($0.tier.name) })
    report.add("default_tier", config.defaultTier)
    report.add("operation_types", UInt64(config.limits.filter(\.shopID.isEmpty).count))
    report.add("shop_limit_overrides", UInt64(config.limits.filter { !$0.shopID.isEmpty }.count))
    report.add("shop_rate_limits", UInt64(config.shopRateLimits.count))
    report.add("reservation_ttl_ms", UInt64(max(0, config.reservationTTLMs)))
    report.add("unknown_shops", policyName(config.unknownShopPolicy))
    report.add("shadow_mode", config.shadowMode)
    report.addList("shadow_shops", config.shadowShops, json: config.shadowShops.map { .string($0) })
    report.add("shadow_denied_total", config.shadowDeniedTotal)
    return report
}

func ratesJSON(_ rates: PriceRates) -> [(String, JSON)] {
    [("input_per_million_nano_usd", .int(rates.inputPerMillion)), ("output_per_million_nano_usd", .int(rates.outputPerMillion)),
     ("cached_input_per_million_nano_usd", .int(rates.cachedInputPerMillion))]
}

func ratesText(_ rates: PriceRates) -> String {
    "in \(Money.formatUSD(rates.inputPerMillion))  out \(Money.formatUSD(rates.outputPerMillion))  "
        + "cached \(Money.formatUSD(rates.cachedInputPerMillion))"
}

func priceJSON(_ price: ModelPrice) -> JSON {
    let tiers: [JSON] = price.version.promptTiers.map { .object([("prompt_tokens_above", .uint($0.promptTokensAbove))] + ratesJSON($0.rates)) }
    return .object([("model", .string(price.model)), ("effective_from_unix_ms", .int(price.version.effectiveFromUnixMs))]
        + ratesJSON(price.version.base) + [("prompt_tiers", .array(tiers)), ("source", .string(price.version.source))])
}

func priceRow(_ price: ModelPrice) -> [String] {
    let tiers = price.version.promptTiers.map { "above \($0.promptTokensAbove): \(ratesText($0.rates))" }
    return [price.model.isEmpty ? "(fallback)" : price.model, "from " + UTCCalendar.iso8601(price.version.effectiveFromUnixMs),
            ratesText(price.version.base)] + tiers + ["(\(price.version.source))"]
}

func describePrices(_ config: GetConfigurationResponse) -> Report {
    var prices = config.prices
    if let fallback = config.fallbackPrice { prices.append(ModelPrice(model: "", version: fallback)) }
    var report = Report()
    report.add("prices_usd_per_million_tokens", human: table(prices.map(priceRow)), json: .array(prices.map(priceJSON)))
    return report
}

func describe(_ price: ModelPrice) -> Report {
    var report = Report()
    report.add("price_usd_per_million_tokens", human: table([priceRow(price)]), json: priceJSON(price))
    return report
}

func tierJSON(_ settings: TierSettings) -> JSON {
    let tier = settings.tier
    let rate = settings.rateLimit ?? .unlimited
    return .object([
        ("name", .string(tier.name)), ("monthly_fee_nano_usd", .int(tier.monthlyFeeNanoUSD)),
        ("included_messages", .uint(tier.includedMessages ?? 0)), ("unlimited_messages", .bool(tier.includedMessages == nil)),
        ("overage_per_message_nano_usd", .int(tier.overagePerMessageNanoUSD)),
        ("max_monthly_spend_nano_usd", .int(tier.maxMonthlySpendNanoUSD ?? 0)), ("no_spend_cap", .bool(tier.maxMonthlySpendNanoUSD == nil)),
        ("self_serve", .bool(tier.selfServe)), ("requests_per_minute", .uint(UInt64(rate.requestsPerMinute))),
        ("tokens_per_minute", .uint(rate.tokensPerMinute)),
    ])
}

func tierRow(_ settings: TierSettings) -> [String] {
    let tier = settings.tier
    let rate = settings.rateLimit ?? .unlimited
    return [
        tier.name, "fee \(Money.formatUSD(tier.monthlyFeeNanoUSD))",
        "included \(tier.includedMessages.map(String.init) ?? "unlimited")",
        "overage \(Money.formatUSD(tier.overagePerMessageNanoUSD))/msg",
        "cap \(tier.maxMonthlySpendNanoUSD.map(Money.formatUSD) ?? "none")", tier.selfServe ? "self-serve" : "custom",
        "rpm \(rate.requestsPerMinute == 0 ? "-" : String(rate.requestsPerMinute))",
        "tpm \(rate.tokensPerMinute == 0 ? "-" : String(rate.tokensPerMinute))",
    ]
}

func describeTiers(_ config: GetConfigurationResponse) -> Report {
    var report = describeTiers(config.tiers, key: "tiers")
    report.add("default_tier", config.defaultTier)
    return report
}

func describeTiers(_ tiers: [TierSettings], key: String) -> Report {
    var report = Report()
    report.add(key, human: table(tiers.map(tierRow)), json: tiers.count == 1 && key == "tier" ? tierJSON(tiers[0]) : .array(tiers.map(tierJSON)))
    return report
}

func limitsJSON(_ entry: OperationLimitsEntry) -> JSON {
    let limits = entry.limits
    return .object([
        ("operation_type", .string(entry.operationType)), ("shop_id", .string(entry.shopID)),
        ("max_input_tokens", .uint(limits.maxInputTokensPerMessage)), ("max_output_tokens", .uint(limits.maxOutputTokensPerMessage)),
        ("max_total_tokens", .uint(limits.maxTotalTokensPerMessage)), ("daily_cap_nano_usd", .int(limits.dailyCostCapNanoUSD)),
        ("monthly_cap_nano_usd", .int(limits.monthlyCostCapNanoUSD)), ("alert_percent", .uint(UInt64(limits.alertThresholdPercent))),
    ])
}

func limitsRow(_ entry: OperationLimitsEntry) -> [String] {
    let limits = entry.limits
    return [
        entry.shopID.isEmpty ? "(default)" : entry.shopID, entry.operationType,
        "max in \(limits.maxInputTokensPerMessage) out \(limits.maxOutputTokensPerMessage) total \(limits.maxTotalTokensPerMessage)",
        "daily \(Money.formatUSD(limits.dailyCostCapNanoUSD))", "monthly \(Money.formatUSD(limits.monthlyCostCapNanoUSD))",
        "alert \(limits.alertThresholdPercent)%",
    ]
}

func describeLimits(_ config: GetConfigurationResponse, arguments: Arguments) -> Report {
    var entries = config.limits
    if let shop = arguments.string("--shop") { entries = entries.filter { $0.shopID.isEmpty || $0.shopID == shop } }
    if let operation = arguments.string("--op") { entries = entries.filter { $0.operationType == operation } }
    return describeLimits(entries)
}

func describeLimits(_ entries: [OperationLimitsEntry]) -> Report {
    var report = Report()
    report.add("limits", human: table(entries.map(limitsRow)), json: .array(entries.map(limitsJSON)))
    return report
}

func describe(_ rules: OptimizationRules) -> Report {
    let downgrades = rules.modelDowngrades.sorted { $0.key < $1.key }
    var report = Report()
    report.addList("downgrades", downgrades.map { "\($0.key) -> \($0.value)" }, json: downgrades.map {
        .object([("from_model", .string($0.key)), ("to_model", .string($0.value))])
    })
    report.add("threshold_percent", human: rules.thresholdPercent.map { "\($0)%" } ?? "the alert threshold",
               json: .uint(UInt64(rules.thresholdPercent ?? 0)))
    report.add("history_cap", rules.historyCap)
    return report
}
