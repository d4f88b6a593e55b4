// Tests of the RPC message codecs: every message survives a round trip with every field set to
// a non-default value, the encoder's bytes match the protobuf spec, and the decoder rejects bad
// bytes, invalid UTF-8 and unknown enum numbers with INVALID_ARGUMENT naming the field.

import TokenGateCore
import TokenGateWire
import XCTest

/// Every RPC message with every field set to something other than its default.
enum Samples {
    static let unicode = "ショップ-🛒-Ünïcødé"

    static let canMakeRequestRequest = CanMakeRequestRequest(
        shopID: unicode, operationType: "photo_studio", model: "gemini-2.5-pro",
        estimatedInputTokens: UInt64.max, maxOutputTokens: UInt64.max - 1, requestID: "req-ß-1", reserve: true
    )
    static let canMakeRequestResponse = CanMakeRequestResponse(
        decision: .deny, reason: .tierSpendCapReached, warning: true, message: "über dem Limit ✋",
        dailyRemainingNanoUSD: Int64.min, monthlyRemainingNanoUSD: -1, dailyUsedBasisPoints: UInt32.max,
        monthlyUsedBasisPoints: 10_000, estimatedCostNanoUSD: Int64.max, reservationID: "res-🔒",
        reservationExpiresUnixMs: 1_767_225_600_000, requestID: "req-2", shadowDenied: true, shadowReason: .rateLimited
    )
    static let releaseReservationRequest = ReleaseReservationRequest(reservationID: "res-Ω-42")
    static let releaseReservationResponse = ReleaseReservationResponse(releasedNanoUSD: -123_456_789_012)
    static let applyOptimizationRequest = ApplyOptimizationRequest(
        shopID: unicode, operationType: "suggestion", model: "gemini-2.5-pro", historyLength: UInt32.max,
        maxOutputTokens: UInt64.max, estimatedInputTokens: 1 << 40
    )
    static let applyOptimizationResponse = ApplyOptimizationResponse(
        optimized: true, model: "gemini-2.5-flash", historyLength: 7, maxOutputTokens: 512,
        reasons: ["model downgraded 📉", "", "history capped at 7", "output capped"],
        estimatedCostBeforeNanoUSD: Int64.max, estimatedCostAfterNanoUSD: -5
    )
    static let metadata = UsageMetadata(
        messageLength: 4096, historyLength: 12, knowledgeBaseSize: UInt64.max,
        extra: [
            MetadataEntry(key: "locale", value: "ja-JP"),
            MetadataEntry(key: "", value: "empty key"),
            MetadataEntry(key: "emoji 🎉", value: "値"),
        ]
    )
    static let logUsageRequest = LogUsageRequest(
        eventID: "evt-ü-1", shopID: unicode, userID: "user-Ж", conversationID: "conv-9", operationType: "chat_message",
        model: "gemini-2.5-pro", inputTokens: UInt64.max, outputTokens: UInt64.max - 7, cachedInputTokens: 1 << 63,
        occurredAtUnixMs: -86_400_000, reservationID: "res-1", metadata: metadata
    )
    static let violations = [
        LimitViolation(kind: .inputTokens, limit: 10_000, actual: UInt64.max, message: "input over limit"),
        LimitViolation(kind: .outputTokens, limit: 2_000, actual: 2_001, message: "出力"),
        LimitViolation(kind: .totalTokens, limit: 12_000, actual: 1 << 50, message: ""),
    ]
    static let alerts = [
        Alert(
            shopID: unicode, kind: .dailyThreshold, period: "2025-06-30", thresholdNanoUSD: 4_000_000_000,
            actualNanoUSD: 4_100_000_000, raisedAtUnixMs: 1_751_241_600_000, message: "80 % of the daily cap"
        ),
        Alert(
            shopID: "shop-2", kind: .highDailyCost, period: "2025-06", thresholdNanoUSD: -1, actualNanoUSD: Int64.min,
            raisedAtUnixMs: Int64.max, message: "🚨"
        ),
    ]
    static let logUsageResponse = LogUsageResponse(
        eventID: "evt-ü-1", costNanoUSD: -42, dailyTotalNanoUSD: Int64.max, monthlyTotalNanoUSD: Int64.min,
        violations: violations, alerts: alerts, duplicate: true, occurredAtUnixMs: 1_751_241_600_123,
        billingPeriod: "2025-07", reservationOutcome: .alreadyEnded
    )
    static let generateBillingRequest = GenerateBillingRequest(shopID: unicode, period: "2025-06", preview: true)
    static let billingRecord = BillingRecord(
        shopID: unicode, period: "2025-06", tier: "professional", messagesUsed: UInt64.max, tokensUsed: UInt64.max - 1,
        apiCostNanoUSD: -1, baseChargeNanoUSD: 15_000_000_000, overageChargeNanoUSD: Int64.min,
        totalChargeNanoUSD: Int64.max, paid: true, generatedAtUnixMs: 1_751_328_000_000, preview: true
    )
    static let generateBillingResponse = GenerateBillingResponse(
        record: billingRecord, recommendedTier: "starter ⭐", recommendedTotalNanoUSD: -7, savingNanoUSD: Int64.max,
        newlyStored: true
    )
    static let healthCheckRequest = HealthCheckRequest(service: "tokengate.v1.BudgetService")
    static let healthCheckResponse = HealthCheckResponse(status: .notServing)
}

