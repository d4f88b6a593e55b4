// The pinned-client role of this binary: started under `taskset -c 0` by the benchmark, it
// runs one sequential load (raw echo or CanMakeRequest through the client library) and prints
// its percentiles as one JSON line.
import Foundation
import TokenGateClient

enum PinnedClient {
    /// Arguments: floor|tokengate SOCKET REQUEST_BYTES RESPONSE_BYTES PHASE_MS WARMUP_MS.
    static func run(_ arguments: [String]) async -> Never {
        guard arguments.count == 6, let requestBytes = Int(arguments[2]), let responseBytes = Int(arguments[3]),
            let phaseMs = UInt64(arguments[4]), let warmupMs = UInt64(arguments[5])
        else { fail("--pinned-client floor|tokengate SOCKET REQUEST_BYTES RESPONSE_BYTES PHASE_MS WARMUP_MS") }
        let socket = arguments[1]
        let measured: Measurement
        do {
            if arguments[0] == "floor" {
                measured = try RawLoad.run(RawLoad.Spec(
                    socketPath: socket, connections: 1, depth: 1, requests: [[UInt8](repeating: 0x2a, count: requestBytes)],
                    response: .fixed(bytes: responseBytes), warmupNs: warmupMs * 1_000_000, durationNs: phaseMs * 1_000_000,
                    recordLatencies: true))
            } else {
                let workload = Workload(shopCount: BenchOptions.loadShops, runTag: "pinned")
                measured = try await GateLoad.run(
                    socketPath: socket, connections: 1, inFlight: 1, warmupNs: warmupMs * 1_000_000,
                    durationNs: phaseMs * 1_000_000, recordLatencies: true
                ) { client, worker, call throws(TokenGateError) in
                    _ = try await client.canMakeRequest(workload.canMakeRequest(worker: worker, call: call))
                }
            }
        } catch {
            fail("pinned client: \(error)")
        }
        let p = measured.percentilesUs
        print("{\"p50_us\": \(p.p50 ?? 0), \"p99_us\": \(p.p99 ?? 0), \"calls_per_s\": \(measured.callsPerSecond), \"calls\": \(Double(measured.calls))}")
        exit(0)
    }
}
