// The CLI verbs of billing, reports, usage logs and alerts (DESIGN §3 GenerateBilling, §4):
// each builds a typed request, calls the daemon and prints a table for people or one JSON
// object with --json. `export-csv` writes the CSV stream to stdout as it arrives, and
// `alerts watch` prints one JSON object per line, flushed, for piping to a mailer.
import Foundation
import TokenGateClient

private let filterOptions: Set<String> = ["--shop", "--from", "--to"]

/// The verbs of billing, reports, usage logs and alerts.
let reportCommands: [Command] = billingCommands + viewCommands + logCommands + alertCommands

private let billingCommands: [Command] = [
    Command(
        name: "bills", synopsis: "bills SHOP", summary: "the shop's stored billing records (ListBillingRecords)",
        options: [], switches: []
    ) { arguments, client in
        let response = try await client.listBillingRecords(.init(shopID: try arguments.positional(0, "SHOP")))
        return describeRecords(response.records)
    },
    Command(
        name: "bill-all", synopsis: "bill-all --period YYYY-MM",
        summary: "store the bill of every shop with usage or a tier in an ended month, quiet ones included (GenerateBillingBatch, admin)",
        options: ["--period"], switches: []
    ) { arguments, client in
        let response = try await client.generateBillingBatch(.init(period: try requiredPeriod(arguments)))
        var report = describeRecords(response.records)
        let heading = "generated \(response.generated), already stored \(response.alreadyStored), "
            + "quiet (no usage, fee only) \(response.quiet), total charge \(Money.formatUSD(response.totalChargeNanoUSD))"
        report.humanText = heading + "\n\n" + (report.humanText ?? "")
        report.add("generated", response.generated)
        report.add("already_stored", response.alreadyStored)
        report.add("quiet", response.quiet)
        report.addMoney("total_charge", response.totalChargeNanoUSD)
        return report
    },
    Command(
        name: "mark-paid", synopsis: "mark-paid SHOP --period YYYY-MM", summary: "mark a stored bill paid (MarkPaid, admin)",
        options: ["--period"], switches: []
    ) { arguments, client in
        let response = try await client.markPaid(.init(shopID: try arguments.positional(0, "SHOP"), period: try requiredPeriod(arguments)))
        return describe(response.record)
    },
    Command(
        name: "void", synopsis: "void SHOP --period YYYY-MM --reason TEXT",
        summary: "void a stored bill, kept beside its reissue; the month can be billed again (VoidBilling, admin)",
        options: ["--period", "--reason"], switches: []
    ) { arguments, client in
        guard let reason = arguments.string("--reason"), !reason.isEmpty else {
            throw UsageError(message: "--reason TEXT is required: say why the bill is voided")
        }
        let response = try await client.voidBilling(
            .init(shopID: try arguments.positional(0, "SHOP"), period: try requiredPeriod(arguments), reason: reason))
        return describe(response.record)
    },
]

