// Recovery from damaged logs: a last record torn at every byte offset, garbage after the end,
// flipped bits in the middle (which must stop startup with file and offset), repair, sequence
// gaps, and the offline verifier's view of the same files.

import XCTest

@testable import TokenGateStore

final class RecoveryTests: XCTestCase {
    let directory = "/wal"

    func segmentPath(_ first: UInt64) -> String { directory + "/" + LogFormat.segmentName(first) }

    /// A simulated disk holding records 1...count with `body(n)`, written by the log itself.
    func diskWithRecords(_ count: Int, segmentBytesMax: Int = StoreLimits.defaultSegmentBytesMax) throws
        -> SimulatedFileSystem
    {
        let disk = SimulatedFileSystem()
        let log = try WriteAheadLog(
            directory: directory, policy: .always, segmentBytesMax: segmentBytesMax, fileSystem: disk)
        _ = try recoverAll(log)
        for seed in 1...count { _ = try log.append(body(seed)) }
        try log.waitUntilDurable(UInt64(count))
        try log.close()
        return disk
    }

    func openLog(_ disk: SimulatedFileSystem) throws -> WriteAheadLog {
        try WriteAheadLog(directory: directory, policy: .always, fileSystem: disk)
    }

    // MARK: - Torn tail

    func testTornLastRecordAtEveryByteOffset() throws {
        let pristine = try diskWithRecords(5)
        let full = pristine.contents(segmentPath(1))!
        let start = recordOffsets(full).last!
        for cut in start..<full.count {
            let disk = pristine.clone()
            disk.setContents(segmentPath(1), Array(full.prefix(cut)))
            let log = try openLog(disk)
            let (records, report) = try recoverAll(log)
            XCTAssertEqual(records.map(\.sequence), [1, 2, 3, 4], "cut at \(cut)")
            XCTAssertEqual(records.map(\.body), (1...4).map(body))
            XCTAssertEqual(report.truncatedTailBytes, cut - start)
            if cut == start {
                XCTAssertNil(report.tailCopyPath)
                XCTAssertEqual(report.warnings, [])
            } else {
                XCTAssertEqual(report.warnings.count, 1, "cut at \(cut)")
                let copy = try XCTUnwrap(report.tailCopyPath)
                XCTAssertTrue(copy.hasPrefix(directory + "/torn-5-"), copy)
                XCTAssertEqual(disk.contents(copy), Array(full[start..<cut]))
            }
            XCTAssertEqual(disk.contents(segmentPath(1))?.count, start, "truncated")
            XCTAssertEqual(try log.append(body(500)), 5)
            try log.waitUntilDurable(5)
            try log.close()

            let again = try openLog(disk)
            let second = try recoverAll(again)
            XCTAssertEqual(second.records.map(\.sequence), [1, 2, 3, 4, 5])
            XCTAssertEqual(second.records.last?.body, body(500))
            XCTAssertEqual(second.report.warnings, [])
            try again.close()
        }
    }

    func testTruncationOfATornTailIsDurable() throws {
        let disk = try diskWithRecords(5)
        let full = disk.contents(segmentPath(1))!
        disk.setContents(segmentPath(1), Array(full.dropLast(3)))
        let log = try openLog(disk)
        let report = try recoverAll(log).report
        try log.close()
        disk.crash(powerLoss: true)
        XCTAssertEqual(disk.contents(report.tailCopyPath!)?.count, report.truncatedTailBytes, "tail copy survived")
        let again = try openLog(disk)
        let second = try recoverAll(again)
        XCTAssertEqual(second.records.count, 4)
        XCTAssertEqual(second.report.warnings, [], "the cut was already durable")
        try again.close()
    }

