// Protobuf encoding and decoding of every RPC request and response in TokenGateCore's
// Messages.swift, so the server and the client library exchange Swift values only. Each type
// says how its fields map to the generated C struct; the C memory rules live in ProtobufC.swift.
//
// Buffer ownership: `init(copying:)` reads pointers that belong to protobuf-c's unpacked tree
// and are valid only while `ProtobufC.unpack` runs; it copies everything into Swift values.
// `cMessage(in:)` returns a struct whose pointers belong to the caller's `CArena` and live until
// `ProtobufC.pack` returns.

import CProtobufC
import Glibc
import TokenGateCore
import TokenGateProtoC

/// An RPC message that travels as protobuf bytes inside an envelope's `payload`.
public protocol WireMessage: Sendable {
    /// Full protobuf name, e.g. `tokengate.v1.LogUsageRequest`.
    static var protoName: String { get }
    /// Decodes and validates protobuf bytes.
    ///
    /// - Throws: `INVALID_ARGUMENT` when the bytes are not this message, a string is not valid
    ///   UTF-8 (the message names the field) or an enum number is unknown;
    ///   `RESOURCE_EXHAUSTED` when the bytes exceed `WireLimits.messageBytesMax`.
    static func decode(_ bytes: [UInt8]) throws(TokenGateError) -> Self
    /// Decodes a request envelope's payload, which is a slice of the frame it came in.
    static func decode(payload: ArraySlice<UInt8>) throws(TokenGateError) -> Self
    /// The protobuf bytes of this message.
    func encoded() -> [UInt8]
}

extension WireMessage {
    /// Copies the payload out of the frame: the hot messages decode it in place instead.
    public static func decode(payload: ArraySlice<UInt8>) throws(TokenGateError) -> Self {
        try decode(Array(payload))
    }
}

/// The shared decode of every `WireMessage`, worded for a caller that sent bad bytes.
enum WireCodec {
    /// True for a `…Request` message name; bytewise (`hasSuffix` compares Characters, about 80
    /// instructions on every decode).
    static func isRequest(_ protoName: String) -> Bool {
        var name = protoName
        return name.withUTF8 { bytes in
            let suffix: StaticString = "Request"
            let count = suffix.utf8CodeUnitCount
            guard bytes.count >= count else { return false }
            return memcmp(bytes.baseAddress! + (bytes.count - count), suffix.utf8Start, count) == 0
        }
    }

    /// - Parameter fieldPrefix: how errors name the message, e.g. `log_usage` in
    ///   `log_usage.shop_id is not valid UTF-8`.
    static func decode<M: CMessageDecodable>(_ bytes: [UInt8], fieldPrefix: String) throws(TokenGateError) -> M {
        // Requests come from peers, so a NUL inside one of their strings is refused (see
        // EmbeddedNUL); responses and stored facts were packed by protobuf-c and cannot hold one.
        switch ProtobufC.unpack(bytes, as: M.self, refuseEmbeddedNUL: isRequest(M.protoName)) {
        case .success(let message):
            return message
        case .failure(.tooLarge(let byteCount)):
            throw TokenGateError(
                .resourceExhausted,
                "payload of \(byteCount) bytes is over the \(WireLimits.messageBytesMax)-byte limit for \(M.protoName)"
            )
        case .failure(.undecodable):
            throw TokenGateError(.invalidArgument, "payload is not a \(M.protoName)")
        case .failure(.field(let error)):
            throw TokenGateError(.invalidArgument, error.describe(in: fieldPrefix))
        }
    }
}

// MARK: - CanMakeRequest

extension CanMakeRequestRequest: WireMessage, CMessageEncodable {
    /// `tokengate.v1.CanMakeRequestRequest`.
    public static let protoName = "tokengate.v1.CanMakeRequestRequest"
    // `decode(_:)` and `encoded()` are written by hand: HotMessages+Wire.swift.

    static func cEmpty() -> Tokengate__V1__CanMakeRequestRequest {
        var c = Tokengate__V1__CanMakeRequestRequest()
        tokengate__v1__can_make_request_request__init(&c)
        return c
    }

    init(copying c: Tokengate__V1__CanMakeRequestRequest) throws(FieldError) {
        self.init(
            shopID: try copyString(c.shop_id, field: "shop_id"),
            operationType: try copyString(c.operation_type, field: "operation_type"),
            model: try copyString(c.model, field: "model"),
            estimatedInputTokens: c.estimated_input_tokens, maxOutputTokens: c.max_output_tokens,
            requestID: try copyString(c.request_id, field: "request_id"), reserve: c.reserve != 0
        )
    }

