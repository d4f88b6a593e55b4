// One connection to tokengated carrying many concurrent calls: callers queue their frame, and
// the first caller to find no write in progress writes every queued frame, so a burst of calls
// costs one syscall. When other calls are in flight on the connection (other tasks are likely
// about to send), that writer first yields once so their frames join its write: with 32 calls
// in flight this cut the client's sendto calls from one per call to about one per batch, while a
// lone sequential caller still writes at once. A reader thread matches each response to its
// call by call id and resumes the caller. A unary call ends exactly once: by its response, its
// deadline (checked by the DeadlineSweeper), cancellation, or the connection failing; an
// outcome that comes before the caller has suspended is kept in its pending entry until then.
// A server-streaming call yields every frame of its call id until end_of_stream or an error.
import Foundation
import Synchronization
import TokenGateClock
import TokenGateCore
import TokenGateWire

final class ClientConnection: Sendable {
    typealias Outcome = Result<ResponseEnvelope, TokenGateError>

    /// Responses can be large (reports, exports); this bounds what one frame may make us buffer.
    static let responseFrameBytesMax = 16 << 20
    static let readChunkBytes = 64 << 10

    /// Who waits for a call's answer: one response, or a stream of them. Unary callers wait on
    /// an unchecked continuation: it is resumed only by whoever removes the call from the
    /// pending table (or `early`) under the state lock, so exactly once, and it is a frozen type
    /// whose enum cases the compiler lays out itself (a checked one cost runtime enum calls).
    private enum Waiter {
        /// A unary caller that has sent but not yet suspended.
        case suspending
        case unary(UnsafeContinuation<Outcome, Never>)
        case stream(StreamSink)

        var isSuspending: Bool {
            if case .suspending = self { return true }
            return false
        }

