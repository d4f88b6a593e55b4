// A seeded randomized workload run against ShopState and against a deliberately naive
// reference model that keeps a plain list of events and holds and recomputes every total,
// decision and bill from scratch at each step. The workload also changes the configuration as
// an operator would (limits, prices, tiers, rate limits, shadow mode, the unknown-shop policy);
// the reference models rate limits as continuous-state leaky buckets, the other classic form of
// GCRA. Any disagreement fails with the seed and step; set TOKENGATE_SEED=<n> to replay one seed.

import Foundation
import XCTest

@testable import TokenGateCore
import TokenGateTestSupport

/// The workload's numbers, written once and read by both sides.
private enum Numbers {
    struct Rates { var input: Int64, output: Int64, cached: Int64 }
    static let cheap = Rates(input: 1_000_000_000, output: 4_000_000_000, cached: 100_000_000)
    static let dear = Rates(input: 3_000_000_000, output: 12_000_000_000, cached: 300_000_000)
    static let dearAbove5000 = Rates(input: 6_000_000_000, output: 18_000_000_000, cached: 600_000_000)
    struct Limits { var maxIn: UInt64, maxOut: UInt64, maxTotal: UInt64, daily: Int64, monthly: Int64, percent: Int64 }
    static let limits: [String: Limits] = [
        "chat": Limits(maxIn: 6000, maxOut: 2500, maxTotal: 8000, daily: 50_000_000, monthly: 300_000_000, percent: 80),
        "bulk": Limits(maxIn: 9000, maxOut: 3000, maxTotal: 10_000, daily: 80_000_000, monthly: 250_000_000, percent: 60),
    ]
    struct TierNumbers { var fee: Int64, included: Int64?, overage: Int64, cap: Int64? }
    static let tiers: [String: TierNumbers] = [
        "tiny": TierNumbers(fee: 1_000_000_000, included: 5, overage: 250_000_000, cap: 3_000_000_000),
        "big": TierNumbers(fee: 10_000_000_000, included: nil, overage: 0, cap: nil),
    ]
    static let ttl: Int64 = 60_000

    static func configuration(seed: UInt64) -> Configuration {
        func rates(_ r: Rates) -> PriceRates {
            PriceRates(inputPerMillion: r.input, outputPerMillion: r.output, cachedInputPerMillion: r.cached)
        }
        let prices = PriceTable(models: [
            "cheap": [PriceVersion(effectiveFromUnixMs: 0, base: rates(cheap), source: "test")],
            "dear": [
                PriceVersion(
                    effectiveFromUnixMs: 0, base: rates(dear),
                    promptTiers: [PromptTier(promptTokensAbove: 5000, rates: rates(dearAbove5000))], source: "test")
            ],
        ])
        let tierValues = tiers.map { name, t in
            Tier(name: name, monthlyFeeNanoUSD: t.fee, includedMessages: t.included.map(UInt64.init), overagePerMessageNanoUSD: t.overage,
                 maxMonthlySpendNanoUSD: t.cap, selfServe: true)
        }
        let limitValues = limits.mapValues {
            OperationLimits(maxInputTokensPerMessage: $0.maxIn, maxOutputTokensPerMessage: $0.maxOut, maxTotalTokensPerMessage: $0.maxTotal,
                            dailyCostCapNanoUSD: $0.daily, monthlyCostCapNanoUSD: $0.monthly, alertThresholdPercent: UInt32($0.percent))
        }
        return Configuration(
            prices: prices, tiers: Dictionary(uniqueKeysWithValues: tierValues.map { ($0.name, $0) }), defaultTier: "tiny",
            limits: limitValues, optimization: OptimizationRules(modelDowngrades: [:], thresholdPercent: nil, historyCap: 5),
            reservationTTLMs: ttl, unknownShopPolicy: seed % 3 == 0 ? .deny : .defaultTier, shadowMode: seed % 5 == 0)
    }
}

/// The naive model: lists, linear scans, no indexes, no caches, no saturating tricks.
private struct Reference {
    /// `billedIn`: the bill it landed on (its month, or the first later one not yet billed).
    struct Event {
        var id: String, at: Int64, month: String, cost: Int64, input: UInt64, output: UInt64, operation: String, billedIn: String
    }
    struct Hold { var amount: Int64, expires: Int64 }
    /// A leaky bucket: `content` (cost × 60,000 per call) as of `at`, draining `rate` per ms.
    struct Bucket { var content: Int64, at: Int64, rate: Int64 }
    var events: [Event] = []
    var holds: [String: Hold] = [:]
    var ended: [String: (how: String, eventID: String, at: Int64)] = [:]
    /// Tier assignments (from, tier) in order of effect; `tier` is the one in effect now.
    var tierHistory: [(from: Int64, tier: String)] = []
    var tier: String? { tierHistory.last?.tier }
    func tier(at time: Int64) -> String { tierHistory.last { $0.from <= time }?.tier ?? "tiny" }
    var billed: [String: BillingRecord] = [:]
    var nextReservation = 0
    var denyUnknown: Bool
    var shadowGlobal: Bool
    var shadowShop = false
    var shadow: Bool { shadowGlobal || shadowShop }
    var limits = Numbers.limits
    var tiers = Numbers.tiers
    var cheapVersions: [(from: Int64, rates: Numbers.Rates)] = [(0, Numbers.cheap)]
    var tierRates: [String: (rpm: Int64, tpm: Int64)] = [:]
    var shopRate: (rpm: Int64, tpm: Int64)?
    var requestBucket = Bucket(content: 0, at: 0, rate: 0)
    var tokenBucket = Bucket(content: 0, at: 0, rate: 0)

