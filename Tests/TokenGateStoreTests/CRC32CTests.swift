// CRC-32C against published vectors (the standard check value and the iSCSI vectors of
// RFC 3720, which exercise the slicing-by-8 path), and incremental updates against one shot.

import XCTest

@testable import TokenGateStore

final class CRC32CTests: XCTestCase {
    func testStandardCheckValue() {
        XCTAssertEqual(CRC32C.checksum(Array("123456789".utf8)), 0xE306_9283)
    }

    func testEmptyInputIsZero() {
        XCTAssertEqual(CRC32C.checksum([]), 0)
    }

    func testRFC3720Vectors() {
        XCTAssertEqual(CRC32C.checksum([UInt8](repeating: 0, count: 32)), 0x8A91_36AA)
        XCTAssertEqual(CRC32C.checksum([UInt8](repeating: 0xFF, count: 32)), 0x62A8_AB43)
        XCTAssertEqual(CRC32C.checksum((0..<32).map { UInt8($0) }), 0x46DD_794E)
        XCTAssertEqual(CRC32C.checksum((0..<32).map { UInt8(31 - $0) }), 0x113F_DB5C)
    }

    func testIncrementalEqualsOneShotAtEverySplit() {
        let bytes = (0..<67).map { UInt8(truncatingIfNeeded: $0 &* 97 &+ 13) }
        let whole = CRC32C.checksum(bytes)
        for split in 0...bytes.count {
            var crc = CRC32C()
            crc.update(bytes[..<split])
            crc.update(bytes[split...])
            XCTAssertEqual(crc.value, whole, "split at \(split)")
        }
    }

    func testOneBitFlipChangesTheChecksum() {
        let bytes = Array("usage event for shop 42".utf8)
        let original = CRC32C.checksum(bytes)
        for index in bytes.indices {
            var flipped = bytes
            flipped[index] ^= 0x10
            XCTAssertNotEqual(CRC32C.checksum(flipped), original)
        }
    }

    func testHardwareAndSoftwarePathsAgree() {
        // Every length up to 200 and every start offset up to 8, so each tail length and the
        // 8-byte loop are covered on both paths (the hardware one only where the CPU has it).
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<208).map { _ in UInt8.random(in: 0...255, using: &generator) }
        for start in 0..<8 {
            for length in 0...200 {
                let slice = bytes[start..<(start + length)]
                var software = CRC32C()
                software.updateInSoftware(slice.span)
                var chosen = CRC32C()
                chosen.update(slice)
                XCTAssertEqual(chosen.value, software.value, "start \(start), length \(length)")
            }
        }
    }
}
