// The method table (after Redis's command table): one entry per RPC with its path, flags and
// handler. Generic checks (readiness, permission, deadline, response size) happen once, in the
// dispatcher; handlers decode, call the ledger and encode.
import TokenGateCore
import TokenGateWire

/// Properties of a method that the dispatcher acts on.
public struct MethodFlags: OptionSet, Sendable {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// Only peers whose uid is in the admin list may call it.
    public static let admin = MethodFlags(rawValue: 1 << 0)
    /// Changes durable state; acknowledged only after the log write is durable.
    public static let write = MethodFlags(rawValue: 1 << 1)
    /// Answers before recovery has finished and while draining (health checks).
    public static let alwaysAvailable = MethodFlags(rawValue: 1 << 2)
    /// Admin only in part (a final GenerateBilling): the dispatcher fills `CallContext.isAdmin`
    /// and the handler decides. Other methods skip that lookup.
    public static let partlyAdmin = MethodFlags(rawValue: 1 << 3)
}

/// What a handler sees besides its request.
public struct CallContext: Sendable {
    public var peer: PeerCredentials?
    /// The peer's uid is in the admin list; filled only for `.admin` and `.partlyAdmin` methods
    /// (false for the others).
    public var isAdmin: Bool
    public var now: UnixMillis
    public var callID: UInt64
    /// The connection's writer, for server-streaming methods.
    let writer: ConnectionWriter
}

/// A handler's result: the encoded response and the log sequence that must be durable first,
/// or `streamed` when the handler answered through its `ResponseStream` instead.
public struct HandlerOutput: Sendable {
    public var payload: [UInt8]
    public var durableSequence: UInt64?
    public var streamed = false
}

public struct Method: Sendable {
    public let path: String
    public let flags: MethodFlags
    /// Takes the request's payload, a slice of the frame it came in.
    public let handler: @Sendable (ArraySlice<UInt8>, CallContext) throws(TokenGateError) -> HandlerOutput

    /// A unary method: decode `Request`, run `body`, encode its `Response`.
    public static func unary<Request: WireMessage, Response: WireMessage>(
        _ path: String, _ flags: MethodFlags = [],
        _ body: @escaping @Sendable (Request, CallContext) throws(TokenGateError) -> (Response, UInt64?)
    ) -> Method {
        Method(path: path, flags: flags) { payload, context throws(TokenGateError) in
            let request = try Request.decode(payload: payload)
            let (response, sequence) = try body(request, context)
            return HandlerOutput(payload: response.encoded(), durableSequence: sequence)
        }
    }

    /// A server-streaming method: `body` sends messages on the stream and either finishes it
    /// before returning (a finite stream) or hands it to something that finishes it later (a
    /// watcher). A thrown error becomes the stream's final status.
    public static func serverStreaming<Request: WireMessage>(
        _ path: String, _ flags: MethodFlags = [],
        _ body: @escaping @Sendable (Request, CallContext, ResponseStream) throws(TokenGateError) -> Void
    ) -> Method {
        Method(path: path, flags: flags) { payload, context throws(TokenGateError) in
            let request = try Request.decode(payload: payload)
            try body(request, context, ResponseStream(callID: context.callID, writer: context.writer))
            return HandlerOutput(payload: [], durableSequence: nil, streamed: true)
        }
    }
}

/// The methods by path.
public struct MethodTable: Sendable {
    private let methods: [String: Method]

    public init(_ methods: [Method]) {
        var table: [String: Method] = [:]
        for method in methods {
            precondition(table[method.path] == nil, "method \(method.path) registered twice")
            table[method.path] = method
        }
        self.methods = table
    }

    public subscript(path: String) -> Method? { methods[path] }

    /// Every registered path.
    public var paths: [String] { Array(methods.keys) }
}
