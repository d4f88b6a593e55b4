// One connection to tokengated carrying many concurrent calls: callers queue their frame and
// suspend (the first caller to find no write in progress writes every queued frame, so a burst
// of calls costs one syscall); a reader thread matches each response to its call by call id and
// resumes the caller. A unary call ends exactly once: by its response, its deadline (checked by
// the DeadlineSweeper), cancellation, or the connection failing; a server-streaming call yields
// every frame of its call id until end_of_stream or an error status.
import Foundation
import Synchronization
import TokenGateCore
import TokenGateWire

final class ClientConnection: Sendable {
    typealias Outcome = Result<ResponseEnvelope, TokenGateError>

    /// Responses can be large (reports, exports); this bounds what one frame may make us buffer.
    static let responseFrameBytesMax = 16 << 20
    static let readChunkBytes = 64 << 10

    /// Who waits for a call's answer: one response, or a stream of them.
    private enum Waiter {
        case unary(CheckedContinuation<Outcome, Never>)
        case stream(AsyncThrowingStream<ResponseEnvelope, any Error>.Continuation)

        func end(_ outcome: Outcome) {
            switch self {
            case .unary(let continuation):
                continuation.resume(returning: outcome)
            case .stream(let continuation):
                switch outcome {
                case .success(let envelope):
                    continuation.yield(envelope)
                    continuation.finish()
                case .failure(let error):
                    continuation.finish(throwing: error)
                }
            }
        }
    }

    /// A call waiting for its answer.
    private struct PendingCall {
        var waiter: Waiter
        /// CLOCK_MONOTONIC ns after which the call fails with DEADLINE_EXCEEDED; 0 = none.
        var deadlineNs: UInt64
        var timeoutMs: UInt32
    }

    private struct State {
        var pending: [UInt64: PendingCall] = [:]
        var nextCallID: UInt64 = 1
        var failure: TokenGateError?
        /// No pending deadline is earlier than this (it may be stale-low after calls end).
        var earliestDeadlineNs = UInt64.max
    }

    /// Frames waiting to be written, and whether a caller is writing them now.
    private struct Outbox {
        var bytes: [UInt8] = []
        var writing = false
    }

    private let fd: Int32
    private let state = Mutex(State())
    private let outbox = Mutex(Outbox())

    init(socketPath: String) throws(TokenGateError) {
        do {
            fd = try UnixSocket.connect(path: socketPath)
        } catch {
            throw TokenGateError(.unavailable, "cannot connect to tokengated at \(socketPath): \(error) (is the daemon running?)")
        }
        let thread = Thread { [self] in readLoop() }
        thread.name = "tokengate-client-reader"
        thread.start()
        DeadlineSweeper.shared.register(self)
    }

    var isUsable: Bool { state.withLock { $0.failure == nil } }

