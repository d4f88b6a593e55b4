// The other subjects: LogUsage through the client library under each fsync policy, and Redis
// doing the gate (the peer each TokenGate comparison alternates with), at the same three load
// shapes as the floor.
import Foundation
import TokenGateClient

extension BenchRun {
    /// LogUsage under each fsync policy; under `always` in alternating slices with Redis's
    /// fsync-always AOF, the comparison its target makes.
    func measureLogUsage() async throws {
        report.section("LogUsage through TokenGateClient, by fsync policy; always alternating with Redis appendfsync always")
        let workload = self.workload
        for policy in ["always", "everysec", "never"] {
            let (daemon, socket, _) = try await startDaemon(fsync: policy)
            defer { daemon.kill() }
            let redis = policy == "always" ? try startRedis(appendFsyncAlways: true) : nil
            defer { redis?.child.kill() }
            let logUsage = SliceSubject(key: "tg.log.\(policy)", label: { "LogUsage --fsync \(policy), \($0.label)" }) { shape, durationNs in
                // Every slice reports new events: a repeated event id takes the cheaper idempotent path.
                let tag = UInt32.random(in: 0...UInt32.max)
                return try await self.gateLoad(socket, shape, durationNs: durationNs) { client, worker, call throws(TokenGateError) in
                    _ = try await client.logUsage(workload.logUsage(worker: worker, call: call, tag: tag))
                }
            }
            try await measureAlternating([logUsage] + (redis.map { [$0.subject] } ?? []))
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

    /// Starts redis-server doing the gate (keys `redis.gate.*`, or `redis.aof_always.*` with an
    /// fsync-always AOF) as a subject to alternate with; nil, with a note in the report, when
    /// the peer is skipped or not installed.
    func startRedis(appendFsyncAlways aof: Bool) throws -> (child: Child, subject: SliceSubject)? {
        let key = aof ? "redis.aof_always" : "redis.gate"
        guard let executable = redisExecutable() else {
            let why = options.redisDisabled ? "skipped: --no-redis" : "redis-server not installed; scripts/bench.sh installs it"
            report.add(key + ".seq.calls_per_s", aof ? "Redis AOF always" : "Redis gate", nil, "/s", note: why)
            return nil
        }
        let runDirectory = fresh("redis")
        try FileManager.default.createDirectory(atPath: runDirectory, withIntermediateDirectories: true)
        let (server, socket) = try RedisPeer.start(executable: executable, directory: runDirectory, appendFsyncAlways: aof)
        let name = aof ? "Redis appendonly yes, appendfsync always" : "Redis without persistence"
        let subject = SliceSubject(key: key, label: { "\(name), \($0.label)" }) { shape, durationNs in
            try RawLoad.run(RawLoad.Spec(
                socketPath: socket, connections: shape.connections, depth: shape.depth,
                requests: RedisPeer.gateRequests(shops: BenchOptions.loadShops),
                response: .crlfs(RedisPeer.crlfsPerGate), warmupNs: self.warmupNs, durationNs: durationNs,
                recordLatencies: shape != .pipelined))
        }
        return (server, subject)
    }

    func redisExecutable() -> String? {
        if options.redisDisabled { return nil }
        if let path = options.redisPath { return path }
        return try? Machine.which("redis-server")
    }
}
