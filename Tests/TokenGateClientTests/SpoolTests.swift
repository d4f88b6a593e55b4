// The LogUsage spool without a daemon: ids are given before spooling, the bound is a clear
// error, the on-disk file survives the client and is locked to one client, a torn last record
// is cut off and damage in the middle is refused with the offset.
@testable import TokenGateClient
import Foundation
import TokenGateWire
import XCTest

final class SpoolTests: XCTestCase {
    static func event(_ id: String = "", tokens: UInt64 = 1_000) -> LogUsageRequest {
        LogUsageRequest(eventID: id, shopID: "shop_spool", inputTokens: tokens, outputTokens: 100)
    }

    func testUnreachableDaemonSpoolsUnderAnIdGivenBeforeSpooling() async throws {
        let client = TokenGateClient(socketPath: absentSocketPath())
        let before = Int64(Date().timeIntervalSince1970 * 1_000)
        let outcome = try await client.logUsageOrSpool(Self.event())
        guard case .spooled(let eventID, let depth, let cause) = outcome else {
            return XCTFail("nothing listens, so the event must be spooled: \(outcome)")
        }
        XCTAssertTrue(eventID.hasPrefix("tgc-"), eventID)
        XCTAssertEqual(depth, 1)
        XCTAssertEqual(cause.code, .unavailable)
        let spooled = client.spool.oldest(10)
        XCTAssertEqual(spooled.map(\.eventID), [eventID])
        XCTAssertGreaterThanOrEqual(spooled[0].occurredAtUnixMs, before, "a spooled event keeps the time it was logged")
        let own = try await client.logUsageOrSpool(Self.event("caller-1"))
        XCTAssertEqual(own.eventID, "caller-1", "the caller's own id is kept")
        let metrics = client.metrics
        XCTAssertEqual(metrics.spoolDepth, 2)
        XCTAssertEqual(metrics.spooledCount, 2)
    }

    func testSameEventIdIsSpooledOnce() async throws {
        let client = TokenGateClient(socketPath: absentSocketPath())
        _ = try await client.logUsageOrSpool(Self.event("same"))
        _ = try await client.logUsageOrSpool(Self.event("same"))
        XCTAssertEqual(client.metrics.spoolDepth, 1)
    }

    func testFullSpoolIsAClearErrorNotASilentDrop() async throws {
        var configuration = TokenGateClient.Configuration(socketPath: absentSocketPath())
        configuration.spoolEventsMax = 2
        let client = try TokenGateClient(configuration: configuration)
        _ = try await client.logUsageOrSpool(Self.event("a"))
        _ = try await client.logUsageOrSpool(Self.event("b"))
        do {
            _ = try await client.logUsageOrSpool(Self.event("c"))
            XCTFail("a third event does not fit a spool of two")
        } catch {
            XCTAssertEqual(error.code, .resourceExhausted)
            XCTAssertTrue(error.message.contains("NOT recorded"), error.message)
            XCTAssertTrue(error.message.contains("event c"), error.message)
        }
        XCTAssertEqual(client.metrics.spoolDepth, 2)
        XCTAssertEqual(client.spool.oldest(10).map(\.eventID), ["a", "b"])
    }

    func testOnDiskSpoolOutlivesTheClientAndIsLockedToOne() async throws {
        var configuration = TokenGateClient.Configuration(socketPath: absentSocketPath())
        configuration.spoolDirectory = temporaryPath("spool")
        let first = try TokenGateClient(configuration: configuration)
        for index in 0..<3 { _ = try await first.logUsageOrSpool(Self.event("disk-\(index)", tokens: 1_000 + UInt64(index))) }
        XCTAssertThrowsError(try TokenGateClient(configuration: configuration), "a second client on the same directory") { error in
            XCTAssertEqual((error as? TokenGateError)?.code, .internal)
            XCTAssertTrue("\(error)".contains("another client"), "\(error)")
        }
        first.shutdown()
        let second = try TokenGateClient(configuration: configuration)
        defer { second.shutdown() }
        XCTAssertEqual(second.metrics.spoolDepth, 3)
        XCTAssertEqual(second.spool.oldest(10).map(\.inputTokens), [1_000, 1_001, 1_002], "events come back whole, in order")
    }

