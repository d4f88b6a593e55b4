// Data directories for the scale test, written straight into a write-ahead log with the store's
// own WriteAheadLog and FactCodec (the same bytes the daemon would have logged), which is far
// faster than sending millions of LogUsage calls. The daemon then recovers them as it would
// after a crash, so recovery time and resident memory are measured on real replay.
import TokenGateCore
import TokenGateStore
import TokenGateWire

enum ScaleData {
    /// Appended records between waits, so the pending buffer stays far below its limit.
    static let recordsPerFlush = 20_000

    /// Writes `events` usage events spread round-robin over `shops` shops into `directory`'s
    /// log, dated inside the current UTC month. Returns the bytes written.
    static func generate(directory: String, shops: Int, events: Int, nowMs: UnixMillis) throws -> Int {
        precondition(shops > 0 && events >= shops, "every shop gets at least one event")
        let log = try WriteAheadLog(directory: directory, policy: .never)
        _ = try log.recover(afterSequence: 0, repair: false) { _ in }
        let monthStart = MonthKey(unixMs: nowMs).startUnixMs
        let span = max(1, nowMs - monthStart - 60_000)
        let shopIDs = (0..<shops).map(Workload.shopID)
        var bytes = 0
        var last: UInt64 = 0
        for index in 0..<events {
            let event = usageEvent(index, shopID: shopIDs[index % shops], occurredAt: monthStart + Int64(index &* 7_919) % span)
            let body = FactCodec.encode(.usage(event))
            bytes += body.count + 16
            last = try log.append(body)
            if index % recordsPerFlush == recordsPerFlush - 1 { try log.waitUntilDurable(last) }
        }
        try log.waitUntilDurable(last)
        try log.close()
        return bytes
    }

    /// A usage event as LogUsage would have recorded it: UUID-sized event id, user and
    /// conversation ids, the default operation type and model, and typical metadata.
    static func usageEvent(_ index: Int, shopID: String, occurredAt: UnixMillis) -> UsageEvent {
        UsageEvent(
            eventID: Workload.eventID(tag: 0x5ca1_e000, worker: index >> 40, call: index), shopID: shopID,
            userID: Workload.id("user-", index % 5_000, width: 6),
            conversationID: Workload.id("conv-", index / 7 % 100_000, width: 8),
            operationType: "chat_message", model: "gemini-2.5-flash",
            inputTokens: 2_062, outputTokens: 201, cachedInputTokens: 0, occurredAtUnixMs: occurredAt,
            costNanoUSD: 1_121_100,
            metadata: UsageMetadata(messageLength: 180, historyLength: 6, knowledgeBaseSize: 40_000),
            recordedAtUnixMs: occurredAt)
    }
}
