// Fuzz targets for everything that reads bytes a peer or a disk controls: the frame reader,
// the envelope decoder, every request decoder, the log-fact decoder and the log record
// decoder. Each target also checks an invariant (a decoded message re-encodes and decodes to
// itself), so libFuzzer finds wrong answers as well as crashes.
import TokenGateCore
import TokenGateServer
import TokenGateStore
import TokenGateWire

enum FuzzTarget: String, CaseIterable {
    case frames, envelope, requests, facts, records, http

    func run(_ bytes: [UInt8]) {
        switch self {
        case .frames: fuzzFrames(bytes)
        case .envelope: fuzzEnvelope(bytes)
        case .requests: fuzzRequests(bytes)
        case .facts: fuzzFacts(bytes)
        case .records: fuzzRecords(bytes)
        case .http: fuzzHTTP(bytes)
        }
    }
}

/// Feeds the bytes to a FrameReader in chunks whose sizes come from the input itself.
private func fuzzFrames(_ bytes: [UInt8]) {
    var reader = FrameReader(frameBytesMax: 4_096)
    var offset = 0
    var payloadBytes = 0
    while offset < bytes.count {
        let chunk = max(1, Int(bytes[offset]) % 64)
        let end = min(bytes.count, offset + chunk)
        reader.append(bytes[offset..<end])
        offset = end
        do {
            while let frame = try reader.nextFrame() {
                precondition(frame.count <= 4_096, "a frame over the limit was returned")
                payloadBytes += frame.count
            }
        } catch {
            return  // tooLarge: the connection would be closed here
        }
    }
    precondition(payloadBytes <= bytes.count, "frames returned more bytes than were fed")
}

private func fuzzEnvelope(_ bytes: [UInt8]) {
    if let request = try? RequestEnvelope.decode(bytes) {
        precondition((try? RequestEnvelope.decode(request.encoded())) == request, "request envelope round trip")
    }
    if let response = try? ResponseEnvelope.decode(bytes) {
        precondition((try? ResponseEnvelope.decode(response.encoded())) == response, "response envelope round trip")
    }
}

/// Decodes the bytes as every request type and checks each success round-trips.
private func fuzzRequests(_ bytes: [UInt8]) {
    roundTrip(CanMakeRequestRequest.self, bytes)
    roundTrip(ReleaseReservationRequest.self, bytes)
    roundTrip(ApplyOptimizationRequest.self, bytes)
    roundTrip(LogUsageRequest.self, bytes)
    roundTrip(GenerateBillingRequest.self, bytes)
    roundTrip(HealthCheckRequest.self, bytes)
}

private func roundTrip<Message: WireMessage & Equatable>(_: Message.Type, _ bytes: [UInt8]) {
    guard let message = try? Message.decode(bytes) else { return }
    precondition((try? Message.decode(message.encoded())) == message, "\(Message.protoName) round trip")
}

private func fuzzFacts(_ bytes: [UInt8]) {
    guard let fact = try? FactCodec.decode(bytes) else { return }
    precondition((try? FactCodec.decode(FactCodec.encode(fact))) == fact, "fact round trip")
}

private func fuzzRecords(_ bytes: [UInt8]) {
    let decoded = LogRecordDecoder.decode(bytes, firstSequence: 1, recordBytesMax: 1 << 16)
    var reencoded: [UInt8] = []
    for record in decoded.records { reencoded += LogRecordDecoder.encode(sequence: record.sequence, body: record.body) }
    precondition(Array(bytes.prefix(reencoded.count)) == reencoded, "valid records re-encode to the same bytes")
    if decoded.problem == nil { precondition(reencoded.count == bytes.count, "no problem means every byte was a record") }
}

/// The HTTP metrics endpoint's request parser: fed whole and as every prefix the reader could
/// see; a complete head stays complete with more bytes after it, and nothing over the limit is
/// ever incomplete.
private func fuzzHTTP(_ bytes: [UInt8]) {
    let limit = 256
    let whole = HTTPRequestParser.parse(bytes, headBytesMax: limit)
    if bytes.count > limit, case .incomplete = whole { preconditionFailure("over the limit but incomplete") }
    if case .complete(let head) = whole {
        precondition(head.path.hasPrefix("/"), "a parsed path starts with /")
        precondition(HTTPRequestParser.parse(bytes + Array("junk".utf8), headBytesMax: limit) == whole, "trailing bytes change a complete head")
    }
    var sawComplete = false
    for end in stride(from: 0, through: bytes.count, by: max(1, bytes.count / 16)) {
        let parse = HTTPRequestParser.parse(Array(bytes[..<end]), headBytesMax: limit)
        if case .complete = parse { sawComplete = true }
        if sawComplete, case .incomplete = parse { preconditionFailure("a longer prefix became incomplete again") }
    }
    _ = HTTPResponse.forMetrics(whole, serving: true, metrics: { "m 1\n" }).bytes
}
