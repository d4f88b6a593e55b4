// Configuration changes as writes (DESIGN §4): an admin change is checked against the current
// configuration, appended to the write-ahead log and applied under the configuration's lock, so
// the log's order is the order changes took effect; recovery replays them over the base
// configuration (defaults and config file) and snapshots keep the latest change of each setting.
// Also the periodic sweep that forgets in-memory state (holds, rate-limit state) nobody needs.
import Synchronization
import TokenGateCore

extension Ledger {
    /// Applies a run-time change. Returns the change as logged (a price's "now" resolved), the
    /// configuration after it and the log sequence to wait for before acknowledging.
    ///
    /// Throws `invalidArgument` / `notFound` (see `Configuration.planning`), `unavailable` when
    /// the log refuses the write.
    public func changeConfiguration(_ change: ConfigChange, now: UnixMillis) throws(TokenGateError) -> (
        change: ConfigChange, configuration: Configuration, sequence: UInt64
    ) {
        if case .upsertTier(let request) = change, request.effectiveFromUnixMs != 0, request.effectiveFromUnixMs < now {
            try checkBackdatedTerms(request.tier.tier.name, from: request.effectiveFromUnixMs)
        }
        return try configuration.withLock { config throws(TokenGateError) in
            let (resolved, next) = try config.planning(change, now: now)
            let sequence = try append(.configChange(resolved))
            config = next
            runtimeChanges.withLock { $0.record(resolved) }
            return (resolved, next, sequence)
        }
    }

    /// Backdated tier terms may reach only periods that no shop on the tier has a final bill
    /// for (checked before the configuration's lock is taken; shard locks are never held
    /// while it is). Throws `failedPrecondition` naming the first such bill.
    func checkBackdatedTerms(_ tier: String, from: UnixMillis) throws(TokenGateError) {
        let config = currentConfiguration
        for shard in shards {
            try shard.shops.withLock { shops throws(TokenGateError) in
                for (shopID, shop) in shops {
                    for record in shop.billingRecords {
                        guard let period = try? MonthKey(parsing: record.period), period.endUnixMs > from,
                            shop.tierName(config: config, at: period.endUnixMs - 1) == tier
                        else { continue }
                        throw .failedPrecondition(
                            "the final bill of shop '\(shopID)' for \(record.period) is on tier '\(tier)'; terms effective from "
                                + "\(UTCCalendar.iso8601(from)) would re-price it. Backdate only into periods not yet billed")
                    }
                }
            }
        }
    }

    /// Puts a shop on a configured tier (AssignShopTier) from `request.effectiveFromUnixMs` (0 =
    /// `now`) on; the assignment is a logged fact of the shop, versioned so that each period is
    /// billed under the assignment in effect at its last instant. Throws `invalidArgument` (shop
    /// id, empty tier, a time in the future), `notFound` (tier not configured),
    /// `failedPrecondition` (backdated into a period whose bill is final), `unavailable`.
    public func assignShopTier(_ request: AssignShopTierRequest, now: UnixMillis) throws(TokenGateError)
        -> (AssignShopTierResponse, UInt64)
    {
        let (fact, config) = try checkedAssignment(request, now: now)
        return try withShop(request.shopID) { shop throws(TokenGateError) in
            let response = try Self.checkAssignment(fact, on: shop, config: config)
            let sequence = try append(fact)
            shop.apply(fact)
            return (response, sequence)
        }
    }

    /// The checks of AssignShopTier that need no shop: the assignment as it is to be logged
    /// (0 resolved to `now`) and the configuration it was checked against.
    func checkedAssignment(_ request: AssignShopTierRequest, now: UnixMillis) throws(TokenGateError) -> (Fact, Configuration) {
        try Validation.shopID(request.shopID)
        guard !request.tier.isEmpty else { throw .invalidArgument("tier is empty; name a configured tier") }
        let config = currentConfiguration
        _ = try config.tier(named: request.tier)
        let effective = request.effectiveFromUnixMs == 0 ? now : request.effectiveFromUnixMs
        guard effective > 0, effective <= now else {
            throw .invalidArgument(
                "effective_from_unix_ms \(request.effectiveFromUnixMs) must be 0 (now) or a past time (now is \(now)); "
                    + "assign a future tier when its time comes")
        }
        return (Fact.tierAssignment(shopID: request.shopID, tier: request.tier, effectiveFromUnixMs: effective), config)
    }

    /// The checks of an assignment against the shop (nothing re-prices a final bill: no
    /// backdating into a billed period); returns the answer to give.
    static func checkAssignment(_ fact: Fact, on shop: ShopState, config: Configuration) throws(TokenGateError)
        -> AssignShopTierResponse
    {
        guard case .tierAssignment(let shopID, let tier, let effective) = fact else { preconditionFailure("not an assignment: \(fact)") }
        if let final = shop.billingRecords.last(where: { record in
            (try? MonthKey(parsing: record.period)).map { $0.endUnixMs > effective } ?? false
        }) {
            throw .failedPrecondition(
                "the final bill of shop '\(shopID)' for \(final.period) (tier \(final.tier)) was generated; "
                    + "an assignment effective from \(UTCCalendar.iso8601(effective)) would re-price it. "
                    + "Backdate only into periods not yet billed")
        }
        return AssignShopTierResponse(shopID: shopID, tier: tier, previousTier: shop.tierName(config: config))
    }

    /// Why the configuration in effect is not valid, or nil. After recovery it is the base
    /// (defaults and config file) with the logged run-time changes replayed over it; a config
    /// file edited since a change was made can conflict with it.
    public func configurationProblem() -> String? {
        do {
            try currentConfiguration.validate()
            return nil
        } catch {
            return error.message
        }
    }

    /// How many settings were changed at run time (they override the config file).
    public var runtimeChangeCount: Int {
        configuration.withLock { _ in runtimeChanges.withLock { $0.count } }
    }

    /// Forgets expired holds, old ended reservation ids and idle rate-limit state, and drops
    /// shops that no longer hold anything worth keeping. Each shard is locked in turn.
    public func sweep(now: UnixMillis) {
        for shard in shards {
            shard.shops.withLock { shops in
                for id in Array(shops.keys) {
                    shops[id]!.sweep(now: now)
                    if !shops[id]!.isWorthKeeping { shops[id] = nil }
                }
                shard.recount(shops)
            }
        }
    }

    // MARK: - Recovery and snapshots

    /// Replays a logged change: applied unchecked, because it was valid when it was made; the
    /// daemon checks the result once recovery ends (`configurationProblem`).
    func recoverConfigChange(_ change: ConfigChange) {
        configuration.withLock { config in
            config.apply(change)
            runtimeChanges.withLock { $0.record(change) }
        }
    }

    /// The run-time changes in effect, as facts for a snapshot. Taken under the configuration's
    /// lock, so a change whose log record is already appended is also already recorded here.
    func configurationFacts() -> [Fact] {
        configuration.withLock { _ in runtimeChanges.withLock { $0.changes.map(Fact.configChange) } }
    }
}
