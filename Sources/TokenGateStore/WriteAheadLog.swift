// The write-ahead log: every write of the store is appended here and made durable before it is
// acknowledged. Appends only copy into a pending buffer; one flusher thread writes everything
// pending with one write and one fdatasync (group commit), so throughput grows with the number
// of concurrent writers instead of being capped at one fdatasync per record.
//
// Threads: `state` (a Mutex) guards sequences, the pending buffer and the waiters; `writer`
// guards the open segment and is held only by the flusher, `removeSegments`, recovery and
// `close`. Lock order is writer, then state; nothing takes the writer while holding the state.

import Dispatch
import Synchronization

/// When an appended record counts as durable.
public enum FsyncPolicy: String, Sendable, CaseIterable {
    /// Written and fdatasync'd before `waitUntilDurable` returns (group commit). The default.
    case always
    /// Written before `waitUntilDurable` returns; fdatasync about once a second. A power
    /// failure may lose up to about a second of acknowledged writes.
    case everysec
    /// Written to the page cache only; a power failure may lose any acknowledged write.
    case never
}

/// A segmented, checksummed, append-only log with group commit. Call `recover` once, then
/// `append` and `waitUntilDurable` from any thread, and `close` at shutdown.
public final class WriteAheadLog: Sendable {
    /// The directory holding the `wal-*.log` segments.
    public let directory: String
    /// The durability promise of `waitUntilDurable`.
    public let policy: FsyncPolicy
    let segmentBytesMax: Int
    let recordBytesMax: Int
    let pendingBytesMax: Int
    let fileSystem: any FileSystem

    let state = PosixMutex(LogState())
    let writer = Mutex<SegmentWriter?>(nil)
    /// Wakes the sleeping flusher; a signal given before it sleeps is not lost.
    let flusherWake = DispatchSemaphore(value: 0)
    let flusherThread = Mutex<OSThread?>(nil)
    /// fsync latency and snapshot durations, for the daemon's metrics.
    public let metrics = StoreMetrics()
    /// When the flusher's current write and sync began (uptime ns), 0 while it is not flushing:
    /// what the watchdog looks at (`isMakingProgress`).
    let flushStartedNanoseconds = Atomic<UInt64>(0)

    /// False once the log has failed, or while one write and sync of the flusher has taken
    /// longer than `stallNanoseconds` (a hung disk): the daemon must then stop petting the
    /// systemd watchdog. An idle flusher is making progress.
    public func isMakingProgress(stallNanoseconds: UInt64) -> Bool {
        if state.withLock({ $0.failure != nil }) { return false }
        let started = flushStartedNanoseconds.load(ordering: .relaxed)
        return started == 0 || DispatchTime.now().uptimeNanoseconds &- started < stallNanoseconds
    }

    /// Prepares a log in `directory` (created when missing). Nothing is read until `recover`.
    /// - Parameters:
    ///   - segmentBytesMax: a new segment is started when a record would pass this size.
    ///   - recordBytesMax: largest body `append` accepts.
    ///   - pendingBytesMax: unwritten bytes beyond which `append` throws `.overloaded`.
    public init(
        directory: String, policy: FsyncPolicy, segmentBytesMax: Int = StoreLimits.defaultSegmentBytesMax,
        recordBytesMax: Int = StoreLimits.defaultRecordBytesMax,
        pendingBytesMax: Int = StoreLimits.defaultPendingBytesMax,
        fileSystem: any FileSystem = PosixFileSystem()
    ) throws {
        precondition(segmentBytesMax > StoreLimits.recordHeaderBytes, "segmentBytesMax must hold a record header")
        precondition(recordBytesMax >= 0 && recordBytesMax <= Int(UInt32.max), "recordBytesMax must fit a u32")
        precondition(
            pendingBytesMax >= recordBytesMax + StoreLimits.recordHeaderBytes,
            "pendingBytesMax must hold at least one record of recordBytesMax")
        self.directory = directory
        self.policy = policy
        self.segmentBytesMax = segmentBytesMax
        self.recordBytesMax = recordBytesMax
        self.pendingBytesMax = pendingBytesMax
        self.fileSystem = fileSystem
        do throws(SystemError) {
            try fileSystem.createDirectory(directory)
        } catch {
            throw StoreError.io(error)
        }
    }

    /// The sequence of the last appended record (0 before any).
    public var lastSequence: UInt64 {
        state.withLock { $0.nextSequence - 1 }
    }

