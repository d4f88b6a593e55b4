// CanMakeRequest in fleet mode: today's gate with this host's lease as the budget. The
// allowance comes from memory (FleetLeases); only a call that the lease (not the fleet's cap)
// refuses waits for the refill thread, within its deadline, and is then decided again.
import TokenGateClock
import TokenGateCore
import TokenGateStore

extension BudgetService {
    static func fleetGate(
        _ request: CanMakeRequestRequest, _ context: CallContext, ledger: Ledger, fleet: FleetLeases
    ) throws(TokenGateError) -> CanMakeRequestResponse {
        var response = try ledger.canMakeRequest(request, now: context.now) { fleet.allowance(shopID: $0, now: context.now) }
        var waited = false
        while !waited, response.decision == .deny || response.shadowDenied,
            [.dailyCapReached, .monthlyCapReached].contains(response.decision == .deny ? response.reason : response.shadowReason)
        {
            waited = true
            let remainingMs =
                context.deadlineAtMs > 0 ? context.deadlineAtMs - MonotonicClock.milliseconds() - 5 : fleet.options.refillWaitMaxMs
            let waitMs = min(remainingMs, fleet.options.refillWaitMaxMs)
            guard
                fleet.waitForRefill(
                    shopID: request.shopID, need: response.estimatedCostNanoUSD, now: context.now, waitMs: waitMs)
            else { break }
            response = try ledger.canMakeRequest(request, now: context.now) { fleet.allowance(shopID: $0, now: context.now) }
        }
        if response.decision == .allow {
            fleet.admitted(shopID: request.shopID, estimate: response.estimatedCostNanoUSD, now: context.now)
        }
        return response
    }
}
