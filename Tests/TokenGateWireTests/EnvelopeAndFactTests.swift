// Tests of the request/response envelopes, the stored-fact codec and the method paths: round
// trips, bytes pinned to the spec, and the error each kind of bad input must produce.

import TokenGateCore
import TokenGateWire
import XCTest

final class EnvelopeTests: XCTestCase {
    func testRequestEnvelopeRoundTrips() throws {
        let envelope = RequestEnvelope(
            callID: UInt64.max, method: MethodPath.logUsage, deadlineMs: UInt32.max, payload: Samples.logUsageRequest.encoded()
        )
        XCTAssertEqual(try RequestEnvelope.decode(envelope.encoded()), envelope)
        let empty = RequestEnvelope(callID: 0, method: "", deadlineMs: 0, payload: [])
        XCTAssertEqual(empty.encoded(), [])
        XCTAssertEqual(try RequestEnvelope.decode([]), empty)
    }

    func testResponseEnvelopeRoundTrips() throws {
        let envelope = ResponseEnvelope(
            callID: 1 << 63, statusCode: StatusCode.failedPrecondition.rawValue,
            statusMessage: "period 2025-07 has not ended — preview only", payload: [0, 1, 2, 0xFF], endOfStream: true
        )
        XCTAssertEqual(try ResponseEnvelope.decode(envelope.encoded()), envelope)
    }

    func testRequestEnvelopeBytesMatchTheSpec() {
        let envelope = RequestEnvelope(callID: 300, method: "/m", deadlineMs: 5, payload: [9, 8])
        let expected = ProtobufBytes().varint(1, 300).string(2, "/m").varint(3, 5).delimited(4, [9, 8])
        XCTAssertEqual(envelope.encoded(), expected.bytes)
    }

    func testGarbageFrameIsInvalidArgument() {
        let garbage: [UInt8] = [0xFF, 0xFF, 0xFF, 0xFF, 0xFF]
        XCTAssertThrowsError(try RequestEnvelope.decode(garbage)) { error in
            XCTAssertEqual(
                error as? TokenGateError,
                TokenGateError(.invalidArgument, "frame is not a tokengate.v1.RequestFrame (5 bytes)")
            )
        }
        XCTAssertThrowsError(try ResponseEnvelope.decode([0x22, 0x10, 0x00])) { error in
            XCTAssertEqual(
                error as? TokenGateError,
                TokenGateError(.invalidArgument, "frame is not a tokengate.v1.ResponseFrame (3 bytes)")
            )
        }
    }

    func testMethodThatIsNotUTF8IsInvalidArgument() {
        let bytes = ProtobufBytes().varint(1, 1).delimited(2, [0x2F] + invalidUTF8).bytes
        XCTAssertThrowsError(try RequestEnvelope.decode(bytes)) { error in
            XCTAssertEqual(error as? TokenGateError, TokenGateError(.invalidArgument, "request_frame.method is not valid UTF-8"))
        }
        let response = ProtobufBytes().delimited(3, invalidUTF8).bytes
        XCTAssertThrowsError(try ResponseEnvelope.decode(response)) { error in
            XCTAssertEqual(
                error as? TokenGateError, TokenGateError(.invalidArgument, "response_frame.status_message is not valid UTF-8")
            )
        }
    }

    func testValidEnvelopeWithGarbagePayloadFailsTheMessageDecode() throws {
        let envelope = RequestEnvelope(callID: 7, method: MethodPath.logUsage, deadlineMs: 0, payload: [0x12, 0x7F, 0x01])
        let decoded = try RequestEnvelope.decode(envelope.encoded())
        XCTAssertEqual(decoded.payload, [0x12, 0x7F, 0x01])
        XCTAssertThrowsError(try LogUsageRequest.decode(payload: decoded.payload)) { error in
            XCTAssertEqual(error as? TokenGateError, TokenGateError(.invalidArgument, "payload is not a tokengate.v1.LogUsageRequest"))
        }
    }

    func testEnvelopeInAFrameThroughTheReader() throws {
        let envelopes = (0..<3).map { RequestEnvelope(callID: UInt64($0), method: MethodPath.health, payload: HealthCheckRequest(service: "s\($0)").encoded()) }
        var stream: [UInt8] = []
        for envelope in envelopes { Framing.appendFrame(envelope.encoded(), to: &stream) }
        var reader = FrameReader(frameBytesMax: 64 * 1024)
        reader.append(stream)
        var decoded: [RequestEnvelope] = []
        while let frame = try reader.nextFrame() { decoded.append(try RequestEnvelope.decode(frame)) }
        XCTAssertEqual(decoded, envelopes)
        XCTAssertEqual(try HealthCheckRequest.decode(payload: decoded[2].payload).service, "s2")
    }

