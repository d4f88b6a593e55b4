// Roles for profiling under valgrind (callgrind counts instructions, which stays stable on a
// busy machine): the daemon's parts wired as tokengated does, but without `dispatchMain`
// (whose signal thread valgrind cannot run), and a fixed number of sequential calls from a
// plain thread. Not used by a benchmark run; see docs/performance.md, "Where the time goes".
import Foundation
import TokenGateClient
import TokenGateClock
import TokenGateServer
import TokenGateStore
import TokenGateWire

enum ProfileRoles {
    /// Serves on `socketPath` with a fresh ledger in `dataDirectory` until killed.
    static func serve(socketPath: String, dataDirectory: String) throws -> Never {
        let log = try WriteAheadLog(directory: dataDirectory, policy: .always)
        let encoding = FactEncoding(
                encode: FactCodec.encode, decode: { bytes in try FactCodec.decode(bytes) }, decodeUsage: FactCodec.decodeUsage)
        let ledger = Ledger(directory: dataDirectory, configuration: .defaults, log: log, encoding: encoding, bootID: "profile")
        _ = try ledger.recover(repair: false)
        let service = BudgetService(ledger: ledger, clock: SystemClock())
        service.isReady = true
        let server = Server(
            configuration: ServerConfiguration(socketPath: socketPath, adminUIDs: [getuid()]), service: service,
            ledger: ledger, logger: Logger(), onFatal: { message in fail(message) })
        try server.start()
        while true { sleep(3_600) }
    }

    /// Recovers `dataDirectory` as tokengated does at start (same codec, default shards) and
    /// prints the records replayed and the time it took, then exits without serving or writing
    /// a snapshot. For counting recovery's instructions under callgrind, whose signal handling
    /// `dispatchMain` breaks (so the daemon cannot be profiled to SERVING and stopped).
    static func recover(dataDirectory: String) -> Never {
        let started = MonotonicClock.nanoseconds()
        do {
            let log = try WriteAheadLog(directory: dataDirectory, policy: .never)
            let encoding = FactEncoding(
                encode: FactCodec.encode, decode: { bytes in try FactCodec.decode(bytes) }, decodeUsage: FactCodec.decodeUsage)
            let ledger = Ledger(directory: dataDirectory, configuration: .defaults, log: log, encoding: encoding, bootID: "profile")
            let recovery = try ledger.recover(repair: false)
            let elapsedMs = (MonotonicClock.nanoseconds() - started) / 1_000_000
            print("recovered \(recovery.snapshotFacts) snapshot facts and \(recovery.logRecords) log records in \(elapsedMs) ms")
        } catch {
            fail("recover: \(error)")
        }
        exit(0)
    }

    /// Makes `count` sequential CanMakeRequest calls (or LogUsage with `logUsage`) and exits.
    static func call(socketPath: String, count: Int, logUsage: Bool) -> Never {
        let done = DispatchSemaphore(value: 0)
        let client = TokenGateClient(socketPath: socketPath)
        Task(executorPreference: client.executor) {
            let workload = Workload(shopCount: BenchOptions.loadShops)
            do {
                for call in 0..<count {
                    if logUsage {
                        _ = try await client.logUsage(workload.logUsage(worker: 0, call: call, tag: 0x0f11_e000))
                    } else {
                        _ = try await client.canMakeRequest(workload.canMakeRequest(worker: 0, call: call))
                    }
                }
            } catch {
                fail("profile client: \(error)")
            }
            done.signal()
        }
        done.wait()
        exit(0)
    }

    /// Runs one load shape for `seconds` and prints the calls per second (for perf/strace).
    static func load(socketPath: String, logUsage: Bool, connections: Int, inFlight: Int, seconds: Double) async -> Never {
        let workload = Workload(shopCount: BenchOptions.loadShops)
        do {
            let measured = try await GateLoad.run(
                socketPath: socketPath, connections: connections, inFlight: inFlight, warmupNs: 100_000_000,
                durationNs: UInt64(seconds * 1e9), recordLatencies: false
            ) { client, worker, call throws(TokenGateError) in
                if logUsage {
                    _ = try await client.logUsage(workload.logUsage(worker: worker, call: call, tag: 0x10ad_0001))
                } else {
                    _ = try await client.canMakeRequest(workload.canMakeRequest(worker: worker, call: call))
                }
            }
            print("\(Int(measured.callsPerSecond)) calls/s (\(measured.calls) calls)")
        } catch {
            fail("load client: \(error)")
        }
        exit(0)
    }

    /// Drives an echo server (`--echo-server`) with the C load generator, for comparing the
    /// floor's system counters with `--load-client`'s.
    static func rawLoad(socketPath: String, connections: Int, depth: Int, requestBytes: Int, responseBytes: Int, seconds: Double) -> Never {
        runCLoad(RawLoad.Spec(
            socketPath: socketPath, connections: connections, depth: depth,
            requests: [[UInt8](repeating: 0x2a, count: requestBytes)], response: .fixed(bytes: responseBytes),
            warmupNs: 100_000_000, durationNs: UInt64(seconds * 1e9), recordLatencies: false), role: "raw load")
    }

    /// Runs the C load generator and prints its rate, then exits.
    private static func runCLoad(_ spec: RawLoad.Spec, role: String) -> Never {
        do {
            let measured = try RawLoad.run(spec)
            print("\(Int(measured.callsPerSecond)) calls/s (\(measured.calls) calls)")
        } catch {
            fail("\(role): \(error)")
        }
        exit(0)
    }

    /// Drives a running TokenGate with the C load generator (`--raw-load`'s) sending real
    /// CanMakeRequest frames, one in flight per connection: the daemon's share of the 64-connection
    /// figure, without the Swift client's. Every frame asks about another of the workload's
    /// shops; their answers must all be one size, which the generator counts by.
    static func rawGate(socketPath: String, connections: Int, seconds: Double) async -> Never {
        let workload = Workload(shopCount: BenchOptions.loadShops)
        let client = TokenGateClient(socketPath: socketPath)
        var frames: [[UInt8]] = []
        var responseBytes: Set<Int> = []
        do {
            for shop in 0..<BenchOptions.loadShops {
                let request = workload.canMakeRequest(worker: 0, call: shop)
                let response = try await client.canMakeRequest(request)
                let envelope = RequestEnvelope(callID: 1, method: MethodPath.canMakeRequest, deadlineMs: 2_000, payload: request.encoded())
                var frame: [UInt8] = []
                envelope.appendFrame(to: &frame)
                frames.append(frame)
                responseBytes.insert(ResponseEnvelope(callID: 1, payload: response.encoded(), endOfStream: true).encoded().count + 4)
            }
        } catch {
            fail("raw gate: \(error)")
        }
        client.close()
        guard responseBytes.count == 1, let size = responseBytes.first else {
            fail("raw gate: the answers differ in size (\(responseBytes.sorted()) bytes); the C generator counts fixed-size answers")
        }
        runCLoad(RawLoad.Spec(
            socketPath: socketPath, connections: connections, depth: 1, requests: frames, response: .fixed(bytes: size),
            warmupNs: 100_000_000, durationNs: UInt64(seconds * 1e9), recordLatencies: false), role: "raw gate")
    }
}
