// Field checks shared by the RPC handlers of the domain core. Each check names the wire field it
// rejects, so a caller reading an INVALID_ARGUMENT message knows what to fix; the server can run
// the same checks before it routes a request to a shop.

/// Request field validation; every failure is `invalidArgument` naming the field.
public enum Validation {
    /// A shop id: an identifier (see `identifier`) of at most `CoreLimits.shopIDBytesMax` bytes.
    public static func shopID(_ shopID: String) throws(TokenGateError) {
        try identifier(shopID, field: "shop_id", maximum: CoreLimits.shopIDBytesMax)
    }

    /// A required id field (event id): an identifier of at most `maximum` bytes.
    public static func requiredID(_ value: String, maximum: Int, field: String) throws(TokenGateError) {
        try identifier(value, field: field, maximum: maximum)
    }

    /// The one identifier check (DESIGN §4), used for every id of every RPC, of the config file
    /// and of admin inputs: 1...`maximum` bytes (at most `CoreLimits.identifierBytesMax`) of
    /// valid UTF-8 with no control character (U+0000–U+001F, U+007F–U+009F). A Swift `String`
    /// decoded by the wire module is already valid UTF-8 (it refuses anything else), so one pass
    /// over the bytes is enough; this runs on every hot call and allocates nothing.
    ///
    /// - Throws: `invalidArgument` naming `field`.
    @inline(__always)
    public static func identifier(
        _ value: String, field: @autoclosure () -> String, maximum: Int = CoreLimits.identifierBytesMax
    ) throws(TokenGateError) {
        if let problem = identifierProblem(value, maximum: maximum) { throw .invalidArgument("\(field()) \(problem)") }
    }

    /// `identifierProblem` of a string's UTF-8 bytes, read in place.
    static func identifierProblem(_ value: String, maximum: Int) -> String? {
        // A native string hands its bytes over in place (the fast path); any other is walked.
        if let problem = value.utf8.withContiguousStorageIfAvailable({ identifierProblem($0, maximum: maximum) }) {
            return problem
        }
        return identifierProblem(value.utf8, maximum: maximum)
    }

    /// `identifier`, but empty is allowed: the field is optional and empty means absent.
    public static func optionalIdentifier(
        _ value: String, field: @autoclosure () -> String, maximum: Int = CoreLimits.identifierBytesMax
    ) throws(TokenGateError) {
        if value.isEmpty { return }
        try identifier(value, field: field(), maximum: maximum)
    }

    /// Why `bytes` (valid UTF-8) is not an identifier, or nil. The C1 controls U+0080–U+009F
    /// are the two-byte sequences C2 80 … C2 9F.
    static func identifierProblem<Bytes: Collection<UInt8>>(_ bytes: Bytes, maximum: Int) -> String? {
        if bytes.isEmpty { return "is empty" }
        if bytes.count > maximum { return "is \(bytes.count) bytes long; the maximum is \(maximum)" }
        // The usual id is printable ASCII: a branch-free min/max pass (vectorized) settles it.
        var low: UInt8 = 0xFF
        var high: UInt8 = 0
        for byte in bytes {
            low = min(low, byte)
            high = max(high, byte)
        }
        if low >= 0x20 && high < 0x7F { return nil }
        return controlCharacterProblem(bytes, maximum: maximum)
    }

    /// The slow path of `identifierProblem`: text with non-ASCII or control bytes.
    private static func controlCharacterProblem<Bytes: Collection<UInt8>>(_ bytes: Bytes, maximum: Int) -> String? {
        var previous: UInt8 = 0
        for (offset, byte) in bytes.enumerated() {
            if byte < 0x20 || byte == 0x7F || (previous == 0xC2 && byte < 0xA0) {
                let hex = String(byte, radix: 16, uppercase: true)  // C2 xx is U+00xx
                return "holds the control character U+" + String(repeating: "0", count: 4 - hex.count) + hex
                    + " at byte \(previous == 0xC2 ? offset - 1 : offset); identifiers are 1...\(maximum) bytes of "
                    + "UTF-8 text without control characters"
            }
            previous = byte
        }
        return nil
    }

    /// An optional text field: at most `maximum` UTF-8 bytes.
    public static func bytesMax(_ value: String, _ maximum: Int, field: String) throws(TokenGateError) {
        let count = value.utf8.count
        guard count <= maximum else {
            throw .invalidArgument("\(field) is \(count) bytes long; the maximum is \(maximum)")
        }
    }

    /// A token count: at most `CoreLimits.tokensPerCallMax`.
    public static func tokens(_ value: UInt64, field: String) throws(TokenGateError) {
        guard value <= CoreLimits.tokensPerCallMax else {
            throw .invalidArgument("\(field) is \(value); the maximum is \(CoreLimits.tokensPerCallMax) tokens per call")
        }
    }

    /// Cached input tokens are part of the input, so never more than it.
    public static func cachedTokens(_ cached: UInt64, of input: UInt64) throws(TokenGateError) {
        guard cached <= input else {
            throw .invalidArgument(
                "cached_input_tokens (\(cached)) exceeds input_tokens (\(input)); cached tokens are part of the input")
        }
    }

    /// Usage metadata: bounded count and sizes of the free-form pairs.
    public static func metadata(_ metadata: UsageMetadata) throws(TokenGateError) {
        guard metadata.extra.count <= CoreLimits.metadataEntriesMax else {
            throw .invalidArgument(
                "metadata.extra has \(metadata.extra.count) entries; the maximum is \(CoreLimits.metadataEntriesMax)")
        }
        for entry in metadata.extra {
            try identifier(entry.key, field: "metadata.extra key", maximum: CoreLimits.metadataKeyBytesMax)
            try bytesMax(entry.value, CoreLimits.metadataValueBytesMax, field: "metadata.extra['\(entry.key)']")
        }
    }

    /// Checks `requested` as a shop id and that it names `owner`, the shop whose state is asked.
    /// A mismatch is a routing bug in the caller, reported as `internal`.
    static func shop(_ requested: String, owner: String) throws(TokenGateError) {
        try shopID(requested)
        guard requested == owner else {
            throw .internalError("request for shop '\(requested)' was routed to the state of shop '\(owner)'")
        }
    }
}
