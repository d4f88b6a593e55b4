// Snapshots of the ledger while it keeps serving. The snapshot reads the log's last sequence S
// first, then visits the shops one at a time: under the shop's shard lock it applies retention
// and takes a copy of the shop's value (O(1): its arrays are shared copy-on-write); the facts
// are built, encoded and written after the lock is released. A gate call therefore waits for a
// snapshot at most one dictionary lookup, never for the encoding or the disk.
//
// The snapshot is fuzzy: it holds every fact at or below S (each was applied under its shard
// lock before S was read, and the copy takes that lock later) and possibly some above S. Replay
// after S applies those again, so every fact that can be logged must be idempotent to apply
// (usage by event id, billing by period, tier assignment as a set; a helper adding a fact kind
// must keep this). Month aggregates appear only in snapshots, never in the log.

import Synchronization
import TokenGateClock
import TokenGateCore

/// What one snapshot did: for the daemon's log line and for measuring the pause it causes.
public struct SnapshotSummary: Sendable {
    /// The snapshot covers the log through this sequence.
    public var sequence: UInt64
    /// Facts (entries) in the snapshot.
    public var facts: Int
    /// Size of the snapshot file in bytes.
    public var bytes: Int
    /// Raw usage events retention dropped (their months are kept as aggregates).
    public var eventsDropped: Int
    /// The snapshot file's path.
    public var file: String
    /// Wall time of the whole snapshot: copy, encode, write, log cleanup.
    public var durationMicros: UInt64
    /// Longest time the snapshot held one shard lock: the most it delayed any call.
    public var longestLockHoldMicros: UInt64
}

extension Ledger {
    /// Writes a snapshot without applying retention (kept for callers of the first API).
    @discardableResult
    public func writeSnapshot() throws -> (sequence: UInt64, facts: Int) {
        let summary = try writeSnapshot(now: nil)
        return (summary.sequence, summary.facts)
    }

    /// Writes a snapshot of every shop's durable state while the ledger keeps serving, then
    /// deletes the log segments the previous snapshot covers (so falling back to it, should this
    /// one be damaged, still finds the log it needs). With `now`, raw events of months before
    /// `Retention.oldestKeptMonth` are dropped first (their month totals are kept). One snapshot
    /// runs at a time; a second caller waits for the first.
    /// - Throws: `StoreError` (`.failed` when the log is dead, `.io` when the disk refuses).
    @discardableResult
    public func writeSnapshot(now: UnixMillis?) throws -> SnapshotSummary {
        try snapshotLock.withLock { _ throws -> SnapshotSummary in
            do {
                let summary = try writeSnapshotLocked(now: now)
                log.metrics.snapshotFailing.store(false, ordering: .relaxed)
                return summary
            } catch {
                log.metrics.snapshotFailures.add(1, ordering: .relaxed)
                log.metrics.snapshotFailing.store(true, ordering: .relaxed)
                throw error
            }
        }
    }

    /// The records logged since the newest snapshot.
    public var recordsSinceSnapshot: UInt64 {
        let last = log.lastSequence
        let covered = snapshotSequence.load(ordering: .relaxed)
        return last > covered ? last - covered : 0
    }

