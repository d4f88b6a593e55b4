// The typed request and response values of TokenGate's RPCs. They mirror
// proto/tokengate/v1/tokengate.proto field for field; the wire module converts them to and from
// protobuf, and the client library hands them to callers, so no C type ever leaks out.

/// Money: a count of nano-USD (1 USD = 1,000,000,000). Never floating point.
public typealias NanoUSD = Int64

/// Time on the wire: Unix epoch milliseconds.
public typealias UnixMillis = Int64

// MARK: - CanMakeRequest

/// The gate's verdict. Raw values are the wire numbers.
public enum Decision: Int32, Sendable, Codable, CustomStringConvertible {
    case allow = 1
    case deny = 2

    public var description: String { self == .allow ? "ALLOW" : "DENY" }
}

/// Why the gate decided as it did. Raw values are the wire numbers.
public enum DecisionReason: Int32, Sendable, Codable, CaseIterable, CustomStringConvertible {
    case unspecified = 0
    case withinBudget = 1
    case dailyCapReached = 2
    case monthlyCapReached = 3
    case tierSpendCapReached = 4
    case messageTokenLimit = 5
    case rateLimited = 6
    case shopSuspended = 7
    case unknownShop = 8

    /// Stable machine-readable spelling, e.g. `DAILY_CAP_REACHED`.
    public var description: String {
        switch self {
        case .unspecified: "UNSPECIFIED"
        case .withinBudget: "WITHIN_BUDGET"
        case .dailyCapReached: "DAILY_CAP_REACHED"
        case .monthlyCapReached: "MONTHLY_CAP_REACHED"
        case .tierSpendCapReached: "TIER_SPEND_CAP_REACHED"
        case .messageTokenLimit: "MESSAGE_TOKEN_LIMIT"
        case .rateLimited: "RATE_LIMITED"
        case .shopSuspended: "SHOP_SUSPENDED"
        case .unknownShop: "UNKNOWN_SHOP"
        }
    }
}

public struct CanMakeRequestRequest: Sendable, Equatable {
    public var shopID: String
    public var operationType: String
    public var model: String
    public var estimatedInputTokens: UInt64
    public var maxOutputTokens: UInt64
    public var requestID: String
    /// Hold the worst-case cost against the shop's budgets until LogUsage settles it.
    public var reserve: Bool

    public init(
        shopID: String, operationType: String = "chat_message", model: String = "gemini-2.5-flash",
        estimatedInputTokens: UInt64 = 0, maxOutputTokens: UInt64 = 0, requestID: String = "", reserve: Bool = false
    ) {
        self.shopID = shopID
        self.operationType = operationType
        self.model = model
        self.estimatedInputTokens = estimatedInputTokens
        self.maxOutputTokens = maxOutputTokens
        self.requestID = requestID
        self.reserve = reserve
    }
}

public struct CanMakeRequestResponse: Sendable, Equatable {
    public var decision: Decision
    public var reason: DecisionReason
    /// Usage is at or above the shop's alert threshold.
    public var warning: Bool
    public var message: String
    public var dailyRemainingNanoUSD: NanoUSD
    public var monthlyRemainingNanoUSD: NanoUSD
    /// Daily budget used, in basis points (10,000 = 100 %).
    public var dailyUsedBasisPoints: UInt32
    public var monthlyUsedBasisPoints: UInt32
    /// Worst-case cost of the call: estimated input plus max output tokens at the model's price.
    public var estimatedCostNanoUSD: NanoUSD
    /// Set when the request asked to reserve and was allowed.
    public var reservationID: String
    public var reservationExpiresUnixMs: UnixMillis
    public var requestID: String
    /// Shadow mode: the gate allowed the call but would have denied it for `shadowReason`.
    public var shadowDenied: Bool
    public var shadowReason: DecisionReason

