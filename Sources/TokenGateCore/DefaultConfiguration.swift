// The embedded defaults, so the daemon runs with no config file (DESIGN §4): Gemini 2.5 list
// prices, the three tiers of DESIGN §3, the seed's per-operation limits and the optimization
// rules. A JSON config file overrides them field by field.

extension Configuration {
    /// Where the default prices come from.
    public static let defaultPriceSource = "Google published list price, taken 2026-11-25"

    /// The embedded default configuration.
    public static let defaults = Configuration(
        prices: defaultPrices,
        tiers: defaultTiers,
        defaultTier: "starter",
        limits: defaultLimits,
        optimization: OptimizationRules(
            modelDowngrades: ["gemini-2.5-pro": "gemini-2.5-flash"], thresholdPercent: nil, historyCap: 5),
        reservationTTLMs: 120_000,
        unknownShopPolicy: .defaultTier,
        shadowMode: false,
        shadowShops: []
    )

    /// `dollars` whole dollars plus `nano` nano-USD, written so the table reads like a price list.
    private static func usd(_ dollars: Int64, nano: Int64 = 0) -> NanoUSD { dollars * Money.nanoPerUSD + nano }

    private static let defaultPrices = PriceTable(models: [
        "gemini-2.5-flash": [
            PriceVersion(
                effectiveFromUnixMs: 0,
                base: PriceRates(
                    inputPerMillion: usd(0, nano: 300_000_000), outputPerMillion: usd(2, nano: 500_000_000),
                    cachedInputPerMillion: usd(0, nano: 30_000_000)),
                source: defaultPriceSource)
        ],
        "gemini-2.5-pro": [
            PriceVersion(
                effectiveFromUnixMs: 0,
                base: PriceRates(
                    inputPerMillion: usd(1, nano: 250_000_000), outputPerMillion: usd(10),
                    cachedInputPerMillion: usd(0, nano: 125_000_000)),
                promptTiers: [
                    PromptTier(
                        promptTokensAbove: 200_000,
                        rates: PriceRates(
                            inputPerMillion: usd(2, nano: 500_000_000), outputPerMillion: usd(15),
                            cachedInputPerMillion: usd(0, nano: 250_000_000)))
                ],
                source: defaultPriceSource)
        ],
    ])

    private static let defaultTiers: [String: Tier] = [
        "starter": Tier(
            name: "starter", monthlyFeeNanoUSD: usd(5), includedMessages: 1_000,
            overagePerMessageNanoUSD: 150_000, maxMonthlySpendNanoUSD: usd(50), selfServe: true),
        "professional": Tier(
            name: "professional", monthlyFeeNanoUSD: usd(15), includedMessages: 10_000,
            overagePerMessageNanoUSD: 100_000, maxMonthlySpendNanoUSD: usd(200), selfServe: true),
        "enterprise": Tier(
            name: "enterprise", monthlyFeeNanoUSD: 0, includedMessages: nil,
            overagePerMessageNanoUSD: 50_000, maxMonthlySpendNanoUSD: nil, selfServe: false),
    ]

    /// The seed's per-message limits with $5.00 a day, $100.00 a month and an 80 % alert.
    private static func limits(input: UInt64, output: UInt64, total: UInt64) -> OperationLimits {
        OperationLimits(
            maxInputTokensPerMessage: input, maxOutputTokensPerMessage: output, maxTotalTokensPerMessage: total,
            dailyCostCapNanoUSD: usd(5), monthlyCostCapNanoUSD: usd(100), alertThresholdPercent: 80)
    }

    private static let defaultLimits: [String: OperationLimits] = [
        "chat_message": limits(input: 10_000, output: 2_000, total: 12_000),
        "product_description": limits(input: 4_000, output: 1_500, total: 5_500),
        "photo_studio": limits(input: 8_000, output: 4_000, total: 12_000),
        "suggestion": limits(input: 4_000, output: 500, total: 4_500),
    ]
}
