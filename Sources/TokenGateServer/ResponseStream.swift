// Server-streaming calls: many response frames under one call id, the last one carrying
// end_of_stream and the final status. A stream writes through its connection's writer, so a
// finite stream (an export) can run on the connection's thread while a long-lived one (a
// watcher) is handed to a hub and fed from other threads.
import Synchronization
import TokenGateCore
import TokenGateWire

/// Serializes whole frames onto one connection's socket, from any thread.
final class ConnectionWriter: Sendable {
    private let fd: Int32
    private let closed = Mutex(false)

    init(fd: Int32) { self.fd = fd }

    /// Writes `bytes` (whole frames); false once the connection is closed or a write failed.
    @discardableResult
    func write(_ bytes: [UInt8]) -> Bool {
        closed.withLock { closed in
            guard !closed else { return false }
            do {
                try UnixSocket.writeAll(fd, bytes)
                return true
            } catch {
                closed = true
                return false
            }
        }
    }

    /// Marks the connection closed: later writes are dropped (their peer is gone).
    func close() { closed.withLock { $0 = true } }

    var isClosed: Bool { closed.withLock { $0 } }
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
