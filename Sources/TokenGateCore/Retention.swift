// Retention of raw usage events (DESIGN §6): events are kept for a configurable number of
// months, then only their monthly aggregates remain (with billing records, kept for good).
// These are the month boundaries the store drops at and the gate accepts from.

/// Which months keep their raw usage events.
public enum Retention {
    /// Raw events are kept for 13 months by default: a year plus the month being billed.
    public static let monthsDefault = 13
    /// Fewer than 2 months would drop the month before the current one, which is still
    /// billed and still takes late events; more than 100 years is surely a typo.
    public static let monthsRange: ClosedRange<Int> = 2...1_200

    /// The oldest month whose raw events are kept at `now`: the current month minus `months`.
    /// Every event of an earlier month ended more than `months` months ago.
    public static func oldestKeptMonth(now: UnixMillis, months: Int) -> MonthKey {
        MonthKey(unixMs: now).minus(months: months)
    }

    /// The oldest month a new usage event may fall in at `now`: one month younger than the
    /// oldest kept, so an event accepted just before a month boundary is never dropped by a
    /// snapshot that starts just after it (a dropped event's id is forgotten, and a repeat of
    /// that id would be counted twice).
    public static func oldestAcceptedMonth(now: UnixMillis, months: Int) -> MonthKey {
        MonthKey(unixMs: now).minus(months: months - 1)
    }
}

extension MonthKey {
    /// The month `months` before this one, clamped at 0000-01.
    func minus(months: Int) -> MonthKey {
        let index = Int(year) * 12 + Int(month) - 1 - max(months, 0)
        guard index >= 0 else { return MonthKey(validYear: 0, month: 1) }
        return MonthKey(validYear: Int32(index / 12), month: Int32(index % 12) + 1)
    }
}

extension MonthAggregate {
    /// Adds another aggregate of the same month. Saturating, like `add(_: UsageEvent)`.
    mutating func add(_ other: MonthAggregate) {
        messages = saturatingAdd(messages, other.messages)
        inputTokens = saturatingAdd(inputTokens, other.inputTokens)
        outputTokens = saturatingAdd(outputTokens, other.outputTokens)
        cachedInputTokens = saturatingAdd(cachedInputTokens, other.cachedInputTokens)
        costNanoUSD = Money.addSaturating(costNanoUSD, other.costNanoUSD)
    }
}

extension MonthAggregate {
    /// Removes a part of this aggregate (late events that landed on another bill), never below 0.
    mutating func subtract(_ part: MonthAggregate) {
        messages -= min(messages, part.messages)
        inputTokens -= min(inputTokens, part.inputTokens)
        outputTokens -= min(outputTokens, part.outputTokens)
        cachedInputTokens -= min(cachedInputTokens, part.cachedInputTokens)
        costNanoUSD = max(0, Money.addSaturating(costNanoUSD, -part.costNanoUSD))
    }
}
