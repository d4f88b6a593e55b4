// The durability step of a connection's batch: wait once for the log to make the batch's
// writes durable, then send every reply with one write. A write the log could not make durable
// is not acknowledged: a failed batch write (a full disk, say) turns the replies of the calls it
// held into RESOURCE_EXHAUSTED or UNAVAILABLE while the daemon keeps serving (the log keeps those
// records and writes them with a later batch, so a retry with the same event id finds them); a
// failed fdatasync stops the daemon before anything more is acknowledged.
import Glibc
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

extension ConnectionLoop {
    /// Waits for the batch's writes to be durable, then sends the replies. A reply whose write
    /// is not durable becomes an error; a dead log stops the daemon (`onFatal`).
    mutating func flushReplies() throws {
        guard !buffers.out.isEmpty else { return }
        let sequence = buffers.durable.lazy.map(\.sequence).max() ?? 0
        var refusal: (status: TokenGateError, durable: UInt64)?
        if sequence > 0 {
            do throws(StoreError) {
                let waitStart = MonotonicClock.nanoseconds()
                try server.ledger.waitUntilDurable(sequence)
                server.service.metrics.durabilityWait.record(since: waitStart)
            } catch {
                if case .failed = error.kind {
                    server.onFatal("write-ahead log failed; no further writes can be acknowledged: \(error)")
                }
                refusal = (Self.status(for: error), server.ledger.durableSequence)
            }
        }
        if let refusal { refuseUndurable(refusal.status, durable: refusal.durable) }
        guard writer.write(buffers.out) else { throw SocketError("write", errno: EPIPE) }
    }

    /// Replaces each reply whose write is past `durable` with `status`, keeping the rest.
    private mutating func refuseUndurable(_ status: TokenGateError, durable: UInt64) {
        var rebuilt: [UInt8] = []
        var copied = 0
        for reply in buffers.durable where reply.sequence > durable {
            rebuilt += buffers.out[copied..<reply.frame.lowerBound]
            Server.errorEnvelope(callID: reply.callID, status).appendFrame(to: &rebuilt)
            copied = reply.frame.upperBound
        }
        rebuilt += buffers.out[copied...]
        buffers.out = rebuilt
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
