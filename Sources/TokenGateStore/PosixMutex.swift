// A lock over glibc's default pthread mutex, for the write-ahead log's shared state, which every
// writing call takes twice (append, then wait) while the flusher takes it per batch, and for
// fleet mode's lease shards, which every gate call takes inside a shop's lock. Under that
// contention (64 connections on 2 cores) Swift's Mutex spins and then queues on a
// priority-inheritance futex; a waiter there burnt CPU while the holder was descheduled
// (tokengate-bench, perf). A plain pthread mutex sleeps at once and wakes one waiter.
// Ownership: the mutex lives in memory this object allocates in `init` and frees in `deinit`;
// `value` is touched only between lock and unlock. This is a syscall-wrapper file.
import Glibc

/// A value guarded by a pthread mutex; the same `withLock` shape as Synchronization's Mutex.
public final class PosixMutex<Value>: @unchecked Sendable {
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private var value: Value

    public init(_ value: Value) {
        mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        let status = pthread_mutex_init(mutex, nil)
        precondition(status == 0, "pthread_mutex_init failed: \(status)")
        self.value = value
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deinitialize(count: 1)
        mutex.deallocate()
    }

    /// Runs `body` with exclusive access to the value.
    public func withLock<Result, Failure: Error>(_ body: (inout Value) throws(Failure) -> Result) throws(Failure) -> Result {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body(&value)
    }
}