private let viewCommands: [Command] = [
    Command(
        name: "shop", synopsis: "shop SHOP", summary: "the shop's billing dashboard for this month (GetShopView)",
        options: [], switches: []
    ) { arguments, client in
        describe(try await client.shopView(.init(shopID: try arguments.positional(0, "SHOP"))))
    },
    Command(
        name: "stats", synopsis: "stats [--shop SHOP] [--from TIME] [--to TIME]",
        summary: "totals, by operation type and by shop, over [from, to) (GetStatistics)",
        options: filterOptions, switches: []
    ) { arguments, client in
        let response = try await client.statistics(.init(filter: try usageFilter(arguments)))
        return describeGroups(totals: response.totals, byOperation: response.byOperation, byShop: response.byShop)
    },
    Command(
        name: "summary", synopsis: "summary --period YYYY-MM [--shop SHOP]",
        summary: "one row per shop of a month: messages, tokens, cost, averages (GetMonthlySummary)",
        options: ["--period", "--shop"], switches: []
    ) { arguments, client in
        let response = try await client.monthlySummary(.init(
            period: try requiredPeriod(arguments), shopID: arguments.string("--shop", default: "")))
        return describe(response)
    },
    Command(
        name: "report", synopsis: "report --period YYYY-MM",
        summary: "a month's totals, by operation type and by shop (GetMonthlyReport)", options: ["--period"], switches: []
    ) { arguments, client in
        let response = try await client.monthlyReport(.init(period: try requiredPeriod(arguments)))
        var report = describeGroups(totals: response.totals, byOperation: response.byOperation, byShop: response.byShop)
        report.humanText = "period \(response.period)\n\n" + (report.humanText ?? "")
        return report
    },
    Command(
        name: "high-cost", synopsis: "high-cost [--threshold-usd X] [--top N]",
        summary: "shops that spent more than X (default $1.00) in the last 24 hours (GetHighCostShops)",
        options: ["--threshold-usd", "--top"], switches: []
    ) { arguments, client in
        var threshold: NanoUSD = 0
        if let text = arguments.string("--threshold-usd") {
            do throws(TokenGateError) { threshold = try Money.parseUSD(text) } catch { throw UsageError(message: "--threshold-usd: \(error.message)") }
        }
        let response = try await client.highCostShops(.init(thresholdNanoUSD: threshold, top: try arguments.unsigned32("--top")))
        return describe(response)
    },
    Command(
        name: "projection", synopsis: "projection [--shop SHOP]",
        summary: "projected month-end cost per shop: spent + daily run rate × days left (GetProjections)",
        options: ["--shop"], switches: []
    ) { arguments, client in
        describe(try await client.projections(.init(shopID: arguments.string("--shop", default: ""))))
    },
]

private let logCommands: [Command] = [
    Command(
        name: "logs", synopsis: "logs SHOP [--from TIME] [--to TIME] [--page-size N] [--cursor C] [--all]",
        summary: "the shop's usage events in recording order, a page at a time (QueryUsageLogs); --all follows every page",
        options: ["--from", "--to", "--page-size", "--cursor"], switches: ["--all"]
    ) { arguments, client in
        var filter = try usageFilter(arguments)
        filter.shopID = try arguments.positional(0, "SHOP")
        var request = QueryUsageLogsRequest(
            filter: filter, pageSize: try arguments.unsigned32("--page-size"), cursor: arguments.string("--cursor", default: ""))
        var events: [UsageEvent] = []
        var response: QueryUsageLogsResponse
        repeat {
            response = try await client.queryUsageLogs(request)
            events += response.events
            request.cursor = response.nextCursor
        } while arguments.has("--all") && !response.nextCursor.isEmpty
        return describe(events, nextCursor: response.nextCursor)
    },
    Command(
        name: "export-csv", synopsis: "export-csv [--shop SHOP] [--from TIME] [--to TIME] > usage.csv",
        summary: "every matching usage event as RFC 4180 CSV on stdout (ExportUsageCsv, streamed)",
        options: filterOptions, switches: []
    ) { arguments, client in
        for try await chunk in client.exportUsageCSV(.init(filter: try usageFilter(arguments))) {
            FileHandle.standardOutput.write(Data(chunk.data))
        }
        exit(0)
    },
]

private let alertCommands: [Command] = [
    Command(
        name: "alerts", synopsis: "alerts list|watch [--shop SHOP] [--limit N]",
        summary: "stored alerts, newest first (ListAlerts), or every new one as a JSON line (WatchAlerts)",
        options: ["--shop", "--limit"], switches: []
    ) { arguments, client in
        let shopID = arguments.string("--shop", default: "")
        switch try arguments.positional(0, "list or watch") {
        case "list":
            return describe(try await client.listAlerts(.init(shopID: shopID, limit: try arguments.unsigned32("--limit"))).alerts)
        case "watch":
            for try await alert in client.watchAlerts(.init(shopID: shopID)) {
                // One unbuffered write per alert: the line is out before the next one arrives.
                FileHandle.standardOutput.write(Data((alertJSON(alert).text + "\n").utf8))
            }
            exit(0)
        case let other:
            throw UsageError(message: "unknown alerts action '\(other)'; use list or watch")
        }
    },
]