final class MessagesWireTests: XCTestCase {
    private func assertRoundTrip<M: WireMessage & Equatable>(
        _ message: M, file: StaticString = #filePath, line: UInt = #line
    ) throws {
        let bytes = message.encoded()
        XCTAssertFalse(bytes.isEmpty, "\(M.protoName) encoded to nothing", file: file, line: line)
        XCTAssertEqual(try M.decode(bytes), message, "\(M.protoName)", file: file, line: line)
    }

    private func assertInvalidArgument<M: WireMessage>(
        _ type: M.Type, _ bytes: [UInt8], _ expected: String, file: StaticString = #filePath, line: UInt = #line
    ) {
        XCTAssertThrowsError(try M.decode(bytes), file: file, line: line) { error in
            XCTAssertEqual(error as? TokenGateError, TokenGateError(.invalidArgument, expected), file: file, line: line)
        }
    }

    // MARK: Round trips

    func testEveryMessageRoundTripsWithEveryFieldSet() throws {
        try assertRoundTrip(Samples.canMakeRequestRequest)
        try assertRoundTrip(Samples.canMakeRequestResponse)
        try assertRoundTrip(Samples.releaseReservationRequest)
        try assertRoundTrip(Samples.releaseReservationResponse)
        try assertRoundTrip(Samples.applyOptimizationRequest)
        try assertRoundTrip(Samples.applyOptimizationResponse)
        try assertRoundTrip(Samples.logUsageRequest)
        try assertRoundTrip(Samples.logUsageResponse)
        try assertRoundTrip(Samples.generateBillingRequest)
        try assertRoundTrip(Samples.generateBillingResponse)
        try assertRoundTrip(Samples.healthCheckRequest)
        try assertRoundTrip(Samples.healthCheckResponse)
    }

    func testEveryEnumCaseRoundTrips() throws {
        for reason in DecisionReason.allCases {
            for decision in [Decision.allow, .deny] {
                var response = Samples.canMakeRequestResponse
                response.decision = decision
                response.reason = reason
                response.shadowReason = reason
                try assertRoundTrip(response)
            }
        }
        for kind in AlertKind.allCases {
            var response = Samples.logUsageResponse
            response.alerts[0].kind = kind
            response.violations = [.inputTokens, .outputTokens, .totalTokens].map {
                LimitViolation(kind: $0, limit: 1, actual: 2, message: "m")
            }
            try assertRoundTrip(response)
        }
        for status in [ServingStatus.unspecified, .serving, .notServing] {
            XCTAssertEqual(try HealthCheckResponse.decode(HealthCheckResponse(status: status).encoded()).status, status)
        }
    }

    func testDefaultValuesRoundTrip() throws {
        try assertRoundTrip(CanMakeRequestResponse(decision: .allow, reason: .unspecified))
        XCTAssertEqual(try HealthCheckRequest.decode(HealthCheckRequest().encoded()), HealthCheckRequest())
        XCTAssertEqual(HealthCheckRequest().encoded(), [], "proto3 omits default fields")
        XCTAssertEqual(try ApplyOptimizationResponse.decode([]), ApplyOptimizationResponse(optimized: false, model: "", historyLength: 0, maxOutputTokens: 0))
    }

