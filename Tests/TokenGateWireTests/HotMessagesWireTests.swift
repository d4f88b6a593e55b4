// The hand-written CanMakeRequest encoders and decoders against protobuf-c itself and against the
// generated general path (Wire.generated.swift): seeded random messages must encode to exactly
// the bytes protobuf-c's pack makes of the same values (from a C struct built here, and through
// the generated `cMessage`), and decode (from those bytes, and from them damaged at random)
// exactly as protobuf-c's unpack plus the generated `init(copying:)` decode them. A failure
// prints its seed and round.

import Foundation
import TokenGateCore
import TokenGateProtoC
import XCTest

@testable import TokenGateWire
import TokenGateTestSupport

final class HotMessagesWireTests: XCTestCase {
    static let seed: UInt64 = 0x7E6A_7E00_0601

    static func text(_ generator: inout SplitMix64) -> String {
        let choices = ["", "shop-0000042", "gemini-2.5-pro", "ショップ-🛒", "a\u{0}b", "\u{0}", String(repeating: "x", count: 200)]
        return choices[Int(generator.next() % UInt64(choices.count))]
    }

    static func number(_ generator: inout SplitMix64) -> UInt64 {
        [0, 1, 127, 128, 300, UInt64(UInt32.max), UInt64(Int64.max), UInt64.max, generator.next()][Int(generator.next() % 9)]
    }

    /// protobuf-c's bytes for `message`, through a C struct whose strings live until return.
    static func packedByProtobufC(_ message: CanMakeRequestRequest) -> [UInt8] {
        let strings: [UnsafeMutablePointer<CChar>] = [message.shopID, message.operationType, message.model, message.requestID].map { (text: String) in strdup(text)! }
        defer { strings.forEach { free($0) } }
        var c = Tokengate__V1__CanMakeRequestRequest()
        tokengate__v1__can_make_request_request__init(&c)
        (c.shop_id, c.operation_type, c.model, c.request_id) = (strings[0], strings[1], strings[2], strings[3])
        c.estimated_input_tokens = message.estimatedInputTokens
        c.max_output_tokens = message.maxOutputTokens
        c.reserve = message.reserve ? 1 : 0
        var out = [UInt8](repeating: 0, count: tokengate__v1__can_make_request_request__get_packed_size(&c))
        _ = out.withUnsafeMutableBufferPointer { tokengate__v1__can_make_request_request__pack(&c, $0.baseAddress) }
        return out
    }

    static func packedByProtobufC(_ message: CanMakeRequestResponse) -> [UInt8] {
        let strings: [UnsafeMutablePointer<CChar>] = [message.message, message.reservationID, message.requestID].map { (text: String) in strdup(text)! }
        defer { strings.forEach { free($0) } }
        var c = Tokengate__V1__CanMakeRequestResponse()
        tokengate__v1__can_make_request_response__init(&c)
        (c.message, c.reservation_id, c.request_id) = (strings[0], strings[1], strings[2])
        c.decision = Tokengate__V1__Decision(rawValue: UInt32(bitPattern: message.decision.rawValue))
        c.reason = Tokengate__V1__DecisionReason(rawValue: UInt32(bitPattern: message.reason.rawValue))
        c.shadow_reason = Tokengate__V1__DecisionReason(rawValue: UInt32(bitPattern: message.shadowReason.rawValue))
        c.warning = message.warning ? 1 : 0
        c.shadow_denied = message.shadowDenied ? 1 : 0
        c.daily_remaining_nano_usd = message.dailyRemainingNanoUSD
        c.monthly_remaining_nano_usd = message.monthlyRemainingNanoUSD
        c.daily_used_basis_points = message.dailyUsedBasisPoints
        c.monthly_used_basis_points = message.monthlyUsedBasisPoints
        c.estimated_cost_nano_usd = message.estimatedCostNanoUSD
        c.reservation_expires_unix_ms = message.reservationExpiresUnixMs
        var out = [UInt8](repeating: 0, count: tokengate__v1__can_make_request_response__get_packed_size(&c))
        _ = out.withUnsafeMutableBufferPointer { tokengate__v1__can_make_request_response__pack(&c, $0.baseAddress) }
        return out
    }

    func testRequestBytesMatchProtobufC() {
        var generator = SplitMix64(seed: Self.seed)
        for round in 0..<2_000 {
            let request = CanMakeRequestRequest(
                shopID: Self.text(&generator), operationType: Self.text(&generator), model: Self.text(&generator),
                estimatedInputTokens: Self.number(&generator), maxOutputTokens: Self.number(&generator),
                requestID: Self.text(&generator), reserve: generator.next() % 2 == 0)
            XCTAssertEqual(request.encoded(), Self.packedByProtobufC(request), "seed \(Self.seed) round \(round): \(request)")
            // The generated general path (Wire.generated.swift's `cMessage`) packs the same bytes.
            XCTAssertEqual(request.encoded(), ProtobufC.pack(request), "seed \(Self.seed) round \(round): generated path")
        }
    }