    /// Sends one call and waits for its outcome; `timeoutMs` 0 means no deadline.
    func call(method: String, payload: [UInt8], timeoutMs: UInt32) async -> Outcome {
        let callID = nextCallID()
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Outcome, Never>) in
                start(callID, .unary(continuation), method: method, payload: payload, timeoutMs: timeoutMs)
            }
        } onCancel: {
            finish(callID, .failure(TokenGateError(.cancelled, "the calling task was cancelled")))
        }
    }

    /// Sends one server-streaming call; the stream yields every response frame of the call
    /// (the last one carries end_of_stream) and throws the call's error status.
    func stream(method: String, payload: [UInt8], timeoutMs: UInt32) -> AsyncThrowingStream<ResponseEnvelope, any Error> {
        let callID = nextCallID()
        let (stream, continuation) = AsyncThrowingStream<ResponseEnvelope, any Error>.makeStream()
        continuation.onTermination = { [self] _ in
            finish(callID, .failure(TokenGateError(.cancelled, "the stream's consumer stopped")))
        }
        start(callID, .stream(continuation), method: method, payload: payload, timeoutMs: timeoutMs)
        return stream
    }

    /// Fails every call in flight and every later one; wakes the reader so it closes the socket.
    func fail(_ error: TokenGateError) {
        let pending = state.withLock { state in
            if state.failure == nil { state.failure = error }
            defer { state.pending = [:] }
            return state.pending
        }
        for call in pending.values { call.waiter.end(.failure(error)) }
        UnixSocket.shutdown(fd)
    }

    /// Fails the calls whose deadline is at or before `now` with DEADLINE_EXCEEDED (called by
    /// the DeadlineSweeper). Returns true when calls with a deadline are still pending.
    func expireDeadlines(now: UInt64) -> Bool {
        let (expired, stillPending) = state.withLock { state -> ([PendingCall], Bool) in
            guard state.earliestDeadlineNs <= now else { return ([], state.earliestDeadlineNs != .max) }
            var expired: [PendingCall] = []
            var earliest = UInt64.max
            for (callID, call) in state.pending where call.deadlineNs > 0 {
                if call.deadlineNs <= now {
                    expired.append(call)
                    state.pending.removeValue(forKey: callID)
                } else {
                    earliest = min(earliest, call.deadlineNs)
                }
            }
            state.earliestDeadlineNs = earliest
            return (expired, earliest != .max)
        }
        for call in expired {
            call.waiter.end(.failure(TokenGateError(.deadlineExceeded, "no answer within \(call.timeoutMs) ms")))
        }
        return stillPending
    }

    /// CLOCK_MONOTONIC in nanoseconds.
    static func monotonicNs() -> UInt64 {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        return UInt64(spec.tv_sec) * 1_000_000_000 + UInt64(spec.tv_nsec)
    }

    // MARK: - Private

    private func nextCallID() -> UInt64 {
        state.withLock { state in
            defer { state.nextCallID &+= 1 }
            return state.nextCallID
        }
    }

    /// Registers the waiter with its deadline, then writes the request frame.
    private func start(_ callID: UInt64, _ waiter: Waiter, method: String, payload: [UInt8], timeoutMs: UInt32) {
        let deadlineNs = timeoutMs > 0 ? Self.monotonicNs() + UInt64(timeoutMs) * 1_000_000 : 0
        let refused = state.withLock { state -> TokenGateError? in
            if let failure = state.failure { return failure }
            state.pending[callID] = PendingCall(waiter: waiter, deadlineNs: deadlineNs, timeoutMs: timeoutMs)
            if deadlineNs > 0 { state.earliestDeadlineNs = min(state.earliestDeadlineNs, deadlineNs) }
            return nil
        }
        if let refused {
            waiter.end(.failure(refused))
            return
        }
        if deadlineNs > 0 { DeadlineSweeper.shared.noteDeadline() }
        var frame: [UInt8] = []
        RequestEnvelope(callID: callID, method: method, deadlineMs: timeoutMs, payload: payload).appendFrame(to: &frame)
        do {
            try send(frame)
        } catch {
            fail(TokenGateError(.unavailable, "connection to tokengated lost while sending: \(error)"))
        }
    }

    private func finish(_ callID: UInt64, _ outcome: Outcome) {
        let call = state.withLock { $0.pending.removeValue(forKey: callID) }
        call?.waiter.end(outcome)
    }

    /// Routes one response frame to its call: a unary call ends; a stream yields the frame
    /// and ends at end_of_stream or on an error status.
    private func deliver(_ response: ResponseEnvelope) {
        let call = state.withLock { state -> PendingCall? in
            guard let call = state.pending[response.callID] else { return nil }
            if case .stream = call.waiter, response.statusCode == 0, !response.endOfStream { return call }
            return state.pending.removeValue(forKey: response.callID)
        }
        guard let call else { return }
        guard case .stream(let continuation) = call.waiter else {
            call.waiter.end(.success(response))
            return
        }
        if response.statusCode != 0 {
            continuation.finish(throwing: TokenGateError(StatusCode(rawValue: response.statusCode) ?? .unknown, response.statusMessage))
            return
        }
        continuation.yield(response)
        if response.endOfStream { continuation.finish() }
    }

    /// Writes `frame`, or queues it when another caller is writing: that caller writes every
    /// queued frame before it stops, so no frame waits for a later call.
    private func send(_ frame: [UInt8]) throws(SocketError) {
        var batch: [UInt8]? = outbox.withLock { outbox in
            if outbox.writing {
                outbox.bytes += frame
                return nil
            }
            outbox.writing = true
            return frame
        }
        while let bytes = batch {
            do {
                try UnixSocket.writeAll(fd, bytes)
            } catch {
                outbox.withLock { $0 = Outbox() }
                throw error
            }
            batch = outbox.withLock { outbox in
                guard !outbox.bytes.isEmpty else {
                    outbox.writing = false
                    return nil
                }
                defer { outbox.bytes = [] }
                return outbox.bytes
            }
        }
    }

    private func readLoop() {
        var reader = FrameReader(frameBytesMax: Self.responseFrameBytesMax)
        var chunk = [UInt8](repeating: 0, count: Self.readChunkBytes)
        var failure = TokenGateError(.unavailable, "tokengated closed the connection")
        readLoop: while true {
            do {
                let count = try UnixSocket.read(fd, into: &chunk)
                if count == 0 { break }
                reader.append(chunk[0..<count])
                while let frame = try reader.nextFrameSlice() {
                    let response = try ResponseEnvelope.decode(frame)
                    if response.callID == 0 && response.statusCode != 0 {
                        // A connection-level refusal (limit reached, oversized frame): fails everything.
                        failure = TokenGateError(StatusCode(rawValue: response.statusCode) ?? .unknown, response.statusMessage)
                        break readLoop
                    }
                    deliver(response)
                }
            } catch {
                failure = TokenGateError(.unavailable, "connection to tokengated failed: \(error)")
                break
            }
        }
        fail(failure)
        UnixSocket.close(fd)
    }
}
