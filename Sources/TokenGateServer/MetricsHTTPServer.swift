// The HTTP metrics endpoint (`--metrics-listen ADDR:PORT`): one small thread that accepts a
// connection, reads one request head (bounded in bytes and in time), answers it from the same
// exposition text as GetMetrics and the metrics file, and closes. Prometheus scrapes a target
// every few seconds, so one request at a time is plenty; a peer that stalls holds the thread at
// most `metricsRequestTimeoutMs`.
import Foundation
import TokenGateClock
import TokenGateWire

public final class MetricsHTTPServer: Sendable {
    let fd: Int32
    /// Where it listens; the port is the one bound (when 0 was asked, the kernel's choice).
    public let address: MetricsListenAddress
    let limits: ServerLimits

    /// Binds the listening socket (so a bad address fails at start-up, before recovery).
    ///
    /// - Throws: `SocketError` when the address cannot be bound.
    public init(address: MetricsListenAddress, limits: ServerLimits) throws(SocketError) {
        fd = try TCPSocket.listen(host: address.host, port: address.port, backlog: limits.metricsListenBacklog)
        var bound = address
        bound.port = (try? TCPSocket.boundPort(fd)) ?? address.port
        self.address = bound
        self.limits = limits
    }

    /// Starts the accept thread; `serving` and `metrics` are read for each request.
    public func start(serving: @escaping @Sendable () -> Bool, metrics: @escaping @Sendable () -> String, logger: Logger) {
        let thread = Thread { [self] in
            while true {
                let client: Int32
                do {
                    client = try UnixSocket.accept(fd)
                } catch {
                    logger.warning("metrics endpoint: accept failed", ["error": "\(error)"])
                    usleep(100_000)
                    continue
                }
                answer(client, serving: serving, metrics: metrics)
                UnixSocket.close(client)
            }
        }
        thread.name = "tokengate-metrics-http"
        thread.start()
    }

    /// Reads one request head within the time and size limits, then writes the answer.
    private func answer(_ client: Int32, serving: () -> Bool, metrics: () -> String) {
        let headBytesMax = limits.metricsRequestBytesMax
        let giveUpAt = MonotonicClock.milliseconds() + Int64(limits.metricsRequestTimeoutMs)
        var received: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4_096)
        var parse = HTTPRequestParse.incomplete
        reading: while case .incomplete = parse {
            let leftMs = giveUpAt - MonotonicClock.milliseconds()
            guard leftMs > 0, (try? UnixSocket.waitReadable(client, timeoutMs: Int32(leftMs))) == true else { break reading }
            guard let count = try? UnixSocket.read(client, into: &chunk), count > 0 else { return }
            // Never keeps more than one byte past the limit: enough for the parser to say 431.
            received += chunk[..<min(count, headBytesMax + 1 - received.count)]
            parse = HTTPRequestParser.parse(received, headBytesMax: headBytesMax)
        }
        let response = HTTPResponse.forMetrics(parse, serving: serving(), metrics: metrics)
        try? UnixSocket.setSendTimeout(client, milliseconds: limits.metricsRequestTimeoutMs)
        try? UnixSocket.writeAll(client, response.bytes)
        if case .complete = parse { return }
        // A refused request may still be arriving (an oversized head): read and drop a bounded
        // amount of it before closing, else the kernel resets the connection and the peer may
        // lose the answer.
        UnixSocket.shutdownWrite(client)
        var dropped = 0
        let dropUntil = MonotonicClock.milliseconds() + Int64(limits.metricsRefusedDrainMs)
        while dropped < limits.metricsRefusedDrainBytesMax {
            let leftMs = dropUntil - MonotonicClock.milliseconds()
            guard leftMs > 0, (try? UnixSocket.waitReadable(client, timeoutMs: Int32(leftMs))) == true,
                  let count = try? UnixSocket.read(client, into: &chunk), count > 0
            else { return }
            dropped += count
        }
    }
}