    func testResponseBytesMatchProtobufC() {
        var generator = SplitMix64(seed: Self.seed &+ 1)
        let decisions: [Decision] = [.allow, .deny]
        let reasons = DecisionReason.allCases
        for round in 0..<2_000 {
            let response = CanMakeRequestResponse(
                decision: decisions[Int(generator.next() % 2)], reason: reasons[Int(generator.next() % UInt64(reasons.count))],
                warning: generator.next() % 2 == 0, message: Self.text(&generator),
                dailyRemainingNanoUSD: Int64(bitPattern: Self.number(&generator)),
                monthlyRemainingNanoUSD: Int64(bitPattern: Self.number(&generator)),
                dailyUsedBasisPoints: UInt32(truncatingIfNeeded: Self.number(&generator)),
                monthlyUsedBasisPoints: UInt32(truncatingIfNeeded: Self.number(&generator)),
                estimatedCostNanoUSD: Int64(bitPattern: Self.number(&generator)), reservationID: Self.text(&generator),
                reservationExpiresUnixMs: Int64(bitPattern: Self.number(&generator)), requestID: Self.text(&generator),
                shadowDenied: generator.next() % 2 == 0, shadowReason: reasons[Int(generator.next() % UInt64(reasons.count))])
            XCTAssertEqual(response.encoded(), Self.packedByProtobufC(response), "seed \(Self.seed &+ 1) round \(round): \(response)")
            XCTAssertEqual(response.encoded(), ProtobufC.pack(response), "seed \(Self.seed &+ 1) round \(round): generated path")
        }
    }

    static func randomRequest(_ generator: inout SplitMix64) -> CanMakeRequestRequest {
        CanMakeRequestRequest(
            shopID: text(&generator), operationType: text(&generator), model: text(&generator),
            estimatedInputTokens: number(&generator), maxOutputTokens: number(&generator), requestID: text(&generator),
            reserve: generator.next() % 2 == 0)
    }

    static func randomResponse(_ generator: inout SplitMix64) -> CanMakeRequestResponse {
        let reasons = DecisionReason.allCases
        return CanMakeRequestResponse(
            decision: [.allow, .deny][Int(generator.next() % 2)], reason: reasons[Int(generator.next() % UInt64(reasons.count))],
            warning: generator.next() % 2 == 0, message: text(&generator),
            dailyRemainingNanoUSD: Int64(bitPattern: number(&generator)), monthlyRemainingNanoUSD: Int64(bitPattern: number(&generator)),
            dailyUsedBasisPoints: UInt32(truncatingIfNeeded: number(&generator)),
            monthlyUsedBasisPoints: UInt32(truncatingIfNeeded: number(&generator)),
            estimatedCostNanoUSD: Int64(bitPattern: number(&generator)), reservationID: text(&generator),
            reservationExpiresUnixMs: Int64(bitPattern: number(&generator)), requestID: text(&generator),
            shadowDenied: generator.next() % 2 == 0, shadowReason: reasons[Int(generator.next() % UInt64(reasons.count))])
    }

    /// `bytes` with one seeded change: a byte replaced, cut short, a byte inserted, or a high bit flipped.
    static func damaged(_ bytes: [UInt8], _ generator: inout SplitMix64) -> [UInt8] {
        var bytes = bytes
        guard !bytes.isEmpty else { return [UInt8(truncatingIfNeeded: generator.next())] }
        let at = Int(generator.next() % UInt64(bytes.count))
        switch generator.next() % 4 {
        case 0: bytes[at] = UInt8(truncatingIfNeeded: generator.next())
        case 1: bytes.removeLast(at)
        case 2: bytes.insert(UInt8(truncatingIfNeeded: generator.next()), at: at)
        default: bytes[at] ^= 0x80
        }
        return bytes
    }

    /// Both decode paths of `M` give the same message or the same error for `bytes`.
    func assertPathsAgree<M: WireMessage & CMessageDecodable & Equatable>(
        _ bytes: [UInt8], as _: M.Type, prefix: String, _ context: String
    ) {
        let direct = Result { () throws(TokenGateError) -> M in try M.decode(bytes) }
        let reference = Result { () throws(TokenGateError) -> M in try WireCodec.decode(bytes, fieldPrefix: prefix) }
        switch (direct, reference) {
        case (.success(let a), .success(let b)): XCTAssertEqual(a, b, context)
        case (.failure(let a), .failure(let b)): XCTAssertEqual(a, b, context)
        default: XCTFail("paths disagree, \(context) bytes \(bytes): \(direct) vs \(reference)")
        }
    }

