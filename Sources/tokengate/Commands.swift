// The CLI's verbs: one per RPC, each a few lines that build a typed request, call the daemon
// through TokenGateClient and describe the answer.
import TokenGateClient

struct Command {
    let name: String
    let synopsis: String
    let summary: String
    let options: Set<String>
    let switches: Set<String>
    let run: @Sendable (Arguments, TokenGateClient) async throws -> Report
    /// Set for verbs that work on files without a daemon (StorageCommands.swift).
    var offline: (@Sendable (Arguments) throws -> OfflineOutcome)? = nil
}

private let usageOptions: Set<String> = ["--op", "--model", "--input-tokens", "--output-tokens"]

/// Every verb, in help order. Each feature area contributes its verbs from its own file.
let commands: [Command] = gateCommands + adminCommands + reportCommands + storageCommands + deadLetterCommands + opsCommands

/// The verbs of the hot RPCs and health.
let gateCommands: [Command] = [
    Command(
        name: "check", synopsis: "check SHOP [--op OP] [--model M] [--input-tokens N] [--output-tokens N] [--reserve]",
        summary: "ask whether SHOP may make a call (CanMakeRequest); --reserve holds its worst-case cost",
        options: usageOptions.union(["--request-id"]), switches: ["--reserve"]
    ) { arguments, client in
        let response = try await client.canMakeRequest(CanMakeRequestRequest(
            shopID: try arguments.positional(0, "SHOP"), operationType: arguments.string("--op", default: "chat_message"),
            model: arguments.string("--model", default: "gemini-2.5-flash"),
            estimatedInputTokens: try arguments.unsigned("--input-tokens"), maxOutputTokens: try arguments.unsigned("--output-tokens"),
            requestID: arguments.string("--request-id", default: ""), reserve: arguments.has("--reserve")))
        return describe(response)
    },
    Command(
        name: "release", synopsis: "release RESERVATION_ID", summary: "cancel a reservation (ReleaseReservation)",
        options: [], switches: []
    ) { arguments, client in
        let response = try await client.releaseReservation(.init(reservationID: try arguments.positional(0, "RESERVATION_ID")))
        var report = Report()
        report.addMoney("released", response.releasedNanoUSD)
        return report
    },
    Command(
        name: "optimize", synopsis: "optimize SHOP [--op OP] [--model M] [--history N] [--input-tokens N] [--output-tokens N]",
        summary: "ask for a cheaper way to make the call near the budget (ApplyOptimization)",
        options: usageOptions.union(["--history"]), switches: []
    ) { arguments, client in
        let response = try await client.applyOptimization(ApplyOptimizationRequest(
            shopID: try arguments.positional(0, "SHOP"), operationType: arguments.string("--op", default: "chat_message"),
            model: arguments.string("--model", default: "gemini-2.5-flash"), historyLength: try arguments.unsigned32("--history"),
            maxOutputTokens: try arguments.unsigned("--output-tokens"), estimatedInputTokens: try arguments.unsigned("--input-tokens")))
        return describe(response)
    },
    Command(
        name: "log",
        synopsis: "log SHOP [--op OP] [--model M] [--input-tokens N] [--output-tokens N] [--cached-tokens N] [--event-id ID] [--user U] [--conversation C] [--reservation ID] [--occurred-at TIME] [--history N] [--message-length N]",
        summary: "record the tokens a call used (LogUsage); idempotent by --event-id",
        options: usageOptions.union(["--cached-tokens", "--event-id", "--user", "--conversation", "--reservation", "--occurred-at", "--history", "--message-length"]),
        switches: []
    ) { arguments, client in
        let metadata = UsageMetadata(
            messageLength: try arguments.unsigned32("--message-length"), historyLength: try arguments.unsigned32("--history"))
        let response = try await client.logUsage(LogUsageRequest(
            eventID: arguments.string("--event-id", default: ""), shopID: try arguments.positional(0, "SHOP"),
            userID: arguments.string("--user", default: ""), conversationID: arguments.string("--conversation", default: ""),
            operationType: arguments.string("--op", default: "chat_message"), model: arguments.string("--model", default: "gemini-2.5-flash"),
            inputTokens: try arguments.unsigned("--input-tokens"), outputTokens: try arguments.unsigned("--output-tokens"),
            cachedInputTokens: try arguments.unsigned("--cached-tokens"), occurredAtUnixMs: try arguments.time("--occurred-at"),
            reservationID: arguments.string("--reservation", default: ""), metadata: metadata))
        return describe(response)
    },
    Command(
        name: "bill", synopsis: "bill SHOP --period YYYY-MM [--preview]",
        summary: "the month's bill (GenerateBilling); stored once per shop and period, or previewed",
        options: ["--period"], switches: ["--preview"]
    ) { arguments, client in
        guard let period = arguments.string("--period") else { throw UsageError(message: "missing --period YYYY-MM") }
        let response = try await client.generateBilling(.init(
            shopID: try arguments.positional(0, "SHOP"), period: period, preview: arguments.has("--preview")))
        return describe(response)
    },
    Command(
        name: "health", synopsis: "health", summary: "SERVING once the daemon has recovered (Health)", options: [], switches: []
    ) { _, client in
        var report = Report()
        let health = try await client.health()
        report.add("status", health.status.description)
        if !health.warnings.isEmpty { report.add("warnings", health.warnings.joined(separator: "; ")) }
        return report
    },
]

