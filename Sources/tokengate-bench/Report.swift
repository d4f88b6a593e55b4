// What a benchmark run found: every figure with its unit, grouped by section, the ratios the
// issue asks for with their targets, and the two ways of printing them (a human table and one
// JSON object). A figure that could not be measured is kept with a note, never dropped.
import Foundation

/// The latencies and rate of one load phase.
struct Measurement: Sendable {
    var calls: UInt64
    var elapsedNs: UInt64
    /// Round-trip latencies in nanoseconds (empty when not recorded).
    var latenciesNs: [UInt64]

    var callsPerSecond: Double { elapsedNs == 0 ? 0 : Double(calls) * 1e9 / Double(elapsedNs) }

    /// Adds another window's calls, time and latencies (for slices of one measurement).
    mutating func merge(_ other: Measurement) {
        calls += other.calls
        elapsedNs += other.elapsedNs
        latenciesNs += other.latenciesNs
    }

    /// The `fraction` percentile in microseconds (nearest rank), or nil without samples.
    func percentileUs(_ fraction: Double, sorted: [UInt64]) -> Double? {
        guard !sorted.isEmpty else { return nil }
        let rank = min(sorted.count - 1, max(0, Int((fraction * Double(sorted.count)).rounded(.up)) - 1))
        return Double(sorted[rank]) / 1_000
    }

    /// p50, p99 and p99.9 in microseconds.
    var percentilesUs: (p50: Double?, p99: Double?, p999: Double?) {
        let sorted = latenciesNs.sorted()
        return (percentileUs(0.50, sorted: sorted), percentileUs(0.99, sorted: sorted), percentileUs(0.999, sorted: sorted))
    }
}

/// One figure of the report.
struct Figure {
    var key: String
    var label: String
    var value: Double?
    var unit: String
    /// Why the value is missing, or a remark on it.
    var note: String?
}

/// A ratio between two figures (or a figure against a fixed bound) and its target.
struct Target {
    enum Bound {
        case atMost(Double)
        case atLeast(Double)
        /// Printed for information; no target.
        case none
    }

    var name: String
    var numeratorKey: String
    /// nil: the numerator itself is compared with the bound.
    var denominatorKey: String?
    var bound: Bound
}

final class Report {
    private(set) var machine: [(String, String)] = []
    private(set) var sections: [(title: String, figures: [Figure])] = []
    private var values: [String: Double] = [:]
    private(set) var targets: [Target] = []
    private(set) var notes: [String] = []

    func setMachine(_ facts: [(String, String)]) { machine = facts }
    func addMachineFact(_ key: String, _ value: String) { machine.append((key, value)) }

    func section(_ title: String) { sections.append((title, [])) }

    /// Adds a figure to the current section.
    func add(_ key: String, _ label: String, _ value: Double?, _ unit: String, note: String? = nil) {
        precondition(!sections.isEmpty, "a figure needs a section")
        sections[sections.count - 1].figures.append(Figure(key: key, label: label, value: value, unit: unit, note: note))
        if let value { values[key] = value }
        let shown = value.map { Self.format($0, unit) } ?? "n/a"
        progress("\(label): \(shown)\(note.map { " (\($0))" } ?? "")")
    }

    /// Adds the latency percentiles and rate of a measurement under `key`.
    func add(_ key: String, _ label: String, _ measurement: Measurement, latencies: Bool, rate: Bool) {
        if latencies {
            let p = measurement.percentilesUs
            add(key + ".p50_us", label + " p50", p.p50, "µs")
            add(key + ".p99_us", label + " p99", p.p99, "µs")
            add(key + ".p999_us", label + " p99.9", p.p999, "µs")
        }
        if rate { add(key + ".calls_per_s", label + " calls/s", measurement.callsPerSecond, "/s") }
    }

    func addTarget(_ target: Target) { targets.append(target) }
    func addNote(_ note: String) { notes.append(note) }

    func value(_ key: String) -> Double? { values[key] }

    /// A target's measured ratio (or value) and whether it is met; nil when a figure is missing.
    func evaluate(_ target: Target) -> (ratio: Double, met: Bool?)? {
        guard let numerator = values[target.numeratorKey] else { return nil }
        var ratio = numerator
        if let denominatorKey = target.denominatorKey {
            guard let denominator = values[denominatorKey], denominator > 0 else { return nil }
            ratio = numerator / denominator
        }
        switch target.bound {
        case .atMost(let bound): return (ratio, ratio <= bound)
        case .atLeast(let bound): return (ratio, ratio >= bound)
        case .none: return (ratio, nil)
        }
    }