    func testBadChecksumOfTheLastRecordIsATornTail() throws {
        let disk = try diskWithRecords(5)
        var bytes = disk.contents(segmentPath(1))!
        let start = recordOffsets(bytes).last!
        bytes[bytes.count - 1] ^= 0x01
        disk.setContents(segmentPath(1), bytes)
        let log = try openLog(disk)
        let (records, report) = try recoverAll(log)
        XCTAssertEqual(records.count, 4)
        XCTAssertEqual(report.truncatedTailBytes, bytes.count - start)
        XCTAssertTrue(report.warnings.first?.contains("checksum") ?? false, "\(report.warnings)")
        try log.close()
    }

    func testZeroFilledTailIsATornTail() throws {
        let disk = try diskWithRecords(5)
        let bytes = disk.contents(segmentPath(1))!
        disk.setContents(segmentPath(1), bytes + [UInt8](repeating: 0, count: 100))
        let log = try openLog(disk)
        let (records, report) = try recoverAll(log)
        XCTAssertEqual(records.count, 5)
        XCTAssertEqual(report.truncatedTailBytes, 100)
        try log.close()
    }

    // MARK: - Corruption

    func testFlippedBitInAMiddleRecordIsCorruption() throws {
        let pristine = try diskWithRecords(10)
        let original = pristine.contents(segmentPath(1))!
        let offsets = recordOffsets(original)
        // A body bit, a sequence bit, a checksum bit of record 4.
        for position in [offsets[3] + 17, offsets[3] + 11, offsets[3] + 13] {
            let disk = pristine.clone()
            var bytes = original
            bytes[position] ^= 0x04
            disk.setContents(segmentPath(1), bytes)
            let kind = storeErrorKind { _ = try recoverAll(try openLog(disk)) }
            XCTAssertEqual(
                kind, .corrupt(file: LogFormat.segmentName(1), offset: offsets[3], reason: "checksum mismatch"),
                "bit flipped at \(position)")
            XCTAssertEqual(disk.contents(segmentPath(1)), bytes, "nothing is modified without repair")
        }
    }

    func testLengthFlipNearTheEndIsNotMistakenForATornTail() throws {
        let disk = try diskWithRecords(10)
        var bytes = disk.contents(segmentPath(1))!
        let offsets = recordOffsets(bytes)
        bytes[offsets[8] + 2] ^= 0x01  // record 9 now claims 256 more bytes than the file has
        disk.setContents(segmentPath(1), bytes)
        guard
            case .corrupt(file: _, offset: let offset, reason: let reason)? = storeErrorKind({
                _ = try recoverAll(try openLog(disk))
            })
        else { return XCTFail("an intact record 10 follows: this is damage, not a torn write") }
        XCTAssertEqual(offset, offsets[8])
        XCTAssertTrue(reason.contains("short body"), reason)
    }

    func testRepairCutsAtTheFirstBadRecord() throws {
        let disk = try diskWithRecords(10)
        var bytes = disk.contents(segmentPath(1))!
        let offsets = recordOffsets(bytes)
        bytes[offsets[3] + 20] ^= 0x80
        disk.setContents(segmentPath(1), bytes)
        let log = try openLog(disk)
        let (records, report) = try recoverAll(log, repair: true)
        XCTAssertEqual(records, (1...3).map { WALRecord(sequence: UInt64($0), body: body($0)) })
        XCTAssertEqual(report.warnings.count, 1)
        XCTAssertTrue(report.warnings[0].contains("repair") && report.warnings[0].contains("byte \(offsets[3])"))
        let cutFile = try XCTUnwrap(try disk.list(directory).first { $0.hasPrefix("cut-4-") })
        XCTAssertEqual(disk.contents(directory + "/" + cutFile), Array(bytes[offsets[3]...]))
        XCTAssertEqual(try log.append(body(4)), 4)
        try log.waitUntilDurable(4)
        try log.close()
        let again = try openLog(disk)
        XCTAssertEqual(try recoverAll(again).records.map(\.sequence), [1, 2, 3, 4])
        try again.close()
    }

