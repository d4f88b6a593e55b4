// One shop's usage events in a compact form: an 80-byte record per event, strings interned per
// shop, event ids packed to 16 bytes when they are canonical UUIDs, and an open-addressing index
// of positions by event id. `UsageEvent` values are rebuilt on read, field for field, so nothing
// outside this file sees the packing. Issue 6: 10M events took ~400 B each as [UsageEvent] plus
// [String: Int]; this keeps them near 100 B.

/// One stored event. Fields that do not fit their narrow form (tokens or knowledge-base size
/// above UInt32, a recorded time more than ±24 days from the occurrence) live whole in the
/// store's `wide` side table; free metadata pairs live in `extras`.
struct StoredEvent: Sendable {
    /// A packed UUID (`EventIDKey`), or the id's offset and length in the id arena.
    var idHigh: UInt64
    var idLow: UInt64
    var occurredAtUnixMs: UnixMillis
    var costNanoUSD: NanoUSD
    /// Indexes into the shop's string table.
    var user: UInt32
    var conversation: UInt32
    var operationType: UInt32
    var model: UInt32
    var inputTokens: UInt32
    var outputTokens: UInt32
    var cachedInputTokens: UInt32
    /// `recordedAtUnixMs - occurredAtUnixMs`.
    var recordedDeltaMs: Int32
    var messageLength: UInt32
    var historyLength: UInt32
    var knowledgeBaseSize: UInt32
    var flags: UInt8

    static let idInArena: UInt8 = 1
    static let wide: UInt8 = 2
    static let hasExtras: UInt8 = 4
    /// A late event: its bill is in `lateMonths` (issue 17).
    static let late: UInt8 = 8
}

/// The full-width fields of an event whose values did not fit `StoredEvent`.
struct WideEventFields: Sendable {
    var inputTokens: UInt64
    var outputTokens: UInt64
    var cachedInputTokens: UInt64
    var knowledgeBaseSize: UInt64
    var recordedAtUnixMs: UnixMillis
}

/// An event id as 16 bytes when it is a lowercase hex UUID (8-4-4-4-12), the form clients use;
/// any other id (uppercase, prefixed, shorter) is kept as its UTF-8 bytes instead.
struct EventIDKey: Equatable, Sendable {
    var high: UInt64
    var low: UInt64

    /// Characters of the canonical text form (32 hex digits and 4 dashes).
    static let textBytes = 36

    /// The packed form of `id`, or nil when it is not a lowercase canonical UUID.
    init?(_ id: String) {
        self.init(utf8: id.utf8.span)
    }

    /// The packed form of the UTF-8 id `utf8`, or nil when it is not a lowercase canonical UUID.
    /// Group by group, so no byte is asked whether it should be a dash (that made this a tenth
    /// of a replay worker's instructions, callgrind).
    init?(utf8: Span<UInt8>) {
        let dash = UInt8(ascii: "-")
        guard utf8.count == Self.textBytes, utf8[8] == dash, utf8[13] == dash, utf8[18] == dash, utf8[23] == dash
        else { return nil }
        var high: UInt64 = 0
        var low: UInt64 = 0
        var valid = true
        for offset in 0..<8 { Self.shiftIn(utf8[offset], into: &high, valid: &valid) }
        for offset in 9..<13 { Self.shiftIn(utf8[offset], into: &high, valid: &valid) }
        for offset in 14..<18 { Self.shiftIn(utf8[offset], into: &high, valid: &valid) }
        for offset in 19..<23 { Self.shiftIn(utf8[offset], into: &low, valid: &valid) }
        for offset in 24..<36 { Self.shiftIn(utf8[offset], into: &low, valid: &valid) }
        guard valid else { return nil }
        self.high = high
        self.low = low
    }