    /// First day and "YYYY-MM" of every month from 1970 to 2040, found by walking the calendar
    /// one month at a time with the textbook leap-year rule.
    static let monthStarts: [(day: Int64, text: String)] = {
        var starts: [(Int64, String)] = []
        var day: Int64 = 0
        for year in Int64(1970)...2040 {
            for month in Int64(1)...12 {
                starts.append((day, "\(year)-\(month < 10 ? "0" : "")\(month)"))
                day += naiveDaysIn(year: year, month: month)
            }
        }
        return starts
    }()

    /// "YYYY-MM" of a day: the last month that starts on or before it.
    static func month(ofDay day: Int64) -> String {
        monthStarts.last { $0.day <= day }!.text
    }
    /// The first millisecond after month "YYYY-MM".
    static func monthEnd(_ text: String) -> Int64 {
        let index = monthStarts.firstIndex { $0.text == text }!
        return monthStarts[index + 1].day * 86_400_000
    }
    /// A final bill waits 24 hours after its month (the default grace period).
    static let graceMs: Int64 = 86_400_000
    static func day(_ ms: Int64) -> Int64 { ms / 86_400_000 }
    static func month(_ ms: Int64) -> String { month(ofDay: day(ms)) }

    func cost(_ model: String, _ input: UInt64, _ output: UInt64, _ cached: UInt64, at: Int64) -> Int64 {
        let cheap = cheapVersions.last { $0.from <= at }!.rates
        let r = model == "cheap" ? cheap : (input > 5000 ? Numbers.dearAbove5000 : Numbers.dear)
        func part(_ tokens: UInt64, _ price: Int64) -> Int64 { (Int64(tokens) * price + 500_000) / 1_000_000 }
        return part(input - cached, r.input) + part(cached, r.cached) + part(output, r.output)
    }

    func spentDay(_ now: Int64) -> Int64 { events.filter { Self.day($0.at) == Self.day(now) }.reduce(0) { $0 + $1.cost } }
    func spentMonth(_ now: Int64) -> Int64 {
        let month = Self.month(now)
        return events.filter { $0.month == month }.reduce(0) { $0 + $1.cost }
    }
    /// Messages on `month`'s bill (late events of billed months land on a later one).
    func messages(_ month: String) -> Int { events.filter { $0.billedIn == month }.count }
    func live(_ now: Int64) -> [Hold] { holds.values.filter { now < $0.expires } }
    func held(_ now: Int64) -> Int64 { live(now).reduce(0) { $0 + $1.amount } }

    /// How reservation `id` ended, if still remembered at `now`.
    func ending(_ id: String, _ now: Int64) -> (how: String, eventID: String, at: Int64)? {
        var found = ended[id]
        if found == nil, let hold = holds[id], now >= hold.expires { found = ("expired", "", hold.expires) }
        guard let found, now < found.at + 2 * Numbers.ttl else { return nil }
        return found
    }

    /// What LogUsage should answer for `request` recorded at `at`, from the event list.
    func expectedUsage(_ request: LogUsageRequest, at: Int64)
        -> (cost: Int64, dayTotal: Int64, monthTotal: Int64, violations: [LimitKind], alerts: [AlertKind])
    {
        let (input, output) = (request.inputTokens, request.outputTokens)
        let cost = cost(request.model, input, output, request.cachedInputTokens, at: at)
        let dayBefore = events.filter { Self.day($0.at) == Self.day(at) }.reduce(0) { $0 + $1.cost }
        let month = Self.month(at)
        let monthBefore = events.filter { $0.month == month }.reduce(0) { $0 + $1.cost }
        let (violations, alerts) = judge(request.operationType, input, output, cost, dayBefore, monthBefore)
        return (cost, dayBefore + cost, monthBefore + cost, violations, alerts)
    }

    /// Violations and alerts of an event under the current limits of its operation type.
    func judge(_ operation: String, _ input: UInt64, _ output: UInt64, _ cost: Int64, _ dayBefore: Int64, _ monthBefore: Int64)
        -> (violations: [LimitKind], alerts: [AlertKind])
    {
        let limits = limits[operation]!
        var violations: [LimitKind] = []
        if input > limits.maxIn { violations.append(.inputTokens) }
        if output > limits.maxOut { violations.append(.outputTokens) }
        if input + output > limits.maxTotal { violations.append(.totalTokens) }
        var alerts: [AlertKind] = []
        for (before, cap, threshold, capKind) in [
            (dayBefore, limits.daily, AlertKind.dailyThreshold, AlertKind.dailyCap),
            (monthBefore, limits.monthly, .monthlyThreshold, .monthlyCap),
        ] {
            let after = before + cost
            if before * 100 < cap * limits.percent && after * 100 >= cap * limits.percent { alerts.append(threshold) }
            if before < cap && after >= cap { alerts.append(capKind) }
        }
        return (violations, alerts)
    }

