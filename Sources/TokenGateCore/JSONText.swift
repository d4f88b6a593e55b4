// A small strict JSON reader for the config file. It keeps numbers as their text, so dollar
// amounts and token counts are read exactly (never through a Double), keeps object keys in
// order, rejects duplicate keys, and reports problems with line and column.

/// A parsed JSON value; numbers keep their exact text.
public enum JSONValue: Sendable, Equatable {
    case object([(key: String, value: JSONValue)])
    case array([JSONValue])
    case string(String)
    case number(String)
    case bool(Bool)
    case null

    public static func == (lhs: JSONValue, rhs: JSONValue) -> Bool {
        switch (lhs, rhs) {
        case (.object(let a), .object(let b)):
            a.count == b.count && zip(a, b).allSatisfy { $0.key == $1.key && $0.value == $1.value }
        case (.array(let a), .array(let b)): a == b
        case (.string(let a), .string(let b)), (.number(let a), .number(let b)): a == b
        case (.bool(let a), .bool(let b)): a == b
        case (.null, .null): true
        default: false
        }
    }

    /// "an object", "a string", … for error messages.
    public var kindName: String {
        switch self {
        case .object: "an object"
        case .array: "an array"
        case .string: "a string"
        case .number: "a number"
        case .bool: "true or false"
        case .null: "null"
        }
    }

    /// `text` as a JSON string literal (RFC 8259), the project's one JSON escaper (JSON logs,
    /// CSV metadata, the CLI's `--json`). Works over Unicode scalars, so "\r\n" (one Character)
    /// is two escapes. Control characters U+0000–U+001F and U+007F–U+009F are written as `\u`
    /// escapes; everything else as is (JSON text is UTF-8).
    public static func quoted(_ text: String) -> String {
        var out = "\""
        out.reserveCapacity(text.utf8.count + 2)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value) {
                    let hex = String(scalar.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }

    /// Parses `bytes` as one JSON value. Throws `invalidArgument` with line and column.
    public static func parse(_ bytes: [UInt8]) throws(TokenGateError) -> JSONValue {
        var reader = JSONReader(bytes: bytes)
        reader.skipSpace()
        let value = try reader.value(depth: 0)
        reader.skipSpace()
        guard reader.offset == bytes.count else { throw reader.error("unexpected text after the JSON value") }
        return value
    }
}

/// A cursor over the bytes being parsed.
private struct JSONReader {
    /// Objects and arrays nest at most this deep; a config file needs four or five levels.
    static let depthMax = 32

    let bytes: [UInt8]
    var offset = 0

    init(bytes: [UInt8]) { self.bytes = bytes }

    func error(_ message: String) -> TokenGateError {
        var line = 1
        var column = 1
        for byte in bytes[..<min(offset, bytes.count)] {
            if byte == UInt8(ascii: "\n") {
                line += 1
                column = 1
            } else {
                column += 1
            }
        }
        return .invalidArgument("line \(line), column \(column): \(message)")
    }

    mutating func skipSpace() {
        while offset < bytes.count, [0x20, 0x0A, 0x0D, 0x09].contains(bytes[offset]) { offset += 1 }
    }

    var peek: UInt8? { offset < bytes.count ? bytes[offset] : nil }

