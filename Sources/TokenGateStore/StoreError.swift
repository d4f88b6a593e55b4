// The errors and reports of the store. A `StoreError` tells the server what to answer (an I/O
// error for one batch is UNAVAILABLE; a dead log stops the daemon) and tells the operator which
// file and byte offset to look at.

/// A failure of the write-ahead log or of snapshots.
public struct StoreError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What went wrong; tests and the server branch on this.
    public enum Kind: Sendable, Equatable {
        /// A record or snapshot failed its checks at `offset` bytes into `file`.
        case corrupt(file: String, offset: Int, reason: String)
        /// An OS error; for writes, the records of the failed batch were not acknowledged.
        case io(SystemError)
        /// An `fdatasync` failed. The log is dead: nothing more is accepted or acknowledged,
        /// and the daemon must exit and recover from the files.
        case failed
        /// A record body over `recordBytesMax`, or a snapshot entry over its limit.
        case tooLarge
        /// More than `pendingBytesMax` bytes are waiting to be written (the disk is stuck).
        case overloaded
        /// The log was closed.
        case closed
    }

    /// The kind of failure.
    public var kind: Kind
    /// A sentence for the operator: what happened and what follows.
    public var detail: String

    /// Creates an error of `kind` with an operator-facing `detail`.
    public init(_ kind: Kind, _ detail: String = "") {
        self.kind = kind
        self.detail = detail
    }

    /// An I/O error wrapping `error`.
    static func io(_ error: SystemError) -> StoreError {
        StoreError(.io(error), error.description)
    }

    /// Corruption at `offset` in `file` (a file name, not a path).
    static func corrupt(_ file: String, _ offset: Int, _ reason: String) -> StoreError {
        StoreError(.corrupt(file: file, offset: offset, reason: reason), "\(file) at byte \(offset): \(reason)")
    }

    /// For example `corrupt: wal-00000000000000000001.log at byte 512: checksum mismatch`.
    public var description: String {
        let name =
            switch kind {
            case .corrupt: "corrupt"
            case .io: "I/O error"
            case .failed: "log failed"
            case .tooLarge: "too large"
            case .overloaded: "overloaded"
            case .closed: "closed"
            }
        return detail.isEmpty ? name : "\(name): \(detail)"
    }
}

/// What `WriteAheadLog.recover` did.
public struct RecoveryReport: Sendable {
    /// Records handed to `apply` (those after `afterSequence`).
    public var recordsReplayed: Int
    /// The last sequence number in use: the log's last record, or `afterSequence` when that is
    /// later. The next append gets `lastSequence + 1`.
    public var lastSequence: UInt64
    /// Bytes of a torn last record cut off the end of the log.
    public var truncatedTailBytes: Int
    /// Where the torn bytes were copied, when there were any.
    public var tailCopyPath: String?
    /// One line per thing the operator should know (torn tail, repair cuts, sequence jumps).
    public var warnings: [String]
}

/// The outcome of an offline check of a log directory or a snapshot file.
public struct VerifyReport: Sendable {
    /// Valid records (log) or entries (snapshot).
    public var records: Int
    /// First valid sequence (log); nil for a snapshot or an empty log.
    public var firstSequence: UInt64?
    /// Last valid sequence (log), or the snapshot's last applied sequence.
    public var lastSequence: UInt64?
    /// The first problem found, with file and byte offset; nil when everything verified.
    public var problem: String?
    /// Things recovery repairs by itself (a torn last record) or that need a snapshot to be
    /// harmless (a sequence jump between segments).
    public var warnings: [String] = []
    /// True when no problem was found.
    public var ok: Bool { problem == nil }

    /// Creates a report.
    public init(
        records: Int = 0, firstSequence: UInt64? = nil, lastSequence: UInt64? = nil,
        problem: String? = nil, warnings: [String] = []
    ) {
        self.records = records
        self.firstSequence = firstSequence
        self.lastSequence = lastSequence
        self.problem = problem
        self.warnings = warnings
    }
}
