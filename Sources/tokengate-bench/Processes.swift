// The processes a benchmark run starts and stops: tokengated, the echo floor servers (this same
// binary in a server role), redis-server, and pinned clients. Each is started on a socket in the
// run's temporary directory, waited for until it answers, and killed by its own pid.
import Foundation
import TokenGateClient
import TokenGateClock
import TokenGateWire

/// A child process the benchmark owns.
final class Child: @unchecked Sendable {
    let process: Process
    let name: String
    /// Where the child's stderr goes (a file, so a chatty child can never block on a full pipe).
    private let stderrPath: String

    /// Starts `executable` with `arguments`, optionally under `taskset -c <cpu>`; its stderr
    /// goes to `stderrPath`.
    init(_ name: String, executable: String, arguments: [String], stderrPath: String, pinToCPU cpu: Int? = nil) throws {
        self.name = name
        self.stderrPath = stderrPath
        process = Process()
        if let cpu {
            process.executableURL = URL(fileURLWithPath: try Machine.which("taskset"))
            process.arguments = ["-c", String(cpu), executable] + arguments
        } else {
            process.executableURL = URL(fileURLWithPath: executable)
            process.arguments = arguments
        }
        process.standardOutput = FileHandle.nullDevice
        guard FileManager.default.createFile(atPath: stderrPath, contents: nil),
            let log = FileHandle(forWritingAtPath: stderrPath)
        else { throw BenchError("cannot create \(stderrPath)") }
        process.standardError = log
        try process.run()
        try? log.close()
    }

    var pid: Int32 { process.processIdentifier }

    /// Resident set size in bytes (VmRSS of /proc/<pid>/status).
    var residentBytes: Int? {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
        for line in status.split(separator: "\n") where line.hasPrefix("VmRSS:") {
            let kilobytes = line.split(separator: " ").compactMap { Int($0) }.first
            return kilobytes.map { $0 * 1_024 }
        }
        return nil
    }

    /// Kills the process (SIGKILL: no final snapshot; the run's files are thrown away) and
    /// returns what it wrote on stderr.
    @discardableResult
    func kill() -> String {
        if process.isRunning { Glibc.kill(pid, SIGKILL) }
        process.waitUntilExit()
        return stderrText
    }

    /// What the child has written on stderr so far.
    var stderrText: String {
        (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? ""
    }
}

/// Facts about the machine and helpers for paths.
enum Machine {
    /// A fresh directory under /tmp for one run's sockets and data.
    static func temporaryDirectory() throws -> String {
        var template = Array("/tmp/tg-bench-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw BenchError("mkdtemp failed: errno \(errno)") }
        return String(cString: made)
    }

    /// This binary's path.
    static var selfPath: String {
        URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().path
    }

    /// `name` on PATH, or an error naming it.
    static func which(_ name: String) throws -> String {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for folder in path.split(separator: ":") + ["/usr/sbin", "/usr/bin"] {
            let candidate = "\(folder)/\(name)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        throw BenchError("\(name) not found on PATH")
    }

    /// Waits until something accepts connections on `socketPath`.
    static func waitForSocket(_ socketPath: String, child: Child, timeoutMs: Int = 20_000) throws {
        let deadline = MonotonicClock.nanoseconds() + UInt64(timeoutMs) * 1_000_000
        while MonotonicClock.nanoseconds() < deadline {
            if let fd = try? UnixSocket.connect(path: socketPath) {
                UnixSocket.close(fd)
                return
            }
            guard child.process.isRunning else {
                throw BenchError("\(child.name) exited at start: \(child.kill())")
            }
            usleep(5_000)
        }
        throw BenchError("\(child.name) did not listen on \(socketPath) within \(timeoutMs) ms")
    }

    /// Facts recorded with every run.
    static func facts() -> [(String, String)] {
        let cpu = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8))?
            .split(separator: "\n").first { $0.hasPrefix("model name") }?
            .split(separator: ":", maxSplits: 1).last?.trimmingCharacters(in: .whitespaces) ?? "unknown"
        let kernel = (try? String(contentsOfFile: "/proc/sys/kernel/osrelease", encoding: .utf8))?
            .trimmingCharacters(in: .whitespacesAndNewlines) ?? "unknown"
        let memory = ProcessInfo.processInfo.physicalMemory
        return [
            ("date", ISO8601DateFormatter().string(from: Date())),
            ("nproc", String(ProcessInfo.processInfo.activeProcessorCount)),
            ("cpu", cpu),
            ("kernel", kernel),
            ("memory_gib", String(format: "%.1f", Double(memory) / Double(1 << 30))),
            ("loadavg_at_start", loadAverage()),
        ]
    }

    /// The 1, 5 and 15 minute load averages.
    static func loadAverage() -> String {
        let text = (try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8)) ?? ""
        return text.split(separator: " ").prefix(3).joined(separator: " ")
    }
}

/// A benchmark step that could not run.
struct BenchError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Progress lines, on stderr so that `--json` keeps stdout clean.
func progress(_ line: String) {
    FileHandle.standardError.write(Data("[bench] \(line)\n".utf8))
}