    mutating func value(depth: Int) throws(TokenGateError) -> JSONValue {
        guard depth < Self.depthMax else { throw error("nested more than \(Self.depthMax) levels deep") }
        switch peek {
        case UInt8(ascii: "{"): return try object(depth: depth)
        case UInt8(ascii: "["): return try array(depth: depth)
        case UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "t"): return try literal("true", .bool(true))
        case UInt8(ascii: "f"): return try literal("false", .bool(false))
        case UInt8(ascii: "n"): return try literal("null", .null)
        case .some(let byte) where byte == UInt8(ascii: "-") || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte):
            return .number(try number())
        case nil: throw error("unexpected end of file; a value was expected")
        default: throw error("a value was expected (an object, array, string, number, true, false or null)")
        }
    }

    private mutating func literal(_ word: String, _ value: JSONValue) throws(TokenGateError) -> JSONValue {
        let utf8 = Array(word.utf8)
        guard bytes.count - offset >= utf8.count, Array(bytes[offset..<(offset + utf8.count)]) == utf8 else {
            throw error("a value was expected")
        }
        offset += utf8.count
        return value
    }

    private mutating func object(depth: Int) throws(TokenGateError) -> JSONValue {
        offset += 1
        var members: [(key: String, value: JSONValue)] = []
        var keys = Set<String>()
        skipSpace()
        if peek == UInt8(ascii: "}") {
            offset += 1
            return .object(members)
        }
        while true {
            skipSpace()
            guard peek == UInt8(ascii: "\"") else { throw error("a quoted key was expected") }
            let key = try string()
            guard keys.insert(key).inserted else { throw error("key \"\(key)\" appears twice") }
            skipSpace()
            guard peek == UInt8(ascii: ":") else { throw error("':' was expected after key \"\(key)\"") }
            offset += 1
            skipSpace()
            members.append((key, try value(depth: depth + 1)))
            skipSpace()
            switch peek {
            case UInt8(ascii: ","): offset += 1
            case UInt8(ascii: "}"):
                offset += 1
                return .object(members)
            default: throw error("',' or '}' was expected")
            }
        }
    }

    private mutating func array(depth: Int) throws(TokenGateError) -> JSONValue {
        offset += 1
        var items: [JSONValue] = []
        skipSpace()
        if peek == UInt8(ascii: "]") {
            offset += 1
            return .array(items)
        }
        while true {
            skipSpace()
            items.append(try value(depth: depth + 1))
            skipSpace()
            switch peek {
            case UInt8(ascii: ","): offset += 1
            case UInt8(ascii: "]"):
                offset += 1
                return .array(items)
            default: throw error("',' or ']' was expected")
            }
        }
    }

    /// A JSON number's text: `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`.
    private mutating func number() throws(TokenGateError) -> String {
        let start = offset
        func digits(_ reader: inout JSONReader) -> Int {
            let from = reader.offset
            while let byte = reader.peek, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) { reader.offset += 1 }
            return reader.offset - from
        }
        if peek == UInt8(ascii: "-") { offset += 1 }
        let whole = offset
        guard digits(&self) > 0 else { throw error("a digit was expected") }
        if bytes[whole] == UInt8(ascii: "0"), offset - whole > 1 { throw error("numbers must not have leading zeros") }
        if peek == UInt8(ascii: ".") {
            offset += 1
            guard digits(&self) > 0 else { throw error("a digit was expected after '.'") }
        }
        if peek == UInt8(ascii: "e") || peek == UInt8(ascii: "E") {
            offset += 1
            if peek == UInt8(ascii: "+") || peek == UInt8(ascii: "-") { offset += 1 }
            guard digits(&self) > 0 else { throw error("a digit was expected in the exponent") }
        }
        return String(decoding: bytes[start..<offset], as: UTF8.self)
    }

    /// A quoted string with its escapes decoded; the bytes must be valid UTF-8.
    private mutating func string() throws(TokenGateError) -> String {
        offset += 1
        var out: [UInt8] = []
        while true {
            guard let byte = peek else { throw error("unterminated string") }
            offset += 1
            switch byte {
            case UInt8(ascii: "\""):
                guard let text = String(validating: out, as: UTF8.self) else { throw error("string is not valid UTF-8") }
                return text
            case UInt8(ascii: "\\"):
                try escape(into: &out)
            case 0..<0x20:
                throw error("control character in a string; write it as an escape")
            default:
                out.append(byte)
            }
        }
    }

    private mutating func escape(into out: inout [UInt8]) throws(TokenGateError) {
        guard let byte = peek else { throw error("unterminated escape") }
        offset += 1
        let simple: [UInt8: UInt8] = [
            UInt8(ascii: "\""): 0x22, UInt8(ascii: "\\"): 0x5C, UInt8(ascii: "/"): 0x2F, UInt8(ascii: "b"): 0x08,
            UInt8(ascii: "f"): 0x0C, UInt8(ascii: "n"): 0x0A, UInt8(ascii: "r"): 0x0D, UInt8(ascii: "t"): 0x09,
        ]
        if let decoded = simple[byte] {
            out.append(decoded)
            return
        }
        guard byte == UInt8(ascii: "u") else { throw error("unknown escape '\\\(Character(Unicode.Scalar(byte)))'") }
        var scalar = try hex4()
        if (0xD800..<0xDC00).contains(scalar) {
            guard peek == UInt8(ascii: "\\"), offset + 1 < bytes.count, bytes[offset + 1] == UInt8(ascii: "u") else {
                throw error("a high surrogate must be followed by a low one")
            }
            offset += 2
            let low = try hex4()
            guard (0xDC00..<0xE000).contains(low) else { throw error("invalid low surrogate") }
            scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
        }
        guard let character = Unicode.Scalar(scalar) else { throw error("invalid \\u escape") }
        out += Array(String(Character(character)).utf8)
    }

    private mutating func hex4() throws(TokenGateError) -> UInt32 {
        guard bytes.count - offset >= 4 else { throw error("\\u needs four hex digits") }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let byte = bytes[offset]
            offset += 1
            guard let digit = Character(Unicode.Scalar(byte)).hexDigitValue else { throw error("\\u needs four hex digits") }
            value = value * 16 + UInt32(digit)
        }
        return value
    }
}
