// The pinned-client role of this binary: started under `taskset -c 0` by the benchmark, it
// alternates slices of a sequential raw echo (the floor) and sequential CanMakeRequest through
// the client library, so both see the same machine, and prints both percentiles as one JSON line.
import Foundation
import TokenGateClient

enum PinnedClient {
    static let usage = "--pinned-client ECHO_SOCKET GATE_SOCKET REQUEST_BYTES RESPONSE_BYTES PHASE_MS WARMUP_MS SLICES"

    static func run(_ arguments: [String]) async -> Never {
        guard arguments.count == 7, let requestBytes = Int(arguments[2]), let responseBytes = Int(arguments[3]),
            let phaseMs = UInt64(arguments[4]), let warmupMs = UInt64(arguments[5]), let slices = UInt64(arguments[6]), slices > 0
        else { fail(usage) }
        let sliceNs = phaseMs * 1_000_000 / slices
        let warmupNs = warmupMs * 1_000_000
        let workload = Workload(shopCount: BenchOptions.loadShops)
        var floor = Measurement(calls: 0, elapsedNs: 0, latenciesNs: [])
        var gate = Measurement(calls: 0, elapsedNs: 0, latenciesNs: [])
        do {
            for _ in 0..<slices {
                floor.merge(try RawLoad.run(RawLoad.Spec(
                    socketPath: arguments[0], connections: 1, depth: 1, requests: [[UInt8](repeating: 0x2a, count: requestBytes)],
                    response: .fixed(bytes: responseBytes), warmupNs: warmupNs, durationNs: sliceNs, recordLatencies: true)))
                gate.merge(try await GateLoad.run(
                    socketPath: arguments[1], connections: 1, inFlight: 1, warmupNs: warmupNs, durationNs: sliceNs,
                    recordLatencies: true
                ) { client, worker, call throws(TokenGateError) in
                    _ = try await client.canMakeRequest(workload.canMakeRequest(worker: worker, call: call))
                })
            }
        } catch {
            fail("pinned client: \(error)")
        }
        let f = floor.percentilesUs
        let g = gate.percentilesUs
        print("{\"floor_p50_us\": \(f.p50 ?? 0), \"floor_p99_us\": \(f.p99 ?? 0), \"gate_p50_us\": \(g.p50 ?? 0), \"gate_p99_us\": \(g.p99 ?? 0)}")
        exit(0)
    }
}
