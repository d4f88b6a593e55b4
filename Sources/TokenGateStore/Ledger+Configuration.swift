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
        try configuration.withLock { config throws(TokenGateError) in
            let (resolved, next) = try config.planning(change, now: now)
            let sequence = try append(.configChange(resolved))
            config = next
            runtimeChanges.withLock { $0.record(resolved) }
            return (resolved, next, sequence)
        }
    }

    /// Puts a shop on a configured tier (AssignShopTier); the assignment is a logged fact of the
    /// shop. Throws `invalidArgument` (shop id, empty tier), `notFound` (tier not configured),
    /// `unavailable` (log write refused).
    public func assignShopTier(_ request: AssignShopTierRequest) throws(TokenGateError) -> (AssignShopTierResponse, UInt64) {
        try Validation.shopID(request.shopID)
        guard !request.tier.isEmpty else { throw .invalidArgument("tier is empty; name a configured tier") }
        let config = currentConfiguration
        _ = try config.tier(named: request.tier)
        return try withShop(request.shopID) { shop throws(TokenGateError) in
            let previous = shop.tierName(config: config)
            let fact = Fact.tierAssignment(shopID: request.shopID, tier: request.tier)
            let sequence = try append(fact)
            shop.apply(fact)
            return (AssignShopTierResponse(shopID: request.shopID, tier: request.tier, previousTier: previous), sequence)
        }
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
