// Output for people and for scripts: aligned "key: value" lines by default, one JSON object
// with `--json`. Keys keep their order so the JSON is stable for diffs and tests.
import TokenGateCore

/// A JSON value with ordered object keys.
indirect enum JSON {
    case string(String)
    case int(Int64)
    case uint(UInt64)
    case bool(Bool)
    case array([JSON])
    case object([(String, JSON)])

    var text: String {
        switch self {
        case .string(let value): return JSONValue.quoted(value)
        case .int(let value): return String(value)
        case .uint(let value): return String(value)
        case .bool(let value): return value ? "true" : "false"
        case .array(let items): return "[" + items.map(\.text).joined(separator: ",") + "]"
        case .object(let fields): return "{" + fields.map { JSONValue.quoted($0.0) + ":" + $0.1.text }.joined(separator: ",") + "}"
        }
    }
}

/// One result to print: ordered fields, each with a human rendering and a JSON value.
struct Report {
    private(set) var fields: [(key: String, jsonKey: String, human: String, json: JSON)] = []
    /// A verbatim text result (metrics, a `top` frame): printed as is, or as `{key: text}` in JSON.
    private(set) var verbatim: (key: String, text: String)?

    init() {}

    /// A result that is one block of text printed as is.
    init(verbatim text: String, jsonKey: String) { verbatim = (jsonKey, text) }
    /// When set, what people see instead of the aligned fields (tables of the report verbs).
    var humanText: String?

    mutating func add(_ key: String, _ value: String) { fields.append((key, key, value, .string(value))) }
    mutating func add(_ key: String, _ value: Bool) { fields.append((key, key, value ? "yes" : "no", .bool(value))) }
    mutating func add(_ key: String, _ value: UInt64) { fields.append((key, key, String(value), .uint(value))) }
    mutating func add(_ key: String, _ value: UInt32) { add(key, UInt64(value)) }
    /// Money: JSON gets the exact integer `<key>_nano_usd`; people get dollars.
    mutating func addMoney(_ key: String, _ nano: NanoUSD) {
        fields.append((key, key + "_nano_usd", Money.formatUSD(nano), .int(nano)))
    }
    /// A field whose human text and JSON value are made separately (tables, nested objects).
    mutating func add(_ key: String, human: String, json: JSON) { fields.append((key, key, human, json)) }
    mutating func addList(_ key: String, _ items: [String], json: [JSON]) {
        fields.append((key, key, items.isEmpty ? "-" : items.joined(separator: "; "), .array(json)))
    }
    /// Any JSON value (objects, arrays of objects) with its human rendering.
    mutating func addJSON(_ key: String, _ value: JSON, human: String) { fields.append((key, key, human, value)) }

    func render(json: Bool) -> String {
        if let verbatim {
            if json { return JSON.object([(verbatim.key, .string(verbatim.text))]).text }
            return verbatim.text.hasSuffix("\n") ? String(verbatim.text.dropLast()) : verbatim.text
        }
        if json { return JSON.object(fields.map { ($0.jsonKey, $0.json) }).text }
        if let humanText { return humanText }
        let width = fields.map { $0.key.count }.max() ?? 0
        return fields.map { $0.key.padding(toLength: width, withPad: " ", startingAt: 0) + "  " + $0.human }.joined(separator: "\n")
    }
}
