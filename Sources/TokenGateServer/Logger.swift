// Structured log lines on stderr, one per event, in logfmt (`ts=... level=info msg="..." k=v`)
// or JSON (`{"ts":...,"level":"info","msg":"...","k":"v"}`), chosen with `--log-format`.
// No line is written per successful hot-path call.
import Foundation
import Synchronization

public enum LogLevel: String, Sendable {
    case debug, info, warning, error
}

/// How log lines are written.
public enum LogFormat: String, Sendable, CaseIterable {
    /// `key=value` pairs, values quoted when they need it.
    case logfmt
    /// One JSON object per line.
    case json
}

public struct Logger: Sendable {
    private static let lock = Mutex(())
    /// How lines are written.
    public let format: LogFormat

    /// A logger writing `format` lines to stderr.
    public init(format: LogFormat = .logfmt) {
        self.format = format
    }

    /// Debug lines (one per accepted connection, for one) are written only when
    /// `TOKENGATE_LOG_LEVEL=debug`.
    private static let debugEnabled = ProcessInfo.processInfo.environment["TOKENGATE_LOG_LEVEL"] == "debug"

    public func log(_ level: LogLevel, _ message: String, _ fields: KeyValuePairs<String, String> = [:]) {
        if level == .debug && !Self.debugEnabled { return }
        var line = format == .json
            ? Self.jsonLine(SystemClock().nowUnixMs(), level, message, fields)
            : Self.logfmtLine(SystemClock().nowUnixMs(), level, message, fields)
        line += "\n"
        let bytes = Data(line.utf8)
        Self.lock.withLock { _ in FileHandle.standardError.write(bytes) }
    }

    public func info(_ message: String, _ fields: KeyValuePairs<String, String> = [:]) { log(.info, message, fields) }
    public func warning(_ message: String, _ fields: KeyValuePairs<String, String> = [:]) { log(.warning, message, fields) }
    public func error(_ message: String, _ fields: KeyValuePairs<String, String> = [:]) { log(.error, message, fields) }

    static func logfmtLine(_ ts: Int64, _ level: LogLevel, _ message: String, _ fields: KeyValuePairs<String, String>) -> String {
        var line = "ts=\(ts) level=\(level.rawValue) msg=\(quote(message))"
        for (key, value) in fields { line += " \(key)=\(quote(value))" }
        return line
    }

    static func jsonLine(_ ts: Int64, _ level: LogLevel, _ message: String, _ fields: KeyValuePairs<String, String>) -> String {
        var line = "{\"ts\":\(ts),\"level\":\"\(level.rawValue)\",\"msg\":\(jsonString(message))"
        for (key, value) in fields { line += ",\(jsonString(key)):\(jsonString(value))" }
        return line + "}"
    }

    /// A JSON string literal: quotes, backslashes and control characters escaped.
    static func jsonString(_ value: String) -> String {
        var out = "\""
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 {
                    let hex = String(scalar.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }

    private static func quote(_ value: String) -> String {
        let plain = !value.isEmpty && value.unicodeScalars.allSatisfy { $0.value > 0x20 && $0 != "\"" && $0 != "=" && $0.value < 0x7F }
        if plain { return value }
        var escaped = "\""
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": escaped += "\\\""
            case "\\": escaped += "\\\\"
            case "\n": escaped += "\\n"
            default: escaped.unicodeScalars.append(scalar)
            }
        }
        return escaped + "\""
    }
}
