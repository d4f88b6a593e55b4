// One connection's loop: read what has arrived (one `read` may carry many pipelined frames),
// answer every complete frame in order, wait once for the log to make the batch's writes
// durable, and send all the replies with one `write`.
import TokenGateCore
import TokenGateStore
import TokenGateWire

struct ConnectionLoop {
    let server: Server
    let fd: Int32
    let peer: PeerCredentials?

    private var limits: ServerLimits { server.configuration.limits }

    func run() {
        var reader = FrameReader(frameBytesMax: limits.requestFrameBytesMax)
        var chunk = [UInt8](repeating: 0, count: limits.readChunkBytes)
        var waitingForRestOfFrame = false
        do {
            try UnixSocket.setReceiveTimeout(fd, milliseconds: limits.idleTimeoutMs)
            while true {
                let count = try UnixSocket.read(fd, into: &chunk)
                if count == 0 { return }
                reader.append(chunk[0..<count])
                if try !answerBufferedFrames(&reader) { return }
                let partial = reader.bufferedByteCount > 0
                if partial != waitingForRestOfFrame {
                    waitingForRestOfFrame = partial
                    try UnixSocket.setReceiveTimeout(fd, milliseconds: partial ? limits.frameReadTimeoutMs : limits.idleTimeoutMs)
                }
            }
        } catch let error as SocketError {
            if UnixSocket.isTimeout(error) {
                let what = waitingForRestOfFrame ? "a partial frame stalled" : "the connection was idle"
                server.logger.info("connection dropped: \(what)", ["peer_pid": "\(peer?.pid ?? 0)"])
            }
        } catch {
            server.logger.warning("connection ended", ["error": "\(error)"])
        }
    }

    /// Answers every complete frame in the reader, in batches of at most
    /// `callsInFlightPerConnectionMax`. Returns false when the connection must close.
    private func answerBufferedFrames(_ reader: inout FrameReader) throws -> Bool {
        while true {
            var out: [UInt8] = []
            var durableSequence: UInt64 = 0
            var calls = 0
            let batchStartMs = monotonicMs()
            do throws(FrameError) {
                while calls < limits.callsInFlightPerConnectionMax, let frame = try reader.nextFrameSlice() {
                    calls += 1
                    let (response, sequence) = answer(frame, batchStartMs: batchStartMs)
                    durableSequence = max(durableSequence, sequence ?? 0)
                    Framing.appendFrame(response.encoded(), to: &out)
                }
            } catch {
                if case .tooLarge(let length, let limit) = error {
                    let status = TokenGateError(.resourceExhausted, "frame of \(length) bytes is over the limit of \(limit) bytes; closing the connection")
                    Framing.appendFrame(Server.errorEnvelope(callID: 0, status).encoded(), to: &out)
                }
                try flush(out, durableSequence: durableSequence)
                return false
            }
            if calls == 0 { return true }
            try flush(out, durableSequence: durableSequence)
            if calls < limits.callsInFlightPerConnectionMax { return true }
        }
    }

    /// Waits for the batch's writes to be durable, then sends the replies. A log that can no
    /// longer make writes durable stops the daemon before anything is acknowledged.
    private func flush(_ out: [UInt8], durableSequence: UInt64) throws {
        guard !out.isEmpty else { return }
        if durableSequence > 0 {
            do {
                try server.ledger.waitUntilDurable(durableSequence)
            } catch {
                server.onFatal("write-ahead log failed; no further writes can be acknowledged: \(error)")
            }
        }
        try UnixSocket.writeAll(fd, out)
    }

    /// Decodes one request frame and answers it; never throws (every failure is a status).
    private func answer(_ frame: ArraySlice<UInt8>, batchStartMs: Int64) -> (ResponseEnvelope, UInt64?) {
        let request: RequestEnvelope
        do {
            request = try RequestEnvelope.decode(frame)
        } catch {
            return (Server.errorEnvelope(callID: 0, error), nil)
        }
        do throws(TokenGateError) {
            let output = try dispatch(request, batchStartMs: batchStartMs)
            guard output.payload.count + 64 <= limits.responseFrameBytesMax else {
                throw TokenGateError(.internal, "response of \(output.payload.count) bytes is over the response frame limit")
            }
            let response = ResponseEnvelope(callID: request.callID, statusCode: 0, statusMessage: "", payload: output.payload, endOfStream: true)
            return (response, output.durableSequence)
        } catch {
            return (Server.errorEnvelope(callID: request.callID, error), nil)
        }
    }

    /// The generic checks, once for every method: known method, readiness, permission, deadline.
    private func dispatch(_ request: RequestEnvelope, batchStartMs: Int64) throws(TokenGateError) -> HandlerOutput {
        guard let method = server.methods[request.method] else {
            throw TokenGateError(.unimplemented, "unknown method '\(request.method)'")
        }
        if !method.flags.contains(.alwaysAvailable) {
            if server.isDraining { throw TokenGateError(.unavailable, "tokengated is shutting down; retry on the next daemon") }
            if !server.service.isReady { throw TokenGateError(.unavailable, "tokengated is still recovering; retry shortly") }
        }
        if method.flags.contains(.admin) {
            guard let peer, server.configuration.adminUIDs.contains(peer.uid) else {
                throw TokenGateError(.permissionDenied, "\(request.method) is an admin method; uid \(peer.map { String($0.uid) } ?? "unknown") is not in the admin list")
            }
        }
        if request.deadlineMs > 0 && monotonicMs() - batchStartMs >= Int64(request.deadlineMs) {
            throw TokenGateError(.deadlineExceeded, "deadline of \(request.deadlineMs) ms passed before the call could run")
        }
        return try method.handler(request.payload, CallContext(peer: peer, now: server.service.now()))
    }
}
