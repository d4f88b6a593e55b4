// Structured log lines on stderr, one per event, in logfmt (`ts=... level=info msg="..." k=v`)
// or JSON (`{"ts":...,"level":"info","msg":"...","k":"v"}`), chosen with `--log-format`.
// No line is written per successful hot-path call.
import Foundation
import Synchronization
import TokenGateCore

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
        var line = "{\"ts\":\(ts),\"level\":\"\(level.rawValue)\",\"msg\":\(JSONValue.quoted(message))"
        for (key, value) in fields { line += ",\(JSONValue.quoted(key)):\(JSONValue.quoted(value))" }
        return line + "}"
    }

    /// A logfmt value: bare when it is plain ASCII without space, quote or `=`, else the JSON
    /// string literal (what logfmt readers expect inside quotes; CR and other controls escaped).
    private static func quote(_ value: String) -> String {
        let plain = !value.isEmpty && value.utf8.allSatisfy { $0 > 0x20 && $0 != UInt8(ascii: "\"") && $0 != UInt8(ascii: "=") && $0 < 0x7F }
        return plain ? value : JSONValue.quoted(value)
    }
}