    func cMessage(in arena: inout CArena) -> Tokengate__V1__CanMakeRequestRequest {
        var c = Self.cEmpty()
        c.shop_id = arena.cString(shopID)
        c.operation_type = arena.cString(operationType)
        c.model = arena.cString(model)
        c.estimated_input_tokens = estimatedInputTokens
        c.max_output_tokens = maxOutputTokens
        c.request_id = arena.cString(requestID)
        c.reserve = cBool(reserve)
        return c
    }
}

extension CanMakeRequestResponse: WireMessage, CMessageEncodable {
    /// `tokengate.v1.CanMakeRequestResponse`.
    public static let protoName = "tokengate.v1.CanMakeRequestResponse"
    // `decode(_:)` and `encoded()` are written by hand: HotMessages+Wire.swift.

    static func cEmpty() -> Tokengate__V1__CanMakeRequestResponse {
        var c = Tokengate__V1__CanMakeRequestResponse()
        tokengate__v1__can_make_request_response__init(&c)
        return c
    }

    init(copying c: Tokengate__V1__CanMakeRequestResponse) throws(FieldError) {
        self.init(
            decision: try copyEnum(c.decision, as: Decision.self, field: "decision"),
            reason: try copyEnum(c.reason, as: DecisionReason.self, field: "reason"),
            warning: c.warning != 0, message: try copyString(c.message, field: "message"),
            dailyRemainingNanoUSD: c.daily_remaining_nano_usd, monthlyRemainingNanoUSD: c.monthly_remaining_nano_usd,
            dailyUsedBasisPoints: c.daily_used_basis_points, monthlyUsedBasisPoints: c.monthly_used_basis_points,
            estimatedCostNanoUSD: c.estimated_cost_nano_usd,
            reservationID: try copyString(c.reservation_id, field: "reservation_id"),
            reservationExpiresUnixMs: c.reservation_expires_unix_ms,
            requestID: try copyString(c.request_id, field: "request_id"), shadowDenied: c.shadow_denied != 0,
            shadowReason: try copyEnum(c.shadow_reason, as: DecisionReason.self, field: "shadow_reason")
        )
    }

    func cMessage(in arena: inout CArena) -> Tokengate__V1__CanMakeRequestResponse {
        var c = Self.cEmpty()
        c.decision = cEnum(decision)
        c.reason = cEnum(reason)
        c.warning = cBool(warning)
        c.message = arena.cString(message)
        c.daily_remaining_nano_usd = dailyRemainingNanoUSD
        c.monthly_remaining_nano_usd = monthlyRemainingNanoUSD
        c.daily_used_basis_points = dailyUsedBasisPoints
        c.monthly_used_basis_points = monthlyUsedBasisPoints
        c.estimated_cost_nano_usd = estimatedCostNanoUSD
        c.reservation_id = arena.cString(reservationID)
        c.reservation_expires_unix_ms = reservationExpiresUnixMs
        c.request_id = arena.cString(requestID)
        c.shadow_denied = cBool(shadowDenied)
        c.shadow_reason = cEnum(shadowReason)
        return c
    }
}

// MARK: - ReleaseReservation

extension ReleaseReservationRequest: WireMessage, CMessageEncodable {
    /// `tokengate.v1.ReleaseReservationRequest`.
    public static let protoName = "tokengate.v1.ReleaseReservationRequest"
    /// Decodes and validates protobuf bytes; see `WireMessage.decode(_:)`.
    public static func decode(_ bytes: [UInt8]) throws(TokenGateError) -> Self {
        try WireCodec.decode(bytes, fieldPrefix: "release_reservation")
    }
    /// The protobuf bytes of this message.
    public func encoded() -> [UInt8] { ProtobufC.pack(self) }

    static func cEmpty() -> Tokengate__V1__ReleaseReservationRequest {
        var c = Tokengate__V1__ReleaseReservationRequest()
        tokengate__v1__release_reservation_request__init(&c)
        return c
    }

    init(copying c: Tokengate__V1__ReleaseReservationRequest) throws(FieldError) {
        self.init(reservationID: try copyString(c.reservation_id, field: "reservation_id"))
    }

