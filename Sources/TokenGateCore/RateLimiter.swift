// Rate limits of the gate (DESIGN §3): optional requests per minute and tokens per minute, per
// tier (each shop on the tier gets that allowance) or per shop, enforced with GCRA so a shop gets
// at most one minute's allowance at once and then a steady flow: no second burst at a window
// edge. The limiter's state lives in memory only; a restart forgets it, which errs towards
// allowing.

/// Optional per-minute limits; 0 means unlimited for that dimension.
public struct RateLimit: Sendable, Equatable, Hashable {
    /// Calls the gate allows per minute; 0 = unlimited.
    public var requestsPerMinute: UInt32
    /// Worst-case tokens (estimated input + max output) the gate allows per minute; 0 = unlimited.
    public var tokensPerMinute: UInt64

    /// A limit; 0 in a field means that dimension is unlimited.
    public init(requestsPerMinute: UInt32 = 0, tokensPerMinute: UInt64 = 0) {
        self.requestsPerMinute = requestsPerMinute
        self.tokensPerMinute = tokensPerMinute
    }

    /// No limit at all.
    public static let unlimited = RateLimit()

    /// True when neither dimension is limited.
    public var isUnlimited: Bool { requestsPerMinute == 0 && tokensPerMinute == 0 }
}

/// One Generic Cell Rate Algorithm bucket: `rate` units per minute, with at most one minute's
/// worth at once.
///
/// Arithmetic is exact: time is counted in units of 1/rate milliseconds, so one unit of cost
/// advances the theoretical arrival time (TAT) by exactly 60,000 time units. A call of `cost`
/// units conforms at `now` when `max(TAT, now) + cost × 60,000 − now ≤ 60,000 × rate` (that is,
/// the TAT after it is at most one minute ahead of now); a conforming call moves the TAT there,
/// a refused one leaves it alone.
public struct GCRABucket: Sendable, Equatable {
    /// The window the rate is counted over.
    public static let periodMs: Int64 = 60_000

    /// The rate `tat` was computed with; 0 = idle (no state).
    private(set) var rate: UInt64 = 0
    /// Theoretical arrival time in units of 1/`rate` ms (ms × rate).
    private(set) var tat: Int128 = 0

    /// An idle bucket.
    public init() {}

    /// True when the bucket holds nothing that matters at `now` (its TAT has passed).
    public func isIdle(at now: UnixMillis) -> Bool {
        rate == 0 || tat <= Int128(now) * Int128(rate)
    }

    /// What a call of `cost` units at `now` under `rate` per minute would do: the bucket after
    /// it when it conforms, else how long until it would (nil when it never can: `cost > rate`).
    public func check(cost: UInt64, rate: UInt64, now: UnixMillis) -> (next: GCRABucket?, retryAfterMs: Int64?) {
        precondition(rate > 0, "a GCRA bucket needs a positive rate")
        let scaledNow = Int128(now) * Int128(rate)
        let current = rescaled(to: rate, now: now)
        let start = max(current, scaledNow)
        let newTAT = start + Int128(cost) * Int128(Self.periodMs)
        let window = Int128(Self.periodMs) * Int128(rate)
        if newTAT - scaledNow <= window {
            var next = self
            next.rate = rate
            next.tat = newTAT
            return (next, nil)
        }
        guard cost <= rate else { return (nil, nil) }
        // Conforms once now' × rate >= newTAT − window: wait (newTAT − window) / rate − now ms, rounded up.
        let excess = newTAT - window - scaledNow
        let wait = (excess + Int128(rate) - 1) / Int128(rate)
        return (nil, Int64(clamping: wait))
    }

