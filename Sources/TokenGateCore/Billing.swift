// Charges of a month under a pricing tier and the honest tier recommendation (DESIGN §3
// GenerateBilling). The seed recommended by message-count thresholds and so could suggest a
// dearer tier; here every self-serve tier prices the usage and the cheapest one wins.

/// Tier charges and recommendations.
public enum Billing {
    /// The month's charges for `messages` under `tier`: `base = monthly fee`,
    /// `overage = max(0, messages − included) × overage rate`, `total = min(base + overage, cap)`
    /// when the tier has a cap. `overage` is reported before the cap. Throws `outOfRange` on
    /// overflow.
    public static func charges(tier: Tier, messages: UInt64) throws(TokenGateError) -> (
        base: NanoUSD, overage: NanoUSD, total: NanoUSD
    ) {
        let (base, overage, uncapped) = try uncappedCharges(tier: tier, messages: messages)
        guard let cap = tier.maxMonthlySpendNanoUSD else { return (base, overage, uncapped) }
        return (base, overage, min(uncapped, cap))
    }

    /// Charges before the tier's spend cap: (base, overage, base + overage).
    static func uncappedCharges(tier: Tier, messages: UInt64) throws(TokenGateError) -> (
        base: NanoUSD, overage: NanoUSD, total: NanoUSD
    ) {
        var overageMessages: UInt64 = 0
        if let included = tier.includedMessages, messages > included { overageMessages = messages - included }
        let overage = try Money.multiply(tier.overagePerMessageNanoUSD, overageMessages)
        return (tier.monthlyFeeNanoUSD, overage, try Money.add(tier.monthlyFeeNanoUSD, overage))
    }

    /// The cheapest self-serve tier that would have served `messages` in full: its uncapped
    /// charge stays below its spend cap (DESIGN §3, honest recommendation). Custom-priced tiers
    /// (`selfServe` false, such as enterprise) are never recommended. Ties keep `currentTier` when
    /// it is among the cheapest, else the first name in byte order. `saving` is the current
    /// tier's total minus the recommended one's, never negative. With no eligible tier at all,
    /// the current tier is returned with saving 0.
    public static func recommend(messages: UInt64, currentTier: Tier, tiers: [String: Tier]) throws(TokenGateError)
        -> (tier: String, total: NanoUSD, saving: NanoUSD)
    {
        let currentTotal = try charges(tier: currentTier, messages: messages).total
        return try recommend(messages: messages, currentName: currentTier.name, currentTotal: currentTotal, tiers: tiers)
    }

    /// `recommend` for a current bill that is already known (a stored record whose tier may no
    /// longer be configured).
    static func recommend(messages: UInt64, currentName: String, currentTotal: NanoUSD, tiers: [String: Tier])
        throws(TokenGateError) -> (tier: String, total: NanoUSD, saving: NanoUSD)
    {
        var best: (name: String, total: NanoUSD)?
        for name in tiers.keys.sorted() {
            let tier = tiers[name]!
            guard tier.selfServe else { continue }
            // Past its cap the gate refuses the shop's calls (ShopState.tierSpendCapDenial
            // denies the message whose uncapped bill reaches the cap), so a capped total is not
            // a price at which the month would have been served.
            let uncapped = try uncappedCharges(tier: tier, messages: messages).total
            if let cap = tier.maxMonthlySpendNanoUSD, uncapped >= cap { continue }
            let total = uncapped
            if let current = best {
                let better = total < current.total || (total == current.total && name == currentName)
                if better { best = (name, total) }
            } else {
                best = (name, total)
            }
        }
        guard let best else { return (currentName, currentTotal, 0) }
        return (best.name, best.total, max(0, try Money.subtract(currentTotal, best.total)))
    }
}
