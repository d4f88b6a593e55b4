// The flusher thread of the write-ahead log and the segment writer it drives. The flusher
// sleeps until someone waits (or too much is pending, or the everysec timer fires), takes every
// pending byte at once, writes it with one write per segment touched, fdatasyncs once, and
// settles every waiter the batch covers: it wakes a blocked thread, or calls a connection's
// completion, which sends that connection's replies. A failed write is undone and retried later; a failed
// fdatasync is never retried: the log turns failed.

import Dispatch
import Synchronization
import TokenGateClock

/// Why a write or sync of the segment writer failed.
enum WriteFailure: Error {
    /// Nothing past `writtenSequence` is in the file; the records can be written again later.
    case retryable(SystemError)
    /// The log must stop (a failed fdatasync, or a failed write that could not be undone).
    case fatal(StoreError)

    var storeError: StoreError {
        switch self {
        case .retryable(let error): StoreError.io(error)
        case .fatal(let error): error
        }
    }
}

/// What the flusher does next, decided under the state lock.
enum FlusherStep {
    case exit
    case sleep(until: DispatchTime?)
    /// Write the taken batch (records `firstSequence...lastSequence`, maybe none) and sync.
    case work(firstSequence: UInt64, lastSequence: UInt64, sync: Bool)
}

/// What one flush achieved.
struct FlushOutcome {
    var writtenSequence: UInt64
    var syncedSequence: UInt64
    /// Bytes of the batch that reached the file before a failure.
    var writtenBytes = 0
    var failure: WriteFailure?
}

extension WriteAheadLog {
    /// The flusher thread's body; returns when the log closes.
    func runFlusher() {
        var buffer: [UInt8] = []
        while true {
            let (step, resolved) = state.withLock { nextStep(&$0, taking: &buffer) }
            resolved.notify()
            switch step {
            case .exit:
                return
            case .sleep(let deadline):
                if let deadline { _ = flusherWake.wait(timeout: deadline) } else { flusherWake.wait() }
            case .work(let first, let last, let sync):
                flushStartedNanoseconds.store(max(1, DispatchTime.now().uptimeNanoseconds), ordering: .relaxed)
                defer { flushStartedNanoseconds.store(0, ordering: .relaxed) }
                let outcome = flush(buffer, firstSequence: first, sync: sync)
                let resolved = state.withLock { publish(outcome, batch: buffer, lastSequence: last, &$0) }
                resolved.notify()
                buffer.removeAll(keepingCapacity: buffer.capacity <= StoreLimits.recycledBufferBytesMax)
            }
        }
    }

    /// Decides the next step; when there is work, swaps the pending bytes into `buffer`.
    func nextStep(_ state: inout LogState, taking buffer: inout [UInt8]) -> (FlusherStep, [Resolved]) {
        state.flusherIdle = false
        if let failure = state.failure {
            let resolved = state.resolveAllWaiters(with: failure)
            if state.phase == .closing { return (.exit, resolved) }
            state.flusherIdle = true
            return (.sleep(until: nil), resolved)
        }
        let now = DispatchTime.now()
        let closing = state.phase == .closing
        let due = policy == .everysec && now >= state.syncDeadline
        let demand = !state.waiters.isEmpty
        let pressure = state.pending.count >= StoreLimits.pendingWakeBytes && !state.retryAwaitsDemand
        let write = !state.pending.isEmpty && (demand || pressure || closing || due)
        let unsynced = write || state.writtenSequence > state.syncedSequence
        let sync =
            switch policy {
            case .always: unsynced && (write || demand || closing)
            case .everysec: unsynced && (due || closing)
            case .never: unsynced && closing
            }
        if due { state.syncDeadline = now + .nanoseconds(Int(StoreLimits.everysecIntervalNanoseconds)) }
        guard write || sync else {
            if closing { return (.exit, []) }
            state.flusherIdle = true
            return (.sleep(until: policy == .everysec ? state.syncDeadline : nil), [])
        }
        let first = state.pendingFirstSequence
        if write {
            swap(&buffer, &state.pending)
            state.pendingFirstSequence = state.nextSequence
        }
        return (.work(firstSequence: first, lastSequence: state.pendingFirstSequence - 1, sync: sync), [])
    }

    /// Writes `batch` and, when asked, fdatasyncs. Holds only the writer lock.
    func flush(_ batch: [UInt8], firstSequence: UInt64, sync: Bool) -> FlushOutcome {
        writer.withLock { writer in
            precondition(writer != nil, "the flusher runs only while the log is open")
            var outcome = FlushOutcome(writtenSequence: 0, syncedSequence: 0)
            if !batch.isEmpty {
                let (bytes, failure) = writer!.write(batch, firstSequence: firstSequence, in: self)
                outcome.writtenBytes = bytes
                outcome.failure = failure
            }
            var isFatal = false
            if case .fatal? = outcome.failure { isFatal = true }
            // Sync even after a failed write: the records written before it may have waiters.
            if sync && !isFatal {
                do throws(WriteFailure) {
                    let syncStart = MonotonicClock.nanoseconds()
                    try writer!.sync()
                    metrics.fsyncLatency.record(since: syncStart)
                } catch {
                    outcome.failure = error
                }
            }
            outcome.writtenSequence = writer!.writtenSequence
            outcome.syncedSequence = writer!.syncedSequence
            return outcome
        }
    }

