// The ratios issue 6 asks for, with their targets, and the ratios printed for information
// (TokenGate against the floor and against Redis at every load shape).

extension BenchRun {
    func addTargets() {
        let c64 = LoadShape.manyConnections.key
        let pipe = LoadShape.pipelined.key
        let targets: [Target] = [
            Target(name: "CanMakeRequest p50, 1 conn / floor p50", numeratorKey: "tg.can.seq.p50_us", denominatorKey: "floor.seq.p50_us", bound: .atMost(1.3)),
            Target(name: "CanMakeRequest p99, 1 conn / floor p99", numeratorKey: "tg.can.seq.p99_us", denominatorKey: "floor.seq.p99_us", bound: .atMost(1.5)),
            Target(name: "CanMakeRequest calls/s, \(c64) / floor", numeratorKey: "tg.can.\(c64).calls_per_s", denominatorKey: "floor.\(c64).calls_per_s", bound: .atLeast(0.7)),
            Target(name: "CanMakeRequest calls/s, 32 in flight / floor", numeratorKey: "tg.can.\(pipe).calls_per_s", denominatorKey: "floor.\(pipe).calls_per_s", bound: .atLeast(0.5)),
            Target(name: "CanMakeRequest calls/s, \(c64) / Redis gate", numeratorKey: "tg.can.\(c64).calls_per_s", denominatorKey: "redis.gate.\(c64).calls_per_s", bound: .atLeast(1.0)),
            Target(name: "LogUsage always calls/s, \(c64) / 1 conn", numeratorKey: "tg.log.always.\(c64).calls_per_s", denominatorKey: "tg.log.always.seq.calls_per_s", bound: .atLeast(10)),
            Target(name: "LogUsage always calls/s, \(c64) / Redis AOF always", numeratorKey: "tg.log.always.\(c64).calls_per_s", denominatorKey: "redis.aof_always.\(c64).calls_per_s", bound: .atLeast(0.5)),
            Target(name: "CanMakeRequest p50, many shops / 1k shops", numeratorKey: "scale.can.large.p50_us", denominatorKey: "scale.can.small.p50_us", bound: .atMost(1.1)),
            Target(name: "resident bytes per stored usage event", numeratorKey: "scale.events.bytes_per_event", denominatorKey: nil, bound: .atMost(150)),
            Target(name: "recovery of the event store, seconds", numeratorKey: "scale.events.recovery_s", denominatorKey: nil, bound: .atMost(15)),
            Target(name: "pinned one core: CanMakeRequest p50 / floor p50", numeratorKey: "pinned.tg.p50_us", denominatorKey: "pinned.floor.p50_us", bound: .atMost(2)),
            // PostgreSQL shipping (issue 19, `--only ship`).
            Target(name: "shipping events/s / COPY of the same rows", numeratorKey: "ship.events_per_s", denominatorKey: "ship.copy_events_per_s", bound: .atLeast(0.5)),
            Target(name: "shipping events/s from a 1M backlog", numeratorKey: "ship.events_per_s", denominatorKey: nil, bound: .atLeast(50_000)),
            Target(name: "LogUsage calls/s, \(c64), shipping on / off", numeratorKey: "ship.log.on.\(c64).calls_per_s", denominatorKey: "ship.log.off.\(c64).calls_per_s", bound: .atLeast(0.9)),
            Target(name: "(info) LogUsage calls/s, \(c64), shipping into a table without indexes / off", numeratorKey: "ship.log.bare.\(c64).calls_per_s", denominatorKey: "ship.log.off.\(c64).calls_per_s", bound: .none),
            // Budgets across hosts (issue 20, `--only fleet`).
            Target(name: "fleet: CanMakeRequest p50, \(c64), leases / no PostgreSQL", numeratorKey: "fleet.gate.on.\(c64).p50_us", denominatorKey: "fleet.gate.off.\(c64).p50_us", bound: .atMost(1.1)),
            Target(name: "fleet: CanMakeRequest calls/s, \(c64), leases / no PostgreSQL", numeratorKey: "fleet.gate.on.\(c64).calls_per_s", denominatorKey: "fleet.gate.off.\(c64).calls_per_s", bound: .atLeast(0.9)),
            Target(name: "fleet: utilization of the cap over 3 daemons, lowest shop", numeratorKey: "fleet.utilization_min", denominatorKey: nil, bound: .atLeast(0.99)),
            Target(name: "(info) fleet: CanMakeRequest p99, \(c64), leases / no PostgreSQL", numeratorKey: "fleet.gate.on.\(c64).p99_us", denominatorKey: "fleet.gate.off.\(c64).p99_us", bound: .none),
            Target(name: "(info) CanMakeRequest p99.9, 1 conn / floor", numeratorKey: "tg.can.seq.p999_us", denominatorKey: "floor.seq.p999_us", bound: .none),
            // The same throughput against the screening run of the thread server, which no
            // TokenGate slice precedes: at 64 connections the floor slices that alternate with
            // TokenGate have mostly come out well below it (docs/performance.md).
            Target(name: "(info) CanMakeRequest calls/s, \(c64) / screening floor", numeratorKey: "tg.can.\(c64).calls_per_s", denominatorKey: "floor.thread.\(c64).calls_per_s", bound: .none),
            Target(name: "(info) CanMakeRequest p50, \(c64) / floor", numeratorKey: "tg.can.\(c64).p50_us", denominatorKey: "floor.\(c64).p50_us", bound: .none),
            Target(name: "(info) CanMakeRequest calls/s, 1 conn / Redis gate", numeratorKey: "tg.can.seq.calls_per_s", denominatorKey: "redis.gate.seq.calls_per_s", bound: .none),
            Target(name: "(info) CanMakeRequest calls/s, 32 in flight / Redis", numeratorKey: "tg.can.\(pipe).calls_per_s", denominatorKey: "redis.gate.\(pipe).calls_per_s", bound: .none),
            Target(name: "(info) LogUsage always calls/s, 1 conn / Redis AOF", numeratorKey: "tg.log.always.seq.calls_per_s", denominatorKey: "redis.aof_always.seq.calls_per_s", bound: .none),
            Target(name: "(info) LogUsage never calls/s, \(c64) / floor", numeratorKey: "tg.log.never.\(c64).calls_per_s", denominatorKey: "floor.\(c64).calls_per_s", bound: .none),
            Target(name: "(info) pinned p99 / floor p99", numeratorKey: "pinned.tg.p99_us", denominatorKey: "pinned.floor.p99_us", bound: .none),
        ]
        for target in targets { report.addTarget(target) }
    }
}
