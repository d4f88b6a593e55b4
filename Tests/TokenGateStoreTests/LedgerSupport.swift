// Helpers for the ledger's durability tests: a ledger on a simulated disk with the real fact
// codec, a view of that disk that dies with the simulated process (so a snapshot still running
// in a "dead" process cannot touch the disk), usage requests, and the ledger's whole durable
// state by shop for comparing before and after recovery.

import Synchronization
import TokenGateCore
import TokenGateWire
import XCTest

@testable import TokenGateStore

/// The daemon's codec for facts.
let factEncoding = FactEncoding(
    encode: FactCodec.encode, decode: { bytes in try FactCodec.decode(bytes) }, decodeUsage: FactCodec.decodeUsage)

/// 2026-11-25 12:00 UTC.
let ledgerNow: UnixMillis = try! MonthKey(year: 2026, month: 11).startUnixMs + 24 * 86_400_000 + 43_200_000

/// One process's access to a simulated disk. After `crash`, every file-system call of this
/// process fails (handles opened through it already fail, through the disk's boot counter).
final class ProcessDisk: FileSystem {
    let disk: SimulatedFileSystem
    private let dead = Mutex(false)

    init(_ disk: SimulatedFileSystem) {
        self.disk = disk
    }

    /// The process dies (and with `powerLoss`, the machine): calls in progress finish first.
    func crash(powerLoss: Bool, keepUnsyncedBytes: @escaping (String) -> Int = { _ in 0 }) {
        dead.withLock { dead in
            dead = true
            disk.crash(powerLoss: powerLoss, keepUnsyncedBytes: keepUnsyncedBytes)
        }
    }

    private func alive<R: Sendable>(_ operation: String, _ path: String, _ body: () throws(SystemError) -> R) throws(SystemError) -> R {
        let result = dead.withLock { dead in
            Result { () throws(SystemError) -> R in
                if dead { throw SystemError(errno: EIO, operation: operation + " (process is dead)", path: path) }
                return try body()
            }
        }
        return try result.get()
    }

    func openAppend(_ path: String) throws(SystemError) -> any AppendFile {
        try alive("open", path) { () throws(SystemError) in try disk.openAppend(path) }
    }
    func readAll(_ path: String) throws(SystemError) -> [UInt8] {
        try alive("read", path) { () throws(SystemError) in try disk.readAll(path) }
    }
    func writeAtomically(_ path: String, _ bytes: [UInt8]) throws(SystemError) {
        try alive("writeAtomically", path) { () throws(SystemError) in try disk.writeAtomically(path, bytes) }
    }
    func list(_ directory: String) throws(SystemError) -> [String] {
        try alive("list", directory) { () throws(SystemError) in try disk.list(directory) }
    }
    func remove(_ path: String) throws(SystemError) {
        try alive("unlink", path) { () throws(SystemError) in try disk.remove(path) }
    }
    func truncate(_ path: String, to length: Int) throws(SystemError) {
        try alive("truncate", path) { () throws(SystemError) in try disk.truncate(path, to: length) }
    }
    func createDirectory(_ path: String) throws(SystemError) {
        try alive("mkdir", path) { () throws(SystemError) in try disk.createDirectory(path) }
    }
    func syncDirectory(_ path: String) throws(SystemError) {
        try alive("fsync", path) { () throws(SystemError) in try disk.syncDirectory(path) }
    }
}

/// Opens and recovers a ledger in `/data` of `disk`.
func openLedger(
    _ disk: any FileSystem, retentionMonths: Int = Retention.monthsDefault, segmentBytesMax: Int = 4_096,
    repair: Bool = false
) throws -> (Ledger, LedgerRecovery) {
    let log = try WriteAheadLog(directory: "/data", policy: .always, segmentBytesMax: segmentBytesMax, fileSystem: disk)
    let ledger = Ledger(
        directory: "/data", configuration: .defaults, log: log, encoding: factEncoding, shardCount: 8,
        fileSystem: disk, bootID: "test", retentionMonths: retentionMonths)
    let recovery = try ledger.recover(repair: repair)
    return (ledger, recovery)
}

/// A usage report whose cost depends on `tokens`.
func usage(_ id: String, shop: String, tokens: UInt64 = 1_000, at occurredAt: UnixMillis = 0) -> LogUsageRequest {
    LogUsageRequest(
        eventID: id, shopID: shop, userID: "u", conversationID: "c", inputTokens: tokens, outputTokens: tokens / 10,
        occurredAtUnixMs: occurredAt)
}

/// Logs `request` and waits until it is durable, as the server does before acknowledging.
@discardableResult
func logDurably(_ ledger: Ledger, _ request: LogUsageRequest, now: UnixMillis = ledgerNow) throws -> LogUsageResponse {
    let (response, sequence) = try ledger.logUsage(request, now: now)
    try ledger.waitUntilDurable(sequence)
    return response
}

extension Ledger {
    /// Every shop's durable facts, by shop: the whole state a snapshot or replay must rebuild.
    var factsByShop: [String: [Fact]] {
        var result: [String: [Fact]] = [:]
        for shard in shards {
            shard.shops.withLock { shops in
                for (id, shop) in shops where !shop.durableFacts.isEmpty { result[id] = shop.durableFacts }
            }
        }
        return result
    }

    /// The shop's state (a copy), if it exists.
    func shop(_ id: String) -> ShopState? {
        for shard in shards {
            if let shop = shard.shops.withLock({ $0[id] }) { return shop }
        }
        return nil
    }
}

/// The segment files and snapshot files of `/data`, sorted.
func dataFiles(_ disk: SimulatedFileSystem) throws -> (segments: [String], snapshots: [String]) {
    let names = try disk.list("/data").sorted()
    return (names.filter { $0.hasPrefix("wal-") }, names.filter { $0.hasPrefix("snapshot-") && $0.hasSuffix(".snap") })
}
