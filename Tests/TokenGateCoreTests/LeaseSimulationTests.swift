// A seeded simulation of the lease protocol (DESIGN §8): many hosts share one shop's daily pool
// through a model of PostgreSQL (`LeaseBook`), with random delays, lost replies, retries with
// the same sequence number, crashes and restarts, idle returns and an admin's release of a host
// that is gone. Hosts admit calls with worst-case reservations against their `HostLease`. At
// every step: settled + leased <= cap in the book, and the fleet's real spend (every host's,
// shipped or not) <= cap. At the end, with demand beyond the cap, the fleet has spent to within
// one call's worst case of the cap. The one exception, as on a single host, is a crash with
// calls in progress: their usage still arrives (the client's spool) without a hold, so the
// bound is the cap plus the worst cases of the holds crashes dropped. Set TOKENGATE_SEED=<n> to replay one seed.

import Foundation
import XCTest

@testable import TokenGateCore
import TokenGateTestSupport

private let pool = PoolKey(shopID: "shop", window: .day(DayKey(unixMs: 0)))
private let ttlMs: Int64 = 5_000
private let maxEstimate: NanoUSD = 50_000

/// A message to or from the database, delivered at `at` (ms), or lost.
private struct Message {
    var at: Int64
    var host: Int
    var epoch: Int
    var operation: LeaseOperation
    var reply: LeaseReply?
}

private struct SimHost {
    var id: String
    var up = true
    /// Increments on each restart, so replies meant for an earlier life are dropped.
    var epoch = 0
    var lease: HostLease
    /// Durable (the host's log): spend recorded, and the part not yet shipped.
    var spent: NanoUSD = 0
    var unshipped: NanoUSD = 0
    /// In memory: holds (worst case) of calls in progress, with their actual cost.
    var holds: [(estimate: NanoUSD, actual: NanoUSD)] = []
    /// Calls in progress when the host crashed: the model was called, so the client's spool
    /// logs their usage after the restart, without a hold.
    var orphans: [NanoUSD] = []
    var retryAt: Int64 = 0
    var lastCallAt: Int64 = 0
    var held: NanoUSD { holds.reduce(0) { $0 + $1.estimate } }
    var used: NanoUSD { spent + held }
}

final class LeaseSimulationTests: XCTestCase {
    func testSeededFleetNeverHandsOutMoreThanIsLeft() {
        let seeds: [UInt64] =
            ProcessInfo.processInfo.environment["TOKENGATE_SEED"].flatMap { UInt64($0) }.map { [$0] }
            ?? (0..<30).map { _ in UInt64.random(in: 1...UInt64.max) }
        for seed in seeds {
            print("LeaseSimulationTests seed \(seed) (TOKENGATE_SEED=\(seed) replays it)")
            run(seed: seed)
        }
    }

