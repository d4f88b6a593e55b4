// One benchmark run, in the order that keeps figures comparable: measure the message sizes,
// then the floor (echo of those sizes, thread and epoll servers), TokenGate's CanMakeRequest
// alternating with the floor and the Redis gate, LogUsage under each fsync policy (`always`
// alternating with Redis's fsync-always AOF), the one-core pinned round trip and the scale
// test, all at the same concurrency, then the ratios against their targets.
import Foundation
import TokenGateClient
import TokenGateClock
import TokenGateWire

/// The byte sizes of one CanMakeRequest round trip, frames included.
struct MessageSizes {
    var requestBytes: Int
    var responseBytes: Int
}

/// One load of a comparison measured in alternating slices (`measureAlternating`): its report
/// key and label, and one slice of it at a shape for a duration.
struct SliceSubject {
    let key: String
    let label: (LoadShape) -> String
    let slice: (LoadShape, _ durationNs: UInt64) async throws -> Measurement
}

/// The three load shapes every subject is measured under.
enum LoadShape: CaseIterable {
    case sequential, manyConnections, pipelined

    var connections: Int { self == .manyConnections ? BenchOptions.connectionsMany : 1 }
    var depth: Int { self == .pipelined ? BenchOptions.inFlightOnOneConnection : 1 }
    var key: String {
        switch self {
        case .sequential: "seq"
        case .manyConnections: "c\(BenchOptions.connectionsMany)"
        case .pipelined: "pipe\(BenchOptions.inFlightOnOneConnection)"
        }
    }
    var label: String {
        switch self {
        case .sequential: "1 conn sequential"
        case .manyConnections: "\(BenchOptions.connectionsMany) conns"
        case .pipelined: "1 conn, \(BenchOptions.inFlightOnOneConnection) in flight"
        }
    }
}

final class BenchRun {
    let options: BenchOptions
    let report = Report()
    let directory: String
    let daemonPath: String
    let workload: Workload
    private var serial = 0

    init(options: BenchOptions) throws {
        self.options = options
        directory = try Machine.temporaryDirectory()
        daemonPath = options.daemonPath ?? (URL(fileURLWithPath: Machine.selfPath).deletingLastPathComponent().path + "/tokengated")
        guard FileManager.default.isExecutableFile(atPath: daemonPath) else {
            throw BenchError("tokengated not found at \(daemonPath); build it (swift build -c release) or pass --daemon")
        }
        workload = Workload(shopCount: BenchOptions.loadShops)
    }

    var warmupNs: UInt64 { UInt64(options.warmupMs) * 1_000_000 }
    var durationNs: UInt64 { UInt64(options.phaseMs) * 1_000_000 }

    /// A fresh name under the run directory.
    func fresh(_ stem: String) -> String {
        serial += 1
        return "\(directory)/\(stem)\(serial)"
    }

    /// Runs every section; returns the exit code.
    func run() async -> Int32 {
        report.setMachine(Machine.facts())
        report.addMachineFact("mode", options.quick ? "quick" : "full")
        report.addMachineFact("phase_ms", "\(options.phaseMs) (+\(options.warmupMs) warm-up)")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        do {
            let sizes = try await measureSizes()
            var fasterServer = Dictionary(uniqueKeysWithValues: LoadShape.allCases.map { ($0, "thread") })
            if options.runs("floor") { fasterServer = try await screenFloorServers(sizes) }
            if options.runs("gate") { try await measureFloorAgainstGate(sizes, fasterServer: fasterServer) }
            if options.runs("log") { try await measureLogUsage() }
            if options.runs("pinned") { try await measurePinned(sizes) }
            if options.runs("scale") { try await measureScale() }
            if options.runs("snapshot") { try await measureSnapshotStall() }
        } catch {
            progress("benchmark failed: \(error)")
            report.addNote("the run stopped early: \(error)")
            addTargets()
            print(options.json ? report.json() : report.text(), terminator: "")
            return 1
        }
        report.addMachineFact("loadavg_at_end", Machine.loadAverage())
        addTargets()
        print(options.json ? report.json() : report.text(), terminator: "")
        return 0
    }

    // MARK: - Daemons

