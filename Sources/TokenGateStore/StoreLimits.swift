// Every size and count limit of the store in one place, each with the reason it exists. The
// write-ahead log and snapshot code refer only to these names, and `WriteAheadLog.init` checks
// the relations between the configurable ones.

/// Limits of the write-ahead log and snapshots. Units are the last word of each name.
public enum StoreLimits {
    /// A segment is closed and a new one started past this size, so old log can be deleted
    /// file by file after a snapshot. A segment holds at least one record, whatever its size.
    public static let defaultSegmentBytesMax = 64 << 20
    /// Largest record body: a usage event is a few hundred bytes; anything near this is a bug.
    public static let defaultRecordBytesMax = 1 << 20
    /// Appended but not yet written bytes beyond which `append` refuses (`.overloaded`), so a
    /// disk that stays full cannot make the daemon grow without bound.
    public static let defaultPendingBytesMax = 256 << 20
    /// Pending bytes at which an append wakes the flusher even though nobody waits yet.
    static let pendingWakeBytes = 1 << 20
    /// A flusher buffer larger than this is freed after use instead of being kept for reuse.
    static let recycledBufferBytesMax = 8 << 20
    /// Interval of the background `fdatasync` under the `everysec` policy.
    static let everysecIntervalNanoseconds: UInt64 = 1_000_000_000
    /// Record header: u32 body length, u64 sequence, u32 CRC-32C.
    static let recordHeaderBytes = 16
    /// Snapshots kept after a new one is written: the newest and one to fall back to.
    public static let snapshotsKept = 2
    /// Largest snapshot entry; the length prefix is a u32.
    public static let snapshotEntryBytesMax = Int(UInt32.max)
    /// Events a snapshot rebuilds per hold of a shard lock: about a millisecond of work, so a
    /// call on that shard waits at most that long, and the snapshot keeps no copy of a shop's
    /// storage (a writer would then duplicate the shop's arrays under the lock).
    static let snapshotEventsPerLock = 1_024
    /// How often the snapshot scheduler looks at its triggers: a record-count trigger fires
    /// within this, and the check costs two atomic loads.
    static let snapshotPollMilliseconds = 100
    /// After a failed periodic snapshot (a full disk, say) the next try waits this long, so a
    /// lasting failure costs one warning per interval instead of ten a second.
    static let snapshotRetrySeconds = 30
}
