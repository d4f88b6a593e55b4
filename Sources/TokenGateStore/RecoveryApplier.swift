// Parallel replay for recovery. The recovering thread reads, checks and decodes records; facts
// go in batches to worker threads, each of which applies the facts of its own shards. A shop
// lives in one shard, so each shop's facts are applied by one worker in log order, which is
// all replay needs: facts of different shops never depend on each other, and configuration
// changes (which touch no shop) are applied by the recovering thread in log order. Issue 6:
// replay on one thread left the second core idle while applying was three quarters of the time.

import Dispatch
import Synchronization
import TokenGateCore

extension StoreLimits {
    /// Why 2: the daemon is sized for 2 cores; the recovering thread decodes meanwhile.
    static let recoveryWorkers = 2
    /// Facts per batch: large enough that handing a batch over costs nothing per fact.
    static let recoveryBatchFacts = 8_192
    /// Batches queued per worker before the decoder waits: bounds the memory replay holds.
    static let recoveryBatchesQueuedMax = 4
}

/// Facts with the worker that applies each.
final class RecoveryBatch: Sendable {
    let facts: [Fact]
    let workers: [UInt8]

    init(facts: [Fact], workers: [UInt8]) {
        self.facts = facts
        self.workers = workers
    }
}

/// A bounded single-producer, single-consumer queue of batches; nil ends the stream.
final class BatchQueue: Sendable {
    private let batches = Mutex<[RecoveryBatch?]>([])
    private let filled = DispatchSemaphore(value: 0)
    private let free = DispatchSemaphore(value: StoreLimits.recoveryBatchesQueuedMax)

    func send(_ batch: RecoveryBatch?) {
        free.wait()
        batches.withLock { $0.append(batch) }
        filled.signal()
    }

    func receive() -> RecoveryBatch? {
        filled.wait()
        let batch = batches.withLock { $0.removeFirst() }
        free.signal()
        return batch
    }
}

/// Applies recovered facts on worker threads; `finish` must be called once, also on errors.
final class RecoveryApplier {
    private let ledger: Ledger
    private let queues: [BatchQueue]
    private var threads: [OSThread] = []
    private var facts: [Fact] = []
    private var workers: [UInt8] = []

    init(ledger: Ledger) throws {
        self.ledger = ledger
        queues = (0..<StoreLimits.recoveryWorkers).map { _ in BatchQueue() }
        for (index, queue) in queues.enumerated() {
            do {
                threads.append(try OSThread.spawn { [ledger] in Self.work(queue, worker: UInt8(index), ledger: ledger) })
            } catch {
                finish()
                throw StoreError.io(error)
            }
        }
        facts.reserveCapacity(StoreLimits.recoveryBatchFacts)
        workers.reserveCapacity(StoreLimits.recoveryBatchFacts)
    }

    /// Queues `fact` (configuration changes are applied at once, in order, here).
    func add(_ fact: Fact) {
        if case .configChange(let change) = fact {
            ledger.recoverConfigChange(change)
            return
        }
        facts.append(fact)
        workers.append(UInt8(ledger.shardIndex(for: fact.shopID) % queues.count))
        if facts.count >= StoreLimits.recoveryBatchFacts { flush() }
    }

    /// Applies everything queued and stops the workers; returns when every fact is applied.
    func finish() {
        flush()
        for queue in queues { queue.send(nil) }
        for thread in threads { thread.join() }
        threads = []
    }

    private func flush() {
        guard !facts.isEmpty else { return }
        let batch = RecoveryBatch(facts: facts, workers: workers)
        for queue in queues { queue.send(batch) }
        facts.removeAll(keepingCapacity: true)
        workers.removeAll(keepingCapacity: true)
    }

    private static func work(_ queue: BatchQueue, worker: UInt8, ledger: Ledger) {
        while let batch = queue.receive() {
            for index in batch.facts.indices where batch.workers[index] == worker {
                ledger.applyRecovered(batch.facts[index])
            }
        }
    }
}
