// The shipper's view of the log (issue 19): LogTail reads records in order across many small
// segments while the log is being appended, resumes where it stopped, reports a sequence older
// than the log as missing; and `holdSegments` keeps unshipped segments through removeSegments.

import XCTest

@testable import TokenGateStore

final class LogTailTests: XCTestCase {
    func testFollowsTheLogAcrossSegmentsAndResumes() throws {
        let directory = makeTemporaryDirectory()
        defer { removeDirectory(directory) }
        let log = try WriteAheadLog(directory: directory, policy: .always, segmentBytesMax: 200)
        _ = try log.recover(afterSequence: 0, repair: false) { _ in }
        var tail = LogTail(directory: directory)
        XCTAssertEqual(try tail.read(from: 1, through: log.durableSequence, limit: 10), .records([]))
        var read: [WALRecord] = []
        for round in 0..<5 {
            var last: UInt64 = 0
            for seed in 0..<13 { last = try log.append(Array("record \(round)-\(seed)".utf8)) }
            try log.waitUntilDurable(last)
            // Small limits, so reads stop inside segments and resume there.
            while case .records(let records) = try tail.read(from: UInt64(read.count) + 1, through: log.durableSequence, limit: 4),
                !records.isEmpty
            {
                read += records
            }
        }
        XCTAssertEqual(read.map(\.sequence), Array(1...65))
        XCTAssertEqual(read.last?.body, Array("record 4-12".utf8))
        XCTAssertGreaterThan(try tail.segmentSizes().count, 5)
        // Nothing past what the caller says is durable.
        XCTAssertEqual(try tail.read(from: 66, through: 65, limit: 10), .records([]))
        try log.close()
    }

    func testHeldSegmentsSurviveRemovalAndOlderSequencesAreMissing() throws {
        let directory = makeTemporaryDirectory()
        defer { removeDirectory(directory) }
        let log = try WriteAheadLog(directory: directory, policy: .always, segmentBytesMax: 200)
        _ = try log.recover(afterSequence: 0, repair: false) { _ in }
        var last: UInt64 = 0
        for seed in 0..<40 { last = try log.append(Array("held \(seed)".utf8)) }
        try log.waitUntilDurable(last)
        log.holdSegments(from: 11)
        try log.removeSegments(through: 40)
        var tail = LogTail(directory: directory)
        guard case .records(let kept) = try tail.read(from: 11, through: 40, limit: 100) else {
            return XCTFail("record 11 was removed although held")
        }
        XCTAssertEqual(kept.map(\.sequence), Array(11...40))
        guard case .missing(let oldest) = try tail.read(from: 1, through: 40, limit: 100) else {
            return XCTFail("the records before the hold were all kept: the hold kept too much")
        }
        XCTAssertLessThanOrEqual(oldest ?? 0, 11)
        XCTAssertGreaterThan(oldest ?? 0, 1)
        try log.close()
    }
}
