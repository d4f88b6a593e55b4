// COPY ... FROM STDIN text format: one line per row, columns separated by tabs, backslash
// escapes for the characters the format reserves. The shipper sends its usage rows this way
// (`ShipBatch` in `.copy` form), and the benchmark's floor copies the same rows, so each value
// here is exactly the one `ShipStatements.insertUsage` computes in SQL from the same event:
// `total_tokens` the exact sum, `total_cost` nano-USD / 10^9 to 9 places, the times the same
// microsecond (`timestamptz 'epoch' + ms * interval '1 millisecond'`), the billing period the
// daemon's. Built as bytes, without a String per field.

import TokenGateCore

/// Builds COPY text rows.
public struct CopyText: Sendable {
    public private(set) var bytes: [UInt8] = []
    /// Rows appended.
    public private(set) var rows = 0

    public init() {}

    /// Latest time (Unix ms) whose `ms * interval '1 millisecond'` PostgreSQL computes exactly
    /// (the factor passes through a float8: exact below 2^53 µs, the year 2255). Later times go
    /// by the INSERT, which computes them as it always has.
    public static let unixMsMax: UnixMillis = (1 << 53) / 1000

    /// Appends one `token_usage_logs` row in the column order of `usageColumns`, or nothing and
    /// returns false when a time is outside 1970...2255 (see `unixMsMax`).
    @discardableResult
    public mutating func appendUsage(_ event: UsageEvent, hostID: String) -> Bool {
        guard Self.copiesExactly(event.occurredAtUnixMs, event.recordedAtUnixMs) else { return false }
        text(event.eventID)
        text(event.shopID)
        text(event.userID)
        text(event.conversationID)
        text(event.operationType)
        text(event.model)
        numbers(event.inputTokens, event.outputTokens, event.cachedInputTokens, event.costNanoUSD)
        metadata(event.metadata)
        timestamp(event.occurredAtUnixMs)
        timestamp(event.recordedAtUnixMs)
        // The bill the event landed on: the month it occurred in unless it was late (DESIGN §3).
        if event.billingPeriod.isEmpty {
            text(MonthKey(unixMs: event.occurredAtUnixMs).description)
        } else {
            text(event.billingPeriod)
        }
        text(hostID, last: true)
        rows += 1
        return true
    }

    /// The same row for an event still in the bytes of its log record (`FactCodec.decodeUsage`:
    /// ASCII text, no free metadata pairs), without making a String per field; exactly the bytes
    /// `appendUsage(event.event(in: buffer), hostID:)` appends.
    @discardableResult
    public mutating func appendUsage(_ event: UsageEventBytes, in buffer: [UInt8], hostID: String) -> Bool {
        guard Self.copiesExactly(event.occurredAtUnixMs, event.recordedAtUnixMs) else { return false }
        buffer.withUnsafeBufferPointer { buffer in
            text(buffer, event.eventID)
            text(buffer, event.shopID)
            text(buffer, event.userID)
            text(buffer, event.conversationID)
            text(buffer, event.operationType)
            text(buffer, event.model)
        }
        numbers(event.inputTokens, event.outputTokens, event.cachedInputTokens, event.costNanoUSD)
        metadata(UsageMetadata(messageLength: event.messageLength, historyLength: event.historyLength, knowledgeBaseSize: event.knowledgeBaseSize))
        timestamp(event.occurredAtUnixMs)
        timestamp(event.recordedAtUnixMs)
        if event.billingPeriod.isEmpty {
            text(MonthKey(unixMs: event.occurredAtUnixMs).description)
        } else {
            buffer.withUnsafeBufferPointer { text($0, event.billingPeriod) }
        }
        text(hostID, last: true)
        rows += 1
        return true
    }

    private static func copiesExactly(_ occurred: UnixMillis, _ recorded: UnixMillis) -> Bool {
        (0...unixMsMax).contains(occurred) && (0...unixMsMax).contains(recorded)
    }

    /// Hands out the text so far and starts empty (a chunk to send while the next is made).
    public mutating func take() -> [UInt8] {
        defer {
            bytes = []
            bytes.reserveCapacity(Self.chunkCapacity)
        }
        return bytes
    }

    private static let chunkCapacity = 1 << 18

    /// The columns `appendUsage` writes, for the COPY statement.
    public static let usageColumns =
        "event_id, shop_id, user_id, conversation_id, operation_type, model_name, input_tokens, output_tokens, "
        + "cached_input_tokens, total_tokens, total_cost, total_cost_nano_usd, metadata, created_at, recorded_at, "
        + "billing_period, host_id"

    // MARK: - Fields (each followed by a tab, or by the newline for the last)

    private static let tab = UInt8(ascii: "\t")

    private mutating func text(_ value: String, last: Bool = false) {
        var value = value
        value.withUTF8 { escaped($0) }
        bytes.append(last ? UInt8(ascii: "\n") : Self.tab)
    }

