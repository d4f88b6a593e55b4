// The bounded spool of LogUsage events the daemon could not take: kept in memory in the order
// they came, and, when the caller names a directory, appended (with fsync) to a file there so
// they survive a restart of the worker itself. Events leave the spool only when the daemon has
// acknowledged them (or refused them for good); re-sends carry the same event id, so the daemon
// counts each once. With a directory, `add` holds the spool's lock through one fdatasync: this
// is the degraded path (the daemon is away), where durability matters more than latency.
import Synchronization
import TokenGateCore
import TokenGateWire

final class UsageSpool: Sendable {
    /// A file this size or larger is rewritten without its finished records once they make up
    /// more than half of it (a drained spool is simply cut back to its header).
    static let defaultCompactionBytesMin = 1 << 20

    private struct Waiting {
        var request: LogUsageRequest
        var recordBytes: Int
    }

    private struct State {
        /// Event ids in spool order; ids no longer in `waiting` are skipped and dropped lazily.
        var queue: [String] = []
        var head = 0
        var waiting: [String: Waiting] = [:]
        /// Encoded size of the waiting events (what the byte limit bounds).
        var waitingBytes = 0
        var file: SpoolFile?
        /// Bytes of the file known to hold whole records; a failed append is cut back to here.
        var fileBytes = 0
        /// Set after an fsync failed: the file's state is unknown, so it takes no more events.
        var fileBroken: String?
        var drainerActive = false
        /// After `close()`: nothing more is accepted.
        var closed = false
    }

    let eventsMax: Int
    let bytesMax: Int
    let directory: String?
    let compactionBytesMin: Int
    private let state: Mutex<State>

    /// Opens the spool; with a directory, loads the events a previous process left there.
    ///
    /// - Throws: `INTERNAL` when the directory cannot be created, opened or locked (another
    ///   client holds it), `DATA_LOSS` when its file is damaged other than by a torn last record.
    init(
        eventsMax: Int, bytesMax: Int, directory: String?, compactionBytesMin: Int = UsageSpool.defaultCompactionBytesMin
    ) throws(TokenGateError) {
        self.eventsMax = eventsMax
        self.bytesMax = bytesMax
        self.directory = directory
        self.compactionBytesMin = compactionBytesMin
        var initial = State()
        if let directory {
            let file: SpoolFile
            do {
                file = try SpoolFile(directory: directory)
            } catch {
                throw TokenGateError(.internal, "cannot open the usage spool: \(error)")
            }
            initial.file = file
            try Self.load(into: &initial, from: file)
        }
        state = Mutex(initial)
    }

    /// Events waiting to be re-sent.
    var depth: Int { state.withLock { $0.waiting.count } }

    /// The file in the spool directory that keeps every spooled event the daemon refused for
    /// good (a malformed event: INVALID_ARGUMENT and the like), one JSON object a line, so that
    /// nothing leaves the spool unseen. `tokengate dead-letters DIR` prints it.
    static let deadLetterFileName = "dead-letter.jsonl"

    /// Appends `request` and the daemon's answer to the dead-letter file (with fsync); nothing
    /// without a spool directory. Returns the file's path when written.
    @discardableResult
    func deadLetter(_ request: LogUsageRequest, error: TokenGateError, atUnixMs now: Int64) throws(TokenGateError) -> String? {
        guard let directory else { return nil }
        let path = directory + "/" + Self.deadLetterFileName
        let line = Self.deadLetterLine(request, error: error, atUnixMs: now)
        do {
            // Under the spool's lock, so that lines of concurrent refusals never interleave.
            try state.withLock { _ throws(SpoolFileError) in try SpoolFile.appendDurably(path: path, Array(line.utf8)) }
        } catch {
            throw TokenGateError(.internal, "cannot write the dead-letter file: \(error)")
        }
        return path
    }

