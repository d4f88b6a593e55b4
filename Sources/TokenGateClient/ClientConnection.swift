// One connection to tokengated carrying many concurrent calls: callers queue their frame and
// suspend (the first caller to find no write in progress writes every queued frame, so a burst
// of calls costs one syscall); a reader thread matches each response to its call by call id and
// resumes the caller. A call ends exactly once: by its response, its deadline (checked by the
// DeadlineSweeper), cancellation, or the connection failing.
import Foundation
import Synchronization
import TokenGateCore
import TokenGateWire

final class ClientConnection: Sendable {
    typealias Outcome = Result<ResponseEnvelope, TokenGateError>

    /// Responses can be large (reports, exports); this bounds what one frame may make us buffer.
    static let responseFrameBytesMax = 16 << 20
    static let readChunkBytes = 64 << 10

    /// A call waiting for its response. Its continuation is unchecked (the checked kind cost
    /// about 2,000 instructions per call): every resume happens after the call was taken out of
    /// `pending` under the lock, or instead of putting it there, so it happens exactly once.
    private struct PendingCall {
        var continuation: UnsafeContinuation<Outcome, Never>
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
        let callID = state.withLock { state in
            defer { state.nextCallID &+= 1 }
            return state.nextCallID
        }
        let deadlineNs = timeoutMs > 0 ? Self.monotonicNs() + UInt64(timeoutMs) * 1_000_000 : 0
        return await withTaskCancellationHandler {
            await withUnsafeContinuation { (continuation: UnsafeContinuation<Outcome, Never>) in
                let registered = state.withLock { state -> TokenGateError? in
                    if let failure = state.failure { return failure }
                    state.pending[callID] = PendingCall(continuation: continuation, deadlineNs: deadlineNs, timeoutMs: timeoutMs)
                    if deadlineNs > 0 { state.earliestDeadlineNs = min(state.earliestDeadlineNs, deadlineNs) }
                    return nil
                }
                if let failure = registered {
                    continuation.resume(returning: .failure(failure))
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
        } onCancel: {
            finish(callID, .failure(TokenGateError(.cancelled, "the calling task was cancelled")))
        }
    }

    /// Fails every call in flight and every later one; wakes the reader so it closes the socket.
    func fail(_ error: TokenGateError) {
        let pending = state.withLock { state in
            if state.failure == nil { state.failure = error }
            defer { state.pending = [:] }
            return state.pending
        }
        for call in pending.values { call.continuation.resume(returning: .failure(error)) }
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
            call.continuation.resume(returning: .failure(TokenGateError(.deadlineExceeded, "no answer within \(call.timeoutMs) ms")))
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

    private func finish(_ callID: UInt64, _ outcome: Outcome) {
        let call = state.withLock { $0.pending.removeValue(forKey: callID) }
        call?.continuation.resume(returning: outcome)
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
                    finish(response.callID, .success(response))
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
