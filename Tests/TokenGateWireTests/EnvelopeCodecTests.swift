// The hand-written envelope codec against protobuf-c itself: random envelopes must encode to
// bytes protobuf-c decodes to the same values, and random and mutated bytes must be accepted or
// refused exactly as protobuf-c accepts or refuses them, with the same values when accepted.
// Seeded; a failure prints its seed.

import CProtobufC
import TokenGateCore
import TokenGateProtoC
import TokenGateWire
import XCTest
import TokenGateTestSupport

final class EnvelopeCodecTests: XCTestCase {
    static let seed: UInt64 = 0x7E6A_7E00_0006

    /// What protobuf-c makes of `bytes` as a RequestFrame: nil when it refuses them.
    static func protobufCRequest(_ bytes: [UInt8]) -> RequestEnvelope? {
        bytes.withUnsafeBufferPointer { buffer -> RequestEnvelope? in
            var empty: UInt8 = 0
            guard let c = tokengate__v1__request_frame__unpack(nil, buffer.count, buffer.baseAddress ?? withUnsafeMutablePointer(to: &empty) { UnsafePointer($0) })
            else { return nil }
            defer { tokengate__v1__request_frame__free_unpacked(c, nil) }
            let method = c.pointee.method.flatMap { String(validatingCString: $0) } ?? "\u{FFFD}invalid"
            let payload = c.pointee.payload.data.map { Array(UnsafeBufferPointer(start: $0, count: c.pointee.payload.len)) } ?? []
            return RequestEnvelope(callID: c.pointee.call_id, method: method, deadlineMs: c.pointee.deadline_ms, payload: payload)
        }
    }

    /// What protobuf-c makes of `bytes` as a ResponseFrame: nil when it refuses them.
    static func protobufCResponse(_ bytes: [UInt8]) -> ResponseEnvelope? {
        bytes.withUnsafeBufferPointer { buffer -> ResponseEnvelope? in
            var empty: UInt8 = 0
            guard let c = tokengate__v1__response_frame__unpack(nil, buffer.count, buffer.baseAddress ?? withUnsafeMutablePointer(to: &empty) { UnsafePointer($0) })
            else { return nil }
            defer { tokengate__v1__response_frame__free_unpacked(c, nil) }
            let message = c.pointee.status_message.flatMap { String(validatingCString: $0) } ?? "\u{FFFD}invalid"
            let payload = c.pointee.payload.data.map { Array(UnsafeBufferPointer(start: $0, count: c.pointee.payload.len)) } ?? []
            return ResponseEnvelope(
                callID: c.pointee.call_id, statusCode: c.pointee.status_code, statusMessage: message, payload: payload,
                endOfStream: c.pointee.end_of_stream != 0)
        }
    }

    static func randomText(_ generator: inout SplitMix64) -> String {
        let choices = ["", "/tokengate.v1.BudgetService/CanMakeRequest", MethodPath.health, "/m", "naïve €", "a\u{0}b"]
        return choices[Int(generator.next() % UInt64(choices.count))]
    }

    static func randomBytes(_ generator: inout SplitMix64, max: Int) -> [UInt8] {
        (0..<Int(generator.next() % UInt64(max + 1))).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
    }

    static func randomNumber(_ generator: inout SplitMix64) -> UInt64 {
        [0, 1, 127, 128, 300, UInt64(UInt32.max), UInt64.max, generator.next()][Int(generator.next() % 8)]
    }

    func testEncodingMatchesProtobufC() {
        var generator = SplitMix64(seed: Self.seed)
        for round in 0..<2_000 {
            let request = RequestEnvelope(
                callID: Self.randomNumber(&generator), method: Self.randomText(&generator),
                deadlineMs: UInt32(truncatingIfNeeded: Self.randomNumber(&generator)), payload: Self.randomBytes(&generator, max: 40))
            var expected = request
            expected.method = String(expected.method.prefix { $0 != "\u{0}" })
            XCTAssertEqual(Self.protobufCRequest(request.encoded()), expected, "seed \(Self.seed) round \(round)")
            let response = ResponseEnvelope(
                callID: Self.randomNumber(&generator), statusCode: UInt32(truncatingIfNeeded: Self.randomNumber(&generator)),
                statusMessage: Self.randomText(&generator), payload: Self.randomBytes(&generator, max: 40),
                endOfStream: generator.next() % 2 == 0)
            var expectedResponse = response
            expectedResponse.statusMessage = String(expectedResponse.statusMessage.prefix { $0 != "\u{0}" })
            XCTAssertEqual(Self.protobufCResponse(response.encoded()), expectedResponse, "seed \(Self.seed) round \(round)")
        }
    }

