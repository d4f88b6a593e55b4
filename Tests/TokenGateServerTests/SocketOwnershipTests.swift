// Who owns the socket (DESIGN §5), against the real daemon and CLI: the default path is never
// directly in /tmp, the daemon makes its directory 0750 and its socket 0660 at bind, refuses a
// directory another user owns, clients can pin the daemon's uid and refuse an impostor, and
// --allow-gids counts supplementary groups. (The suite runs as root, so setpriv can act as
// uid 65534, "nobody".)
import Foundation
import TokenGateClient
import TokenGateWire
import XCTest

final class SocketOwnershipTests: XCTestCase {
    func testDefaultSocketPathIsNeverDirectlyInTmp() {
        XCTAssertEqual(SocketPaths.defaultPath(environment: ["TOKENGATE_SOCKET": "/srv/g.sock"], uid: 1000), "/srv/g.sock")
        XCTAssertEqual(SocketPaths.defaultPath(environment: [:], uid: 0), "/run/tokengate/tokengate.sock")
        XCTAssertEqual(SocketPaths.defaultPath(environment: ["XDG_RUNTIME_DIR": "/run/user/1000"], uid: 1000),
                       "/run/user/1000/tokengate/tokengate.sock")
        XCTAssertEqual(SocketPaths.defaultPath(environment: [:], uid: 1000), "/tmp/tokengate-1000/tokengate.sock")
        XCTAssertEqual(SocketPaths.defaultExpectedUID(forPath: "/run/tokengate/tokengate.sock"), 0)
        XCTAssertNil(SocketPaths.defaultExpectedUID(forPath: "/tmp/x/tokengate.sock"))
        XCTAssertEqual(TokenGateClient.Configuration(socketPath: "/run/tokengate/tokengate.sock").expectedDaemonUID, 0)
    }

    func testDaemonMakesItsDirectory0750AndItsSocket0660() throws {
        var template = Array("/tmp/tg-own-XXXXXX".utf8CString)
        let base = String(cString: try XCTUnwrap(mkdtemp(&template)))
        defer { try? FileManager.default.removeItem(atPath: base) }
        let socketPath = base + "/run/tokengate/tokengate.sock"
        let daemon = try TestDaemon(socketPath: socketPath)
        var info = stat()
        XCTAssertEqual(stat(base + "/run/tokengate", &info), 0)
        XCTAssertEqual(info.st_mode & 0o7777, 0o750, String(info.st_mode & 0o7777, radix: 8))
        XCTAssertEqual(stat(socketPath, &info), 0)
        XCTAssertEqual(info.st_mode & 0o777, 0o660, String(info.st_mode & 0o777, radix: 8))
        daemon.stop()
    }

    func testDaemonRefusesASocketDirectoryAnotherUserOwns() throws {
        var template = Array("/tmp/tg-own-XXXXXX".utf8CString)
        let base = String(cString: try XCTUnwrap(mkdtemp(&template)))
        defer { try? FileManager.default.removeItem(atPath: base) }
        XCTAssertEqual(mkdir(base + "/theirs", 0o755), 0)
        XCTAssertEqual(chown(base + "/theirs", 65534, 65534), 0)
        let (status, stderr) = try startupFailure(["--socket", base + "/theirs/gate.sock", "--data-dir", base + "/data"])
        XCTAssertNotEqual(status, 0)
        XCTAssertTrue(stderr.contains("belongs to uid 65534"), stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: base + "/theirs/gate.sock"))
    }

    func testClientsPinningTheDaemonsUIDRefuseAnImpostor() async throws {
        // An impostor: another user's daemon on a socket in a directory of its own.
        var template = Array("/tmp/tg-imp-XXXXXX".utf8CString)
        let base = String(cString: try XCTUnwrap(mkdtemp(&template)))
        defer { try? FileManager.default.removeItem(atPath: base) }
        XCTAssertEqual(chmod(base, 0o755), 0)
        XCTAssertEqual(chown(base, 65534, 65534), 0)
        let socketPath = base + "/gate.sock"
        let impostor = Process()
        impostor.executableURL = URL(fileURLWithPath: "/usr/bin/setpriv")
        impostor.arguments = ["--reuid=65534", "--regid=65534", "--clear-groups", TestDaemon.productsDirectory + "/tokengated",
                              "--socket", socketPath, "--data-dir", base + "/data", "--socket-mode", "0666"]
        impostor.standardError = FileHandle(forWritingAtPath: "/dev/null")
        try impostor.run()
        defer { impostor.terminate(); impostor.waitUntilExit() }
        let deadline = Date().addingTimeInterval(10)
        while !FileManager.default.fileExists(atPath: socketPath) && Date() < deadline { usleep(20_000) }

        var pinned = TokenGateClient.Configuration(socketPath: socketPath)
        pinned.expectedDaemonUID = 0
        do {
            _ = try await TokenGateClient(configuration: pinned).health()
            XCTFail("a client pinned to uid 0 talked to uid 65534's daemon")
        } catch {
            XCTAssertEqual(error.code, .permissionDenied)
            XCTAssertTrue(error.message.contains("uid 65534"), error.message)
        }
        let cli = try TestDaemon.runCLI(["--socket", socketPath, "--expect-uid", "0", "health"])
        XCTAssertEqual(cli.exitCode, 1)
        XCTAssertTrue(cli.stderr.contains("impostor"), cli.stderr)
        // Pinned to the right uid (or not pinned), the same socket answers.
        pinned.expectedDaemonUID = 65534
        var served = false
        while !served && Date() < deadline {
            served = (try? await TokenGateClient(configuration: pinned).health().status) == .serving
            if !served { usleep(50_000) }
        }
        XCTAssertTrue(served)
    }

    func testAllowGIDsCountsSupplementaryGroups() throws {
        let daemon = try TestDaemon(arguments: ["--allow-gids", "4321", "--socket-mode", "0666"])
        XCTAssertEqual(chmod(daemon.directory, 0o755), 0)
        func health(groups: [String]) throws -> TestDaemon.CLIResult {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/setpriv")
            process.arguments = ["--reuid=65534", "--regid=65534"] + groups
                + [TestDaemon.productsDirectory + "/tokengate", "--socket", daemon.socketPath, "--json", "health"]
            let out = Pipe()
            let err = Pipe()
            process.standardOutput = out
            process.standardError = err
            try process.run()
            let stdout = out.fileHandleForReading.readDataToEndOfFile()
            let stderr = err.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            return TestDaemon.CLIResult(
                exitCode: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self),
                stderr: String(decoding: stderr, as: UTF8.self))
        }
        let member = try health(groups: ["--groups=100,4321"])
        XCTAssertEqual(member.exitCode, 0, member.stderr)
        XCTAssertTrue(member.stdout.contains("SERVING"), member.stdout)
        let outsider = try health(groups: ["--clear-groups"])
        XCTAssertNotEqual(outsider.exitCode, 0)
        // Refused at accept: the refusal frame, or a broken pipe when the CLI was still writing.
        XCTAssertFalse(outsider.stdout.contains("SERVING"), outsider.stdout)
        daemon.stop()
    }
}
