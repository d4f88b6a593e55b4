// The Swift face of the C load generator (CBenchFloor): raw read/write clients for the echo
// floor and for Redis. This is the benchmark's only file that hands Swift buffers to C.
// Ownership: `requests` is borrowed by `bench_run_load` only while it runs; the latency array it
// returns is copied into a Swift array and freed with `bench_result_free` before returning.
import CBenchFloor

enum RawLoad {
    enum ResponseShape {
        /// Exactly this many bytes per response.
        case fixed(bytes: Int)
        /// Redis: this many CRLFs end one response.
        case crlfs(Int)
    }

    struct Spec {
        var socketPath: String
        var connections: Int
        /// Requests in flight per connection (1 = sequential).
        var depth: Int
        /// Request variants, all of the same length, cycled per connection.
        var requests: [[UInt8]]
        var response: ResponseShape
        var warmupNs: UInt64
        var durationNs: UInt64
        var recordLatencies: Bool
    }

    /// Runs the load on C threads and blocks until it has finished.
    static func run(_ spec: Spec) throws -> Measurement {
        guard let first = spec.requests.first, spec.requests.allSatisfy({ $0.count == first.count }) else {
            throw BenchError("raw load needs request variants of one length")
        }
        let flat = spec.requests.flatMap { $0 }
        let outcome: Result<Measurement, BenchError> = spec.socketPath.withCString { path in
            flat.withUnsafeBufferPointer { requests in
                var load = makeLoad(spec, requestBytes: first.count)
                load.path = path
                load.requests = requests.baseAddress
                var result = bench_result()
                let status = bench_run_load(&load, &result)
                defer { bench_result_free(&result) }
                if status != 0 { return .failure(BenchError("raw load on \(spec.socketPath) failed: errno \(status)")) }
                var latencies: [UInt64] = []
                if let base = result.latencies_ns {
                    latencies = Array(UnsafeBufferPointer(start: base, count: Int(result.latency_count)))
                }
                return .success(Measurement(calls: result.calls, elapsedNs: result.elapsed_ns, latenciesNs: latencies))
            }
        }
        return try outcome.get()
    }

    /// The C description of `spec`, without its pointers.
    private static func makeLoad(_ spec: Spec, requestBytes: Int) -> bench_load {
        var load = bench_load()
        load.connections = Int32(spec.connections)
        load.depth = Int32(spec.depth)
        load.request_bytes = Int32(requestBytes)
        load.variant_count = Int32(spec.requests.count)
        switch spec.response {
        case .fixed(let bytes):
            load.response_kind = Int32(BENCH_RESPONSE_FIXED.rawValue)
            load.response_bytes = Int32(bytes)
        case .crlfs(let count):
            load.response_kind = Int32(BENCH_RESPONSE_CRLF.rawValue)
            load.response_crlfs = Int32(count)
        }
        load.warmup_ns = spec.warmupNs
        load.duration_ns = spec.durationNs
        load.record_latencies = spec.recordLatencies ? 1 : 0
        return load
    }

    /// The echo server role of this binary: serves until killed.
    static func serveEcho(socketPath: String, epoll: Bool, requestBytes: Int, responseBytes: Int) -> Never {
        let status = bench_echo_serve(socketPath, epoll ? 1 : 0, Int32(requestBytes), Int32(responseBytes))
        fail("echo server on \(socketPath) stopped: errno \(status)")
    }
}