    // MARK: Bytes pinned to the spec

    func testEncodingMatchesTheProtobufSpec() {
        XCTAssertEqual(HealthCheckRequest(service: "é").encoded(), [0x0A, 0x02, 0xC3, 0xA9])
        // int64 -1 is a ten-byte varint.
        XCTAssertEqual(
            ReleaseReservationResponse(releasedNanoUSD: -1).encoded(),
            [0x08] + ProtobufBytes.varint(UInt64.max)
        )
        let expected = ProtobufBytes()
            .string(1, "s").string(2, "op").string(3, "m").varint(4, UInt64.max).varint(5, 3).string(6, "r").varint(7, 1)
        let request = CanMakeRequestRequest(
            shopID: "s", operationType: "op", model: "m", estimatedInputTokens: UInt64.max, maxOutputTokens: 3,
            requestID: "r", reserve: true
        )
        XCTAssertEqual(request.encoded(), expected.bytes)
    }

    func testHandBuiltBytesDecodeIncludingNestedAndRepeatedFields() throws {
        let entry = ProtobufBytes().string(1, "k").string(2, "v")
        let metadata = ProtobufBytes().varint(1, 5).delimited(4, entry.bytes).delimited(4, entry.bytes)
        let bytes = ProtobufBytes().string(2, "shop").varint(7, 9).delimited(12, metadata.bytes)
        let decoded = try LogUsageRequest.decode(bytes.bytes)
        XCTAssertEqual(decoded.shopID, "shop")
        XCTAssertEqual(decoded.inputTokens, 9)
        XCTAssertEqual(decoded.metadata.messageLength, 5)
        XCTAssertEqual(decoded.metadata.extra, [MetadataEntry(key: "k", value: "v"), MetadataEntry(key: "k", value: "v")])
        XCTAssertEqual(decoded.eventID, "")
    }

    func testAbsentMetadataDecodesAsEmptyMetadata() throws {
        let decoded = try LogUsageRequest.decode(ProtobufBytes().string(2, "shop").bytes)
        XCTAssertEqual(decoded, LogUsageRequest(shopID: "shop", operationType: "", model: ""))
    }

    // MARK: Rejections

    func testUndecodableBytesAreInvalidArgumentNamingTheMessage() {
        let garbage: [[UInt8]] = [
            [0xFF, 0xFF, 0xFF],  // truncated varint tag
            [0x12, 0x05, 0x61],  // string field claims 5 bytes, has 1
            [0x07],  // field number 0
        ]
        for bytes in garbage {
            assertInvalidArgument(LogUsageRequest.self, bytes, "payload is not a tokengate.v1.LogUsageRequest")
            assertInvalidArgument(CanMakeRequestRequest.self, bytes, "payload is not a tokengate.v1.CanMakeRequestRequest")
        }
    }

    func testInvalidUTF8IsRejectedNamingTheField() {
        assertInvalidArgument(
            LogUsageRequest.self, ProtobufBytes().delimited(2, invalidUTF8).bytes, "log_usage.shop_id is not valid UTF-8"
        )
        assertInvalidArgument(
            CanMakeRequestRequest.self, ProtobufBytes().string(1, "ok").delimited(3, invalidUTF8).bytes,
            "can_make_request.model is not valid UTF-8"
        )
        assertInvalidArgument(
            HealthCheckRequest.self, ProtobufBytes().delimited(1, [0x61, 0xC3]).bytes,  // truncated 2-byte sequence
            "health.service is not valid UTF-8"
        )
        assertInvalidArgument(
            ApplyOptimizationResponse.self, ProtobufBytes().string(5, "fine").delimited(5, invalidUTF8).bytes,
            "apply_optimization_response.reasons[1] is not valid UTF-8"
        )
    }