    /// Appends the value of the lowercase hex digit `byte` to `word`; clears `valid` for any
    /// other byte (uppercase would not round-trip).
    private static func shiftIn(_ byte: UInt8, into word: inout UInt64, valid: inout Bool) {
        let digit = byte &- UInt8(ascii: "0")
        let letter = byte &- UInt8(ascii: "a")
        let value = digit < 10 ? digit : letter &+ 10
        valid = valid && (digit < 10 || letter < 6)
        word = word << 4 | UInt64(value & 0xF)
    }

    init(high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
    }

    /// The canonical text form.
    var text: String {
        let digits = Array("0123456789abcdef".utf8)
        var bytes: [UInt8] = []
        bytes.reserveCapacity(Self.textBytes)
        for index in 0..<32 {
            if index == 8 || index == 12 || index == 16 || index == 20 { bytes.append(UInt8(ascii: "-")) }
            let word = index < 16 ? high : low
            let shift = UInt64(60 - 4 * (index % 16))
            bytes.append(digits[Int((word >> shift) & 0xF)])
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The process-seeded hash the id index files the key under.
    var hash: Int { ByteHash.hash(high, low) }
}

/// A shop's events in the order they were applied, with lookup by event id.
struct EventStore: Sendable {
    private(set) var records: [StoredEvent] = []
    private var strings = StringTable()
    /// UTF-8 bytes of event ids that are not canonical UUIDs.
    private var idBytes: [UInt8] = []
    private var idIndex = SlotTable()
    private var wide: [UInt32: WideEventFields] = [:]
    private var extras: [UInt32: [MetadataEntry]] = [:]
    /// The bill of each late event (one whose month was already billed), by position.
    private var lateMonths: [UInt32: MonthKey] = [:]

    /// Why UInt32: positions are stored in 4 bytes (id index, day index).
    static let eventsMax = Int(UInt32.max) - 1

    var count: Int { records.count }

    /// The position of the event recorded under `id`.
    func position(of id: String) -> Int? {
        position(of: id, digest: EventIDDigest(id))
    }

    /// `position(of:)` with the id's packed form and hash worked out once (`EventIDDigest`).
    func position(of id: String, digest: EventIDDigest) -> Int? {
        position(of: id.utf8.span, key: digest.key, hash: digest.hash)
    }

    /// Appends `event` unless an event with its id is stored; returns whether it was appended.
    mutating func appendIfNew(_ event: UsageEvent, digest: EventIDDigest? = nil) -> Bool {
        appendIfNew(
            id: event.eventID.utf8.span, user: event.userID.utf8.span, conversation: event.conversationID.utf8.span,
            operationType: event.operationType.utf8.span, model: event.model.utf8.span, numbers: UsageNumbers(event),
            extras: event.metadata.extra,
            billingMonth: event.billingPeriod.isEmpty ? nil : try? MonthKey(parsing: event.billingPeriod), digest: digest)
    }

    /// `appendIfNew(event.event(in: buffer))`, without making its Strings (recovery's path).
    mutating func appendIfNew(_ event: UsageEventBytes, in buffer: [UInt8]) -> Bool {
        let bytes = buffer.span
        return appendIfNew(
            id: bytes.extracting(event.eventID), user: bytes.extracting(event.userID),
            conversation: bytes.extracting(event.conversationID), operationType: bytes.extracting(event.operationType),
            model: bytes.extracting(event.model), numbers: event.numbers, extras: [],
            billingMonth: event.billingMonth(in: buffer))
    }

    /// Appends the event given by its fields' UTF-8 bytes unless its id is stored.
    private mutating func appendIfNew(
        id: Span<UInt8>, user: Span<UInt8>, conversation: Span<UInt8>, operationType: Span<UInt8>, model: Span<UInt8>,
        numbers: UsageNumbers, extras: [MetadataEntry], billingMonth: MonthKey?, digest: EventIDDigest? = nil
    ) -> Bool {
        precondition(records.count < Self.eventsMax, "a shop holds at most \(Self.eventsMax) events")
        let key = digest.map(\.key) ?? EventIDKey(utf8: id)
        let hash = digest?.hash ?? key?.hash ?? ByteHash.hash(id)
        if position(of: id, key: key, hash: hash) != nil { return false }
        var record = narrowRecord(numbers, key: key, idBytes: id.count, hasExtras: !extras.isEmpty)
        if key == nil { for index in id.indices { idBytes.append(id[index]) } }
        let previous = records.last
        record.user = strings.intern(user, hint: previous?.user)
        record.conversation = strings.intern(conversation, hint: previous?.conversation)
        record.operationType = strings.intern(operationType, hint: previous?.operationType)
        record.model = strings.intern(model, hint: previous?.model)
        let position = UInt32(records.count)
        if record.flags & StoredEvent.wide != 0 {
            wide[position] = WideEventFields(
                inputTokens: numbers.inputTokens, outputTokens: numbers.outputTokens,
                cachedInputTokens: numbers.cachedInputTokens, knowledgeBaseSize: numbers.knowledgeBaseSize,
                recordedAtUnixMs: numbers.recordedAtUnixMs)
        }
        if record.flags & StoredEvent.hasExtras != 0 { self.extras[position] = extras }
        if let billingMonth {
            record.flags |= StoredEvent.late
            lateMonths[position] = billingMonth
        }
        records.append(record)
        if idIndex.isFull {
            idIndex.reset(forEntries: records.count)
            for position in records.indices { idIndex.insert(position, hash: idHash(at: position)) }
        } else {
            idIndex.insert(records.count - 1, hash: hash)
        }
        return true
    }

    /// The event at `position`, as it was applied, with `shopID` (the owner's id).
    func event(at position: Int, shopID: String) -> UsageEvent {
        let record = records[position]
        var event = UsageEvent(
            eventID: eventID(record), shopID: shopID, userID: strings.string(record.user),
            conversationID: strings.string(record.conversation), operationType: strings.string(record.operationType),
            model: strings.string(record.model), inputTokens: UInt64(record.inputTokens),
            outputTokens: UInt64(record.outputTokens), cachedInputTokens: UInt64(record.cachedInputTokens),
            occurredAtUnixMs: record.occurredAtUnixMs, costNanoUSD: record.costNanoUSD,
            metadata: UsageMetadata(
                messageLength: record.messageLength, historyLength: record.historyLength,
                knowledgeBaseSize: UInt64(record.knowledgeBaseSize)),
            recordedAtUnixMs: record.occurredAtUnixMs + Int64(record.recordedDeltaMs))
        if record.flags & StoredEvent.wide != 0, let full = wide[UInt32(position)] {
            event.inputTokens = full.inputTokens
            event.outputTokens = full.outputTokens
            event.cachedInputTokens = full.cachedInputTokens
            event.metadata.knowledgeBaseSize = full.knowledgeBaseSize
            event.recordedAtUnixMs = full.recordedAtUnixMs
        }
        if record.flags & StoredEvent.hasExtras != 0 { event.metadata.extra = extras[UInt32(position)] ?? [] }
        if let month = billingMonth(at: position) { event.billingPeriod = month.text }
        return event
    }

    /// The bill a late event at `position` landed on; nil for every event that is not late.
    func billingMonth(at position: Int) -> MonthKey? {
        guard records[position].flags & StoredEvent.late != 0 else { return nil }
        return lateMonths[UInt32(position)]
    }

    /// The operation type of the event at `position`.
    func operationType(at position: Int) -> String { strings.string(records[position].operationType) }

    /// The token counts of the event at `position`, without rebuilding the event.
    func tokens(at position: Int) -> (input: UInt64, output: UInt64, cached: UInt64) {
        let record = records[position]
        if record.flags & StoredEvent.wide != 0, let full = wide[UInt32(position)] {
            return (full.inputTokens, full.outputTokens, full.cachedInputTokens)
        }
        return (UInt64(record.inputTokens), UInt64(record.outputTokens), UInt64(record.cachedInputTokens))
    }

    // MARK: - Private

    /// The record of an event with every field that fits narrowed; strings and side tables are
    /// filled in by `appendIfNew`.
    private func narrowRecord(_ event: UsageNumbers, key: EventIDKey?, idBytes idCount: Int, hasExtras: Bool) -> StoredEvent {
        var flags: UInt8 = 0
        var idHigh = key?.high ?? 0
        var idLow = key?.low ?? 0
        if key == nil {
            flags |= StoredEvent.idInArena
            idHigh = UInt64(idBytes.count)
            idLow = UInt64(idCount)
        }
        let delta = event.recordedAtUnixMs.subtractingReportingOverflow(event.occurredAtUnixMs)
        let narrow =
            event.inputTokens <= UInt32.max && event.outputTokens <= UInt32.max
            && event.cachedInputTokens <= UInt32.max && event.knowledgeBaseSize <= UInt32.max
            && !delta.overflow && delta.partialValue >= Int64(Int32.min) && delta.partialValue <= Int64(Int32.max)
        if !narrow { flags |= StoredEvent.wide }
        if hasExtras { flags |= StoredEvent.hasExtras }
        return StoredEvent(
            idHigh: idHigh, idLow: idLow, occurredAtUnixMs: event.occurredAtUnixMs, costNanoUSD: event.costNanoUSD,
            user: 0, conversation: 0, operationType: 0, model: 0,
            inputTokens: narrow ? UInt32(event.inputTokens) : 0, outputTokens: narrow ? UInt32(event.outputTokens) : 0,
            cachedInputTokens: narrow ? UInt32(event.cachedInputTokens) : 0,
            recordedDeltaMs: narrow ? Int32(delta.partialValue) : 0, messageLength: event.messageLength,
            historyLength: event.historyLength,
            knowledgeBaseSize: narrow ? UInt32(event.knowledgeBaseSize) : 0, flags: flags)
    }

    /// The position of `id`, given its packed form (nil when it is not a UUID) and its hash.
    private func position(of id: Span<UInt8>, key: EventIDKey?, hash: Int) -> Int? {
        if let key { return idIndex.find(hash: hash) { matches(key, at: $0) } }
        return idIndex.find(hash: hash) { matches(id, at: $0) }
    }

    /// The hash an event id is filed under (the same for a request's id and a stored event's).
    static func idHash(of id: String) -> Int { EventIDDigest(id).hash }

    /// The hash the id index filed the event at `position` under.
    func idHash(at position: Int) -> Int {
        let record = records[position]
        if record.flags & StoredEvent.idInArena == 0 { return EventIDKey(high: record.idHigh, low: record.idLow).hash }
        return ByteHash.hash(idBytes.span.extracting(idRange(record)))
    }

    private func matches(_ key: EventIDKey, at position: Int) -> Bool {
        let record = records[position]
        return record.flags & StoredEvent.idInArena == 0 && record.idHigh == key.high && record.idLow == key.low
    }

    private func matches(_ id: Span<UInt8>, at position: Int) -> Bool {
        let record = records[position]
        guard record.flags & StoredEvent.idInArena != 0 else { return false }
        return ByteHash.equal(idBytes.span, idRange(record), id)
    }

    private func idRange(_ record: StoredEvent) -> Range<Int> {
        Int(record.idHigh)..<Int(record.idHigh + record.idLow)
    }

    private func eventID(_ record: StoredEvent) -> String {
        if record.flags & StoredEvent.idInArena == 0 { return EventIDKey(high: record.idHigh, low: record.idLow).text }
        return String(decoding: idBytes[idRange(record)], as: UTF8.self)
    }
}

/// An event id's packed form and hash, worked out once per LogUsage: reading a UUID id took
/// ~600 instructions, and the id index, the duplicate lookup and the append each needed it.
public struct EventIDDigest: Sendable {
    let key: EventIDKey?
    /// The hash the id is filed under, in a shop's store and in the store-wide id index.
    public let hash: Int

    /// The digest of `id`.
    public init(_ id: String) {
        let utf8 = id.utf8.span
        let key = EventIDKey(utf8: utf8)
        self.key = key
        hash = key?.hash ?? ByteHash.hash(utf8)
    }
}
