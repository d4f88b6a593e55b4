// Turning the store's facts into PostgreSQL rows: one `ShipBatch` collects the facts of a run of
// log records and becomes one transaction of statements (usage events as one multi-row INSERT
// over unnest'ed arrays, the rarer facts one statement each, then the cursor), sent in pipeline
// mode. Every write is idempotent by its natural key, so shipping a record twice changes nothing.
//
// In `.copy` form the usage events become COPY text instead (`copyText`), which the shipper
// streams into the same transaction before the other statements: about a third of PostgreSQL's
// time per row went to the INSERT's arrays, unnest and speculative insertion. COPY has no
// ON CONFLICT, so a batch that meets a row already there fails as a whole (unique violation),
// is rolled back, and is shipped again in `.insert` form: the same rows either way.
//
// A new fact kind is one case in `add` and one statement constant in `ShipStatements`.

import TokenGateCore

/// The rows of a run of facts, ready to be written in one transaction.
public struct ShipBatch: Sendable {
    /// How usage events travel.
    public enum UsageForm: Sendable {
        /// One INSERT ... SELECT FROM unnest(...) ON CONFLICT DO NOTHING in `statements`.
        case insert
        /// COPY text (`copyText`) the shipper sends with COPY FROM STDIN after BEGIN; `statements`
        /// then continues that transaction.
        case copy
    }

    public let usageForm: UsageForm
    /// Usage events, column by column (the arrays of the unnest INSERT; in `.copy` form only
    /// the event ids, and only when `settlesLeases` needs them).
    private var usage = UsageColumns()
    /// Usage events as COPY rows (`.copy` form).
    public private(set) var copyText = CopyText()
    /// False once a usage event could not be written as COPY text (a time past 2255): ship
    /// this batch in `.insert` form.
    public private(set) var copiesExactly = true
    private var copiedUsage = 0
    /// Everything else, one statement each, in log order.
    private var others: [PostgresStatement] = []
    /// Facts added (usage and other), for metrics.
    public private(set) var rowCount = 0
    /// Usage events added.
    public var usageCount: Int { usageForm == .copy ? copiedUsage : usage.eventIDs.count }
    /// The shops of the usage events added, when `settlesLeases` (fleet mode returns their
    /// unused lease in the same transaction).
    public private(set) var usageShopIDs: Set<String> = []

    /// Which host's rows these are (the `host_id` column and the cursor's key).
    public let hostID: String
    /// Fleet mode (issue 20): the usage rows this transaction inserts are settled against the
    /// budget pools and this host's leases in the same transaction (`LeaseStatements.settle`).
    public var settlesLeases = false

    public init(hostID: String, usageForm: UsageForm = .insert) {
        self.hostID = hostID
        self.usageForm = usageForm
    }

    /// Adds the row(s) of one fact. Facts with no table (run-time limits, rate limits,
    /// optimization rules, shadow mode, unknown-shop policy) add nothing.
    public mutating func add(_ fact: Fact) {
        switch fact {
        case .usage(let event):
            if settlesLeases { usageShopIDs.insert(event.shopID) }
            switch usageForm {
            case .insert: usage.append(event)
            case .copy:
                if copyText.appendUsage(event, hostID: hostID) {
                    if settlesLeases { usage.eventIDs.append(text: event.eventID) }
                } else {
                    copiesExactly = false
                }
                copiedUsage += 1
            }
        case .billing(let record):
            others.append(ShipStatements.billing(record, hostID: hostID))
        case .tierAssignment(let shopID, let tier, let from):
            others.append(PostgresStatement(ShipStatements.insertTierAssignment, [shopID, tier, hostID, String(from)]))
        case .alert(let alert):
            others.append(ShipStatements.alert(alert, hostID: hostID))
        case .paidMark(let mark):
            others.append(
                PostgresStatement(
                    ShipStatements.markPaid, [mark.shopID, mark.period + "-01", String(mark.paidAtUnixMs)]))
        case .configChange(.setPrice(let request)):
            others.append(ShipStatements.priceVersion(request.version, isFallback: request.asFallback, hostID: hostID))
        case .configChange(.upsertTier(let request)):
            others += ShipStatements.tier(request.tier.tier, effectiveFromUnixMs: request.effectiveFromUnixMs)
        case .voidMark(let mark):
            others.append(ShipStatements.void(mark))
        case .configChange:
            return
        case .monthAggregate(let shopID, let month, let aggregate):
            others.append(ShipStatements.monthAggregate(shopID: shopID, month: month, aggregate, hostID: hostID))
        }
        rowCount += 1
    }

    /// Adds a usage event still in the bytes of its log record (`FactCodec.decodeUsage`): the
    /// same row as `add(.usage(event.event(in: buffer)))`, in `.copy` form without a String
    /// per field.
    public mutating func addUsage(_ event: UsageEventBytes, in buffer: [UInt8]) {
        guard usageForm == .copy else { return add(.usage(event.event(in: buffer))) }
        if settlesLeases { usageShopIDs.insert(UsageEventBytes.text(event.shopID, in: buffer)) }
        if copyText.appendUsage(event, in: buffer, hostID: hostID) {
            if settlesLeases { usage.eventIDs.append(text: UsageEventBytes.text(event.eventID, in: buffer)) }
        } else {
            copiesExactly = false
        }
        copiedUsage += 1
        rowCount += 1
    }

