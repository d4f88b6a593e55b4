// The operator's verbs: `metrics` prints the daemon's Prometheus text as is, and `top` is a
// live terminal view of it, refreshed once a second with plain ANSI codes (`--once` prints a
// single frame, for scripts and tests).
import Foundation
import TokenGateClient

/// The operations verbs.
let opsCommands: [Command] = [
    Command(
        name: "metrics", synopsis: "metrics",
        summary: "print the daemon's metrics in Prometheus text format (GetMetrics)", options: [], switches: []
    ) { _, client in
        Report(verbatim: try await client.getMetrics().text, jsonKey: "text")
    },
    Command(
        name: "top", synopsis: "top [--once] [--interval-ms N]",
        summary: "live view: calls/s, p50/p99 per method, decisions, top shops by cost today; Ctrl-C quits",
        options: ["--interval-ms"], switches: ["--once"]
    ) { arguments, client in
        let interval = try arguments.unsigned("--interval-ms", default: TopView.intervalMsDefault)
        guard TopView.intervalMsRange.contains(interval) else {
            throw UsageError(message: "--interval-ms must be \(TopView.intervalMsRange.lowerBound)...\(TopView.intervalMsRange.upperBound)")
        }
        var view = TopView(socketPath: client.socketPath)
        var previous = MetricsScrape(text: try await client.getMetrics().text)
        if !arguments.has("--once") { FileHandle.standardOutput.write(Data((TopView.clearScreen + "measuring...\n").utf8)) }
        while true {
            try await Task.sleep(nanoseconds: interval * 1_000_000)
            let current = MetricsScrape(text: try await client.getMetrics().text)
            let frame = view.frame(previous: previous, current: current, intervalMs: interval)
            if arguments.has("--once") { return Report(verbatim: frame, jsonKey: "frame") }
            FileHandle.standardOutput.write(Data((TopView.clearScreen + frame).utf8))
            previous = current
            view.frames += 1
        }
    },
    Command(
        name: "ship", synopsis: "ship status",
        summary: "the PostgreSQL shipper: cursor, lag in records and seconds, rows/s, last error (from GetMetrics)",
        options: [], switches: []
    ) { _, client in
        shipStatus(MetricsScrape(text: try await client.getMetrics().text))
    },
]

/// `tokengate ship status`: the daemon's `tokengate_ship_*` samples as a report.
func shipStatus(_ scrape: MetricsScrape) -> Report {
    var report = Report()
    guard let connected = scrape.series("tokengate_ship_connected").first else {
        report.add("shipping", "off (tokengated runs without --postgres)")
        return report
    }
    let value = { (name: String) in UInt64(scrape.sum(name)) }
    report.add("host_id", connected.labels["host_id"] ?? "")
    report.add("connected", connected.number == 1)
    report.add("cursor", value("tokengate_ship_cursor_sequence"))
    report.add("durable_sequence", value("tokengate_ship_durable_sequence"))
    report.add("lag_records", value("tokengate_ship_lag_records"))
    let lagSeconds = scrape.series("tokengate_ship_lag_seconds").first?.value ?? "0"
    report.add("lag_seconds", human: lagSeconds, json: .string(lagSeconds))
    report.add("rows_per_second", value("tokengate_ship_rows_per_second"))
    report.add("rows_total", value("tokengate_ship_rows_total"))
    report.add("errors_total", value("tokengate_ship_errors_total"))
    report.add("backlog_bytes", value("tokengate_ship_backlog_bytes"))
    report.add("backlog_over_limit", value("tokengate_ship_backlog_over_limit") == 1)
    report.add("last_error", scrape.series("tokengate_ship_last_error_info").first?.labels["error"] ?? "")
    return report
}
