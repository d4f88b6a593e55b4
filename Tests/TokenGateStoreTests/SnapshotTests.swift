// Snapshots: round trip, pruning to the newest two, falling back past a corrupt newest one,
// refusing when none is valid, and a crash at every step of the atomic write leaving either
// the old or the new snapshot loadable, never a broken one.

import XCTest

@testable import TokenGateStore

final class SnapshotTests: XCTestCase {
    let entriesA: [[UInt8]] = [[], [1, 2, 3], Array("shop-42 totals".utf8), [UInt8](repeating: 7, count: 1_000)]
    let entriesB: [[UInt8]] = [Array("billing 2026-10".utf8), [0xFF]]

    func testWriteLoadVerifyOnTheRealDisk() throws {
        let directory = makeTemporaryDirectory()
        defer { removeDirectory(directory) }
        let disk = PosixFileSystem()
        XCTAssertNil(try Snapshot.loadNewest(directory: directory, fileSystem: disk))
        XCTAssertNil(try Snapshot.loadNewest(directory: directory + "/missing", fileSystem: disk))
        try Snapshot.write(directory: directory, lastSequence: 10, entries: entriesA, fileSystem: disk)
        let loaded = try XCTUnwrap(try Snapshot.loadNewest(directory: directory, fileSystem: disk))
        XCTAssertEqual(loaded.lastSequence, 10)
        XCTAssertEqual(loaded.entries, entriesA)
        XCTAssertEqual(loaded.file, directory + "/" + Snapshot.fileName(10))
        XCTAssertEqual(loaded.warnings, [])
        let report = Snapshot.verify(file: loaded.file, fileSystem: disk)
        XCTAssertTrue(report.ok, report.problem ?? "")
        XCTAssertEqual(report.records, entriesA.count)
        XCTAssertEqual(report.lastSequence, 10)

        // A temp file left by a crash is ignored, then cleaned up by the next write.
        let leftover = directory + "/" + Snapshot.fileName(99) + ".tmp"
        let handle = try disk.openAppend(leftover)
        try handle.write([1, 2, 3])
        try handle.close()
        XCTAssertEqual(try Snapshot.loadNewest(directory: directory, fileSystem: disk)?.lastSequence, 10)

        try Snapshot.write(directory: directory, lastSequence: 20, entries: entriesB, fileSystem: disk)
        try Snapshot.write(directory: directory, lastSequence: 30, entries: entriesB, fileSystem: disk)
        let names = try disk.list(directory).filter { $0.hasPrefix("snapshot-") }.sorted()
        XCTAssertEqual(names, [Snapshot.fileName(20), Snapshot.fileName(30)])
    }

    func testCorruptNewestFallsBackToTheOlder() throws {
        let disk = SimulatedFileSystem()
        try Snapshot.write(directory: "/snap", lastSequence: 10, entries: entriesA, fileSystem: disk)
        try Snapshot.write(directory: "/snap", lastSequence: 20, entries: entriesB, fileSystem: disk)
        let newest = "/snap/" + Snapshot.fileName(20)
        let pristine = disk.contents(newest)!
        // A flipped bit anywhere, including in the header's last sequence, is caught.
        for position in [8, 13, 16 + 7, 30, 45, pristine.count - 1] {
            var bytes = pristine
            bytes[position] ^= 0x01
            disk.setContents(newest, bytes)
            let loaded = try XCTUnwrap(try Snapshot.loadNewest(directory: "/snap", fileSystem: disk))
            XCTAssertEqual(loaded.lastSequence, 10, "flip at \(position)")
            XCTAssertEqual(loaded.entries, entriesA)
            XCTAssertEqual(loaded.warnings.count, 1)
            XCTAssertTrue(loaded.warnings[0].contains(Snapshot.fileName(20)))
            XCTAssertFalse(Snapshot.verify(file: newest, fileSystem: disk).ok)
        }
        disk.setContents(newest, Array(pristine.dropLast()))
        XCTAssertEqual(try Snapshot.loadNewest(directory: "/snap", fileSystem: disk)?.lastSequence, 10)

        disk.setContents("/snap/" + Snapshot.fileName(10), [])
        guard case .corrupt? = storeErrorKind({ _ = try Snapshot.loadNewest(directory: "/snap", fileSystem: disk) })
        else {
            return XCTFail("snapshots exist but none is valid: starting empty would lose them")
        }
    }

    func testCrashAtEveryStepOfTheAtomicWrite() throws {
        for point in CrashPoint.allCases {
            for powerLoss in [false, true] {
                let disk = SimulatedFileSystem()
                try Snapshot.write(directory: "/snap", lastSequence: 10, entries: entriesA, fileSystem: disk)
                disk.setCrashPoint(point)
                XCTAssertNotNil(
                    storeErrorKind {
                        try Snapshot.write(directory: "/snap", lastSequence: 20, entries: entriesB, fileSystem: disk)
                    })
                disk.crash(powerLoss: powerLoss)
                let loaded = try XCTUnwrap(try Snapshot.loadNewest(directory: "/snap", fileSystem: disk), "\(point)")
                XCTAssertEqual(loaded.warnings, [], "\(point), power loss \(powerLoss): never a broken snapshot")
                switch loaded.lastSequence {
                case 10: XCTAssertEqual(loaded.entries, entriesA)
                case 20: XCTAssertEqual(loaded.entries, entriesB)
                default: XCTFail("unexpected snapshot \(loaded.lastSequence)")
                }
                if point == .afterDirectorySync || (point == .afterRename && !powerLoss) {
                    XCTAssertEqual(loaded.lastSequence, 20, "\(point), power loss \(powerLoss)")
                }
                if point == .afterTempWrite || point == .afterTempSync {
                    XCTAssertEqual(loaded.lastSequence, 10, "\(point): not renamed yet")
                }
            }
        }
    }

    func testVerifyNamesTheProblem() throws {
        let disk = SimulatedFileSystem()
        try Snapshot.write(directory: "/snap", lastSequence: 5, entries: entriesA, fileSystem: disk)
        let file = "/snap/" + Snapshot.fileName(5)
        disk.setContents("/snap/" + Snapshot.fileName(6), disk.contents(file)!)
        let renamed = Snapshot.verify(file: "/snap/" + Snapshot.fileName(6), fileSystem: disk)
        XCTAssertTrue(renamed.problem?.contains("its name says 6") ?? false, renamed.problem ?? "ok")
        disk.setContents(file, Array("TGSNAP01".utf8) + [0, 0])
        XCTAssertTrue(Snapshot.verify(file: file, fileSystem: disk).problem?.contains("short header") ?? false)
        XCTAssertFalse(Snapshot.verify(file: "/snap/none", fileSystem: disk).ok)
    }
}