    /// The TAT expressed in units of 1/`newRate` ms. Only the part ahead of `now` matters, and in
    /// these units it counts the calls (or tokens) owed, 60,000 per unit of cost whatever the
    /// rate; a changed rate keeps what is owed, which then weighs less or more time. The bucket
    /// takes the new rate with its next conforming call; until then its debt drains at the old one.
    private func rescaled(to newRate: UInt64, now: UnixMillis) -> Int128 {
        guard self.rate != 0 else { return Int128.min }
        if self.rate == newRate { return tat }
        let owed = max(0, tat - Int128(now) * Int128(self.rate))
        return Int128(now) * Int128(newRate) + owed
    }
}

/// A shop's two buckets: requests and worst-case tokens.
struct RateLimiterState: Sendable, Equatable {
    var requests = GCRABucket()
    var tokens = GCRABucket()

    /// True when neither bucket holds anything that matters at `now`.
    func isIdle(at now: UnixMillis) -> Bool { requests.isIdle(at: now) && tokens.isIdle(at: now) }

    /// True when the state is the empty one.
    var isEmpty: Bool { self == RateLimiterState() }
}

/// The rate limiter's verdict on one call: a refusal, or the state to keep if the call goes ahead.
struct RateVerdict: Sendable {
    /// Why the call does not conform, when it does not.
    var refusal: (reason: DecisionReason, message: String)?
    /// The limiter state after the call, when it conforms (nil: nothing to record).
    var next: RateLimiterState?
}

extension Configuration {
    /// The rate limit a shop on `tier` gets: its own when set, else its tier's, else unlimited.
    public func rateLimit(shopID: String, tier: String) -> RateLimit {
        shopRateLimits[shopID] ?? tierRateLimits[tier] ?? .unlimited
    }
}

extension ShopState {
    /// Checks the call against the shop's rate limit without changing anything. A call's token
    /// cost is its worst case: estimated input plus max output tokens.
    func rateVerdict(_ request: CanMakeRequestRequest, config: Configuration, now: UnixMillis) -> RateVerdict {
        let limit = config.rateLimit(shopID: shopID, tier: tierName(config: config))
        var next = rateLimiter
        var verdict = RateVerdict()
        if limit.requestsPerMinute > 0 {
            let (bucket, retry) = next.requests.check(cost: 1, rate: UInt64(limit.requestsPerMinute), now: now)
            if let bucket {
                next.requests = bucket
            } else {
                verdict.refusal = (.rateLimited, "rate limit: \(limit.requestsPerMinute) requests per minute for shop '\(shopID)'"
                    + Self.retryText(retry))
                return verdict
            }
        }
        if limit.tokensPerMinute > 0 {
            let tokens = saturatingAdd(request.estimatedInputTokens, request.maxOutputTokens)
            let (bucket, retry) = next.tokens.check(cost: tokens, rate: limit.tokensPerMinute, now: now)
            if let bucket {
                next.tokens = bucket
            } else {
                let what = retry == nil
                    ? "this call's \(tokens) tokens exceed the whole per-minute allowance"
                    : "this call's \(tokens) tokens do not fit now" + Self.retryText(retry)
                verdict.refusal = (.rateLimited, "rate limit: \(limit.tokensPerMinute) tokens per minute for shop '\(shopID)'; \(what)")
                return verdict
            }
        }
        if limit.requestsPerMinute > 0 || limit.tokensPerMinute > 0 { verdict.next = next }
        return verdict
    }

    /// "; retry in 1234 ms" when a retry time is known.
    private static func retryText(_ retryAfterMs: Int64?) -> String {
        retryAfterMs.map { "; retry in \($0) ms" } ?? ""
    }

    /// True while the rate limiter remembers recent calls.
    public var tracksRateLimits: Bool { !rateLimiter.isEmpty }

    /// Forgets expired holds, old ended reservation ids and rate-limit state that no longer
    /// matters at `now`; for the server's periodic sweep.
    public mutating func sweep(now: UnixMillis) {
        reservations.expire(now: now)
        if tracksRateLimits, rateLimiter.isIdle(at: now) { rateLimiter = RateLimiterState() }
    }
}