    /// Records what the flush achieved and settles the waiters it covers.
    func publish(
        _ outcome: FlushOutcome, batch: [UInt8], lastSequence: UInt64, _ state: inout LogState
    ) -> [Resolved] {
        state.writtenSequence = outcome.writtenSequence
        state.syncedSequence = outcome.syncedSequence
        var writeError: SystemError?
        switch outcome.failure {
        case .fatal(let failure):
            if state.failure == nil { state.failure = failure }
        case .retryable(let error):
            writeError = error
            // The unwritten records go back in front of anything appended since, so the next
            // batch rewrites them with the same sequence numbers and the file stays contiguous.
            state.pending = Array(batch[outcome.writtenBytes...]) + state.pending
            state.pendingFirstSequence = outcome.writtenSequence + 1
            state.retryAwaitsDemand = true
            if state.phase == .closing, state.failure == nil { state.failure = StoreError.io(error) }
        case nil:
            break
        }
        let durable = durable(state)
        var resolved: [Resolved] = []
        state.waiters.removeAll { waiter in
            let result: Result<Void, StoreError>
            if let failure = state.failure {
                result = .failure(failure)
            } else if waiter.sequence <= durable {
                result = .success(())
            } else if let writeError, waiter.sequence <= lastSequence {
                result = .failure(StoreError.io(writeError))
            } else {
                return false
            }
            resolved.append((waiter, result))
            return true
        }
        return resolved
    }
}

// MARK: - Segment writer

/// The open segment and the list of segments on disk. Owned by whoever holds
/// `WriteAheadLog.writer`.
struct SegmentWriter {
    /// Ascending by first sequence; the last one is `current`.
    var segments: [Segment]
    var current: any AppendFile
    /// Last sequence in the files (page cache).
    var writtenSequence: UInt64
    /// Last sequence fdatasync'd.
    var syncedSequence: UInt64

    /// Writes whole records of `batch`, one write per segment touched, rotating segments at
    /// the size limit. Returns the bytes written before a failure, and the failure.
    mutating func write(
        _ batch: [UInt8], firstSequence: UInt64, in log: WriteAheadLog
    ) -> (writtenBytes: Int, failure: WriteFailure?) {
        precondition(firstSequence == writtenSequence + 1, "batch must continue the file")
        var offset = 0
        while offset < batch.count {
            let firstSize = LogFormat.recordSize(in: batch, at: offset)
            if current.size > 0 && current.size + firstSize > log.segmentBytesMax {
                do throws(WriteFailure) { try rotate(in: log) } catch { return (offset, error) }
            }
            var end = offset + firstSize
            var records: UInt64 = 1
            while end < batch.count {
                let size = LogFormat.recordSize(in: batch, at: end)
                if current.size + (end - offset) + size > log.segmentBytesMax { break }
                end += size
                records += 1
            }
            let chunk = offset == 0 && end == batch.count ? batch : Array(batch[offset..<end])
            let sizeBefore = current.size
            do throws(SystemError) {
                try current.write(chunk)
            } catch {
                return (offset, undoFailedWrite(error, truncatingTo: sizeBefore, in: log))
            }
            writtenSequence += records
            offset = end
        }
        return (offset, nil)
    }

    /// Cuts the file back to its size before a failed write so later records stay contiguous.
    private func undoFailedWrite(
        _ error: SystemError, truncatingTo size: Int, in log: WriteAheadLog
    ) -> WriteFailure {
        do throws(SystemError) {
            try current.truncate(to: size)
            return .retryable(error)
        } catch let truncateError {
            let detail = "\(error); undoing it failed too (\(truncateError)); the segment ends in a partial record"
            return .fatal(StoreError(.failed, detail))
        }
    }

    /// fdatasync of the current segment. A failure is fatal and never retried.
    mutating func sync() throws(WriteFailure) {
        do throws(SystemError) {
            try current.sync()
        } catch {
            throw .fatal(StoreError(.failed, "\(error); the log accepts no more writes"))
        }
        syncedSequence = writtenSequence
    }

    /// Syncs and closes the current segment and starts `wal-<writtenSequence + 1>.log`.
    mutating func rotate(in log: WriteAheadLog) throws(WriteFailure) {
        try sync()
        let next = Segment(firstSequence: writtenSequence + 1)
        let file: any AppendFile
        do throws(SystemError) {
            file = try log.fileSystem.openAppend(log.path(next.name))
        } catch {
            throw .retryable(error)
        }
        do throws(SystemError) {
            try log.fileSystem.syncDirectory(log.directory)
        } catch {
            try? file.close()
            throw .fatal(StoreError(.failed, "\(error); the new segment \(next.name) may not survive a crash"))
        }
        // The old segment is synced; a close error cannot lose its data.
        try? current.close()
        current = file
        segments.append(next)
    }

    /// Deletes every segment but the current one whose records are all at or below `sequence`.
    mutating func removeSegments(through sequence: UInt64, in log: WriteAheadLog) throws(SystemError) {
        // Oldest first, so a crash or an error part-way leaves a contiguous suffix of the log.
        var removedAny = false
        while segments.count > 1, segments[1].firstSequence - 1 <= sequence {
            try log.fileSystem.remove(log.path(segments[0].name))
            segments.removeFirst()
            removedAny = true
        }
        if removedAny { try log.fileSystem.syncDirectory(log.directory) }
    }
}
