// The handlers of tokengate.v1.BudgetService: each decodes its request, asks the ledger and
// encodes the answer. Status codes each RPC can return are listed on its entry.
import Synchronization
import TokenGateCore
import TokenGateStore
import TokenGateWire

public final class BudgetService: Sendable {
    let ledger: Ledger
    private let clock: any WallClock
    private let ready = Atomic<Bool>(false)
    private let healthWatchers = StreamHub<HealthCheckResponse>()
    /// Calls, latencies and decisions, for GetMetrics.
    public let metrics = Metrics()
    /// WatchAlerts streams; fed by the ledger's alert feed (ReportMethods.swift).
    let alertWatchers = AlertWatchers()
    /// Shadow-mode would-be denials, for GetConfiguration and metrics.
    public let gateCounters = GateCounters()
    /// The PostgreSQL shipper when `--postgres` is on, for its metrics.
    public let shipper = Mutex<Shipper?>(nil)
    /// This host's budget leases when `--fleet` is on (FleetLeases.swift); nil: the gate
    /// budgets from local spend alone.
    public let fleet: FleetLeases?
    /// Fleet configuration when `--fleet` is on (FleetConfig.swift): the admin setters publish
    /// to PostgreSQL and every daemon applies the changes in its order; nil: changes are local.
    public let fleetConfig: FleetConfig?

    public init(ledger: Ledger, clock: any WallClock, fleet: FleetLeases? = nil, fleetConfig: FleetConfig? = nil) {
        self.ledger = ledger
        self.clock = clock
        self.fleet = fleet
        self.fleetConfig = fleetConfig
        ledger.alertFeed.setListener { [alertWatchers, weak ledger] alerts, sequence in
            guard let ledger else { return }
            alertWatchers.publishWhenDurable(alerts, durableAt: sequence, ledger: ledger)
        }
    }

    /// Set once recovery has finished; until then only health answers (NOT_SERVING).
    public var isReady: Bool {
        get { ready.load(ordering: .acquiring) }
        set {
            ready.store(newValue, ordering: .releasing)
            healthWatchers.publish(HealthCheckResponse(status: newValue ? .serving : .notServing))
        }
    }

    /// Ends every long-lived stream (health and alert watchers) before the daemon exits.
    public func finishStreams() {
        healthWatchers.finishAll(TokenGateError(.unavailable, "tokengated is shutting down"))
        alertWatchers.finishAll(TokenGateError(.unavailable, "tokengated is shutting down"))
    }

    public func now() -> UnixMillis { clock.nowUnixMs() }

    /// Every method the daemon serves. Each feature area contributes its entries from its own
    /// file (`extension BudgetService { func ...Methods() -> [Method] }`).
    public func methodTable() -> MethodTable {
        MethodTable(gateMethods() + adminMethods() + reportMethods() + opsMethods())
    }

    /// The hot RPCs and health.
    func gateMethods() -> [Method] {
        let ledger = self.ledger
        let metrics = self.metrics
        let counters = gateCounters
        return [
            /// CanMakeRequest: OK (ALLOW or DENY), INVALID_ARGUMENT, NOT_FOUND (unknown model).
            .unary(MethodPath.canMakeRequest) { [fleet] (request: CanMakeRequestRequest, context) throws(TokenGateError) in
                let response =
                    if let fleet { try Self.fleetGate(request, context, ledger: ledger, fleet: fleet) } else {
                        try ledger.canMakeRequest(request, now: context.now)
                    }
                metrics.recordDecision(response)
                if response.shadowDenied { counters.recordShadowDenial(response.shadowReason) }
                return (response, nil)
            },
            /// ReleaseReservation: OK, NOT_FOUND, FAILED_PRECONDITION (already settled or released).
            .unary(MethodPath.releaseReservation) { (request: ReleaseReservationRequest, context) throws(TokenGateError) in
                (try ledger.releaseReservation(request, now: context.now), nil)
            },
            /// ApplyOptimization: OK, INVALID_ARGUMENT, NOT_FOUND (unknown model).
            .unary(MethodPath.applyOptimization) { (request: ApplyOptimizationRequest, context) throws(TokenGateError) in
                (try ledger.optimize(request, now: context.now), nil)
            },
            /// LogUsage: OK, INVALID_ARGUMENT, NOT_FOUND (unknown model), ALREADY_EXISTS (the event
            /// id was recorded with other content), FAILED_PRECONDITION (older than retention),
            /// UNAVAILABLE (log write failed). A billed month or an ended reservation is no refusal.
            .unary(MethodPath.logUsage, .write) { (request: LogUsageRequest, context) throws(TokenGateError) in
                let (response, sequence) = try ledger.logUsage(request, now: context.now)
                return (response, sequence)
            },
            /// GenerateBilling: OK, INVALID_ARGUMENT (period), PERMISSION_DENIED (a final bill,
            /// `preview = false`, from a peer not in the admin list: previews are open to every
            /// peer), FAILED_PRECONDITION (period not ended or in its grace period, without
            /// preview), NOT_FOUND (unknown tier), UNAVAILABLE.
            .unary(MethodPath.generateBilling, [.write, .partlyAdmin]) {
                (request: GenerateBillingRequest, context) throws(TokenGateError) -> (GenerateBillingResponse, UInt64?) in
                guard request.preview || context.isAdmin else {
                    throw TokenGateError(
                        .permissionDenied,
                        "a final bill (GenerateBilling without preview) is an admin action; uid "
                            + "\(context.peer.map { String($0.uid) } ?? "unknown") is not in the admin list (previews are open to every peer)")
                }
                return try ledger.generateBilling(request, now: context.now)
            },
            /// Health: always OK; SERVING once recovery has finished, NOT_SERVING before and while
            /// draining; `warnings` says what an operator should fix while it serves.
            .unary(MethodPath.health, .alwaysAvailable) { [self] (_: HealthCheckRequest, _) throws(TokenGateError) in
                (HealthCheckResponse(status: isReady ? .serving : .notServing, warnings: healthWarnings()), nil)
            },
            /// WatchHealth: streams the current status, then every change, until the daemon stops.
            .serverStreaming(MethodPath.watchHealth, .alwaysAvailable) { [self] (_: HealthCheckRequest, _, stream) throws(TokenGateError) in
                healthWatchers.add(stream, first: HealthCheckResponse(status: isReady ? .serving : .notServing))
            },
        ]
    }
}

extension BudgetService {
    /// What health reports besides the status (issue 18: a failed snapshot must not go unseen).
    func healthWarnings() -> [String] {
        let store = ledger.storeMetrics
        guard store.snapshotFailing.load(ordering: .relaxed) else { return [] }
        return ["the last snapshot failed (\(store.snapshotFailures.load(ordering: .relaxed)) failures so far): "
            + "the log keeps growing and recovery gets slower until one succeeds; see the daemon's log"]
    }
}
