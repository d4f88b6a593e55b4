// The JSON config file: a full example overrides the defaults key by key with exact amounts;
// unknown keys, wrong types, bad amounts, malformed JSON and incoherent results are refused with
// a message that names the key path (or the line and column).

import Foundation
import XCTest

@testable import TokenGateCore

final class ConfigurationFileTests: XCTestCase {
    private func load(_ text: String) throws(TokenGateError) -> Configuration {
        try ConfigurationFile.apply(Array(text.utf8), to: .defaults)
    }

    private func assertRejected(_ text: String, _ contains: String, file: StaticString = #filePath, line: UInt = #line) {
        assertThrows(.invalidArgument, contains, file: file, line: line) { () throws(TokenGateError) in try load(text) }
    }

    static let example = """
        {
          "prices": {
            "gemini-2.5-flash": [
              {"input_usd_per_million": "0.30", "output_usd_per_million": "2.50", "cached_input_usd_per_million": "0.03"},
              {"effective_from_unix_ms": 1798761600000, "input_usd_per_million": 0.35, "output_usd_per_million": "3",
               "source": "announced 2026-12-01"}
            ],
            "house-model": [
              {"input_usd_per_million": "1", "output_usd_per_million": "2",
               "prompt_tiers": [{"prompt_tokens_above": 100000, "input_usd_per_million": "2", "output_usd_per_million": "4"}]}
            ]
          },
          "fallback_price": {"input_usd_per_million": "5", "output_usd_per_million": "20"},
          "tiers": {
            "starter": {"monthly_fee_usd": "6.00", "requests_per_minute": 30},
            "gold": {"monthly_fee_usd": "99", "included_messages": "unlimited", "overage_per_message_usd": "0",
                     "max_monthly_spend_usd": "none", "self_serve": false, "tokens_per_minute": 500000}
          },
          "default_tier": "gold",
          "shop_limits": {"shop_1": {"chat_message": {"daily_usd": "1.00"}}},
          "limits": {
            "chat_message": {"daily_usd": "10", "alert_percent": 90},
            "video": {"max_input_tokens": 1000, "max_output_tokens": 100, "max_total_tokens": 1100,
                      "daily_usd": "0.50", "monthly_usd": "5", "alert_percent": 75}
          },
          "shop_rate_limits": {"shop_2": {"requests_per_minute": 5}},
          "optimization": {"model_downgrades": {"house-model": "gemini-2.5-flash"}, "threshold_percent": 60, "history_cap": 3},
          "reservation_ttl_ms": 30000,
          "unknown_shops": "deny",
          "shadow_mode": false,
          "shadow_shops": ["shop_3"]
        }
        """

    func testExampleOverridesTheDefaultsKeyByKey() throws {
        let config = try load(Self.example)
        let flash = try XCTUnwrap(config.prices.models["gemini-2.5-flash"])
        XCTAssertEqual(flash.map(\.effectiveFromUnixMs), [0, 1_798_761_600_000])
        XCTAssertEqual(flash[1].base, PriceRates(inputPerMillion: usd("0.35"), outputPerMillion: usd("3"), cachedInputPerMillion: usd("0.35")))
        XCTAssertEqual(flash[1].source, "announced 2026-12-01")
        XCTAssertEqual(config.prices.models["house-model"]?[0].promptTiers.first?.promptTokensAbove, 100_000)
        XCTAssertNotNil(config.prices.models["gemini-2.5-pro"], "models the file does not name keep their defaults")
        XCTAssertEqual(config.prices.fallback?.base.outputPerMillion, usd("20"))
        XCTAssertEqual(config.tiers["starter"]?.monthlyFeeNanoUSD, usd("6"))
        XCTAssertEqual(config.tiers["starter"]?.includedMessages, 1_000, "fields the file does not name keep their defaults")
        XCTAssertEqual(config.tiers["gold"], Tier(name: "gold", monthlyFeeNanoUSD: usd("99"), includedMessages: nil,
                                                  overagePerMessageNanoUSD: 0, maxMonthlySpendNanoUSD: nil, selfServe: false))
        XCTAssertEqual(config.tierRateLimits, ["starter": RateLimit(requestsPerMinute: 30), "gold": RateLimit(tokensPerMinute: 500_000)])
        XCTAssertEqual(config.defaultTier, "gold")
        let chat = try config.limits(shopID: "anyone", operationType: "chat_message")
        XCTAssertEqual(chat.dailyCostCapNanoUSD, usd("10"))
        XCTAssertEqual(chat.alertThresholdPercent, 90)
        XCTAssertEqual(chat.maxInputTokensPerMessage, 10_000)
        let shop1 = try config.limits(shopID: "shop_1", operationType: "chat_message")
        XCTAssertEqual(shop1.dailyCostCapNanoUSD, usd("1"))
        XCTAssertEqual(shop1.alertThresholdPercent, 90, "a shop override builds on the file's limits, whatever the key order")
        XCTAssertEqual(try config.limits(shopID: "x", operationType: "video").dailyCostCapNanoUSD, usd("0.5"))
        XCTAssertEqual(config.shopRateLimits, ["shop_2": RateLimit(requestsPerMinute: 5)])
        XCTAssertEqual(config.optimization, OptimizationRules(modelDowngrades: ["house-model": "gemini-2.5-flash"], thresholdPercent: 60, historyCap: 3))
        XCTAssertEqual(config.reservationTTLMs, 30_000)
        XCTAssertEqual(config.unknownShopPolicy, .deny)
        XCTAssertEqual(config.shadowShops, ["shop_3"])
    }

