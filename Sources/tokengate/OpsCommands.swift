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
]
