// `tokengate top`'s model and rendering: parses two scrapes of the daemon's Prometheus text an
// interval apart and shows rates, latency quantiles of that interval, decisions and the shops
// that spent most today. Floating point here is for display only (rates, seconds); money is
// read and printed from the exact nano-USD integers.
import Foundation
import TokenGateClient

/// One sample line of the exposition text.
struct MetricSample {
    var name: String
    var labels: [String: String]
    var value: String

    var number: Double { Double(value) ?? 0 }
}

/// A parsed scrape.
struct MetricsScrape {
    private(set) var samples: [MetricSample] = []

    init(text: String) {
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            if let sample = Self.parse(line) { samples.append(sample) }
        }
    }

    /// Samples of `name` whose labels include `labels`.
    func series(_ name: String, _ labels: [String: String] = [:]) -> [MetricSample] {
        samples.filter { sample in sample.name == name && labels.allSatisfy { sample.labels[$0.key] == $0.value } }
    }

    /// The sum of the samples of `name` matching `labels` (0 when there are none).
    func sum(_ name: String, _ labels: [String: String] = [:]) -> Double {
        series(name, labels).reduce(0) { $0 + $1.number }
    }

    /// Parses `name{a="x",b="y"} value` (labels optional). Over Unicode scalars, not
    /// Characters: a label value that starts with a combining mark would otherwise merge with
    /// its opening quote into one Character.
    static func parse(_ line: Substring) -> MetricSample? {
        var rest = line.unicodeScalars[...]
        let nameEnd = rest.firstIndex { $0 == "{" || $0 == " " } ?? rest.endIndex
        let name = String(rest[..<nameEnd])
        rest = rest[nameEnd...]
        var labels: [String: String] = [:]
        if rest.first == "{" {
            rest = rest.dropFirst()
            while let equals = rest.firstIndex(of: "="), rest.first != "}" {
                let key = String(rest[..<equals]).trimmingCharacters(in: CharacterSet(charactersIn: ", "))
                rest = rest[rest.index(after: equals)...].dropFirst()  // the opening quote
                var value = String.UnicodeScalarView()
                var escaped = false
                while let scalar = rest.popFirst() {
                    if escaped { value.append(scalar == "n" ? "\n" : scalar); escaped = false }
                    else if scalar == "\\" { escaped = true }
                    else if scalar == "\"" { break }
                    else { value.append(scalar) }
                }
                labels[key] = String(value)
                if rest.first == "," { rest = rest.dropFirst() }
            }
            guard rest.first == "}" else { return nil }
            rest = rest.dropFirst()
        }
        let value = String(rest).trimmingCharacters(in: .whitespaces)
        guard !name.isEmpty, !value.isEmpty else { return nil }
        return MetricSample(name: name, labels: labels, value: value)
    }
}

/// Renders frames of `tokengate top`.
struct TopView {
    static let intervalMsDefault: UInt64 = 1_000
    static let intervalMsRange: ClosedRange<UInt64> = 100...60_000
    /// Cursor home, then clear the screen.
    static let clearScreen = "\u{1B}[H\u{1B}[2J"

    let socketPath: String
    var frames = 0

    init(socketPath: String) { self.socketPath = socketPath }

    /// One frame from two scrapes taken `intervalMs` apart.
    func frame(previous: MetricsScrape, current: MetricsScrape, intervalMs: UInt64) -> String {
        let seconds = Double(intervalMs) / 1_000
        var lines = header(current, intervalSeconds: seconds)
        lines += [""] + methodLines(previous, current, seconds)
        lines += [""] + decisionLines(previous, current, seconds)
        lines += [""] + storeLines(previous, current, seconds)
        lines += [""] + shopLines(current)
        return lines.joined(separator: "\n") + "\n"
    }

