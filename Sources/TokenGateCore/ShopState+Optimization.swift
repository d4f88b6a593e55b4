// ApplyOptimization (DESIGN §3): cheaper answers near the budget. Past the threshold a mapped
// model is downgraded and the history is capped; at any usage the output tokens are capped so
// the call's worst case fits what is left of the daily and monthly budgets.

extension ShopState {
    /// Suggests a cheaper way to make a call. Costs before and after are worst cases (estimated
    /// input + max output) at the requested and the suggested model; trimming history is not
    /// assumed to shrink the input estimate. Pure: nothing is held or recorded.
    ///
    /// Throws: `invalidArgument` (shop id, token counts, unknown operation type), `notFound`
    /// (model without a price), `outOfRange` (overflow).
    public func optimize(_ request: ApplyOptimizationRequest, config: Configuration, now: UnixMillis) throws(TokenGateError)
        -> ApplyOptimizationResponse
    {
        try Validation.shop(request.shopID, owner: shopID)
        try Validation.identifier(request.operationType, field: "operation_type", maximum: CoreLimits.nameBytesMax)
        try Validation.identifier(request.model, field: "model", maximum: CoreLimits.nameBytesMax)
        try Validation.tokens(request.estimatedInputTokens, field: "estimated_input_tokens")
        try Validation.tokens(request.maxOutputTokens, field: "max_output_tokens")
        let limits = try config.limits(shopID: shopID, operationType: request.operationType)
        let before = try worstCase(config, request.model, request.estimatedInputTokens, request.maxOutputTokens, now)
        let usage = budgetUsage(limits: limits, now: now)
        var result = ApplyOptimizationResponse(
            optimized: false, model: request.model, historyLength: request.historyLength,
            maxOutputTokens: request.maxOutputTokens, estimatedCostBeforeNanoUSD: before, estimatedCostAfterNanoUSD: before)
        if let trigger = Self.trigger(usage, percent: config.optimizationThresholdPercent(limits)) {
            if let cheaper = config.optimization.modelDowngrades[request.model], cheaper != request.model,
                config.prices.hasPrice(model: cheaper, at: now)
            {
                result.model = cheaper
                result.reasons.append("model downgraded from \(request.model) to \(cheaper): \(trigger)")
            }
            let cap = config.optimization.historyCap
            if request.historyLength > cap {
                result.historyLength = cap
                result.reasons.append("history trimmed from \(request.historyLength) to \(cap) messages: \(trigger)")
            }
        }
        try capOutput(&result, input: request.estimatedInputTokens, usage: usage, config: config, now: now)
        result.estimatedCostAfterNanoUSD = try worstCase(
            config, result.model, request.estimatedInputTokens, result.maxOutputTokens, now)
        result.optimized = result.model != request.model || result.historyLength != request.historyLength
            || result.maxOutputTokens != request.maxOutputTokens
        return result
    }

    /// "daily usage 85% >= 80%" when daily or monthly usage reaches `percent`, else nil.
    static func trigger(_ usage: BudgetUsage, percent: UInt32) -> String? {
        if BudgetMath.reaches(used: usage.dailyUsedNanoUSD, percent: percent, of: usage.dailyCapNanoUSD) {
            return "daily usage \(BudgetMath.percentText(usage.dailyBasisPoints)) >= \(percent)%"
        }
        if BudgetMath.reaches(used: usage.monthlyUsedNanoUSD, percent: percent, of: usage.monthlyCapNanoUSD) {
            return "monthly usage \(BudgetMath.percentText(usage.monthlyBasisPoints)) >= \(percent)%"
        }
        return nil
    }

    /// Worst-case cost: `input` tokens plus `output` tokens at `model`'s price at `now`.
    func worstCase(_ config: Configuration, _ model: String, _ input: UInt64, _ output: UInt64, _ now: UnixMillis)
        throws(TokenGateError) -> NanoUSD
    {
        try config.prices.cost(model: model, inputTokens: input, outputTokens: output, cachedInputTokens: 0, at: now)
    }

    /// Lowers `result.maxOutputTokens` to the most output whose worst-case cost fits the smaller
    /// of the daily and monthly remaining budgets (0 when not even the input fits).
    func capOutput(
        _ result: inout ApplyOptimizationResponse, input: UInt64, usage: BudgetUsage, config: Configuration,
        now: UnixMillis
    ) throws(TokenGateError) {
        let remaining = min(usage.dailyRemainingNanoUSD, usage.monthlyRemainingNanoUSD)
        let requested = result.maxOutputTokens
        guard try worstCase(config, result.model, input, requested, now) > remaining else { return }
        // Cost is non-decreasing in output tokens: binary search the largest count that fits.
        var low: UInt64 = 0
        var high = requested
        if try worstCase(config, result.model, input, 0, now) > remaining {
            high = 0
        } else {
            while low < high {
                let middle = low + (high - low + 1) / 2
                if try worstCase(config, result.model, input, middle, now) <= remaining { low = middle } else { high = middle - 1 }
            }
        }
        result.maxOutputTokens = high
        let budget = "the worst case must fit the \(Money.formatUSD(remaining)) left of the shop's daily and monthly budgets"
        result.reasons.append(
            high == 0
                ? "max output tokens cut from \(requested) to 0: not even the input fits; \(budget)"
                : "max output tokens capped from \(requested) to \(high): \(budget)")
    }
}
