// The envelopes every frame carries (DESIGN.md §5): a request names its call id, method path,
// deadline and payload; a response echoes the call id with a gRPC status, the payload and an
// end-of-stream flag. Server and client speak only these Swift values, never protobuf-c structs.
//
// Both are encoded and decoded by hand (EnvelopeCodec.swift), byte for byte as protobuf-c
// would, because they travel with every call. Buffer ownership: Swift arrays only.

import TokenGateCore

/// One call from a client: the body of a request frame (`tokengate.v1.RequestFrame`).
public struct RequestEnvelope: Sendable, Equatable {
    /// Chosen by the client; echoed in every response of the call.
    public var callID: UInt64
    /// gRPC-style method path, e.g. `MethodPath.canMakeRequest`.
    public var method: String
    /// Relative deadline in milliseconds; 0 = none.
    public var deadlineMs: UInt32
    /// The method's encoded request message. A decoded envelope's payload is a slice of the
    /// frame it came in (no copy), so it keeps that buffer alive: handlers use it and let go.
    public var payload: ArraySlice<UInt8>

    /// Makes a request envelope.
    public init(callID: UInt64, method: String, deadlineMs: UInt32 = 0, payload: ArraySlice<UInt8>) {
        self.callID = callID
        self.method = method
        self.deadlineMs = deadlineMs
        self.payload = payload
    }

    /// Makes a request envelope around an encoded message.
    public init(callID: UInt64, method: String, deadlineMs: UInt32 = 0, payload: [UInt8]) {
        self.init(callID: callID, method: method, deadlineMs: deadlineMs, payload: payload[...])
    }
}

/// One reply from the daemon: the body of a response frame (`tokengate.v1.ResponseFrame`).
public struct ResponseEnvelope: Sendable, Equatable {
    /// The call id of the request this answers.
    public var callID: UInt64
    /// gRPC canonical status code number (`StatusCode.rawValue`); 0 = OK.
    public var statusCode: UInt32
    /// A message a person can act on; empty when OK.
    public var statusMessage: String
    /// The method's encoded response message (empty unless OK).
    public var payload: [UInt8]
    /// Server-streaming methods: true on the last frame of the call.
    public var endOfStream: Bool

    /// Makes a response envelope.
    public init(callID: UInt64, statusCode: UInt32 = 0, statusMessage: String = "", payload: [UInt8] = [], endOfStream: Bool = false) {
        self.callID = callID
        self.statusCode = statusCode
        self.statusMessage = statusMessage
        self.payload = payload
        self.endOfStream = endOfStream
    }
}

// MARK: - Conversion (hand-written protobuf: EnvelopeCodec.swift)

extension RequestEnvelope {
    static let protoName = "tokengate.v1.RequestFrame"

    /// Decodes a request frame's payload bytes.
    ///
    /// - Throws: `INVALID_ARGUMENT` when the bytes are not a `tokengate.v1.RequestFrame` or the
    ///   method path is not valid UTF-8.
    public static func decode(_ frame: [UInt8]) throws(TokenGateError) -> RequestEnvelope {
        try decode(frame[...])
    }

    /// Decodes a request frame's payload bytes held in a larger buffer (no copy of the frame).
    public static func decode(_ frame: ArraySlice<UInt8>) throws(TokenGateError) -> RequestEnvelope {
        if frame.count <= WireLimits.messageBytesMax, let plain = HotMessageDecoder.requestEnvelope(frame) { return plain }
        return try decodeEnvelope(frame, protoName: protoName, fieldPrefix: "request_frame", decodeFields)
    }

    /// The protobuf bytes of this envelope (without the frame's length prefix).
    public func encoded() -> [UInt8] {
        var out: [UInt8] = []
        append(to: &out, framed: false)
        return out
    }

    /// Appends this envelope as one frame (length prefix and bytes) to `out`, in one pass.
    public func appendFrame(to out: inout [UInt8]) {
        append(to: &out, framed: true)
    }
}

extension ResponseEnvelope {
    static let protoName = "tokengate.v1.ResponseFrame"

    /// Decodes a response frame's payload bytes.
    ///
    /// - Throws: `INVALID_ARGUMENT` when the bytes are not a `tokengate.v1.ResponseFrame` or the
    ///   status message is not valid UTF-8.
    public static func decode(_ frame: [UInt8]) throws(TokenGateError) -> ResponseEnvelope {
        try decode(frame[...])
    }

    /// Decodes a response frame's payload bytes held in a larger buffer (no copy of the frame).
    public static func decode(_ frame: ArraySlice<UInt8>) throws(TokenGateError) -> ResponseEnvelope {
        if frame.count <= WireLimits.messageBytesMax, let plain = HotMessageDecoder.responseEnvelope(frame) { return plain }
        return try decodeEnvelope(frame, protoName: protoName, fieldPrefix: "response_frame", decodeFields)
    }

    /// The protobuf bytes of this envelope (without the frame's length prefix).
    public func encoded() -> [UInt8] {
        var out: [UInt8] = []
        append(to: &out, framed: false)
        return out
    }

    /// Appends this envelope as one frame (length prefix and bytes) to `out`, in one pass.
    public func appendFrame(to out: inout [UInt8]) {
        append(to: &out, framed: true)
    }
}

/// The shared decode of both envelopes, worded for a peer that sent a bad frame.
private func decodeEnvelope<E>(
    _ frame: ArraySlice<UInt8>, protoName: String, fieldPrefix: String,
    _ decodeFields: (ArraySlice<UInt8>) throws(EnvelopeCodec.Failure) -> E
) throws(TokenGateError) -> E {
    do throws(EnvelopeCodec.Failure) {
        guard frame.count <= WireLimits.messageBytesMax else { throw .malformed }
        return try decodeFields(frame)
    } catch {
        switch error {
        case .malformed: throw TokenGateError(.invalidArgument, "frame is not a \(protoName) (\(frame.count) bytes)")
        case .field(let field): throw TokenGateError(.invalidArgument, field.describe(in: fieldPrefix))
        }
    }
}
