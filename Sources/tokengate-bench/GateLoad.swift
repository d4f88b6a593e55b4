// Load through the real client library: N `TokenGateClient`s (one connection each), each with K
// tasks calling in a loop, which is how chat workers use it. Also the requests the loads send:
// CanMakeRequest over a thousand shops and LogUsage with realistic ids, so that every figure is
// taken on the same message sizes.
import TokenGateClient
import TokenGateClock
import TokenGateWire

enum GateLoad {
    typealias Body = @Sendable (TokenGateClient, _ worker: Int, _ call: Int) async throws(TokenGateError) -> Void

    /// Runs `body` from `connections` × `inFlight` tasks until the window ends.
    static func run(
        socketPath: String, connections: Int, inFlight: Int, warmupNs: UInt64, durationNs: UInt64,
        recordLatencies: Bool, _ body: @escaping Body
    ) async throws -> Measurement {
        let clients = (0..<connections).map { _ in TokenGateClient(socketPath: socketPath) }
        defer { for client in clients { client.close() } }
        for client in clients { _ = try await client.health() }
        let measureFrom = MonotonicClock.nanoseconds() + warmupNs
        let end = measureFrom + durationNs
        return try await withThrowingTaskGroup(of: Measurement.self) { group in
            for connection in 0..<connections {
                for slot in 0..<inFlight {
                    let client = clients[connection]
                    let worker = connection * inFlight + slot
                    group.addTask(executorPreference: client.executor) {
                        try await loop(client, worker: worker, measureFrom: measureFrom, end: end, recordLatencies, body)
                    }
                }
            }
            var total = Measurement(calls: 0, elapsedNs: durationNs, latenciesNs: [])
            for try await part in group {
                total.calls += part.calls
                total.latenciesNs += part.latenciesNs
            }
            return total
        }
    }

    private static func loop(
        _ client: TokenGateClient, worker: Int, measureFrom: UInt64, end: UInt64, _ recordLatencies: Bool,
        _ body: Body
    ) async throws -> Measurement {
        var part = Measurement(calls: 0, elapsedNs: 0, latenciesNs: [])
        var call = 0
        while true {
            let started = MonotonicClock.nanoseconds()
            if started >= end { break }
            try await body(client, worker, call)
            call += 1
            let finished = MonotonicClock.nanoseconds()
            if finished >= measureFrom && finished < end {
                part.calls += 1
                if recordLatencies { part.latenciesNs.append(finished - started) }
            }
        }
        return part
    }
}

/// The requests every load sends.
struct Workload: Sendable {
    /// Fixed-width shop ids, so every request has the same size.
    let shops: [String]

    init(shopCount: Int) {
        shops = (0..<shopCount).map { Workload.shopID($0) }
    }

    static func shopID(_ index: Int) -> String {
        id("shop-", index, width: 7)
    }

    /// A typical gate check: a chat message of 2,000 prompt tokens and up to 500 output tokens.
    func canMakeRequest(worker: Int, call: Int) -> CanMakeRequestRequest {
        CanMakeRequestRequest(shopID: shops[(worker &* 7_919 &+ call) % shops.count], estimatedInputTokens: 2_000, maxOutputTokens: 500)
    }

    /// A typical usage report with a UUID-sized event id, user and conversation ids, and metadata.
    func logUsage(worker: Int, call: Int, tag: UInt32) -> LogUsageRequest {
        LogUsageRequest(
            eventID: Workload.eventID(tag: tag, worker: worker, call: call),
            shopID: shops[(worker &* 7_919 &+ call) % shops.count],
            userID: Self.id("user-", call % 5_000, width: 6), conversationID: Self.id("conv-", call % 100_000, width: 8),
            inputTokens: 2_062, outputTokens: 201, cachedInputTokens: 0,
            metadata: UsageMetadata(messageLength: 180, historyLength: 6, knowledgeBaseSize: 40_000))
    }

    /// A 36-character id shaped like a UUID (8-4-4-4-12 hex), unique per (tag, worker, call).
    static func eventID(tag: UInt32, worker: Int, call: Int) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(36)
        appendDigits(Int(tag), radix: 16, width: 8, to: &bytes)
        bytes.append(UInt8(ascii: "-"))
        appendDigits(worker, radix: 16, width: 4, to: &bytes)
        bytes.append(contentsOf: "-4000-8000-".utf8)
        appendDigits(call, radix: 16, width: 12, to: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    /// `prefix`, then the last `width` decimal digits of `value`, zero-padded.
    static func id(_ prefix: String, _ value: Int, width: Int) -> String {
        var bytes = Array(prefix.utf8)
        appendDigits(value, radix: 10, width: width, to: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Appends the last `width` digits of `value` (not negative) in `radix`, zero-padded. The
    /// load builds ids per call in the client's process, so they are made from bytes: padding
    /// Strings cost about 7k of the client's 27k instructions per LogUsage (callgrind).
    private static func appendDigits(_ value: Int, radix: Int, width: Int, to bytes: inout [UInt8]) {
        let end = bytes.count + width
        bytes.append(contentsOf: repeatElement(UInt8(ascii: "0"), count: width))
        var rest = value
        for index in stride(from: end - 1, through: end - width, by: -1) where rest > 0 {
            let digit = UInt8(rest % radix)
            bytes[index] = digit < 10 ? UInt8(ascii: "0") + digit : UInt8(ascii: "a") + digit - 10
            rest /= radix
        }
    }
}
