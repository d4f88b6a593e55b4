// Renders the metrics registry and the values read at scrape time in the Prometheus text
// exposition format 0.0.4: a `# HELP` and `# TYPE` line per family, then its samples;
// histograms as cumulative `_bucket{le=...}` lines with `_sum` and `_count`, in seconds.
import Foundation
import TokenGateCore
import TokenGateStore

/// What a scrape reads besides the registry.
struct ScrapeInputs {
    var version: String
    var serving: Bool
    var now: UnixMillis
    var ledger: LedgerGauges
    var logLastSequence: UInt64
    var store: StoreMetrics
    var memory: ProcessMemory?
}

/// The process's memory from `/proc/self/statm`.
struct ProcessMemory {
    var residentBytes: UInt64
    var virtualBytes: UInt64

    /// Nil where `/proc` is unavailable.
    static func read() -> ProcessMemory? {
        guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return nil }
        let fields = text.split(separator: " ").compactMap { UInt64($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
        guard fields.count >= 2 else { return nil }
        let pageBytes = UInt64(max(1, sysconf(Int32(_SC_PAGESIZE))))
        return ProcessMemory(residentBytes: fields[1] * pageBytes, virtualBytes: fields[0] * pageBytes)
    }
}

/// Builds exposition text line by line.
struct ExpositionWriter {
    private(set) var text = ""

    mutating func family(_ name: String, _ type: String, _ help: String) {
        text += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
    }

    mutating func sample(_ name: String, _ labels: KeyValuePairs<String, String> = [:], _ value: String) {
        text += name
        if !labels.isEmpty {
            text += "{" + labels.map { "\($0.key)=\"\(Self.escape($0.value))\"" }.joined(separator: ",") + "}"
        }
        text += " \(value)\n"
    }

    mutating func sample(_ name: String, _ labels: KeyValuePairs<String, String> = [:], _ value: UInt64) {
        sample(name, labels, String(value))
    }

    /// One histogram's samples; `label` is an optional extra label (e.g. the method).
    mutating func histogram(_ name: String, label: (String, String)?, _ snapshot: HistogramSnapshot) {
        let prefix = label.map { "\($0.0)=\"\(Self.escape($0.1))\"," } ?? ""
        var cumulative: UInt64 = 0
        for (index, bound) in LatencyHistogram.boundsNanoseconds.enumerated() {
            cumulative &+= snapshot.bucketCounts[index]
            text += "\(name)_bucket{\(prefix)le=\"\(Self.seconds(bound))\"} \(cumulative)\n"
        }
        cumulative &+= snapshot.bucketCounts[LatencyHistogram.boundsNanoseconds.count]
        text += "\(name)_bucket{\(prefix)le=\"+Inf\"} \(cumulative)\n"
        let braces = label.map { "{\($0.0)=\"\(Self.escape($0.1))\"}" } ?? ""
        text += "\(name)_sum\(braces) \(Self.seconds(snapshot.sumNanoseconds))\n"
        text += "\(name)_count\(braces) \(cumulative)\n"
    }

    /// Exact decimal seconds from integer nanoseconds (no floating point): 1500 → "0.0000015".
    static func seconds(_ nanoseconds: UInt64) -> String {
        let whole = nanoseconds / 1_000_000_000
        let fraction = nanoseconds % 1_000_000_000
        if fraction == 0 { return String(whole) }
        var digits = String(fraction)
        digits = String(repeating: "0", count: 9 - digits.count) + digits
        while digits.hasSuffix("0") { digits.removeLast() }
        return "\(whole).\(digits)"
    }

    /// Label values escape backslash, double quote and line feed (the text format's three
    /// escapes), over Unicode scalars: "\r\n" is one Character, and comparing Characters let a
    /// CR LF pass unescaped. Identifiers cannot hold control characters (`Validation`); any
    /// other control character in a label (an error text) is written as U+FFFD so that no
    /// value can end a line.
    static func escape(_ value: String) -> String {
        guard value.utf8.contains(where: { $0 < 0x20 || $0 == UInt8(ascii: "\\") || $0 == UInt8(ascii: "\"") }) else {
            return value
        }
        var out = ""
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            default: out.unicodeScalars.append(scalar.value < 0x20 ? "\u{FFFD}" : scalar)
            }
        }
        return out
    }
}

extension Metrics {
    /// The whole exposition text.
    func exposition(_ inputs: ScrapeInputs) -> String {
        var writer = ExpositionWriter()
        writeProcess(&writer, inputs)
        writeCalls(&writer)
        writeDecisions(&writer, inputs)
        writeStore(&writer, inputs)
        writeClients(&writer, inputs)
        return writer.text
    }

