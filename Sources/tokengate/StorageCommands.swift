// Offline verbs on the daemon's files (DESIGN §6): `tokengate wal verify DIR` and
// `tokengate snapshot verify FILE` check checksums, lengths and sequence numbers read-only,
// with no daemon and no socket, and report the records, the sequence range and the first
// problem with its file and byte offset. Exit 0 when everything verifies, 1 on corruption.
import Foundation
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
