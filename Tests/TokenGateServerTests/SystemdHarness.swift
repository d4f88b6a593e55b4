// Starts tokengated the way systemd does, for the socket-activation and notify tests: the
// listening socket at fd 3 with LISTEN_FDS=1 and LISTEN_PID set to the daemon's own pid, and
// optionally a NOTIFY_SOCKET the test reads. Foundation.Process cannot place a descriptor at
// fd 3 nor know the pid before exec, so this uses posix_spawn with file actions and a one-line
// shell launcher that exports LISTEN_PID=$$ and then execs the daemon under the same pid.
//
// Unsafe code (tests only): argv/envp C strings are strdup'ed here and freed after
// posix_spawn returns; socket addresses are stack values borrowed by each syscall.
import Foundation
import Glibc
import TokenGateClient
import TokenGateWire
import XCTest

/// A tokengated child process started with posix_spawn.
final class SpawnedDaemon: @unchecked Sendable {
    let pid: pid_t
    let stderrPath: String
    private var exitStatus: Int32?

    private init(pid: pid_t, stderrPath: String) {
        self.pid = pid
        self.stderrPath = stderrPath
    }

    deinit {
        if exitStatus == nil {
            kill(pid, SIGKILL)
            var status: Int32 = 0
            waitpid(pid, &status, 0)
        }
    }

    /// Spawns `tokengated arguments`. With `listeningFD`, that socket becomes fd 3 and the
    /// child gets LISTEN_FDS=1 and LISTEN_PID=<its pid> (or `listenPIDOverride`).
    static func spawn(
        arguments: [String], listeningFD: Int32?, environment extra: [String: String] = [:],
        listenPIDOverride: String? = nil, stderrPath: String
    ) throws -> SpawnedDaemon {
        let daemon = TestDaemon.productsDirectory + "/tokengated"
        var environment = ProcessInfo.processInfo.environment.filter { key, _ in
            !["LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES", "NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"].contains(key)
        }
        for (key, value) in extra { environment[key] = value }
        var argv = [daemon] + arguments
        if listeningFD != nil {
            environment["LISTEN_FDS"] = "1"
            let pid = listenPIDOverride ?? "$$"
            argv = ["/bin/sh", "-c", "LISTEN_PID=\(pid); export LISTEN_PID; exec \"$0\" \"$@\""] + argv
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 2, stderrPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        var movedFD: Int32 = -1
        if let listeningFD {
            // dup2 onto 3 clears close-on-exec only when the numbers differ.
            movedFD = fcntl(listeningFD, F_DUPFD_CLOEXEC, 10)
            guard movedFD >= 0 else { throw POSIXError(.EBADF) }
            posix_spawn_file_actions_adddup2(&actions, movedFD, listenFDsStart)
        }
        defer { if movedFD >= 0 { close(movedFD) } }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in [SIGTERM, SIGINT, SIGPIPE] { sigaddset(&defaults, signal) }
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        let cArguments = argv.map { strdup($0) } + [nil]
        let cEnvironment = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            for pointer in cArguments { free(pointer) }
            for pointer in cEnvironment { free(pointer) }
        }
        var pid: pid_t = 0
        let result = posix_spawn(&pid, argv[0], &actions, &attributes, cArguments, cEnvironment)
        guard result == 0 else { throw POSIXError(POSIXErrorCode(rawValue: result) ?? .EINVAL) }
        return SpawnedDaemon(pid: pid, stderrPath: stderrPath)
    }

    /// Sends `signal`, then waits up to `timeoutSeconds` for the exit; returns the exit code
    /// (128 + signal number when killed by a signal), or nil on timeout.
    func stop(signal: Int32 = SIGTERM, timeoutSeconds: Double = 20) async -> Int32? {
        kill(pid, signal)
        return await waitForExit(timeoutSeconds: timeoutSeconds)
    }

    func waitForExit(timeoutSeconds: Double) async -> Int32? {
        if let exitStatus { return exitStatus }
        let deadline = Date().addingTimeInterval(timeoutSeconds)
        while Date() < deadline {
            var status: Int32 = 0
            if waitpid(pid, &status, WNOHANG) == pid {
                let code = status & 0x7F == 0 ? (status >> 8) & 0xFF : 128 + (status & 0x7F)
                exitStatus = code
                return code
            }
            try? await Task.sleep(nanoseconds: 10_000_000)
        }
        return nil
    }

    var stderr: String { (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? "" }
}

/// SD_LISTEN_FDS_START.
let listenFDsStart: Int32 = 3

/// A datagram socket standing in for systemd's $NOTIFY_SOCKET.
final class FakeNotifySocket: @unchecked Sendable {
    let path: String
    private let fd: Int32

    init(path: String) throws {
        fd = try UnixSocket.bindDatagram(path: path)
        self.path = path
    }

    deinit {
        close(fd)
        unlink(path)
    }

    /// The next datagram, or nil when none arrives within `timeoutMs`.
    func receive(timeoutMs: Int32) -> String? {
        guard (try? UnixSocket.waitReadable(fd, timeoutMs: timeoutMs)) == true else { return nil }
        var buffer = [UInt8](repeating: 0, count: 4_096)
        let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        return count < 0 ? nil : String(decoding: buffer[0..<count], as: UTF8.self)
    }

    /// Datagrams received until one contains `needle` (inclusive), or nil after `timeoutMs`.
    func receive(until needle: String, timeoutMs: Int32) -> [String]? {
        var messages: [String] = []
        let deadline = Date().addingTimeInterval(Double(timeoutMs) / 1_000)
        while Date() < deadline {
            guard let message = receive(timeoutMs: 100) else { continue }
            messages.append(message)
            if message.contains(needle) { return messages }
        }
        return nil
    }
}

/// A fresh temporary directory (socket paths must stay under 108 bytes).
func makeShortTemporaryDirectory() throws -> String {
    var template = Array("/tmp/tg-ops-XXXXXX".utf8CString)
    guard let made = mkdtemp(&template) else { throw POSIXError(.EIO) }
    return String(cString: made)
}

/// Polls Health through a fresh client until SERVING, up to `timeoutSeconds`.
func waitUntilServing(socketPath: String, timeoutSeconds: Double = 20) async -> Bool {
    let deadline = Date().addingTimeInterval(timeoutSeconds)
    while Date() < deadline {
        let client = TokenGateClient(socketPath: socketPath, defaultTimeoutMs: 2_000)
        if (try? await client.health())?.status == .serving { return true }
        client.close()
        try? await Task.sleep(nanoseconds: 20_000_000)
    }
    return false
}