    func testDirectDecodersMatchProtobufC() {
        var generator = SplitMix64(seed: Self.seed &+ 2)
        var plainRequests = 0
        var plainResponses = 0
        for round in 0..<2_000 {
            let request = Self.randomRequest(&generator)
            let requestBytes = request.encoded()
            assertPathsAgree(requestBytes, as: CanMakeRequestRequest.self, prefix: "can_make_request", "seed \(Self.seed &+ 2) round \(round)")
            let response = Self.randomResponse(&generator)
            let responseBytes = response.encoded()
            assertPathsAgree(responseBytes, as: CanMakeRequestResponse.self, prefix: "can_make_request_response", "seed \(Self.seed &+ 2) round \(round)")
            // Strings cut at a NUL come back cut, as protobuf-c packs them; all else comes back whole.
            let requestHasNUL = [request.shopID, request.operationType, request.model, request.requestID].contains { $0.utf8.contains(0) }
            if let direct = HotMessageDecoder.canMakeRequest(requestBytes[...]) {
                if !requestHasNUL { XCTAssertEqual(direct, request, "round \(round)") }
                plainRequests += 1
            }
            let responseHasNUL = [response.message, response.reservationID, response.requestID].contains { $0.utf8.contains(0) }
            if let direct = HotMessageDecoder.canMakeRequestResponse(responseBytes) {
                if !responseHasNUL { XCTAssertEqual(direct, response, "round \(round)") }
                plainResponses += 1
            }
        }
        // The direct path must really carry the ASCII messages, not leave everything to protobuf-c.
        XCTAssertGreaterThan(plainRequests, 100)
        XCTAssertGreaterThan(plainResponses, 100)
        let typical = CanMakeRequestRequest(shopID: "shop-0000042", estimatedInputTokens: 2_000, maxOutputTokens: 500)
        XCTAssertEqual(HotMessageDecoder.canMakeRequest(typical.encoded()[...]), typical)
        let allowed = CanMakeRequestResponse(decision: .allow, reason: .withinBudget, message: "within budget", estimatedCostNanoUSD: 1_250_000)
        XCTAssertEqual(HotMessageDecoder.canMakeRequestResponse(allowed.encoded()), allowed)
        // No decision is not a response; a repeated field is left to protobuf-c (last one wins there).
        XCTAssertNil(HotMessageDecoder.canMakeRequestResponse([]))
        XCTAssertNil(HotMessageDecoder.canMakeRequest([0x20, 0x01, 0x20, 0x02][...]))
        XCTAssertEqual(try CanMakeRequestRequest.decode([0x20, 0x01, 0x20, 0x02]).estimatedInputTokens, 2)
    }

    /// A LogUsageRequest whose strings are mostly plain ids (the others from `text`), with
    /// metadata pairs now and then.
    static func randomUsage(_ generator: inout SplitMix64) -> LogUsageRequest {
        func id(_ generator: inout SplitMix64) -> String {
            generator.next() % 4 == 0 ? text(&generator) : "id-\(generator.next() % 100_000)"
        }
        let extra = generator.next() % 4 == 0 ? [MetadataEntry(key: id(&generator), value: id(&generator))] : []
        return LogUsageRequest(
            eventID: id(&generator), shopID: id(&generator), userID: id(&generator), conversationID: id(&generator),
            operationType: id(&generator), model: id(&generator), inputTokens: number(&generator),
            outputTokens: number(&generator), cachedInputTokens: number(&generator),
            occurredAtUnixMs: Int64(bitPattern: number(&generator)), reservationID: id(&generator),
            metadata: UsageMetadata(
                messageLength: UInt32(truncatingIfNeeded: number(&generator)),
                historyLength: UInt32(truncatingIfNeeded: number(&generator)), knowledgeBaseSize: number(&generator),
                extra: extra))
    }