    /// The rate limiter's verdict: limited, or the buckets after the call when it conforms.
    func rateCheck(tokens: Int64, at now: Int64) -> (limited: Bool, next: (Bucket, Bucket)?) {
        let limit = shopRate ?? tierRates[tier ?? "tiny"] ?? (0, 0)
        var requests = requestBucket
        var tokenBucket = tokenBucket
        func pass(_ bucket: inout Bucket, cost: Int64, rate: Int64) -> Bool {
            if rate == 0 { return true }
            let left = bucket.rate == 0 ? 0 : max(0, bucket.content - (now - bucket.at) * bucket.rate)
            if left + cost * 60_000 > 60_000 * rate { return false }
            bucket = Bucket(content: left + cost * 60_000, at: now, rate: rate)
            return true
        }
        guard pass(&requests, cost: 1, rate: limit.rpm), pass(&tokenBucket, cost: tokens, rate: limit.tpm) else { return (true, nil) }
        return (false, limit.rpm == 0 && limit.tpm == 0 ? nil : (requests, tokenBucket))
    }

    /// Versions of tier terms (from, numbers) once changed at run time; `tiers` is the latest.
    var tierVersions: [String: [(from: Int64, numbers: Numbers.TierNumbers)]] = [:]
    func terms(_ name: String, at time: Int64) -> Numbers.TierNumbers {
        guard let versions = tierVersions[name], !versions.isEmpty else { return tiers[name]! }
        return versions.last { $0.from <= time }?.numbers ?? versions[0].numbers
    }
    mutating func setTerms(_ name: String, _ numbers: Numbers.TierNumbers, from: Int64) {
        var versions = tierVersions[name] ?? [(0, tiers[name]!)]
        versions.removeAll { $0.from == from }
        versions.append((from, numbers))
        versions.sort { $0.from < $1.from }
        tierVersions[name] = versions
        tiers[name] = versions.last!.numbers
    }

    func charges(_ tierName: String, _ messages: Int64, at time: Int64) -> (base: Int64, overage: Int64, total: Int64) {
        let t = terms(tierName, at: time)
        let overage = t.included.map { max(0, messages - $0) * t.overage } ?? 0
        let total = t.cap.map { min(t.fee + overage, $0) } ?? t.fee + overage
        return (t.fee, overage, total)
    }
}

final class ReferenceModelTests: XCTestCase {
    /// Outcomes the workload produced, so the test also fails if it stops reaching a branch.
    private var seen: Set<String> = []

    func testShopStateMatchesNaiveReference() {
        if let text = ProcessInfo.processInfo.environment["TOKENGATE_SEED"], let seed = UInt64(text) {
            print("ReferenceModelTests: seed \(seed), 500 steps")
            _ = run(seed: seed, steps: 500)
            return
        }
        print("ReferenceModelTests: seeds 1...40, 500 steps each (replay one with TOKENGATE_SEED=<seed>)")
        for seed in UInt64(1)...40 {
            if !run(seed: seed, steps: 500) { return }
        }
        let expected: Set<String> = [
            "gate ALLOW", "gate DAILY_CAP_REACHED", "gate MONTHLY_CAP_REACHED", "gate TIER_SPEND_CAP_REACHED",
            "gate MESSAGE_TOKEN_LIMIT", "gate UNKNOWN_SHOP", "gate shadow", "gate warning", "gate reserved",
            "usage record", "usage duplicate", "usage conflict", "usage future", "usage billed month", "usage settled twice", "usage settles",
            "usage violation", "usage alert", "release ok", "release FAILED_PRECONDITION", "release NOT_FOUND",
            "billing store", "billing existing", "billing preview", "billing open", "billing grace", "tier backdated", "tier terms backdated", "billing under the month's tier", "billing unknown shop",
            "gate RATE_LIMITED", "gate shadow RATE_LIMITED", "usage duplicate rejudged", "config limits", "config price",
            "config shadow", "config unknown shops", "config tier", "config tier rate", "config shop rate",
        ]
        XCTAssertEqual(expected.subtracting(seen), [], "outcomes the workload never reached")
    }

