// Durability through the real daemon: a seeded kill -9 loop under 32 concurrent writers, a torn
// last record, a flipped bit (startup refuses with file and offset; --repair recovers the records
// before it), the offline verify commands, periodic snapshots that retire old segments, and
// restart equivalence of bills and gate answers after SIGKILL and after SIGTERM.
import Foundation
import Synchronization
import TokenGateClient
import XCTest
import TokenGateTestSupport

final class DurabilityEndToEndTests: XCTestCase {
    // MARK: - kill -9 loop

    /// 32 clients log usage with unique event ids; the daemon is killed with SIGKILL at a random
    /// moment (snapshots run every 400 records, so some kills land mid-snapshot) and restarted.
    /// Every acknowledged event must come back exactly once: re-sending it answers duplicate with
    /// the same cost, and each shop's billed messages and API cost equal the sum of its events.
    /// `TOKENGATE_KILL_ITERATIONS` runs more iterations; `TOKENGATE_KILL_SEED` replays a seed.
    func testKillNineLoopKeepsEveryAcknowledgedEventExactlyOnce() async throws {
        let environment = ProcessInfo.processInfo.environment
        let iterations = environment["TOKENGATE_KILL_ITERATIONS"].flatMap { Int($0) } ?? 25
        try await killLoop(iterations: iterations, fsync: "always")
    }

    /// Under everysec an acknowledged record is written (not yet synced) before the answer: a
    /// killed process, unlike a power failure, must still lose none of them.
    func testKillNineLoopUnderEverysecLosesNothingAcknowledged() async throws {
        try await killLoop(iterations: 5, fsync: "everysec")
    }

    func killLoop(iterations: Int, fsync: String) async throws {
        let environment = ProcessInfo.processInfo.environment
        let seed = environment["TOKENGATE_KILL_SEED"].flatMap { UInt64($0) } ?? UInt64.random(in: 0..<1_000_000)
        print("kill -9 loop (\(fsync)): seed \(seed), \(iterations) iterations (TOKENGATE_KILL_SEED, TOKENGATE_KILL_ITERATIONS)")
        var random = SplitMix64(seed: seed)
        let daemon = try TestDaemon(arguments: ["--snapshot-every-records", "400", "--fsync", fsync])
        let occurredAt = nowUnixMs()
        var costs: [String: NanoUSD] = [:]  // every event id sent so far, with its cost once known
        var shopOf: [String: String] = [:]
        for iteration in 0..<iterations {
            let runMs = 20 + random.next() % 220
            let round = try await writeUntilKilled(daemon, iteration: iteration, runMs: runMs, occurredAt: occurredAt)
            try daemon.start()
            let context = "seed \(seed), iteration \(iteration)"
            for request in round.sent { shopOf[request.eventID] = request.shopID }
            try await resend(round, to: daemon, costs: &costs, context)
            try await assertTotals(daemon, costs: costs, shopOf: shopOf, occurredAt: occurredAt, context)
        }
        XCTAssertEqual(daemon.stop(signal: SIGTERM), 0)
        try daemon.start()
        try await assertTotals(daemon, costs: costs, shopOf: shopOf, occurredAt: occurredAt, "seed \(seed), after SIGTERM")
        print("kill -9 loop: \(costs.count) events over \(iterations) kills")
    }

    struct Round {
        var sent: [LogUsageRequest] = []
        var acknowledged: [String: LogUsageResponse] = [:]
    }

    final class RoundLog: Sendable {
        let round = Mutex(Round())
    }