// MARK: - Arguments

/// `--period`, required.
private func requiredPeriod(_ arguments: Arguments) throws -> String {
    guard let period = arguments.string("--period") else { throw UsageError(message: "missing --period YYYY-MM") }
    return period
}

/// `--shop`, `--from` and `--to` as a filter; times are ISO 8601 UTC (`2026-11-01T00:00:00Z`)
/// or a UTC date (`2026-11-01`, its midnight).
private func usageFilter(_ arguments: Arguments) throws -> UsageFilter {
    UsageFilter(
        shopID: arguments.string("--shop", default: ""), fromUnixMs: try arguments.time("--from"),
        toUnixMs: try arguments.time("--to"))
}

// MARK: - Descriptions

private func describe(_ view: ShopView) -> Report {
    var report = Report()
    report.add("shop_id", view.shopID)
    report.add("tier", view.tier)
    report.add("period", view.period)
    report.add("messages_this_month", view.messagesThisMonth)
    report.addMoney("api_cost_this_month", view.apiCostThisMonthNanoUSD)
    report.addMoney("estimated_bill", view.estimatedBillNanoUSD)
    report.add("recommended_tier", view.recommendedTier)
    report.addMoney("saving", view.savingNanoUSD)
    report.addMoney("daily_spent", view.dailySpentNanoUSD)
    report.addMoney("daily_cap", view.dailyCapNanoUSD)
    report.add("daily_used_basis_points", view.dailyUsedBasisPoints)
    report.addMoney("monthly_spent", view.monthlySpentNanoUSD)
    report.addMoney("monthly_cap", view.monthlyCapNanoUSD)
    report.add("monthly_used_basis_points", view.monthlyUsedBasisPoints)
    report.add("included_messages", view.includedMessages)
    report.add("unlimited_messages", view.unlimitedMessages)
    report.humanText = dashboard(view)
    return report
}

/// The seed's PricingPanel, in text: the three tiles, the saving banner, the budgets.
func dashboard(_ view: ShopView) -> String {
    let tiles = Table(
        headers: ["Current Plan", "Messages This Month", "Estimated Bill"],
        rows: [[view.tier, grouped(view.messagesThisMonth), Money.formatUSD(view.estimatedBillNanoUSD)]])
    var lines = ["AI Usage & Billing: \(view.shopID) (\(view.period))", "", tiles.render(indent: "  "), ""]
    if view.recommendedTier != view.tier && view.savingNanoUSD > 0 {
        lines += ["  Switch to the \(view.recommendedTier) plan to save \(Money.formatUSD(view.savingNanoUSD))/month", ""]
    }
    let plan = view.unlimitedMessages ? "unlimited messages" : "\(grouped(view.includedMessages)) messages"
    lines += [
        "  API cost this month  \(Money.formatUSD(view.apiCostThisMonthNanoUSD))",
        "  Daily budget         \(Money.formatUSD(view.dailySpentNanoUSD)) of \(Money.formatUSD(view.dailyCapNanoUSD)) (\(percent(view.dailyUsedBasisPoints)))",
        "  Monthly budget       \(Money.formatUSD(view.monthlySpentNanoUSD)) of \(Money.formatUSD(view.monthlyCapNanoUSD)) (\(percent(view.monthlyUsedBasisPoints)))",
        "  Plan includes        \(plan)",
    ]
    return lines.joined(separator: "\n")
}

private func describeGroups(totals: GroupTotals, byOperation: [GroupTotals], byShop: [GroupTotals]) -> Report {
    var report = Report()
    report.addJSON("totals", groupJSON(totals), human: "")
    report.addJSON("by_operation", .array(byOperation.map(groupJSON)), human: "")
    report.addJSON("by_shop", .array(byShop.map(groupJSON)), human: "")
    let rows = [groupRow("total", totals)] + byOperation.map { groupRow("operation", $0) } + byShop.map { groupRow("shop", $0) }
    report.humanText = Table(
        headers: ["group", "key", "events", "input", "output", "cached", "total_tokens", "cost", "avg_cost"], rows: rows,
        rightAligned: [2, 3, 4, 5, 6, 7, 8]
    ).render()
    return report
}

