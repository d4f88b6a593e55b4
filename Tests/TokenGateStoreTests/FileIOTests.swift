// The POSIX file system behind the store: modes, append-after-truncate, atomic replacement,
// directory listing, and errors that name the operation, the path and the errno.

import Foundation
import Glibc
import XCTest

@testable import TokenGateStore

final class FileIOTests: XCTestCase {
    let disk = PosixFileSystem()

    func testAppendTruncateReadAndModes() throws {
        let directory = makeTemporaryDirectory()
        defer { removeDirectory(directory) }
        let nested = directory + "/a/b"
        try disk.createDirectory(nested)
        try disk.createDirectory(nested)  // existing is fine
        let path = nested + "/file"
        let file = try disk.openAppend(path)
        try file.write([1, 2, 3, 4, 5])
        XCTAssertEqual(file.size, 5)
        try file.truncate(to: 2)
        try file.write([9])
        try file.sync()
        XCTAssertEqual(file.size, 3)
        try file.close()
        XCTAssertEqual(try disk.readAll(path), [1, 2, 9], "O_APPEND writes at the new end")
        XCTAssertThrowsError(try file.close())
        XCTAssertEqual(try disk.openAppend(path).size, 3, "reopening sees the size")

        let mask = umask(0)
        umask(mask)
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        XCTAssertEqual((attributes[.posixPermissions] as? NSNumber)?.intValue, 0o640 & ~Int(mask))
        let directoryAttributes = try FileManager.default.attributesOfItem(atPath: nested)
        XCTAssertEqual((directoryAttributes[.posixPermissions] as? NSNumber)?.intValue, 0o750 & ~Int(mask))

        try disk.truncate(path, to: 1)
        XCTAssertEqual(try disk.readAll(path), [1])
        try disk.writeAtomically(path, [7, 7])
        XCTAssertEqual(try disk.readAll(path), [7, 7])
        XCTAssertEqual(try disk.list(nested), ["file"], "no temp file, no . or ..")
        try disk.syncDirectory(nested)
        try disk.remove(path)
        XCTAssertEqual(try disk.list(nested), [])
    }

    func testErrorsNameTheOperationPathAndErrno() throws {
        let missing = "/tmp/tokengate-missing-\(UUID().uuidString)"
        do {
            _ = try disk.readAll(missing)
            XCTFail("reading a missing file must throw")
        } catch {
            XCTAssertEqual(error.errno, ENOENT)
            XCTAssertTrue(error.isNotFound)
            XCTAssertEqual(error.description, "open \(missing): No such file or directory (errno 2)")
        }
        XCTAssertThrowsError(try disk.remove(missing))
        XCTAssertThrowsError(try disk.list(missing))
        XCTAssertThrowsError(try disk.writeAtomically(missing + "/x/y", [1]))
    }

    func testReadAllOfALargeFile() throws {
        let directory = makeTemporaryDirectory()
        defer { removeDirectory(directory) }
        let bytes = (0..<1_200_000).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        try disk.writeAtomically(directory + "/big", bytes)
        XCTAssertEqual(try disk.readAll(directory + "/big"), bytes)
    }

    /// Bytes past the size `fstat` reported (a file that grew; /proc files report 0) are read
    /// too, and an empty file reads as no bytes.
    func testReadAllReadsPastTheReportedSize() throws {
        let status = try disk.readAll("/proc/self/status")
        XCTAssertTrue(String(decoding: status, as: UTF8.self).hasPrefix("Name:"))
        XCTAssertEqual(status.last, UInt8(ascii: "\n"))
        let directory = makeTemporaryDirectory()
        defer { removeDirectory(directory) }
        try disk.writeAtomically(directory + "/empty", [])
        XCTAssertEqual(try disk.readAll(directory + "/empty"), [])
    }
}
