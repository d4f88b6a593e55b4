// `FrameReader.nextFrameSlice()` (the server's and client's copy-free path) must yield exactly
// the payloads `nextFrame()` yields, however the stream is cut, and keep memory bounded.

import TokenGateWire
import XCTest
import TokenGateTestSupport

final class FrameSliceTests: XCTestCase {
    func testSlicesMatchPayloadsUnderSeededRandomChunking() throws {
        let seed = UInt64.random(in: 0...UInt64.max)
        print("FrameSliceTests seed: \(seed)")
        var random = SplitMix64(seed: seed)
        let frames: [[UInt8]] = (0..<2_000).map { index in
            (0..<Int.random(in: 0...400, using: &random)).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ index) }
        }
        var bytes: [UInt8] = []
        for frame in frames { Framing.appendFrame(frame, to: &bytes) }
        var reader = FrameReader(frameBytesMax: 400)
        var received: [[UInt8]] = []
        var offset = 0
        while offset < bytes.count {
            let end = min(bytes.count, offset + Int.random(in: 1...1_500, using: &random))
            reader.append(bytes[offset..<end])
            while let slice = try reader.nextFrameSlice() { received.append(Array(slice)) }
            XCTAssertLessThanOrEqual(reader.bufferedByteCount, 4 + 400, "seed \(seed)")
            offset = end
        }
        XCTAssertTrue(received == frames, "seed \(seed)")
        XCTAssertEqual(reader.bufferedByteCount, 0)
    }

    func testOversizedLengthIsRefusedBySliceToo() {
        var reader = FrameReader(frameBytesMax: 10)
        reader.append([0, 0, 0, 11])
        XCTAssertThrowsError(try reader.nextFrameSlice()) { error in
            XCTAssertEqual(error as? FrameError, .tooLarge(length: 11, limit: 10))
        }
    }
}
