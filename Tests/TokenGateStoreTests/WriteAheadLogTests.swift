// The write-ahead log's normal life on the real file system: append, wait, close, recover,
// across many small segments; policies; limits; dropping segments after a snapshot; and a log
// that ends before the snapshot does.

import XCTest

@testable import TokenGateStore

final class WriteAheadLogTests: XCTestCase {
    /// Small enough that a few records fill a segment.
    let tinySegmentBytes = 200

    func testRoundTripAcrossSegments() throws {
        let directory = makeTemporaryDirectory()
        defer { removeDirectory(directory) }
        let log = try WriteAheadLog(directory: directory, policy: .always, segmentBytesMax: tinySegmentBytes)
        XCTAssertEqual(try recoverAll(log).records, [])
        for seed in 1...40 {
            let sequence = try log.append(body(seed))
            XCTAssertEqual(sequence, UInt64(seed))
            if seed % 3 == 0 { try log.waitUntilDurable(sequence) }
        }
        // One batch of 20 that must be split over several segments.
        var last: UInt64 = 0
        for seed in 41...60 { last = try log.append(body(seed)) }
        try log.waitUntilDurable(last)
        XCTAssertEqual(log.durableSequence, 60)
        try log.close()

        let names = try PosixFileSystem().list(directory).filter { $0.hasPrefix("wal-") }.sorted()
        XCTAssertGreaterThan(names.count, 5)
        for name in names {
            let bytes = try PosixFileSystem().readAll(directory + "/" + name)
            let offsets = recordOffsets(bytes)
            XCTAssertTrue(bytes.count <= tinySegmentBytes || offsets.count == 1, "\(name) is \(bytes.count) bytes")
            XCTAssertEqual(LogFormat.parseSegmentName(name), bytes.readBigEndianUInt64(at: 4), "name = first record")
        }

        let reopened = try WriteAheadLog(directory: directory, policy: .always, segmentBytesMax: tinySegmentBytes)
        let (records, report) = try recoverAll(reopened)
        XCTAssertEqual(records, (1...60).map { WALRecord(sequence: UInt64($0), body: body($0)) })
        XCTAssertEqual(report.recordsReplayed, 60)
        XCTAssertEqual(report.lastSequence, 60)
        XCTAssertEqual(report.warnings, [])
        XCTAssertEqual(try reopened.append(body(61)), 61)
        try reopened.waitUntilDurable(61)
        try reopened.close()

        let again = try WriteAheadLog(directory: directory, policy: .always, segmentBytesMax: tinySegmentBytes)
        let tail = try recoverAll(again, after: 50)
        XCTAssertEqual(tail.records.map(\.sequence), Array(51...61))
        XCTAssertEqual(tail.records.last?.body, body(61))
        try again.close()
    }

    func testPoliciesMakeWaitsReturnAndCloseSyncsEverything() throws {
        for policy in FsyncPolicy.allCases {
            let disk = SimulatedFileSystem()
            let log = try WriteAheadLog(directory: "/wal", policy: policy, fileSystem: disk)
            _ = try recoverAll(log)
            let syncsAfterOpen = disk.syncCount
            let first = try log.append(body(1))
            let second = try log.append(body(2))
            try log.waitUntilDurable(second)
            XCTAssertGreaterThanOrEqual(log.durableSequence, second, "\(policy)")
            XCTAssertEqual(disk.contents("/wal/" + LogFormat.segmentName(1)), encodedRecords([first, second]))
            if policy == .always {
                XCTAssertEqual(log.syncedSequence, second)
                XCTAssertEqual(disk.syncCount, syncsAfterOpen + 1, "one fdatasync for both records")
            }
            if policy == .never { XCTAssertEqual(log.syncedSequence, 0) }
            try log.close()
            XCTAssertEqual(log.syncedSequence, second, "\(policy): close syncs")
            XCTAssertEqual(storeErrorKind { _ = try log.append(body(3)) }, .closed)
        }
    }

    func testEverysecSyncsInTheBackground() throws {
        let disk = SimulatedFileSystem()
        let log = try WriteAheadLog(directory: "/wal", policy: .everysec, fileSystem: disk)
        _ = try recoverAll(log)
        let sequence = try log.append(body(1))
        try log.waitUntilDurable(sequence)
        let deadline = Date().addingTimeInterval(5)
        while log.syncedSequence < sequence && Date() < deadline { usleep(20_000) }
        XCTAssertEqual(log.syncedSequence, sequence, "synced within about a second")
        try log.close()
    }

