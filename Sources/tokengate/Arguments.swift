// A small command-line parser: positional words, `--flag value` options and boolean switches,
// each verb declaring which it accepts so a typo is an error, never silently ignored.
import Foundation
import TokenGateCore

struct UsageError: Error {
    var message: String
}

struct Arguments {
    private(set) var positionals: [String] = []
    private var values: [String: String] = [:]
    private var switches: Set<String> = []

    /// Parses `words` accepting the given options (which take a value) and switches.
    init(_ words: ArraySlice<String>, options: Set<String>, switches allowedSwitches: Set<String>) throws {
        var rest = words
        while let word = rest.popFirst() {
            if word.hasPrefix("--") || word == "-h" {
                var name = word
                var inline: String?
                if let equals = word.firstIndex(of: "=") {
                    name = String(word[..<equals])
                    inline = String(word[word.index(after: equals)...])
                }
                if allowedSwitches.contains(name) {
                    switches.insert(name)
                } else if options.contains(name) {
                    guard let value = inline ?? rest.popFirst() else { throw UsageError(message: "\(name) needs a value") }
                    values[name] = value
                } else {
                    throw UsageError(message: "unknown option '\(name)'")
                }
            } else {
                positionals.append(word)
            }
        }
    }

    func has(_ name: String) -> Bool { switches.contains(name) }

    func string(_ name: String) -> String? { values[name] }

    func string(_ name: String, default fallback: String) -> String { values[name] ?? fallback }

    func unsigned(_ name: String, default fallback: UInt64 = 0) throws -> UInt64 {
        guard let text = values[name] else { return fallback }
        guard let number = UInt64(text) else { throw UsageError(message: "\(name) must be a whole number >= 0, not '\(text)'") }
        return number
    }

    func unsigned32(_ name: String, default fallback: UInt32 = 0) throws -> UInt32 {
        let number = try unsigned(name, default: UInt64(fallback))
        guard let small = UInt32(exactly: number) else { throw UsageError(message: "\(name) must be at most \(UInt32.max)") }
        return small
    }

    /// The single positional argument named `what`, e.g. the shop id.
    func positional(_ index: Int, _ what: String) throws -> String {
        guard positionals.count > index else { throw UsageError(message: "missing \(what)") }
        return positionals[index]
    }

    /// An ISO 8601 UTC time like 2026-10-31T23:59:59Z (fractional seconds allowed) or a UTC
    /// date like 2026-10-31 (its midnight), as Unix ms; 0 when the option is absent.
    func time(_ name: String) throws -> Int64 {
        guard let text = values[name] else { return 0 }
        guard let unixMs = UTCCalendar.parseISO8601(text) else {
            throw UsageError(message: "\(name) must look like 2026-10-31 or 2026-10-31T23:59:59Z, not '\(text)'")
        }
        return unixMs
    }
}
