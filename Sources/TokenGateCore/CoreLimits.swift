// The named maxima of the domain core, together in one place (STYLE: limits on everything).
// Each bounds a field a peer controls or a table that grows with traffic, so no input can make
// the core allocate or loop without bound; each has a one-line reason.

/// Bounds on request fields and on per-shop tables.
public enum CoreLimits {
    /// Shop ids are opaque keys chosen by the platform; 128 bytes fits any UUID or slug with room.
    public static let shopIDBytesMax = 128
    /// Event ids are idempotency keys (UUIDs in practice); 128 bytes leaves room for prefixes.
    public static let eventIDBytesMax = 128
    /// Reservation ids are made by the daemon; a longer one in a request is not ours.
    public static let reservationIDBytesMax = 128
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
}