private func groupRow(_ group: String, _ totals: GroupTotals) -> [String] {
    [group, totals.key.isEmpty ? "-" : totals.key, grouped(totals.events), grouped(totals.inputTokens), grouped(totals.outputTokens),
     grouped(totals.cachedInputTokens), grouped(totals.totalTokens), Money.formatUSD(totals.costNanoUSD),
     Money.formatUSD(totals.averageCostNanoUSD)]
}

private func groupJSON(_ totals: GroupTotals) -> JSON {
    .object([("key", .string(totals.key)), ("events", .uint(totals.events)), ("input_tokens", .uint(totals.inputTokens)),
             ("output_tokens", .uint(totals.outputTokens)), ("cached_input_tokens", .uint(totals.cachedInputTokens)),
             ("total_tokens", .uint(totals.totalTokens)), ("cost_nano_usd", .int(totals.costNanoUSD)),
             ("average_cost_nano_usd", .int(totals.averageCostNanoUSD))])
}

private func describe(_ response: GetMonthlySummaryResponse) -> Report {
    var report = Report()
    report.addJSON("shops", .array(response.shops.map { row in
        .object([("shop_id", .string(row.shopID)), ("period", .string(row.period)), ("messages", .uint(row.messages)),
                 ("input_tokens", .uint(row.inputTokens)), ("output_tokens", .uint(row.outputTokens)),
                 ("total_tokens", .uint(row.totalTokens)), ("cost_nano_usd", .int(row.costNanoUSD)),
                 ("average_tokens_per_message", .uint(row.averageTokensPerMessage)),
                 ("average_cost_per_message_nano_usd", .int(row.averageCostPerMessageNanoUSD))])
    }), human: "")
    report.humanText = Table(
        headers: ["shop", "period", "messages", "input", "output", "total_tokens", "cost", "avg_tokens", "avg_cost"],
        rows: response.shops.map { row in
            [row.shopID, row.period, grouped(row.messages), grouped(row.inputTokens), grouped(row.outputTokens),
             grouped(row.totalTokens), Money.formatUSD(row.costNanoUSD), grouped(row.averageTokensPerMessage),
             Money.formatUSD(row.averageCostPerMessageNanoUSD)]
        }, rightAligned: [2, 3, 4, 5, 6, 7, 8]
    ).render()
    return report
}

private func describe(_ response: GetHighCostShopsResponse) -> Report {
    var report = Report()
    report.addJSON("shops", .array(response.shops.map { shop in
        .object([("shop_id", .string(shop.shopID)), ("messages", .uint(shop.messages)), ("tokens", .uint(shop.tokens)),
                 ("cost_nano_usd", .int(shop.costNanoUSD)),
                 ("projected_monthly_cost_nano_usd", .int(shop.projectedMonthlyCostNanoUSD))])
    }), human: "")
    report.humanText = Table(
        headers: ["shop", "messages_24h", "tokens_24h", "cost_24h", "projected_month"],
        rows: response.shops.map { shop in
            [shop.shopID, grouped(shop.messages), grouped(shop.tokens), Money.formatUSD(shop.costNanoUSD),
             Money.formatUSD(shop.projectedMonthlyCostNanoUSD)]
        }, rightAligned: [1, 2, 3, 4]
    ).render()
    return report
}

