// The paging cursor of QueryUsageLogs: a position in the shop's append-only event list, bound
// to the query it came from by a checksum. New events are appended after every position handed
// out, so paging neither skips nor repeats one, and positions survive a restart because replay
// rebuilds the list in the same order. The monthly retention drop renumbers the list, so a
// cursor also carries the shop's retention generation (`ShopState.retentionGeneration`, the
// newest month whose raw events were dropped, which snapshots keep): a cursor from before a
// drop is refused as stale instead of silently skipping events. The text is opaque to callers
// and validated on input.

/// Encodes and checks paging cursors.
public enum UsageCursor {
    /// Longest cursor text accepted; a real one is under 30 bytes.
    public static let textBytesMax = 64

    private static let prefix = "u1"

    /// The cursor for continuing `filter`'s query at `position` of a shop whose retention
    /// generation is `generation` (0: nothing dropped yet; such cursors have no generation part).
    public static func encode(position: Int, filter: UsageFilter, generation: Int = 0) -> String {
        let place = String(position, radix: 36) + (generation > 0 ? "-" + String(generation, radix: 36) : "")
        return prefix + place + "." + hex(checksum(position: position, filter: filter, generation: generation))
    }

    /// The position of `text`, which must have come from the same query (shop and time range).
    /// Empty text is the first page (position 0). Throws `invalidArgument` for anything else.
    public static func decode(_ text: String, filter: UsageFilter) throws(TokenGateError) -> Int {
        try decodeWithGeneration(text, filter: filter).position
    }

    /// The position and retention generation of `text` (both 0 for empty text).
    public static func decodeWithGeneration(
        _ text: String, filter: UsageFilter
    ) throws(TokenGateError) -> (position: Int, generation: Int) {
        if text.isEmpty { return (0, 0) }
        let invalid = TokenGateError.invalidArgument(
            "cursor '\(text.prefix(textBytesMax))' is not a cursor of this query; pass next_cursor from the previous page "
                + "of the same shop and time range, or an empty cursor for the first page")
        guard text.utf8.count <= textBytesMax, text.hasPrefix(prefix) else { throw invalid }
        let parts = text.dropFirst(prefix.count).split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 2 else { throw invalid }
        let place = parts[0].split(separator: "-", omittingEmptySubsequences: false)
        guard place.count <= 2, place.allSatisfy({ !$0.isEmpty && $0.allSatisfy { $0.isASCII && ($0.isNumber || $0.isLowercase) } }),
            let position = Int(place[0], radix: 36), position >= 0
        else { throw invalid }
        let generation = place.count == 2 ? Int(place[1], radix: 36) ?? -1 : 0
        guard generation >= 0, place.count == 1 || generation > 0,
            parts[1] == Substring(hex(checksum(position: position, filter: filter, generation: generation)))
        else { throw invalid }
        return (position, generation)
    }

    /// FNV-1a (64-bit) over the query and position, folded to 32 bits: catches a cursor from
    /// another query or a mistyped one (it is not a secret; positions are not sensitive).
    static func checksum(position: Int, filter: UsageFilter, generation: Int = 0) -> UInt32 {
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
        if generation > 0 { mix(String(generation).utf8) }
        return UInt32(truncatingIfNeeded: hash ^ (hash >> 32))
    }

    private static func hex(_ value: UInt32) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: 8 - digits.count) + digits
    }
}
