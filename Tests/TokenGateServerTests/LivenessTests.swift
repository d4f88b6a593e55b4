// Liveness (DESIGN §5), in process so the listener and the disk can be broken on command: an
// accept loop that stops is fatal (never a silent return with health SERVING), a log that
// failed makes the daemon not live (no WATCHDOG=1), and a failed snapshot shows in the metrics.
import Foundation
import TokenGateClient
import TokenGateStore
import TokenGateWire
import XCTest

@testable import TokenGateServer

final class LivenessTests: XCTestCase {
    func testAnAcceptLoopThatCannotAcceptIsFatal() async throws {
        let daemon = try InProcessDaemon()
        defer { daemon.stop() }
        _ = try await daemon.client().health()  // the accept loop is running
        XCTAssertTrue(daemon.server.isLive(stallMs: 10_000))
        // Put a non-socket where the listener was: the next accept fails with ENOTSOCK (a
        // connection wakes the accept blocked on the old socket).
        let listener = daemon.server.listenerDescriptor
        let devNull = open("/dev/null", O_RDONLY)
        XCTAssertEqual(dup2(devNull, listener), listener)
        close(devNull)
        // (When the loop was not inside accept, the old socket is already gone and the connect
        // is refused; the loop's next accept on /dev/null fails all the same.)
        let peer = try? RawPeer(daemon.socketPath)
        let deadline = Date().addingTimeInterval(5)
        while daemon.fatal.all.isEmpty && Date() < deadline { usleep(5_000) }
        XCTAssertTrue(daemon.fatal.all.contains { $0.contains("accept loop stopped") }, "\(daemon.fatal.all)")
        XCTAssertFalse(daemon.server.isLive(stallMs: 10_000), "a daemon that cannot accept must not pet the watchdog")
        _ = peer
    }

    func testAFailedLogMakesTheDaemonNotLive() async throws {
        let daemon = try InProcessDaemon()
        defer { daemon.stop() }
        let client = daemon.client()
        _ = try await client.logUsage(.init(shopID: "live_shop", inputTokens: 10))
        XCTAssertTrue(daemon.server.isLive(stallMs: 10_000))
        daemon.disk.syncErrno.store(EIO, ordering: .relaxed)
        _ = try? await client.logUsage(.init(shopID: "live_shop", inputTokens: 10), timeoutMs: 1_000)
        let deadline = Date().addingTimeInterval(5)
        while daemon.server.isLive(stallMs: 10_000) && Date() < deadline { usleep(5_000) }
        XCTAssertFalse(daemon.server.isLive(stallMs: 10_000), "a failed fdatasync must stop the watchdog")
    }

    func testAFailedSnapshotIsCountedAndShownUntilOneSucceeds() async throws {
        let daemon = try InProcessDaemon()
        defer { daemon.stop() }
        let client = daemon.client()
        _ = try await client.logUsage(.init(shopID: "snap_shop", inputTokens: 10))
        daemon.disk.atomicWriteErrno.store(ENOSPC, ordering: .relaxed)
        XCTAssertThrowsError(try daemon.ledger.writeSnapshot())
        var metrics = try ExpositionParser(try await client.getMetrics().text)
        XCTAssertEqual(metrics.value("tokengate_snapshot_failures_total"), 1)
        XCTAssertEqual(metrics.value("tokengate_snapshot_failing"), 1)
        let failing = try await client.health()
        XCTAssertEqual(failing.status, .serving, "the daemon still serves and loses nothing")
        XCTAssertTrue(failing.warnings.contains { $0.contains("snapshot failed") }, "\(failing.warnings)")
        daemon.disk.atomicWriteErrno.store(0, ordering: .relaxed)
        _ = try daemon.ledger.writeSnapshot()
        metrics = try ExpositionParser(try await client.getMetrics().text)
        XCTAssertEqual(metrics.value("tokengate_snapshot_failures_total"), 1)
        XCTAssertEqual(metrics.value("tokengate_snapshot_failing"), 0)
        let healthy = try await client.health()
        XCTAssertEqual(healthy.warnings, [])
    }
}
