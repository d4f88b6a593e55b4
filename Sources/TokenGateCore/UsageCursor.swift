// The paging cursor of QueryUsageLogs: a position in the shop's append-only event list, bound
// to the query it came from by a checksum. New events are appended after every position handed
// out, so paging neither skips nor repeats one, and positions survive a restart because replay
// rebuilds the list in the same order. The text is opaque to callers and validated on input.

/// Encodes and checks paging cursors.
public enum UsageCursor {
    /// Longest cursor text accepted; a real one is under 30 bytes.
    public static let textBytesMax = 64

    private static let prefix = "u1"

    /// The cursor for continuing `filter`'s query at `position`.
    public static func encode(position: Int, filter: UsageFilter) -> String {
        prefix + String(position, radix: 36) + "." + hex(checksum(position: position, filter: filter))
    }

    /// The position of `text`, which must have come from the same query (shop and time range).
    /// Empty text is the first page (position 0). Throws `invalidArgument` for anything else.
    public static func decode(_ text: String, filter: UsageFilter) throws(TokenGateError) -> Int {
        if text.isEmpty { return 0 }
        let invalid = TokenGateError.invalidArgument(
            "cursor '\(text.prefix(textBytesMax))' is not a cursor of this query; pass next_cursor from the previous page "
                + "of the same shop and time range, or an empty cursor for the first page")
        guard text.utf8.count <= textBytesMax, text.hasPrefix(prefix) else { throw invalid }
        let parts = text.dropFirst(prefix.count).split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 2, let position = Int(parts[0], radix: 36), position >= 0,
            parts[0].allSatisfy({ $0.isASCII && ($0.isNumber || $0.isLowercase) }),
            parts[1] == Substring(hex(checksum(position: position, filter: filter)))
        else { throw invalid }
        return position
    }

    /// FNV-1a (64-bit) over the query and position, folded to 32 bits: catches a cursor from
    /// another query or a mistyped one (it is not a secret; positions are not sensitive).
    static func checksum(position: Int, filter: UsageFilter) -> UInt32 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        func mix<S: Sequence>(_ bytes: S) where S.Element == UInt8 {
            for byte in bytes {
                hash ^= UInt64(byte)
                hash = hash &* 0x0000_0100_0000_01b3
            }
            hash ^= 0xff
            hash = hash &* 0x0000_0100_0000_01b3
        }
        mix(filter.shopID.utf8)
        mix(String(filter.fromUnixMs).utf8)
        mix(String(filter.toUnixMs).utf8)
        mix(String(position).utf8)
        return UInt32(truncatingIfNeeded: hash ^ (hash >> 32))
    }

    private static func hex(_ value: UInt32) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: 8 - digits.count) + digits
    }
}
