// The named maxima of the domain core, together in one place (STYLE: limits on everything).
// Each bounds a field a peer controls or a table that grows with traffic, so no input can make
// the core allocate or loop without bound; each has a one-line reason.

/// Bounds on request fields and on per-shop tables.
public enum CoreLimits {
    /// Any identifier (DESIGN §4): ids are keys and labels, never documents. Fields below may be
    /// tighter; none is looser.
    public static let identifierBytesMax = 256
    /// Shop ids are opaque keys chosen by the platform; 128 bytes fits any UUID or slug with room,
    /// and keeps a reservation id (`rsv-<boot>-<n>:<shop>`) within `reservationIDBytesMax`.
    public static let shopIDBytesMax = 128
    /// Event ids are idempotency keys (UUIDs in practice); 128 bytes leaves room for prefixes.
    public static let eventIDBytesMax = 128
    /// Reservation ids are made by the daemon and end with the shop id; a longer one is not ours.
    public static let reservationIDBytesMax = 256
    /// Request ids are only echoed back for the caller's logs.
    public static let requestIDBytesMax = 128
    /// User and conversation ids are stored with every event; keep them key-sized.
    public static let userIDBytesMax = 256
    /// Operation types and model names are config keys.
    public static let nameBytesMax = 128
    /// Ten billion tokens in one call is far beyond any model's context; larger is a client bug.
    public static let tokensPerCallMax: UInt64 = 10_000_000_000
    /// LogUsage may be late, never early: clocks of workers on one host agree within this.
    public static let futureSkewMs: Int64 = 5_000
    /// Free-form metadata pairs per event; they are stored with the event for 13 months.
    public static let metadataEntriesMax = 32
    /// Bytes of one metadata key.
    public static let metadataKeyBytesMax = 128
    /// Bytes of one metadata value.
    public static let metadataValueBytesMax = 1_024
    /// Live reservations one shop may hold at once; many more means a client that never settles.
    public static let liveReservationsPerShopMax = 10_000
    /// Ended reservation ids one shop remembers (besides the 2×TTL age rule) to explain a
    /// second settle or release.
    public static let endedReservationsPerShopMax = 10_000
    /// Longest reservation TTL a configuration may set: a hold is meant to cover one model call.
    public static let reservationTTLMsMax: Int64 = 86_400_000

    // MARK: Configuration tables (read on every call, and sent whole by GetConfiguration, whose
    // answer must fit the 4 MiB response frame: at these maxima it stays near 3 MB)

    /// Pricing tiers: a price list, not per-shop data.
    public static let tiersMax = 256
    /// Models in the price table.
    public static let modelsMax = 256
    /// Versions one model's price may accumulate; prices change a few times a year.
    public static let priceVersionsPerModelMax = 32
    /// Prompt-size tiers of one price version.
    public static let promptTiersMax = 16
    /// Bytes of a price version's `source` note.
    public static let priceSourceBytesMax = 256
    /// Configured operation types.
    public static let operationTypesMax = 256
    /// Shops with settings of their own (limit overrides, rate limits, shadow mode): these are
    /// exceptions, and 10,000 of each keeps GetConfiguration's answer under a megabyte or two.
    public static let shopSettingsMax = 10_000
    /// Model downgrade rules of ApplyOptimization.
    public static let modelDowngradesMax = 256
    /// Highest tokens-per-minute a rate limit may name: far above any model's throughput, and low
    /// enough that the limiter's exact 128-bit arithmetic cannot overflow.
    public static let tokensPerMinuteMax: UInt64 = 1_000_000_000_000
}