    /// Starts tokengated on a fresh socket; returns it with its socket and the time from spawn to
    /// health SERVING (which is recovery for a data dir with content).
    func startDaemon(
        dataDirectory: String? = nil, fsync: String = "always", pinToCPU cpu: Int? = nil, extraArguments: [String] = []
    ) async throws
        -> (child: Child, socket: String, readySeconds: Double)
    {
        let socket = fresh("gate") + ".sock"
        let data = dataDirectory ?? fresh("data")
        let started = MonotonicClock.nanoseconds()
        let child = try Child(
            "tokengated", executable: daemonPath,
            arguments: ["--socket", socket, "--data-dir", data, "--fsync", fsync] + extraArguments,
            stderrPath: fresh("tokengated") + ".log", pinToCPU: cpu)
        let client = TokenGateClient(socketPath: socket, defaultTimeoutMs: 2_000)
        defer { client.close() }
        while true {
            if let health = try? await client.health(), health.status == .serving { break }
            guard child.process.isRunning else { throw BenchError("tokengated exited at start: \(child.kill())") }
            client.close()
            try await Task.sleep(nanoseconds: 2_000_000)
        }
        return (child, socket, Double(MonotonicClock.nanoseconds() - started) / 1e9)
    }

    // MARK: - Sizes

    func measureSizes() async throws -> MessageSizes {
        let (daemon, socket, _) = try await startDaemon()
        defer { daemon.kill() }
        let client = TokenGateClient(socketPath: socket)
        defer { client.close() }
        let request = workload.canMakeRequest(worker: 0, call: 0)
        let response = try await client.canMakeRequest(request)
        let callID: UInt64 = 1_000_000
        let requestFrame = RequestEnvelope(callID: callID, method: MethodPath.canMakeRequest, deadlineMs: client.defaultTimeoutMs, payload: request.encoded())
        let responseFrame = ResponseEnvelope(callID: callID, statusCode: 0, payload: response.encoded(), endOfStream: true)
        let sizes = MessageSizes(requestBytes: requestFrame.encoded().count + 4, responseBytes: responseFrame.encoded().count + 4)
        let usage = workload.logUsage(worker: 0, call: 0, tag: 0x51ce_0000)
        let usageFrame = RequestEnvelope(callID: callID, method: MethodPath.logUsage, deadlineMs: client.defaultTimeoutMs, payload: usage.encoded())
        report.section("Message sizes (frames with their 4-byte length)")
        report.add("size.can_make_request.request_bytes", "CanMakeRequest request", Double(sizes.requestBytes), "B")
        report.add("size.can_make_request.response_bytes", "CanMakeRequest response", Double(sizes.responseBytes), "B")
        report.add("size.log_usage.request_bytes", "LogUsage request", Double(usageFrame.encoded().count + 4), "B")
        return sizes
    }

    // MARK: - Floor

    /// Screens both echo servers at every shape; returns the faster one per shape (the floor).
    func screenFloorServers(_ sizes: MessageSizes) async throws -> [LoadShape: String] {
        report.section("Floor screening: raw Unix-socket echo of the CanMakeRequest sizes (C, plain read/write)")
        var best: [LoadShape: (kind: String, measured: Measurement)] = [:]
        for kind in ["thread", "epoll"] {
            let (server, socket) = try startEchoServer(kind, sizes)
            defer { server.kill() }
            for shape in LoadShape.allCases {
                var cpu = CPUPerCall()
                let measured = try await cpu.measure(windowNs: durationNs) { try floorLoad(socket, sizes, shape, durationNs: durationNs) }
                report.add("floor.\(kind).\(shape.key)", "\(kind) server, \(shape.label)", measured, latencies: shape != .pipelined, rate: true)
                if shape == .manyConnections { addCPU("floor.\(kind).\(shape.key)", "\(kind) server, \(shape.label)", cpu) }
                if let previous = best[shape], !isBetter(measured, than: previous.measured, shape) { continue }
                best[shape] = (kind, measured)
            }
        }
        return best.mapValues(\.kind)
    }

    /// Starts this binary as an echo server of the given kind on a fresh socket.
    func startEchoServer(_ kind: String, _ sizes: MessageSizes, pinToCPU cpu: Int? = nil) throws -> (Child, String) {
        let socket = fresh("echo") + ".sock"
        let server = try Child(
            "echo server", executable: Machine.selfPath,
            arguments: ["--echo-server", kind, socket, String(sizes.requestBytes), String(sizes.responseBytes)],
            stderrPath: fresh("echo") + ".log", pinToCPU: cpu)
        try Machine.waitForSocket(socket, child: server)
        return (server, socket)
    }

