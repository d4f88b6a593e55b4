// One connection to tokengated carrying many concurrent calls: callers write their frame under
// a lock and suspend; a reader thread matches each response to its call by call id and resumes
// the caller. A call ends exactly once: by its response, its deadline, cancellation, or the
// connection failing.
import Dispatch
import Foundation
import Synchronization
import TokenGateCore
import TokenGateWire

final class ClientConnection: Sendable {
    typealias Outcome = Result<ResponseEnvelope, TokenGateError>

    /// Responses can be large (reports, exports); this bounds what one frame may make us buffer.
    static let responseFrameBytesMax = 16 << 20
    static let readChunkBytes = 64 << 10

    /// A call waiting for its answer: one response, or a stream of them.
    private enum Waiter {
        case unary(CheckedContinuation<Outcome, Never>)
        case stream(AsyncThrowingStream<ResponseEnvelope, any Error>.Continuation)

        func end(_ outcome: Outcome) {
            switch self {
            case .unary(let continuation):
                continuation.resume(returning: outcome)
            case .stream(let continuation):
                switch outcome {
                case .success(let envelope): continuation.yield(envelope); continuation.finish()
                case .failure(let error): continuation.finish(throwing: error)
                }
            }
        }
    }

    private struct State {
        var pending: [UInt64: Waiter] = [:]
        var nextCallID: UInt64 = 1
        var failure: TokenGateError?
    }

    private let fd: Int32
    private let state = Mutex(State())
    private let writeLock = Mutex(())

    init(socketPath: String) throws(TokenGateError) {
        do {
            fd = try UnixSocket.connect(path: socketPath)
        } catch {
            throw TokenGateError(.unavailable, "cannot connect to tokengated at \(socketPath): \(error) (is the daemon running?)")
        }
        let thread = Thread { [self] in readLoop() }
        thread.name = "tokengate-client-reader"
        thread.start()
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

    private func nextCallID() -> UInt64 {
        state.withLock { state in
            defer { state.nextCallID &+= 1 }
            return state.nextCallID
        }
    }

    /// Registers the waiter, writes the request frame and arms the local deadline.
    private func start(_ callID: UInt64, _ waiter: Waiter, method: String, payload: [UInt8], timeoutMs: UInt32) {
        let refused = state.withLock { state -> TokenGateError? in
            if let failure = state.failure { return failure }
            state.pending[callID] = waiter
            return nil
        }
        if let refused {
            waiter.end(.failure(refused))
            return
        }
        var frame: [UInt8] = []
        let envelope = RequestEnvelope(callID: callID, method: method, deadlineMs: timeoutMs, payload: payload)
        Framing.appendFrame(envelope.encoded(), to: &frame)
        do {
            try writeLock.withLock { _ throws(SocketError) in try UnixSocket.writeAll(fd, frame) }
        } catch {
            fail(TokenGateError(.unavailable, "connection to tokengated lost while sending: \(error)"))
            return
        }
        if timeoutMs > 0 {
            DispatchQueue.global().asyncAfter(deadline: .now() + .milliseconds(Int(timeoutMs))) { [self] in
                finish(callID, .failure(TokenGateError(.deadlineExceeded, "no answer within \(timeoutMs) ms")))
            }
        }
    }

    /// Fails every call in flight and every later one; wakes the reader so it closes the socket.
    func fail(_ error: TokenGateError) {
        let pending = state.withLock { state in
            if state.failure == nil { state.failure = error }
            defer { state.pending = [:] }
            return state.pending
        }
        for waiter in pending.values { waiter.end(.failure(error)) }
        UnixSocket.shutdown(fd)
    }

    // MARK: - Private

    private func finish(_ callID: UInt64, _ outcome: Outcome) {
        let waiter = state.withLock { $0.pending.removeValue(forKey: callID) }
        waiter?.end(outcome)
    }

    /// Routes one response frame to its call: a unary call ends; a stream yields the frame
    /// and ends at end_of_stream or on an error status.
    private func deliver(_ response: ResponseEnvelope) {
        let waiter = state.withLock { state -> Waiter? in
            guard let waiter = state.pending[response.callID] else { return nil }
            if case .stream = waiter, response.statusCode == 0, !response.endOfStream { return waiter }
            return state.pending.removeValue(forKey: response.callID)
        }
        guard let waiter else { return }
        if case .stream(let continuation) = waiter {
            if response.statusCode != 0 {
                continuation.finish(throwing: TokenGateError(StatusCode(rawValue: response.statusCode) ?? .unknown, response.statusMessage))
                return
            }
            continuation.yield(response)
            if response.endOfStream { continuation.finish() }
        } else {
            waiter.end(.success(response))
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
                while let frame = try reader.nextFrame() {
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
