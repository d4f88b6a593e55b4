// The log under disk faults: a failed fdatasync kills it for good (never retried); a failed or
// torn write fails only that batch's waiters and leaves the file contiguous; and a power loss
// at a random moment never loses a record whose wait returned.

import Glibc
import Synchronization
import XCTest

@testable import TokenGateStore
import TokenGateTestSupport

final class FaultTests: XCTestCase {
    let directory = "/wal"

    func openLog(_ disk: SimulatedFileSystem, policy: FsyncPolicy = .always, segmentBytesMax: Int = 1 << 20) throws
        -> WriteAheadLog
    {
        try WriteAheadLog(directory: directory, policy: policy, segmentBytesMax: segmentBytesMax, fileSystem: disk)
    }

    func testFailedSyncKillsTheLogAndIsNeverRetried() throws {
        let disk = SimulatedFileSystem()
        let log = try openLog(disk)
        _ = try recoverAll(log)
        try log.waitUntilDurable(try log.append(body(1)))
        disk.setSyncError(EIO)
        let outcomes = Mutex<[StoreError.Kind?]>([])
        let sequences = try (2...9).map { try log.append(body($0)) }
        XCTAssertTrue(
            runThreads(sequences.count, timeout: 20) { index in
                let kind = storeErrorKind { try log.waitUntilDurable(sequences[index]) }
                outcomes.withLock { $0.append(kind) }
            })
        XCTAssertEqual(outcomes.withLock { $0 }, Array(repeating: .failed, count: sequences.count))
        let syncs = disk.syncCount
        XCTAssertEqual(storeErrorKind { _ = try log.append(body(10)) }, .failed)
        XCTAssertEqual(storeErrorKind { try log.waitUntilDurable(1) }, .failed)
        XCTAssertEqual(storeErrorKind { try log.removeSegments(through: 1) }, .failed)
        disk.setSyncError(nil)
        XCTAssertEqual(storeErrorKind { _ = try log.append(body(11)) }, .failed, "a healed disk does not revive it")
        XCTAssertEqual(storeErrorKind { try log.close() }, .failed)
        XCTAssertEqual(disk.syncCount, syncs, "the failed fdatasync was not retried")
        XCTAssertEqual(log.durableSequence, 1)
    }

    func testFailedBackgroundSyncUnderEverysecKillsTheLog() throws {
        let disk = SimulatedFileSystem()
        let log = try openLog(disk, policy: .everysec)
        _ = try recoverAll(log)
        disk.setSyncError(EIO)
        try log.waitUntilDurable(try log.append(body(1)))  // written: enough for everysec
        let deadline = Date().addingTimeInterval(5)
        var kind: StoreError.Kind?
        while kind == nil && Date() < deadline {
            kind = storeErrorKind { _ = try log.append(body(2)) }
            usleep(20_000)
        }
        XCTAssertEqual(kind, .failed, "the background fdatasync failed within about a second")
        XCTAssertEqual(storeErrorKind { try log.close() }, .failed)
    }

    func testNoSpaceFailsThatBatchAndTheLogStaysContiguous() throws {
        let disk = SimulatedFileSystem()
        let log = try openLog(disk)
        _ = try recoverAll(log)
        try log.waitUntilDurable(try log.append(body(1)))
        let sizeBefore = disk.contents(directory + "/" + LogFormat.segmentName(1))!.count

        disk.setWriteError(ENOSPC)
        let two = try log.append(body(2))
        let three = try log.append(body(3))
        guard case .io(let error)? = storeErrorKind({ try log.waitUntilDurable(three) }) else {
            return XCTFail("the waiter of a failed write gets an I/O error")
        }
        XCTAssertEqual(error.errno, ENOSPC)
        XCTAssertTrue(storeErrorKind { try log.waitUntilDurable(two) }?.isIO ?? false, "retried on demand, fails again")
        XCTAssertEqual(disk.contents(directory + "/" + LogFormat.segmentName(1))!.count, sizeBefore)

        // A write torn by ENOSPC part-way is cut back too.
        disk.setWriteError(nil)
        disk.tearNextWrite(at: 7)
        XCTAssertTrue(storeErrorKind { try log.waitUntilDurable(three) }?.isIO ?? false)
        XCTAssertEqual(disk.contents(directory + "/" + LogFormat.segmentName(1))!.count, sizeBefore)

        // Space is back: new records go in, and the unacknowledged ones are written before them.
        let four = try log.append(body(4))
        XCTAssertEqual(four, 4)
        try log.waitUntilDurable(four)
        try log.waitUntilDurable(two)
        try log.close()
        let reopened = try openLog(disk)
        let (records, report) = try recoverAll(reopened)
        XCTAssertEqual(records, (1...4).map { WALRecord(sequence: UInt64($0), body: body($0)) })
        XCTAssertEqual(report.warnings, [])
        try reopened.close()
    }

