// Where a caller continues after its answer arrives. By default a resumed call hops from the
// connection's reader thread to Swift's global pool, which wakes a pool thread for every call
// (the scheduler's wake-ups, not the work, were most of the client's cost at 64 connections).
// A task that prefers this executor (`withTaskExecutorPreference(client.executor)`, or
// `group.addTask(executorPreference: client.executor)`) is instead continued on the reader
// thread itself, right after the read that carried its answer, up to its next suspension: the
// reader reads, the caller runs and sends its next call, the reader reads again, as a
// thread-per-connection C client does. Jobs enqueued from any other thread (the first hop into
// the preference, other async work the task awaits) run on the global pool as usual.
import Dispatch
import Glibc
import Synchronization

/// Runs a preferring task's continuations on the thread that read its answer (see the file
/// comment). Code running there holds up every other answer on the connection until it
/// suspends again: keep it short, and never block it waiting for another TokenGate call.
public final class ReaderExecutor: TaskExecutor {
    /// Jobs the reader thread enqueued while delivering answers; it runs them after the read.
    private let ready = Mutex<[UnownedJob]>([])
    /// The reading thread (`pthread_self`), 0 when no connection is reading.
    private let reader = Atomic<UInt>(0)

    init() {}

    public func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        if isReaderThread {
            ready.withLock { $0.append(job) }
            return
        }
        let executor = asUnownedTaskExecutor()
        DispatchQueue.global().async { job.runSynchronously(on: executor) }
    }

    /// Makes the calling thread the one that runs resumed callers.
    func becomeReader() {
        reader.store(UInt(pthread_self()), ordering: .relaxed)
    }

    /// Stops running resumed callers on the calling thread, if it was the reader.
    func resignReader() {
        _ = reader.compareExchange(expected: UInt(pthread_self()), desired: 0, ordering: .relaxed)
    }

    /// True on the thread that continues preferring callers (the connection's reader).
    public var isReaderThread: Bool { reader.load(ordering: .relaxed) == UInt(pthread_self()) }

    /// Runs every job the reader thread enqueued, including those enqueued while running them,
    /// calling `flush` after every `interval` jobs and once at the end. `spare` is the reader's
    /// own empty array, swapped with the queue so that neither is reallocated per read.
    func runReady(spare: inout [UnownedJob], flushingEvery interval: Int, _ flush: () -> Void) {
        let executor = asUnownedTaskExecutor()
        var sinceFlush = 0
        while true {
            ready.withLock { swap(&$0, &spare) }
            if spare.isEmpty { break }
            for job in spare {
                job.runSynchronously(on: executor)
                sinceFlush += 1
                if sinceFlush == interval {
                    flush()
                    sinceFlush = 0
                }
            }
            spare.removeAll(keepingCapacity: true)
        }
        flush()
    }
}