    public init(
        decision: Decision, reason: DecisionReason, warning: Bool = false, message: String = "",
        dailyRemainingNanoUSD: NanoUSD = 0, monthlyRemainingNanoUSD: NanoUSD = 0,
        dailyUsedBasisPoints: UInt32 = 0, monthlyUsedBasisPoints: UInt32 = 0,
        estimatedCostNanoUSD: NanoUSD = 0, reservationID: String = "", reservationExpiresUnixMs: UnixMillis = 0,
        requestID: String = "", shadowDenied: Bool = false, shadowReason: DecisionReason = .unspecified
    ) {
        self.decision = decision
        self.reason = reason
        self.warning = warning
        self.message = message
        self.dailyRemainingNanoUSD = dailyRemainingNanoUSD
        self.monthlyRemainingNanoUSD = monthlyRemainingNanoUSD
        self.dailyUsedBasisPoints = dailyUsedBasisPoints
        self.monthlyUsedBasisPoints = monthlyUsedBasisPoints
        self.estimatedCostNanoUSD = estimatedCostNanoUSD
        self.reservationID = reservationID
        self.reservationExpiresUnixMs = reservationExpiresUnixMs
        self.requestID = requestID
        self.shadowDenied = shadowDenied
        self.shadowReason = shadowReason
    }
}

public struct ReleaseReservationRequest: Sendable, Equatable {
    public var reservationID: String
    public init(reservationID: String) { self.reservationID = reservationID }
}

public struct ReleaseReservationResponse: Sendable, Equatable {
    public var releasedNanoUSD: NanoUSD
    public init(releasedNanoUSD: NanoUSD) { self.releasedNanoUSD = releasedNanoUSD }
}

// MARK: - ApplyOptimization

public struct ApplyOptimizationRequest: Sendable, Equatable {
    public var shopID: String
    public var operationType: String
    public var model: String
    /// Messages of conversation history the caller would send.
    public var historyLength: UInt32
    public var maxOutputTokens: UInt64
    /// 0 = unknown.
    public var estimatedInputTokens: UInt64

    public init(
        shopID: String, operationType: String = "chat_message", model: String = "gemini-2.5-flash",
        historyLength: UInt32 = 0, maxOutputTokens: UInt64 = 0, estimatedInputTokens: UInt64 = 0
    ) {
        self.shopID = shopID
        self.operationType = operationType
        self.model = model
        self.historyLength = historyLength
        self.maxOutputTokens = maxOutputTokens
        self.estimatedInputTokens = estimatedInputTokens
    }
}

public struct ApplyOptimizationResponse: Sendable, Equatable {
    public var optimized: Bool
    public var model: String
    public var historyLength: UInt32
    public var maxOutputTokens: UInt64
    public var reasons: [String]
    public var estimatedCostBeforeNanoUSD: NanoUSD
    public var estimatedCostAfterNanoUSD: NanoUSD

    public init(
        optimized: Bool, model: String, historyLength: UInt32, maxOutputTokens: UInt64, reasons: [String] = [],
        estimatedCostBeforeNanoUSD: NanoUSD = 0, estimatedCostAfterNanoUSD: NanoUSD = 0
    ) {
        self.optimized = optimized
        self.model = model
        self.historyLength = historyLength
        self.maxOutputTokens = maxOutputTokens
        self.reasons = reasons
        self.estimatedCostBeforeNanoUSD = estimatedCostBeforeNanoUSD
        self.estimatedCostAfterNanoUSD = estimatedCostAfterNanoUSD
    }
}

// MARK: - LogUsage

public struct MetadataEntry: Sendable, Equatable, Hashable {
    public var key: String
    public var value: String
    public init(key: String, value: String) {
        self.key = key
        self.value = value
    }
}

public struct UsageMetadata: Sendable, Equatable {
    public var messageLength: UInt32
    public var historyLength: UInt32
    public var knowledgeBaseSize: UInt64
    public var extra: [MetadataEntry]

    public init(messageLength: UInt32 = 0, historyLength: UInt32 = 0, knowledgeBaseSize: UInt64 = 0, extra: [MetadataEntry] = []) {
        self.messageLength = messageLength
        self.historyLength = historyLength
        self.knowledgeBaseSize = knowledgeBaseSize
        self.extra = extra
    }
}

public struct LogUsageRequest: Sendable, Equatable {
    /// Idempotency key chosen by the client; the daemon makes one when empty.
    public var eventID: String
    public var shopID: String
    public var userID: String
    public var conversationID: String
    public var operationType: String
    public var model: String
    /// All prompt tokens, cached ones included.
    public var inputTokens: UInt64
    public var outputTokens: UInt64
    /// The part of `inputTokens` served from the context cache.
    public var cachedInputTokens: UInt64
    /// 0 = now.
    public var occurredAtUnixMs: UnixMillis
    /// Settles this reservation.
    public var reservationID: String
    public var metadata: UsageMetadata