    /// One workload; false (after recording a failure naming the seed) on the first mismatch.
    private func run(seed: UInt64, steps: Int) -> Bool {
        var random = SplitMix64(seed: seed)
        var config = Numbers.configuration(seed: seed)
        var real = ShopState(shopID: "shop")
        var ref = Reference(denyUnknown: seed % 3 == 0, shadowGlobal: seed % 5 == 0)
        var firstResponses: [String: LogUsageResponse] = [:]
        var firstRequests: [String: (request: LogUsageRequest, at: Int64)] = [:]
        var issued: [String] = []
        var now = utc(2026, 1, 30, 20)
        var counter = 0
        for step in 0..<steps {
            let context = "seed \(seed) step \(step) (replay: TOKENGATE_SEED=\(seed))"
            func expect(_ ok: Bool, _ what: @autoclosure () -> String) -> Bool {
                if !ok { XCTFail("\(context): \(what())") }
                return ok
            }
            let roll = random.next() % 100
            var ok = true
            switch roll {
            case 0..<35:
                ok = gateStep(&real, &ref, config, now, &random, &issued, expect)
            case 35..<65:
                counter += 1
                ok = usageStep(&real, &ref, config, now, &random, issued, &firstResponses, &firstRequests, "e\(counter)", expect)
            case 65..<75:
                ok = releaseStep(&real, &ref, now, &random, issued, expect)
            case 75..<92:
                let kind = random.next() % 100
                now += Int64(random.next() % (kind < 50 ? 30_000 : kind < 85 ? 7_200_000 : 72_000_000))
            case 92..<95:
                ok = configStep(&config, &ref, now, &random, expect)
            case 95..<97:
                // Now, or backdated up to 40 days (as the ledger allows: not into a billed month).
                let tier = random.next() % 2 == 0 ? "tiny" : "big"
                let from = random.next() % 3 == 0 ? now - Int64(random.next() % 3_456_000_000) : now
                if ref.billed.keys.contains(where: { Reference.monthEnd($0) > from }) { break }
                real.apply(.tierAssignment(shopID: "shop", tier: tier, effectiveFromUnixMs: from))
                ref.tierHistory.removeAll { $0.from >= from }
                ref.tierHistory.append((from, tier))
                if from < now { seen.insert("tier backdated") }
            default:
                ok = billingStep(&real, &ref, config, now, &random, expect)
            }
            ok = ok && invariants(real, ref, now, expect)
            if !ok { return false }
        }
        return true
    }

    private typealias Expect = (Bool, @autoclosure () -> String) -> Bool

    private func gateStep(
        _ real: inout ShopState, _ ref: inout Reference, _ config: Configuration, _ now: Int64, _ random: inout SplitMix64,
        _ issued: inout [String], _ expect: Expect
    ) -> Bool {
        let operation = random.next() % 2 == 0 ? "chat" : "bulk"
        let model = random.next() % 3 == 0 ? "dear" : "cheap"
        let input = random.next() % 7000
        let output = random.next() % 2700
        let reserve = random.next() % 2 == 0
        let request = CanMakeRequestRequest(
            shopID: "shop", operationType: operation, model: model, estimatedInputTokens: input, maxOutputTokens: output, reserve: reserve)
        let result = Result { () throws(TokenGateError) in
            try real.canMakeRequest(request, config: config, now: now) { "r\(ref.nextReservation + 1)" }
        }
        guard case .success(let response) = result else { return expect(false, "gate threw \(result)") }

        // The reference decision, from scratch.
        let limits = ref.limits[operation]!
        let estimate = ref.cost(model, input, output, 0, at: now)
        let held = ref.held(now)
        let dailyUsed = ref.spentDay(now) + held
        let monthlyUsed = ref.spentMonth(now) + held
        var reason: DecisionReason?
        let tierName = ref.tier ?? "tiny"
        if ref.denyUnknown && ref.tier == nil && ref.events.isEmpty {
            reason = .unknownShop
        } else if input > limits.maxIn || output > limits.maxOut || input + output > limits.maxTotal {
            reason = .messageTokenLimit
        } else if dailyUsed >= limits.daily || dailyUsed + estimate > limits.daily {
            reason = .dailyCapReached
        } else if monthlyUsed >= limits.monthly || monthlyUsed + estimate > limits.monthly {
            reason = .monthlyCapReached
        } else if let cap = ref.tiers[tierName]!.cap {
            let messages = Int64(ref.messages(Reference.month(now)) + ref.live(now).count + 1)
            let t = ref.tiers[tierName]!
            if t.fee + (t.included.map { max(0, messages - $0) * t.overage } ?? 0) >= cap { reason = .tierSpendCapReached }
        }
        let rate = ref.rateCheck(tokens: Int64(input + output), at: now)
        if reason == nil, let next = rate.next {
            (ref.requestBucket, ref.tokenBucket) = next
        } else if reason == nil, rate.limited {
            reason = .rateLimited
            if ref.shadow { seen.insert("gate shadow RATE_LIMITED") }
        }
        let allowed = reason == nil || ref.shadow
        seen.insert("gate \(reason?.description ?? "ALLOW")")
        if ref.shadow && reason != nil { seen.insert("gate shadow") }
        if response.warning { seen.insert("gate warning") }
        if reserve && allowed { seen.insert("gate reserved") }
        var ok = expect(response.decision == (allowed ? .allow : .deny), "decision \(response) vs reason \(String(describing: reason))")
        ok = ok && expect(response.reason == (allowed ? .withinBudget : reason!), "reason \(response.reason) vs \(String(describing: reason))")
        ok = ok && expect(response.shadowDenied == (ref.shadow && reason != nil), "shadowDenied")
        ok = ok && expect(response.shadowReason == (ref.shadow ? reason ?? .unspecified : .unspecified), "shadowReason")
        ok = ok && expect(response.estimatedCostNanoUSD == estimate, "estimate \(response.estimatedCostNanoUSD) vs \(estimate)")
        ok = ok && expect(response.dailyRemainingNanoUSD == max(0, limits.daily - dailyUsed), "daily remaining")
        ok = ok && expect(response.monthlyRemainingNanoUSD == max(0, limits.monthly - monthlyUsed), "monthly remaining")
        ok = ok && expect(Int64(response.dailyUsedBasisPoints) == dailyUsed * 10_000 / limits.daily, "daily bp")
        ok = ok && expect(Int64(response.monthlyUsedBasisPoints) == monthlyUsed * 10_000 / limits.monthly, "monthly bp")
        let warning = dailyUsed * 100 >= limits.daily * limits.percent || monthlyUsed * 100 >= limits.monthly * limits.percent
        ok = ok && expect(response.warning == warning, "warning \(response.warning) vs \(warning)")
        if reserve && allowed {
            ref.nextReservation += 1
            let id = "r\(ref.nextReservation)"
            ref.holds[id] = Reference.Hold(amount: estimate, expires: now + Numbers.ttl)
            issued.append(id)
            ok = ok && expect(response.reservationID == id && response.reservationExpiresUnixMs == now + Numbers.ttl, "reservation \(response)")
        } else {
            ok = ok && expect(response.reservationID.isEmpty, "unexpected reservation \(response.reservationID)")
        }
        return ok
    }

