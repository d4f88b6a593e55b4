// A usage event still in the bytes it was read from: its text fields are ranges of a buffer the
// caller holds (a whole log segment during recovery), its numbers are decoded. Recovery applies
// millions of events; building six Swift Strings per event on the decoding thread, and freeing
// them on a worker after the compact store had copied their bytes, was a third of replay's
// instructions (callgrind, issue 6). Applying one of these with its buffer is exactly applying
// `event(in: buffer)`. The value holds no reference (plain data): copying it between threads
// touches no reference count (a buffer referenced from every event made all three replay
// threads contend for one count, perf).

/// A usage event whose text fields are UTF-8 ranges of a buffer held elsewhere. Only plain
/// events: no free metadata pairs (the decoders that make these give up on anything else).
public struct UsageEventBytes: Sendable {
    // The text fields' ranges in 8 bytes each (a batch of recovered events is read in shop
    // order, not in the order it was filled, so its size in cache lines is cache misses, perf).
    private var eventIDText = TextRange()
    private var shopIDText = TextRange()
    private var userIDText = TextRange()
    private var conversationIDText = TextRange()
    private var operationTypeText = TextRange()
    private var modelText = TextRange()
    private var billingPeriodText = TextRange()

    /// Offsets a text range can have: within the first 4 GiB of its buffer.
    public static let offsetMax = Int(UInt32.max)

    public var eventID: Range<Int> {
        get { eventIDText.range }
        set { eventIDText = TextRange(newValue) }
    }
    public var shopID: Range<Int> {
        get { shopIDText.range }
        set { shopIDText = TextRange(newValue) }
    }
    public var userID: Range<Int> {
        get { userIDText.range }
        set { userIDText = TextRange(newValue) }
    }
    public var conversationID: Range<Int> {
        get { conversationIDText.range }
        set { conversationIDText = TextRange(newValue) }
    }
    public var operationType: Range<Int> {
        get { operationTypeText.range }
        set { operationTypeText = TextRange(newValue) }
    }
    public var model: Range<Int> {
        get { modelText.range }
        set { modelText = TextRange(newValue) }
    }
    /// A late event's bill ("YYYY-MM"); empty for every other event.
    public var billingPeriod: Range<Int> {
        get { billingPeriodText.range }
        set { billingPeriodText = TextRange(newValue) }
    }
    public var inputTokens: UInt64 = 0
    public var outputTokens: UInt64 = 0
    public var cachedInputTokens: UInt64 = 0
    public var occurredAtUnixMs: UnixMillis = 0
    public var costNanoUSD: NanoUSD = 0
    public var messageLength: UInt32 = 0
    public var historyLength: UInt32 = 0
    public var knowledgeBaseSize: UInt64 = 0
    public var recordedAtUnixMs: UnixMillis = 0

    /// An event with every text field empty and every number 0; the decoder fills it in.
    public init() {}

    /// The same event with its text fields, read from `buffer`, as Strings.
    public func event(in buffer: [UInt8]) -> UsageEvent {
        func text(_ range: Range<Int>) -> String { Self.text(range, in: buffer) }
        return UsageEvent(
            eventID: text(eventID), shopID: text(shopID), userID: text(userID), conversationID: text(conversationID),
            operationType: text(operationType), model: text(model), inputTokens: inputTokens, outputTokens: outputTokens,
            cachedInputTokens: cachedInputTokens, occurredAtUnixMs: occurredAtUnixMs, costNanoUSD: costNanoUSD,
            metadata: UsageMetadata(
                messageLength: messageLength, historyLength: historyLength, knowledgeBaseSize: knowledgeBaseSize),
            recordedAtUnixMs: recordedAtUnixMs, billingPeriod: text(billingPeriod))
    }

    /// The month a late event landed on (nil for every other event, or an unreadable period).
    func billingMonth(in buffer: [UInt8]) -> MonthKey? {
        guard !billingPeriod.isEmpty else { return nil }
        return try? MonthKey(parsing: Self.text(billingPeriod, in: buffer))
    }

    /// The text of `range` of `buffer`.
    public static func text(_ range: Range<Int>, in buffer: [UInt8]) -> String {
        String(decoding: buffer[range], as: UTF8.self)
    }

    /// The numbers the compact store keeps of this event.
    var numbers: UsageNumbers {
        UsageNumbers(
            inputTokens: inputTokens, outputTokens: outputTokens, cachedInputTokens: cachedInputTokens,
            occurredAtUnixMs: occurredAtUnixMs, costNanoUSD: costNanoUSD, messageLength: messageLength,
            historyLength: historyLength, knowledgeBaseSize: knowledgeBaseSize, recordedAtUnixMs: recordedAtUnixMs)
    }
}

/// A range of at most `UsageEventBytes.offsetMax` in 8 bytes.
private struct TextRange: Sendable {
    var start: UInt32 = 0
    var end: UInt32 = 0

    init() {}

    /// Traps when `range` ends past `UsageEventBytes.offsetMax` (decoders check it first).
    init(_ range: Range<Int>) {
        start = UInt32(range.lowerBound)
        end = UInt32(range.upperBound)
    }

    var range: Range<Int> { Int(start)..<Int(end) }
}

/// The numeric fields of a usage event, whichever form it came in.
struct UsageNumbers {
    var inputTokens: UInt64
    var outputTokens: UInt64
    var cachedInputTokens: UInt64
    var occurredAtUnixMs: UnixMillis
    var costNanoUSD: NanoUSD
    var messageLength: UInt32
    var historyLength: UInt32
    var knowledgeBaseSize: UInt64
    var recordedAtUnixMs: UnixMillis

    var tokens: (input: UInt64, output: UInt64, cached: UInt64) { (inputTokens, outputTokens, cachedInputTokens) }
}

extension UsageNumbers {
    // In an extension, so the struct keeps its memberwise initializer.
    init(_ event: UsageEvent) {
        self.init(
            inputTokens: event.inputTokens, outputTokens: event.outputTokens, cachedInputTokens: event.cachedInputTokens,
            occurredAtUnixMs: event.occurredAtUnixMs, costNanoUSD: event.costNanoUSD,
            messageLength: event.metadata.messageLength, historyLength: event.metadata.historyLength,
            knowledgeBaseSize: event.metadata.knowledgeBaseSize, recordedAtUnixMs: event.recordedAtUnixMs)
    }
}
