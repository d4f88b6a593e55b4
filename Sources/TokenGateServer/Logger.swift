// Structured log lines on stderr, one per event, in logfmt: `ts=... level=info msg="..." k=v`.
// No line is written per successful hot-path call.
import Foundation
import Synchronization

public enum LogLevel: String, Sendable {
    case debug, info, warning, error
}

public struct Logger: Sendable {
    private static let lock = Mutex(())

    public init() {}

    /// Debug lines (one per accepted connection, for one) are written only when
    /// `TOKENGATE_LOG_LEVEL=debug`.
    private static let debugEnabled = ProcessInfo.processInfo.environment["TOKENGATE_LOG_LEVEL"] == "debug"

    public func log(_ level: LogLevel, _ message: String, _ fields: KeyValuePairs<String, String> = [:]) {
        if level == .debug && !Self.debugEnabled { return }
        var line = "ts=\(SystemClock().nowUnixMs()) level=\(level.rawValue) msg=\(Self.quote(message))"
        for (key, value) in fields { line += " \(key)=\(Self.quote(value))" }
        line += "\n"
        let bytes = Data(line.utf8)
        Self.lock.withLock { _ in FileHandle.standardError.write(bytes) }
    }

    public func info(_ message: String, _ fields: KeyValuePairs<String, String> = [:]) { log(.info, message, fields) }
    public func warning(_ message: String, _ fields: KeyValuePairs<String, String> = [:]) { log(.warning, message, fields) }
    public func error(_ message: String, _ fields: KeyValuePairs<String, String> = [:]) { log(.error, message, fields) }

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
