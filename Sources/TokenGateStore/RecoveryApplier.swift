// Parallel replay for recovery. The recovering thread reads, checks and decodes records; facts
// go in batches to worker threads, each of which applies the facts of its own shards. A shop
// lives in one shard, so each shop's facts are applied by one worker in log order, which is
// all replay needs: facts of different shops never depend on each other, and configuration
// changes (which touch no shop) are applied by the recovering thread in log order. Issue 6:
// replay on one thread left the second core idle while applying was three quarters of the time.
//
// A worker applies a batch shop by shop (each shop's facts still in log order): a log
// interleaves thousands of shops, and applying in log order missed the cache on every shop's
// event array, id index and string table for every fact (perf annotate: four misses per event).

import Dispatch
import Synchronization
import TokenGateCore

extension StoreLimits {
    /// Why 2: the daemon is sized for 2 cores; the recovering thread decodes meanwhile.
    static let recoveryWorkers = 2
    /// Facts per batch: large enough that a shop of a 10,000-shop log comes up several times
    /// per batch (grouping them is what saves the cache misses), small enough to stay ~10 MB.
    static let recoveryBatchFacts = 131_072
    /// Batches queued per worker before the decoder waits: bounds the memory replay holds.
    static let recoveryBatchesQueuedMax = 2
}

/// Facts with each one's shop, the hash of its shop and the worker that applies it (kept
/// apart so that grouping reads them without copying facts). Usage events, nearly every fact,
/// are held with their text in the log's bytes, lent to `apply(usage:)` without copying them.
struct RecoveryBatch: Sendable {
    /// Per fact: `n >= 0` is `usages[n]`, `n < 0` is `others[-n - 1]`.
    var entries: [Int32] = []
    var usages: [UsageEventBytes] = []
    var others: [Fact] = []
    var shopIDs: [String] = []
    var shopHashes: [Int] = []
    var workers: [UInt8] = []

    var isEmpty: Bool { entries.isEmpty }

    /// Room for a whole batch, so that filling one never reallocates.
    mutating func reserve(_ facts: Int) {
        entries.reserveCapacity(facts)
        usages.reserveCapacity(facts)
        shopIDs.reserveCapacity(facts)
        shopHashes.reserveCapacity(facts)
        workers.reserveCapacity(facts)
    }

    /// Adds one fact of `shopID`, whose hash is `hash`, for `worker`.
    mutating func append(_ fact: RecoveredFact, shopID: String, hash: Int, worker: UInt8) {
        switch fact {
        case .usage(let event):
            entries.append(Int32(usages.count))
            usages.append(event)
        case .other(let other):
            entries.append(-Int32(others.count) - 1)
            others.append(other)
        }
        shopIDs.append(shopID)
        shopHashes.append(hash)
        workers.append(worker)
    }
}

/// One batch shared by every worker (each applies its own facts of it).
final class SharedBatch: Sendable {
    let batch: RecoveryBatch

    init(_ batch: RecoveryBatch) {
        self.batch = batch
    }
}

/// A bounded single-producer, single-consumer queue of batches; nil ends the stream.
final class BatchQueue: Sendable {
    private let batches = Mutex<[SharedBatch?]>([])
    private let filled = DispatchSemaphore(value: 0)
    private let free = DispatchSemaphore(value: StoreLimits.recoveryBatchesQueuedMax)

    func send(_ batch: SharedBatch?) {
        free.wait()
        batches.withLock { $0.append(batch) }
        filled.signal()
    }

    func receive() -> SharedBatch? {
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
    /// The batch being filled: one stored property, so that adding a fact makes one access to
    /// the class's state, not one per array (exclusivity checks, callgrind).
    private var pending = RecoveryBatch()

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
        pending.reserve(StoreLimits.recoveryBatchFacts)
    }

