// One connection's loop: read what has arrived (one `read` may carry many pipelined frames),
// answer every complete frame in order, and send all the replies with one `write`, once the
// log has made the batch's writes durable (Connection+Durability.swift).
import Dispatch
import Glibc
import Synchronization
import TokenGateClock
import TokenGateCore
import TokenGateStore
import TokenGateWire

/// The last method a connection called, with its metrics series: a worker's connection calls
/// the same method again and again, and the two lookups by path (method table, metrics) hashed
/// the path on every call.
struct LastMethod {
    /// Nil until the first call.
    var path: String?
    /// Nil for a path the method table does not know.
    var method: Method?
    var series: MethodMetrics?
}

/// A connection's batch of reply frames, kept between batches so that a worker's steady stream
/// of calls allocates no buffer.
struct ReplyBuffers {
    /// A buffer that grew past this (a large report, a deep pipeline) is freed after its batch.
    static let keptBytesMax = 64 << 10

    /// The batch's reply frames, in call order, as they will be written.
    var out: [UInt8] = []
    /// The replies in `out` that may be sent only once the log has made their write durable.
    var durable: [DurableReply] = []

    /// Adds one reply frame to the batch.
    mutating func append(_ response: ResponseEnvelope, durableAt sequence: UInt64?) {
        let start = out.count
        response.appendFrame(to: &out)
        if let sequence { durable.append(DurableReply(frame: start..<out.count, callID: response.callID, sequence: sequence)) }
    }

    /// Empties the batch, keeping the buffer unless it grew large.
    mutating func reset() {
        if out.capacity > Self.keptBytesMax {
            out = []
        } else {
            out.removeAll(keepingCapacity: true)
        }
        if !durable.isEmpty { durable.removeAll(keepingCapacity: true) }
    }
}

struct ConnectionLoop {
    let server: Server
    let fd: Int32
    let peer: PeerCredentials?
    let writer: ConnectionWriter
    /// Held while a batch of replies is with the log, waiting to be sent (`flushReplies`).
    let batchWithLog = DispatchSemaphore(value: 1)
    // Values of the loop, not objects: a class's stored properties cost a run-time exclusivity
    // check on every access (about 80 instructions each).
    var lastMethod = LastMethod()
    var buffers = ReplyBuffers()

    init(server: Server, fd: Int32, peer: PeerCredentials?) {
        self.server = server
        self.fd = fd
        self.peer = peer
        self.writer = ConnectionWriter(fd: fd, queuedBytesMax: server.configuration.limits.queuedReplyBytesMax)
    }

    /// First read buffer of a connection: a few requests' worth, so 1,000 idle connections
    /// cost little memory.
    static let initialChunkBytes = 4_096

    private var limits: ServerLimits { server.configuration.limits }

