// Protobuf encoding of the operations RPCs' messages (GetMetrics, ReportClientMetrics) and
// their method paths. Same buffer rules as Messages+Wire.swift: `init(copying:)` copies out of
// protobuf-c's unpacked tree while `ProtobufC.unpack` runs; `cMessage(in:)` allocates every
// pointer in the caller's `CArena`, which lives until `ProtobufC.pack` returns.

import CProtobufC
import TokenGateCore
import TokenGateProtoC

extension MethodPath {
    /// `GetMetrics`: counters and histograms in Prometheus text format.
    public static let getMetrics = "/tokengate.v1.BudgetService/GetMetrics"
    /// `ReportClientMetrics`: a client's fail-open and spool counters.
    public static let reportClientMetrics = "/tokengate.v1.BudgetService/ReportClientMetrics"
}

extension GetMetricsRequest: WireMessage, CMessageEncodable {
    /// `tokengate.v1.GetMetricsRequest`.
    public static let protoName = "tokengate.v1.GetMetricsRequest"
    /// Decodes protobuf bytes; see `WireMessage.decode(_:)`.
    public static func decode(_ bytes: [UInt8]) throws(TokenGateError) -> Self {
        try WireCodec.decode(bytes, fieldPrefix: "get_metrics")
    }
    /// The protobuf bytes of this message.
    public func encoded() -> [UInt8] { ProtobufC.pack(self) }

    static func cEmpty() -> Tokengate__V1__GetMetricsRequest {
        var c = Tokengate__V1__GetMetricsRequest()
        tokengate__v1__get_metrics_request__init(&c)
        return c
    }

    init(copying c: Tokengate__V1__GetMetricsRequest) throws(FieldError) {
        self.init()
    }

    func cMessage(in arena: inout CArena) -> Tokengate__V1__GetMetricsRequest { Self.cEmpty() }
}

extension GetMetricsResponse: WireMessage, CMessageEncodable {
    /// `tokengate.v1.GetMetricsResponse`.
    public static let protoName = "tokengate.v1.GetMetricsResponse"
    /// Decodes and validates protobuf bytes (the text must be UTF-8).
    public static func decode(_ bytes: [UInt8]) throws(TokenGateError) -> Self {
        try WireCodec.decode(bytes, fieldPrefix: "get_metrics_response")
    }
    /// The protobuf bytes of this message.
    public func encoded() -> [UInt8] { ProtobufC.pack(self) }

    static func cEmpty() -> Tokengate__V1__GetMetricsResponse {
        var c = Tokengate__V1__GetMetricsResponse()
        tokengate__v1__get_metrics_response__init(&c)
        return c
    }

    init(copying c: Tokengate__V1__GetMetricsResponse) throws(FieldError) {
        self.init(text: try copyString(c.text, field: "text"))
    }

    func cMessage(in arena: inout CArena) -> Tokengate__V1__GetMetricsResponse {
        var c = Self.cEmpty()
        c.text = arena.cString(text)
        return c
    }
}

extension ReportClientMetricsRequest: WireMessage, CMessageEncodable {
    /// `tokengate.v1.ReportClientMetricsRequest`.
    public static let protoName = "tokengate.v1.ReportClientMetricsRequest"
    /// Decodes and validates protobuf bytes; see `WireMessage.decode(_:)`.
    public static func decode(_ bytes: [UInt8]) throws(TokenGateError) -> Self {
        try WireCodec.decode(bytes, fieldPrefix: "report_client_metrics")
    }
    /// The protobuf bytes of this message.
    public func encoded() -> [UInt8] { ProtobufC.pack(self) }

    static func cEmpty() -> Tokengate__V1__ReportClientMetricsRequest {
        var c = Tokengate__V1__ReportClientMetricsRequest()
        tokengate__v1__report_client_metrics_request__init(&c)
        return c
    }

    init(copying c: Tokengate__V1__ReportClientMetricsRequest) throws(FieldError) {
        self.init(
            clientID: try copyString(c.client_id, field: "client_id"), failOpenTotal: c.fail_open_total,
            failClosedTotal: c.fail_closed_total, spooledTotal: c.spooled_total, spoolDepth: c.spool_depth)
    }

    func cMessage(in arena: inout CArena) -> Tokengate__V1__ReportClientMetricsRequest {
        var c = Self.cEmpty()
        c.client_id = arena.cString(clientID)
        c.fail_open_total = failOpenTotal
        c.fail_closed_total = failClosedTotal
        c.spooled_total = spooledTotal
        c.spool_depth = spoolDepth
        return c
    }
}

extension ReportClientMetricsResponse: WireMessage, CMessageEncodable {
    /// `tokengate.v1.ReportClientMetricsResponse`.
    public static let protoName = "tokengate.v1.ReportClientMetricsResponse"
    /// Decodes protobuf bytes; see `WireMessage.decode(_:)`.
    public static func decode(_ bytes: [UInt8]) throws(TokenGateError) -> Self {
        try WireCodec.decode(bytes, fieldPrefix: "report_client_metrics_response")
    }
    /// The protobuf bytes of this message.
    public func encoded() -> [UInt8] { ProtobufC.pack(self) }

    static func cEmpty() -> Tokengate__V1__ReportClientMetricsResponse {
        var c = Tokengate__V1__ReportClientMetricsResponse()
        tokengate__v1__report_client_metrics_response__init(&c)
        return c
    }

    init(copying c: Tokengate__V1__ReportClientMetricsResponse) throws(FieldError) {
        self.init()
    }

    func cMessage(in arena: inout CArena) -> Tokengate__V1__ReportClientMetricsResponse { Self.cEmpty() }
}