    func testAnEmptyObjectIsTheDefaults() throws {
        XCTAssertEqual(try load("{}"), .defaults)
        XCTAssertEqual(try load(" \n{ }\n"), .defaults)
    }

    func testAmountsAreExactDecimalText() throws {
        // 0.1 + 0.2 style values that a Double cannot hold exactly.
        let config = try load(#"{"tiers": {"starter": {"overage_per_message_usd": 0.000150001, "monthly_fee_usd": "5.100000001"}}}"#)
        XCTAssertEqual(config.tiers["starter"]?.overagePerMessageNanoUSD, 150_001)
        XCTAssertEqual(config.tiers["starter"]?.monthlyFeeNanoUSD, 5_100_000_001)
        assertRejected(#"{"tiers": {"starter": {"monthly_fee_usd": 1e3}}}"#, "tiers.starter.monthly_fee_usd is invalid")
        assertRejected(#"{"tiers": {"starter": {"monthly_fee_usd": "0.0000000001"}}}"#, "tiers.starter.monthly_fee_usd is invalid")
        assertRejected(#"{"tiers": {"starter": {"monthly_fee_usd": "-1"}}}"#, "must not be negative")
        assertRejected(#"{"tiers": {"starter": {"monthly_fee_usd": true}}}"#, "must be a dollar amount")
        assertRejected(#"{"limits": {"chat_message": {"daily_usd": "99999999999"}}}"#, "too large")
    }

    /// The `postgres` section is the daemon's: it leaves the configuration as it is, is read by
    /// `postgresSettings`, and its mistakes name the key like any other.
    func testPostgresSectionIsReadApartAndChecked() throws {
        let text = #"{"postgres": {"conninfo": "dbname=tg", "host_id": "web-1", "ship_backlog_bytes_max": 1048576}}"#
        XCTAssertEqual(try load(text), .defaults)
        let settings = try ConfigurationFile.postgresSettings(Array(text.utf8))
        XCTAssertEqual(settings, ConfigurationFile.PostgresSettings(conninfo: "dbname=tg", hostID: "web-1", shipBacklogBytesMax: 1_048_576))
        XCTAssertNil(try ConfigurationFile.postgresSettings(Array("{}".utf8)))
        assertRejected(#"{"postgres": {"conn": "x"}}"#, "unknown key 'postgres.conn'")
        assertRejected(#"{"postgres": {"ship_backlog_bytes_max": "big"}}"#, "postgres.ship_backlog_bytes_max must be a whole number")
    }

    /// The `fleet_outage_allowance` section is the daemon's too (OutageAllowance.swift): a
    /// default and per-shop amounts, read exactly; mistakes name the key.
    func testFleetOutageAllowanceIsReadApartAndChecked() throws {
        let text = #"{"fleet_outage_allowance": {"default_usd": "0.05", "shops": {"shop_vip": "0.50", "shop_none": 0}}}"#
        XCTAssertEqual(try load(text), .defaults)
        let allowance = try XCTUnwrap(try ConfigurationFile.outageAllowance(Array(text.utf8)))
        XCTAssertEqual(allowance, OutageAllowance(defaultNanoUSD: 50_000_000, shops: ["shop_vip": 500_000_000, "shop_none": 0]))
        XCTAssertEqual(allowance.nanoUSD(for: "shop_vip"), 500_000_000)
        XCTAssertEqual(allowance.nanoUSD(for: "shop_none"), 0)
        XCTAssertEqual(allowance.nanoUSD(for: "other"), 50_000_000)
        XCTAssertFalse(allowance.isZero)
        XCTAssertTrue(OutageAllowance().isZero)
        XCTAssertNil(try ConfigurationFile.outageAllowance(Array("{}".utf8)))
        assertRejected(#"{"fleet_outage_allowance": {"default": "1"}}"#, "unknown key 'fleet_outage_allowance.default'")
        assertRejected(#"{"fleet_outage_allowance": {"shops": {"s": "-1"}}}"#, "fleet_outage_allowance.shops.s is -1")
    }

    func testMistakesNameTheKey() {
        assertRejected(#"{"tiers": {"starter": {"fee": "5"}}}"#, "unknown key 'tiers.starter.fee'; expected one of: monthly_fee_usd")
        assertRejected(#"{"limit": {}}"#, "unknown key 'limit'")
        assertRejected(#"{"limits": {"chat_message": {"max_input_tokens": -5}}}"#, "limits.chat_message.max_input_tokens is -5")
        assertRejected(#"{"limits": {"chat_message": {"max_input_tokens": "5"}}}"#, "limits.chat_message.max_input_tokens must be a whole number")
        assertRejected(#"{"limits": {"chat_message": {"alert_percent": 101}}}"#, "limits.chat_message.alert_percent is 101")
        assertRejected(#"{"limits": {"video": {"daily_usd": "1"}}}"#, "limits.video is a new operation type, so")
        assertRejected(#"{"tiers": {"gold": {"monthly_fee_usd": "1"}}}"#, "tiers.gold is a new tier, so")
        assertRejected(#"{"prices": {"m": [{"input_usd_per_million": "1"}]}}"#, "prices.m[0] needs output_usd_per_million")
        assertRejected(#"{"prices": {"m": {"input_usd_per_million": "1"}}}"#, "prices.m must be an array")
        assertRejected(#"{"unknown_shops": "maybe"}"#, "unknown_shops is \"maybe\"")
        assertRejected(#"{"shadow_shops": "shop_1"}"#, "shadow_shops must be an array")
        assertRejected(#"{"reservation_ttl_ms": 0}"#, "reservation_ttl_ms is 0")
        assertRejected(#"{"default_tier": "platinum"}"#, "default tier 'platinum' is not configured")
        assertRejected(#"{"optimization": {"model_downgrades": {"gemini-2.5-pro": "gpt-9"}}}"#, "which has no price")
        assertRejected("[]", "the file must be an object")
    }

    func testMalformedJSONGivesLineAndColumn() {
        assertRejected("{\n  \"shadow_mode\": tru\n}", "line 2, column 18")
        assertRejected("{\"a\": 1,}", "a quoted key was expected")
        assertRejected("{\"shadow_mode\": true, \"shadow_mode\": false}", "key \"shadow_mode\" appears twice")
        assertRejected("{\"default_tier\": \"st\u{01}arter\"}", "control character")
        assertRejected("{} {}", "unexpected text after the JSON value")
        assertRejected(String(repeating: "[", count: 40), "nested more than 32 levels")
        assertThrows(.invalidArgument, "not valid UTF-8") { () throws(TokenGateError) in
            try ConfigurationFile.apply([0x7B, 0x22, 0xFF, 0x22, 0x3A, 0x31, 0x7D], to: .defaults)
        }
        assertThrows(.invalidArgument, "at most") { () throws(TokenGateError) in
            try ConfigurationFile.apply([UInt8](repeating: 0x20, count: ConfigurationFile.bytesMax + 1), to: .defaults)
        }
    }

    func testJSONStringsDecodeEscapes() throws {
        let value = try JSONValue.parse(Array(#"["a\"b\\c\/\n\u00e9\ud83d\uded2", -0.5e+3, null, false]"#.utf8))
        XCTAssertEqual(value, .array([.string("a\"b\\c/\né🛒"), .number("-0.5e+3"), .null, .bool(false)]))
    }
}

final class ReadmeConfigurationExampleTests: XCTestCase {
    /// The config file example in docs/configuration.md (linked from README.md) must stay loadable.
    func testTheReadmeExampleLoads() throws {
        let readme = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("docs/configuration.md")
        let text = try String(contentsOf: readme, encoding: .utf8)
        let start = try XCTUnwrap(text.range(of: "```json\n"))
        let end = try XCTUnwrap(text.range(of: "```", range: start.upperBound..<text.endIndex))
        let config = try ConfigurationFile.apply(Array(text[start.upperBound..<end.lowerBound].utf8), to: .defaults)
        XCTAssertEqual(try config.limits(shopID: "shop_1", operationType: "chat_message").dailyCostCapNanoUSD, 1_000_000_000)
        XCTAssertEqual(config.tierRateLimits["starter"], RateLimit(requestsPerMinute: 60, tokensPerMinute: 200_000))
    }
}