    private func header(_ current: MetricsScrape, intervalSeconds: Double) -> [String] {
        let now = Date()
        let started = current.sum("process_start_time_seconds")
        let uptime = started > 0 ? Self.duration(now.timeIntervalSince1970 - started) : "-"
        let time = ISO8601DateFormatter().string(from: now).replacingOccurrences(of: "T", with: " ").replacingOccurrences(of: "Z", with: " UTC")
        let memory = current.sum("process_resident_memory_bytes") / 1_048_576
        let held = Int64(current.series("tokengate_reservations_held_nano_usd").first?.value ?? "0") ?? 0
        return [
            "tokengate top  \(socketPath)  \(time)  every \(String(format: "%.1f", intervalSeconds)) s",
            "\(current.sum("tokengate_serving") == 1 ? "SERVING" : "NOT_SERVING")  up \(uptime)"
                + "  connections \(Int(current.sum("tokengate_connections_open")))"
                + "  memory \(String(format: "%.1f", memory)) MiB  shops \(Int(current.sum("tokengate_shops")))"
                + "  holds \(Int(current.sum("tokengate_reservations_held"))) (\(Money.formatUSD(held)))",
        ]
    }

    private func methodLines(_ previous: MetricsScrape, _ current: MetricsScrape, _ seconds: Double) -> [String] {
        var lines = [Self.row(["METHOD", "CALLS/S", "TOTAL", "ERRORS", "P50", "P99"], widths: [24, 10, 12, 8, 10, 10])]
        let methods = Set(current.series("tokengate_calls_total").compactMap { $0.labels["method"] }).sorted()
        for method in methods {
            let labels = ["method": method]
            let total = current.sum("tokengate_calls_total", labels)
            let rate = (total - previous.sum("tokengate_calls_total", labels)) / seconds
            let errors = current.sum("tokengate_call_errors_total", labels)
            let buckets = Self.bucketDeltas(previous, current, "tokengate_call_duration_seconds", labels)
            lines.append(Self.row(
                [method, String(format: "%.1f", rate), String(Int(total)), String(Int(errors)),
                 Self.quantileText(0.5, buckets), Self.quantileText(0.99, buckets)],
                widths: [24, 10, 12, 8, 10, 10]))
        }
        if methods.isEmpty { lines.append("(no calls yet)") }
        return lines
    }

    private func decisionLines(_ previous: MetricsScrape, _ current: MetricsScrape, _ seconds: Double) -> [String] {
        var lines = [Self.row(["DECISION", "REASON", "PER S", "TOTAL"], widths: [10, 26, 10, 12], left: 2)]
        for sample in current.series("tokengate_decisions_total") {
            let before = previous.sum("tokengate_decisions_total", sample.labels)
            lines.append(Self.row(
                [sample.labels["decision"] ?? "?", sample.labels["reason"] ?? "?",
                 String(format: "%.1f", (sample.number - before) / seconds), String(Int(sample.number))],
                widths: [10, 26, 10, 12], left: 2))
        }
        let warnings = Int(current.sum("tokengate_decision_warnings_total"))
        lines.append("warnings \(warnings)  shadow denials \(Int(current.sum("tokengate_shadow_denials_total")))")
        return lines
    }

    private func storeLines(_ previous: MetricsScrape, _ current: MetricsScrape, _ seconds: Double) -> [String] {
        let appends = (current.sum("tokengate_log_appends_total") - previous.sum("tokengate_log_appends_total")) / seconds
        let fsync = Self.bucketDeltas(previous, current, "tokengate_log_fsync_duration_seconds", [:])
        return [
            "log  appends/s \(String(format: "%.1f", appends))  fsync p50 \(Self.quantileText(0.5, fsync))"
                + "  p99 \(Self.quantileText(0.99, fsync))  snapshots \(Int(current.sum("tokengate_snapshot_duration_seconds_count")))",
            "clients  reporting \(Int(current.sum("tokengate_clients_reporting")))"
                + "  fail-open \(Int(current.sum("tokengate_client_fail_open_total")))"
                + "  spooled \(Int(current.sum("tokengate_client_spooled_total")))",
        ]
    }