    func cMessage(in arena: inout CArena) -> Tokengate__V1__ReleaseReservationRequest {
        var c = Self.cEmpty()
        c.reservation_id = arena.cString(reservationID)
        return c
    }
}

extension ReleaseReservationResponse: WireMessage, CMessageEncodable {
    /// `tokengate.v1.ReleaseReservationResponse`.
    public static let protoName = "tokengate.v1.ReleaseReservationResponse"
    /// Decodes and validates protobuf bytes; see `WireMessage.decode(_:)`.
    public static func decode(_ bytes: [UInt8]) throws(TokenGateError) -> Self {
        try WireCodec.decode(bytes, fieldPrefix: "release_reservation_response")
    }
    /// The protobuf bytes of this message.
    public func encoded() -> [UInt8] { ProtobufC.pack(self) }

    static func cEmpty() -> Tokengate__V1__ReleaseReservationResponse {
        var c = Tokengate__V1__ReleaseReservationResponse()
        tokengate__v1__release_reservation_response__init(&c)
        return c
    }

    init(copying c: Tokengate__V1__ReleaseReservationResponse) throws(FieldError) {
        self.init(releasedNanoUSD: c.released_nano_usd)
    }

    func cMessage(in arena: inout CArena) -> Tokengate__V1__ReleaseReservationResponse {
        var c = Self.cEmpty()
        c.released_nano_usd = releasedNanoUSD
        return c
    }
}

// MARK: - ApplyOptimization

extension ApplyOptimizationRequest: WireMessage, CMessageEncodable {
    /// `tokengate.v1.ApplyOptimizationRequest`.
    public static let protoName = "tokengate.v1.ApplyOptimizationRequest"
    /// Decodes and validates protobuf bytes; see `WireMessage.decode(_:)`.
    public static func decode(_ bytes: [UInt8]) throws(TokenGateError) -> Self {
        try WireCodec.decode(bytes, fieldPrefix: "apply_optimization")
    }
    /// The protobuf bytes of this message.
    public func encoded() -> [UInt8] { ProtobufC.pack(self) }

    static func cEmpty() -> Tokengate__V1__ApplyOptimizationRequest {
        var c = Tokengate__V1__ApplyOptimizationRequest()
        tokengate__v1__apply_optimization_request__init(&c)
        return c
    }

    init(copying c: Tokengate__V1__ApplyOptimizationRequest) throws(FieldError) {
        self.init(
            shopID: try copyString(c.shop_id, field: "shop_id"),
            operationType: try copyString(c.operation_type, field: "operation_type"),
            model: try copyString(c.model, field: "model"), historyLength: c.history_length,
            maxOutputTokens: c.max_output_tokens, estimatedInputTokens: c.estimated_input_tokens
        )
    }

    func cMessage(in arena: inout CArena) -> Tokengate__V1__ApplyOptimizationRequest {
        var c = Self.cEmpty()
        c.shop_id = arena.cString(shopID)
        c.operation_type = arena.cString(operationType)
        c.model = arena.cString(model)
        c.history_length = historyLength
        c.max_output_tokens = maxOutputTokens
        c.estimated_input_tokens = estimatedInputTokens
        return c
    }
}

extension ApplyOptimizationResponse: WireMessage, CMessageEncodable {
    /// `tokengate.v1.ApplyOptimizationResponse`.
    public static let protoName = "tokengate.v1.ApplyOptimizationResponse"
    /// Decodes and validates protobuf bytes; see `WireMessage.decode(_:)`.
    public static func decode(_ bytes: [UInt8]) throws(TokenGateError) -> Self {
        try WireCodec.decode(bytes, fieldPrefix: "apply_optimization_response")
    }
    /// The protobuf bytes of this message.
    public func encoded() -> [UInt8] { ProtobufC.pack(self) }

    static func cEmpty() -> Tokengate__V1__ApplyOptimizationResponse {
        var c = Tokengate__V1__ApplyOptimizationResponse()
        tokengate__v1__apply_optimization_response__init(&c)
        return c
    }

    init(copying c: Tokengate__V1__ApplyOptimizationResponse) throws(FieldError) {
        self.init(
            optimized: c.optimized != 0, model: try copyString(c.model, field: "model"),
            historyLength: c.history_length, maxOutputTokens: c.max_output_tokens,
            reasons: try copyStrings(count: c.n_reasons, c.reasons, field: "reasons"),
            estimatedCostBeforeNanoUSD: c.estimated_cost_before_nano_usd,
            estimatedCostAfterNanoUSD: c.estimated_cost_after_nano_usd
        )
    }