    public init(
        eventID: String = "", shopID: String, userID: String = "", conversationID: String = "",
        operationType: String = "chat_message", model: String = "gemini-2.5-flash",
        inputTokens: UInt64 = 0, outputTokens: UInt64 = 0, cachedInputTokens: UInt64 = 0,
        occurredAtUnixMs: UnixMillis = 0, reservationID: String = "", metadata: UsageMetadata = UsageMetadata()
    ) {
        self.eventID = eventID
        self.shopID = shopID
        self.userID = userID
        self.conversationID = conversationID
        self.operationType = operationType
        self.model = model
        self.inputTokens = inputTokens
        self.outputTokens = outputTokens
        self.cachedInputTokens = cachedInputTokens
        self.occurredAtUnixMs = occurredAtUnixMs
        self.reservationID = reservationID
        self.metadata = metadata
    }
}

/// Which per-message token limit a call went over. Raw values are the wire numbers.
public enum LimitKind: Int32, Sendable, Codable, CustomStringConvertible {
    case inputTokens = 1
    case outputTokens = 2
    case totalTokens = 3

    public var description: String {
        switch self {
        case .inputTokens: "INPUT_TOKENS"
        case .outputTokens: "OUTPUT_TOKENS"
        case .totalTokens: "TOTAL_TOKENS"
        }
    }
}

public struct LimitViolation: Sendable, Equatable {
    public var kind: LimitKind
    public var limit: UInt64
    public var actual: UInt64
    public var message: String

    public init(kind: LimitKind, limit: UInt64, actual: UInt64, message: String) {
        self.kind = kind
        self.limit = limit
        self.actual = actual
        self.message = message
    }
}

/// What an alert is about. Raw values are the wire numbers.
public enum AlertKind: Int32, Sendable, Codable, CaseIterable, CustomStringConvertible {
    case dailyThreshold = 1
    case dailyCap = 2
    case monthlyThreshold = 3
    case monthlyCap = 4
    case highDailyCost = 5

    public var description: String {
        switch self {
        case .dailyThreshold: "DAILY_THRESHOLD"
        case .dailyCap: "DAILY_CAP"
        case .monthlyThreshold: "MONTHLY_THRESHOLD"
        case .monthlyCap: "MONTHLY_CAP"
        case .highDailyCost: "HIGH_DAILY_COST"
        }
    }
}

public struct Alert: Sendable, Equatable {
    public var shopID: String
    public var kind: AlertKind
    /// "YYYY-MM-DD" for daily kinds, "YYYY-MM" for monthly ones.
    public var period: String
    public var thresholdNanoUSD: NanoUSD
    public var actualNanoUSD: NanoUSD
    public var raisedAtUnixMs: UnixMillis
    public var message: String

    public init(
        shopID: String, kind: AlertKind, period: String, thresholdNanoUSD: NanoUSD, actualNanoUSD: NanoUSD,
        raisedAtUnixMs: UnixMillis, message: String
    ) {
        self.shopID = shopID
        self.kind = kind
        self.period = period
        self.thresholdNanoUSD = thresholdNanoUSD
        self.actualNanoUSD = actualNanoUSD
        self.raisedAtUnixMs = raisedAtUnixMs
        self.message = message
    }
}

/// What became of a LogUsage's reservation id (issue 17). Raw values are the wire numbers. A
/// LogUsage is never refused because of its reservation: the model call happened.
public enum ReservationOutcome: Int32, Sendable, Equatable, CaseIterable, CustomStringConvertible {
    /// Not known (a duplicate's answer: the first call's outcome is not kept).
    case unspecified = 0
    /// The live hold was released by this event.
    case settled = 1
    /// The hold had already ended: settled by another event, released or expired.
    case alreadyEnded = 2
    /// Never issued by this daemon, or ended too long ago to remember.
    case unknown = 3
    /// The request named no reservation.
    case none = 4

    public var description: String {
        switch self {
        case .unspecified: "RESERVATION_OUTCOME_UNSPECIFIED"
        case .settled: "SETTLED"
        case .alreadyEnded: "ALREADY_ENDED"
        case .unknown: "UNKNOWN"
        case .none: "NONE"
        }
    }
}

