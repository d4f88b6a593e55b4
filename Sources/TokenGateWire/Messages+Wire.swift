// The protocol every RPC message follows on the wire and the shared decode behind it. The
// messages' field mappings to protobuf-c's structs are generated from the schema
// (Generated/Wire.generated.swift); the C memory rules live in ProtobufC.swift.
//
// Buffer ownership: `WireCodec.decode` borrows the caller's bytes only while `ProtobufC.unpack`
// runs; everything it returns is a Swift value.

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