    func testBadRecordAtTheEndOfAnEarlierSegmentIsCorruption() throws {
        let pristine = try diskWithRecords(12, segmentBytesMax: 120)
        let segments = try pristine.list(directory).compactMap(LogFormat.parseSegmentName).sorted()
        XCTAssertGreaterThan(segments.count, 2)
        let second = segmentPath(segments[1])
        var bytes = pristine.contents(second)!
        let lastOffset = recordOffsets(bytes).last!
        bytes[bytes.count - 1] ^= 0x01

        let disk = pristine.clone()
        disk.setContents(second, bytes)
        XCTAssertEqual(
            storeErrorKind { _ = try recoverAll(try openLog(disk)) },
            .corrupt(file: LogFormat.segmentName(segments[1]), offset: lastOffset, reason: "checksum mismatch"))

        let repaired = try openLog(disk)
        let (records, report) = try recoverAll(repaired, repair: true)
        let badSequence = segments[1] + UInt64(recordOffsets(bytes).count - 1)
        XCTAssertEqual(records.map(\.sequence), Array(1..<badSequence))
        XCTAssertTrue(report.warnings[0].contains("repair"))
        XCTAssertEqual(try disk.list(directory).compactMap(LogFormat.parseSegmentName).sorted(), Array(segments[0...1]))
        XCTAssertEqual(try repaired.append(body(99)), badSequence)
        try repaired.close()
    }

    func testSequenceGapInsideASegmentIsCorruption() throws {
        let disk = SimulatedFileSystem()
        let bytes = encodedRecords([1, 2, 4, 5])
        disk.setContents(segmentPath(1), bytes)
        guard
            case .corrupt(file: _, offset: let offset, reason: let reason)? = storeErrorKind({
                _ = try recoverAll(try openLog(disk))
            })
        else { return XCTFail("a gap is corruption") }
        XCTAssertEqual(offset, recordOffsets(bytes)[2])
        XCTAssertTrue(reason.contains("sequence 4 where 3 was expected"), reason)
    }

    func testOverlappingSegmentsAreCorruption() throws {
        let disk = SimulatedFileSystem()
        disk.setContents(segmentPath(1), encodedRecords([1, 2, 3]))
        disk.setContents(segmentPath(3), encodedRecords([3, 4]))
        guard
            case .corrupt(file: let file, offset: 0, reason: _)? = storeErrorKind({
                _ = try recoverAll(try openLog(disk))
            })
        else { return XCTFail("segment 3 overlaps segment 1") }
        XCTAssertEqual(file, LogFormat.segmentName(3))
    }

    // MARK: - Offline verification

    func testVerifierReportsRangeAndFirstProblem() throws {
        let disk = try diskWithRecords(10)
        let clean = LogVerifier.verify(directory: directory, fileSystem: disk)
        XCTAssertTrue(clean.ok)
        XCTAssertEqual(clean.records, 10)
        XCTAssertEqual(clean.firstSequence, 1)
        XCTAssertEqual(clean.lastSequence, 10)

        var bytes = disk.contents(segmentPath(1))!
        let offsets = recordOffsets(bytes)
        bytes[offsets[6] + 18] ^= 0x02
        disk.setContents(segmentPath(1), bytes)
        let broken = LogVerifier.verify(directory: directory, fileSystem: disk)
        XCTAssertFalse(broken.ok)
        XCTAssertEqual(broken.records, 6)
        XCTAssertEqual(broken.lastSequence, 6)
        XCTAssertTrue(broken.problem!.contains("\(LogFormat.segmentName(1)) at byte \(offsets[6])"), broken.problem!)

        disk.setContents(segmentPath(1), Array(bytes.prefix(offsets[6] + 5)))
        let torn = LogVerifier.verify(directory: directory, fileSystem: disk)
        XCTAssertTrue(torn.ok)
        XCTAssertEqual(torn.records, 6)
        XCTAssertEqual(torn.warnings.count, 1)

        XCTAssertFalse(
            LogVerifier.verify(directory: "/tmp/does-not-exist-\(offsets.count)x", fileSystem: PosixFileSystem()).ok)
    }
}
