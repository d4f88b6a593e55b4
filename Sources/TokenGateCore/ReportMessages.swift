// Domain behaviour of the report messages. The types themselves (ListBillingRecordsRequest,
// ShopView, UsageFilter, GroupTotals, ...) are generated from proto/tokengate/v1/tokengate.proto
// into Generated/Messages.generated.swift (scripts/gen-proto.sh); what is not a field lives here.

extension UsageFilter {
    /// The inclusive lower bound as an instant (`Int64.min` when unbounded).
    public var lowerBound: UnixMillis { fromUnixMs == 0 ? .min : fromUnixMs }
    /// The exclusive upper bound as an instant (`Int64.max` when unbounded).
    public var upperBound: UnixMillis { toUnixMs == 0 ? .max : toUnixMs }

    /// True when an event that occurred at `unixMs` is in the range.
    public func contains(_ unixMs: UnixMillis) -> Bool { unixMs >= lowerBound && unixMs < upperBound }

    /// True when the filter admits events of `shopID`.
    public func admits(shopID: String) -> Bool { self.shopID.isEmpty || self.shopID == shopID }

    /// Throws `invalidArgument` for a negative bound, `from >= to`, or an over-long shop id.
    public func validate() throws(TokenGateError) {
        if !shopID.isEmpty { try Validation.shopID(shopID) }
        guard fromUnixMs >= 0, toUnixMs >= 0 else {
            throw .invalidArgument("filter times must be Unix milliseconds >= 0 (0 = unbounded), got from \(fromUnixMs), to \(toUnixMs)")
        }
        if fromUnixMs != 0, toUnixMs != 0, fromUnixMs >= toUnixMs {
            throw .invalidArgument(
                "filter range is empty: from \(UTCCalendar.iso8601(fromUnixMs)) is not before to \(UTCCalendar.iso8601(toUnixMs)) "
                    + "(from is inclusive, to exclusive)")
        }
    }
}
