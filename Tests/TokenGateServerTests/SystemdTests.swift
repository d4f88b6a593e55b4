// systemd integration against the real daemon: serving on a socket passed as fd 3 (socket
// activation), READY=1 only after recovery and STOPPING=1 on SIGTERM through a fake
// NOTIFY_SOCKET, the watchdog, and two restarts under load in which no client is ever refused
// a connection because the listening socket outlives each daemon.
import Foundation
import Glibc
import Synchronization
import TokenGateClient
import TokenGateWire
import XCTest

final class SystemdTests: XCTestCase {
    func testServesOnTheSocketPassedAsFD3() async throws {
        let directory = try makeShortTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let activatedPath = directory + "/activated.sock"
        let listener = try UnixSocket.listen(path: activatedPath, backlog: 64, mode: 0o660)
        defer { UnixSocket.close(listener) }
        let daemon = try SpawnedDaemon.spawn(
            arguments: ["--socket", directory + "/unused.sock", "--data-dir", directory + "/data"],
            listeningFD: listener, stderrPath: directory + "/stderr.log")

        let serving = await waitUntilServing(socketPath: activatedPath)
        XCTAssertTrue(serving, daemon.stderr)
        let client = TokenGateClient(socketPath: activatedPath)
        let logged = try await client.logUsage(.init(shopID: "shop_fd3", inputTokens: 1_000, outputTokens: 100))
        XCTAssertEqual(logged.costNanoUSD, 550_000)
        XCTAssertFalse(FileManager.default.fileExists(atPath: directory + "/unused.sock"), "an activated daemon must not bind --socket")
        XCTAssertTrue(daemon.stderr.contains("socket_activated=true"), daemon.stderr)
        XCTAssertTrue(daemon.stderr.contains("socket=\(activatedPath)"), daemon.stderr)
        client.close()
        let exitCode = await daemon.stop()
        XCTAssertEqual(exitCode, 0, daemon.stderr)
    }

    func testSocketPassedToAnotherPIDIsIgnored() async throws {
        let directory = try makeShortTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let listener = try UnixSocket.listen(path: directory + "/activated.sock", backlog: 64, mode: 0o660)
        defer { UnixSocket.close(listener) }
        let ownPath = directory + "/own.sock"
        let daemon = try SpawnedDaemon.spawn(
            arguments: ["--socket", ownPath, "--data-dir", directory + "/data"], listeningFD: listener,
            listenPIDOverride: "1", stderrPath: directory + "/stderr.log")
        let serving = await waitUntilServing(socketPath: ownPath)
        XCTAssertTrue(serving, "LISTEN_PID names another process, so the daemon binds --socket itself: \(daemon.stderr)")
        XCTAssertTrue(daemon.stderr.contains("socket_activated=false"), daemon.stderr)
        let exitCode = await daemon.stop()
        XCTAssertEqual(exitCode, 0, daemon.stderr)
    }

    func testNotifiesReadyOnlyAfterRecoveryThenWatchdogThenStopping() async throws {
        let directory = try makeShortTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let socketPath = directory + "/gate.sock"
        let dataDirectory = directory + "/data"
        // A daemon killed without a snapshot leaves 40 records for the next one to replay.
        let first = try SpawnedDaemon.spawn(
            arguments: ["--socket", socketPath, "--data-dir", dataDirectory], listeningFD: nil, stderrPath: directory + "/first.log")
        let firstServing = await waitUntilServing(socketPath: socketPath)
        XCTAssertTrue(firstServing, first.stderr)
        let client = TokenGateClient(socketPath: socketPath)
        for index in 0..<40 { _ = try await client.logUsage(.init(eventID: "n\(index)", shopID: "shop_n", inputTokens: 10, outputTokens: 1)) }
        client.close()
        let killed = await first.stop(signal: SIGKILL)
        XCTAssertEqual(killed, 128 + SIGKILL)

        let notify = try FakeNotifySocket(path: directory + "/notify.sock")
        let daemon = try SpawnedDaemon.spawn(
            arguments: ["--socket", socketPath, "--data-dir", dataDirectory], listeningFD: nil,
            environment: ["NOTIFY_SOCKET": notify.path, "WATCHDOG_USEC": "200000"], stderrPath: directory + "/second.log")
        let ready = notify.receive(timeoutMs: 20_000)
        XCTAssertNotNil(ready, "no READY=1 within 20 s: \(daemon.stderr)")
        let lines = ready?.split(separator: "\n").map(String.init) ?? []
        XCTAssertEqual(lines.first, "READY=1", "the first notification must be READY=1, got \(lines)")
        // The status names what recovery replayed, which is known only once it has finished.
        XCTAssertTrue(lines.contains { $0.hasPrefix("STATUS=serving; recovered 0 snapshot facts and 40 log records in ") }, "\(lines)")
        XCTAssertTrue(lines.contains("MAINPID=\(daemon.pid)"), "\(lines)")
        let health = try await TokenGateClient(socketPath: socketPath).health()
        XCTAssertEqual(health.status, .serving, "READY=1 was sent before the daemon served")

        // WatchdogSec=0.2 s: WATCHDOG=1 every 0.1 s.
        var watchdogPings = 0
        for _ in 0..<30 where watchdogPings < 2 {
            if notify.receive(timeoutMs: 1_000) == "WATCHDOG=1" { watchdogPings += 1 }
        }
        XCTAssertEqual(watchdogPings, 2, "expected WATCHDOG=1 pings at half WatchdogSec")

        kill(daemon.pid, SIGTERM)
        let afterTerm = notify.receive(until: "STOPPING=1", timeoutMs: 10_000)
        XCTAssertNotNil(afterTerm, "no STOPPING=1 after SIGTERM: \(daemon.stderr)")
        XCTAssertFalse(afterTerm?.contains { $0.contains("READY=1") } ?? true, "READY=1 must be sent once")
        let exitCode = await daemon.waitForExit(timeoutSeconds: 20)
        XCTAssertEqual(exitCode, 0, daemon.stderr)
    }

