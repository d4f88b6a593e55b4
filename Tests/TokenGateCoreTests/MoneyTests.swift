// Tests of checked nano-USD arithmetic, token pricing with half-up rounding, and exact dollar
// text in both directions.

import XCTest

@testable import TokenGateCore
import TokenGateTestSupport

final class MoneyTests: XCTestCase {
    func testAddAndMultiplyAreExact() throws {
        XCTAssertEqual(try Money.add(usd("5"), usd("0.075")), 5_075_000_000)
        XCTAssertEqual(try Money.multiply(150_000, 500), 75_000_000)
        XCTAssertEqual(try Money.multiply(-3, 4), -12)
        XCTAssertEqual(try Money.multiply(0, .max), 0)
    }

    func testOverflowThrowsInsteadOfWrapping() {
        assertThrows(.outOfRange, "overflow") { () throws(TokenGateError) in try Money.add(.max, 1) }
        assertThrows(.outOfRange, "overflow") { () throws(TokenGateError) in try Money.add(.min, -1) }
        assertThrows(.outOfRange, "overflow") { () throws(TokenGateError) in try Money.subtract(.min, 1) }
        assertThrows(.outOfRange, "overflow") { () throws(TokenGateError) in try Money.multiply(2, UInt64(Int64.max)) }
        assertThrows(.outOfRange, "overflow") { () throws(TokenGateError) in try Money.multiply(1, UInt64(Int64.max) + 1) }
        assertThrows(.outOfRange, "overflow") { () throws(TokenGateError) in
            try Money.cost(tokens: .max, pricePerMillion: usd("1000"))
        }
        XCTAssertEqual(Money.addSaturating(.max, 5), .max)
        XCTAssertEqual(Money.addSaturating(.min, -5), .min)
    }

    func testCostRoundsHalfUp() throws {
        // 1 nano-USD per million tokens: exactly half a nano-USD rounds up, just below rounds down.
        XCTAssertEqual(try Money.cost(tokens: 500_000, pricePerMillion: 1), 1)
        XCTAssertEqual(try Money.cost(tokens: 499_999, pricePerMillion: 1), 0)
        XCTAssertEqual(try Money.cost(tokens: 1_500_000, pricePerMillion: 1), 2)
        XCTAssertEqual(try Money.cost(tokens: 2_500_000, pricePerMillion: 1), 3)  // half up, not half even
        XCTAssertEqual(try Money.cost(tokens: 1_499_999, pricePerMillion: 1), 1)
        XCTAssertEqual(try Money.cost(tokens: 0, pricePerMillion: usd("10")), 0)
        assertThrows(.invalidArgument, "negative") { () throws(TokenGateError) in try Money.cost(tokens: 1, pricePerMillion: -1) }
    }

    func testCostUsesAWideIntermediate() throws {
        // 10^10 tokens × $9.2 billion per million overflows 64 bits before the division; the
        // 128-bit product must still give the exact answer when the result fits.
        let price: NanoUSD = 900_000_000_000_000  // $900,000 per million tokens
        XCTAssertEqual(try Money.cost(tokens: 10_000_000_000, pricePerMillion: price), 9_000_000_000_000_000_000)
        XCTAssertEqual(try Money.cost(tokens: UInt64(Int64.max), pricePerMillion: 1_000_000), Int64.max)
    }

    func testParseUSD() throws {
        XCTAssertEqual(try Money.parseUSD("5"), 5_000_000_000)
        XCTAssertEqual(try Money.parseUSD("5.075"), 5_075_000_000)
        XCTAssertEqual(try Money.parseUSD("0.00015"), 150_000)
        XCTAssertEqual(try Money.parseUSD("$1.25"), 1_250_000_000)
        XCTAssertEqual(try Money.parseUSD("-$1.50"), -1_500_000_000)
        XCTAssertEqual(try Money.parseUSD("-0.5"), -500_000_000)
        XCTAssertEqual(try Money.parseUSD("0.000000001"), 1)
        XCTAssertEqual(try Money.parseUSD("9223372036.854775807"), .max)
        XCTAssertEqual(try Money.parseUSD("-9223372036.854775808"), .min)
    }

    func testParseUSDRejectsBadText() {
        for text in ["1.2.3", "abc", "1.0000000001", "-", "", "$", "5.", ".5", "+5", "1,000", " 5", "5 ", "$-5", "--5", "1e3"] {
            assertThrows(.invalidArgument, "'\(text)'") { () throws(TokenGateError) in try Money.parseUSD(text) }
        }
        assertThrows(.invalidArgument, "too large") { () throws(TokenGateError) in try Money.parseUSD("9223372036.854775808") }
        assertThrows(.invalidArgument, "too large") { () throws(TokenGateError) in try Money.parseUSD("99999999999999999999") }
    }

    func testFormatUSD() {
        XCTAssertEqual(Money.formatUSD(5_075_000_000), "$5.075")
        XCTAssertEqual(Money.formatUSD(50_000_000_000), "$50.00")
        XCTAssertEqual(Money.formatUSD(150_000), "$0.00015")
        XCTAssertEqual(Money.formatUSD(0), "$0.00")
        XCTAssertEqual(Money.formatUSD(1), "$0.000000001")
        XCTAssertEqual(Money.formatUSD(-1_500_000_000), "-$1.50")
        XCTAssertEqual(Money.formatUSD(.min), "-$9223372036.854775808")
    }

    func testFormatParseRoundTrip() throws {
        var generator = SplitMix64(seed: 7)
        let samples: [NanoUSD] = [0, 1, -1, 10, 99, 100_000_000, .max, .min, 5_075_000_000]
        for value in samples + (0..<2_000).map({ _ in NanoUSD(bitPattern: generator.next()) >> (generator.next() % 63) }) {
            XCTAssertEqual(try Money.parseUSD(Money.formatUSD(value)), value, "round trip of \(value)")
        }
    }
}