    func cMessage(in arena: inout CArena) -> Tokengate__V1__ApplyOptimizationResponse {
        var c = Self.cEmpty()
        c.optimized = cBool(optimized)
        c.model = arena.cString(model)
        c.history_length = historyLength
        c.max_output_tokens = maxOutputTokens
        (c.n_reasons, c.reasons) = arena.cStrings(reasons)
        c.estimated_cost_before_nano_usd = estimatedCostBeforeNanoUSD
        c.estimated_cost_after_nano_usd = estimatedCostAfterNanoUSD
        return c
    }
}

// MARK: - LogUsage

extension MetadataEntry: CMessageEncodable {
    static let protoName = "tokengate.v1.MetadataEntry"

    static func cEmpty() -> Tokengate__V1__MetadataEntry {
        var c = Tokengate__V1__MetadataEntry()
        tokengate__v1__metadata_entry__init(&c)
        return c
    }

    init(copying c: Tokengate__V1__MetadataEntry) throws(FieldError) {
        self.init(key: try copyString(c.key, field: "key"), value: try copyString(c.value, field: "value"))
    }

    func cMessage(in arena: inout CArena) -> Tokengate__V1__MetadataEntry {
        var c = Self.cEmpty()
        c.key = arena.cString(key)
        c.value = arena.cString(value)
        return c
    }
}

extension UsageMetadata: CMessageEncodable {
    static let protoName = "tokengate.v1.UsageMetadata"

    static func cEmpty() -> Tokengate__V1__UsageMetadata {
        var c = Tokengate__V1__UsageMetadata()
        tokengate__v1__usage_metadata__init(&c)
        return c
    }

    init(copying c: Tokengate__V1__UsageMetadata) throws(FieldError) {
        self.init(
            messageLength: c.message_length, historyLength: c.history_length, knowledgeBaseSize: c.knowledge_base_size,
            extra: try copyMessages(count: c.n_extra, c.extra, field: "extra")
        )
    }

    func cMessage(in arena: inout CArena) -> Tokengate__V1__UsageMetadata {
        var c = Self.cEmpty()
        c.message_length = messageLength
        c.history_length = historyLength
        c.knowledge_base_size = knowledgeBaseSize
        (c.n_extra, c.extra) = arena.messages(extra)
        return c
    }
}

extension LogUsageRequest: WireMessage, CMessageEncodable {
    /// `tokengate.v1.LogUsageRequest`.
    public static let protoName = "tokengate.v1.LogUsageRequest"
    /// Decodes and validates protobuf bytes; an absent `metadata` decodes as empty metadata.
    public static func decode(_ bytes: [UInt8]) throws(TokenGateError) -> Self {
        try decode(payload: bytes[...])
    }

    /// Decodes a request envelope's payload in place: the plain shape directly (about 4,000
    /// instructions less than protobuf-c's unpack and copy), anything else through protobuf-c.
    public static func decode(payload: ArraySlice<UInt8>) throws(TokenGateError) -> Self {
        if let plain = HotMessageDecoder.logUsage(payload) { return plain }
        return try WireCodec.decode(Array(payload), fieldPrefix: "log_usage")
    }
    /// The protobuf bytes of this message.
    public func encoded() -> [UInt8] { ProtobufC.pack(self) }

    static func cEmpty() -> Tokengate__V1__LogUsageRequest {
        var c = Tokengate__V1__LogUsageRequest()
        tokengate__v1__log_usage_request__init(&c)
        return c
    }

    init(copying c: Tokengate__V1__LogUsageRequest) throws(FieldError) {
        self.init(
            eventID: try copyString(c.event_id, field: "event_id"),
            shopID: try copyString(c.shop_id, field: "shop_id"),
            userID: try copyString(c.user_id, field: "user_id"),
            conversationID: try copyString(c.conversation_id, field: "conversation_id"),
            operationType: try copyString(c.operation_type, field: "operation_type"),
            model: try copyString(c.model, field: "model"),
            inputTokens: c.input_tokens, outputTokens: c.output_tokens, cachedInputTokens: c.cached_input_tokens,
            occurredAtUnixMs: c.occurred_at_unix_ms,
            reservationID: try copyString(c.reservation_id, field: "reservation_id"),
            metadata: try copyMessage(c.metadata, field: "metadata") ?? UsageMetadata()
        )
    }

