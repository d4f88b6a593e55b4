// Starts the real `tokengated` binary on a temporary socket and data dir, for integration
// tests that talk to it through the real client and the real CLI.
import Foundation
import TokenGateClient
import XCTest

final class TestDaemon: @unchecked Sendable {
    let directory: String
    let socketPath: String
    var dataDirectory: String { directory + "/data" }
    private(set) var process: Process?
    /// Passed to tokengated after the socket and data dir; a test may change them between restarts.
    var extraArguments: [String]

    /// The folder holding the built products (tokengated, tokengate) next to the test bundle.
    static var productsDirectory: String {
        let testBinary = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        var folder = testBinary.deletingLastPathComponent()
        while folder.path != "/" {
            if FileManager.default.isExecutableFile(atPath: folder.appendingPathComponent("tokengated").path) { return folder.path }
            folder = folder.deletingLastPathComponent()
        }
        return FileManager.default.currentDirectoryPath + "/.build/debug"
    }

    /// - Parameter socketPath: defaults to `gate.sock` in a new temporary directory.
    init(arguments: [String] = [], socketPath: String? = nil) throws {
        var template = Array("/tmp/tg-test-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw TokenGateError(.internal, "mkdtemp failed") }
        directory = String(cString: made)
        self.socketPath = socketPath ?? directory + "/gate.sock"
        extraArguments = arguments
        try start()
    }

    deinit {
        process?.terminate()
        process?.waitUntilExit()
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// Launches the daemon (with `more` arguments this time) and waits until it answers health SERVING.
    func start(adding more: [String] = []) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.productsDirectory + "/tokengated")
        process.arguments = ["--socket", socketPath, "--data-dir", dataDirectory] + extraArguments + more
        process.standardError = FileHandle(forWritingAtPath: "/dev/null")
        try process.run()
        self.process = process
        let deadline = Date().addingTimeInterval(20)
        while Date() < deadline {
            if let status = try? runCLI(["health", "--json"]) {
                if status.exitCode == 0 && status.stdout.contains("\"SERVING\"") { return }
                if status.stderr.contains("PERMISSION_DENIED") { return }  // up, but this test's peer is not allowed
            }
            guard process.isRunning else { throw TokenGateError(.internal, "tokengated exited with \(process.terminationStatus) at start") }
            usleep(20_000)
        }
        throw TokenGateError(.internal, "tokengated did not become SERVING within 20 s")
    }

    /// Sends `signal` and waits for the process to exit; returns its exit status.
    @discardableResult
    func stop(signal: Int32 = SIGTERM) -> Int32 {
        guard let process else { return -1 }
        kill(process.processIdentifier, signal)
        process.waitUntilExit()
        self.process = nil
        return process.terminationStatus
    }

    func client(timeoutMs: UInt32 = 5_000) -> TokenGateClient {
        TokenGateClient(socketPath: socketPath, defaultTimeoutMs: timeoutMs)
    }

    struct CLIResult {
        var exitCode: Int32
        var stdout: String
        var stderr: String
    }

    /// Runs the real `tokengate` CLI against this daemon.
    func runCLI(_ arguments: [String]) throws -> CLIResult {
        try Self.runCLI(["--socket", socketPath] + arguments)
    }

    static func runCLI(_ arguments: [String]) throws -> CLIResult {
        try run(productsDirectory + "/tokengate", arguments)
    }

    /// Runs `executable` with `arguments` and collects its output.
    static func run(_ executable: String, _ arguments: [String]) throws -> CLIResult {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return CLIResult(
            exitCode: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self),
            stderr: String(decoding: stderr, as: UTF8.self))
    }
}

/// Parses one JSON object printed by the CLI.
func parseJSONObject(_ text: String, file: StaticString = #filePath, line: UInt = #line) throws -> [String: Any] {
    let object = try JSONSerialization.jsonObject(with: Data(text.utf8))
    guard let dictionary = object as? [String: Any] else {
        XCTFail("not a JSON object: \(text)", file: file, line: line)
        return [:]
    }
    return dictionary
}
