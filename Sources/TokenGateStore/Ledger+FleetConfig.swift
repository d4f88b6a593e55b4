// Fleet configuration (DESIGN §8, issue 20 item 6), the ledger's side: a change made through
// this daemon is checked here and published to PostgreSQL, not applied; every daemon (this one
// too) then applies each published change in PostgreSQL's order through `applyPublished`, which
// logs it like any other change (so a restart without PostgreSQL serves it) and applies it
// unchecked (it was checked where it was made; applying never fails). The last published
// sequence applied is kept in a file of the data directory, written once the log holds the
// changes, so a restart resumes after it; applying a change again is harmless (each change
// overwrites its setting), which covers a crash between the log and the file.

import TokenGateCore

extension Ledger {
    /// Checks `change` against the configuration in effect and returns it as it is to be
    /// published (a price's or tier's "now" resolved), without applying it.
    /// Throws as `changeConfiguration` does.
    public func planConfigurationChange(_ change: ConfigChange, now: UnixMillis) throws(TokenGateError) -> ConfigChange {
        if case .upsertTier(let request) = change, request.effectiveFromUnixMs != 0, request.effectiveFromUnixMs < now {
            try checkBackdatedTerms(request.tier.tier.name, from: request.effectiveFromUnixMs)
        }
        return try currentConfiguration.planning(change, now: now).change
    }

    /// Checks an AssignShopTier and returns the fact to publish and the answer to give, without
    /// applying it. Throws as `assignShopTier` does.
    public func planTierAssignment(_ request: AssignShopTierRequest, now: UnixMillis) throws(TokenGateError)
        -> (Fact, AssignShopTierResponse)
    {
        let (fact, config) = try checkedAssignment(request, now: now)
        let response = try withShop(request.shopID) { shop throws(TokenGateError) in
            try Self.checkAssignment(fact, on: shop, config: config)
        }
        return (fact, response)
    }

    /// Logs and applies a published change (a run-time configuration change or a tier
    /// assignment). Returns the log sequence to wait for. Throws `unavailable` when the log
    /// refuses the write, `invalidArgument` for any other kind of fact.
    public func applyPublished(_ fact: Fact) throws(TokenGateError) -> UInt64 {
        switch fact {
        case .configChange(let change):
            return try configuration.withLock { config throws(TokenGateError) in
                let sequence = try append(fact)
                config.apply(change)
                runtimeChanges.withLock { $0.record(change) }
                return sequence
            }
        case .tierAssignment(let shopID, _, _):
            return try withShop(shopID) { shop throws(TokenGateError) in
                let sequence = try append(fact)
                shop.apply(fact)
                return sequence
            }
        default:
            throw .invalidArgument("a published configuration change holds a fact of another kind")
        }
    }

    /// The file of the data directory holding the last published sequence applied.
    var fleetConfigSequencePath: String { directory + "/fleet-config-applied" }

    /// The last published sequence this daemon applied (0: none, or the file is unreadable).
    public func appliedFleetConfigSequence() -> Int64 {
        guard let bytes = try? fileSystem.readAll(fleetConfigSequencePath) else { return 0 }
        return Int64(String(decoding: bytes, as: UTF8.self).trimmingSpaces) ?? 0
    }

    /// Records that every published change through `sequence` is applied and durable in the log.
    public func recordAppliedFleetConfigSequence(_ sequence: Int64) throws(SystemError) {
        try fileSystem.writeAtomically(fleetConfigSequencePath, Array("\(sequence)\n".utf8))
    }
}

extension String {
    fileprivate var trimmingSpaces: String {
        var text = Substring(self)
        while let last = text.last, last == "\n" || last == " " { text.removeLast() }
        return String(text)
    }
}