    func cMessage(in arena: inout CArena) -> Tokengate__V1__LogUsageRequest {
        var c = Self.cEmpty()
        c.event_id = arena.cString(eventID)
        c.shop_id = arena.cString(shopID)
        c.user_id = arena.cString(userID)
        c.conversation_id = arena.cString(conversationID)
        c.operation_type = arena.cString(operationType)
        c.model = arena.cString(model)
        c.input_tokens = inputTokens
        c.output_tokens = outputTokens
        c.cached_input_tokens = cachedInputTokens
        c.occurred_at_unix_ms = occurredAtUnixMs
        c.reservation_id = arena.cString(reservationID)
        c.metadata = arena.message(metadata)
        return c
    }
}

extension LimitViolation: CMessageEncodable {
    static let protoName = "tokengate.v1.LimitViolation"

    static func cEmpty() -> Tokengate__V1__LimitViolation {
        var c = Tokengate__V1__LimitViolation()
        tokengate__v1__limit_violation__init(&c)
        return c
    }

    init(copying c: Tokengate__V1__LimitViolation) throws(FieldError) {
        self.init(
            kind: try copyEnum(c.kind, as: LimitKind.self, field: "kind"), limit: c.limit, actual: c.actual,
            message: try copyString(c.message, field: "message")
        )
    }

    func cMessage(in arena: inout CArena) -> Tokengate__V1__LimitViolation {
        var c = Self.cEmpty()
        c.kind = cEnum(kind)
        c.limit = limit
        c.actual = actual
        c.message = arena.cString(message)
        return c
    }
}

extension Alert: CMessageEncodable {
    /// `tokengate.v1.Alert`.
    public static let protoName = "tokengate.v1.Alert"

    static func cEmpty() -> Tokengate__V1__Alert {
        var c = Tokengate__V1__Alert()
        tokengate__v1__alert__init(&c)
        return c
    }

    init(copying c: Tokengate__V1__Alert) throws(FieldError) {
        self.init(
            shopID: try copyString(c.shop_id, field: "shop_id"),
            kind: try copyEnum(c.kind, as: AlertKind.self, field: "kind"),
            period: try copyString(c.period, field: "period"),
            thresholdNanoUSD: c.threshold_nano_usd, actualNanoUSD: c.actual_nano_usd,
            raisedAtUnixMs: c.raised_at_unix_ms, message: try copyString(c.message, field: "message")
        )
    }

    func cMessage(in arena: inout CArena) -> Tokengate__V1__Alert {
        var c = Self.cEmpty()
        c.shop_id = arena.cString(shopID)
        c.kind = cEnum(kind)
        c.period = arena.cString(period)
        c.threshold_nano_usd = thresholdNanoUSD
        c.actual_nano_usd = actualNanoUSD
        c.raised_at_unix_ms = raisedAtUnixMs
        c.message = arena.cString(message)
        return c
    }
}

extension LogUsageResponse: WireMessage, CMessageEncodable {
    /// `tokengate.v1.LogUsageResponse`.
    public static let protoName = "tokengate.v1.LogUsageResponse"
    /// Decodes and validates protobuf bytes; every violation and alert needs a known kind.
    public static func decode(_ bytes: [UInt8]) throws(TokenGateError) -> Self {
        try WireCodec.decode(bytes, fieldPrefix: "log_usage_response")
    }
    /// The protobuf bytes of this message.
    public func encoded() -> [UInt8] { ProtobufC.pack(self) }

    static func cEmpty() -> Tokengate__V1__LogUsageResponse {
        var c = Tokengate__V1__LogUsageResponse()
        tokengate__v1__log_usage_response__init(&c)
        return c
    }

    init(copying c: Tokengate__V1__LogUsageResponse) throws(FieldError) {
        self.init(
            eventID: try copyString(c.event_id, field: "event_id"), costNanoUSD: c.cost_nano_usd,
            dailyTotalNanoUSD: c.daily_total_nano_usd, monthlyTotalNanoUSD: c.monthly_total_nano_usd,
            violations: try copyMessages(count: c.n_violations, c.violations, field: "violations"),
            alerts: try copyMessages(count: c.n_alerts, c.alerts, field: "alerts"),
            duplicate: c.duplicate != 0, occurredAtUnixMs: c.occurred_at_unix_ms,
            billingPeriod: try copyString(c.billing_period, field: "billing_period"),
            reservationOutcome: try copyEnum(c.reservation_outcome, as: ReservationOutcome.self, field: "reservation_outcome")
        )
    }

