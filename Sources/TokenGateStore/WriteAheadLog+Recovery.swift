// Recovery: read every segment in order, hand each record after the snapshot to the store, and
// leave the files ready for appending. A torn last record is a normal crash artefact and is cut
// off with a warning (its bytes kept aside); damage anywhere else stops startup with the file and
// byte offset, unless the operator asked for repair, which cuts the log at the first bad record.

import Dispatch

extension WriteAheadLog {
    /// Reads every segment in order and calls `apply` for each record with a sequence above
    /// `afterSequence` (the snapshot's last sequence), then opens the log for appending.
    ///
    /// A torn last record of the last segment (short header or body, or a bad checksum with no
    /// intact record after it) is truncated away, its bytes copied to
    /// `<directory>/torn-<sequence>-<unix time>.bin`, with one warning. Any other bad record, a
    /// sequence out of order, or records missing after `afterSequence` throws `.corrupt` naming
    /// the file and byte offset, unless `repair` is true: then the log is cut at the first bad
    /// record, everything after it copied to `cut-…` files, and a warning says so.
    /// Must be called exactly once, before `append`.
    public func recover(
        afterSequence: UInt64, repair: Bool, _ apply: (WALRecord) throws -> Void
    ) throws -> RecoveryReport {
        try recover(afterSequence: afterSequence, repair: repair) { _, sequence, segment, body in
            try apply(WALRecord(sequence: sequence, body: Array(segment[body])))
        }
    }

    /// `recover`, handing each record as its segment's first sequence (which names the segment),
    /// its sequence, the bytes of its whole segment and the range of its body in them, so that
    /// nothing is copied per record.
    public func recover(
        afterSequence: UInt64, repair: Bool,
        _ apply: (_ segmentFirstSequence: UInt64, _ sequence: UInt64, _ segment: [UInt8], _ body: Range<Int>) throws -> Void
    ) throws -> RecoveryReport {
        state.withLock { state in
            precondition(state.phase == .new, "WriteAheadLog.recover must be called once, first")
            state.phase = .recovering
        }
        do {
            var pass = RecoveryPass(log: self, afterSequence: afterSequence, repair: repair)
            try pass.run(try listSegments(), apply)
            try openForAppending(after: &pass)
            return pass.report
        } catch {
            state.withLock { $0.phase = .new }
            throw error
        }
    }

    /// The segment files of the directory, oldest first.
    func listSegments() throws(StoreError) -> [Segment] {
        do throws(SystemError) {
            return try fileSystem.list(directory)
                .compactMap { LogFormat.parseSegmentName($0).map(Segment.init(firstSequence:)) }
                .sorted { $0.firstSequence < $1.firstSequence }
        } catch {
            throw StoreError.io(error)
        }
    }

    /// Opens the segment new records go to, syncs it (making replayed and truncated content
    /// durable), and starts the flusher.
    private func openForAppending(after pass: inout RecoveryPass) throws {
        let logNext = pass.nextSequence ?? pass.afterSequence + 1
        let next = max(logNext, pass.afterSequence + 1)
        var segments = pass.kept
        let current: any AppendFile
        do throws(SystemError) {
            if let last = segments.last, logNext == next {
                current = try fileSystem.openAppend(path(last.name))
            } else {
                if !segments.isEmpty {
                    pass.report.warnings.append(
                        "the log ends at sequence \(logNext - 1), before the snapshot's \(next - 1); "
                            + "continuing at \(next) in a new segment")
                }
                let segment = Segment(firstSequence: next)
                current = try fileSystem.openAppend(path(segment.name))
                try fileSystem.syncDirectory(directory)
                segments.append(segment)
            }
        } catch {
            throw StoreError.io(error)
        }
        do throws(SystemError) {
            try current.sync()
        } catch {
            throw StoreError(.failed, "\(error) while opening the log")
        }
        writer.withLock { writer in
            writer = SegmentWriter(
                segments: segments, current: current, writtenSequence: next - 1, syncedSequence: next - 1)
        }
        state.withLock { state in
            state.phase = .open
            state.nextSequence = next
            state.pendingFirstSequence = next
            state.writtenSequence = next - 1
            state.syncedSequence = next - 1
            state.syncDeadline = DispatchTime.now() + .nanoseconds(Int(StoreLimits.everysecIntervalNanoseconds))
        }
        pass.report.lastSequence = next - 1
        let thread = try OSThread.spawn { [self] in runFlusher() }
        flusherThread.withLock { $0 = thread }
    }
}

/// The walk over the segments during recovery, and the cuts it makes.
struct RecoveryPass {
    let log: WriteAheadLog
    let afterSequence: UInt64
    let repair: Bool
    var report = RecoveryReport(
        recordsReplayed: 0, lastSequence: 0, truncatedTailBytes: 0, tailCopyPath: nil, warnings: [])
    /// Segments that remain, oldest first.
    var kept: [Segment] = []
    /// The sequence the next record must carry; nil before the first segment.
    var nextSequence: UInt64?