    /// Adds the tiers and price versions of a configuration (those from the configuration file
    /// never pass through the log). Idempotent like everything else.
    public mutating func add(_ configuration: Configuration) {
        for tier in configuration.tiers.values.sorted(by: { $0.name < $1.name }) {
            // Every version of its terms; a tier never versioned holds since always.
            let versions = configuration.tierVersions[tier.name] ?? [TierVersion(from: 0, tier: tier)]
            for version in versions {
                others += ShipStatements.tier(version.tier, effectiveFromUnixMs: version.from)
            }
        }
        for (model, versions) in configuration.prices.models.sorted(by: { $0.key < $1.key }) {
            for version in versions {
                others.append(
                    ShipStatements.priceVersion(ModelPrice(model: model, version: version), isFallback: false, hostID: hostID))
            }
        }
        if let fallback = configuration.prices.fallback {
            others.append(ShipStatements.priceVersion(ModelPrice(model: "", version: fallback), isFallback: true, hostID: hostID))
        }
    }

    /// Hands out the COPY text made so far (`.copy` form), to send while the rest is made.
    public mutating func takeCopyText() -> [UInt8] {
        copyText.take()
    }

    /// True when the shipper opens the transaction and copies the usage rows before
    /// `statements` (`.copy` form with usage events).
    public var usageIsCopied: Bool { usageForm == .copy && copiedUsage > 0 }

    /// The COPY the shipper runs for `copyText`.
    public static let copyUsage = "COPY token_usage_logs (\(CopyText.usageColumns)) FROM STDIN"

    /// The transaction: BEGIN, the rows, the cursor moved to `shippedThrough` (nil: left as it
    /// is), COMMIT. When `usageIsCopied`, without BEGIN and the usage rows: the shipper has
    /// begun the transaction and copied them.
    public func statements(shippedThrough: UInt64?) -> [PostgresStatement] {
        var statements: [PostgresStatement] = []
        if !usageIsCopied {
            statements.append(PostgresStatement("BEGIN"))
            if usage.eventIDs.count > 0 { statements.append(usage.statement(hostID: hostID)) }
        }
        if settlesLeases, usageCount > 0 {
            statements.append(PostgresStatement(LeaseStatements.settle, [usage.eventIDs.literal, hostID]))
        }
        statements += others
        if let shippedThrough {
            statements.append(PostgresStatement(ShipStatements.moveCursor, [hostID, String(shippedThrough)]))
        }
        statements.append(PostgresStatement("COMMIT"))
        return statements
    }
}

/// Usage events as parallel arrays, one per column of `ShipStatements.insertUsage`.
private struct UsageColumns: Sendable {
    var eventIDs = PostgresArray()
    var shopIDs = PostgresArray()
    var userIDs = PostgresArray()
    var conversationIDs = PostgresArray()
    var operationTypes = PostgresArray()
    var models = PostgresArray()
    var inputTokens = PostgresArray()
    var outputTokens = PostgresArray()
    var cachedInputTokens = PostgresArray()
    var costs = PostgresArray()
    var metadata = PostgresArray()
    var occurred = PostgresArray()
    var recorded = PostgresArray()
    var periods = PostgresArray()

    mutating func append(_ event: UsageEvent) {
        eventIDs.append(text: event.eventID)
        shopIDs.append(text: event.shopID)
        userIDs.append(text: event.userID)
        conversationIDs.append(text: event.conversationID)
        operationTypes.append(text: event.operationType)
        models.append(text: event.model)
        inputTokens.append(number: String(event.inputTokens))
        outputTokens.append(number: String(event.outputTokens))
        cachedInputTokens.append(number: String(event.cachedInputTokens))
        costs.append(number: String(event.costNanoUSD))
        metadata.append(text: ShipStatements.metadataJSON(event.metadata))
        occurred.append(number: String(event.occurredAtUnixMs))
        recorded.append(number: String(event.recordedAtUnixMs))
        // The bill the event landed on: the month it occurred in unless it was late (DESIGN §3).
        periods.append(
            text: event.billingPeriod.isEmpty ? MonthKey(unixMs: event.occurredAtUnixMs).description : event.billingPeriod)
    }

    func statement(hostID: String) -> PostgresStatement {
        let columns = [
            eventIDs, shopIDs, userIDs, conversationIDs, operationTypes, models, inputTokens, outputTokens,
            cachedInputTokens, costs, metadata, occurred, recorded, periods,
        ]
        return PostgresStatement(ShipStatements.insertUsage, columns.map { $0.literal } + [hostID])
    }
}

/// A PostgreSQL array literal (`{"a","b"}`, `{1,2}`) built one element at a time, as UTF-8
/// bytes (appending to a String scalar by scalar cost more than the rest of a batch).
struct PostgresArray: Sendable {
    private var bytes: [UInt8] = [UInt8(ascii: "{")]
    private(set) var count = 0

    /// A text element, double-quoted with `"` and `\` escaped (array literal syntax).
    mutating func append(text value: String) {
        if count > 0 { bytes.append(UInt8(ascii: ",")) }
        bytes.append(UInt8(ascii: "\""))
        for byte in value.utf8 {
            if byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") { bytes.append(UInt8(ascii: "\\")) }
            bytes.append(byte)
        }
        bytes.append(UInt8(ascii: "\""))
        count += 1
    }

    /// A number written by the caller (`String(Int64)`), which needs no quoting.
    mutating func append(number: String) {
        if count > 0 { bytes.append(UInt8(ascii: ",")) }
        bytes.append(contentsOf: number.utf8)
        count += 1
    }

    var literal: String { String(decoding: bytes + [UInt8(ascii: "}")], as: UTF8.self) }
}
