// The hand-written CanMakeRequest encoders against protobuf-c itself: seeded random messages
// must encode to exactly the bytes protobuf-c's pack makes of the same values. A failure prints
// its seed and round.

import Foundation
import TokenGateCore
import TokenGateProtoC
import TokenGateWire
import XCTest

final class HotMessagesWireTests: XCTestCase {
    static let seed: UInt64 = 0x7E6A_7E00_0601

    static func text(_ generator: inout SeededGenerator) -> String {
        let choices = ["", "shop-0000042", "gemini-2.5-pro", "ショップ-🛒", "a\u{0}b", "\u{0}", String(repeating: "x", count: 200)]
        return choices[Int(generator.next() % UInt64(choices.count))]
    }

    static func number(_ generator: inout SeededGenerator) -> UInt64 {
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
        var generator = SeededGenerator(seed: Self.seed)
        for round in 0..<2_000 {
            let request = CanMakeRequestRequest(
                shopID: Self.text(&generator), operationType: Self.text(&generator), model: Self.text(&generator),
                estimatedInputTokens: Self.number(&generator), maxOutputTokens: Self.number(&generator),
                requestID: Self.text(&generator), reserve: generator.next() % 2 == 0)
            XCTAssertEqual(request.encoded(), Self.packedByProtobufC(request), "seed \(Self.seed) round \(round): \(request)")
        }
    }

    func testResponseBytesMatchProtobufC() {
        var generator = SeededGenerator(seed: Self.seed &+ 1)
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
        }
    }
}