    func testLimits() throws {
        let disk = SimulatedFileSystem()
        let log = try WriteAheadLog(
            directory: "/wal", policy: .always, recordBytesMax: 100, pendingBytesMax: 1_000, fileSystem: disk)
        _ = try recoverAll(log)
        XCTAssertEqual(storeErrorKind { _ = try log.append([UInt8](repeating: 1, count: 101)) }, .tooLarge)
        XCTAssertEqual(try log.append([UInt8](repeating: 1, count: 100)), 1)
        var appended: UInt64 = 1
        // Nobody waits, so the records pile up until the pending limit refuses more.
        while storeErrorKind({ appended = try log.append([UInt8](repeating: 2, count: 100)) }) == nil {}
        XCTAssertEqual(appended, 8, "8 records of 116 bytes fit in 1000")
        XCTAssertEqual(storeErrorKind { _ = try log.append([UInt8](repeating: 3, count: 100)) }, .overloaded)
        try log.waitUntilDurable(appended)
        XCTAssertEqual(try log.append([]), 9, "writing drained the backlog")
        try log.close()
    }

    func testRemoveSegmentsKeepsRecordsAfterTheSequence() throws {
        let directory = makeTemporaryDirectory()
        defer { removeDirectory(directory) }
        let log = try WriteAheadLog(directory: directory, policy: .always, segmentBytesMax: tinySegmentBytes)
        _ = try recoverAll(log)
        for seed in 1...30 { try log.waitUntilDurable(try log.append(body(seed))) }
        try log.removeSegments(through: 17)
        let remaining = try log.listSegments()
        XCTAssertEqual(remaining.last?.firstSequence, 31, "a new segment starts at the next sequence")
        XCTAssertLessThanOrEqual(remaining.first!.firstSequence, 18, "record 18 is kept")
        XCTAssertGreaterThan(remaining.count, 1)
        for (index, segment) in remaining.dropLast().enumerated() {
            XCTAssertGreaterThan(remaining[index + 1].firstSequence - 1, 17, "\(segment.name) holds only old records")
        }
        for seed in 31...35 { try log.waitUntilDurable(try log.append(body(seed))) }
        try log.close()

        let reopened = try WriteAheadLog(directory: directory, policy: .always, segmentBytesMax: tinySegmentBytes)
        let (records, report) = try recoverAll(reopened, after: 17)
        XCTAssertEqual(records.map(\.sequence), Array(18...35))
        XCTAssertEqual(records.map(\.body), (18...35).map(body))
        XCTAssertEqual(report.recordsReplayed, 18)
        try reopened.close()

        let withoutSnapshot = try WriteAheadLog(directory: directory, policy: .always)
        guard
            case .corrupt(file: let file, offset: 0, reason: let reason)? = storeErrorKind({
                _ = try recoverAll(withoutSnapshot)
            })
        else {
            return XCTFail("records 1...17 are gone; recovering from nothing must refuse")
        }
        XCTAssertEqual(file, remaining.first!.name)
        XCTAssertTrue(reason.contains("missing"), reason)
    }

    func testLogEndingBeforeTheSnapshotContinuesAfterIt() throws {
        let disk = SimulatedFileSystem()
        let log = try WriteAheadLog(directory: "/wal", policy: .always, fileSystem: disk)
        _ = try recoverAll(log)
        for seed in 1...5 { try log.waitUntilDurable(try log.append(body(seed))) }
        try log.close()

        // The snapshot got to 10 (records applied in memory before they were durable).
        let second = try WriteAheadLog(directory: "/wal", policy: .always, fileSystem: disk)
        let (records, report) = try recoverAll(second, after: 10)
        XCTAssertEqual(records, [])
        XCTAssertEqual(report.lastSequence, 10)
        XCTAssertEqual(report.warnings.count, 1)
        XCTAssertEqual(try second.append(body(11)), 11, "never reuse a number the snapshot holds")
        try second.waitUntilDurable(11)
        try second.close()

        let third = try WriteAheadLog(directory: "/wal", policy: .always, fileSystem: disk)
        let replay = try recoverAll(third, after: 10)
        XCTAssertEqual(replay.records, [WALRecord(sequence: 11, body: body(11))])
        XCTAssertEqual(replay.report.warnings.count, 1, "the jump from 5 to 11 is reported")
        try third.close()
        let verify = LogVerifier.verify(directory: "/wal", fileSystem: disk)
        XCTAssertTrue(verify.ok)
        XCTAssertEqual(verify.records, 6)
        XCTAssertEqual(verify.warnings.count, 1)
    }

    func testSegmentNames() {
        XCTAssertEqual(LogFormat.segmentName(42), "wal-00000000000000000042.log")
        XCTAssertEqual(LogFormat.parseSegmentName("wal-00000000000000000042.log"), 42)
        XCTAssertEqual(LogFormat.parseSegmentName(LogFormat.segmentName(UInt64.max)), UInt64.max)
        XCTAssertNil(LogFormat.parseSegmentName("wal-42.log"))
        XCTAssertNil(LogFormat.parseSegmentName("wal-0000000000000000004x.log"))
        XCTAssertNil(LogFormat.parseSegmentName("wal-00000000000000000042.log.tmp"))
    }
}