    /// Like systemd, the test holds the listening socket and restarts the daemon twice while
    /// clients keep calling: pipelined clients that reconnect, and a thread that opens a fresh
    /// connection for every call. No connect may fail with ECONNREFUSED; calls in flight at a
    /// restart may fail with UNAVAILABLE (reported), and every acknowledged LogUsage survives.
    func testRestartUnderLoadThroughSocketActivationRefusesNoConnection() async throws {
        let directory = try makeShortTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let socketPath = directory + "/gate.sock"
        let listener = try UnixSocket.listen(path: socketPath, backlog: 1_024, mode: 0o660)
        defer { UnixSocket.close(listener) }
        let arguments = ["--socket", socketPath, "--data-dir", directory + "/data"]
        var daemon = try SpawnedDaemon.spawn(arguments: arguments, listeningFD: listener, stderrPath: directory + "/d0.log")
        let firstServing = await waitUntilServing(socketPath: socketPath)
        XCTAssertTrue(firstServing, daemon.stderr)

        let load = RestartLoad(socketPath: socketPath, shops: 3)
        let clients = load.startClients()
        let connector = load.startConnectorThread()
        for restart in 1...2 {
            try await Task.sleep(nanoseconds: 300_000_000)
            let exitCode = await daemon.stop()
            XCTAssertEqual(exitCode, 0, daemon.stderr)
            daemon = try SpawnedDaemon.spawn(arguments: arguments, listeningFD: listener, stderrPath: directory + "/d\(restart).log")
            let serving = await waitUntilServing(socketPath: socketPath)
            XCTAssertTrue(serving, daemon.stderr)
        }
        let okBeforeLastStretch = load.counters.ok.load(ordering: .relaxed)
        try await Task.sleep(nanoseconds: 300_000_000)
        load.stop()
        let acknowledged = await clients.value
        XCTAssertTrue(connector.wait(timeout: .now() + 30) == .success, "the connecting thread did not stop")

        let counters = load.counters
        print("restart under load: \(counters.summary)")
        XCTAssertEqual(counters.refused.load(ordering: .relaxed), 0, "a connection was refused: \(counters.summary)")
        XCTAssertEqual(counters.otherConnectErrors.load(ordering: .relaxed), 0, counters.summary)
        XCTAssertGreaterThan(counters.ok.load(ordering: .relaxed), okBeforeLastStretch, "no call succeeded after the last restart")
        XCTAssertGreaterThan(counters.freshConnectionCalls.load(ordering: .relaxed), 0, counters.summary)
        try await load.checkNothingAcknowledgedWasLost(acknowledged)
        let exitCode = await daemon.stop()
        XCTAssertEqual(exitCode, 0)
    }
}

/// What the load of the restart test saw.
final class LoadCounters: Sendable {
    let ok = Atomic<Int>(0)
    let refused = Atomic<Int>(0)
    let otherConnectErrors = Atomic<Int>(0)
    let unavailable = Atomic<Int>(0)
    let otherErrors = Atomic<Int>(0)
    let freshConnectionCalls = Atomic<Int>(0)

    var summary: String {
        "ok=\(ok.load(ordering: .relaxed)) refused=\(refused.load(ordering: .relaxed)) "
            + "other_connect_errors=\(otherConnectErrors.load(ordering: .relaxed)) unavailable=\(unavailable.load(ordering: .relaxed)) "
            + "other_errors=\(otherErrors.load(ordering: .relaxed)) fresh_connection_calls=\(freshConnectionCalls.load(ordering: .relaxed))"
    }

