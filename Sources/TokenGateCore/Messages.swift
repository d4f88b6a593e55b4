// The unit typealiases of the wire and the `Fact` sum type. The message structs and enums are
// generated from proto/tokengate/v1/tokengate.proto into
// Generated/Messages.generated.swift (scripts/gen-proto.sh); the wire module converts them to and
// from protobuf, and the client library hands them to callers, so no C type ever leaks out.

/// Money: a count of nano-USD (1 USD = 1,000,000,000). Never floating point.
public typealias NanoUSD = Int64

/// Time on the wire: Unix epoch milliseconds.
public typealias UnixMillis = Int64

// MARK: - Stored facts

/// A fact that changed the store: the unit of the write-ahead log (storage.proto `FactRecord`).
/// Facts carry results, not commands, so replay never re-evaluates prices or limits.
public enum Fact: Sendable, Equatable {
    case usage(UsageEvent)
    case billing(BillingRecord)
    /// The shop's tier from `effectiveFromUnixMs` on (0: since always); "" = the default tier.
    case tierAssignment(shopID: String, tier: String, effectiveFromUnixMs: UnixMillis = 0)
    /// An alert, stored once per (shop, kind, period).
    case alert(Alert)
    /// A stored billing record was marked paid.
    case paidMark(PaidMark)
    /// A stored billing record was voided (storage.proto `VoidRecord`, issue 17).
    case voidMark(VoidMark)
    /// A run-time configuration change (an admin RPC), applied to the Configuration, not a shop.
    case configChange(ConfigChange)
    /// The totals of a month whose raw events retention dropped (storage.proto
    /// `MonthAggregateRecord`). Only snapshots hold these; the log never does.
    case monthAggregate(shopID: String, month: MonthKey, aggregate: MonthAggregate)
}

extension BillingRecord {
    /// Voided by VoidBilling; kept beside its reissue.
    public var isVoid: Bool { voidedAtUnixMs != 0 }
}