    /// Queues `fact` (configuration changes are applied at once, in order, here).
    func add(_ fact: RecoveredFact) {
        let shopID: String
        switch fact {
        case .usage(let event):
            shopID = event.text(event.shopID)
        case .other(.configChange(let change)):
            ledger.recoverConfigChange(change)
            return
        case .other(let other):
            shopID = other.shopID
        }
        let hash = Ledger.shopHash(shopID)
        let worker = UInt8(ledger.shardIndex(forHash: hash) % queues.count)
        pending.append(fact, shopID: shopID, hash: hash, worker: worker)
        if pending.entries.count >= StoreLimits.recoveryBatchFacts { flush() }
    }

    /// Applies everything queued and stops the workers; returns when every fact is applied.
    func finish() {
        flush()
        for queue in queues { queue.send(nil) }
        for thread in threads { thread.join() }
        threads = []
    }

    private func flush() {
        guard !pending.isEmpty else { return }
        let batch = SharedBatch(pending)
        for queue in queues { queue.send(batch) }
        pending = RecoveryBatch()
        pending.reserve(StoreLimits.recoveryBatchFacts)
    }

    private static func work(_ queue: BatchQueue, worker: UInt8, ledger: Ledger) {
        while let shared = queue.receive() {
            let batch = shared.batch
            var order = shopOrder(batch, worker: worker)
            var start = 0
            while start < order.count {
                let shopID = batch.shopIDs[Int(order[start] & indexMask)]
                var end = start + 1
                while end < order.count, order[end] >> 32 == order[start] >> 32,
                    batch.shopIDs[Int(order[end] & indexMask)] == shopID
                {
                    end += 1
                }
                ledger.applyRecovered(shopID: shopID) { shop in
                    // Through a span, each event is lent to `apply(usage:)` without a copy.
                    let usages = batch.usages.span
                    for position in start..<end {
                        let entry = batch.entries[Int(order[position] & indexMask)]
                        if entry >= 0 {
                            shop.apply(usage: usages[Int(entry)])
                        } else {
                            shop.apply(batch.others[Int(-entry - 1)])
                        }
                    }
                }
                start = end
            }
            order.removeAll()
        }
    }

    private static let indexMask: UInt64 = 0xFFFF_FFFF

    /// The worker's facts of `batch` as (top half of the shop hash, index), sorted: each shop's
    /// facts come together and, having one hash, stay in log order among themselves.
    private static func shopOrder(_ batch: RecoveryBatch, worker: UInt8) -> [UInt64] {
        var order: [UInt64] = []
        order.reserveCapacity(batch.entries.count)
        for index in batch.entries.indices where batch.workers[index] == worker {
            let hashHigh = UInt64(UInt(bitPattern: batch.shopHashes[index])) >> 32
            order.append(hashHigh << 32 | UInt64(index))
        }
        sortByTopHalf(&order)
        return order
    }

    /// Sorts `keys`, whose low halves ascend in array order, by their top halves: the order
    /// `sort()` gives them, in four linear passes of 8 bits instead of a merge sort (the sort
    /// was 9% of a worker's instructions, callgrind). Each pass is stable, so keys with one top
    /// half keep their ascending low halves.
    static func sortByTopHalf(_ keys: inout [UInt64]) {
        var scratch = [UInt64](repeating: 0, count: keys.count)
        var starts = [Int](repeating: 0, count: 257)
        for shift in stride(from: UInt64(32), to: 64, by: 8) {
            for bucket in starts.indices { starts[bucket] = 0 }
            for key in keys { starts[Int((key >> shift) & 0xFF) + 1] += 1 }
            for bucket in 1...256 { starts[bucket] += starts[bucket - 1] }
            for key in keys {
                let bucket = Int((key >> shift) & 0xFF)
                scratch[starts[bucket]] = key
                starts[bucket] += 1
            }
            swap(&keys, &scratch)
        }
    }
}

extension Ledger {
    /// Runs `body` on the recovered shop's state in place (created when missing), under its
    /// shard's lock.
    func applyRecovered(shopID: String, _ body: (inout ShopState) -> Void) {
        shard(for: shopID).shops.withLock { shops in
            body(&shops[shopID, default: ShopState(shopID: shopID)])
        }
    }
}