    /// A random LogUsage: sometimes a repeated event id, a reservation id (issued or not), a
    /// time in the past days or slightly in the future, any model and operation.
    private func randomUsage(
        _ ref: Reference, _ now: Int64, _ random: inout SplitMix64, _ issued: [String], _ newID: String,
        _ firstRequests: [String: (request: LogUsageRequest, at: Int64)]
    ) -> LogUsageRequest {
        let repeated = !ref.events.isEmpty && random.next() % 100 < 15
        let eventID = repeated ? ref.events[Int(random.next() % UInt64(ref.events.count))].id : newID
        // Half the repeats are a retry (the same request again), half a client bug (same id, other content).
        if repeated, random.next() % 2 == 0, let first = firstRequests[eventID] { return first.request }
        let roll = random.next() % 100
        let reservation = roll < 40 && !issued.isEmpty ? issued[Int(random.next() % UInt64(issued.count))] : roll < 45 ? "zz" : ""
        let timeRoll = random.next() % 100
        let occurredAt: Int64 =
            timeRoll < 70 ? 0 : timeRoll < 95 ? now - Int64(random.next() % 259_200_000) : now + Int64(random.next() % 10_000)
        let input = random.next() % 8000
        return LogUsageRequest(
            eventID: eventID, shopID: "shop", operationType: random.next() % 2 == 0 ? "chat" : "bulk",
            model: random.next() % 3 == 0 ? "dear" : "cheap", inputTokens: input, outputTokens: random.next() % 3200,
            cachedInputTokens: input == 0 ? 0 : random.next() % (input + 1), occurredAtUnixMs: occurredAt,
            reservationID: reservation)
    }

