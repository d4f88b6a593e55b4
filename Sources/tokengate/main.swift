// tokengate: the operator and debug CLI, one verb per RPC, built on TokenGateClient.
// Human output by default, one JSON object with --json; exit 0 on success, 1 when the daemon
// answered with an error or could not be reached, 2 for a usage mistake.
import Foundation
import TokenGateClient

let commonOptions: Set<String> = ["--socket", "--timeout-ms", "--expect-uid"]
let commonSwitches: Set<String> = ["--json", "--help", "-h"]

func printUsage() {
    let width = commands.map(\.name.count).max() ?? 0
    var text = """
        Usage: tokengate [--socket PATH] [--expect-uid UID|any] [--json] [--timeout-ms N] VERB [ARGS]

        Talks to tokengated over its Unix socket: $TOKENGATE_SOCKET, else
        /run/tokengate/tokengate.sock for root, else $XDG_RUNTIME_DIR/tokengate/tokengate.sock.
        --expect-uid refuses a socket served by another uid (an impostor); it defaults to 0
        for /run/tokengate/tokengate.sock and to no check elsewhere ("any").
        Dollar amounts are printed exactly; --json prints nano-USD integers (*_nano_usd).

        Verbs:

        """
    for command in commands {
        text += "  " + command.name.padding(toLength: width, withPad: " ", startingAt: 0) + "  " + command.summary + "\n"
    }
    text += "\nRun `tokengate VERB --help` for a verb's options.\n"
    print(text, terminator: "")
}

func fail(_ message: String, code: Int32) -> Never {
    FileHandle.standardError.write(Data("tokengate: \(message)\n".utf8))
    exit(code)
}

/// Global options may come before or after the verb: find the verb, parse the rest with its options.
let words = CommandLine.arguments.dropFirst()
guard let verbIndex = words.firstIndex(where: { word in commands.contains { $0.name == word } }) else {
    if words.isEmpty || words.contains("--help") || words.contains("-h") {
        printUsage()
        exit(words.isEmpty ? 2 : 0)
    }
    fail("unknown verb in '\(words.joined(separator: " "))' (run `tokengate --help`)", code: 2)
}
let command = commands.first { $0.name == words[verbIndex] }!
let arguments: Arguments
do {
    arguments = try Arguments(
        words[words.startIndex..<verbIndex] + words[(verbIndex + 1)...],
        options: command.options.union(commonOptions), switches: command.switches.union(commonSwitches))
} catch let error as UsageError {
    fail("\(command.name): \(error.message) (usage: tokengate \(command.synopsis))", code: 2)
}
if arguments.has("--help") || arguments.has("-h") {
    print("Usage: tokengate \(command.synopsis) [--socket PATH] [--json] [--timeout-ms N]\n\n\(command.summary)")
    exit(0)
}

let timeout: UInt32
do {
    timeout = try arguments.unsigned32("--timeout-ms", default: 5_000)
} catch let error as UsageError {
    fail(error.message, code: 2)
}
let json = arguments.has("--json")
if let offline = command.offline {
    runOffline(command, offline, arguments, json: json)
}
var clientConfiguration = TokenGateClient.Configuration(socketPath: arguments.string("--socket"))
clientConfiguration.defaultTimeoutMs = timeout
if let expected = arguments.string("--expect-uid") {
    if expected == "any" {
        clientConfiguration.expectedDaemonUID = nil
    } else if let uid = UInt32(expected) {
        clientConfiguration.expectedDaemonUID = uid
    } else {
        fail("--expect-uid must be a uid or 'any', not '\(expected)'", code: 2)
    }
}
let client: TokenGateClient
do {
    client = try TokenGateClient(configuration: clientConfiguration)
} catch {
    fail(error.message, code: 1)
}
Task {
    do {
        let report = try await command.run(arguments, client)
        print(report.render(json: json))
        exit(0)
    } catch let error as UsageError {
        fail("\(command.name): \(error.message) (usage: tokengate \(command.synopsis))", code: 2)
    } catch let error as TokenGateError {
        fail("\(command.name): \(error.code): \(error.message)", code: 1)
    } catch {
        fail("\(command.name): \(error)", code: 1)
    }
}
dispatchMain()