    /// One dead-letter line: the event as sent, and why it was refused.
    static func deadLetterLine(_ request: LogUsageRequest, error: TokenGateError, atUnixMs now: Int64) -> String {
        let q = JSONValue.quoted
        let fields: [(String, String)] = [
            ("event_id", q(request.eventID)), ("shop_id", q(request.shopID)), ("user_id", q(request.userID)),
            ("conversation_id", q(request.conversationID)), ("operation_type", q(request.operationType)),
            ("model", q(request.model)), ("input_tokens", String(request.inputTokens)),
            ("output_tokens", String(request.outputTokens)), ("cached_input_tokens", String(request.cachedInputTokens)),
            ("occurred_at_unix_ms", String(request.occurredAtUnixMs)), ("reservation_id", q(request.reservationID)),
            ("metadata", UsageCSV.metadataJSON(request.metadata.extra)), ("code", q(error.code.description)),
            ("message", q(error.message)), ("refused_at_unix_ms", String(now)),
        ]
        return "{" + fields.map { q($0.0) + ":" + $0.1 }.joined(separator: ",") + "}\n"
    }

    /// Adds an event (which must have an event id) behind the others. An event id already
    /// waiting is not added twice. Returns the depth and whether the caller must start a drainer.
    ///
    /// - Throws: `RESOURCE_EXHAUSTED` when the spool is full, `INVALID_ARGUMENT` for an event
    ///   too large to be a record, `INTERNAL` when the spool file cannot take it; in each case
    ///   the event is NOT spooled.
    func add(_ request: LogUsageRequest) throws(TokenGateError) -> (depth: Int, startDrainer: Bool) {
        precondition(!request.eventID.isEmpty, "spooled events carry their event id")
        return try state.withLock { state throws(TokenGateError) in
            if state.closed {
                throw TokenGateError(.cancelled, "the client was shut down; event \(request.eventID) was NOT recorded")
            }
            if state.waiting[request.eventID] == nil {
                let record = SpoolRecords.eventRecord(request)
                guard record.count - SpoolRecords.recordHeaderBytes <= SpoolRecords.recordPayloadBytesMax else {
                    throw TokenGateError(
                        .invalidArgument,
                        "event \(request.eventID) encodes to \(record.count) bytes, over the spool's \(SpoolRecords.recordPayloadBytesMax)-byte record limit (trim its metadata)")
                }
                guard state.waiting.count < eventsMax, state.waitingBytes + record.count <= bytesMax else {
                    throw TokenGateError(
                        .resourceExhausted,
                        "usage spool is full (\(state.waiting.count) events, \(state.waitingBytes) bytes; limits \(eventsMax) events, \(bytesMax) bytes) while tokengated is unreachable; event \(request.eventID) was NOT recorded")
                }
                try Self.write(record, sync: true, to: &state)
                state.waiting[request.eventID] = Waiting(request: request, recordBytes: record.count)
                state.waitingBytes += record.count
                state.queue.append(request.eventID)
            }
            let start = !state.drainerActive
            state.drainerActive = true
            return (state.waiting.count, start)
        }
    }

    /// Claims the drainer's job when events wait and no drainer runs (used at start-up).
    func claimDrainer() -> Bool {
        state.withLock { state in
            guard !state.closed, !state.waiting.isEmpty, !state.drainerActive else { return false }
            state.drainerActive = true
            return true
        }
    }

    /// Gives up the drainer's job if nothing waits; returns false (keep draining) otherwise.
    func releaseDrainerIfEmpty() -> Bool {
        state.withLock { state in
            guard state.waiting.isEmpty else { return false }
            state.drainerActive = false
            return true
        }
    }

    /// Up to `count` of the oldest waiting events.
    func oldest(_ count: Int) -> [LogUsageRequest] {
        state.withLock { state in
            var batch: [LogUsageRequest] = []
            var index = state.head
            while batch.count < count && index < state.queue.count {
                if let waiting = state.waiting[state.queue[index]] { batch.append(waiting.request) }
                index += 1
            }
            return batch
        }
    }

