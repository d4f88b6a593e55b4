// The other subjects: LogUsage through the client library under each fsync policy, and Redis
// doing the gate, at the same three load shapes as the floor.
import Foundation
import TokenGateClient

extension BenchRun {
    func measureLogUsage() async throws {
        report.section("LogUsage through TokenGateClient, by fsync policy")
        for policy in ["always", "everysec", "never"] {
            let (daemon, socket, _) = try await startDaemon(fsync: policy)
            defer { daemon.kill() }
            try await measureLogUsage(socket, policy: policy)
        }
    }

    func measureLogUsage(_ socket: String, policy: String) async throws {
        let workload = self.workload
        for shape in LoadShape.allCases {
            let tag = UInt32.random(in: 0...UInt32.max)
            let measured = try await gateLoad(socket, shape) { client, worker, call throws(TokenGateError) in
                _ = try await client.logUsage(workload.logUsage(worker: worker, call: call, tag: tag))
            }
            report.add("tg.log.\(policy).\(shape.key)", "LogUsage --fsync \(policy), \(shape.label)", measured,
                latencies: shape != .pipelined, rate: true)
        }
    }

    func gateLoad(
        _ socket: String, _ shape: LoadShape, durationNs: UInt64? = nil, _ body: @escaping GateLoad.Body
    ) async throws -> Measurement {
        try await GateLoad.run(
            socketPath: socket, connections: shape.connections, inFlight: shape.depth, warmupNs: warmupNs,
            durationNs: durationNs ?? self.durationNs, recordLatencies: shape != .pipelined, body)
    }

    // MARK: - Redis

    func measureRedis() throws {
        report.section("Peer: Redis over a Unix socket (INCRBY + GET pipelined = one gate call; C client)")
        guard let executable = redisExecutable() else {
            report.add("redis.gate.seq.calls_per_s", "Redis gate", nil, "/s", note: "redis-server not installed; scripts/bench.sh installs it")
            return
        }
        for (name, aof) in [("gate", false), ("aof_always", true)] {
            let runDirectory = fresh("redis")
            try FileManager.default.createDirectory(atPath: runDirectory, withIntermediateDirectories: true)
            let (server, socket) = try RedisPeer.start(executable: executable, directory: runDirectory, appendFsyncAlways: aof)
            defer { server.kill() }
            let label = aof ? "Redis appendonly yes, appendfsync always" : "Redis without persistence"
            for shape in LoadShape.allCases {
                let measured = try RawLoad.run(RawLoad.Spec(
                    socketPath: socket, connections: shape.connections, depth: shape.depth,
                    requests: RedisPeer.gateRequests(shops: BenchOptions.loadShops),
                    response: .crlfs(RedisPeer.crlfsPerGate), warmupNs: warmupNs, durationNs: durationNs,
                    recordLatencies: shape != .pipelined))
                report.add("redis.\(name).\(shape.key)", "\(label), \(shape.label)", measured, latencies: shape != .pipelined, rate: true)
            }
        }
    }

    func redisExecutable() -> String? {
        if options.redisDisabled { return nil }
        if let path = options.redisPath { return path }
        return try? Machine.which("redis-server")
    }
}
