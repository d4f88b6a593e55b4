// Every field of every message survives the Swift types (issue 22). The test walks protobuf-c's
// own descriptors (not the Swift code) for each message of the schema, writes bytes with a
// non-default value in every field (two elements in repeated fields, nested messages filled the
// same way, one run per member of a oneof), checks protobuf-c reads and re-packs them unchanged,
// then decodes them through the Swift type registered for the message and encodes them again:
// the bytes must come back identical, so a field the Swift side drops or mixes up fails here.

import CProtobufC
import TokenGateCore
@testable import TokenGateWire
import XCTest

final class SchemaRoundTripTests: XCTestCase {
    typealias Descriptor = UnsafePointer<ProtobufCMessageDescriptor>

    /// Fields a domain type models as one value, so a non-default value in both cannot survive:
    /// `TierSettings` keeps `includedMessages: UInt64?` (nil = unlimited) and
    /// `maxMonthlySpendNanoUSD: NanoUSD?` (nil = no cap). Each pair is checked twice: once with
    /// only its first field set (variant 0), once with only its second (variant 1), so every field
    /// still carries a value in one run. `TierConfigWire` itself keeps both, but the generated
    /// requests (`UpsertTierRequest`, and `ConfigChange` inside a fact) hold the domain type, so
    /// the pairs apply wherever a `TierConfig` is reached.
    static let exclusive: [String: [(String, String)]] = [
        "tokengate.v1.TierConfig": [("unlimited_messages", "included_messages"), ("no_spend_cap", "max_monthly_spend_nano_usd")]
    ]

    /// Fields of a nested message a domain type does not keep because the place the message is
    /// used gives them no meaning: `GetConfigurationResponse.fallbackPrice` is a `PriceVersion` of
    /// no model. Only the walk of the domain types skips them; the wire-shaped types keep them.
    static let ignoredInsideDomainTypes: [String: Set<String>] = ["tokengate.v1.GetConfigurationResponse.fallback_price": ["model"]]

    static func skipped(_ message: String, _ field: String, variant: Int) -> Bool {
        (exclusive[message] ?? []).contains { variant == 0 ? $0.1 == field : $0.0 == field }
    }

    /// A value for a string field that the domain rules accept (periods are "YYYY-MM").
    static func text(field: String, number: UInt32, element: Int) -> String {
        if field.contains("period") { return "2026-1\(element)" }
        return "v\(number)-\(element)"
    }

    /// Protobuf bytes of `descriptor` with every field set; `oneofChoice` picks which member of
    /// the message's oneof is set (nested messages set their first).
    static func filled(
        _ descriptor: Descriptor, oneofChoice: Int, variant: Int, domainShape: Bool = false, element: Int = 0,
        ignoring ignored: Set<String> = []
    ) -> ProtobufBytes {
        var bytes = ProtobufBytes()
        let messageName = String(cString: descriptor.pointee.name)
        var oneofIndex = 0
        for i in 0..<Int(descriptor.pointee.n_fields) {
            let field = descriptor.pointee.fields[i]
            if field.flags & UInt32(PROTOBUF_C_FIELD_FLAG_ONEOF.rawValue) != 0 {
                defer { oneofIndex += 1 }
                guard oneofIndex == oneofChoice else { continue }
            }
            let number = field.id
            let name = String(cString: field.name)
            if skipped(messageName, name, variant: variant) || ignored.contains(name) { continue }
            let elements = field.label == PROTOBUF_C_LABEL_REPEATED ? [0, 1] : [element]
            for element in elements {
                switch field.type {
                case PROTOBUF_C_TYPE_STRING:
                    bytes = bytes.string(UInt64(number), text(field: name, number: number, element: element))
                case PROTOBUF_C_TYPE_BYTES:
                    bytes = bytes.delimited(UInt64(number), [1, 2, UInt8(element)])
                case PROTOBUF_C_TYPE_BOOL:
                    bytes = bytes.varint(UInt64(number), 1)
                case PROTOBUF_C_TYPE_ENUM:
                    let values = field.descriptor.assumingMemoryBound(to: ProtobufCEnumDescriptor.self)
                    // The first value above 0 (UNSPECIFIED), so the field is not at its default.
                    let value = (0..<Int(values.pointee.n_values)).map { values.pointee.values[$0].value }.first { $0 > 0 }!
                    bytes = bytes.varint(UInt64(number), UInt64(value))
                case PROTOBUF_C_TYPE_UINT32, PROTOBUF_C_TYPE_UINT64, PROTOBUF_C_TYPE_INT32, PROTOBUF_C_TYPE_INT64:
                    bytes = bytes.varint(UInt64(number), UInt64(number) * 10 + UInt64(element) + 1)
                case PROTOBUF_C_TYPE_MESSAGE:
                    let nested = field.descriptor.assumingMemoryBound(to: ProtobufCMessageDescriptor.self)
                    let inner = filled(
                        nested, oneofChoice: 0, variant: variant, domainShape: domainShape, element: element,
                        ignoring: domainShape ? ignoredInsideDomainTypes[messageName + "." + name] ?? [] : [])
                    bytes = bytes.delimited(UInt64(number), inner.bytes)
                default:
                    XCTFail("\(String(cString: descriptor.pointee.name)).\(name): field type \(field.type) has no filler yet")
                }
            }
        }
        return bytes
    }

