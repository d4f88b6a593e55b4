// The usage export's CSV (DESIGN §4 usage logs): one header row, then one row per event, in
// RFC 4180 form: CRLF line ends, and a field holding a comma, double quote, CR or LF enclosed
// in double quotes with inner quotes doubled. Metadata pairs go into one column as a JSON
// object, so free-form text survives a round trip through any CSV parser.

/// RFC 4180 CSV of usage events.
public enum UsageCSV {
    /// The header row's column names, in row order.
    public static let columns = [
        "event_id", "shop_id", "user_id", "conversation_id", "operation_type", "model", "input_tokens",
        "output_tokens", "cached_input_tokens", "total_tokens", "cost_nano_usd", "cost_usd", "occurred_at",
        "occurred_at_unix_ms", "recorded_at_unix_ms", "message_length", "history_length", "knowledge_base_size",
        "metadata",
    ]

    /// The line ending RFC 4180 prescribes.
    public static let lineEnd = "\r\n"

    /// The header row, with its line end.
    public static var headerRow: String { columns.map(field).joined(separator: ",") + lineEnd }

    /// One event as a row, with its line end.
    public static func row(_ event: UsageEvent) -> String {
        let values: [String] = [
            event.eventID, event.shopID, event.userID, event.conversationID, event.operationType, event.model,
            String(event.inputTokens), String(event.outputTokens), String(event.cachedInputTokens),
            String(saturatingAdd(event.inputTokens, event.outputTokens)), String(event.costNanoUSD),
            decimalUSD(event.costNanoUSD), UTCCalendar.iso8601(event.occurredAtUnixMs), String(event.occurredAtUnixMs),
            String(event.recordedAtUnixMs), String(event.metadata.messageLength), String(event.metadata.historyLength),
            String(event.metadata.knowledgeBaseSize), metadataJSON(event.metadata.extra),
        ]
        return values.map(field).joined(separator: ",") + lineEnd
    }

    /// `text` as one CSV field: quoted when it holds a comma, double quote, CR or LF, with
    /// every inner double quote doubled; as is otherwise.
    public static func field(_ text: String) -> String {
        let needsQuotes = text.utf8.contains { byte in
            byte == UInt8(ascii: ",") || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\r") || byte == UInt8(ascii: "\n")
        }
        guard needsQuotes else { return text }
        var quoted = "\""
        for character in text.unicodeScalars {
            if character == "\"" { quoted += "\"\"" } else { quoted.unicodeScalars.append(character) }
        }
        return quoted + "\""
    }

    /// Exact dollars without the sign character: `0.0011211`, `5.50`.
    static func decimalUSD(_ nano: NanoUSD) -> String {
        Money.formatUSD(nano).replacingDollarSign()
    }

    /// The free-form metadata pairs as a JSON object (`{}` when there are none).
    public static func metadataJSON(_ entries: [MetadataEntry]) -> String {
        "{" + entries.map { JSONValue.quoted($0.key) + ":" + JSONValue.quoted($0.value) }.joined(separator: ",") + "}"
    }
}

extension String {
    /// The text with its `$` removed (`-$1.50` → `-1.50`).
    fileprivate func replacingDollarSign() -> String { String(unicodeScalars.filter { $0 != "$" }) }
}