    func testLogUsageDirectDecoderMatchesProtobufC() {
        var generator = SplitMix64(seed: Self.seed &+ 3)
        var plain = 0
        for round in 0..<3_000 {
            let usage = Self.randomUsage(&generator)
            let bytes = usage.encoded()  // protobuf-c's pack
            let context = "seed \(Self.seed &+ 3) round \(round)"
            assertPathsAgree(bytes, as: LogUsageRequest.self, prefix: "log_usage", context)
            assertPathsAgree(Self.damaged(bytes, &generator), as: LogUsageRequest.self, prefix: "log_usage", context + " damaged")
            let strings = [usage.eventID, usage.shopID, usage.userID, usage.conversationID, usage.operationType, usage.model, usage.reservationID]
            if let direct = HotMessageDecoder.logUsage(bytes[...]) {
                if !strings.contains(where: { $0.utf8.contains(0) }) { XCTAssertEqual(direct, usage, context) }
                XCTAssertTrue(usage.metadata.extra.isEmpty, "metadata pairs are left to protobuf-c, \(context)")
                plain += 1
            }
        }
        XCTAssertGreaterThan(plain, 500, "the direct path must carry the plain requests")
        // What a chat worker sends, and the proto3 defaults of absent fields (not the Swift ones).
        let typical = LogUsageRequest(
            eventID: "0f11e000-0000-4000-8000-000000000001", shopID: "shop-0000042", userID: "user-000001",
            inputTokens: 2_062, outputTokens: 201, metadata: UsageMetadata(messageLength: 180, historyLength: 6))
        XCTAssertEqual(HotMessageDecoder.logUsage(typical.encoded()[...]), typical)
        let bare = try? LogUsageRequest.decode(LogUsageRequest(shopID: "s", operationType: "", model: "").encoded())
        XCTAssertEqual(bare?.operationType, "")
        XCTAssertEqual(bare?.model, "")
    }

    static func randomEnvelopes(_ generator: inout SplitMix64) -> (RequestEnvelope, ResponseEnvelope) {
        let methods = MethodPath.all + ["", "/not.a/Method", "ショップ"]
        let payload = (0..<Int(generator.next() % 40)).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
        let request = RequestEnvelope(
            callID: number(&generator), method: methods[Int(generator.next() % UInt64(methods.count))],
            deadlineMs: UInt32(truncatingIfNeeded: number(&generator)), payload: payload)
        let response = ResponseEnvelope(
            callID: number(&generator), statusCode: UInt32(truncatingIfNeeded: number(&generator)), statusMessage: text(&generator),
            payload: payload, endOfStream: generator.next() % 2 == 0)
        return (request, response)
    }

    /// The envelopes' direct decoders give what the general envelope decoder gives, or leave
    /// the bytes to it; a request's payload stays a slice of the frame, wherever it starts.
    func testEnvelopeDirectDecodersAgreeWithTheGeneralDecoder() {
        let seed = UInt64.random(in: 1...UInt64.max)
        print("HotMessagesWireTests envelope seed \(seed)")
        var generator = SplitMix64(seed: seed)
        var plain = (requests: 0, responses: 0)
        for round in 0..<10_000 {
            let (request, response) = Self.randomEnvelopes(&generator)
            let damage = round % 2 == 1
            // A frame inside a larger buffer, as the daemon's reader holds it.
            let requestBytes = [0xAA] + (damage ? Self.damaged(request.encoded(), &generator) : request.encoded())
            let requestFrame = requestBytes[1...]
            let general = try? RequestEnvelope.decodeFields(requestFrame)
            if let direct = HotMessageDecoder.requestEnvelope(requestFrame) {
                XCTAssertEqual(direct, general, "seed \(seed) round \(round)")
                plain.requests += 1
            }
            if !damage, MethodPath.all.contains(request.method) {
                XCTAssertEqual(try? RequestEnvelope.decode(requestFrame), request, "seed \(seed) round \(round)")
            }
            let responseBytes = damage ? Self.damaged(response.encoded(), &generator) : response.encoded()
            let generalResponse = try? ResponseEnvelope.decodeFields(responseBytes[...])
            if let direct = HotMessageDecoder.responseEnvelope(responseBytes[...]) {
                XCTAssertEqual(direct, generalResponse, "seed \(seed) round \(round)")
                plain.responses += 1
            }
        }
        XCTAssertGreaterThan(plain.requests, 1_000)
        XCTAssertGreaterThan(plain.responses, 1_000)
        let call = RequestEnvelope(callID: 9, method: MethodPath.canMakeRequest, deadlineMs: 2_000, payload: [1, 2, 3])
        var stream: [UInt8] = [0, 0, 0]
        call.appendFrame(to: &stream)
        let decoded = HotMessageDecoder.requestEnvelope(stream[7...])
        XCTAssertEqual(decoded, call)
        XCTAssertEqual(decoded?.payload.startIndex, stream.count - 3, "the payload is a slice of the frame, not a copy")
    }

    func testDamagedBytesDecodeAlikeOnBothPaths() {
        let seed = UInt64.random(in: 1...UInt64.max)
        print("HotMessagesWireTests seed \(seed)")
        var generator = SplitMix64(seed: seed)
        for round in 0..<10_000 {
            let request = Self.damaged(Self.randomRequest(&generator).encoded(), &generator)
            assertPathsAgree(request, as: CanMakeRequestRequest.self, prefix: "can_make_request", "seed \(seed) round \(round)")
            let response = Self.damaged(Self.randomResponse(&generator).encoded(), &generator)
            assertPathsAgree(response, as: CanMakeRequestResponse.self, prefix: "can_make_request_response", "seed \(seed) round \(round)")
        }
    }
}