private func describe(_ response: GetProjectionsResponse) -> Report {
    var report = Report()
    report.addJSON("projections", .array(response.projections.map { row in
        .object([("shop_id", .string(row.shopID)), ("period", .string(row.period)),
                 ("messages_this_month", .uint(row.messagesThisMonth)), ("spent_nano_usd", .int(row.spentNanoUSD)),
                 ("daily_run_rate_nano_usd", .int(row.dailyRunRateNanoUSD)), ("days_left", .uint(UInt64(row.daysLeft))),
                 ("projected_month_end_nano_usd", .int(row.projectedMonthEndNanoUSD))])
    }), human: "")
    report.humanText = Table(
        headers: ["shop", "period", "messages", "spent", "per_day", "days_left", "projected_month_end"],
        rows: response.projections.map { row in
            [row.shopID, row.period, grouped(row.messagesThisMonth), Money.formatUSD(row.spentNanoUSD),
             Money.formatUSD(row.dailyRunRateNanoUSD), String(row.daysLeft), Money.formatUSD(row.projectedMonthEndNanoUSD)]
        }, rightAligned: [2, 3, 4, 5, 6]
    ).render()
    return report
}

private func describe(_ events: [UsageEvent], nextCursor: String) -> Report {
    var report = Report()
    report.addJSON("events", .array(events.map { event in
        .object([("event_id", .string(event.eventID)), ("shop_id", .string(event.shopID)), ("user_id", .string(event.userID)),
                 ("conversation_id", .string(event.conversationID)), ("operation_type", .string(event.operationType)),
                 ("model", .string(event.model)), ("input_tokens", .uint(event.inputTokens)),
                 ("output_tokens", .uint(event.outputTokens)), ("cached_input_tokens", .uint(event.cachedInputTokens)),
                 ("cost_nano_usd", .int(event.costNanoUSD)), ("occurred_at_unix_ms", .int(event.occurredAtUnixMs)),
                 ("occurred_at", .string(UTCCalendar.iso8601(event.occurredAtUnixMs)))])
    }), human: "")
    report.add("next_cursor", nextCursor)
    let table = Table(
        headers: ["occurred_at", "event_id", "operation", "model", "input", "output", "cost"],
        rows: events.map { event in
            [UTCCalendar.iso8601(event.occurredAtUnixMs), event.eventID, event.operationType, event.model,
             grouped(event.inputTokens), grouped(event.outputTokens), Money.formatUSD(event.costNanoUSD)]
        }, rightAligned: [4, 5, 6])
    report.humanText = table.render() + "\nnext_cursor  " + (nextCursor.isEmpty ? "- (no more events now)" : nextCursor)
    return report
}

private func describe(_ alerts: [Alert]) -> Report {
    var report = Report()
    report.addJSON("alerts", .array(alerts.map(alertJSON)), human: "")
    report.humanText = Table(
        headers: ["raised_at", "shop", "kind", "period", "threshold", "actual", "message"],
        rows: alerts.map { alert in
            [UTCCalendar.iso8601(alert.raisedAtUnixMs), alert.shopID, alert.kind.description, alert.period,
             Money.formatUSD(alert.thresholdNanoUSD), Money.formatUSD(alert.actualNanoUSD), alert.message]
        }, rightAligned: [4, 5]
    ).render()
    return report
}

/// One alert as the JSON object `alerts watch` prints per line.
func alertJSON(_ alert: Alert) -> JSON {
    .object([("shop_id", .string(alert.shopID)), ("kind", .string(alert.kind.description)), ("period", .string(alert.period)),
             ("threshold_nano_usd", .int(alert.thresholdNanoUSD)), ("actual_nano_usd", .int(alert.actualNanoUSD)),
             ("raised_at_unix_ms", .int(alert.raisedAtUnixMs)), ("raised_at", .string(UTCCalendar.iso8601(alert.raisedAtUnixMs))),
             ("message", .string(alert.message))])
}

private func describeRecords(_ records: [BillingRecord]) -> Report {
    var report = Report()
    report.addJSON("records", .array(records.map { .object(recordJSON($0)) }), human: "")
    report.humanText = Table(
        headers: ["shop", "period", "tier", "messages", "api_cost", "base", "overage", "total", "paid", "void"],
        rows: records.map { record in
            [record.shopID, record.period, record.tier, grouped(record.messagesUsed), Money.formatUSD(record.apiCostNanoUSD),
             Money.formatUSD(record.baseChargeNanoUSD), Money.formatUSD(record.overageChargeNanoUSD),
             Money.formatUSD(record.totalChargeNanoUSD), record.paid ? "yes" : "no",
             record.isVoid ? "VOID \(UTCCalendar.iso8601(record.voidedAtUnixMs)) uid \(record.voidedByUID): \(record.voidReason)" : "-"]
        }, rightAligned: [3, 4, 5, 6, 7]
    ).render()
    return report
}

