// The durability step of a connection's batch: hand the batch's replies to the log, whose
// flusher sends them with one write once the batch's writes are durable (the connection's
// thread goes back to reading instead of sleeping until then and being woken, a context switch
// per call saved). A write the log could not make durable is not acknowledged: a failed batch
// write (a full disk, say) turns the replies of the calls it held into RESOURCE_EXHAUSTED or
// UNAVAILABLE while the daemon keeps serving (the log keeps those records and writes them with
// a later batch, so a retry with the same event id finds them); a failed fdatasync stops the
// daemon before anything more is acknowledged.
import Foundation
import TokenGateClock
import TokenGateCore
import TokenGateStore
import TokenGateWire

/// A reply frame of a batch (its bytes in `ReplyBuffers.out`) and the log sequence that must be
/// durable before it is sent.
struct DurableReply {
    var frame: Range<Int>
    var callID: UInt64
    var sequence: UInt64
}

extension ReplyBuffers {
    /// Replaces each reply whose write is past `durable` with `status`, keeping the rest.
    mutating func refuseUndurable(_ status: TokenGateError, durable: UInt64) {
        var rebuilt: [UInt8] = []
        var copied = 0
        for reply in self.durable where reply.sequence > durable {
            rebuilt += out[copied..<reply.frame.lowerBound]
            Server.errorEnvelope(callID: reply.callID, status).appendFrame(to: &rebuilt)
            copied = reply.frame.upperBound
        }
        rebuilt += out[copied...]
        out = rebuilt
    }
}

extension ConnectionLoop {
    /// Sends the batch's replies: right away when none waits for the log, else from the log's
    /// flusher once they may be sent. One batch at a time is with the log: a connection waits
    /// for it before sending anything more, so replies keep their order.
    mutating func flushReplies() throws {
        guard !buffers.out.isEmpty else { return }
        batchWithLog.wait()
        // A peer whose replies could not be sent (gone, or not reading within the write
        // timeout) is dropped.
        if writer.isClosed {
            batchWithLog.signal()
            throw SocketError("write", errno: EPIPE)
        }
        let sequence = buffers.durable.lazy.map(\.sequence).max() ?? 0
        guard sequence > 0 else {
            defer { batchWithLog.signal() }
            guard writer.write(buffers.out) else { throw SocketError("write", errno: EPIPE) }
            return
        }
        let (replies, server, writer, batchWithLog) = (buffers, server, writer, batchWithLog)
        let waitStart = MonotonicClock.nanoseconds()
        server.ledger.whenDurable(sequence) { result in
            var replies = replies
            switch result {
            case .success:
                server.service.metrics.durabilityWait.record(since: waitStart)
            case .failure(let error):
                if case .failed = error.kind {
                    // Not on the log's thread, which goes on settling the other waiters. The
                    // batch stays with the log: this connection sends nothing more. Every
                    // connection with a batch gets here; the daemon's `onFatal` (FatalExit)
                    // lets only the first one exit.
                    Thread.detachNewThread {
                        server.onFatal("write-ahead log failed; no further writes can be acknowledged: \(error)")
                    }
                    return
                }
                replies.refuseUndurable(Self.status(for: error), durable: server.ledger.durableSequence)
            }
            writer.writeWithoutBlocking(replies.out) { batchWithLog.signal() }
        }
    }

    /// The status of a call whose write the log could not make durable.
    static func status(for error: StoreError) -> TokenGateError {
        let retry = "the call was not acknowledged; retry it (with the same event id) and it is recorded once"
        switch error.kind {
        case .io(let cause) where cause.errno == ENOSPC || cause.errno == EDQUOT:
            return TokenGateError(
                .resourceExhausted, "the data directory's disk is full (\(cause)); free space, then \(retry)")
        case .closed:
            return TokenGateError(.unavailable, "tokengated is shutting down; \(retry) on the next daemon")
        default:
            return TokenGateError(.unavailable, "the write-ahead log could not write (\(error)); \(retry)")
        }
    }
}