    func testNoSpaceWhileStartingASegmentIsRetried() throws {
        let disk = SimulatedFileSystem()
        let log = try openLog(disk, segmentBytesMax: 100)
        _ = try recoverAll(log)
        for seed in 1...3 { try log.waitUntilDurable(try log.append(body(seed))) }
        disk.tearNextWrite(at: 0)
        let sequence = try log.append([UInt8](repeating: 9, count: 90))
        XCTAssertTrue(storeErrorKind { try log.waitUntilDurable(sequence) }?.isIO ?? false)
        try log.waitUntilDurable(sequence)
        try log.close()
        let reopened = try openLog(disk, segmentBytesMax: 100)
        XCTAssertEqual(try recoverAll(reopened).records.map(\.sequence), [1, 2, 3, 4])
        try reopened.close()
    }

    /// Writers run until a simulated power loss at a random moment; every acknowledged record
    /// must come back, with its body, and the recovered sequence must be gap-free.
    func testPowerLossKeepsEveryAcknowledgedRecord() throws {
        var generator = SystemRandomNumberGenerator()
        for round in 0..<20 {
            let seed = UInt64.random(in: 0..<1_000_000, using: &generator)
            print("power loss round \(round): seed \(seed)")
            try crashRound(
                seed: seed, segmentBytesMax: round % 2 == 0 ? 400 : 1 << 20, policy: .always, powerLoss: true)
        }
    }

    /// Under `never` an acknowledged record is only in the page cache, which survives the death
    /// of the process (not of the machine): a process crash must lose none of them.
    func testProcessCrashKeepsEveryWrittenRecordUnderNever() throws {
        var generator = SystemRandomNumberGenerator()
        for round in 0..<6 {
            let seed = UInt64.random(in: 0..<1_000_000, using: &generator)
            print("process crash round \(round): seed \(seed)")
            try crashRound(
                seed: seed, segmentBytesMax: round % 2 == 0 ? 400 : 1 << 20, policy: .never, powerLoss: false)
        }
    }

    func crashRound(seed: UInt64, segmentBytesMax: Int, policy: FsyncPolicy, powerLoss: Bool) throws {
        var random = SplitMix64(seed: seed)
        let disk = SimulatedFileSystem()
        let log = try openLog(disk, policy: policy, segmentBytesMax: segmentBytesMax)
        _ = try recoverAll(log)
        let acknowledged = Mutex<[UInt64: [UInt8]]>([:])
        let crashAfter = Int(random.next() % 300) + 20
        let unsyncedKept = Int(random.next() % 80)
        let finished = runThreads(8, timeout: 30) { thread in
            for index in 0..<1_000 {
                let payload = body(thread * 1_000 + index)
                guard let sequence = try? log.append(payload), (try? log.waitUntilDurable(sequence)) != nil else {
                    return
                }
                let count = acknowledged.withLock { acks -> Int in
                    acks[sequence] = payload
                    return acks.count
                }
                if count == crashAfter { disk.crash(powerLoss: powerLoss) { _ in unsyncedKept } }
            }
        }
        XCTAssertTrue(finished, "seed \(seed)")
        _ = try? log.close()

        let reopened = try openLog(disk, policy: policy, segmentBytesMax: segmentBytesMax)
        let (records, _) = try recoverAll(reopened)
        XCTAssertEqual(records.map(\.sequence), records.indices.map { UInt64($0 + 1) }, "gap-free, seed \(seed)")
        let recovered = Dictionary(uniqueKeysWithValues: records.map { ($0.sequence, $0.body) })
        for (sequence, payload) in acknowledged.withLock({ $0 }) {
            XCTAssertEqual(recovered[sequence], payload, "acknowledged record \(sequence) lost, seed \(seed)")
        }
        XCTAssertGreaterThanOrEqual(acknowledged.withLock { $0.count }, crashAfter)
        try reopened.close()
    }
}