    func testMethodPathsAreDistinctAndInGRPCForm() {
        XCTAssertEqual(MethodPath.canMakeRequest, "/tokengate.v1.BudgetService/CanMakeRequest")
        XCTAssertEqual(MethodPath.health, "/tokengate.v1.BudgetService/Health")
        XCTAssertEqual(Set(MethodPath.all).count, MethodPath.all.count)
        for path in MethodPath.all { XCTAssertTrue(path.hasPrefix("/tokengate.v1.BudgetService/"), path) }
    }
}

final class FactCodecTests: XCTestCase {
    private let usageEvent = UsageEvent(
        eventID: "evt-ü", shopID: Samples.unicode, userID: "user-1", conversationID: "conv-1",
        operationType: "product_description", model: "gemini-2.5-pro", inputTokens: UInt64.max,
        outputTokens: UInt64.max - 3, cachedInputTokens: 1 << 62, occurredAtUnixMs: -1,
        costNanoUSD: -9_000_000_000, metadata: Samples.metadata, recordedAtUnixMs: Int64.max
    )

    private func assertDataLoss(_ bytes: [UInt8], _ expected: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try FactCodec.decode(bytes), file: file, line: line) { error in
            XCTAssertEqual(error as? TokenGateError, TokenGateError(.dataLoss, expected), file: file, line: line)
        }
    }

    func testEveryFactKindRoundTrips() throws {
        let facts: [Fact] = [
            .usage(usageEvent),
            .usage(UsageEvent(
                eventID: "", shopID: "s", userID: "", conversationID: "", operationType: "", model: "", inputTokens: 0,
                outputTokens: 0, cachedInputTokens: 0, occurredAtUnixMs: 0, costNanoUSD: 0, metadata: UsageMetadata(),
                recordedAtUnixMs: 0
            )),
            .billing(Samples.billingRecord),
            .tierAssignment(shopID: Samples.unicode, tier: "enterprise"),
            .tierAssignment(shopID: "", tier: ""),
        ]
        for fact in facts {
            let bytes = FactCodec.encode(fact)
            XCTAssertFalse(bytes.isEmpty, "\(fact)")
            XCTAssertEqual(try FactCodec.decode(bytes), fact)
        }
    }

    func testTierAssignmentBytesMatchTheSpec() {
        let inner = ProtobufBytes().string(1, "s").string(2, "starter")
        XCTAssertEqual(FactCodec.encode(.tierAssignment(shopID: "s", tier: "starter")), ProtobufBytes().delimited(3, inner.bytes).bytes)
    }

    func testUndecodableFactIsDataLoss() {
        assertDataLoss([0x0A, 0x40, 0x01], "bytes are not a tokengate.v1.FactRecord (3 bytes)")
    }

    func testFactWithNoKindIsDataLoss() {
        assertDataLoss([], "fact_record.fact is missing")
    }

    func testInvalidUTF8InAFactIsDataLossNamingTheField() {
        let usage = ProtobufBytes().string(1, "e").delimited(2, invalidUTF8)
        assertDataLoss(ProtobufBytes().delimited(1, usage.bytes).bytes, "fact_record.usage.shop_id is not valid UTF-8")
        let tier = ProtobufBytes().string(1, "s").delimited(2, invalidUTF8)
        assertDataLoss(ProtobufBytes().delimited(3, tier.bytes).bytes, "fact_record.tier_assignment.tier is not valid UTF-8")
    }
}

// MARK: - Month aggregates (retention)

final class MonthAggregateFactTests: XCTestCase {
    func testMonthAggregateRoundTripsAndMatchesTheSchema() throws {
        let aggregate = MonthAggregate(
            messages: 3, inputTokens: 4_000, outputTokens: UInt64.max, cachedInputTokens: 7, costNanoUSD: -5)
        let fact = Fact.monthAggregate(shopID: "shop_1", month: try MonthKey(parsing: "2025-06"), aggregate: aggregate)
        let bytes = FactCodec.encode(fact)
        XCTAssertEqual(try FactCodec.decode(bytes), fact)
        let inner = ProtobufBytes().string(1, "shop_1").string(2, "2025-06").varint(3, 3).varint(4, 4_000)
            .varint(5, UInt64.max).varint(6, 7).varint(7, UInt64(bitPattern: -5))
        XCTAssertEqual(bytes, ProtobufBytes().delimited(7, inner.bytes).bytes, "storage.proto MonthAggregateRecord")
    }

    func testAMonthAggregateWithABadPeriodIsDataLoss() {
        let inner = ProtobufBytes().string(1, "s").string(2, "2025-13")
        XCTAssertThrowsError(try FactCodec.decode(ProtobufBytes().delimited(7, inner.bytes).bytes)) { error in
            let error = error as? TokenGateError
            XCTAssertEqual(error?.code, .dataLoss)
            XCTAssertTrue(
                error?.message.hasPrefix("fact_record.month_aggregate.period is invalid: period must be YYYY-MM") ?? false,
                error?.message ?? "")
        }
    }
}
