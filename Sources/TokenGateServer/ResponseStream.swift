// Server-streaming calls: many response frames under one call id, the last one carrying
// end_of_stream and the final status. A stream writes through its connection's writer, so a
// finite stream (an export) can run on the connection's thread while a long-lived one (a
// watcher) is handed to a hub and fed from other threads.
import Foundation
import Synchronization
import TokenGateCore
import TokenGateWire

/// Serializes whole frames onto one connection's socket, from any thread. A thread that must
/// not block on a slow peer (the log's flusher sending durable replies) sends what the socket
/// takes now and leaves the rest to a background task; until that task has sent it, later
/// frames queue behind it, so frames never interleave.
final class ConnectionWriter: Sendable {
    private struct State {
        var closed = false
        /// Bytes waiting for the background task; nil when none is running.
        var queued: [UInt8]?
        /// Called when the background task has sent (or dropped) everything queued.
        var whenDrained: [@Sendable () -> Void] = []
    }

    private let fd: Int32
    private let state = Mutex(State())
    /// Bytes that may wait for a peer that is not reading (`ServerLimits.queuedReplyBytesMax`);
    /// past it the connection is shut down rather than buffered for without bound.
    private let queuedBytesMax: Int

    init(fd: Int32, queuedBytesMax: Int = ServerLimits().queuedReplyBytesMax) {
        self.fd = fd
        self.queuedBytesMax = queuedBytesMax
    }

    /// Queues `bytes` behind the background send, or, past `queuedBytesMax`, gives up on the
    /// peer: marks the writer closed and shuts the socket down (its reader sees the end, the
    /// background send fails and calls those waiting). Call with `state` locked.
    private func enqueue(_ bytes: [UInt8], _ state: inout State) -> Bool {
        guard state.queued!.count + bytes.count <= queuedBytesMax else {
            state.closed = true
            UnixSocket.shutdown(fd)
            return false
        }
        state.queued! += bytes
        return true
    }

    /// Writes `bytes` (whole frames), blocking up to the socket's send timeout; false once the
    /// connection is closed or a write failed. Behind a background send, queues them instead.
    @discardableResult
    func write(_ bytes: [UInt8]) -> Bool {
        state.withLock { state in
            guard !state.closed else { return false }
            if state.queued != nil { return enqueue(bytes, &state) }
            do {
                try UnixSocket.writeAll(fd, bytes)
                return true
            } catch {
                state.closed = true
                return false
            }
        }
    }

    /// Writes `bytes` (whole frames) without blocking: what the socket cannot take now is sent
    /// by a background task. Calls `done` once they are sent or dropped (the peer is gone).
    func writeWithoutBlocking(_ bytes: [UInt8], then done: @escaping @Sendable () -> Void) {
        enum Next { case finished, queued, start([UInt8]) }
        let next: Next = state.withLock { state in
            guard !state.closed else { return .finished }
            if state.queued != nil {
                guard enqueue(bytes, &state) else { return .finished }
                state.whenDrained.append(done)
                return .queued
            }
            do {
                let sent = try UnixSocket.sendAvailable(fd, bytes)
                guard sent < bytes.count else { return .finished }
                guard bytes.count - sent <= queuedBytesMax else {
                    state.closed = true
                    UnixSocket.shutdown(fd)
                    return .finished
                }
                state.queued = []
                state.whenDrained = [done]
                return .start(Array(bytes[sent...]))
            } catch {
                state.closed = true
                return .finished
            }
        }
        switch next {
        case .finished: done()
        case .queued: break
        // Rare (a peer that stopped reading), and it may block for the send timeout: a thread of
        // its own rather than one of the few of a global queue.
        case .start(let rest): Thread.detachNewThread { self.sendQueued(rest) }
        }
    }

    /// The background task: sends `bytes`, then whatever queued behind them, blocking; then
    /// calls those waiting for it.
    private func sendQueued(_ bytes: [UInt8]) {
        var bytes = bytes
        while true {
            let sent = (try? UnixSocket.writeAll(fd, bytes)) != nil
            let (more, drained): ([UInt8]?, [@Sendable () -> Void]) = state.withLock { state in
                if !sent { state.closed = true }
                if !state.closed, let queued = state.queued, !queued.isEmpty {
                    state.queued = []
                    return (queued, [])
                }
                defer { (state.queued, state.whenDrained) = (nil, []) }
                return (nil, state.whenDrained)
            }
            guard let more else {
                for done in drained { done() }
                return
            }
            bytes = more
        }
    }

    /// Marks the connection closed: later writes are dropped (their peer is gone).
    func close() { state.withLock { $0.closed = true } }

    var isClosed: Bool { state.withLock { $0.closed } }
}

/// One server-streaming call's response side. Thread-safe; finishing twice is a no-op.
public final class ResponseStream: Sendable {
    public let callID: UInt64
    private let writer: ConnectionWriter
    private let finished = Mutex(false)

    init(callID: UInt64, writer: ConnectionWriter) {
        self.callID = callID
        self.writer = writer
    }

    /// Sends one message of the stream. Returns false when the peer is gone or the stream has
    /// finished, so producers can stop early.
    @discardableResult
    public func send(_ message: some WireMessage) -> Bool {
        let envelope = ResponseEnvelope(callID: callID, payload: message.encoded(), endOfStream: false)
        return finished.withLock { finished in
            guard !finished else { return false }
            return writer.write(Self.frame(envelope))
        }
    }

    /// Sends one message without blocking on a slow peer (what the socket does not take now
    /// is queued, up to the connection's queued-bytes limit, past which the peer is dropped).
    /// Returns false when the peer is gone or was dropped. For publishers that serve many
    /// streams and must not wait for one.
    @discardableResult
    public func sendWithoutBlocking(_ message: some WireMessage) -> Bool {
        let envelope = ResponseEnvelope(callID: callID, payload: message.encoded(), endOfStream: false)
        return finished.withLock { finished in
            guard !finished else { return false }
            writer.writeWithoutBlocking(Self.frame(envelope)) {}
            return !writer.isClosed
        }
    }

    /// Ends the stream with OK, or with `error` as its status.
    public func finish(_ error: TokenGateError? = nil) {
        let envelope = ResponseEnvelope(
            callID: callID, statusCode: error?.code.rawValue ?? 0, statusMessage: error?.message ?? "", endOfStream: true)
        finished.withLock { finished in
            guard !finished else { return }
            finished = true
            writer.write(Self.frame(envelope))
        }
    }

    /// True once finished or once the connection is gone: a hub drops such streams.
    public var isClosed: Bool { finished.withLock { $0 } || writer.isClosed }

    private static func frame(_ envelope: ResponseEnvelope) -> [UInt8] {
        var out: [UInt8] = []
        Framing.appendFrame(envelope.encoded(), to: &out)
        return out
    }
}