        func end(_ outcome: Outcome) {
            switch self {
            case .suspending:
                preconditionFailure("an outcome for a caller not yet suspended is kept in State.early")
            case .unary(let continuation):
                continuation.resume(returning: outcome)
            case .stream(let sink):
                let continuation = sink.continuation
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

    /// A streaming call's continuation, boxed: its type comes from the Concurrency library,
    /// whose layouts are known only at run time, and held inline it made every copy of a
    /// `Waiter` (several per unary call) go through the runtime's generic enum functions.
    private final class StreamSink: Sendable {
        let continuation: AsyncThrowingStream<ResponseEnvelope, any Error>.Continuation
        init(_ continuation: AsyncThrowingStream<ResponseEnvelope, any Error>.Continuation) {
            self.continuation = continuation
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
        var pending = CallTable<PendingCall>()
        var failure: TokenGateError?
        /// No pending deadline is earlier than this (it may be stale-low after calls end).
        var earliestDeadlineNs = UInt64.max
        /// Outcomes of unary calls that ended before their caller suspended; the caller takes
        /// its outcome from here when it does. Apart from `pending`, so the usual path never
        /// touches them.
        var early: [UInt64: Outcome] = [:]

        /// Ends a call whose caller has not suspended yet: its outcome waits in `early`.
        mutating func keepEarly(_ callID: UInt64, _ outcome: Outcome) {
            pending.removeValue(forKey: callID)
            early[callID] = outcome
        }
    }

    /// Frames waiting to be written, and whether a caller is writing them now.
    private struct Outbox {
        var bytes: [UInt8] = []
        var writing = false
    }

    private let fd: Int32
    private let state = Mutex(State())
    private let outbox = Mutex(Outbox())
    private let callIDs = Atomic<UInt64>(1)
    private let executor: ReaderExecutor
    /// Set when a caller on the reader thread became the writer and left its frame (and those
    /// queued behind it) for the reader to write.
    private let readerOwesWrite = Atomic(false)
    /// Resumed callers the reader runs between two writes of what they queued. With 32 calls
    /// in flight, writing once per whole batch left the daemon idle while the client worked and
    /// the other way round; every 4 callers the two overlap (tokengate-bench: 1 connection with
    /// 32 in flight went from about 200k to 345k calls/s; 2 and 8 were slower than 4).
    static let readerFlushInterval = 4

    init(socketPath: String, expectedDaemonUID: UInt32? = nil, executor: ReaderExecutor) throws(TokenGateError) {
        self.executor = executor
        do {
            fd = try UnixSocket.connect(path: socketPath)
        } catch {
            throw TokenGateError(.unavailable, "cannot connect to tokengated at \(socketPath): \(error) (is the daemon running?)")
        }
        if let expected = expectedDaemonUID {
            let actual = UnixSocket.peerUID(fd)
            guard actual == expected else {
                UnixSocket.close(fd)
                throw TokenGateError(
                    .permissionDenied,
                    "the socket \(socketPath) is served by uid \(actual.map(String.init) ?? "unknown"), not uid \(expected): "
                        + "refusing to talk to what may be another user's impostor (set the expected uid, e.g. "
                        + "tokengate --expect-uid, to the daemon's)")
            }
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
        let deadlineNs = timeoutMs > 0 ? MonotonicClock.nanoseconds() + UInt64(timeoutMs) * 1_000_000 : 0
        let othersInFlight: Bool
        switch register(callID, waiter: .suspending, deadlineNs: deadlineNs, timeoutMs: timeoutMs) {
        case .success(let others): othersInFlight = others
        case .failure(let refused): return .failure(refused)
        }
        var frame: [UInt8] = []
        RequestEnvelope(callID: callID, method: method, deadlineMs: timeoutMs, payload: payload).appendFrame(to: &frame)
        if let batch = queue(frame, holdingForOthers: othersInFlight) {
            if othersInFlight && executor.isReaderThread {
                // The reader runs the other resumed callers next and writes what they queued
                // every few callers (`readerFlushInterval`), so the daemon starts on the first
                // ones while the rest are still being resumed here.
                readerOwesWrite.store(true, ordering: .relaxed)
            } else {
                // Calls in flight here are answered in batches, and their callers send again
                // right after: one yield lets the ones already resumed queue behind this write.
                if othersInFlight { await Task.yield() }
                writeQueued(batch)
            }
        }
        return await withTaskCancellationHandler {
            await withUnsafeContinuation { (continuation: UnsafeContinuation<Outcome, Never>) in
                attach(callID, continuation)
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
        start(callID, .stream(StreamSink(continuation)), method: method, payload: payload, timeoutMs: timeoutMs)
        return stream
    }

    /// Fails every call in flight and every later one; wakes the reader so it closes the socket.
    func fail(_ error: TokenGateError) {
        let pending = state.withLock { state in
            if state.failure == nil { state.failure = error }
            defer { state.pending.removeAll() }
            return state.pending.entries
        }
        for (_, call) in pending where !call.waiter.isSuspending { call.waiter.end(.failure(error)) }
        UnixSocket.shutdown(fd)
    }

    /// Fails the calls whose deadline is at or before `now` with DEADLINE_EXCEEDED (called by
    /// the DeadlineSweeper). Returns true when calls with a deadline are still pending.
    func expireDeadlines(now: UInt64) -> Bool {
        let (expired, stillPending) = state.withLock { state -> ([PendingCall], Bool) in
            guard state.earliestDeadlineNs <= now else { return ([], state.earliestDeadlineNs != .max) }
            var expired: [PendingCall] = []
            var earliest = UInt64.max
            for (callID, call) in state.pending.entries where call.deadlineNs > 0 {
                if call.deadlineNs <= now {
                    if call.waiter.isSuspending {
                        state.keepEarly(callID, .failure(Self.deadlineError(call.timeoutMs)))
                        continue
                    }
                    expired.append(call)
                    state.pending.removeValue(forKey: callID)
                } else {
                    earliest = min(earliest, call.deadlineNs)
                }
            }
            state.earliestDeadlineNs = earliest
            return (expired, earliest != .max)
        }
        for call in expired { call.waiter.end(.failure(Self.deadlineError(call.timeoutMs))) }
        return stillPending
    }

    static func deadlineError(_ timeoutMs: UInt32) -> TokenGateError {
        TokenGateError(.deadlineExceeded, "no answer within \(timeoutMs) ms")
    }

    // MARK: - Private

    private func nextCallID() -> UInt64 {
        callIDs.wrappingAdd(1, ordering: .relaxed).oldValue
    }

    /// Enters a call in the pending table with its deadline. Returns whether other calls are in
    /// flight on this connection, or the connection's failure.
    private func register(
        _ callID: UInt64, waiter: Waiter, deadlineNs: UInt64, timeoutMs: UInt32
    ) -> Result<Bool, TokenGateError> {
        let registered = state.withLock { state -> Result<Bool, TokenGateError> in
            if let failure = state.failure { return .failure(failure) }
            state.pending[callID] = PendingCall(waiter: waiter, deadlineNs: deadlineNs, timeoutMs: timeoutMs)
            if deadlineNs > 0 { state.earliestDeadlineNs = min(state.earliestDeadlineNs, deadlineNs) }
            return .success(state.pending.count > 1)
        }
        if deadlineNs > 0, case .success = registered { DeadlineSweeper.shared.noteDeadline() }
        return registered
    }

    /// Hands a unary caller's continuation to its pending entry, or resumes it at once with an
    /// outcome that came first (its answer, deadline, cancellation or the connection's failure).
    private func attach(_ callID: UInt64, _ continuation: UnsafeContinuation<Outcome, Never>) {
        let ready = state.withLock { state -> Outcome? in
            if !state.early.isEmpty, let early = state.early.removeValue(forKey: callID) { return early }
            guard state.pending.update(callID, { $0.waiter = .unary(continuation) }) else {
                // Only `fail` drops an entry whose caller has not suspended yet.
                return .failure(state.failure ?? TokenGateError(.unavailable, "connection to tokengated lost"))
            }
            return nil
        }
        if let ready { continuation.resume(returning: ready) }
    }

    /// Registers a streaming call, then writes its request frame.
    private func start(_ callID: UInt64, _ waiter: Waiter, method: String, payload: [UInt8], timeoutMs: UInt32) {
        let deadlineNs = timeoutMs > 0 ? MonotonicClock.nanoseconds() + UInt64(timeoutMs) * 1_000_000 : 0
        if case .failure(let refused) = register(callID, waiter: waiter, deadlineNs: deadlineNs, timeoutMs: timeoutMs) {
            waiter.end(.failure(refused))
            return
        }
        var frame: [UInt8] = []
        RequestEnvelope(callID: callID, method: method, deadlineMs: timeoutMs, payload: payload).appendFrame(to: &frame)
        if let batch = queue(frame, holdingForOthers: false) { writeQueued(batch) }
    }

    private func finish(_ callID: UInt64, _ outcome: Outcome) {
        let call = state.withLock { state -> PendingCall? in
            guard let call = state.pending[callID] else { return nil }
            if call.waiter.isSuspending {
                state.keepEarly(callID, outcome)
                return nil
            }
            return state.pending.removeValue(forKey: callID)
        }
        call?.waiter.end(outcome)
    }

    /// Routes one response frame to its call: a unary call ends; a stream yields the frame
    /// and ends at end_of_stream or on an error status.
    private func deliver(_ response: ResponseEnvelope) {
        let waiter = state.withLock { state -> Waiter? in
            guard let waiter = state.pending[response.callID]?.waiter else { return nil }
            if waiter.isSuspending {
                state.keepEarly(response.callID, .success(response))
                return nil
            }
            if case .stream = waiter, response.statusCode == 0, !response.endOfStream { return waiter }
            state.pending.removeValue(forKey: response.callID)
            return waiter
        }
        guard let waiter else { return }
        guard case .stream(let sink) = waiter else {
            waiter.end(.success(response))
            return
        }
        let continuation = sink.continuation
        if response.statusCode != 0 {
            continuation.finish(throwing: TokenGateError(StatusCode(rawValue: response.statusCode) ?? .unknown, response.statusMessage))
            return
        }
        continuation.yield(response)
        if response.endOfStream { continuation.finish() }
    }

    /// Queues `frame` behind a write in progress (nil), or makes the caller the writer: it gets
    /// the bytes to write first, which are `frame` itself unless it holds the write open for
    /// other callers (then `frame` waits in the outbox with theirs and the caller gets none).
    private func queue(_ frame: [UInt8], holdingForOthers: Bool) -> [UInt8]? {
        outbox.withLock { outbox in
            // Bytes wait in the outbox only while someone is writing.
            if outbox.writing || holdingForOthers {
                if outbox.bytes.isEmpty { outbox.bytes = frame } else { outbox.bytes += frame }
                if outbox.writing { return nil }
                outbox.writing = true
                return []
            }
            outbox.writing = true
            return frame
        }
    }

    /// Writes `first`, then every frame queued meanwhile, until the outbox is empty, so no frame
    /// waits for a later call. A failed write fails the connection.
    private func writeQueued(_ first: [UInt8]) {
        var next: [UInt8]? = first
        while true {
            if let bytes = next, !bytes.isEmpty {
                do {
                    try UnixSocket.writeAll(fd, bytes)
                } catch {
                    outbox.withLock { $0 = Outbox() }
                    fail(TokenGateError(.unavailable, "connection to tokengated lost while sending: \(error)"))
                    return
                }
            }
            next = outbox.withLock { outbox -> [UInt8]? in
                guard !outbox.bytes.isEmpty else {
                    outbox.writing = false
                    return nil
                }
                defer { outbox.bytes = [] }
                return outbox.bytes
            }
            guard next != nil else { return }
        }
    }

    /// Writes what callers on the reader thread queued, when one of them left it to the reader.
    private func writeOwed() {
        if readerOwesWrite.exchange(false, ordering: .relaxed) { writeQueued([]) }
    }

    private func readLoop() {
        var reader = FrameReader(frameBytesMax: Self.responseFrameBytesMax)
        var chunk = [UInt8](repeating: 0, count: Self.readChunkBytes)
        var failure = TokenGateError(.unavailable, "tokengated closed the connection")
        var resumed: [UnownedJob] = []
        executor.becomeReader()
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
                executor.runReady(spare: &resumed, flushingEvery: Self.readerFlushInterval, writeOwed)
            } catch {
                failure = TokenGateError(.unavailable, "connection to tokengated failed: \(error)")
                break
            }
        }
        fail(failure)
        executor.runReady(spare: &resumed, flushingEvery: Self.readerFlushInterval, writeOwed)
        executor.resignReader()
        UnixSocket.close(fd)
    }
}