    /// Runs 32 writers for `runMs`, then SIGKILLs the daemon and waits for the writers to stop.
    func writeUntilKilled(_ daemon: TestDaemon, iteration: Int, runMs: UInt64, occurredAt: Int64) async throws -> Round {
        let log = RoundLog()
        let clients = (0..<32).map { _ in daemon.client() }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (index, client) in clients.enumerated() {
                group.addTask {
                    for number in 0... {
                        let request = LogUsageRequest(
                            eventID: "k\(iteration)-\(index)-\(number)", shopID: "kill_shop_\(index % 8)",
                            inputTokens: UInt64(100 + (index * 31 + number * 7) % 5_000), outputTokens: UInt64(10 + number % 300),
                            occurredAtUnixMs: occurredAt)
                        log.round.withLock { $0.sent.append(request) }
                        guard let response = try? await client.logUsage(request) else { return }
                        log.round.withLock { $0.acknowledged[request.eventID] = response }
                    }
                }
            }
            try await Task.sleep(nanoseconds: runMs * 1_000_000)
            daemon.stop(signal: SIGKILL)
            try await group.waitForAll()
        }
        return log.round.withLock { $0 }
    }

    /// Re-sends every event of the round: acknowledged ones must be duplicates with their cost;
    /// the others are recorded now if the kill lost them. Fills in every event's cost.
    func resend(_ round: Round, to daemon: TestDaemon, costs: inout [String: NanoUSD], _ context: String) async throws {
        let client = daemon.client(timeoutMs: 30_000)
        let results = try await withThrowingTaskGroup(of: [(LogUsageRequest, LogUsageResponse)].self) { group in
            let lanes = 16
            for lane in 0..<lanes {
                let share = round.sent.enumerated().filter { $0.offset % lanes == lane }.map(\.element)
                group.addTask {
                    var answers: [(LogUsageRequest, LogUsageResponse)] = []
                    for request in share { answers.append((request, try await client.logUsage(request))) }
                    return answers
                }
            }
            var all: [(LogUsageRequest, LogUsageResponse)] = []
            for try await answers in group { all += answers }
            return all
        }
        for (request, response) in results {
            if let acknowledged = round.acknowledged[request.eventID] {
                XCTAssertTrue(response.duplicate, "acknowledged event \(request.eventID) was lost, \(context)")
                XCTAssertEqual(response.costNanoUSD, acknowledged.costNanoUSD, "\(request.eventID), \(context)")
            }
            costs[request.eventID] = response.costNanoUSD
        }
    }

    /// Each shop's billed messages and API cost for the month equal its distinct events.
    func assertTotals(
        _ daemon: TestDaemon, costs: [String: NanoUSD], shopOf: [String: String], occurredAt: Int64, _ context: String
    ) async throws {
        let client = daemon.client(timeoutMs: 30_000)
        let period = MonthKey(unixMs: occurredAt).text
        var expected: [String: (messages: UInt64, cost: NanoUSD)] = [:]
        for (id, cost) in costs {
            let shop = shopOf[id]!
            expected[shop, default: (0, 0)].messages += 1
            expected[shop, default: (0, 0)].cost += cost
        }
        for (shop, totals) in expected {
            let bill = try await client.generateBilling(.init(shopID: shop, period: period, preview: true))
            XCTAssertEqual(bill.record.messagesUsed, totals.messages, "\(shop) messages, \(context)")
            XCTAssertEqual(bill.record.apiCostNanoUSD, totals.cost, "\(shop) API cost, \(context)")
        }
    }

    // MARK: - Torn tail and corruption

    /// The last record cut at several byte offsets (as a crash mid-append leaves it): the daemon
    /// starts, truncates it with a copy of the cut bytes, and every complete record is there.
    func testTornLastRecordIsTruncatedAndEveryCompleteRecordSurvives() async throws {
        let daemon = try TestDaemon(arguments: ["--snapshot-every-records", "0", "--snapshot-every-seconds", "0"])
        let ids = (0..<10).map { "torn-\($0)" }
        try await logAll(ids, to: daemon, inOrder: true)
        daemon.stop(signal: SIGKILL)
        let segment = daemon.dataDirectory + "/wal-00000000000000000001.log"
        let pristine = try readFile(segment)
        let last = try XCTUnwrap(recordOffsets(pristine).last)
        let lastSize = pristine.count - last
        for kept in [1, lastSize / 2, lastSize - 1] {
            try resetDataDirectory(daemon, keeping: ["LOCK"])
            try Data(pristine.prefix(last + kept)).write(to: URL(fileURLWithPath: segment))
            try daemon.start()
            let answers = try await logAll(ids, to: daemon, inOrder: true)
            XCTAssertEqual(answers.map(\.duplicate), Array(repeating: true, count: 9) + [false], "kept \(kept) bytes")
            let names = try FileManager.default.contentsOfDirectory(atPath: daemon.dataDirectory)
            let copy = try XCTUnwrap(names.first { $0.hasPrefix("torn-") }, "the cut bytes are kept aside")
            XCTAssertEqual(try readFile(daemon.dataDirectory + "/" + copy).count, kept)
            daemon.stop(signal: SIGKILL)
        }
    }

    /// A flipped bit in a middle record: `wal verify` and startup both name the file and byte
    /// offset, startup refuses; `--repair` starts with the records before it, which survive.
    func testCorruptRecordStopsStartupAndRepairKeepsTheRecordsBeforeIt() async throws {
        let daemon = try TestDaemon(arguments: ["--snapshot-every-records", "0", "--snapshot-every-seconds", "0"])
        let ids = (0..<10).map { "bad-\($0)" }
        try await logAll(ids, to: daemon, inOrder: true)
        daemon.stop(signal: SIGKILL)
        let name = "wal-00000000000000000001.log"
        var bytes = try readFile(daemon.dataDirectory + "/" + name)
        let offset = recordOffsets(bytes)[4]
        bytes[offset + 16 + 3] ^= 0x08
        try Data(bytes).write(to: URL(fileURLWithPath: daemon.dataDirectory + "/" + name))

        let verify = try TestDaemon.runCLI(["--json", "wal", "verify", daemon.dataDirectory])
        XCTAssertEqual(verify.exitCode, 1, verify.stdout)
        let report = try parseJSONObject(verify.stdout)
        XCTAssertEqual(report["records"] as? Int, 4)
        XCTAssertEqual(report["last_sequence"] as? String, "4")
        XCTAssertEqual(report["problem"] as? String, "\(name) at byte \(offset): checksum mismatch")

        let refused = try runDaemonUntilExit(daemon)
        XCTAssertNotEqual(refused.status, 0)
        XCTAssertTrue(refused.stderr.contains("\(name) at byte \(offset)"), refused.stderr)
        XCTAssertTrue(refused.stderr.contains("--repair"), refused.stderr)

        try daemon.start(adding: ["--repair"])
        let answers = try await logAll(ids, to: daemon, inOrder: true)
        XCTAssertEqual(answers.map(\.duplicate), Array(repeating: true, count: 4) + Array(repeating: false, count: 6))
        let names = try FileManager.default.contentsOfDirectory(atPath: daemon.dataDirectory)
        XCTAssertTrue(names.contains { $0.hasPrefix("cut-5-") }, "the cut bytes are kept aside: \(names)")
        XCTAssertEqual(try TestDaemon.runCLI(["wal", "verify", daemon.dataDirectory]).exitCode, 0)
        XCTAssertEqual(daemon.stop(signal: SIGTERM), 0)
        try daemon.start()
        let again = try await logAll(ids, to: daemon)
        XCTAssertTrue(again.allSatisfy(\.duplicate))
        daemon.stop(signal: SIGKILL)
    }

    /// `snapshot verify` on the shutdown snapshot, then on a damaged copy; startup refuses a data
    /// dir whose only snapshot is damaged rather than start without what it held.
    func testSnapshotVerifyAndADamagedOnlySnapshotStopsStartup() async throws {
        let daemon = try TestDaemon()
        try await logAll((0..<5).map { "snap-\($0)" }, to: daemon)
        XCTAssertEqual(daemon.stop(signal: SIGTERM), 0)
        let names = try FileManager.default.contentsOfDirectory(atPath: daemon.dataDirectory)
        let snapshot = daemon.dataDirectory + "/" + (try XCTUnwrap(names.first { $0.hasSuffix(".snap") }))
        let good = try TestDaemon.runCLI(["--json", "snapshot", "verify", snapshot])
        XCTAssertEqual(good.exitCode, 0, good.stdout)
        XCTAssertEqual(try parseJSONObject(good.stdout)["records"] as? Int, 5)
        XCTAssertEqual(try parseJSONObject(good.stdout)["last_sequence"] as? String, "5")

        var bytes = try readFile(snapshot)
        bytes[bytes.count - 3] ^= 0x01
        try Data(bytes).write(to: URL(fileURLWithPath: snapshot))
        let bad = try TestDaemon.runCLI(["snapshot", "verify", snapshot])
        XCTAssertEqual(bad.exitCode, 1)
        XCTAssertTrue(bad.stdout.contains("at byte 12: checksum mismatch"), bad.stdout)
        let refused = try runDaemonUntilExit(daemon)
        XCTAssertNotEqual(refused.status, 0)
        XCTAssertTrue(refused.stderr.contains("no valid snapshot"), refused.stderr)
    }

    /// The verify verbs never touch the socket (none exists here) and reject bad usage with 2.
    func testVerifyCommandsNeedNoDaemonAndRejectBadUsage() throws {
        var template = Array("/tmp/tg-verify-XXXXXX".utf8CString)
        let directory = String(cString: try XCTUnwrap(mkdtemp(&template)))
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let socket = ["--socket", directory + "/nobody.sock"]
        let empty = try TestDaemon.runCLI(socket + ["wal", "verify", directory])
        XCTAssertEqual(empty.exitCode, 0, empty.stderr)
        XCTAssertTrue(empty.stdout.contains("records         0"), empty.stdout)
        let missing = try TestDaemon.runCLI(socket + ["snapshot", "verify", directory + "/snapshot-1.snap"])
        XCTAssertEqual(missing.exitCode, 1)
        XCTAssertTrue(missing.stdout.contains("No such file"), missing.stdout)
        for words in [["wal"], ["wal", "check", directory], ["wal", "verify"], ["snapshot", "verify", "a", "b"]] {
            let usage = try TestDaemon.runCLI(words)
            XCTAssertEqual(usage.exitCode, 2, "\(words): \(usage.stderr)")
            XCTAssertTrue(usage.stderr.contains("usage: tokengate \(words[0]) verify"), usage.stderr)
        }
    }

    // MARK: - Periodic snapshots and restart equivalence

    /// With a snapshot every 100 records: 100 events make snapshot 100 (and start segment 101);
    /// 100 more make snapshot 200, which deletes the segment the older snapshot covers. A restart
    /// after SIGKILL recovers every event from the snapshot and the log after it.
    func testPeriodicSnapshotsRetireOldSegmentsAndRecoveryUsesThem() async throws {
        let daemon = try TestDaemon(arguments: ["--snapshot-every-records", "100"])
        func files() -> [String] {
            ((try? FileManager.default.contentsOfDirectory(atPath: daemon.dataDirectory)) ?? []).sorted()
        }
        let ids = (0..<200).map { "periodic-\($0)" }
        try await logAll(Array(ids[..<100]), to: daemon)
        XCTAssertTrue(waitFor(seconds: 10) { files().contains("snapshot-00000000000000000100.snap") }, "\(files())")
        try await logAll(Array(ids[100...]), to: daemon)
        let expected = [
            "LOCK", "snapshot-00000000000000000100.snap", "snapshot-00000000000000000200.snap",
            "wal-00000000000000000101.log", "wal-00000000000000000201.log",
        ]
        XCTAssertTrue(waitFor(seconds: 10) { files() == expected }, "\(files())")
        daemon.stop(signal: SIGKILL)
        try daemon.start()
        let answers = try await logAll(ids + ["periodic-new"], to: daemon)
        XCTAssertEqual(answers.map(\.duplicate), Array(repeating: true, count: 200) + [false])
        let verify = try TestDaemon.runCLI(["--json", "wal", "verify", daemon.dataDirectory])
        XCTAssertEqual(verify.exitCode, 0, verify.stdout)
        XCTAssertEqual(try parseJSONObject(verify.stdout)["first_sequence"] as? String, "101")
        XCTAssertEqual(try parseJSONObject(verify.stdout)["last_sequence"] as? String, "201")
    }

    /// Each periodic snapshot logs one line with its size, duration and longest lock hold.
    func testPeriodicSnapshotLogsItsDurationAndLongestLockHold() throws {
        var template = Array("/tmp/tg-snaplog-XXXXXX".utf8CString)
        let directory = String(cString: try XCTUnwrap(mkdtemp(&template)))
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: TestDaemon.productsDirectory + "/tokengated")
        process.arguments = [
            "--socket", directory + "/gate.sock", "--data-dir", directory + "/data", "--snapshot-every-records", "1",
        ]
        let err = Pipe()
        process.standardError = err
        try process.run()
        let socket = ["--socket", directory + "/gate.sock"]
        XCTAssertTrue(waitFor(seconds: 20) { (try? TestDaemon.runCLI(socket + ["health"]))?.stdout.contains("SERVING") == true })
        XCTAssertEqual(try TestDaemon.runCLI(socket + ["log", "shop_1", "--input-tokens", "10"]).exitCode, 0)
        XCTAssertTrue(waitFor(seconds: 10) {
            ((try? FileManager.default.contentsOfDirectory(atPath: directory + "/data")) ?? []).contains { $0.hasSuffix(".snap") }
        })
        process.terminate()
        let stderr = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 0)
        let line = try XCTUnwrap(stderr.split(separator: "\n").first { $0.contains("msg=\"snapshot written\"") }, stderr)
        for field in ["sequence=1 ", "facts=1 ", "bytes=", "events_dropped=0", "duration_ms=", "longest_lock_hold_us="] {
            XCTAssertTrue(line.contains(field), "\(field) in \(line)")
        }
    }

    /// Bills (this month and a stored one of last month) and gate answers are the same before a
    /// crash, after SIGKILL and restart, and after SIGTERM and restart.
    func testRestartEquivalenceOfBillsAndGateAnswers() async throws {
        let daemon = try TestDaemon(arguments: ["--billing-grace-hours", "0"])
        var client = daemon.client(timeoutMs: 30_000)
        let now = nowUnixMs()
        let lastMonth = MonthKey(unixMs: now).previous
        let shops = (0..<5).map { "equiv_shop_\($0)" }
        for (index, shop) in shops.enumerated() {
            for number in 0..<(3 + index * 4) {
                let model = number % 3 == 0 ? "gemini-2.5-pro" : "gemini-2.5-flash"
                let at = number % 4 == 0 ? lastMonth.startUnixMs + Int64(number) * 60_000 : 0
                _ = try await client.logUsage(.init(
                    eventID: "\(shop)-\(number)", shopID: shop, model: model, inputTokens: UInt64(500 * (number + 1)),
                    outputTokens: UInt64(50 * number), cachedInputTokens: UInt64(10 * number), occurredAtUnixMs: at))
            }
        }
        _ = try await client.generateBilling(.init(shopID: shops[1], period: lastMonth.text))
        _ = try await client.generateBilling(.init(shopID: shops[3], period: lastMonth.text))
        let before = try await observe(shops, client, lastMonth: lastMonth)
        for signal in [SIGKILL, SIGTERM] {
            daemon.stop(signal: signal)
            try daemon.start()
            client = daemon.client(timeoutMs: 30_000)
            let after = try await observe(shops, client, lastMonth: lastMonth)
            XCTAssertEqual(after.bills, before.bills, "signal \(signal)")
            XCTAssertEqual(after.gates, before.gates, "signal \(signal)")
        }
    }

    func observe(_ shops: [String], _ client: TokenGateClient, lastMonth: MonthKey) async throws
        -> (bills: [BillingRecord], gates: [CanMakeRequestResponse])
    {
        var bills: [BillingRecord] = []
        var gates: [CanMakeRequestResponse] = []
        for shop in shops {
            // A preview of a stored period answers the stored record; nothing here stores one.
            for period in [lastMonth.next.text, lastMonth.text] {
                var record = try await client.generateBilling(.init(shopID: shop, period: period, preview: true)).record
                if record.preview { record.generatedAtUnixMs = 0 }
                bills.append(record)
            }
            gates.append(try await client.canMakeRequest(.init(shopID: shop, estimatedInputTokens: 1_000, maxOutputTokens: 100)))
        }
        return (bills, gates)
    }

    // MARK: - Helpers

    /// Logs one event per id (the same request each time), eight at a time or, `inOrder`, one
    /// at a time (so the log holds them in that order); returns the answers in order.
    @discardableResult
    func logAll(_ ids: [String], to daemon: TestDaemon, inOrder: Bool = false) async throws -> [LogUsageResponse] {
        let client = daemon.client(timeoutMs: 30_000)
        var answers: [LogUsageResponse] = []
        let width = inOrder ? 1 : 8
        for start in stride(from: 0, to: ids.count, by: width) {
            let batch = Array(ids[start..<min(start + width, ids.count)])
            answers += try await withThrowingTaskGroup(of: (Int, LogUsageResponse).self) { group in
                for (index, id) in batch.enumerated() {
                    group.addTask {
                        (index, try await client.logUsage(.init(eventID: id, shopID: "durable_shop", inputTokens: 1_000, outputTokens: 100)))
                    }
                }
                var results: [(Int, LogUsageResponse)] = []
                for try await result in group { results.append(result) }
                return results.sorted { $0.0 < $1.0 }.map(\.1)
            }
        }
        return answers
    }

    /// Starts tokengated on the daemon's socket and data dir and waits (at most 20 s) for it to exit.
    func runDaemonUntilExit(_ daemon: TestDaemon) throws -> (status: Int32, stderr: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: TestDaemon.productsDirectory + "/tokengated")
        process.arguments = ["--socket", daemon.socketPath, "--data-dir", daemon.dataDirectory]
        let err = Pipe()
        process.standardError = err
        try process.run()
        let killer = DispatchWorkItem { if process.isRunning { process.terminate() } }
        DispatchQueue.global().asyncAfter(deadline: .now() + 20, execute: killer)
        let stderr = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        killer.cancel()
        return (process.terminationStatus, stderr)
    }

    /// Deletes every file of the data dir except `keeping`.
    func resetDataDirectory(_ daemon: TestDaemon, keeping: Set<String>) throws {
        for name in try FileManager.default.contentsOfDirectory(atPath: daemon.dataDirectory) where !keeping.contains(name) {
            try FileManager.default.removeItem(atPath: daemon.dataDirectory + "/" + name)
        }
    }
}

/// The byte offset of every record of a log segment (u32 BE body length, then a 16-byte header).
func recordOffsets(_ bytes: [UInt8]) -> [Int] {
    var offsets: [Int] = []
    var offset = 0
    while offset + 16 <= bytes.count {
        offsets.append(offset)
        let length = bytes[offset..<(offset + 4)].reduce(0) { $0 << 8 | Int($1) }
        offset += 16 + length
    }
    return offsets
}

func readFile(_ path: String) throws -> [UInt8] {
    Array(try Data(contentsOf: URL(fileURLWithPath: path)))
}

func nowUnixMs() -> Int64 {
    Int64(Date().timeIntervalSince1970 * 1_000)
}

/// Polls `condition` every 20 ms for up to `seconds`.
func waitFor(seconds: Double, _ condition: () -> Bool) -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if condition() { return true }
        usleep(20_000)
    }
    return condition()
}