    private func writeProcess(_ writer: inout ExpositionWriter, _ inputs: ScrapeInputs) {
        writer.family("tokengate_build_info", "gauge", "Always 1; the version label names the running build.")
        writer.sample("tokengate_build_info", ["version": inputs.version], 1)
        writer.family("tokengate_serving", "gauge", "1 once recovery has finished and until draining starts (Health says SERVING).")
        writer.sample("tokengate_serving", [:], inputs.serving ? 1 : 0)
        writer.family("process_start_time_seconds", "gauge", "Start time of the daemon since the Unix epoch.")
        writer.sample("process_start_time_seconds", [:], UInt64(max(0, startedUnixMs / 1_000)))
        if let memory = inputs.memory {
            writer.family("process_resident_memory_bytes", "gauge", "Resident memory in use (from /proc/self/statm).")
            writer.sample("process_resident_memory_bytes", [:], memory.residentBytes)
            writer.family("process_virtual_memory_bytes", "gauge", "Virtual memory size (from /proc/self/statm).")
            writer.sample("process_virtual_memory_bytes", [:], memory.virtualBytes)
        }
        writer.family("tokengate_connections_open", "gauge", "Client connections open now.")
        writer.sample("tokengate_connections_open", [:], String(connectionsOpen.load(ordering: .relaxed)))
        writer.family("tokengate_connections_accepted_total", "counter", "Client connections accepted.")
        writer.sample("tokengate_connections_accepted_total", [:], connectionsAccepted.value)
        writer.family("tokengate_connections_rejected_total", "counter", "Connections refused at accept (limit reached or draining).")
        writer.sample("tokengate_connections_rejected_total", [:], connectionsRejected.value)
    }

    /// Per-method series appear once the method has been called.
    private func writeCalls(_ writer: inout ExpositionWriter) {
        let called = (methods + [unknownMethod]).filter { $0.totalCalls > 0 }
        writer.family("tokengate_calls_total", "counter", "RPC calls answered, by method and gRPC status code.")
        for method in called {
            for code in StatusCode.allCases {
                let count = method.callsByStatus[Int(code.rawValue)].value
                if count > 0 || code == .ok { writer.sample("tokengate_calls_total", ["method": method.name, "code": code.description], count) }
            }
        }
        writer.family("tokengate_call_errors_total", "counter", "RPC calls answered with a status other than OK, by method.")
        for method in called {
            writer.sample("tokengate_call_errors_total", ["method": method.name], method.totalCalls - method.callsByStatus[0].value)
        }
        writer.family("tokengate_undecodable_frames_total", "counter", "Frames that were not a request envelope.")
        writer.sample("tokengate_undecodable_frames_total", [:], undecodableFrames.value)
        writer.family(
            "tokengate_call_duration_seconds", "histogram",
            "Time from decoding a request to its encoded response, by method (the wait for the log's fsync is in tokengate_durability_wait_seconds).")
        for method in called { writer.histogram("tokengate_call_duration_seconds", label: ("method", method.name), method.latency.snapshot()) }
    }

    private func writeDecisions(_ writer: inout ExpositionWriter, _ inputs: ScrapeInputs) {
        writer.family("tokengate_decisions_total", "counter", "CanMakeRequest answers by decision and reason.")
        for decision in [Decision.allow, .deny] {
            for reason in DecisionReason.allCases {
                let count = decisions[Int(decision.rawValue) * Self.reasonCount + Int(reason.rawValue)].value
                if count > 0 || (decision == .allow && reason == .withinBudget) {
                    writer.sample("tokengate_decisions_total", ["decision": decision.description, "reason": reason.description], count)
                }
            }
        }
        writer.family("tokengate_decision_warnings_total", "counter", "CanMakeRequest answers with the warning flag (usage at or above the alert threshold).")
        writer.sample("tokengate_decision_warnings_total", [:], decisionWarnings.value)
        writer.family("tokengate_shadow_denials_total", "counter", "Checks shadow mode allowed but would have denied, by reason.")
        for reason in DecisionReason.allCases where shadowDenials[Int(reason.rawValue)].value > 0 {
            writer.sample("tokengate_shadow_denials_total", ["reason": reason.description], shadowDenials[Int(reason.rawValue)].value)
        }
        writer.family("tokengate_reservations_held", "gauge", "Live reservation holds.")
        writer.sample("tokengate_reservations_held", [:], UInt64(inputs.ledger.reservationsHeld))
        writer.family("tokengate_reservations_held_nano_usd", "gauge", "Sum of the live reservation holds, in nano-USD.")
        writer.sample("tokengate_reservations_held_nano_usd", [:], String(inputs.ledger.reservationsHeldNanoUSD))
        let gate = (gateOnlyShops: inputs.ledger.gateOnlyShops, liveReservations: inputs.ledger.liveReservationsCounted)
        writer.family("tokengate_gate_only_shops", "gauge", "Shops kept only for holds or rate-limit windows (limit: --max-gate-only-shops).")
        writer.sample("tokengate_gate_only_shops", [:], UInt64(max(0, gate.gateOnlyShops)))
        writer.family("tokengate_live_reservations_counted", "gauge", "Live holds as counted against --max-live-reservations.")
        writer.sample("tokengate_live_reservations_counted", [:], UInt64(max(0, gate.liveReservations)))
        writer.family("tokengate_shop_cost_today_nano_usd", "gauge", "Recorded cost today (UTC) of the shops that spent most, in nano-USD.")
        for shop in inputs.ledger.topShopsToday {
            writer.sample("tokengate_shop_cost_today_nano_usd", ["shop": shop.shopID], String(shop.costNanoUSD))
        }
    }