private func recordJSON(_ record: BillingRecord) -> [(String, JSON)] {
    [("shop_id", .string(record.shopID)), ("period", .string(record.period)), ("tier", .string(record.tier)),
     ("messages_used", .uint(record.messagesUsed)), ("tokens_used", .uint(record.tokensUsed)),
     ("api_cost_nano_usd", .int(record.apiCostNanoUSD)), ("base_charge_nano_usd", .int(record.baseChargeNanoUSD)),
     ("overage_charge_nano_usd", .int(record.overageChargeNanoUSD)), ("total_charge_nano_usd", .int(record.totalChargeNanoUSD)),
     ("paid", .bool(record.paid)), ("generated_at_unix_ms", .int(record.generatedAtUnixMs)),
     ("void", .bool(record.isVoid)), ("void_reason", .string(record.voidReason)),
     ("voided_at_unix_ms", .int(record.voidedAtUnixMs)), ("voided_by_uid", .uint(UInt64(record.voidedByUID)))]
}

private func describe(_ record: BillingRecord) -> Report {
    var report = Report()
    report.add("shop_id", record.shopID)
    report.add("period", record.period)
    report.add("tier", record.tier)
    report.add("messages_used", record.messagesUsed)
    report.add("tokens_used", record.tokensUsed)
    report.addMoney("api_cost", record.apiCostNanoUSD)
    report.addMoney("base_charge", record.baseChargeNanoUSD)
    report.addMoney("overage_charge", record.overageChargeNanoUSD)
    report.addMoney("total_charge", record.totalChargeNanoUSD)
    report.add("paid", record.paid)
    if record.isVoid {
        report.add("void_reason", record.voidReason)
        report.add("voided_at", UTCCalendar.iso8601(record.voidedAtUnixMs))
        report.add("voided_by_uid", UInt64(record.voidedByUID))
    }
    return report
}

// MARK: - Formatting

/// `1234567` → `1,234,567`.
func grouped(_ value: UInt64) -> String {
    var digits = String(value)
    var out = ""
    while digits.count > 3 {
        out = "," + digits.suffix(3) + out
        digits.removeLast(3)
    }
    return digits + out
}

/// Basis points as a percentage with two decimals: `1234` → `12.34%`.
func percent(_ basisPoints: UInt32) -> String {
    let fraction = String(basisPoints % 100)
    return "\(basisPoints / 100).\(fraction.count == 1 ? "0" + fraction : fraction)%"
}

/// A plain-text table: a header row, a rule, and columns padded to their widest cell.
struct Table {
    var headers: [String]
    var rows: [[String]]
    /// Columns whose cells are padded on the left (numbers).
    var rightAligned: Set<Int> = []

    func render(indent: String = "") -> String {
        let widths = headers.indices.map { column in
            ([headers[column]] + rows.map { $0[column] }).map(\.count).max() ?? 0
        }
        func line(_ cells: [String]) -> String {
            let padded = cells.enumerated().map { column, cell in
                let padding = String(repeating: " ", count: widths[column] - cell.count)
                return rightAligned.contains(column) ? padding + cell : cell + padding
            }
            return indent + padded.joined(separator: "  ").trimmingTrailingSpaces()
        }
        let rule = indent + widths.map { String(repeating: "-", count: $0) }.joined(separator: "  ")
        return ([line(headers), rule] + rows.map(line) + (rows.isEmpty ? [indent + "(none)"] : [])).joined(separator: "\n")
    }
}

extension String {
    fileprivate func trimmingTrailingSpaces() -> String {
        var text = self
        while text.last == " " { text.removeLast() }
        return text
    }
}