    init(log: WriteAheadLog, afterSequence: UInt64, repair: Bool) {
        self.log = log
        self.afterSequence = afterSequence
        self.repair = repair
    }

    mutating func run(_ segments: [Segment], _ apply: (UInt64, UInt64, [UInt8], Range<Int>) throws -> Void) throws {
        for (index, segment) in segments.enumerated() {
            if let reason = startProblem(segment) {
                guard repair else { throw StoreError.corrupt(segment.name, 0, reason) }
                try cut(segments, from: index, at: 0, reason: reason, bytes: try read(segment))
                return
            }
            let bytes = try read(segment)
            let after = afterSequence
            var replayed = 0
            let scan = try LogFormat.scan(
                bytes, firstSequence: segment.firstSequence, recordBytesMax: log.recordBytesMax
            ) { sequence, range in
                guard sequence > after else { return }
                try apply(segment.firstSequence, sequence, bytes, range)
                replayed += 1
            }
            report.recordsReplayed += replayed
            let segmentNext = segment.firstSequence + UInt64(scan.records)
            guard let problem = scan.problem else {
                kept.append(segment)
                nextSequence = segmentNext
                continue
            }
            if index == segments.count - 1 && problem.couldBeTorn {
                try cutTornTail(segment, bytes, problem, sequence: segmentNext)
                kept.append(segment)
                nextSequence = segmentNext
                return
            }
            guard repair else { throw StoreError.corrupt(segment.name, problem.offset, problem.reason) }
            if problem.offset > 0 {
                kept.append(segment)
                nextSequence = segmentNext
            }
            try cut(segments, from: index, at: problem.offset, reason: problem.reason, bytes: bytes)
            return
        }
    }

    /// Why `segment` cannot follow the segments before it, or nil when it can.
    mutating func startProblem(_ segment: Segment) -> String? {
        let first = segment.firstSequence
        guard let next = nextSequence else {
            if first <= afterSequence + 1 { return nil }
            return "the log starts at sequence \(first) but the snapshot ends at \(afterSequence): "
                + "records \(afterSequence + 1) to \(first - 1) are missing"
        }
        if first == next { return nil }
        if first > next && first <= afterSequence + 1 {
            report.warnings.append(
                "sequence jumps from \(next - 1) to \(first) at \(segment.name); "
                    + "the snapshot through \(afterSequence) covers the gap")
            return nil
        }
        return "the segment starts at sequence \(first) but the previous one ends at \(next - 1)"
    }

    func read(_ segment: Segment) throws(StoreError) -> [UInt8] {
        do throws(SystemError) {
            return try log.fileSystem.readAll(log.path(segment.name))
        } catch {
            throw StoreError.io(error)
        }
    }

    /// Copies a torn last record aside, then truncates it away.
    mutating func cutTornTail(_ segment: Segment, _ bytes: [UInt8], _ problem: ScanProblem, sequence: UInt64) throws {
        let tail = Array(bytes[problem.offset...])
        let copy = log.path("torn-\(sequence)-\(unixTimeSeconds()).bin")
        do throws(SystemError) {
            try log.fileSystem.writeAtomically(copy, tail)
            try log.fileSystem.truncate(log.path(segment.name), to: problem.offset)
        } catch {
            throw StoreError.io(error)
        }
        report.truncatedTailBytes = tail.count
        report.tailCopyPath = copy
        report.warnings.append(
            "\(segment.name): torn last record at byte \(problem.offset) (\(problem.reason)); "
                + "\(tail.count) bytes truncated, copied to \(copy)")
    }

    /// Repair: keeps segment `index` up to `offset` and removes everything after it, copying
    /// every removed byte to a `cut-<sequence>-<unix time>-<segment>.bin` file first.
    mutating func cut(_ segments: [Segment], from index: Int, at offset: Int, reason: String, bytes: [UInt8]) throws {
        let stamp = "cut-\(nextSequence ?? afterSequence + 1)-\(unixTimeSeconds())-"
        var copies: [String] = []
        do throws(SystemError) {
            for (position, segment) in segments[index...].enumerated() {
                let content =
                    position == 0 ? Array(bytes[offset...]) : try log.fileSystem.readAll(log.path(segment.name))
                guard !content.isEmpty else { continue }
                let copy = log.path(stamp + segment.name + ".bin")
                try log.fileSystem.writeAtomically(copy, content)
                copies.append(copy)
            }
            for (position, segment) in segments[index...].enumerated() {
                if position == 0 && offset > 0 {
                    try log.fileSystem.truncate(log.path(segment.name), to: offset)
                } else {
                    try log.fileSystem.remove(log.path(segment.name))
                }
            }
            try log.fileSystem.syncDirectory(log.directory)
        } catch {
            throw StoreError.io(error)
        }
        report.warnings.append(
            "repair: cut the log at \(segments[index].name) byte \(offset) (\(reason)); "
                + "the removed bytes are in \(copies.isEmpty ? "no file (none)" : copies.joined(separator: ", "))")
    }
}
