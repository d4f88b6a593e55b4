// The price table: per-model input, output and cached-input prices in nano-USD per million
// tokens, with prompt-size tiers and versions that take effect at a given time (DESIGN §3
// LogUsage). A price change never re-prices the past because every lookup names the instant.

/// Prices of one model, nano-USD per one million tokens of each class.
public struct PriceRates: Sendable, Equatable {
    /// Uncached prompt tokens.
    public var inputPerMillion: NanoUSD
    /// Generated tokens.
    public var outputPerMillion: NanoUSD
    /// Prompt tokens served from the context cache.
    public var cachedInputPerMillion: NanoUSD

    /// Rates in nano-USD per million tokens.
    public init(inputPerMillion: NanoUSD, outputPerMillion: NanoUSD, cachedInputPerMillion: NanoUSD) {
        self.inputPerMillion = inputPerMillion
        self.outputPerMillion = outputPerMillion
        self.cachedInputPerMillion = cachedInputPerMillion
    }
}

/// A prompt-size tier: every token of a call whose input tokens exceed `promptTokensAbove` is
/// priced at `rates` (as Gemini 2.5 Pro does above 200,000 prompt tokens).
public struct PromptTier: Sendable, Equatable {
    /// The tier applies when input tokens are strictly greater than this.
    public var promptTokensAbove: UInt64
    /// Rates for the whole call.
    public var rates: PriceRates

    /// A tier applying above `promptTokensAbove` input tokens.
    public init(promptTokensAbove: UInt64, rates: PriceRates) {
        self.promptTokensAbove = promptTokensAbove
        self.rates = rates
    }
}

/// One model's prices from `effectiveFromUnixMs` until the next version takes effect.
public struct PriceVersion: Sendable, Equatable {
    /// The first instant these prices apply to.
    public var effectiveFromUnixMs: UnixMillis
    /// Rates for calls that no prompt tier applies to.
    public var base: PriceRates
    /// Prompt-size tiers; the one with the highest threshold below the call's input wins.
    public var promptTiers: [PromptTier]
    /// Where the prices come from (for operators), e.g. "published list price, taken 2026-11-25".
    public var source: String

    /// A version; see the properties.
    public init(effectiveFromUnixMs: UnixMillis, base: PriceRates, promptTiers: [PromptTier] = [], source: String) {
        self.effectiveFromUnixMs = effectiveFromUnixMs
        self.base = base
        self.promptTiers = promptTiers
        self.source = source
    }

    /// The rates for a call with `inputTokens` prompt tokens (cached ones included).
    public func rates(inputTokens: UInt64) -> PriceRates {
        var chosen: PromptTier?
        for tier in promptTiers where inputTokens > tier.promptTokensAbove {
            if chosen == nil || tier.promptTokensAbove > chosen!.promptTokensAbove { chosen = tier }
        }
        return chosen?.rates ?? base
    }
}

/// Versioned prices of every model, plus an optional fallback for models not listed.
public struct PriceTable: Sendable, Equatable {
    /// Versions of each model's prices, sorted by `effectiveFromUnixMs`.
    public var models: [String: [PriceVersion]]
    /// Prices for models not in `models`; when nil an unknown model is `notFound`.
    public var fallback: PriceVersion?

    /// A table; each model's versions sorted by effective time.
    public init(models: [String: [PriceVersion]], fallback: PriceVersion? = nil) {
        self.models = models
        self.fallback = fallback
    }

    /// The price version of `model` in effect at `at`.
    ///
    /// Throws `notFound` for a model that is neither listed nor covered by the fallback, and when
    /// no version is effective yet at `at`.
    public func version(model: String, at: UnixMillis) throws(TokenGateError) -> PriceVersion {
        if let versions = models[model] {
            // The latest version that has taken effect; a scan, not a binary search, so an
            // unsorted list (rejected by Configuration.validate) still cannot pick a wrong one.
            // By index: copying each candidate out retained its fields.
            var effective: Int?
            for index in versions.indices where versions[index].effectiveFromUnixMs <= at {
                if let best = effective, versions[index].effectiveFromUnixMs < versions[best].effectiveFromUnixMs { continue }
                effective = index
            }
            if let effective { return versions[effective] }
        } else if let fallback {
            if fallback.effectiveFromUnixMs <= at { return fallback }
        } else {
            throw .notFound(
                "unknown model '\(model.prefix(CoreLimits.nameBytesMax))': add it to the price table or configure a fallback price")
        }
        throw .notFound("no price for model '\(model)' is in effect at \(UTCCalendar.iso8601(at)); the earliest version starts later")
    }

    /// The cost of one call of `model` at `at`. Cached tokens are part of `inputTokens`: the
    /// uncached rest is priced at the input rate, cached ones at the cached rate, output tokens
    /// at the output rate; the prompt tier is chosen by `inputTokens`; each class is rounded
    /// half up, then the three are summed.
    ///
    /// Throws `notFound` (model, see `version`), `invalidArgument` when cached > input, and
    /// `outOfRange` on overflow.
    public func cost(
        model: String, inputTokens: UInt64, outputTokens: UInt64, cachedInputTokens: UInt64, at: UnixMillis
    ) throws(TokenGateError) -> NanoUSD {
        try Validation.cachedTokens(cachedInputTokens, of: inputTokens)
        let rates = try version(model: model, at: at).rates(inputTokens: inputTokens)
        let uncached = try Money.cost(tokens: inputTokens - cachedInputTokens, pricePerMillion: rates.inputPerMillion)
        let cached = try Money.cost(tokens: cachedInputTokens, pricePerMillion: rates.cachedInputPerMillion)
        let output = try Money.cost(tokens: outputTokens, pricePerMillion: rates.outputPerMillion)
        return try Money.add(Money.add(uncached, cached), output)
    }

    /// True when `model` has a price (listed or by fallback) at `at`.
    public func hasPrice(model: String, at: UnixMillis) -> Bool {
        (try? version(model: model, at: at)) != nil
    }
}