    private func writeSnapshotLocked(now: UnixMillis?) throws -> SnapshotSummary {
        let started = MonotonicClock.nanoseconds()
        // Read before any shard is visited: every fact at or below it is applied by then.
        let sequence = log.lastSequence
        let dropBefore = now.map { Retention.oldestKeptMonth(now: $0, months: retentionMonths) }
        var builder = SnapshotBuilder()
        var copy = SnapshotCopy()
        // The run-time configuration changes first, so replay rebuilds the configuration before
        // anything priced under it (read after `sequence`, like the shops).
        for fact in configurationFacts() { try builder.append(encoding.encode(fact)) }
        for shard in shards {
            try copyShops(of: shard, dropBefore: dropBefore, into: &builder, &copy)
        }
        // The snapshot must not claim records the log could still lose.
        try log.waitUntilDurable(sequence)
        let previous = try Snapshot.sequences(directory: directory, fileSystem: fileSystem).first { $0 < sequence } ?? 0
        let facts = builder.entryCount
        let bytes = builder.finish(lastSequence: sequence)
        try Snapshot.write(directory: directory, lastSequence: sequence, bytes: bytes, fileSystem: fileSystem)
        snapshotSequence.store(sequence, ordering: .relaxed)
        try log.removeSegments(through: previous)
        log.metrics.snapshotDuration.record(since: started)
        return SnapshotSummary(
            sequence: sequence, facts: facts, bytes: bytes.count, eventsDropped: copy.eventsDropped,
            file: Snapshot.join(directory, Snapshot.fileName(sequence)),
            durationMicros: (MonotonicClock.nanoseconds() - started) / 1_000,
            longestLockHoldMicros: copy.longestLockHoldNanoseconds / 1_000)
    }

    /// Appends the facts of every shop of `shard` to `builder`. The shard's lock is held to list
    /// its shops; then, per shop, to apply retention and take its few non-event facts and its
    /// event count; then per `StoreLimits.snapshotEventsPerLock` events, to rebuild them. The
    /// snapshot never holds a copy of a shop's storage: with one (copy on write), every writer
    /// of that shop duplicated the shop's whole event arrays under the lock while the snapshot
    /// encoded. Events are append-only (only a snapshot, under `snapshotLock`, drops any), so the
    /// positions below the count taken stay valid between slices; events appended after it were
    /// logged after `sequence` and are replayed from the log.
    private func copyShops(
        of shard: Shard, dropBefore: MonthKey?, into builder: inout SnapshotBuilder, _ copy: inout SnapshotCopy
    ) throws {
        let ids = shard.shops.withLock { shops in copy.timed { Array(shops.keys) } }
        var droppedIDs: [Int] = []
        for id in ids {
            let head = shard.shops.withLock { shops in
                copy.timed { () -> (before: [Fact], after: [Fact], events: Int, dropped: Int)? in
                    guard let index = shops.index(forKey: id) else { return nil }
                    let dropped = dropBefore.map { shops.values[index].dropEvents(before: $0, droppedIDHashes: &droppedIDs) } ?? 0
                    return (shops.values[index].durableFactsBeforeEvents, shops.values[index].durableFactsAfterEvents,
                            shops.values[index].eventCount, dropped)
                }
            }
            // Outside the shard's lock (the id index's locks come first).
            for hash in droppedIDs { eventIDs.remove(hash, shopID: id) }
            droppedIDs.removeAll(keepingCapacity: true)
            guard let head else { continue }
            copy.eventsDropped += head.dropped
            for fact in head.before { try builder.append(encoding.encode(fact)) }
            var position = 0
            while position < head.events {
                let end = min(position + StoreLimits.snapshotEventsPerLock, head.events)
                let slice = shard.shops.withLock { shops in
                    copy.timed { () -> [UsageEvent] in
                        guard let index = shops.index(forKey: id) else { return [] }
                        return (position..<end).map { shops.values[index].event(at: $0) }
                    }
                }
                guard !slice.isEmpty else { break }
                for event in slice { try builder.append(encoding.encode(.usage(event))) }
                position = end
            }
            for fact in head.after { try builder.append(encoding.encode(fact)) }
        }
    }
}

/// Counters of one snapshot's copy phase.
private struct SnapshotCopy {
    var eventsDropped = 0
    var longestLockHoldNanoseconds: UInt64 = 0

    /// Runs `body` (inside a shard lock) and keeps the longest time it took.
    mutating func timed<Result>(_ body: () -> Result) -> Result {
        let start = MonotonicClock.nanoseconds()
        let result = body()
        longestLockHoldNanoseconds = max(longestLockHoldNanoseconds, MonotonicClock.nanoseconds() - start)
        return result
    }
}
