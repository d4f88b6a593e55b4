// Helpers shared by the store's tests: temporary directories, deterministic record bodies,
// bounded multi-threaded runs, and a one-call recovery into an array.

import Foundation
import XCTest

@testable import TokenGateStore

/// A fresh directory under /tmp on the real disk; removed by the returned closure.
func makeTemporaryDirectory(_ name: String = #function) -> String {
    let safe = name.filter { $0.isLetter || $0.isNumber }
    let path = NSTemporaryDirectory() + "tokengate-store-\(safe)-\(UUID().uuidString)"
    try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

func removeDirectory(_ path: String) {
    try? FileManager.default.removeItem(atPath: path)
}

/// A body whose size (3 to 60 bytes) and content depend on `seed`, so mix-ups show.
func body(_ seed: Int) -> [UInt8] {
    (0..<(seed % 58 + 3)).map { UInt8(truncatingIfNeeded: seed &* 131 &+ $0 &* 7) }
}

/// Recovers `log` and returns every record applied, in order.
func recoverAll(
    _ log: WriteAheadLog, after: UInt64 = 0, repair: Bool = false
) throws -> (records: [WALRecord], report: RecoveryReport) {
    var records: [WALRecord] = []
    let report = try log.recover(afterSequence: after, repair: repair) { records.append($0) }
    return (records, report)
}

/// Runs `body(index)` on `count` OS threads and waits at most `timeout` seconds for all.
func runThreads(_ count: Int, timeout: Double = 60, _ body: @escaping @Sendable (Int) -> Void) -> Bool {
    let group = DispatchGroup()
    for index in 0..<count {
        group.enter()
        let thread = Thread {
            body(index)
            group.leave()
        }
        thread.stackSize = 1 << 20
        thread.start()
    }
    return group.wait(timeout: .now() + timeout) == .success
}

/// The `StoreError.Kind` a throwing call produced, or nil when it did not throw one.
func storeErrorKind(_ call: () throws -> Void) -> StoreError.Kind? {
    do {
        try call()
        return nil
    } catch let error as StoreError {
        return error.kind
    } catch {
        return nil
    }
}

extension StoreError.Kind {
    var isIO: Bool {
        if case .io = self { return true }
        return false
    }
}

/// Encodes records as the log would, for building segment files by hand.
func encodedRecords(_ sequences: [UInt64]) -> [UInt8] {
    var bytes: [UInt8] = []
    for sequence in sequences { LogFormat.encode(sequence: sequence, body: body(Int(sequence)), into: &bytes) }
    return bytes
}

/// Byte offset of each record in an encoded segment.
func recordOffsets(_ bytes: [UInt8]) -> [Int] {
    var offsets: [Int] = []
    var offset = 0
    while offset < bytes.count {
        offsets.append(offset)
        offset += LogFormat.recordSize(in: bytes, at: offset)
    }
    return offsets
}
