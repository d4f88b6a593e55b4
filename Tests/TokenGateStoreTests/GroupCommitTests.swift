// Group commit on the real disk: many threads appending and waiting under the `always` policy
// must all get durable, contiguous sequences while the log issues far fewer fdatasyncs than
// records, so throughput grows with concurrency.

import Foundation
import Synchronization
import XCTest

@testable import TokenGateStore

final class GroupCommitTests: XCTestCase {
    let threads = 32
    let recordsPerThread = 200

    func testConcurrentWritersShareFdatasyncs() throws {
        let directory = makeTemporaryDirectory()
        defer { removeDirectory(directory) }
        let disk = CountingFileSystem()
        let log = try WriteAheadLog(directory: directory, policy: .always, fileSystem: disk)
        _ = try recoverAll(log)
        let syncsBefore = disk.syncCount
        let sequences = Mutex<[UInt64: [UInt8]]>([:])
        let failures = Atomic<Int>(0)
        let started = Date()
        let threads = self.threads
        let recordsPerThread = self.recordsPerThread
        XCTAssertTrue(
            runThreads(threads, timeout: 120) { thread in
                for index in 0..<recordsPerThread {
                    let payload = body(thread * recordsPerThread + index)
                    do {
                        let sequence = try log.append(payload)
                        try log.waitUntilDurable(sequence)
                        XCTAssertGreaterThanOrEqual(log.durableSequence, sequence)
                        sequences.withLock { $0[sequence] = payload }
                    } catch {
                        failures.add(1, ordering: .relaxed)
                    }
                }
            })
        let seconds = Date().timeIntervalSince(started)
        let records = threads * recordsPerThread
        let syncs = disk.syncCount - syncsBefore
        print("group commit: \(records) records, \(syncs) fdatasyncs, \(Int(Double(records) / seconds)) records/s")
        XCTAssertEqual(failures.load(ordering: .relaxed), 0)
        XCTAssertEqual(Set(sequences.withLock { $0.keys }), Set(1...UInt64(records)))
        XCTAssertEqual(log.durableSequence, UInt64(records))
        XCTAssertLessThan(syncs, records / 2, "group commit shares fdatasyncs")
        try log.close()

        let reopened = try WriteAheadLog(directory: directory, policy: .always)
        let recovered = try recoverAll(reopened).records
        XCTAssertEqual(recovered.count, records)
        let expected = sequences.withLock { $0 }
        XCTAssertTrue(recovered.allSatisfy { expected[$0.sequence] == $0.body })
        try reopened.close()
    }
}
