// COPY ... FROM STDIN text format, for the benchmark's floor (COPY of the same rows the shipper
// writes): one line per row, columns separated by tabs, backslash escapes for the characters
// the format reserves.

import TokenGateCore

/// Builds COPY text rows.
public struct CopyText: Sendable {
    public private(set) var bytes: [UInt8] = []

    public init() {}

    /// One `token_usage_logs` row in the column order of `ShipStatements.usageColumns`, with the
    /// values the shipper's INSERT computes in SQL computed here the same way.
    public mutating func appendUsage(_ event: UsageEvent, hostID: String) {
        let total = event.inputTokens.addingReportingOverflow(event.outputTokens)
        let fields = [
            event.eventID, event.shopID, event.userID, event.conversationID, event.operationType, event.model,
            String(event.inputTokens), String(event.outputTokens), String(event.cachedInputTokens),
            total.overflow ? "18446744073709551615" : String(total.partialValue), Self.decimalUSD(event.costNanoUSD),
            String(event.costNanoUSD), ShipStatements.metadataJSON(event.metadata), UTCCalendar.iso8601(event.occurredAtUnixMs),
            UTCCalendar.iso8601(event.recordedAtUnixMs), MonthKey(unixMs: event.occurredAtUnixMs).description, hostID,
        ]
        for (index, field) in fields.enumerated() {
            if index > 0 { bytes.append(UInt8(ascii: "\t")) }
            Self.appendEscaped(field, to: &bytes)
        }
        bytes.append(UInt8(ascii: "\n"))
    }

    /// The columns `appendUsage` writes, for the COPY statement.
    public static let usageColumns =
        "event_id, shop_id, user_id, conversation_id, operation_type, model_name, input_tokens, output_tokens, "
        + "cached_input_tokens, total_tokens, total_cost, total_cost_nano_usd, metadata, created_at, recorded_at, "
        + "billing_period, host_id"

    /// Nano-USD as exact decimal USD text (`0.001121100`).
    static func decimalUSD(_ nano: NanoUSD) -> String {
        let magnitude = nano.magnitude
        let fraction = String(magnitude % 1_000_000_000)
        return (nano < 0 ? "-" : "") + String(magnitude / 1_000_000_000) + "."
            + String(repeating: "0", count: 9 - fraction.count) + fraction
    }

    private static func appendEscaped(_ text: String, to bytes: inout [UInt8]) {
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\\"): bytes += [UInt8(ascii: "\\"), UInt8(ascii: "\\")]
            case UInt8(ascii: "\t"): bytes += [UInt8(ascii: "\\"), UInt8(ascii: "t")]
            case UInt8(ascii: "\n"): bytes += [UInt8(ascii: "\\"), UInt8(ascii: "n")]
            case UInt8(ascii: "\r"): bytes += [UInt8(ascii: "\\"), UInt8(ascii: "r")]
            default: bytes.append(byte)
            }
        }
    }
}