    func testInvalidUTF8InsideNestedMessagesNamesThePath() {
        let badEntry = ProtobufBytes().string(1, "k").delimited(2, invalidUTF8)
        let metadata = ProtobufBytes().delimited(4, ProtobufBytes().string(1, "ok").bytes).delimited(4, badEntry.bytes)
        assertInvalidArgument(
            LogUsageRequest.self, ProtobufBytes().delimited(12, metadata.bytes).bytes,
            "log_usage.metadata.extra[1].value is not valid UTF-8"
        )
        let alert = ProtobufBytes().varint(2, 1).delimited(7, invalidUTF8)
        assertInvalidArgument(
            LogUsageResponse.self, ProtobufBytes().delimited(6, alert.bytes).bytes,
            "log_usage_response.alerts[0].message is not valid UTF-8"
        )
        let record = ProtobufBytes().delimited(3, invalidUTF8)
        assertInvalidArgument(
            GenerateBillingResponse.self, ProtobufBytes().delimited(1, record.bytes).bytes,
            "generate_billing_response.record.tier is not valid UTF-8"
        )
    }

    func testUnknownEnumNumbersAreInvalidArgument() {
        let allowed = ProtobufBytes().varint(1, 1)
        assertInvalidArgument(
            CanMakeRequestResponse.self, ProtobufBytes().varint(1, 7).bytes,
            "can_make_request_response.decision has unknown tokengate.v1.Decision value 7"
        )
        assertInvalidArgument(
            CanMakeRequestResponse.self, allowed.varint(2, 9).bytes,
            "can_make_request_response.reason has unknown tokengate.v1.DecisionReason value 9"
        )
        assertInvalidArgument(
            CanMakeRequestResponse.self, allowed.varint(14, UInt64.max).bytes,  // -1, sign-extended
            "can_make_request_response.shadow_reason has unknown tokengate.v1.DecisionReason value -1"
        )
        assertInvalidArgument(
            HealthCheckResponse.self, ProtobufBytes().varint(1, 3).bytes,
            "health_response.status has unknown tokengate.v1.ServingStatus value 3"
        )
        let alert = ProtobufBytes().varint(2, 6)
        assertInvalidArgument(
            LogUsageResponse.self, ProtobufBytes().delimited(6, ProtobufBytes().varint(2, 1).bytes).delimited(6, alert.bytes).bytes,
            "log_usage_response.alerts[1].kind has unknown tokengate.v1.AlertKind value 6"
        )
    }

    func testUnspecifiedEnumsAreRejectedOnlyWhereSwiftHasNoSuchCase() throws {
        // Decision has no unspecified case: an absent decision is an error.
        assertInvalidArgument(
            CanMakeRequestResponse.self, ProtobufBytes().varint(3, 1).bytes,
            "can_make_request_response.decision is unspecified (tokengate.v1.Decision 0)"
        )
        assertInvalidArgument(
            LogUsageResponse.self, ProtobufBytes().delimited(5, ProtobufBytes().varint(2, 5).bytes).bytes,
            "log_usage_response.violations[0].kind is unspecified (tokengate.v1.LimitKind 0)"
        )
        assertInvalidArgument(
            LogUsageResponse.self, ProtobufBytes().delimited(6, ProtobufBytes().string(1, "s").bytes).bytes,
            "log_usage_response.alerts[0].kind is unspecified (tokengate.v1.AlertKind 0)"
        )
        // DecisionReason and ServingStatus do have one.
        let decoded = try CanMakeRequestResponse.decode(ProtobufBytes().varint(1, 2).bytes)
        XCTAssertEqual(decoded.decision, .deny)
        XCTAssertEqual(decoded.reason, .unspecified)
        XCTAssertEqual(try HealthCheckResponse.decode([]).status, .unspecified)
    }

    func testBillingResponseWithoutRecordIsRejected() {
        assertInvalidArgument(
            GenerateBillingResponse.self, ProtobufBytes().string(2, "starter").bytes,
            "generate_billing_response.record is missing"
        )
    }

    func testPayloadOverTheMessageLimitIsResourceExhausted() {
        let bytes = [UInt8](repeating: 0, count: WireLimits.messageBytesMax + 1)
        XCTAssertThrowsError(try LogUsageRequest.decode(bytes)) { error in
            XCTAssertEqual((error as? TokenGateError)?.code, .resourceExhausted)
        }
    }
}