    func cMessage(in arena: inout CArena) -> Tokengate__V1__LogUsageResponse {
        var c = Self.cEmpty()
        c.event_id = arena.cString(eventID)
        c.cost_nano_usd = costNanoUSD
        c.daily_total_nano_usd = dailyTotalNanoUSD
        c.monthly_total_nano_usd = monthlyTotalNanoUSD
        (c.n_violations, c.violations) = arena.messages(violations)
        (c.n_alerts, c.alerts) = arena.messages(alerts)
        c.duplicate = cBool(duplicate)
        c.occurred_at_unix_ms = occurredAtUnixMs
        c.billing_period = arena.cString(billingPeriod)
        c.reservation_outcome = cEnum(reservationOutcome)
        return c
    }
}

// MARK: - GenerateBilling

extension GenerateBillingRequest: WireMessage, CMessageEncodable {
    /// `tokengate.v1.GenerateBillingRequest`.
    public static let protoName = "tokengate.v1.GenerateBillingRequest"
    /// Decodes and validates protobuf bytes; see `WireMessage.decode(_:)`.
    public static func decode(_ bytes: [UInt8]) throws(TokenGateError) -> Self {
        try WireCodec.decode(bytes, fieldPrefix: "generate_billing")
    }
    /// The protobuf bytes of this message.
    public func encoded() -> [UInt8] { ProtobufC.pack(self) }

    static func cEmpty() -> Tokengate__V1__GenerateBillingRequest {
        var c = Tokengate__V1__GenerateBillingRequest()
        tokengate__v1__generate_billing_request__init(&c)
        return c
    }

    init(copying c: Tokengate__V1__GenerateBillingRequest) throws(FieldError) {
        self.init(
            shopID: try copyString(c.shop_id, field: "shop_id"), period: try copyString(c.period, field: "period"),
            preview: c.preview != 0
        )
    }

    func cMessage(in arena: inout CArena) -> Tokengate__V1__GenerateBillingRequest {
        var c = Self.cEmpty()
        c.shop_id = arena.cString(shopID)
        c.period = arena.cString(period)
        c.preview = cBool(preview)
        return c
    }
}

extension BillingRecord: CMessageEncodable {
    static let protoName = "tokengate.v1.BillingRecord"

    static func cEmpty() -> Tokengate__V1__BillingRecord {
        var c = Tokengate__V1__BillingRecord()
        tokengate__v1__billing_record__init(&c)
        return c
    }

    init(copying c: Tokengate__V1__BillingRecord) throws(FieldError) {
        self.init(
            shopID: try copyString(c.shop_id, field: "shop_id"), period: try copyString(c.period, field: "period"),
            tier: try copyString(c.tier, field: "tier"), messagesUsed: c.messages_used, tokensUsed: c.tokens_used,
            apiCostNanoUSD: c.api_cost_nano_usd, baseChargeNanoUSD: c.base_charge_nano_usd,
            overageChargeNanoUSD: c.overage_charge_nano_usd, totalChargeNanoUSD: c.total_charge_nano_usd,
            paid: c.paid != 0, generatedAtUnixMs: c.generated_at_unix_ms, preview: c.preview != 0,
            voidReason: try copyString(c.void_reason, field: "void_reason"), voidedAtUnixMs: c.voided_at_unix_ms,
            voidedByUID: c.voided_by_uid
        )
    }

    func cMessage(in arena: inout CArena) -> Tokengate__V1__BillingRecord {
        var c = Self.cEmpty()
        c.shop_id = arena.cString(shopID)
        c.period = arena.cString(period)
        c.tier = arena.cString(tier)
        c.messages_used = messagesUsed
        c.tokens_used = tokensUsed
        c.api_cost_nano_usd = apiCostNanoUSD
        c.base_charge_nano_usd = baseChargeNanoUSD
        c.overage_charge_nano_usd = overageChargeNanoUSD
        c.total_charge_nano_usd = totalChargeNanoUSD
        c.paid = cBool(paid)
        c.generated_at_unix_ms = generatedAtUnixMs
        c.preview = cBool(preview)
        c.void_reason = arena.cString(voidReason)
        c.voided_at_unix_ms = voidedAtUnixMs
        c.voided_by_uid = voidedByUID
        return c
    }
}

