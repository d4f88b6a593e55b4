// Offline verbs on the daemon's files (DESIGN §6): `tokengate wal verify DIR` and
// `tokengate snapshot verify FILE` check checksums, lengths and sequence numbers read-only,
// with no daemon and no socket, and report the records, the sequence range and the first
// problem with its file and byte offset. Exit 0 when everything verifies, 1 on corruption.
import Foundation
import TokenGateClient
import TokenGateStore

/// What an offline verb prints and the exit code it ends with.
struct OfflineOutcome {
    var report: Report
    var exitCode: Int32
}

extension Command {
    /// A verb that reads files only: `main` runs it without building a client.
    init(
        name: String, synopsis: String, summary: String, options: Set<String> = [], switches: Set<String> = [],
        offline: @escaping @Sendable (Arguments) throws -> OfflineOutcome
    ) {
        self.init(
            name: name, synopsis: synopsis, summary: summary, options: options, switches: switches,
            run: { _, _ in throw UsageError(message: "\(name) works offline") }, offline: offline)
    }
}

/// Runs an offline verb, prints its report and exits with its code.
func runOffline(
    _ command: Command, _ offline: @Sendable (Arguments) throws -> OfflineOutcome, _ arguments: Arguments, json: Bool
) -> Never {
    do {
        let outcome = try offline(arguments)
        print(outcome.report.render(json: json))
        exit(outcome.exitCode)
    } catch let error as UsageError {
        fail("\(command.name): \(error.message) (usage: tokengate \(command.synopsis))", code: 2)
    } catch {
        fail("\(command.name): \(error)", code: 1)
    }
}

/// The offline storage verbs.
let storageCommands: [Command] = [
    Command(
        name: "wal", synopsis: "wal verify DIR",
        summary: "check the write-ahead log in data dir DIR offline: records, sequence range, first problem"
    ) { arguments in
        let directory = try verifyTarget(arguments, "DIR")
        return outcome(LogVerifier.verify(directory: directory, fileSystem: PosixFileSystem()), path: directory)
    },
    Command(
        name: "snapshot", synopsis: "snapshot verify FILE",
        summary: "check one snapshot file offline: entries, last sequence, first problem"
    ) { arguments in
        let file = try verifyTarget(arguments, "FILE")
        return outcome(Snapshot.verify(file: file, fileSystem: PosixFileSystem()), path: file)
    },
]

/// The path after the `verify` subverb.
private func verifyTarget(_ arguments: Arguments, _ what: String) throws -> String {
    let subverb = try arguments.positional(0, "subcommand (verify)")
    guard subverb == "verify" else { throw UsageError(message: "unknown subcommand '\(subverb)' (only verify)") }
    let path = try arguments.positional(1, what)
    guard arguments.positionals.count == 2 else { throw UsageError(message: "expected one \(what)") }
    return path
}

private func outcome(_ verified: VerifyReport, path: String) -> OfflineOutcome {
    var report = Report()
    report.add("path", path)
    report.add("ok", verified.ok)
    report.add("records", UInt64(verified.records))
    report.add("first_sequence", verified.firstSequence.map(String.init) ?? "-")
    report.add("last_sequence", verified.lastSequence.map(String.init) ?? "-")
    report.add("problem", verified.problem ?? "-")
    report.addList("warnings", verified.warnings, json: verified.warnings.map { .string($0) })
    return OfflineOutcome(report: report, exitCode: verified.ok ? 0 : 1)
}

/// The client spool's dead-letter file (TokenGateClient `TokenGateClient.deadLetterFileName`).
let deadLetterCommands: [Command] = [
    Command(
        name: "dead-letters", synopsis: "dead-letters SPOOL_DIR",
        summary: "list the spooled usage events the daemon refused for good (malformed), from a client's spool directory, offline"
    ) { arguments in
        let directory = try arguments.positional(0, "SPOOL_DIR")
        let path = directory + "/" + TokenGateClient.deadLetterFileName
        var report = Report()
        report.add("path", path)
        guard let data = FileManager.default.contents(atPath: path) else {
            report.add("count", UInt64(0))
            report.addList("events", [], json: [])
            return OfflineOutcome(report: report, exitCode: 0)
        }
        var lines: [String] = []
        var events: [JSON] = []
        for line in String(decoding: data, as: UTF8.self).split(separator: "\n") where !line.isEmpty {
            lines.append(String(line))
            // A torn last line (a crash mid-write) is shown as text.
            events.append((try? JSONValue.parse(Array(line.utf8))).map(JSON.init) ?? .string(String(line)))
        }
        report.add("count", UInt64(lines.count))
        report.addList("events", lines, json: events)
        return OfflineOutcome(report: report, exitCode: 0)
    },
]

extension JSON {
    /// A parsed JSON value, numbers kept as integers when they are.
    init(_ value: JSONValue) {
        switch value {
        case .object(let members): self = .object(members.map { ($0.key, JSON($0.value)) })
        case .array(let items): self = .array(items.map(JSON.init))
        case .string(let text): self = .string(text)
        case .number(let text): self = Int64(text).map(JSON.int) ?? .string(text)
        case .bool(let flag): self = .bool(flag)
        case .null: self = .string("")
        }
    }
}