    private func usageStep(
        _ real: inout ShopState, _ ref: inout Reference, _ config: Configuration, _ now: Int64, _ random: inout SplitMix64,
        _ issued: [String], _ firstResponses: inout [String: LogUsageResponse],
        _ firstRequests: inout [String: (request: LogUsageRequest, at: Int64)], _ newID: String, _ expect: Expect
    ) -> Bool {
        let request = randomUsage(ref, now, &random, issued, newID, firstRequests)
        let (eventID, reservation) = (request.eventID, request.reservationID)
        let result = Result { () throws(TokenGateError) in try real.planUsage(request, config: config, now: now) }
        func refused(_ code: StatusCode, _ outcome: String) -> Bool {
            guard case .failure(let error) = result, error.code == code else { return expect(false, "\(outcome): \(result)") }
            seen.insert("usage \(outcome)")
            return true
        }
        if let first = firstResponses[eventID], let event = ref.events.first(where: { $0.id == eventID }),
            let sent = firstRequests[eventID]
        {
            // The same request (as the client sent it) is a retry; anything else is refused,
            // naming the first field that differs. A time sent as 0 was the time it arrived.
            let old = sent.request
            func sameTime(_ a: Int64, _ b: Int64) -> Bool {
                a == b || (a == 0 && b == sent.at) || (b == 0 && a == sent.at)
            }
            let differing: String? =
                request.operationType != old.operationType ? "operation_type"
                : request.model != old.model ? "model"
                : request.inputTokens != old.inputTokens ? "input_tokens"
                : request.outputTokens != old.outputTokens ? "output_tokens"
                : request.cachedInputTokens != old.cachedInputTokens ? "cached_input_tokens"
                : !sameTime(request.occurredAtUnixMs, old.occurredAtUnixMs) ? "occurred_at_unix_ms" : nil
            if let differing {
                guard case .failure(let error) = result, error.code == .alreadyExists,
                    error.message.contains("with another \(differing) ")
                else { return expect(false, "expected ALREADY_EXISTS naming \(differing), got \(result)") }
                seen.insert("usage conflict")
                return true
            }
            guard case .success(.duplicate(let response)) = result else { return expect(false, "expected duplicate, got \(result)") }
            seen.insert("usage duplicate")
            // The first call's cost and totals; violations and alerts judged under today's limits.
            let judged = ref.judge(
                event.operation, event.input, event.output, first.costNanoUSD, first.dailyTotalNanoUSD - first.costNanoUSD,
                first.monthlyTotalNanoUSD - first.costNanoUSD)
            if judged.violations != first.violations.map(\.kind) || judged.alerts != first.alerts.map(\.kind) {
                seen.insert("usage duplicate rejudged")
            }
            var ok = expect(response.duplicate && response.eventID == first.eventID, "duplicate flag and id")
            ok = ok && expect(response.costNanoUSD == first.costNanoUSD && response.occurredAtUnixMs == first.occurredAtUnixMs, "cost, time")
            ok = ok && expect(response.dailyTotalNanoUSD == first.dailyTotalNanoUSD, "duplicate daily total")
            ok = ok && expect(response.monthlyTotalNanoUSD == first.monthlyTotalNanoUSD, "duplicate monthly total")
            ok = ok && expect(response.violations.map(\.kind) == judged.violations, "duplicate violations \(response.violations)")
            return ok && expect(response.alerts.map(\.kind) == judged.alerts, "duplicate alerts \(response.alerts.map(\.kind))")
        }
        let at = request.occurredAtUnixMs == 0 ? now : request.occurredAtUnixMs
        if request.occurredAtUnixMs > now + 5_000 { return refused(.invalidArgument, "future") }
        // Never refused for a billed month (it lands on the first later open bill) nor for its
        // reservation (the outcome says what became of it).
        var billedIn = Reference.month(at)
        while ref.billed[billedIn] != nil { billedIn = Reference.month(Reference.monthEnd(billedIn)) }
        if billedIn != Reference.month(at) { seen.insert("usage billed month") }
        let outcome: ReservationOutcome =
            reservation.isEmpty ? .none
            : ref.holds[reservation].map { now < $0.expires } == true ? .settled
            : ref.ending(reservation, now) != nil ? .alreadyEnded : .unknown
        if let ending = ref.ending(reservation, now), ending.how == "settled", ending.eventID != eventID {
            seen.insert("usage settled twice")
        }
        guard case .success(.record(let event, let response)) = result else { return expect(false, "expected record, got \(result)") }
        var landed = expect(response.billingPeriod == billedIn, "billing period \(response.billingPeriod) vs \(billedIn)")
        landed = landed && expect(event.billingPeriod == (billedIn == Reference.month(at) ? "" : billedIn), "event's bill")
        landed = landed && expect(response.reservationOutcome == outcome, "outcome \(response.reservationOutcome) vs \(outcome)")
        if !landed { return false }

        let wanted = ref.expectedUsage(request, at: at)
        var ok = expect(event.costNanoUSD == wanted.cost && response.costNanoUSD == wanted.cost, "cost \(event.costNanoUSD) vs \(wanted)")
        ok = ok && expect(event.occurredAtUnixMs == at && response.occurredAtUnixMs == at, "occurred at")
        ok = ok && expect(response.dailyTotalNanoUSD == wanted.dayTotal, "daily total \(response.dailyTotalNanoUSD) vs \(wanted)")
        ok = ok && expect(response.monthlyTotalNanoUSD == wanted.monthTotal, "monthly total \(response.monthlyTotalNanoUSD) vs \(wanted)")
        ok = ok && expect(response.violations.map(\.kind) == wanted.violations, "violations \(response.violations) vs \(wanted)")
        ok = ok && expect(response.alerts.map(\.kind) == wanted.alerts, "alerts \(response.alerts.map(\.kind)) vs \(wanted)")
        ok = ok && expect(!response.duplicate, "not a duplicate")
        seen.insert("usage record")
        if !wanted.violations.isEmpty { seen.insert("usage violation") }
        if !wanted.alerts.isEmpty { seen.insert("usage alert") }

        real.apply(.usage(event))
        real.settleReservation(id: reservation, byEvent: eventID, now: now)
        firstResponses[eventID] = response
        firstRequests[eventID] = (request, now)
        ref.events.append(Reference.Event(
            id: eventID, at: at, month: Reference.month(at), cost: wanted.cost, input: request.inputTokens, output: request.outputTokens,
            operation: request.operationType, billedIn: billedIn))
        if let hold = ref.holds[reservation], now < hold.expires {
            ref.holds[reservation] = nil
            ref.ended[reservation] = ("settled", eventID, now)
            seen.insert("usage settles")
        }
        return ok
    }

