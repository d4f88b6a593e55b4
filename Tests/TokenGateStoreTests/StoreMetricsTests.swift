// The store's measurements: histogram buckets and counts, fsync latency recorded once per
// fdatasync of the log, snapshot durations, and the ledger's gauges (shops per shard,
// reservations held, the shops that spent most today).

import Foundation
import TokenGateCore
import TokenGateWire
import XCTest

@testable import TokenGateStore

final class StoreMetricsTests: XCTestCase {
    func testBucketBoundsAreInclusiveAndOverflowGoesToInf() {
        let bounds = LatencyHistogram.boundsNanoseconds
        XCTAssertEqual(LatencyHistogram.bucketIndex(0), 0)
        XCTAssertEqual(LatencyHistogram.bucketIndex(1_000), 0, "le=1µs includes exactly 1 µs")
        XCTAssertEqual(LatencyHistogram.bucketIndex(1_001), 1)
        XCTAssertEqual(LatencyHistogram.bucketIndex(49_999), 5)
        XCTAssertEqual(LatencyHistogram.bucketIndex(bounds.last!), bounds.count - 1)
        XCTAssertEqual(LatencyHistogram.bucketIndex(bounds.last! + 1), bounds.count, "past 10 s is the +Inf bucket")
        XCTAssertEqual(bounds, bounds.sorted())
        XCTAssertEqual(Set(bounds).count, bounds.count)
    }

    func testHistogramKeepsCountsAndSum() {
        let histogram = LatencyHistogram()
        for nanoseconds: UInt64 in [500, 1_500, 1_500, 40_000, 20_000_000_000] { histogram.record(nanoseconds: nanoseconds) }
        let snapshot = histogram.snapshot()
        XCTAssertEqual(snapshot.count, 5)
        XCTAssertEqual(snapshot.sumNanoseconds, 20_000_043_500)
        XCTAssertEqual(snapshot.bucketCounts[0], 1)
        XCTAssertEqual(snapshot.bucketCounts[1], 2)
        XCTAssertEqual(snapshot.bucketCounts[5], 1)
        XCTAssertEqual(snapshot.bucketCounts.last, 1)
    }

    func testConcurrentRecordingLosesNothing() {
        let histogram = LatencyHistogram()
        XCTAssertTrue(runThreads(4) { thread in
            for index in 0..<10_000 { histogram.record(nanoseconds: UInt64(thread * 10_000 + index)) }
        })
        XCTAssertEqual(histogram.snapshot().count, 40_000)
        XCTAssertEqual(histogram.snapshot().sumNanoseconds, (0..<40_000).reduce(0) { $0 + UInt64($1) })
    }

    func testEveryFdatasyncOfTheLogIsTimed() throws {
        let directory = makeTemporaryDirectory()
        defer { removeDirectory(directory) }
        let log = try WriteAheadLog(directory: directory, policy: .always)
        _ = try recoverAll(log)
        for index in 0..<5 {
            let sequence = try log.append(body(index))
            try log.waitUntilDurable(sequence)
        }
        XCTAssertEqual(log.metrics.fsyncLatency.snapshot().count, 5, "one fdatasync per sequential durable append")
        XCTAssertGreaterThan(log.metrics.fsyncLatency.snapshot().sumNanoseconds, 0)
        try log.close()
    }

    func testLedgerGaugesAndMeasuredSnapshot() throws {
        let directory = makeTemporaryDirectory()
        defer { removeDirectory(directory) }
        let ledger = try Self.makeLedger(directory)
        _ = try ledger.recover(repair: false)
        let now: UnixMillis = 1_790_000_000_000
        for (shop, tokens) in [("cheap", 1_000), ("dear", 100_000), ("mid", 10_000), ("mid2", 10_000)] {
            _ = try ledger.logUsage(LogUsageRequest(shopID: shop, inputTokens: UInt64(tokens), outputTokens: 0), now: now)
        }
        _ = try ledger.logUsage(LogUsageRequest(shopID: "yesterday", inputTokens: 500_000, outputTokens: 0, occurredAtUnixMs: now - 86_400_000), now: now)
        let hold = try ledger.canMakeRequest(.init(shopID: "dear", estimatedInputTokens: 1_000, maxOutputTokens: 100, reserve: true), now: now)
        XCTAssertFalse(hold.reservationID.isEmpty)

        let gauges = ledger.gauges(now: now, topShops: 3)
        XCTAssertEqual(gauges.shopsPerShard.count, 8)
        XCTAssertEqual(gauges.shopsPerShard.reduce(0, +), 5)
        XCTAssertEqual(gauges.reservationsHeld, 1)
        XCTAssertEqual(gauges.reservationsHeldNanoUSD, hold.estimatedCostNanoUSD)
        // flash input at $0.30/M: 100k = 30,000,000 nano; 10k = 3,000,000; ties broken by shop id.
        XCTAssertEqual(gauges.topShopsToday, [
            .init(shopID: "dear", costNanoUSD: 30_000_000), .init(shopID: "mid", costNanoUSD: 3_000_000),
            .init(shopID: "mid2", costNanoUSD: 3_000_000),
        ])
        XCTAssertEqual(ledger.logLastSequence, 5)

        XCTAssertEqual(ledger.storeMetrics.snapshotDuration.snapshot().count, 0)
        let snapshot = try ledger.writeSnapshot()
        XCTAssertEqual(snapshot.sequence, 5)
        XCTAssertEqual(ledger.storeMetrics.snapshotDuration.snapshot().count, 1)
        try ledger.close()
    }

    static func makeLedger(_ directory: String) throws -> Ledger {
        let log = try WriteAheadLog(directory: directory, policy: .always)
        let encoding = FactEncoding(encode: FactCodec.encode, decode: { bytes in try FactCodec.decode(bytes) })
        return Ledger(directory: directory, configuration: .defaults, log: log, encoding: encoding, shardCount: 8, bootID: "test")
    }
}
