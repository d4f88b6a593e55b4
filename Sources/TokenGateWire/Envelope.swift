// The envelopes every frame carries (DESIGN.md §5): a request names its call id, method path,
// deadline and payload; a response echoes the call id with a gRPC status, the payload and an
// end-of-stream flag. Server and client speak only these Swift values, never protobuf-c structs.
//
// Buffer ownership: decoding goes through `ProtobufC.unpack`, which frees protobuf-c's copy
// before returning. Encoding borrows the envelope's `payload` array (and the arena's copy of the
// strings) only for the duration of one `ProtobufC.pack` call.

import CProtobufC
import TokenGateCore
import TokenGateProtoC

/// One call from a client: the body of a request frame (`tokengate.v1.RequestFrame`).
public struct RequestEnvelope: Sendable, Equatable {
    /// Chosen by the client; echoed in every response of the call.
    public var callID: UInt64
    /// gRPC-style method path, e.g. `MethodPath.canMakeRequest`.
    public var method: String
    /// Relative deadline in milliseconds; 0 = none.
    public var deadlineMs: UInt32
    /// The method's encoded request message.
    public var payload: [UInt8]

    /// Makes a request envelope.
    public init(callID: UInt64, method: String, deadlineMs: UInt32 = 0, payload: [UInt8]) {
        self.callID = callID
        self.method = method
        self.deadlineMs = deadlineMs
        self.payload = payload
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

// MARK: - Conversion

extension RequestEnvelope: CMessageDecodable {
    static let protoName = "tokengate.v1.RequestFrame"

    static func cEmpty() -> Tokengate__V1__RequestFrame {
        var c = Tokengate__V1__RequestFrame()
        tokengate__v1__request_frame__init(&c)
        return c
    }

    init(copying c: Tokengate__V1__RequestFrame) throws(FieldError) {
        self.init(
            callID: c.call_id, method: try copyString(c.method, field: "method"),
            deadlineMs: c.deadline_ms, payload: copyBytes(c.payload)
        )
    }

    /// Decodes a request frame's payload bytes.
    ///
    /// - Throws: `INVALID_ARGUMENT` when the bytes are not a `tokengate.v1.RequestFrame` or the
    ///   method path is not valid UTF-8.
    public static func decode(_ frame: [UInt8]) throws(TokenGateError) -> RequestEnvelope {
        try decodeEnvelope(frame, as: RequestEnvelope.self, fieldPrefix: "request_frame").get()
    }

    /// The protobuf bytes of this envelope (without the frame's length prefix).
    public func encoded() -> [UInt8] {
        payload.withUnsafeBufferPointer { payload in
            ProtobufC.pack { arena in
                var c = Self.cEmpty()
                c.call_id = callID
                c.method = arena.cString(method)
                c.deadline_ms = deadlineMs
                c.payload = ProtobufCBinaryData(len: payload.count, data: UnsafeMutablePointer(mutating: payload.baseAddress))
                return c
            }
        }
    }
}

extension ResponseEnvelope: CMessageDecodable {
    static let protoName = "tokengate.v1.ResponseFrame"

    static func cEmpty() -> Tokengate__V1__ResponseFrame {
        var c = Tokengate__V1__ResponseFrame()
        tokengate__v1__response_frame__init(&c)
        return c
    }

    init(copying c: Tokengate__V1__ResponseFrame) throws(FieldError) {
        self.init(
            callID: c.call_id, statusCode: c.status_code,
            statusMessage: try copyString(c.status_message, field: "status_message"),
            payload: copyBytes(c.payload), endOfStream: c.end_of_stream != 0
        )
    }

    /// Decodes a response frame's payload bytes.
    ///
    /// - Throws: `INVALID_ARGUMENT` when the bytes are not a `tokengate.v1.ResponseFrame` or the
    ///   status message is not valid UTF-8.
    public static func decode(_ frame: [UInt8]) throws(TokenGateError) -> ResponseEnvelope {
        try decodeEnvelope(frame, as: ResponseEnvelope.self, fieldPrefix: "response_frame").get()
    }

    /// The protobuf bytes of this envelope (without the frame's length prefix).
    public func encoded() -> [UInt8] {
        payload.withUnsafeBufferPointer { payload in
            ProtobufC.pack { arena in
                var c = Self.cEmpty()
                c.call_id = callID
                c.status_code = statusCode
                c.status_message = arena.cString(statusMessage)
                c.payload = ProtobufCBinaryData(len: payload.count, data: UnsafeMutablePointer(mutating: payload.baseAddress))
                c.end_of_stream = cBool(endOfStream)
                return c
            }
        }
    }
}

/// The shared decode of both envelopes, worded for a peer that sent a bad frame.
private func decodeEnvelope<E: CMessageDecodable>(
    _ frame: [UInt8], as type: E.Type, fieldPrefix: String
) -> Result<E, TokenGateError> {
    ProtobufC.unpack(frame, as: type).mapError { failure in
        switch failure {
        case .tooLarge, .undecodable:
            TokenGateError(.invalidArgument, "frame is not a \(E.protoName) (\(frame.count) bytes)")
        case .field(let error):
            TokenGateError(.invalidArgument, error.describe(in: fieldPrefix))
        }
    }
}