extension GenerateBillingResponse: WireMessage, CMessageEncodable {
    /// `tokengate.v1.GenerateBillingResponse`.
    public static let protoName = "tokengate.v1.GenerateBillingResponse"
    /// Decodes and validates protobuf bytes; `record` is required.
    public static func decode(_ bytes: [UInt8]) throws(TokenGateError) -> Self {
        try WireCodec.decode(bytes, fieldPrefix: "generate_billing_response")
    }
    /// The protobuf bytes of this message.
    public func encoded() -> [UInt8] { ProtobufC.pack(self) }

    static func cEmpty() -> Tokengate__V1__GenerateBillingResponse {
        var c = Tokengate__V1__GenerateBillingResponse()
        tokengate__v1__generate_billing_response__init(&c)
        return c
    }

    init(copying c: Tokengate__V1__GenerateBillingResponse) throws(FieldError) {
        guard let record: BillingRecord = try copyMessage(c.record, field: "record") else {
            throw FieldError(field: "record", problem: .missing)
        }
        self.init(
            record: record, recommendedTier: try copyString(c.recommended_tier, field: "recommended_tier"),
            recommendedTotalNanoUSD: c.recommended_total_nano_usd, savingNanoUSD: c.saving_nano_usd,
            newlyStored: c.newly_stored != 0
        )
    }

    func cMessage(in arena: inout CArena) -> Tokengate__V1__GenerateBillingResponse {
        var c = Self.cEmpty()
        c.record = arena.message(record)
        c.recommended_tier = arena.cString(recommendedTier)
        c.recommended_total_nano_usd = recommendedTotalNanoUSD
        c.saving_nano_usd = savingNanoUSD
        c.newly_stored = cBool(newlyStored)
        return c
    }
}

// MARK: - Health

extension HealthCheckRequest: WireMessage, CMessageEncodable {
    /// `tokengate.v1.HealthCheckRequest`.
    public static let protoName = "tokengate.v1.HealthCheckRequest"
    /// Decodes and validates protobuf bytes; see `WireMessage.decode(_:)`.
    public static func decode(_ bytes: [UInt8]) throws(TokenGateError) -> Self {
        try WireCodec.decode(bytes, fieldPrefix: "health")
    }
    /// The protobuf bytes of this message.
    public func encoded() -> [UInt8] { ProtobufC.pack(self) }

    static func cEmpty() -> Tokengate__V1__HealthCheckRequest {
        var c = Tokengate__V1__HealthCheckRequest()
        tokengate__v1__health_check_request__init(&c)
        return c
    }

    init(copying c: Tokengate__V1__HealthCheckRequest) throws(FieldError) {
        self.init(service: try copyString(c.service, field: "service"))
    }

    func cMessage(in arena: inout CArena) -> Tokengate__V1__HealthCheckRequest {
        var c = Self.cEmpty()
        c.service = arena.cString(service)
        return c
    }
}

extension HealthCheckResponse: WireMessage, CMessageEncodable {
    /// `tokengate.v1.HealthCheckResponse`.
    public static let protoName = "tokengate.v1.HealthCheckResponse"
    /// Decodes and validates protobuf bytes; an absent status decodes as `.unspecified`.
    public static func decode(_ bytes: [UInt8]) throws(TokenGateError) -> Self {
        try WireCodec.decode(bytes, fieldPrefix: "health_response")
    }
    /// The protobuf bytes of this message.
    public func encoded() -> [UInt8] { ProtobufC.pack(self) }

    static func cEmpty() -> Tokengate__V1__HealthCheckResponse {
        var c = Tokengate__V1__HealthCheckResponse()
        tokengate__v1__health_check_response__init(&c)
        return c
    }

    init(copying c: Tokengate__V1__HealthCheckResponse) throws(FieldError) {
        self.init(
            status: try copyEnum(c.status, as: ServingStatus.self, field: "status"),
            warnings: try copyStrings(count: c.n_warnings, c.warnings, field: "warnings"))
    }

    func cMessage(in arena: inout CArena) -> Tokengate__V1__HealthCheckResponse {
        var c = Self.cEmpty()
        c.status = cEnum(status)
        (c.n_warnings, c.warnings) = arena.cStrings(warnings)
        return c
    }
}
