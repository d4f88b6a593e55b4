// Tests of the frame decoder and encoder: a stream must come out as exactly the payloads that
// went in however `read` happens to split it (one byte at a time, all at once, cut at every
// offset), and an oversized length must be refused from its 4-byte prefix alone.

import TokenGateWire
import XCTest
import TokenGateTestSupport

final class FramingTests: XCTestCase {
    private let limit = 1 << 20

    /// Payloads of varied sizes, including empty and ones that cross 255 / 65535 byte lengths.
    private let payloads: [[UInt8]] = [
        [],
        [0x42],
        Array(repeating: 0xAB, count: 300),
        (0..<70_000).map { UInt8(truncatingIfNeeded: $0 &* 31) },
        [0, 0, 0, 0],
    ]

    private func stream(of payloads: [[UInt8]]) -> [UInt8] {
        var out: [UInt8] = []
        for payload in payloads { Framing.appendFrame(payload, to: &out) }
        return out
    }

    private func drain(_ reader: inout FrameReader) throws -> [[UInt8]] {
        var frames: [[UInt8]] = []
        while let frame = try reader.nextFrame() { frames.append(frame) }
        return frames
    }

    func testAppendFrameWritesBigEndianLengthThenPayload() {
        var out: [UInt8] = [0x99]
        Framing.appendFrame(Array(repeating: 7, count: 258), to: &out)
        XCTAssertEqual(Array(out.prefix(5)), [0x99, 0x00, 0x00, 0x01, 0x02])
        XCTAssertEqual(out.count, 1 + 4 + 258)
        XCTAssertEqual(Set(out.dropFirst(5)), [7])

        var slice: [UInt8] = []
        Framing.appendFrame([1, 2, 3, 4, 5][1..<3], to: &slice)
        XCTAssertEqual(slice, [0, 0, 0, 2, 2, 3])
    }

    func testOneByteAtATimeYieldsEveryPayloadExactlyWhenComplete() throws {
        let bytes = stream(of: payloads)
        var reader = FrameReader(frameBytesMax: limit)
        var frames: [[UInt8]] = []
        for byte in bytes {
            reader.append([byte])
            frames += try drain(&reader)
        }
        XCTAssertEqual(frames, payloads)
        XCTAssertEqual(reader.bufferedByteCount, 0)
    }

    func testCoalescedStreamInOneAppend() throws {
        var reader = FrameReader(frameBytesMax: limit)
        stream(of: payloads).withUnsafeBytes { reader.append($0) }
        XCTAssertEqual(try drain(&reader), payloads)
        XCTAssertEqual(reader.bufferedByteCount, 0)
        XCTAssertNil(try reader.nextFrame())
    }

    func testThreeFrameStreamCutAtEveryOffset() throws {
        let three: [[UInt8]] = [Array("first".utf8), [], Array(repeating: 0x5A, count: 40)]
        let bytes = stream(of: three)
        for cut in 0...bytes.count {
            var reader = FrameReader(frameBytesMax: 64)
            reader.append(bytes[..<cut])
            var frames = try drain(&reader)
            reader.append(bytes[cut...])
            frames += try drain(&reader)
            XCTAssertEqual(frames, three, "cut at offset \(cut)")
            XCTAssertEqual(reader.bufferedByteCount, 0, "cut at offset \(cut)")
        }
    }

    func testZeroLengthFrameYieldsEmptyPayload() throws {
        var reader = FrameReader(frameBytesMax: 0)
        reader.append([0, 0, 0])
        XCTAssertNil(try reader.nextFrame())
        reader.append([0])
        XCTAssertEqual(try reader.nextFrame(), [])
        XCTAssertNil(try reader.nextFrame())
    }

    func testPartialFrameIsCountedAsBuffered() throws {
        var reader = FrameReader(frameBytesMax: limit)
        reader.append([0, 0, 0, 10, 1, 2, 3])
        XCTAssertNil(try reader.nextFrame())
        XCTAssertEqual(reader.bufferedByteCount, 7)
        reader.append([4, 5, 6, 7, 8, 9, 10, 0, 0])
        XCTAssertEqual(try reader.nextFrame(), Array(1...10))
        XCTAssertEqual(reader.bufferedByteCount, 2)
    }

    func testLengthAtLimitIsAcceptedAndOneOverIsRefusedFromPrefixAlone() throws {
        var atLimit = FrameReader(frameBytesMax: 16)
        atLimit.append([0, 0, 0, 16])
        XCTAssertNil(try atLimit.nextFrame())
        atLimit.append(Array(repeating: 1, count: 16))
        XCTAssertEqual(try atLimit.nextFrame(), Array(repeating: 1, count: 16))

        var overLimit = FrameReader(frameBytesMax: 16)
        overLimit.append([0, 0, 0])
        XCTAssertNil(try overLimit.nextFrame())
        overLimit.append([17])
        XCTAssertThrowsError(try overLimit.nextFrame()) { error in
            XCTAssertEqual(error as? FrameError, .tooLarge(length: 17, limit: 16))
        }
        // The reader stays refused: the stream cannot be resynchronised.
        XCTAssertThrowsError(try overLimit.nextFrame())
    }

    func testMaximalLengthPrefixIsRefusedWithoutWaitingForPayload() {
        var reader = FrameReader(frameBytesMax: 64 * 1024)
        reader.append([0xFF, 0xFF, 0xFF, 0xFF])
        XCTAssertThrowsError(try reader.nextFrame()) { error in
            XCTAssertEqual(error as? FrameError, .tooLarge(length: UInt32.max, limit: 64 * 1024))
        }
    }

    func testOversizedFrameAfterGoodOnesIsRefusedAfterTheGoodOnes() throws {
        var reader = FrameReader(frameBytesMax: 8)
        var bytes = stream(of: [[1], [2, 2]])
        bytes += [0x00, 0x00, 0x01, 0x00]  // 256 > 8
        reader.append(bytes)
        XCTAssertEqual(try reader.nextFrame(), [1])
        XCTAssertEqual(try reader.nextFrame(), [2, 2])
        XCTAssertThrowsError(try reader.nextFrame()) { error in
            XCTAssertEqual(error as? FrameError, .tooLarge(length: 256, limit: 8))
        }
    }

    /// Many frames in random chunks, drained after every chunk as a connection would; exercises
    /// the compaction of consumed bytes across thousands of appends.
    func testSeededRandomChunkingOfALongStream() throws {
        let seed = UInt64.random(in: 0...UInt64.max)
        print("FramingTests seed: \(seed)")
        var random = SplitMix64(seed: seed)
        let frames: [[UInt8]] = (0..<3000).map { index in
            let count = Int.random(in: 0...600, using: &random)
            return (0..<count).map { UInt8(truncatingIfNeeded: $0 &+ index) }
        }
        let bytes = stream(of: frames)
        var reader = FrameReader(frameBytesMax: 600)
        var received: [[UInt8]] = []
        var offset = 0
        while offset < bytes.count {
            let end = min(bytes.count, offset + Int.random(in: 1...2048, using: &random))
            reader.append(bytes[offset..<end])
            received += try drain(&reader)
            XCTAssertLessThanOrEqual(reader.bufferedByteCount, 4 + 600, "seed \(seed)")
            offset = end
        }
        XCTAssertEqual(received.count, frames.count, "seed \(seed)")
        XCTAssertTrue(received == frames, "seed \(seed)")
        XCTAssertEqual(reader.bufferedByteCount, 0, "seed \(seed)")
    }
}