    /// The last sequence that is durable under the policy: fdatasync'd for `always`, written
    /// to the file for `everysec` and `never`.
    public var durableSequence: UInt64 {
        state.withLock { durable($0) }
    }

    /// The last sequence known to be fdatasync'd, whatever the policy.
    public var syncedSequence: UInt64 {
        state.withLock { $0.syncedSequence }
    }

    func durable(_ state: LogState) -> UInt64 {
        policy == .always ? state.syncedSequence : state.writtenSequence
    }

    func path(_ name: String) -> String {
        directory.hasSuffix("/") ? directory + name : directory + "/" + name
    }

    // MARK: - Append and wait

    /// Copies `body` into the pending buffer and returns its sequence number. Makes no syscall.
    /// - Throws: `.failed` once an fdatasync has failed, `.tooLarge` for a body over
    ///   `recordBytesMax`, `.overloaded` when too much is waiting to be written, `.closed`.
    public func append(_ body: [UInt8]) throws(StoreError) -> UInt64 {
        guard body.count <= recordBytesMax else {
            throw StoreError(.tooLarge, "record body of \(body.count) bytes exceeds the limit \(recordBytesMax)")
        }
        let (sequence, wake) = try state.withLock { state throws(StoreError) -> (UInt64, Bool) in
            precondition(state.phase.hasRecovered, "WriteAheadLog.append before recover")
            if let failure = state.failure { throw failure }
            guard state.phase == .open else { throw StoreError(.closed, "the log is closed") }
            guard state.pending.count + StoreLimits.recordHeaderBytes + body.count <= pendingBytesMax else {
                throw StoreError(.overloaded, "\(state.pending.count) bytes are waiting to be written")
            }
            let sequence = state.nextSequence
            state.nextSequence += 1
            LogFormat.encode(sequence: sequence, body: body, into: &state.pending)
            let wake =
                state.flusherIdle && !state.retryAwaitsDemand
                && state.pending.count >= StoreLimits.pendingWakeBytes
            if wake { state.flusherIdle = false }
            return (sequence, wake)
        }
        if wake { flusherWake.signal() }
        return sequence
    }

    /// Blocks until `sequence` is durable under the policy.
    /// - Throws: `.io` when the write of the batch holding `sequence` failed (the record was
    ///   not acknowledged; it stays queued and is written with a later batch), `.failed` when
    ///   an fdatasync failed (forever after), `.closed`.
    public func waitUntilDurable(_ sequence: UInt64) throws(StoreError) {
        let blocked = BlockedWait()
        whenDurable(sequence) { result in blocked.resolve(result) }
        try blocked.wait()
    }

    /// Calls `notify` once every record through `sequence` is durable, or with the error that
    /// means it never will be: on this thread when that is already known, else on the
    /// flusher's, which settles the batch's other waiters after it (so `notify` must not block).
    public func whenDurable(_ sequence: UInt64, _ notify: @escaping @Sendable (Result<Void, StoreError>) -> Void) {
        enum Registration { case durable, failed(StoreError), waiting(wakeFlusher: Bool) }
        let registration: Registration = state.withLock { state in
            precondition(state.phase.hasRecovered, "WriteAheadLog.whenDurable before recover")
            precondition(sequence < state.nextSequence, "waiting for sequence \(sequence), never appended")
            if let failure = state.failure { return .failed(failure) }
            if sequence <= durable(state) { return .durable }
            guard state.phase == .open || state.phase == .closing else {
                return .failed(StoreError(.closed, "the log is closed"))
            }
            state.waiters.append(Waiter(sequence: sequence, resolve: notify))
            state.retryAwaitsDemand = false
            defer { state.flusherIdle = false }
            return .waiting(wakeFlusher: state.flusherIdle)
        }
        switch registration {
        case .durable: notify(.success(()))
        case .failed(let error): notify(.failure(error))
        case .waiting(let wakeFlusher): if wakeFlusher { flusherWake.signal() }
        }
    }

    // MARK: - Snapshots and shutdown

