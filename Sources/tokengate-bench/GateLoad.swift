// Load through the real client library: N `TokenGateClient`s (one connection each), each with K
// tasks calling in a loop, which is how chat workers use it. Also the requests the loads send:
// CanMakeRequest over a thousand shops and LogUsage with realistic ids, so that every figure is
// taken on the same message sizes.
import TokenGateClient
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
        let measureFrom = monotonicNs() + warmupNs
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
            let started = monotonicNs()
            if started >= end { break }
            try await body(client, worker, call)
            call += 1
            let finished = monotonicNs()
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
    /// Distinguishes the event ids of one LogUsage phase from another's.
    let runTag: String

    init(shopCount: Int, runTag: String) {
        shops = (0..<shopCount).map { Workload.shopID($0) }
        self.runTag = runTag
    }

    static func shopID(_ index: Int) -> String {
        "shop-" + pad(String(index), 7)
    }

    /// A typical gate check: a chat message of 2,000 prompt tokens and up to 500 output tokens.
    func canMakeRequest(worker: Int, call: Int) -> CanMakeRequestRequest {
        CanMakeRequestRequest(shopID: shops[(worker &* 7_919 &+ call) % shops.count], estimatedInputTokens: 2_000, maxOutputTokens: 500)
    }

    /// A typical usage report with a UUID-sized event id, user and conversation ids, and metadata.
    func logUsage(worker: Int, call: Int, tag: String) -> LogUsageRequest {
        LogUsageRequest(
            eventID: Workload.eventID(tag: tag, worker: worker, call: call),
            shopID: shops[(worker &* 7_919 &+ call) % shops.count],
            userID: "user-" + Self.pad(String(call % 5_000), 6), conversationID: "conv-" + Self.pad(String(call % 100_000), 8),
            inputTokens: 2_062, outputTokens: 201, cachedInputTokens: 0,
            metadata: UsageMetadata(messageLength: 180, historyLength: 6, knowledgeBaseSize: 40_000))
    }

    /// A 36-character id shaped like a UUID (8-4-4-4-12 hex), unique per (tag, worker, call).
    static func eventID(tag: String, worker: Int, call: Int) -> String {
        let tagHex = pad(tag, 8)
        let workerHex = pad(String(worker, radix: 16), 4)
        let callHex = pad(String(call, radix: 16), 12)
        return "\(tagHex)-\(workerHex)-4000-8000-\(callHex)"
    }

    static func pad(_ text: String, _ width: Int) -> String {
        text.count >= width ? String(text.suffix(width)) : String(repeating: "0", count: width - text.count) + text
    }
}