    private func run(seed: UInt64) {
        var random = SplitMix64(seed: seed)
        let cap = NanoUSD.random(in: 200_000...5_000_000, using: &random)
        let hostCount = Int.random(in: 2...7, using: &random)
        var book = LeaseBook()
        var hosts = (0..<hostCount).map { index in
            SimHost(id: "h\(index)", lease: HostLease(lease: Lease(), pool: LeasePool(), readAtMs: 0, ttlMs: ttlMs))
        }
        var network: [Message] = []
        let lossPercent = Int.random(in: 0...30, using: &random)
        var released: Set<Int> = []
        /// Worst cases of the holds that crashes dropped: the stated overshoot bound.
        var lostHolds: NanoUSD = 0

        func check(_ step: Int, _ now: Int64) {
            let p = book.pools[pool] ?? LeasePool()
            let fleetSpent = hosts.reduce(0) { $0 + $1.spent }
            XCTAssertLessThanOrEqual(
                p.settledNanoUSD + p.leasedNanoUSD, cap + lostHolds,
                "seed \(seed) step \(step): settled + leased passed the cap (+ holds lost in crashes)")
            XCTAssertLessThanOrEqual(
                fleetSpent, cap + lostHolds, "seed \(seed) step \(step): the fleet spent more than the cap (+ holds lost in crashes)")
            XCTAssertGreaterThanOrEqual(p.leasedNanoUSD, 0, "seed \(seed) step \(step)")
        }

        func send(_ host: Int, _ operation: LeaseOperation, now: Int64) {
            network.append(Message(
                at: now + Int64.random(in: 1...400, using: &random), host: host, epoch: hosts[host].epoch,
                operation: operation))
            hosts[host].retryAt = now + 1_000
        }

        /// The host's refill/return decision, as the server's refill thread makes it.
        func tend(_ index: Int, now: Int64, need: NanoUSD) {
            var host = hosts[index]
            guard host.up else { return }
            defer { hosts[index] = host }
            if let pending = host.lease.retry() {
                if now >= host.retryAt {
                    hosts[index] = host
                    send(index, pending, now: now)
                    host = hosts[index]
                }
                return
            }
            let unused = host.lease.unused(localUsed: host.used)
            let valid = host.lease.entitlement(at: now, localUsed: host.used) == host.lease.entitlementNanoUSD
            if need > 0 && (unused < need || !valid) || (need == 0 && unused < maxEstimate * 2) {
                let active = max(1, hosts.filter { $0.up }.count)
                let free = host.lease.pool.capNanoUSD == nil ? cap : host.lease.pool.freeNanoUSD
                let slice = LeaseSizing.slice(spendPerSecond: 20_000, need: max(need, maxEstimate), free: free, activeHosts: active)
                    ?? max(need, maxEstimate)
                if let operation = host.lease.beginGrant(slice, nowMs: now) {
                    hosts[index] = host
                    send(index, operation, now: now)
                    host = hosts[index]
                }
            } else if need == 0, now - host.lastCallAt > 2_000, unused > 0,
                let operation = host.lease.beginGiveBack(unused, localUsed: host.used, nowMs: now)
            {
                hosts[index] = host
                send(index, operation, now: now)
                host = hosts[index]
            }
        }

        var now: Int64 = 0
        let steps = 4_000
        for step in 0..<steps {
            now += Int64.random(in: 1...50, using: &random)
            let index = Int.random(in: 0..<hostCount, using: &random)
            switch Int.random(in: 0..<100, using: &random) {
            case 0..<40 where hosts[index].up:
                // A call: admitted only when its worst case fits in the lease.
                let estimate = NanoUSD.random(in: 1...maxEstimate, using: &random)
                let actual = NanoUSD.random(in: 0...estimate, using: &random)
                let host = hosts[index]
                if host.used + estimate <= host.lease.entitlement(at: now, localUsed: host.used) {
                    hosts[index].holds.append((estimate, actual))
                    hosts[index].lastCallAt = now
                } else {
                    tend(index, now: now, need: estimate)
                }
            case 40..<45 where hosts[index].up && !hosts[index].orphans.isEmpty:
                let actual = hosts[index].orphans.removeFirst()
                hosts[index].spent += actual
                hosts[index].unshipped += actual
            case 45..<60 where hosts[index].up && !hosts[index].holds.isEmpty:
                // LogUsage settles a hold at its actual cost (durably, in the host's log).
                let call = hosts[index].holds.removeFirst()
                hosts[index].spent += call.actual
                hosts[index].unshipped += call.actual
            case 60..<68 where hosts[index].up && hosts[index].unshipped > 0:
                // The shipper's transaction: the rows and their settlement, all or nothing.
                book.settle(hostID: hosts[index].id, pool: pool, cost: hosts[index].unshipped)
                hosts[index].unshipped = 0
            case 68..<85:
                // The database answers the earliest message due; the reply may be lost.
                network.sort { $0.at < $1.at }
                guard let first = network.first, first.at <= now else { break }
                network.removeFirst()
                if first.reply == nil {
                    let key = LeaseKey(hostID: hosts[first.host].id, pool: pool)
                    var reply: LeaseReply
                    switch first.operation.kind {
                    case .grant: reply = book.grant(key, slice: first.operation.amountNanoUSD, cap: cap, sequence: first.operation.sequence)
                    case .giveBack: reply = book.giveBack(key, amount: first.operation.amountNanoUSD, sequence: first.operation.sequence)
                    }
                    if Int.random(in: 0..<100, using: &random) >= lossPercent {
                        var answer = first
                        answer.reply = reply
                        answer.at = now + Int64.random(in: 1...400, using: &random)
                        network.append(answer)
                    }
                } else if hosts[first.host].up, hosts[first.host].epoch == first.epoch {
                    hosts[first.host].lease.received(first.reply!, for: first.operation, ttlMs: ttlMs)
                }
            case 85..<95:
                tend(index, now: now, need: 0)
            case 95..<97 where hosts[index].up:
                // kill -9: holds and the lease view are lost; the log (spent, unshipped) is not.
                hosts[index].up = false
                lostHolds += hosts[index].held
                hosts[index].orphans += hosts[index].holds.map(\.actual)
                hosts[index].holds = []
                hosts[index].epoch += 1
            case 97..<99 where !hosts[index].up:
                // Restart: the shipper ships the log first, then the lease is read back.
                book.settle(hostID: hosts[index].id, pool: pool, cost: hosts[index].unshipped)
                hosts[index].unshipped = 0
                let key = LeaseKey(hostID: hosts[index].id, pool: pool)
                hosts[index].lease = HostLease(
                    lease: book.leases[key] ?? Lease(), pool: book.pools[pool] ?? LeasePool(), readAtMs: now, ttlMs: ttlMs)
                hosts[index].up = true
            case 99 where !hosts[index].up && hosts[index].unshipped == 0 && hosts[index].orphans.isEmpty
                && !released.contains(index):
                // An admin writes off the lease of a host that is down with its log shipped.
                book.releaseHost(hosts[index].id)
                released.insert(index)
            default:
                break
            }
            check(step, now)
            if testRun?.failureCount ?? 0 > 0 { return }
        }
        drain(&hosts, &book, &network, seed: seed, cap: cap, lostHolds: lostHolds)
    }

