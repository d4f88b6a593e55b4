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
/// are held as plain data with their text in the bytes read (`buffers`), lent to
/// `apply(usage:in:)` without copying them.
struct RecoveryBatch: Sendable {
    /// Per fact: `n >= 0` is `usages[n]`, `n < 0` is `others[-n - 1]`.
    var entries: [Int32] = []
    var usages: [UsageEventBytes] = []
    /// Per usage event: the index in `buffers` of the bytes its text is in.
    var usageBuffers: [UInt32] = []
    /// Log segments (or snapshot entries) the usage events' text is in.
    var buffers: [[UInt8]] = []
    var others: [Fact] = []
    var shopIDs: [String] = []
    var shopHashes: [Int] = []
    var workers: [UInt8] = []

    var isEmpty: Bool { entries.isEmpty }

    /// Room for a whole batch, so that filling one never reallocates.
    mutating func reserve(_ facts: Int) {
        entries.reserveCapacity(facts)
        usages.reserveCapacity(facts)
        usageBuffers.reserveCapacity(facts)
        shopIDs.reserveCapacity(facts)
        shopHashes.reserveCapacity(facts)
        workers.reserveCapacity(facts)
    }

    /// Adds one fact of `shopID`, whose hash is `hash`, for `worker`; a usage event's text is
    /// in `buffers[buffer]`.
    mutating func append(_ fact: RecoveredFact, buffer: UInt32, shopID: String, hash: Int, worker: UInt8) {
        switch fact {
        case .usage(let event):
            entries.append(Int32(usages.count))
            usages.append(event)
            usageBuffers.append(buffer)
        case .other(let other):
            entries.append(-Int32(others.count) - 1)
            others.append(other)
        }
        shopIDs.append(shopID)
        shopHashes.append(hash)
        workers.append(worker)
    }
}

/// The batch being filled and the bytes the facts now arriving were read from.
struct BatchFilling {
    var batch = RecoveryBatch()
    var buffer: [UInt8] = []
    /// Index of `buffer` in `batch.buffers`; nil until a usage event of it joins the batch.
    var bufferIndex: UInt32?

    /// Facts from now on come from `buffer`.
    mutating func switchBuffer(_ buffer: [UInt8]) {
        self.buffer = buffer
        bufferIndex = nil
    }

    /// The index in `batch.buffers` of the current buffer, adding it first when needed.
    mutating func currentBufferIndex() -> UInt32 {
        if let bufferIndex { return bufferIndex }
        batch.buffers.append(buffer)
        let index = UInt32(batch.buffers.count - 1)
        bufferIndex = index
        return index
    }

    /// Starts a new batch (the current buffer stays current).
    mutating func restart(reserving facts: Int) {
        batch = RecoveryBatch()
        batch.reserve(facts)
        bufferIndex = nil
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
    private var pending = BatchFilling()

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
        pending.restart(reserving: StoreLimits.recoveryBatchFacts)
    }

    /// Queues `fact`, read from `buffer` (a new one when `newBuffer`: its first fact, or any
    /// fact of a snapshot entry); configuration changes are applied at once, in order, here.
    func add(_ fact: RecoveredFact, from buffer: [UInt8], newBuffer: Bool) {
        if newBuffer { pending.switchBuffer(buffer) }
        let shopID: String
        var bufferIndex: UInt32 = 0
        switch fact {
        case .usage(let event):
            shopID = UsageEventBytes.text(event.shopID, in: buffer)
            bufferIndex = pending.currentBufferIndex()
        case .other(.configChange(let change)):
            ledger.recoverConfigChange(change)
            return
        case .other(let other):
            shopID = other.shopID
        }
        let hash = Ledger.shopHash(shopID)
        let worker = UInt8(ledger.shardIndex(forHash: hash) % queues.count)
        pending.batch.append(fact, buffer: bufferIndex, shopID: shopID, hash: hash, worker: worker)
        if pending.batch.entries.count >= StoreLimits.recoveryBatchFacts { flush() }
    }

    /// Applies everything queued and stops the workers; returns when every fact is applied.
    func finish() {
        flush()
        for queue in queues { queue.send(nil) }
        for thread in threads { thread.join() }
        threads = []
    }

    private func flush() {
        guard !pending.batch.isEmpty else { return }
        let batch = SharedBatch(pending.batch)
        for queue in queues { queue.send(batch) }
        pending.restart(reserving: StoreLimits.recoveryBatchFacts)
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
                    // Through spans, each event and its bytes are lent to `apply(usage:in:)`
                    // without a copy or a retain of the shared buffer.
                    let usages = batch.usages.span
                    let buffers = batch.buffers.span
                    for position in start..<end {
                        let entry = batch.entries[Int(order[position] & indexMask)]
                        if entry >= 0 {
                            shop.apply(usage: usages[Int(entry)], in: buffers[Int(batch.usageBuffers[Int(entry)])])
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