// MARK: - Descriptions

func describe(_ response: CanMakeRequestResponse) -> Report {
    var report = Report()
    report.add("decision", response.decision.description)
    report.add("reason", response.reason.description)
    if !response.message.isEmpty { report.add("message", response.message) }
    report.add("warning", response.warning)
    report.addMoney("daily_remaining", response.dailyRemainingNanoUSD)
    report.addMoney("monthly_remaining", response.monthlyRemainingNanoUSD)
    report.add("daily_used_basis_points", response.dailyUsedBasisPoints)
    report.add("monthly_used_basis_points", response.monthlyUsedBasisPoints)
    report.addMoney("estimated_cost", response.estimatedCostNanoUSD)
    if !response.reservationID.isEmpty {
        report.add("reservation_id", response.reservationID)
        report.add("reservation_expires_unix_ms", UInt64(max(0, response.reservationExpiresUnixMs)))
    }
    if response.shadowDenied {
        report.add("shadow_denied", true)
        report.add("shadow_reason", response.shadowReason.description)
    }
    return report
}

func describe(_ response: ApplyOptimizationResponse) -> Report {
    var report = Report()
    report.add("optimized", response.optimized)
    report.add("model", response.model)
    report.add("history_length", response.historyLength)
    report.add("max_output_tokens", response.maxOutputTokens)
    report.addList("reasons", response.reasons, json: response.reasons.map { .string($0) })
    report.addMoney("estimated_cost_before", response.estimatedCostBeforeNanoUSD)
    report.addMoney("estimated_cost_after", response.estimatedCostAfterNanoUSD)
    return report
}

func describe(_ response: LogUsageResponse) -> Report {
    var report = Report()
    report.add("event_id", response.eventID)
    report.add("duplicate", response.duplicate)
    report.addMoney("cost", response.costNanoUSD)
    report.addMoney("daily_total", response.dailyTotalNanoUSD)
    report.addMoney("monthly_total", response.monthlyTotalNanoUSD)
    report.add("billing_period", response.billingPeriod)
    report.add("reservation_outcome", response.reservationOutcome.description)
    report.addList("violations", response.violations.map(\.message), json: response.violations.map { violation in
        .object([("kind", .string(violation.kind.description)), ("limit", .uint(violation.limit)),
                 ("actual", .uint(violation.actual)), ("message", .string(violation.message))])
    })
    report.addList("alerts", response.alerts.map(\.message), json: response.alerts.map { alert in
        .object([("kind", .string(alert.kind.description)), ("period", .string(alert.period)),
                 ("threshold_nano_usd", .int(alert.thresholdNanoUSD)), ("actual_nano_usd", .int(alert.actualNanoUSD)),
                 ("message", .string(alert.message))])
    })
    return report
}

func describe(_ response: GenerateBillingResponse) -> Report {
    let record = response.record
    var report = Report()
    report.add("shop_id", record.shopID)
    report.add("period", record.period)
    report.add("tier", record.tier)
    report.add("preview", record.preview)
    report.add("messages_used", record.messagesUsed)
    report.add("tokens_used", record.tokensUsed)
    report.addMoney("api_cost", record.apiCostNanoUSD)
    report.addMoney("base_charge", record.baseChargeNanoUSD)
    report.addMoney("overage_charge", record.overageChargeNanoUSD)
    report.addMoney("total_charge", record.totalChargeNanoUSD)
    report.add("paid", record.paid)
    report.add("recommended_tier", response.recommendedTier)
    report.addMoney("recommended_total", response.recommendedTotalNanoUSD)
    report.addMoney("saving", response.savingNanoUSD)
    report.add("newly_stored", response.newlyStored)
    return report
}
