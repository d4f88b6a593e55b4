// Shared helpers for the domain tests: readable times and amounts, a test configuration with
// round prices, and the "ledger" sequence a server runs (plan, apply, settle) so tests drive
// ShopState the way the daemon will.

import XCTest

@testable import TokenGateCore

/// Unix ms of a UTC civil time.
func utc(_ year: Int64, _ month: Int64, _ day: Int64, _ hour: Int64 = 0, _ minute: Int64 = 0, _ second: Int64 = 0,
         _ milli: Int64 = 0) -> UnixMillis {
    let days = UTCCalendar.daysFromCivil(year: year, month: month, day: day)
    return ((days * 24 + hour) * 60 + minute) * 60_000 + second * 1000 + milli
}

/// Dollars from exact text, for readable expectations.
func usd(_ text: String) -> NanoUSD {
    do { return try Money.parseUSD(text) } catch { fatalError("bad test amount \(text): \(error)") }
}

/// Asserts that `body` throws a TokenGateError with `code` whose message contains `contains`.
func assertThrows<T>(
    _ code: StatusCode, _ contains: String = "", file: StaticString = #filePath, line: UInt = #line,
    _ body: () throws(TokenGateError) -> T
) {
    do {
        let value = try body()
        XCTFail("expected \(code) containing '\(contains)', got \(value)", file: file, line: line)
    } catch {
        XCTAssertEqual(error.code, code, "\(error)", file: file, line: line)
        if !contains.isEmpty {
            XCTAssertTrue(error.message.contains(contains), "'\(error.message)' lacks '\(contains)'", file: file, line: line)
        }
    }
}

enum Fixture {
    /// 2026-11-25 12:00 UTC, a Wednesday in an open month.
    static let now = utc(2026, 11, 25, 12)

    /// "test-model" costs $1,000 per million tokens of every class ($0.001 a token, $1 per 1,000
    /// tokens) and $100 per million cached, so amounts in tests read as round dollars.
    static let testRates = PriceRates(
        inputPerMillion: usd("1000"), outputPerMillion: usd("1000"), cachedInputPerMillion: usd("100"))

    /// The defaults plus "test-model".
    static func config(_ change: (inout Configuration) -> Void = { _ in }) -> Configuration {
        var config = Configuration.defaults
        config.prices.models["test-model"] = [PriceVersion(effectiveFromUnixMs: 0, base: testRates, source: "test")]
        change(&config)
        return config
    }

    /// A gate request for "test-model" costing `(input + output) / 1000` dollars at worst.
    static func gate(
        _ shop: String = "shop", input: UInt64 = 0, output: UInt64 = 0, reserve: Bool = false,
        operation: String = "chat_message", model: String = "test-model"
    ) -> CanMakeRequestRequest {
        CanMakeRequestRequest(
            shopID: shop, operationType: operation, model: model, estimatedInputTokens: input, maxOutputTokens: output,
            requestID: "req", reserve: reserve)
    }

    /// A usage report for "test-model".
    static func usage(
        _ eventID: String, shop: String = "shop", input: UInt64 = 0, output: UInt64 = 0, cached: UInt64 = 0,
        at occurredAt: UnixMillis = 0, reservation: String = "", model: String = "test-model",
        operation: String = "chat_message"
    ) -> LogUsageRequest {
        LogUsageRequest(
            eventID: eventID, shopID: shop, userID: "user", conversationID: "conv", operationType: operation, model: model,
            inputTokens: input, outputTokens: output, cachedInputTokens: cached, occurredAtUnixMs: occurredAt,
            reservationID: reservation)
    }
}

/// Counts reservation ids handed out, to check that the gate asks for one only when it holds.
final class IDMaker {
    var issued = 0
    func next() -> String {
        issued += 1
        return "r\(issued)"
    }
}

extension ShopState {
    /// What the server's LogUsage does: plan, then (for a new event) apply and settle.
    mutating func log(_ request: LogUsageRequest, config: Configuration, now: UnixMillis) throws(TokenGateError)
        -> LogUsageResponse
    {
        switch try planUsage(request, config: config, now: now) {
        case .duplicate(let response):
            return response
        case .record(let event, let response):
            apply(.usage(event))
            settleReservation(id: request.reservationID, byEvent: event.eventID, now: now)
            return response
        }
    }

    /// The gate with ids from `ids`.
    mutating func check(_ request: CanMakeRequestRequest, config: Configuration, now: UnixMillis, ids: IDMaker)
        throws(TokenGateError) -> CanMakeRequestResponse
    {
        try canMakeRequest(request, config: config, now: now, makeReservationID: ids.next)
    }

    /// What the server's GenerateBilling does: plan, store when told to.
    mutating func bill(_ request: GenerateBillingRequest, config: Configuration, now: UnixMillis) throws(TokenGateError)
        -> GenerateBillingResponse
    {
        switch try planBilling(request, config: config, now: now) {
        case .existing(let response), .preview(let response):
            return response
        case .store(let record, let response):
            apply(.billing(record))
            return response
        }
    }
}