    func testSpoolFileDropsFinishedEventsAndIsCutBackWhenEmpty() throws {
        let directory = temporaryPath("spool")
        do {
            let spool = try UsageSpool(eventsMax: 10, bytesMax: 1 << 20, directory: directory)
            for index in 0..<3 { _ = try spool.add(Self.event("e\(index)")) }
            spool.remove("e1")
            spool.close()
        }
        let spool = try UsageSpool(eventsMax: 10, bytesMax: 1 << 20, directory: directory)
        XCTAssertEqual(spool.oldest(10).map(\.eventID), ["e0", "e2"])
        spool.remove("e0")
        spool.remove("e2")
        let size = try FileManager.default.attributesOfItem(atPath: directory + "/" + SpoolFile.fileName)[.size] as? Int
        XCTAssertEqual(size, SpoolRecords.magic.count, "a drained spool file is cut back to its header")
        spool.close()
    }

    func testSpoolFileIsRewrittenWhenFinishedRecordsDominate() throws {
        let directory = temporaryPath("spool")
        let path = directory + "/" + SpoolFile.fileName
        let spool = try UsageSpool(eventsMax: 100, bytesMax: 1 << 20, directory: directory, compactionBytesMin: 1_024)
        for index in 0..<20 { _ = try spool.add(Self.event("c\(index)")) }
        let full = try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int ?? 0
        for index in 0..<16 { spool.remove("c\(index)") }
        let compacted = try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int ?? 0
        XCTAssertLessThan(compacted, full, "finished events leave the file (without a rewrite, done records only add bytes)")
        spool.close()
        let reopened = try UsageSpool(eventsMax: 100, bytesMax: 1 << 20, directory: directory)
        XCTAssertEqual(reopened.oldest(100).map(\.eventID), ["c16", "c17", "c18", "c19"])
        reopened.close()
    }

    // MARK: - Record format

    func testChecksumIsCRC32C() {
        XCTAssertEqual(SpoolChecksum.crc32c(Array("123456789".utf8)), 0xE306_9283)
    }

    func testTornLastRecordIsCutOffAtEveryOffset() throws {
        let full = SpoolRecords.magic + SpoolRecords.eventRecord(Self.event("kept")) + SpoolRecords.eventRecord(Self.event("torn"))
        let secondStart = SpoolRecords.magic.count + SpoolRecords.eventRecord(Self.event("kept")).count
        for cut in secondStart..<full.count {
            let loaded = try SpoolRecords.parse(Array(full[0..<cut]), path: "test")
            XCTAssertEqual(loaded.events.map(\.eventID), ["kept"], "cut at \(cut)")
            XCTAssertEqual(loaded.validBytes, secondStart)
            XCTAssertEqual(loaded.worthCompacting, cut > secondStart, "cut at \(cut)")
        }
        let zeroFilled = Array(full[0..<(secondStart + 11)]) + [UInt8](repeating: 0, count: 300)
        XCTAssertEqual(try SpoolRecords.parse(zeroFilled, path: "test").events.map(\.eventID), ["kept"])
        XCTAssertEqual(try SpoolRecords.parse(full, path: "test").events.map(\.eventID), ["kept", "torn"])
    }

    func testDamageBeforeTheLastRecordIsDataLossWithTheOffset() {
        var bytes = SpoolRecords.magic + SpoolRecords.eventRecord(Self.event("first")) + SpoolRecords.eventRecord(Self.event("second"))
        bytes[SpoolRecords.magic.count + SpoolRecords.recordHeaderBytes + 3] ^= 0x40
        XCTAssertThrowsError(try SpoolRecords.parse(bytes, path: "/x/usage.spool")) { error in
            XCTAssertEqual((error as? TokenGateError)?.code, .dataLoss)
            XCTAssertTrue("\(error)".contains("/x/usage.spool is damaged at offset \(SpoolRecords.magic.count)"), "\(error)")
        }
        XCTAssertThrowsError(try SpoolRecords.parse(Array("NOTSPOOL and more".utf8), path: "f")) { error in
            XCTAssertEqual((error as? TokenGateError)?.code, .dataLoss)
        }
    }

    func testDoneRecordsCancelEvents() throws {
        let bytes = SpoolRecords.magic + SpoolRecords.eventRecord(Self.event("a")) + SpoolRecords.eventRecord(Self.event("b"))
            + SpoolRecords.doneRecord(eventID: "a")
        let loaded = try SpoolRecords.parse(bytes, path: "test")
        XCTAssertEqual(loaded.events.map(\.eventID), ["b"])
        XCTAssertTrue(loaded.worthCompacting)
    }
}