    func testDecodingAcceptsAndRefusesWhatProtobufCDoes() {
        var generator = SplitMix64(seed: Self.seed ^ 0xDEC0DE)
        for round in 0..<20_000 {
            let bytes = Self.mutatedEnvelopeBytes(&generator)
            let expectedRequest = Self.protobufCRequest(bytes)
            let request = try? RequestEnvelope.decode(bytes)
            if let expectedRequest, expectedRequest.method.hasPrefix("\u{FFFD}invalid") {
                XCTAssertNil(request, "seed \(Self.seed) round \(round): a method that is not UTF-8 must be refused")
            } else {
                XCTAssertEqual(request, expectedRequest, "seed \(Self.seed) round \(round): \(bytes)")
            }
            let expectedResponse = Self.protobufCResponse(bytes)
            let response = try? ResponseEnvelope.decode(bytes)
            if let expectedResponse, expectedResponse.statusMessage.hasPrefix("\u{FFFD}invalid") {
                XCTAssertNil(response, "seed \(Self.seed) round \(round): a message that is not UTF-8 must be refused")
            } else {
                XCTAssertEqual(response, expectedResponse, "seed \(Self.seed) round \(round): \(bytes)")
            }
        }
    }

    /// A valid envelope with unknown fields of every wire type, then sometimes cut, sometimes
    /// with bytes flipped, sometimes pure noise.
    static func mutatedEnvelopeBytes(_ generator: inout SplitMix64) -> [UInt8] {
        var fields = ProtobufBytes()
        for _ in 0..<Int(generator.next() % 6) {
            // Mostly the envelopes' own fields; sometimes a tag of several bytes.
            let field = generator.next() % 8 == 0 ? 1 + generator.next() % (1 << 29) : 1 + generator.next() % 9
            switch generator.next() % 4 {
            case 0: fields = fields.varint(field, randomNumber(&generator))
            case 1: fields = fields.delimited(field, randomBytes(&generator, max: 12))
            case 2: fields.bytes += ProtobufBytes.varint(field << 3 | 1) + (0..<8).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
            default: fields.bytes += ProtobufBytes.varint(field << 3 | 5) + (0..<4).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
            }
        }
        var bytes = fields.bytes
        switch generator.next() % 4 {
        case 0 where !bytes.isEmpty: bytes.removeLast(Int(generator.next() % UInt64(bytes.count)) + 1)
        case 1 where !bytes.isEmpty: bytes[Int(generator.next() % UInt64(bytes.count))] = UInt8(truncatingIfNeeded: generator.next())
        case 2: bytes = randomBytes(&generator, max: 16)
        default: break
        }
        return bytes
    }

    func testFrameOfAnEnvelopeIsItsLengthThenItsBytes() throws {
        let response = ResponseEnvelope(callID: 42, statusCode: 5, statusMessage: "no", payload: [1, 2, 3], endOfStream: true)
        var frame: [UInt8] = [9]
        response.appendFrame(to: &frame)
        var expected: [UInt8] = [9]
        Framing.appendFrame(response.encoded(), to: &expected)
        XCTAssertEqual(frame, expected)
        var reader = FrameReader(frameBytesMax: 1_024)
        reader.append(Array(frame.dropFirst()))
        XCTAssertEqual(try ResponseEnvelope.decode(try XCTUnwrap(reader.nextFrame())), response)
    }

    func testKnownMethodDecodesToTheSamePath() throws {
        for path in MethodPath.all {
            let decoded = try RequestEnvelope.decode(RequestEnvelope(callID: 1, method: path, payload: []).encoded())
            XCTAssertEqual(decoded.method, path)
        }
    }
}