public struct LogUsageResponse: Sendable, Equatable {
    public var eventID: String
    public var costNanoUSD: NanoUSD
    public var dailyTotalNanoUSD: NanoUSD
    public var monthlyTotalNanoUSD: NanoUSD
    public var violations: [LimitViolation]
    public var alerts: [Alert]
    /// The event id had been recorded before; this is the first call's result.
    public var duplicate: Bool
    public var occurredAtUnixMs: UnixMillis
    /// The bill ("YYYY-MM") the event lands on: the month it occurred in, or the first later
    /// month whose bill is not final (a late event).
    public var billingPeriod: String
    /// What became of the request's reservation id.
    public var reservationOutcome: ReservationOutcome

    public init(
        eventID: String, costNanoUSD: NanoUSD, dailyTotalNanoUSD: NanoUSD, monthlyTotalNanoUSD: NanoUSD,
        violations: [LimitViolation] = [], alerts: [Alert] = [], duplicate: Bool = false, occurredAtUnixMs: UnixMillis = 0,
        billingPeriod: String = "", reservationOutcome: ReservationOutcome = .unspecified
    ) {
        self.billingPeriod = billingPeriod
        self.reservationOutcome = reservationOutcome
        self.eventID = eventID
        self.costNanoUSD = costNanoUSD
        self.dailyTotalNanoUSD = dailyTotalNanoUSD
        self.monthlyTotalNanoUSD = monthlyTotalNanoUSD
        self.violations = violations
        self.alerts = alerts
        self.duplicate = duplicate
        self.occurredAtUnixMs = occurredAtUnixMs
    }
}

// MARK: - GenerateBilling

public struct GenerateBillingRequest: Sendable, Equatable {
    public var shopID: String
    /// "YYYY-MM", UTC.
    public var period: String
    public var preview: Bool

    public init(shopID: String, period: String, preview: Bool = false) {
        self.shopID = shopID
        self.period = period
        self.preview = preview
    }
}

public struct BillingRecord: Sendable, Equatable {
    public var shopID: String
    public var period: String
    public var tier: String
    public var messagesUsed: UInt64
    public var tokensUsed: UInt64
    public var apiCostNanoUSD: NanoUSD
    public var baseChargeNanoUSD: NanoUSD
    public var overageChargeNanoUSD: NanoUSD
    /// After the tier's spend cap.
    public var totalChargeNanoUSD: NanoUSD
    public var paid: Bool
    public var generatedAtUnixMs: UnixMillis
    /// Computed, not stored.
    public var preview: Bool
    /// Set by VoidBilling (issue 17): why, when (0 = not void) and by which admin uid.
    public var voidReason: String
    public var voidedAtUnixMs: UnixMillis
    public var voidedByUID: UInt32

    /// Voided by VoidBilling; kept beside its reissue.
    public var isVoid: Bool { voidedAtUnixMs != 0 }

    public init(
        shopID: String, period: String, tier: String, messagesUsed: UInt64, tokensUsed: UInt64,
        apiCostNanoUSD: NanoUSD, baseChargeNanoUSD: NanoUSD, overageChargeNanoUSD: NanoUSD,
        totalChargeNanoUSD: NanoUSD, paid: Bool = false, generatedAtUnixMs: UnixMillis = 0, preview: Bool = false,
        voidReason: String = "", voidedAtUnixMs: UnixMillis = 0, voidedByUID: UInt32 = 0
    ) {
        self.voidReason = voidReason
        self.voidedAtUnixMs = voidedAtUnixMs
        self.voidedByUID = voidedByUID
        self.shopID = shopID
        self.period = period
        self.tier = tier
        self.messagesUsed = messagesUsed
        self.tokensUsed = tokensUsed
        self.apiCostNanoUSD = apiCostNanoUSD
        self.baseChargeNanoUSD = baseChargeNanoUSD
        self.overageChargeNanoUSD = overageChargeNanoUSD
        self.totalChargeNanoUSD = totalChargeNanoUSD
        self.paid = paid
        self.generatedAtUnixMs = generatedAtUnixMs
        self.preview = preview
    }
}

public struct GenerateBillingResponse: Sendable, Equatable {
    public var record: BillingRecord
    public var recommendedTier: String
    public var recommendedTotalNanoUSD: NanoUSD
    /// The current tier's total minus the recommended tier's; never negative.
    public var savingNanoUSD: NanoUSD
    /// False when a stored record was returned again.
    public var newlyStored: Bool