    /// An operator's change, applied to the real configuration through `planning` (it must be
    /// accepted) and to the reference's plain numbers.
    private func configStep(
        _ config: inout Configuration, _ ref: inout Reference, _ now: Int64, _ random: inout SplitMix64, _ expect: Expect
    ) -> Bool {
        func pick<T>(_ options: [T]) -> T { options[Int(random.next() % UInt64(options.count))] }
        var mirror: (inout Reference) -> Void
        let change: ConfigChange
        let kind: String
        switch random.next() % 7 {
        case 0:
            let operation = pick(["chat", "bulk"])
            var limits = ref.limits[operation]!
            (limits.daily, limits.monthly, limits.percent) = (pick([30_000_000, 50_000_000, 80_000_000]), pick([200_000_000, 300_000_000]), pick([60, 80]))
            change = .setLimits(.init(limits: OperationLimitsEntry(operationType: operation, limits: OperationLimits(
                maxInputTokensPerMessage: limits.maxIn, maxOutputTokensPerMessage: limits.maxOut, maxTotalTokensPerMessage: limits.maxTotal,
                dailyCostCapNanoUSD: limits.daily, monthlyCostCapNanoUSD: limits.monthly, alertThresholdPercent: UInt32(limits.percent)))))
            (kind, mirror) = ("limits", { $0.limits[operation] = limits })
        case 1:
            let rates = Numbers.Rates(input: pick([1_000_000_000, 2_000_000_000]), output: pick([4_000_000_000, 6_000_000_000]), cached: pick([100_000_000, 200_000_000]))
            change = .setPrice(.init(version: ModelPrice(model: "cheap", version: PriceVersion(
                effectiveFromUnixMs: 0, base: PriceRates(inputPerMillion: rates.input, outputPerMillion: rates.output, cachedInputPerMillion: rates.cached),
                source: ""))))
            (kind, mirror) = ("price", { ref in
                ref.cheapVersions.removeAll { $0.from == now }
                ref.cheapVersions.append((now, rates))
            })
        case 2:
            let (shop, enabled) = (pick(["", "shop"]), pick([true, false]))
            change = .setShadowMode(.init(shopID: shop, enabled: enabled))
            (kind, mirror) = ("shadow", { ref in if shop.isEmpty { ref.shadowGlobal = enabled } else { ref.shadowShop = enabled } })
        case 3:
            let deny = pick([true, false])
            change = .setUnknownShopPolicy(.init(policy: deny ? .deny : .defaultTier))
            (kind, mirror) = ("unknown shops", { $0.denyUnknown = deny })
        case 4:
            let (fee, cap): (Int64, Int64?) = (pick([1_000_000_000, 2_000_000_000]), pick([3_000_000_000, 5_000_000_000, nil]))
            // Now, or backdated (as the ledger allows: into no month billed on this tier).
            var from = pick([true, false, false]) ? now - Int64(random.next() % 3_456_000_000) : now
            if ref.billed.keys.contains(where: { Reference.monthEnd($0) > from && ref.tier(at: Reference.monthEnd($0) - 1) == "tiny" }) {
                from = now
            }
            change = .upsertTier(.init(tier: TierSettings(tier: Tier(
                name: "tiny", monthlyFeeNanoUSD: fee, includedMessages: 5, overagePerMessageNanoUSD: 250_000_000, maxMonthlySpendNanoUSD: cap,
                selfServe: true)), effectiveFromUnixMs: from))
            let numbers = Numbers.TierNumbers(fee: fee, included: 5, overage: 250_000_000, cap: cap)
            if from < now { seen.insert("tier terms backdated") }
            (kind, mirror) = ("tier", { $0.setTerms("tiny", numbers, from: from) })
        default:
            let (rpm, tpm): (Int64, Int64) = (pick([0, 2, 5]), pick([0, 8_000, 20_000]))
            let rate = RateLimit(requestsPerMinute: UInt32(rpm), tokensPerMinute: UInt64(tpm))
            let value: (rpm: Int64, tpm: Int64)? = rpm == 0 && tpm == 0 ? nil : (rpm, tpm)
            if random.next() % 2 == 0 {
                let tier = pick(["tiny", "big"])
                change = .setRateLimit(.init(tier: tier, rateLimit: rate))
                (kind, mirror) = ("tier rate", { $0.tierRates[tier] = value })
            } else {
                change = .setRateLimit(.init(shopID: "shop", rateLimit: rate))
                (kind, mirror) = ("shop rate", { $0.shopRate = value })
            }
        }
        let planned = Result { () throws(TokenGateError) in try config.planning(change, now: now) }
        guard case .success(let (_, next)) = planned else { return expect(false, "config change \(change) refused: \(planned)") }
        config = next
        mirror(&ref)
        seen.insert("config \(kind)")
        return true
    }