    /// Takes an event out: the daemon acknowledged it or refused it for good. The `done` record
    /// is not synced: losing it only means one harmless re-send that the daemon answers as a
    /// duplicate.
    func remove(_ eventID: String) {
        state.withLock { state in
            guard let removed = state.waiting.removeValue(forKey: eventID) else { return }
            state.waitingBytes -= removed.recordBytes
            while state.head < state.queue.count && state.waiting[state.queue[state.head]] == nil { state.head += 1 }
            if state.head * 2 > state.queue.count {
                state.queue.removeFirst(state.head)
                state.head = 0
            }
            guard state.file != nil, state.fileBroken == nil else { return }
            if state.waiting.isEmpty {
                Self.cutBackToHeader(&state)
            } else {
                try? Self.write(SpoolRecords.doneRecord(eventID: eventID), sync: false, to: &state)
                Self.compactIfWorthwhile(&state, bytesMin: compactionBytesMin)
            }
        }
    }

    /// Closes the spool file and releases the directory lock; later adds throw CANCELLED.
    func close() {
        state.withLock { state in
            state.closed = true
            state.file?.close()
            state.file = nil
        }
    }

    // MARK: - File

    private static func load(into state: inout State, from file: SpoolFile) throws(TokenGateError) {
        let loaded: SpoolRecords.Loaded
        do {
            loaded = try SpoolRecords.parse(try file.readAll(), path: file.path)
        } catch let error as SpoolFileError {
            throw TokenGateError(.internal, "cannot read the usage spool: \(error)")
        } catch let error as TokenGateError {
            throw error
        } catch {
            throw TokenGateError(.internal, "cannot read the usage spool: \(error)")
        }
        var records = SpoolRecords.magic
        for request in loaded.events {
            let record = SpoolRecords.eventRecord(request)
            state.waiting[request.eventID] = Waiting(request: request, recordBytes: record.count)
            state.waitingBytes += record.count
            state.queue.append(request.eventID)
            records += record
        }
        do {
            if loaded.worthCompacting || loaded.validBytes == 0 {
                try file.replace(with: records)
                state.fileBytes = records.count
            } else {
                state.fileBytes = loaded.validBytes
            }
        } catch {
            throw TokenGateError(.internal, "cannot rewrite the usage spool: \(error)")
        }
    }

    /// Appends a record; a failed write is cut back so no partial record stays in the middle.
    private static func write(_ record: [UInt8], sync: Bool, to state: inout State) throws(TokenGateError) {
        guard let file = state.file else { return }
        if let broken = state.fileBroken {
            throw TokenGateError(.internal, "usage spool file is unusable after an earlier failure (\(broken)); the event was NOT spooled")
        }
        do {
            try file.append(record, sync: false)
        } catch {
            do {
                try file.truncate(to: state.fileBytes)
            } catch {
                state.fileBroken = "\(error)"
            }
            throw TokenGateError(.internal, "cannot append to the usage spool (\(error)); the event was NOT spooled")
        }
        state.fileBytes += record.count
        guard sync else { return }
        do {
            try file.sync()
        } catch {
            // A failed fsync is never retried: what reached the disk is unknown from here on.
            state.fileBroken = "\(error)"
            throw TokenGateError(.internal, "cannot make the usage spool durable (\(error)); the event was NOT spooled")
        }
    }

    private static func cutBackToHeader(_ state: inout State) {
        guard let file = state.file else { return }
        do {
            try file.truncate(to: SpoolRecords.magic.count)
            state.fileBytes = SpoolRecords.magic.count
        } catch {
            state.fileBroken = "\(error)"
        }
    }

    private static func compactIfWorthwhile(_ state: inout State, bytesMin: Int) {
        guard let file = state.file, state.fileBytes >= bytesMin, state.waitingBytes * 2 < state.fileBytes else { return }
        var records = SpoolRecords.magic
        for id in state.queue[state.head...] {
            if let waiting = state.waiting[id] { records += SpoolRecords.eventRecord(waiting.request) }
        }
        do {
            try file.replace(with: records)
            state.fileBytes = records.count
        } catch {
            // The old file is intact (replace renames only a complete, synced copy).
            return
        }
    }
}