    /// The floor (the faster server per shape), CanMakeRequest through the client and the Redis
    /// gate, measured in alternating slices.
    func measureFloorAgainstGate(_ sizes: MessageSizes, fasterServer: [LoadShape: String]) async throws {
        report.section("CanMakeRequest against the floor and Redis, in \(Self.pairedSlices) alternating slices each (tokengated --fsync always)")
        var servers: [String: (child: Child, socket: String)] = [:]
        defer { for server in servers.values { server.child.kill() } }
        for kind in Set(fasterServer.values) { servers[kind] = try startEchoServer(kind, sizes) }
        let (daemon, gateSocket, _) = try await startDaemon()
        defer { daemon.kill() }
        let redis = try startRedis(appendFsyncAlways: false)
        defer { redis?.child.kill() }
        let workload = self.workload
        let floor = SliceSubject(key: "floor", label: { "floor (\(fasterServer[$0]!) server), \($0.label)" }) { shape, durationNs in
            try self.floorLoad(servers[fasterServer[shape]!]!.socket, sizes, shape, durationNs: durationNs)
        }
        let gate = SliceSubject(key: "tg.can", label: { "CanMakeRequest, \($0.label)" }) { shape, durationNs in
            try await self.gateLoad(gateSocket, shape, durationNs: durationNs) { client, worker, call throws(TokenGateError) in
                _ = try await client.canMakeRequest(workload.canMakeRequest(worker: worker, call: call))
            }
        }
        try await measureAlternating([floor, gate] + (redis.map { [$0.subject] } ?? []))
    }

    /// Measures every subject at every load shape in `pairedSlices` slices, taking turns, so
    /// that whatever else the machine is doing weighs on all alike; at 64 connections also the
    /// CPU time per call of each.
    func measureAlternating(_ subjects: [SliceSubject]) async throws {
        let sliceNs = durationNs / UInt64(Self.pairedSlices)
        for shape in LoadShape.allCases {
            var measured = subjects.map { _ in Measurement(calls: 0, elapsedNs: 0, latenciesNs: []) }
            var cpu = subjects.map { _ in CPUPerCall() }
            for _ in 0..<Self.pairedSlices {
                for (index, subject) in subjects.enumerated() {
                    measured[index].merge(try await cpu[index].measure(windowNs: sliceNs) { try await subject.slice(shape, sliceNs) })
                }
            }
            for (index, subject) in subjects.enumerated() {
                let key = "\(subject.key).\(shape.key)"
                report.add(key, subject.label(shape), measured[index], latencies: shape != .pipelined, rate: true)
                if shape == .manyConnections { addCPU(key, subject.label(shape), cpu[index]) }
            }
        }
    }

    /// The machine's user and system CPU time per call of a load (all processes: client,
    /// server and kernel on their behalf).
    func addCPU(_ key: String, _ label: String, _ cpu: CPUPerCall) {
        let perCall = cpu.microseconds
        report.add(key + ".cpu_user_us", label + ", user CPU per call", perCall.user, "µs")
        report.add(key + ".cpu_system_us", label + ", system CPU per call", perCall.system, "µs")
    }

    /// Slices the subjects of a comparison alternate in.
    static let pairedSlices = 4

    func floorLoad(_ socket: String, _ sizes: MessageSizes, _ shape: LoadShape, durationNs: UInt64) throws -> Measurement {
        try RawLoad.run(RawLoad.Spec(
            socketPath: socket, connections: shape.connections, depth: shape.depth,
            requests: [[UInt8](repeating: 0x2a, count: sizes.requestBytes)],
            response: .fixed(bytes: sizes.responseBytes), warmupNs: warmupNs, durationNs: durationNs,
            recordLatencies: shape != .pipelined))
    }

    /// Sequential runs are compared by p50 latency, the others by rate.
    func isBetter(_ candidate: Measurement, than other: Measurement, _ shape: LoadShape) -> Bool {
        if shape == .sequential {
            return (candidate.percentilesUs.p50 ?? .infinity) < (other.percentilesUs.p50 ?? .infinity)
        }
        return candidate.callsPerSecond > other.callsPerSecond
    }
}
