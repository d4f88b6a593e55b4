// The named maxima and defaults of reports, usage logs and alerts (STYLE: limits on everything).
// Reports over many shops and pages of events must fit in one response frame (4 MiB by
// default), so each list a response carries has a cap sized well below that, with the reason.

/// Caps and defaults of the report RPCs.
public enum ReportLimits {
    /// Shops listed in one report response (by-shop statistics, summaries, projections, batch
    /// records): a row is at most ~200 bytes, so 10,000 rows stay under 2 MiB. Totals always
    /// cover every shop; the list keeps the most expensive ones.
    public static let shopsPerResponseMax = 10_000
    /// Operation types listed per report; they are configuration keys, so this is generous.
    public static let operationsPerResponseMax = 1_000
    /// Default page of QueryUsageLogs.
    public static let usagePageSizeDefault: UInt32 = 100
    /// Largest page of QueryUsageLogs: an event is a few hundred bytes in practice.
    public static let usagePageSizeMax: UInt32 = 1_000
    /// Estimated bytes of one page of events; an event with large metadata can reach 64 KiB
    /// (the request frame limit), so pages also stop here, well under the 4 MiB frame.
    public static let usagePageBytesMax = 1 << 20
    /// Events one page may examine under a shop's lock before answering with what it found
    /// (possibly nothing) and a cursor to continue, so a sparse filter cannot hold the lock long.
    public static let usagePageScanEventsMax = 100_000
    /// Rows per CSV export chunk before the chunk is sent; far under the frame limit.
    public static let csvChunkBytesTarget = 256 << 10
    /// Events copied out of a shop per lock hold while exporting.
    public static let csvEventsPerBatch = 1_024
    /// Default threshold of GetHighCostShops: $1.00 in the last 24 hours (the seed's).
    public static let highCostThresholdDefaultNanoUSD: NanoUSD = 1_000_000_000
    /// Default number of shops of GetHighCostShops (the seed's LIMIT 20).
    public static let highCostTopDefault: UInt32 = 20
    /// Most shops GetHighCostShops lists.
    public static let highCostTopMax: UInt32 = 1_000
    /// The window of GetHighCostShops.
    public static let highCostWindowMs: Int64 = 86_400_000
    /// Default number of alerts of ListAlerts.
    public static let alertsListDefault: UInt32 = 100
    /// Most alerts ListAlerts returns (an alert is a few hundred bytes).
    public static let alertsListMax: UInt32 = 1_000
    /// Default threshold of the scheduled daily high-cost check: more than $5.00 in a UTC day.
    public static let dailyHighCostThresholdDefaultNanoUSD: NanoUSD = 5_000_000_000
    /// Default time of the scheduled daily high-cost check: 02:00 UTC.
    public static let dailyHighCostCheckAtDefaultMs: Int64 = 2 * 3_600_000
    /// The operation type whose caps the shop view shows (the seed's budgets are chat budgets).
    public static let shopViewOperationType = "chat_message"
}