    static func oneofMembers(_ descriptor: Descriptor) -> Int {
        (0..<Int(descriptor.pointee.n_fields)).filter {
            descriptor.pointee.fields[$0].flags & UInt32(PROTOBUF_C_FIELD_FLAG_ONEOF.rawValue) != 0
        }.count
    }

    /// protobuf-c's unpack and pack of `bytes`: its canonical form (nil when it refuses them).
    static func repackedByProtobufC(_ bytes: [UInt8], _ descriptor: Descriptor) -> [UInt8]? {
        bytes.withUnsafeBufferPointer { buffer -> [UInt8]? in
            guard let message = protobuf_c_message_unpack(descriptor, nil, buffer.count, buffer.baseAddress!) else { return nil }
            defer { protobuf_c_message_free_unpacked(message, nil) }
            var out = [UInt8](repeating: 0, count: protobuf_c_message_get_packed_size(message))
            _ = out.withUnsafeMutableBufferPointer { protobuf_c_message_pack(message, $0.baseAddress!) }
            return out
        }
    }

    static func throughSwift<M: CMessageEncodable>(_ type: M.Type, _ bytes: [UInt8]) -> Result<[UInt8], DecodeFailure> {
        ProtobufC.unpack(bytes, as: M.self).map { ProtobufC.pack($0) }
    }

    func testEveryFieldOfEveryMessageRoundTripsThroughItsSwiftType() throws {
        // nil: the envelopes (EnvelopeCodecTests).
        let types: [(protoName: String, type: any CMessageEncodable.Type)] = GeneratedMessages.all.compactMap { entry in
            entry.type.map { (protoName: entry.protoName, type: $0) }
        }
        let checked = Self.walk(types, domainShape: false)
        XCTAssertGreaterThan(checked, 90)
    }

    /// The hand-written mappings of DomainMapping.swift, walked the same way through the public
    /// domain types (`ModelPrice`, `TierSettings`, ..., `GetConfigurationResponse`, `Fact`): a
    /// field the mapping forgets fails here.
    func testEveryFieldOfTheDomainShapedMessagesRoundTripsThroughItsDomainType() throws {
        let checked = Self.walk(GeneratedMessages.domainShaped, domainShape: true)
        XCTAssertEqual(Set(GeneratedMessages.domainShaped.map(\.protoName)).count, 6)
        XCTAssertGreaterThan(checked, 20)
    }

    /// Runs every registered type through filled bytes; returns the number of runs.
    static func walk(_ types: [(protoName: String, type: any CMessageEncodable.Type)], domainShape: Bool) -> Int {
        var checked = 0
        for (protoName, type) in types {
            let descriptor = type.cDescriptor
            XCTAssertEqual(String(cString: descriptor.pointee.name), protoName)
            let runs = (0..<max(1, Self.oneofMembers(descriptor))).flatMap { choice in [(choice, 0), (choice, 1)] }
            for (choice, variant) in runs {
                let bytes = Self.filled(descriptor, oneofChoice: choice, variant: variant, domainShape: domainShape).bytes
                let run = "\(protoName) (oneof member \(choice), variant \(variant))"
                XCTAssertEqual(Self.repackedByProtobufC(bytes, descriptor), bytes, "\(run): the filler wrote non-canonical bytes")
                switch Self.throughSwift(type, bytes) {
                case .success(let again):
                    XCTAssertEqual(again, bytes, "\(run): a field did not survive the Swift type")
                case .failure(let failure):
                    XCTFail("\(run): the Swift type refused every-field bytes: \(failure)")
                }
                checked += 1
            }
        }
        return checked
    }

    /// The registry names every message protobuf-c knows of, so a new message cannot be missed.
    func testTheRegistryCoversTheSchema() {
        let names = Set(GeneratedMessages.all.map(\.protoName))
        XCTAssertEqual(names.count, GeneratedMessages.all.count)
        for (_, type) in GeneratedMessages.all {
            guard let type else { continue }
            let descriptor = type.cDescriptor
            for i in 0..<Int(descriptor.pointee.n_fields) where descriptor.pointee.fields[i].type == PROTOBUF_C_TYPE_MESSAGE {
                let nested = descriptor.pointee.fields[i].descriptor.assumingMemoryBound(to: ProtobufCMessageDescriptor.self)
                XCTAssertTrue(names.contains(String(cString: nested.pointee.name)), String(cString: nested.pointee.name))
            }
        }
    }
}
