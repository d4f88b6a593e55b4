// protobuf-c reads strings as C strings; a NUL inside one must be refused naming the field, not
// silently cut (DESIGN §4: identifiers hold no control characters). The Swift encoders cut at a
// NUL as protobuf-c packs, so these messages are written byte by byte, as another client would.
import TokenGateCore
import XCTest

@testable import TokenGateWire

final class EmbeddedNULTests: XCTestCase {
    /// A length-delimited field `number` holding `bytes`.
    private func field(_ number: UInt8, _ bytes: [UInt8]) -> [UInt8] { [number << 3 | 2, UInt8(bytes.count)] + bytes }

    func testNULInAStringFieldIsRefusedNamingTheField() throws {
        let cut = field(1, Array("shop".utf8) + [0] + Array("evil".utf8))
        XCTAssertThrowsError(try CanMakeRequestRequest.decode(payload: cut[...])) { error in
            XCTAssertEqual((error as? TokenGateError)?.code, .invalidArgument)
            XCTAssertTrue("\(error)".contains("shop_id"), "\(error)")
        }
        let usage = field(1, Array("e".utf8)) + field(2, Array("s".utf8)) + [7 << 3, 1]
            + field(12, field(4, field(1, Array("k".utf8)) + field(2, [0x76, 0])))
        XCTAssertThrowsError(try LogUsageRequest.decode(payload: usage[...])) { error in
            XCTAssertTrue("\(error)".contains("metadata.extra.value"), "\(error)")
        }
        // The same shapes without a NUL decode (through protobuf-c: not plain ASCII).
        let plain = field(1, Array("shop ü".utf8))
        XCTAssertEqual(try CanMakeRequestRequest.decode(payload: plain[...]).shopID, "shop ü")
        let valid = field(1, Array("e".utf8)) + field(2, Array("s".utf8)) + [7 << 3, 1]
            + field(12, field(4, field(1, Array("k".utf8)) + field(2, [0x76, 0xC3, 0xBC])))
        XCTAssertEqual(try LogUsageRequest.decode(payload: valid[...]).metadata.extra.first?.value, "vü")
    }
}
