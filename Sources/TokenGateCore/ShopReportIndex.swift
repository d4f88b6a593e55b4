// What a shop keeps, besides its events, so that reports read aggregates instead of rescanning
// every event: usage per (month, operation type) and per (day, operation type), the positions of
// each day's events (to scan only the edge days of a time range), and the shop's stored alerts.
// Every structure is updated in O(1) per applied fact and rebuilt from the facts on recovery.

/// One alert per shop, kind and period: the identity that makes alerts stored once.
struct AlertKey: Hashable, Sendable {
    var kind: AlertKind
    var period: String
}

/// Derived report state of one shop; only `ShopState.apply` changes it.
public struct ShopReportIndex: Sendable {
    /// Usage per month and operation type.
    private(set) var monthByOperation: [MonthKey: OperationUsage] = [:]
    /// Usage per operation type and the events of each UTC day, in one table so that
    /// applying an event hashes its day once.
    private var days: [DayKey: DayIndex] = [:]
    /// Stored alerts in the order they were stored.
    private(set) var alerts: [Alert] = []
    private var alertKeys: Set<AlertKey> = []

    /// Adds the event at `position` of the shop's event list.
    mutating func record(_ event: UsageEvent, day: DayKey, month: MonthKey, position: Int) {
        let numbers = UsageNumbers(event)
        monthByOperation[month, default: OperationUsage()].add(operationType: event.operationType, numbers)
        days[day, default: DayIndex()].add(operationType: event.operationType, numbers, position: position)
    }

    /// `record(event.event(in: buffer), …)` without making the event's Strings (recovery's path).
    mutating func record(_ event: UsageEventBytes, in buffer: [UInt8], day: DayKey, month: MonthKey, position: Int) {
        let numbers = event.numbers
        let operationType = buffer.span.extracting(event.operationType)
        monthByOperation[month, default: OperationUsage()].add(operationType: operationType, numbers)
        days[day, default: DayIndex()].add(operationType: operationType, numbers, position: position)
    }

    /// Usage per operation type of `day`, nil when it has none.
    func dayByOperation(_ day: DayKey) -> [String: MonthAggregate]? { days[day]?.byOperation.dictionary }

    /// Positions in the shop's event store of `day`'s events, ascending.
    func dayEventPositions(_ day: DayKey) -> [UInt32] { days[day]?.positions ?? [] }

    /// After retention dropped the raw events of months before `month`: forgets their days and
    /// renumbers the positions of the events kept (`events`, the shop's new event store). The
    /// per-operation month totals stay.
    mutating func reindex(after events: EventStore, droppedBefore month: MonthKey) {
        days = days.filter { $0.key.month >= month }
        for day in days.keys { days[day]?.positions = [] }
        for (position, record) in events.records.enumerated() {
            days[DayKey(unixMs: record.occurredAtUnixMs), default: DayIndex()].positions.append(UInt32(position))
        }
    }

    /// Stores `alert` unless one of its kind and period is stored; returns whether it was new.
    @discardableResult
    mutating func store(_ alert: Alert) -> Bool {
        guard alertKeys.insert(AlertKey(kind: alert.kind, period: alert.period)).inserted else { return false }
        alerts.append(alert)
        return true
    }

    /// True when an alert of `kind` for `period` is stored.
    func hasAlert(kind: AlertKind, period: String) -> Bool {
        alertKeys.contains(AlertKey(kind: kind, period: period))
    }
}

/// One day of a shop: usage per operation type, and the positions in the shop's event store of
/// the day's events, ascending (4 bytes each: a shop holds fewer than 2^32 events).
struct DayIndex: Sendable {
    var byOperation = OperationUsage()
    var positions: [UInt32] = []

    mutating func add(operationType: String, _ event: UsageNumbers, position: Int) {
        byOperation.add(operationType: operationType, event)
        positions.append(UInt32(position))
    }

    mutating func add(operationType: Span<UInt8>, _ numbers: UsageNumbers, position: Int) {
        byOperation.add(operationType: operationType, numbers)
        positions.append(UInt32(position))
    }
}

/// Usage per operation type of one day or month. A shop uses a handful of operation types (at
/// most `CoreLimits.operationTypesMax` can be configured), so a short array searched in order
/// is cheaper to update than a dictionary, which hashed the type's name for every event.
struct OperationUsage: Sendable {
    private(set) var entries: [(operationType: String, usage: MonthAggregate)] = []

    mutating func add(operationType: String, _ event: UsageNumbers) {
        if let index = entries.firstIndex(where: { $0.operationType == operationType }) {
            entries[index].usage.add(tokens: event.tokens, costNanoUSD: event.costNanoUSD)
        } else {
            var usage = MonthAggregate()
            usage.add(tokens: event.tokens, costNanoUSD: event.costNanoUSD)
            entries.append((operationType, usage))
        }
    }

    /// `add(operationType: String(decoding: operationType, …), numbers)`, comparing bytes first:
    /// the String is made only when no entry holds the same bytes (String equality is canonical
    /// equivalence, which the slower path keeps).
    mutating func add(operationType: Span<UInt8>, _ numbers: UsageNumbers) {
        for index in entries.indices {
            let stored = entries[index].operationType.utf8.span
            if ByteHash.equal(stored, 0..<stored.count, operationType) {
                entries[index].usage.add(tokens: numbers.tokens, costNanoUSD: numbers.costNanoUSD)
                return
            }
        }
        var text: [UInt8] = []
        for offset in operationType.indices { text.append(operationType[offset]) }
        add(operationType: String(decoding: text, as: UTF8.self), numbers)
    }

    /// The same usage keyed by operation type.
    var dictionary: [String: MonthAggregate] {
        Dictionary(entries, uniquingKeysWith: { first, _ in first })
    }
}

extension MonthAggregate {
    /// Adds another aggregate's counts, saturating like `add(_ event:)`.
    mutating func merge(_ other: MonthAggregate) {
        messages = saturatingAdd(messages, other.messages)
        inputTokens = saturatingAdd(inputTokens, other.inputTokens)
        outputTokens = saturatingAdd(outputTokens, other.outputTokens)
        cachedInputTokens = saturatingAdd(cachedInputTokens, other.cachedInputTokens)
        costNanoUSD = Money.addSaturating(costNanoUSD, other.costNanoUSD)
    }
}

extension Dictionary where Key == String, Value == MonthAggregate {
    /// Adds every group of `other` into the group of the same key.
    mutating func merge(_ other: [String: MonthAggregate]) {
        for (key, aggregate) in other { self[key, default: MonthAggregate()].merge(aggregate) }
    }

    /// The sum of every group.
    var total: MonthAggregate {
        var sum = MonthAggregate()
        for aggregate in values { sum.merge(aggregate) }
        return sum
    }
}
