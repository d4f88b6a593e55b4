// Field checks shared by the RPC handlers of the domain core. Each check names the wire field it
// rejects, so a caller reading an INVALID_ARGUMENT message knows what to fix; the server can run
// the same checks before it routes a request to a shop.

/// Request field validation; every failure is `invalidArgument` naming the field.
public enum Validation {
    /// A shop id: non-empty, at most `CoreLimits.shopIDBytesMax` UTF-8 bytes.
    public static func shopID(_ shopID: String) throws(TokenGateError) {
        guard !shopID.isEmpty else { throw .invalidArgument("shop_id is empty") }
        try bytesMax(shopID, CoreLimits.shopIDBytesMax, field: "shop_id")
    }

    /// A required id field (event id): non-empty and at most `maximum` bytes.
    public static func requiredID(_ value: String, maximum: Int, field: String) throws(TokenGateError) {
        guard !value.isEmpty else { throw .invalidArgument("\(field) is empty") }
        try bytesMax(value, maximum, field: field)
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
            try bytesMax(entry.key, CoreLimits.metadataKeyBytesMax, field: "metadata.extra key")
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
