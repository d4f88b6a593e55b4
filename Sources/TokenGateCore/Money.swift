// Money arithmetic on Int64 nano-USD (DESIGN §2). Every operation that can leave the Int64 range
// is checked and throws instead of wrapping, and decimal dollar text is parsed and printed with
// integers only, so no floating-point rounding ever reaches a bill.

/// Checked nano-USD arithmetic, token pricing and exact decimal dollar text.
public enum Money {
    /// Nano-USD in one dollar.
    public static let nanoPerUSD: NanoUSD = 1_000_000_000

    /// Prices are quoted per this many tokens.
    public static let tokensPerPriceUnit: UInt64 = 1_000_000

    /// `a + b`; throws `outOfRange` instead of wrapping.
    public static func add(_ a: NanoUSD, _ b: NanoUSD) throws(TokenGateError) -> NanoUSD {
        let (sum, overflow) = a.addingReportingOverflow(b)
        guard !overflow else {
            throw TokenGateError(.outOfRange, "amount overflow: \(formatUSD(a)) + \(formatUSD(b)) does not fit in Int64 nano-USD")
        }
        return sum
    }

    /// `a - b`; throws `outOfRange` instead of wrapping.
    public static func subtract(_ a: NanoUSD, _ b: NanoUSD) throws(TokenGateError) -> NanoUSD {
        let (difference, overflow) = a.subtractingReportingOverflow(b)
        guard !overflow else {
            throw TokenGateError(.outOfRange, "amount overflow: \(formatUSD(a)) - \(formatUSD(b)) does not fit in Int64 nano-USD")
        }
        return difference
    }

    /// `a × count`; throws `outOfRange` instead of wrapping.
    public static func multiply(_ a: NanoUSD, _ count: UInt64) throws(TokenGateError) -> NanoUSD {
        if a == 0 || count == 0 { return 0 }
        // Built only when thrown: formatting it costs more than the arithmetic (hot path).
        func overflowError() -> TokenGateError {
            TokenGateError(.outOfRange, "amount overflow: \(formatUSD(a)) × \(count) does not fit in Int64 nano-USD")
        }
        guard count <= UInt64(Int64.max) else { throw overflowError() }
        let (product, overflow) = a.multipliedReportingOverflow(by: Int64(count))
        guard !overflow else { throw overflowError() }
        return product
    }

    /// `a + b`, pinned to `Int64.max` / `Int64.min` instead of wrapping. For totals that only feed
    /// comparisons against caps (a saturated total is simply "over every cap") and for applying
    /// durable facts, which must never fail.
    public static func addSaturating(_ a: NanoUSD, _ b: NanoUSD) -> NanoUSD {
        let (sum, overflow) = a.addingReportingOverflow(b)
        if !overflow { return sum }
        return b > 0 ? .max : .min
    }

    /// The cost of `tokens` at `pricePerMillion` nano-USD per million tokens:
    /// `round_half_up(tokens × pricePerMillion / 1_000_000)`, computed with a 128-bit intermediate
    /// so no product can overflow before the division. Throws `invalidArgument` for a negative
    /// price and `outOfRange` when the result does not fit in Int64.
    public static func cost(tokens: UInt64, pricePerMillion: NanoUSD) throws(TokenGateError) -> NanoUSD {
        guard pricePerMillion >= 0 else {
            throw .invalidArgument("price per million tokens must not be negative, got \(formatUSD(pricePerMillion))")
        }
        let product = tokens.multipliedFullWidth(by: UInt64(pricePerMillion))
        // Adding half the divisor before a truncating division rounds half up. The product is below
        // 2^127, so the carry into `high` cannot overflow.
        let (low, carry) = product.low.addingReportingOverflow(tokensPerPriceUnit / 2)
        let high = product.high + (carry ? 1 : 0)
        // Built only when thrown: formatting it cost more than the pricing itself, three times per
        // gate check (measured by tokengate-bench).
        func overflowError() -> TokenGateError {
            TokenGateError(
                .outOfRange, "cost overflow: \(tokens) tokens at \(formatUSD(pricePerMillion)) per million does not fit in Int64 nano-USD")
        }
        // dividingFullWidth traps when the quotient does not fit in 64 bits; this guard rules that out.
        guard high < tokensPerPriceUnit else { throw overflowError() }
        let (quotient, _) = tokensPerPriceUnit.dividingFullWidth((high: high, low: low))
        guard quotient <= UInt64(Int64.max) else { throw overflowError() }
        return NanoUSD(quotient)
    }