    private func releaseStep(
        _ real: inout ShopState, _ ref: inout Reference, _ now: Int64, _ random: inout SplitMix64, _ issued: [String],
        _ expect: Expect
    ) -> Bool {
        let id = issued.isEmpty || random.next() % 10 == 0 ? "never-issued" : issued[Int(random.next() % UInt64(issued.count))]
        let result = Result { () throws(TokenGateError) in try real.releaseReservation(id: id, now: now) }
        if let hold = ref.holds[id], now < hold.expires {
            ref.holds[id] = nil
            ref.ended[id] = ("released", "", now)
            seen.insert("release ok")
            return expect(result == .success(hold.amount), "release \(id): \(result) vs \(hold.amount)")
        }
        let expected: StatusCode = ref.ending(id, now) == nil ? .notFound : .failedPrecondition
        guard case .failure(let error) = result else { return expect(false, "release \(id) should fail: \(result)") }
        seen.insert("release \(error.code)")
        return expect(error.code == expected, "release \(id): \(error) vs \(expected)")
    }

    private func billingStep(
        _ real: inout ShopState, _ ref: inout Reference, _ config: Configuration, _ now: Int64, _ random: inout SplitMix64,
        _ expect: Expect
    ) -> Bool {
        let current = MonthKey(unixMs: now)
        let previousMonth = random.next() % 10 < 7
        let period = previousMonth ? current.previous : current
        let preview = !previousMonth && random.next() % 2 == 0
        let request = GenerateBillingRequest(shopID: "shop", period: period.text, preview: preview)
        let result = Result { () throws(TokenGateError) in try real.planBilling(request, config: config, now: now) }
        if let stored = ref.billed[period.text] {
            guard case .success(.existing(let response)) = result else { return expect(false, "expected existing: \(result)") }
            seen.insert("billing existing")
            return expect(response.record == stored && !response.newlyStored, "existing record")
        }
        if ref.denyUnknown && ref.tier == nil && ref.events.isEmpty {
            guard case .failure(let error) = result, error.code == .notFound else { return expect(false, "unknown shop: \(result)") }
            seen.insert("billing unknown shop")
            return true
        }
        if !previousMonth && !preview {
            guard case .failure(let error) = result, error.code == .failedPrecondition else { return expect(false, "open: \(result)") }
            seen.insert("billing open")
            return true
        }
        if !preview && now < Reference.monthEnd(period.text) + Reference.graceMs {
            guard case .failure(let error) = result, error.code == .failedPrecondition, error.message.contains("grace period")
            else { return expect(false, "in grace: \(result)") }
            seen.insert("billing grace")
            return true
        }
        let inPeriod = ref.events.filter { $0.billedIn == period.text }
        // Terms of the month: the tier in effect at the period's last instant.
        let tierName = ref.tier(at: Reference.monthEnd(period.text) - 1)
        if tierName != (ref.tier ?? "tiny") { seen.insert("billing under the month's tier") }
        let charges = ref.charges(tierName, Int64(inPeriod.count), at: Reference.monthEnd(period.text) - 1)
        let expected = BillingRecord(
            shopID: "shop", period: period.text, tier: tierName, messagesUsed: UInt64(inPeriod.count),
            tokensUsed: inPeriod.reduce(0) { $0 + $1.input + $1.output }, apiCostNanoUSD: inPeriod.reduce(0) { $0 + $1.cost },
            baseChargeNanoUSD: charges.base, overageChargeNanoUSD: charges.overage, totalChargeNanoUSD: charges.total,
            generatedAtUnixMs: now, preview: preview)
        switch result {
        case .success(.preview(let response)) where preview:
            seen.insert("billing preview")
            return expect(response.record == expected, "preview \(response.record) vs \(expected)")
        case .success(.store(let record, let response)) where !preview:
            real.apply(.billing(record))
            ref.billed[period.text] = expected
            seen.insert("billing store")
            return expect(record == expected && response.record == expected && response.newlyStored, "store \(record) vs \(expected)")
        default:
            return expect(false, "billing \(result)")
        }
    }

    private func invariants(_ real: ShopState, _ ref: Reference, _ now: Int64, _ expect: Expect) -> Bool {
        let month = real.aggregate(month: MonthKey(unixMs: now))
        let nowMonth = Reference.month(now)
        let inMonth = ref.events.filter { $0.month == nowMonth }
        var ok = expect(real.spent(day: DayKey(unixMs: now)) == ref.spentDay(now), "day total")
        ok = ok && expect(month.costNanoUSD == ref.spentMonth(now), "month total")
        ok = ok && expect(month.messages == UInt64(inMonth.count), "month messages")
        ok = ok && expect(month.inputTokens == inMonth.reduce(0) { $0 + $1.input }, "month input tokens")
        ok = ok && expect(real.held(at: now).amountNanoUSD == ref.held(now), "held \(real.held(at: now)) vs \(ref.held(now))")
        ok = ok && expect(real.events.count == ref.events.count, "event count")
        return ok
    }
}