    private func shopLines(_ current: MetricsScrape) -> [String] {
        var lines = ["TOP SHOPS BY COST TODAY (UTC)"]
        let shops = current.series("tokengate_shop_cost_today_nano_usd")
            .map { (shop: $0.labels["shop"] ?? "?", cost: Int64($0.value) ?? 0) }
            .sorted { $0.cost != $1.cost ? $0.cost > $1.cost : $0.shop < $1.shop }
        for (rank, entry) in shops.enumerated() {
            lines.append(Self.row(["\(rank + 1).", entry.shop, Money.formatUSD(entry.cost)], widths: [4, 32, 16], left: 2))
        }
        if shops.isEmpty { lines.append("(no spend recorded today)") }
        return lines
    }

    // MARK: - Helpers

    /// Observations per bucket during the interval: (upper bound in seconds, count), ascending,
    /// the last bound infinite. Falls back to the totals when the interval saw none.
    static func bucketDeltas(
        _ previous: MetricsScrape, _ current: MetricsScrape, _ name: String, _ labels: [String: String]
    ) -> [(bound: Double, count: Double)] {
        func cumulative(_ scrape: MetricsScrape) -> [(Double, Double)] {
            scrape.series(name + "_bucket", labels)
                .map { (($0.labels["le"] == "+Inf" ? Double.infinity : Double($0.labels["le"] ?? "") ?? .infinity), $0.number) }
                .sorted { $0.0 < $1.0 }
        }
        let now = cumulative(current)
        let before = Dictionary(cumulative(previous), uniquingKeysWith: { first, _ in first })
        let delta = now.map { (bound: $0.0, count: $0.1 - (before[$0.0] ?? 0)) }
        return (delta.last?.count ?? 0) > 0 ? delta : now.map { (bound: $0.0, count: $0.1) }
    }

    /// The `q` quantile of cumulative buckets, interpolated linearly inside the bucket as
    /// Prometheus's histogram_quantile does; nil without observations.
    static func quantile(_ q: Double, _ buckets: [(bound: Double, count: Double)]) -> Double? {
        guard let total = buckets.last?.count, total > 0 else { return nil }
        let rank = q * total
        var lowerBound = 0.0
        var lowerCount = 0.0
        for bucket in buckets {
            if bucket.count >= rank {
                if bucket.bound.isInfinite { return lowerBound }
                let inBucket = bucket.count - lowerCount
                return inBucket > 0 ? lowerBound + (bucket.bound - lowerBound) * (rank - lowerCount) / inBucket : bucket.bound
            }
            lowerBound = bucket.bound
            lowerCount = bucket.count
        }
        return lowerBound
    }

    static func quantileText(_ q: Double, _ buckets: [(bound: Double, count: Double)]) -> String {
        quantile(q, buckets).map(seconds) ?? "-"
    }

    /// 0.0000123 → "12.3µs", 0.0045 → "4.50ms", 1.5 → "1.50s".
    static func seconds(_ value: Double) -> String {
        if value < 0.001 { return String(format: "%.1fµs", value * 1_000_000) }
        if value < 1 { return String(format: "%.2fms", value * 1_000) }
        return String(format: "%.2fs", value)
    }

    static func duration(_ seconds: Double) -> String {
        let total = Int(max(0, seconds))
        if total < 3_600 { return "\(total / 60)m\(String(format: "%02d", total % 60))s" }
        return "\(total / 3_600)h\(String(format: "%02d", total / 60 % 60))m"
    }

    /// Pads each cell to its width: the first `left` columns left-aligned, the rest right-aligned.
    static func row(_ cells: [String], widths: [Int], left: Int = 1) -> String {
        zip(cells, widths).enumerated().map { index, pair in
            let padding = String(repeating: " ", count: max(0, pair.1 - pair.0.count))
            return index < left ? pair.0 + padding : padding + pair.0
        }.joined(separator: " ")
    }
}