    // MARK: - Decimal text

    /// Longest dollar text `parseUSD` reads; anything longer cannot be a valid Int64 amount anyway.
    public static let usdTextBytesMax = 40

    /// Parses an exact decimal dollar string (`"5"`, `"5.075"`, `"0.00015"`, `"$1.25"`, `"-$1.50"`,
    /// `"-1.5"`) with up to 9 fraction digits into nano-USD. No floating point is involved.
    /// Throws `invalidArgument`, quoting the text, on anything else or when the amount does not
    /// fit in Int64 nano-USD.
    public static func parseUSD(_ text: String) throws(TokenGateError) -> NanoUSD {
        let invalid = TokenGateError.invalidArgument(
            "'\(text.prefix(usdTextBytesMax))' is not a dollar amount: expected digits with at most 9 decimals, "
                + "such as 5, 0.00015, $1.25 or -$1.50")
        var bytes = Substring(text).utf8[...]
        guard bytes.count <= usdTextBytesMax else { throw invalid }
        let negative = bytes.first == UInt8(ascii: "-")
        if negative { bytes = bytes.dropFirst() }
        if bytes.first == UInt8(ascii: "$") { bytes = bytes.dropFirst() }
        let parts = bytes.split(separator: UInt8(ascii: "."), maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count == 1 || parts.count == 2, let whole = parts.first, !whole.isEmpty else { throw invalid }
        let fraction = parts.count == 2 ? parts[1] : Substring().utf8
        guard parts.count == 1 || (1...9).contains(fraction.count) else { throw invalid }
        guard let wholeValue = decimalValue(whole), let fractionValue = decimalValue(fraction) else { throw invalid }
        var fractionScale: UInt64 = 1
        for _ in fraction.count..<9 { fractionScale *= 10 }
        let tooLarge = TokenGateError.invalidArgument("'\(text)' is too large: amounts must fit in Int64 nano-USD (about $9.2 billion)")
        guard let wholeValue, let fractionValue else { throw tooLarge }
        let (wholeNano, overflow) = wholeValue.multipliedReportingOverflow(by: UInt64(nanoPerUSD))
        let (magnitude, overflow2) = wholeNano.addingReportingOverflow(fractionValue * fractionScale)
        guard !overflow, !overflow2 else { throw tooLarge }
        if negative {
            guard magnitude <= Int64.min.magnitude else { throw tooLarge }
            return magnitude == Int64.min.magnitude ? Int64.min : -NanoUSD(magnitude)
        }
        guard magnitude <= UInt64(Int64.max) else { throw tooLarge }
        return NanoUSD(magnitude)
    }

    /// The value of a run of ASCII digits (empty is 0): nil for a non-digit, `.some(nil)` when
    /// the value does not fit in UInt64.
    private static func decimalValue(_ digits: Substring.UTF8View.SubSequence) -> UInt64?? {
        var value: UInt64? = 0
        for byte in digits {
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
            guard let current = value else { continue }
            let (times10, overflow) = current.multipliedReportingOverflow(by: 10)
            let (sum, overflow2) = times10.addingReportingOverflow(UInt64(byte - UInt8(ascii: "0")))
            value = overflow || overflow2 ? nil : sum
        }
        return .some(value)
    }

    /// Exact dollar text: `"$5.075"`, `"$50.00"`, `"$0.00015"`, `"-$1.50"`. At least two fraction
    /// digits, trailing zeros beyond those trimmed, never rounded.
    public static func formatUSD(_ nano: NanoUSD) -> String {
        let magnitude = nano.magnitude
        let perUSD = UInt64(nanoPerUSD)
        let whole = magnitude / perUSD
        var fraction = String(magnitude % perUSD)
        fraction = String(repeating: "0", count: 9 - fraction.count) + fraction
        while fraction.count > 2, fraction.last == "0" { fraction.removeLast() }
        return (nano < 0 ? "-$" : "$") + String(whole) + "." + fraction
    }
}