    private func writeStore(_ writer: inout ExpositionWriter, _ inputs: ScrapeInputs) {
        let start = logSequenceAtStart.load(ordering: .relaxed)
        writer.family("tokengate_log_appends_total", "counter", "Records appended to the write-ahead log since the daemon started.")
        writer.sample("tokengate_log_appends_total", [:], inputs.logLastSequence >= start ? inputs.logLastSequence - start : 0)
        writer.family("tokengate_log_last_sequence", "gauge", "Sequence number of the last record in the write-ahead log.")
        writer.sample("tokengate_log_last_sequence", [:], inputs.logLastSequence)
        writer.family("tokengate_log_fsync_duration_seconds", "histogram", "Duration of each fdatasync of the write-ahead log.")
        writer.histogram("tokengate_log_fsync_duration_seconds", label: nil, inputs.store.fsyncLatency.snapshot())
        writer.family("tokengate_durability_wait_seconds", "histogram", "Time a batch of replies waited for its log writes to be durable.")
        writer.histogram("tokengate_durability_wait_seconds", label: nil, durabilityWait.snapshot())
        writer.family("tokengate_snapshot_failures_total", "counter", "Snapshots that failed; the log keeps growing until one succeeds.")
        writer.sample("tokengate_snapshot_failures_total", [:], inputs.store.snapshotFailures.load(ordering: .relaxed))
        writer.family("tokengate_snapshot_failing", "gauge", "1 from a failed snapshot until the next one succeeds.")
        writer.sample("tokengate_snapshot_failing", [:], inputs.store.snapshotFailing.load(ordering: .relaxed) ? UInt64(1) : 0)
        writer.family("tokengate_snapshot_duration_seconds", "histogram", "Duration of each snapshot of the store.")
        writer.histogram("tokengate_snapshot_duration_seconds", label: nil, inputs.store.snapshotDuration.snapshot())
        writer.family("tokengate_shops", "gauge", "Shops held in memory.")
        writer.sample("tokengate_shops", [:], UInt64(inputs.ledger.shopsPerShard.reduce(0, +)))
        writer.family("tokengate_shard_shops", "gauge", "Shops held in memory, per shard.")
        for (shard, count) in inputs.ledger.shopsPerShard.enumerated() {
            writer.sample("tokengate_shard_shops", ["shard": String(shard)], UInt64(count))
        }
    }

    private func writeClients(_ writer: inout ExpositionWriter, _ inputs: ScrapeInputs) {
        let reports = clientReports.current(now: inputs.now)
        writer.family("tokengate_clients_reporting", "gauge", "Clients that reported their counters in the last 15 minutes.")
        writer.sample("tokengate_clients_reporting", [:], UInt64(reports.count))
        let families: [(String, String, String, KeyPath<ReportClientMetricsRequest, UInt64>)] = [
            ("tokengate_client_fail_open_total", "counter", "Requests a client let through without asking (daemon unreachable, fail-open policy), as reported by the client.", \.failOpenTotal),
            ("tokengate_client_fail_closed_total", "counter", "Requests a client refused without asking (daemon unreachable, fail-closed policy), as reported by the client.", \.failClosedTotal),
            ("tokengate_client_spooled_total", "counter", "Usage events a client spooled locally while the daemon was unreachable, as reported by the client.", \.spooledTotal),
            ("tokengate_client_spool_depth", "gauge", "Usage events waiting in a client's spool, as reported by the client.", \.spoolDepth),
        ]
        for (name, type, help, field) in families {
            writer.family(name, type, help)
            for report in reports { writer.sample(name, ["client": report.clientID], report[keyPath: field]) }
        }
    }
}