    func count(_ error: TokenGateError) {
        if error.message.contains(String(cString: strerror(ECONNREFUSED))) {
            refused.add(1, ordering: .relaxed)
        } else if error.code == .unavailable {
            unavailable.add(1, ordering: .relaxed)
        } else {
            otherErrors.add(1, ordering: .relaxed)
        }
    }
}

/// The restart test's clients: one reconnecting client per shop logging usage in a loop, and
/// a thread that connects afresh for every Health call.
final class RestartLoad: Sendable {
    let socketPath: String
    let shops: Int
    let counters = LoadCounters()
    private let running = Atomic<Bool>(true)

    init(socketPath: String, shops: Int) {
        self.socketPath = socketPath
        self.shops = shops
    }

    func stop() { running.store(false, ordering: .relaxed) }

    /// Returns, per shop, the summed cost of the acknowledged events.
    func startClients() -> Task<[Int64], Never> {
        Task {
            await withTaskGroup(of: (Int, Int64).self) { group in
                for shop in 0..<shops {
                    group.addTask { (shop, await self.logUntilStopped(shop: shop)) }
                }
                var sums = [Int64](repeating: 0, count: shops)
                for await (shop, sum) in group { sums[shop] = sum }
                return sums
            }
        }
    }

    private func logUntilStopped(shop: Int) async -> Int64 {
        let client = TokenGateClient(socketPath: socketPath, defaultTimeoutMs: 10_000)
        var acknowledged: Int64 = 0
        var index = 0
        while running.load(ordering: .relaxed) {
            index += 1
            do {
                let response = try await client.logUsage(.init(eventID: "s\(shop)-\(index)", shopID: "load_\(shop)", inputTokens: 100, outputTokens: 10))
                if !response.duplicate { acknowledged += response.costNanoUSD }
                counters.ok.add(1, ordering: .relaxed)
            } catch {
                counters.count(error)
                try? await Task.sleep(nanoseconds: 5_000_000)
            }
        }
        client.close()
        return acknowledged
    }

    /// Connects, sends one Health request, reads the answer, closes; again until stopped.
    func startConnectorThread() -> DispatchGroup {
        let group = DispatchGroup()
        group.enter()
        let thread = Thread { [self] in
            while running.load(ordering: .relaxed) {
                callOnFreshConnection()
                usleep(2_000)
            }
            group.leave()
        }
        thread.start()
        return group
    }

    private func callOnFreshConnection() {
        let fd: Int32
        do {
            fd = try UnixSocket.connect(path: socketPath)
        } catch {
            if error.errno == ECONNREFUSED {
                counters.refused.add(1, ordering: .relaxed)
            } else {
                counters.otherConnectErrors.add(1, ordering: .relaxed)
            }
            return
        }
        defer { UnixSocket.close(fd) }
        var frame: [UInt8] = []
        Framing.appendFrame(RequestEnvelope(callID: 1, method: MethodPath.health, deadlineMs: 0, payload: HealthCheckRequest().encoded()).encoded(), to: &frame)
        var reader = FrameReader(frameBytesMax: 1 << 16)
        var chunk = [UInt8](repeating: 0, count: 4_096)
        do {
            try UnixSocket.writeAll(fd, frame)
            while try UnixSocket.waitReadable(fd, timeoutMs: 10_000) {
                let count = try UnixSocket.read(fd, into: &chunk)
                guard count > 0 else { break }
                reader.append(chunk[0..<count])
                if let reply = try reader.nextFrame() {
                    let response = try ResponseEnvelope.decode(reply)
                    if response.statusCode == 0 { counters.ok.add(1, ordering: .relaxed) } else { counters.unavailable.add(1, ordering: .relaxed) }
                    counters.freshConnectionCalls.add(1, ordering: .relaxed)
                    return
                }
            }
            counters.unavailable.add(1, ordering: .relaxed)
        } catch {
            counters.unavailable.add(1, ordering: .relaxed)
        }
    }

    /// Each shop's recorded month total includes every acknowledged event (it may include
    /// events whose acknowledgement was lost in a restart, never fewer).
    func checkNothingAcknowledgedWasLost(_ acknowledged: [Int64]) async throws {
        let client = TokenGateClient(socketPath: socketPath)
        for shop in 0..<shops {
            let last = try await client.logUsage(.init(eventID: "final-\(shop)", shopID: "load_\(shop)", inputTokens: 100, outputTokens: 10))
            XCTAssertGreaterThanOrEqual(last.monthlyTotalNanoUSD, acknowledged[shop] + last.costNanoUSD, "shop load_\(shop) lost acknowledged usage")
            XCTAssertGreaterThan(acknowledged[shop], 0)
        }
        client.close()
    }
}
