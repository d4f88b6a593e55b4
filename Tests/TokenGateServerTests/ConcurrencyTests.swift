// The overshoot test of DESIGN §3 against the real daemon: 64 client tasks, each on its own
// connection, hammer one shop whose daily cap is $1.00 with check-then-log calls (a short sleep
// stands in for the model call). With reservations the recorded spend never passes the cap;
// without them, the same workload shows the overshoot reservations prevent.

import Foundation
import TokenGateClient
import XCTest

final class ConcurrencyTests: XCTestCase {
    static let tasks = 64
    static let cap: NanoUSD = 1_000_000_000
    /// 10,000 input + 2,000 output tokens of gemini-2.5-flash: $0.003 + $0.005 = $0.008 a call.
    static let input: UInt64 = 10_000
    static let output: UInt64 = 2_000
    static let callCost: NanoUSD = 8_000_000

    struct Outcome {
        var spent: NanoUSD = 0
        var calls = 0
    }

    /// Every task checks (reserving or not), "calls the model" for 5 ms, then logs the call's
    /// worst case, until the gate denies it. Returns the shop's recorded spend and the calls made.
    private func hammer(_ daemon: TestDaemon, shop: String, reserve: Bool) async throws -> Outcome {
        let admin = daemon.client()
        _ = try await admin.setLimits(.init(limits: OperationLimitsEntry(operationType: "chat_message", shopID: shop, limits: OperationLimits(
            maxInputTokensPerMessage: 10_000, maxOutputTokensPerMessage: 2_000, maxTotalTokensPerMessage: 12_000,
            dailyCostCapNanoUSD: Self.cap, monthlyCostCapNanoUSD: 100_000_000_000, alertThresholdPercent: 80))))
        return try await withThrowingTaskGroup(of: Outcome.self) { group in
            for task in 0..<Self.tasks {
                group.addTask {
                    let client = daemon.client(timeoutMs: 30_000)
                    defer { client.close() }
                    var outcome = Outcome()
                    while true {
                        let verdict = try await client.canMakeRequest(.init(
                            shopID: shop, estimatedInputTokens: Self.input, maxOutputTokens: Self.output, reserve: reserve))
                        if verdict.decision == .deny { return outcome }
                        try await Task.sleep(nanoseconds: 5_000_000)
                        let logged = try await client.logUsage(.init(
                            eventID: "\(shop)-\(task)-\(outcome.calls)", shopID: shop, inputTokens: Self.input, outputTokens: Self.output,
                            reservationID: verdict.reservationID))
                        outcome.calls += 1
                        outcome.spent = max(outcome.spent, logged.dailyTotalNanoUSD)
                    }
                }
            }
            var total = Outcome()
            for try await outcome in group {
                total.calls += outcome.calls
                total.spent = max(total.spent, outcome.spent)
            }
            return total
        }
    }

    /// Waits while the UTC day is about to end, so both runs count against one day's cap.
    private func awayFromMidnight() {
        let msIntoDay = Int64(Date().timeIntervalSince1970 * 1_000) % 86_400_000
        if msIntoDay > 86_400_000 - 60_000 { usleep(UInt32(86_400_000 - msIntoDay + 1_000) * 1_000) }
    }

    func testReservationsPreventOvershootUnderConcurrency() async throws {
        awayFromMidnight()
        let daemon = try TestDaemon()
        let reserved = try await hammer(daemon, shop: "race_reserved", reserve: true)
        let plain = try await hammer(daemon, shop: "race_plain", reserve: false)
        let overshoot = { (outcome: Outcome) in max(0, outcome.spent - Self.cap) }
        print("""
            ConcurrencyTests: \(Self.tasks) tasks, daily cap \(Money.formatUSD(Self.cap)), \(Money.formatUSD(Self.callCost)) a call
              with reservations:    \(reserved.calls) calls, spent \(Money.formatUSD(reserved.spent)), overshoot \(Money.formatUSD(overshoot(reserved)))
              without reservations: \(plain.calls) calls, spent \(Money.formatUSD(plain.spent)), overshoot \(Money.formatUSD(overshoot(plain)))
            """)
        XCTAssertLessThanOrEqual(reserved.spent, Self.cap, "reservations: the recorded spend never passes the cap")
        XCTAssertEqual(reserved.spent, Self.cap, "and the whole budget is usable: 125 calls of $0.008")
        XCTAssertEqual(reserved.calls, 125)
        // Without holds, every task whose check passed before the last logs landed still spends:
        // with 64 tasks in flight and 5 ms between check and log it overshot in every one of many runs.
        XCTAssertGreaterThan(plain.spent, Self.cap, "without reservations the same workload overshoots")
    }
}