    /// The text at `range` of `buffer` (the caller checked the range lies in it).
    private mutating func text(_ buffer: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) {
        precondition(range.lowerBound >= 0 && range.upperBound <= buffer.count, "text range outside its record")
        escaped(UnsafeBufferPointer(rebasing: buffer[range]))
        bytes.append(Self.tab)
    }

    private mutating func escaped(_ utf8: UnsafeBufferPointer<UInt8>) {
        for byte in utf8 {
            switch byte {
            case UInt8(ascii: "\\"): bytes += [UInt8(ascii: "\\"), UInt8(ascii: "\\")]
            case UInt8(ascii: "\t"): bytes += [UInt8(ascii: "\\"), UInt8(ascii: "t")]
            case UInt8(ascii: "\n"): bytes += [UInt8(ascii: "\\"), UInt8(ascii: "n")]
            case UInt8(ascii: "\r"): bytes += [UInt8(ascii: "\\"), UInt8(ascii: "r")]
            default: bytes.append(byte)
            }
        }
    }

    /// input, output and cached tokens, their exact total, the cost in USD and in nano-USD.
    private mutating func numbers(_ input: UInt64, _ output: UInt64, _ cached: UInt64, _ cost: NanoUSD) {
        number(input)
        number(output)
        number(cached)
        let total = input.addingReportingOverflow(output)
        if total.overflow {
            bytes += String(UInt128(input) + UInt128(output)).utf8
            bytes.append(Self.tab)
        } else {
            number(total.partialValue)
        }
        decimalUSD(cost)
        if cost < 0 { bytes.append(UInt8(ascii: "-")) }
        number(cost.magnitude)
    }

    private mutating func number(_ value: UInt64) {
        digits(value, width: 1)
        bytes.append(Self.tab)
    }

    /// `value` in decimal, zero-padded to at least `width` digits; no separator.
    private mutating func digits(_ value: UInt64, width: Int) {
        var scratch: (UInt64, UInt64, UInt64) = (0, 0, 0)  // 24 bytes: 20 digits at most
        var count = 0
        var rest = value
        withUnsafeMutableBytes(of: &scratch) { buffer in
            repeat {
                buffer[count] = UInt8(ascii: "0") + UInt8(truncatingIfNeeded: rest % 10)
                rest /= 10
                count += 1
            } while rest > 0 || count < width
            for index in stride(from: count - 1, through: 0, by: -1) { bytes.append(buffer[index]) }
        }
    }

    /// Nano-USD as exact decimal USD (`0.001121100`).
    private mutating func decimalUSD(_ nano: NanoUSD) {
        if nano < 0 { bytes.append(UInt8(ascii: "-")) }
        digits(nano.magnitude / 1_000_000_000, width: 1)
        bytes.append(UInt8(ascii: "."))
        digits(nano.magnitude % 1_000_000_000, width: 9)
        bytes.append(Self.tab)
    }

    /// `YYYY-MM-DDTHH:MM:SS.mmmZ` (UTC) of a time in 1970...2255.
    private mutating func timestamp(_ unixMs: UnixMillis) {
        let days = unixMs / 86_400_000
        let civil = UTCCalendar.civilFromDays(days)
        let msOfDay = UInt64(unixMs - days * 86_400_000)
        digits(UInt64(civil.year), width: 4)
        bytes.append(UInt8(ascii: "-"))
        digits(UInt64(civil.month), width: 2)
        bytes.append(UInt8(ascii: "-"))
        digits(UInt64(civil.day), width: 2)
        bytes.append(UInt8(ascii: "T"))
        digits(msOfDay / 3_600_000, width: 2)
        bytes.append(UInt8(ascii: ":"))
        digits(msOfDay / 60_000 % 60, width: 2)
        bytes.append(UInt8(ascii: ":"))
        digits(msOfDay / 1000 % 60, width: 2)
        bytes.append(UInt8(ascii: "."))
        digits(msOfDay % 1000, width: 3)
        bytes.append(UInt8(ascii: "Z"))
        bytes.append(Self.tab)
    }

    /// The `metadata` jsonb, the same text as `ShipStatements.metadataJSON`.
    private mutating func metadata(_ metadata: UsageMetadata) {
        if metadata.extra.isEmpty {
            bytes += #"{"messageLength":"#.utf8
            digits(UInt64(metadata.messageLength), width: 1)
            bytes += #","historyLength":"#.utf8
            digits(UInt64(metadata.historyLength), width: 1)
            bytes += #","knowledgeBaseSize":"#.utf8
            digits(metadata.knowledgeBaseSize, width: 1)
            bytes += "}\t".utf8
        } else {
            text(ShipStatements.metadataJSON(metadata))
        }
    }
}