    // MARK: - Output

    static func format(_ value: Double, _ unit: String) -> String {
        switch unit {
        case "µs": return String(format: "%.1f µs", value)
        case "/s": return "\(grouped(value)) /s"
        case "s": return String(format: "%.2f s", value)
        case "ms": return String(format: "%.1f ms", value)
        case "B": return "\(grouped(value)) B"
        case "MiB": return String(format: "%.1f MiB", value)
        case "x": return String(format: "%.2fx", value)
        case "fraction": return String(format: "%.4f", value)
        case "USD": return String(format: "$%.6f", value)
        case "/s, 2 places": return String(format: "%.2f /s", value)
        default: return "\(grouped(value)) \(unit)"
        }
    }

    private static func grouped(_ value: Double) -> String {
        let number = Int(value.rounded())
        let digits = String(abs(number))
        var out = ""
        for (index, character) in digits.enumerated() {
            if index > 0 && (digits.count - index) % 3 == 0 { out.append(",") }
            out.append(character)
        }
        return (number < 0 ? "-" : "") + out
    }

    private static func describe(_ bound: Target.Bound) -> String {
        switch bound {
        case .atMost(let bound): String(format: "<= %g", bound)
        case .atLeast(let bound): String(format: ">= %g", bound)
        case .none: "none"
        }
    }

    /// The human table.
    func text() -> String {
        let width = 2 + max(
            sections.flatMap(\.figures).map(\.label.count).max() ?? 0, targets.map(\.name.count).max() ?? 0)
        var lines: [String] = ["TokenGate benchmark"]
        for (key, value) in machine { lines.append("  \(key): \(value)") }
        for section in sections {
            lines.append("")
            lines.append(section.title)
            for figure in section.figures {
                let shown = figure.value.map { Self.format($0, figure.unit) } ?? "n/a"
                let note = figure.note.map { "  (\($0))" } ?? ""
                lines.append("  " + figure.label.padding(toLength: width, withPad: " ", startingAt: 0) + shown + note)
            }
        }
        lines.append("")
        lines.append("Ratios and targets")
        for target in targets {
            let name = "  " + target.name.padding(toLength: width, withPad: " ", startingAt: 0)
            guard let (ratio, met) = evaluate(target) else {
                lines.append(name + "n/a (a figure is missing)   target \(Self.describe(target.bound))")
                continue
            }
            let shown = target.denominatorKey == nil ? String(format: "%.2f", ratio) : String(format: "%.2fx", ratio)
            let verdict = met.map { $0 ? "met" : "MISSED" } ?? ""
            lines.append(name + shown.padding(toLength: 10, withPad: " ", startingAt: 0)
                + "target \(Self.describe(target.bound))".padding(toLength: 16, withPad: " ", startingAt: 0) + verdict)
        }
        if !notes.isEmpty {
            lines.append("")
            lines.append("Notes")
            for note in notes { lines.append("  - " + note) }
        }
        return lines.map { String($0.reversed().drop { $0 == " " }.reversed()) }.joined(separator: "\n") + "\n"
    }

    /// One JSON object: machine facts, figures by key (null when missing), targets.
    func json() -> String {
        var figures: [String: Any] = [:]
        var figureNotes: [String: String] = [:]
        for section in sections {
            for figure in section.figures {
                figures[figure.key] = figure.value ?? NSNull()
                if let note = figure.note { figureNotes[figure.key] = note }
            }
        }
        let targetObjects: [[String: Any]] = targets.map { target in
            var object: [String: Any] = ["name": target.name, "target": Self.describe(target.bound)]
            if let (ratio, met) = evaluate(target) {
                object["value"] = ratio
                object["met"] = met.map { $0 as Any } ?? NSNull()
            } else {
                object["value"] = NSNull()
                object["met"] = NSNull()
            }
            return object
        }
        let root: [String: Any] = [
            "machine": Dictionary(machine, uniquingKeysWith: { $1 }),
            "figures": figures,
            "figure_notes": figureNotes,
            "targets": targetObjects,
            "notes": notes,
        ]
        guard let data = try? JSONSerialization.data(withJSONObject: root, options: [.sortedKeys, .prettyPrinted]) else {
            return "{}\n"
        }
        return String(decoding: data, as: UTF8.self) + "\n"
    }
}