    mutating func run() {
        defer {
            // The replies with the log go out before the connection closes. (A semaphore must
            // be back at its initial value when it is freed.)
            batchWithLog.wait()
            batchWithLog.signal()
            writer.close()
        }
        var reader = FrameReader(frameBytesMax: limits.requestFrameBytesMax)
        // Idle connections keep a small buffer; one that fills it grows it to the full chunk.
        var chunk = [UInt8](repeating: 0, count: min(Self.initialChunkBytes, limits.readChunkBytes))
        var waitingForRestOfFrame = false
        do {
            try UnixSocket.setReceiveTimeout(fd, milliseconds: limits.idleTimeoutMs)
            try UnixSocket.setSendTimeout(fd, milliseconds: limits.writeTimeoutMs)
            while true {
                let count = try UnixSocket.read(fd, into: &chunk)
                if count == 0 { return }
                reader.append(chunk[0..<count])
                if count == chunk.count && chunk.count < limits.readChunkBytes {
                    chunk = [UInt8](repeating: 0, count: limits.readChunkBytes)
                }
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
    private mutating func answerBufferedFrames(_ reader: inout FrameReader) throws -> Bool {
        while true {
            defer { buffers.reset() }
            var calls = 0
            let batchStartMs = MonotonicClock.milliseconds()
            do throws(FrameError) {
                while calls < limits.callsInFlightPerConnectionMax, let frame = try reader.nextFrameSlice() {
                    calls += 1
                    guard let (response, sequence) = answer(frame, batchStartMs: batchStartMs) else { continue }
                    buffers.append(response, durableAt: sequence)
                }
            } catch {
                if case .tooLarge(let length, let limit) = error {
                    let status = TokenGateError(.resourceExhausted, "frame of \(length) bytes is over the limit of \(limit) bytes; closing the connection")
                    buffers.append(Server.errorEnvelope(callID: 0, status), durableAt: nil)
                }
                try flushReplies()
                return false
            }
            if calls == 0 { return true }
            try flushReplies()
            if calls < limits.callsInFlightPerConnectionMax { return true }
        }
    }

    /// Decodes one request frame and answers it; never throws (every failure is a status).
    /// Returns nil when a streaming handler answered through its stream.
    private mutating func answer(_ frame: ArraySlice<UInt8>, batchStartMs: Int64) -> (ResponseEnvelope, UInt64?)? {
        let startNanoseconds = MonotonicClock.nanoseconds()
        let request: RequestEnvelope
        do {
            request = try RequestEnvelope.decode(frame)
        } catch {
            server.service.metrics.undecodableFrames.add()
            return (Server.errorEnvelope(callID: 0, error), nil)
        }
        if request.method != lastMethod.path {
            lastMethod.path = request.method
            lastMethod.method = server.methods[request.method]
            lastMethod.series = server.service.metrics.series(path: request.method)
        }
        let answer = answer(request, batchStartMs: batchStartMs)
        if let series = lastMethod.series {
            server.service.metrics.recordCall(series, statusCode: answer?.0.statusCode ?? 0, since: startNanoseconds)
        }
        return answer
    }

    /// Answers one decoded request; nil when a streaming handler answered through its stream.
    private func answer(_ request: RequestEnvelope, batchStartMs: Int64) -> (ResponseEnvelope, UInt64?)? {
        do throws(TokenGateError) {
            let output = try dispatch(request, batchStartMs: batchStartMs)
            if output.streamed { return nil }
            guard output.payload.count + 64 <= limits.responseFrameBytesMax else {
                throw TokenGateError(.internal, "response of \(output.payload.count) bytes is over the response frame limit")
            }
            let response = ResponseEnvelope(callID: request.callID, statusCode: 0, statusMessage: "", payload: output.payload, endOfStream: true)
            return (response, output.durableSequence)
        } catch {
            return (Server.errorEnvelope(callID: request.callID, error), nil)
        }
    }

    /// The generic checks, once for every method: known method, readiness, permission, deadline,
    /// load.
    private func dispatch(_ request: RequestEnvelope, batchStartMs: Int64) throws(TokenGateError) -> HandlerOutput {
        guard let method = lastMethod.method else {
            throw TokenGateError(.unimplemented, "unknown method '\(request.method)'")
        }
        if !method.flags.contains(.alwaysAvailable) {
            if server.isDraining { throw TokenGateError(.unavailable, "tokengated is shutting down; retry on the next daemon") }
            if !server.service.isReady { throw TokenGateError(.unavailable, "tokengated is still recovering; retry shortly") }
        }
        let isAdmin = method.flags.isDisjoint(with: [.admin, .partlyAdmin])
            ? false : (peer.map { server.configuration.adminUIDs.contains($0.uid) } ?? false)
        if method.flags.contains(.admin) {
            guard isAdmin else {
                throw TokenGateError(.permissionDenied, "\(request.method) is an admin method; uid \(peer.map { String($0.uid) } ?? "unknown") is not in the admin list")
            }
        }
        if request.deadlineMs > 0 && MonotonicClock.milliseconds() - batchStartMs >= Int64(request.deadlineMs) {
            throw TokenGateError(.deadlineExceeded, "deadline of \(request.deadlineMs) ms passed before the call could run")
        }
        let executing = server.executingCalls.add(1, ordering: .relaxed).newValue
        defer { server.executingCalls.subtract(1, ordering: .relaxed) }
        if executing > limits.callsExecutingMax {
            throw TokenGateError(.resourceExhausted, "tokengated is overloaded (\(limits.callsExecutingMax) calls executing); retry with backoff")
        }
        let context = CallContext(peer: peer, isAdmin: isAdmin, now: server.service.now(), callID: request.callID, writer: writer)
        return try method.handler(request.payload, context)
    }
}