    public init(
        record: BillingRecord, recommendedTier: String, recommendedTotalNanoUSD: NanoUSD, savingNanoUSD: NanoUSD,
        newlyStored: Bool
    ) {
        self.record = record
        self.recommendedTier = recommendedTier
        self.recommendedTotalNanoUSD = recommendedTotalNanoUSD
        self.savingNanoUSD = savingNanoUSD
        self.newlyStored = newlyStored
    }
}

// MARK: - Health

public enum ServingStatus: Int32, Sendable, CustomStringConvertible {
    case unspecified = 0
    case serving = 1
    case notServing = 2

    public var description: String {
        switch self {
        case .unspecified: "UNKNOWN"
        case .serving: "SERVING"
        case .notServing: "NOT_SERVING"
        }
    }
}

public struct HealthCheckRequest: Sendable, Equatable {
    public var service: String
    public init(service: String = "") { self.service = service }
}

public struct HealthCheckResponse: Sendable, Equatable {
    public var status: ServingStatus
    /// What an operator should know while the daemon serves (a failing snapshot, say).
    public var warnings: [String]
    public init(status: ServingStatus, warnings: [String] = []) {
        self.status = status
        self.warnings = warnings
    }
}

// MARK: - Stored facts

/// One recorded usage event, with the cost computed when it was logged. This is what the
/// write-ahead log and snapshots hold (storage.proto `UsageEventRecord`).
public struct UsageEvent: Sendable, Equatable {
    public var eventID: String
    public var shopID: String
    public var userID: String
    public var conversationID: String
    public var operationType: String
    public var model: String
    public var inputTokens: UInt64
    public var outputTokens: UInt64
    public var cachedInputTokens: UInt64
    public var occurredAtUnixMs: UnixMillis
    public var costNanoUSD: NanoUSD
    public var metadata: UsageMetadata
    public var recordedAtUnixMs: UnixMillis
    /// The bill ("YYYY-MM") a late event landed on because the month it occurred in was already
    /// billed; "" = the month it occurred in (every event that is not late).
    public var billingPeriod: String

    public init(
        eventID: String, shopID: String, userID: String, conversationID: String, operationType: String,
        model: String, inputTokens: UInt64, outputTokens: UInt64, cachedInputTokens: UInt64,
        occurredAtUnixMs: UnixMillis, costNanoUSD: NanoUSD, metadata: UsageMetadata, recordedAtUnixMs: UnixMillis,
        billingPeriod: String = ""
    ) {
        self.billingPeriod = billingPeriod
        self.eventID = eventID
        self.shopID = shopID
        self.userID = userID
        self.conversationID = conversationID
        self.operationType = operationType
        self.model = model
        self.inputTokens = inputTokens
        self.outputTokens = outputTokens
        self.cachedInputTokens = cachedInputTokens
        self.occurredAtUnixMs = occurredAtUnixMs
        self.costNanoUSD = costNanoUSD
        self.metadata = metadata
        self.recordedAtUnixMs = recordedAtUnixMs
    }
}

/// A fact that changed the store: the unit of the write-ahead log (storage.proto `FactRecord`).
/// Facts carry results, not commands, so replay never re-evaluates prices or limits.
public enum Fact: Sendable, Equatable {
    case usage(UsageEvent)
    case billing(BillingRecord)
    /// The shop's tier from `effectiveFromUnixMs` on (0: since always); "" = the default tier.
    case tierAssignment(shopID: String, tier: String, effectiveFromUnixMs: UnixMillis = 0)
    /// An alert, stored once per (shop, kind, period).
    case alert(Alert)
    /// A stored billing record was marked paid.
    case paidMark(PaidMark)
    /// A stored billing record was voided (storage.proto `VoidRecord`, issue 17).
    case voidMark(VoidMark)
    /// A run-time configuration change (an admin RPC), applied to the Configuration, not a shop.
    case configChange(ConfigChange)
    /// The totals of a month whose raw events retention dropped (storage.proto
    /// `MonthAggregateRecord`). Only snapshots hold these; the log never does.
    case monthAggregate(shopID: String, month: MonthKey, aggregate: MonthAggregate)
}