    /// The end of the day: every host back up and idle, calls settled and shipped, leases
    /// returned; then calls in direct mode (a grant of exactly the worst case) until none fits.
    private func drain(_ hosts: inout [SimHost], _ book: inout LeaseBook, _ network: inout [Message], seed: UInt64, cap: NanoUSD, lostHolds: NanoUSD) {
        network.removeAll()
        for index in hosts.indices {
            let host = hosts[index]
            let actual = host.holds.reduce(0) { $0 + $1.actual } + host.orphans.reduce(0, +)
            let spent = host.spent + actual
            book.settle(hostID: host.id, pool: pool, cost: host.unshipped + actual)
            hosts[index].spent = spent
            hosts[index].holds = []
            hosts[index].orphans = []
            hosts[index].unshipped = 0
            let key = LeaseKey(hostID: host.id, pool: pool)
            let lease = book.leases[key] ?? Lease()
            _ = book.giveBack(key, amount: lease.amountNanoUSD, sequence: lease.sequence + 1)
        }
        var p = book.pools[pool] ?? LeasePool()
        XCTAssertEqual(p.leasedNanoUSD, 0, "seed \(seed): leases left after every host returned its own")
        XCTAssertEqual(p.settledNanoUSD, hosts.reduce(0) { $0 + $1.spent }, "seed \(seed): settled differs from the fleet's spend")
        // Direct mode: each call reserves its worst case in the database and settles at it.
        var sequence: Int64 = 1_000_000
        while true {
            let key = LeaseKey(hostID: "direct", pool: pool)
            sequence += 1
            let reply = book.grant(key, slice: maxEstimate, cap: cap, sequence: sequence)
            guard reply.applied else { break }
            book.settle(hostID: "direct", pool: pool, cost: maxEstimate)
        }
        p = book.pools[pool] ?? LeasePool()
        XCTAssertLessThanOrEqual(p.settledNanoUSD, cap + lostHolds, "seed \(seed)")
        XCTAssertLessThan(cap - p.settledNanoUSD, maxEstimate, "seed \(seed): the fleet ended further than one call from its cap")
    }

    func testGrantIsIdempotentAndConditional() {
        var book = LeaseBook()
        let a = LeaseKey(hostID: "a", pool: pool)
        let b = LeaseKey(hostID: "b", pool: pool)
        XCTAssertTrue(book.grant(a, slice: 60, cap: 100, sequence: 1).applied)
        // The same sequence again (a retry after a lost reply) changes nothing.
        let retry = book.grant(a, slice: 60, cap: 100, sequence: 1)
        XCTAssertFalse(retry.applied)
        XCTAssertEqual(retry.lease.amountNanoUSD, 60)
        XCTAssertEqual(book.pools[pool]?.leasedNanoUSD, 60)
        // 60 + 50 > 100: refused; 40 fits exactly.
        XCTAssertFalse(book.grant(b, slice: 50, cap: 100, sequence: 1).applied)
        XCTAssertTrue(book.grant(b, slice: 40, cap: 100, sequence: 2).applied)
        book.settle(hostID: "a", pool: pool, cost: 30)
        XCTAssertEqual(book.pools[pool], LeasePool(capNanoUSD: 100, settledNanoUSD: 30, leasedNanoUSD: 70))
        XCTAssertEqual(book.leases[a]?.entitlementNanoUSD, 60)
        XCTAssertEqual(book.giveBack(a, amount: 100, sequence: 2).lease.amountNanoUSD, 0)
        XCTAssertFalse(book.giveBack(a, amount: 100, sequence: 2).applied)
        XCTAssertEqual(book.releaseHost("b"), 40)
        XCTAssertEqual(book.pools[pool], LeasePool(capNanoUSD: 100, settledNanoUSD: 30, leasedNanoUSD: 0))
    }

    func testSliceIsBoundedByTheFreeShareAndFallsToDirectMode() {
        XCTAssertEqual(LeaseSizing.slice(spendPerSecond: 1_000, need: 0, free: 1_000_000, activeHosts: 2), 10_000)
        XCTAssertEqual(LeaseSizing.slice(spendPerSecond: 1_000_000, need: 0, free: 1_000_000, activeHosts: 2), 250_000)
        XCTAssertEqual(LeaseSizing.slice(spendPerSecond: 0, need: 600, free: 2_000, activeHosts: 1), 600)
        XCTAssertNil(LeaseSizing.slice(spendPerSecond: 0, need: 600, free: 2_000, activeHosts: 2))
    }
}