    /// Starts a new segment at the next sequence to be written, then deletes every segment whose
    /// records are all at or below `sequence`. Call it only after a snapshot through `sequence`
    /// is durable; to keep the older snapshot usable as a fallback, pass that one's sequence.
    public func removeSegments(through sequence: UInt64) throws {
        let failure = state.withLock { state -> StoreError? in
            precondition(state.phase.hasRecovered, "removeSegments before recover")
            return state.failure
        }
        if let failure { throw failure }
        try writer.withLock { writer throws(StoreError) in
            guard var active = writer else { throw StoreError(.closed, "the log is closed") }
            defer { writer = active }
            if active.current.size > 0 {
                do throws(WriteFailure) {
                    try active.rotate(in: self)
                } catch {
                    if case .fatal(let failure) = error { markFailed(failure) }
                    throw error.storeError
                }
                let synced = active.syncedSequence
                state.withLock { $0.syncedSequence = max($0.syncedSequence, synced) }
            }
            do throws(SystemError) {
                try active.removeSegments(through: sequence, in: self)
            } catch {
                throw StoreError.io(error)
            }
        }
    }

    /// Writes and syncs everything pending (whatever the policy), stops the flusher thread and
    /// closes the segment. Only the first call does anything; later calls return at once.
    /// - Throws: the log's failure, or an I/O error of the final write.
    public func close() throws {
        let (first, wake) = state.withLock { state -> (Bool, Bool) in
            guard state.phase == .open else {
                if !state.phase.hasRecovered { state.phase = .closed }
                return (false, false)
            }
            state.phase = .closing
            let wake = state.flusherIdle
            state.flusherIdle = false
            return (true, wake)
        }
        guard first else { return }
        if wake { flusherWake.signal() }
        if let thread = flusherThread.withLock({ thread -> OSThread? in
            defer { thread = nil }
            return thread
        }) {
            thread.join()
        }
        let closeError: SystemError? = writer.withLock { writer in
            defer { writer = nil }
            do throws(SystemError) { try writer?.current.close() } catch { return error }
            return nil
        }
        let failure = state.withLock { state -> StoreError? in
            state.phase = .closed
            return state.failure
        }
        if let failure { throw failure }
        if let closeError { throw StoreError.io(closeError) }
    }

    /// Turns the log dead after a failed fdatasync: every waiter and every later call fails.
    func markFailed(_ failure: StoreError) {
        let resolved = state.withLock { state -> [Resolved] in
            if state.failure == nil { state.failure = failure }
            return state.resolveAllWaiters(with: state.failure!)
        }
        resolved.notify()
    }
}

// MARK: - Shared state

/// Everything appends, waiters and the flusher share, guarded by `WriteAheadLog.state`.
struct LogState {
    enum Phase {
        case new, recovering, open, closing, closed

        /// `recover` has finished (appends and waits are allowed to ask).
        var hasRecovered: Bool { self == .open || self == .closing || self == .closed }
    }

    var phase = Phase.new
    /// Set once, never cleared: the log is dead (a failed fdatasync, or a failed final write).
    var failure: StoreError?
    /// Encoded records not yet handed to the flusher, in sequence order.
    var pending: [UInt8] = []
    var pendingFirstSequence: UInt64 = 1
    var nextSequence: UInt64 = 1
    var writtenSequence: UInt64 = 0
    var syncedSequence: UInt64 = 0
    var waiters: [Waiter] = []
    /// The flusher is asleep (or about to be) and needs a signal.
    var flusherIdle = false
    /// A write failed; do not retry until someone waits (avoids spinning on a full disk).
    var retryAwaitsDemand = false
    /// Next background fdatasync under `everysec`.
    var syncDeadline = DispatchTime.now()

    /// Removes every waiter, each to be told `error`.
    mutating func resolveAllWaiters(with error: StoreError) -> [Resolved] {
        defer { waiters.removeAll() }
        return waiters.map { ($0, .failure(error)) }
    }
}

/// A waiter and its outcome, to be told once the log's lock is released.
typealias Resolved = (waiter: Waiter, result: Result<Void, StoreError>)

extension [Resolved] {
    func notify() {
        for (waiter, result) in self { waiter.resolve(result) }
    }
}

/// A wait for a sequence to be durable; the flusher calls `resolve` with the outcome, outside
/// the log's lock.
struct Waiter: Sendable {
    let sequence: UInt64
    let resolve: @Sendable (Result<Void, StoreError>) -> Void
}

/// A thread blocked in `waitUntilDurable` until its waiter is resolved.
final class BlockedWait: Sendable {
    private let semaphore = DispatchSemaphore(value: 0)
    private let outcome = Mutex<Result<Void, StoreError>?>(nil)

    func resolve(_ result: Result<Void, StoreError>) {
        outcome.withLock { $0 = result }
        semaphore.signal()
    }

    func wait() throws(StoreError) {
        semaphore.wait()
        try outcome.withLock { $0 }!.get()
    }
}
