// Hostile and broken peers against the real daemon (issue 7): bad lengths, garbage, stalls,
// idle floods, early disconnects, too many connections, peers outside the allow-list. After
// each, a normal client must still get correct answers.
import Foundation
import Synchronization
import TokenGateClient
import TokenGateWire
import XCTest

/// A raw connection that speaks frames by hand.
final class RawPeer {
    let fd: Int32

    init(_ socketPath: String, receiveTimeoutMs: Int32 = 5_000) throws {
        fd = try UnixSocket.connect(path: socketPath)
        try UnixSocket.setReceiveTimeout(fd, milliseconds: receiveTimeoutMs)
    }

    deinit { UnixSocket.close(fd) }

    func send(_ bytes: [UInt8]) throws { try UnixSocket.writeAll(fd, bytes) }

    func sendFrame(_ payload: [UInt8]) throws {
        var out: [UInt8] = []
        Framing.appendFrame(payload, to: &out)
        try send(out)
    }

    func call(method: String, payload: [UInt8], callID: UInt64 = 7) throws {
        try sendFrame(RequestEnvelope(callID: callID, method: method, payload: payload).encoded())
    }

    /// Reads until one whole response frame arrives; nil when the daemon closed the connection.
    func readResponse() throws -> ResponseEnvelope? {
        var reader = FrameReader(frameBytesMax: 1 << 20)
        var chunk = [UInt8](repeating: 0, count: 4_096)
        while true {
            if let frame = try reader.nextFrame() { return try ResponseEnvelope.decode(frame) }
            let count = try UnixSocket.read(fd, into: &chunk)
            if count == 0 { return nil }
            reader.append(chunk[0..<count])
        }
    }

    /// True when the daemon closes the connection (end of stream) within the receive timeout.
    func isClosedByPeer() -> Bool {
        var chunk = [UInt8](repeating: 0, count: 4_096)
        while true {
            guard let count = try? UnixSocket.read(fd, into: &chunk) else { return false }
            if count == 0 { return true }
        }
    }
}

/// Resident memory of a process in KiB, from /proc.
func residentKiB(_ pid: Int32) -> Int {
    guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
          let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") })
    else { return 0 }
    return Int(line.split(separator: " ", omittingEmptySubsequences: true)[1]) ?? 0
}

final class HostilePeerTests: XCTestCase {
    func assertStillServes(_ daemon: TestDaemon, file: StaticString = #filePath, line: UInt = #line) async throws {
        let verdict = try await daemon.client().canMakeRequest(.init(shopID: "shop_ok", estimatedInputTokens: 100, maxOutputTokens: 100))
        XCTAssertEqual(verdict.decision, .allow, file: file, line: line)
    }

    func testBadLengthsAreRefusedAndTheConnectionClosed() async throws {
        let daemon = try TestDaemon()
        for prefix: [UInt8] in [[0xFF, 0xFF, 0xFF, 0xFF], [0x00, 0x01, 0x00, 0x01]] {  // 4 GiB-1, and 64 KiB + 1
            let peer = try RawPeer(daemon.socketPath)
            try peer.send(prefix)
            let response = try XCTUnwrap(try peer.readResponse())
            XCTAssertEqual(response.statusCode, StatusCode.resourceExhausted.rawValue)
            XCTAssertTrue(response.statusMessage.contains("over the limit"), response.statusMessage)
            XCTAssertTrue(peer.isClosedByPeer())
        }
        try await assertStillServes(daemon)
    }

    func testGarbageIsAnsweredWithStatusesOnALiveConnection() async throws {
        let daemon = try TestDaemon()
        let peer = try RawPeer(daemon.socketPath)
        try peer.sendFrame([])  // a zero-length frame decodes as an empty envelope: no method
        XCTAssertEqual(try peer.readResponse()?.statusCode, StatusCode.unimplemented.rawValue)
        try peer.sendFrame([0xFF, 0x00, 0x13, 0x37, 0x42])
        XCTAssertEqual(try peer.readResponse()?.statusCode, StatusCode.invalidArgument.rawValue)
        try peer.call(method: MethodPath.logUsage, payload: [0x0A, 0xFF, 0x01])
        let garbagePayload = try XCTUnwrap(try peer.readResponse())
        XCTAssertEqual(garbagePayload.statusCode, StatusCode.invalidArgument.rawValue)
        XCTAssertEqual(garbagePayload.callID, 7)
        try peer.call(method: "/tokengate.v1.BudgetService/Nope", payload: [])
        XCTAssertEqual(try peer.readResponse()?.statusCode, StatusCode.unimplemented.rawValue)
        try peer.call(method: MethodPath.canMakeRequest, payload: [0x0A, 0x02, 0xFF, 0xFE])  // shop_id not UTF-8
        let badUTF8 = try XCTUnwrap(try peer.readResponse())
        XCTAssertEqual(badUTF8.statusCode, StatusCode.invalidArgument.rawValue)
        XCTAssertTrue(badUTF8.statusMessage.contains("shop_id"), badUTF8.statusMessage)
        try peer.call(method: MethodPath.health, payload: [])
        XCTAssertEqual(try peer.readResponse()?.statusCode, 0, "the connection survives all of the above")
        try await assertStillServes(daemon)
    }

    func testAStalledPartialFrameIsDropped() async throws {
        let daemon = try TestDaemon(arguments: ["--frame-read-timeout-ms", "300"])
        let peer = try RawPeer(daemon.socketPath, receiveTimeoutMs: 5_000)
        try peer.send([0x00, 0x00, 0x00, 0x40, 0x0A])  // promises 64 bytes, sends 1
        let started = Date()
        XCTAssertTrue(peer.isClosedByPeer(), "a peer stalled mid-frame must be dropped")
        XCTAssertLessThan(Date().timeIntervalSince(started), 4.5)
        try await assertStillServes(daemon)
    }

    func testIdleConnectionsDoNotStarveAWorkingClient() async throws {
        let daemon = try TestDaemon()
        let pid = try XCTUnwrap(daemon.process?.processIdentifier)
        try await assertStillServes(daemon)
        let before = residentKiB(pid)
        let client = daemon.client()
        func timedCalls(_ tag: String) async throws -> Double {
            let started = Date()
            for index in 0..<200 {
                let logged = try await client.logUsage(.init(eventID: "\(tag)-\(index)", shopID: "shop_busy", inputTokens: 100, outputTokens: 10))
                XCTAssertFalse(logged.duplicate)
            }
            return Date().timeIntervalSince(started) / 200 * 1_000_000
        }
        let quietMicros = try await timedCalls("quiet")
        var idle: [RawPeer] = []
        for _ in 0..<1_000 { idle.append(try RawPeer(daemon.socketPath)) }
        let busyMicros = try await timedCalls("idle")
        print("hostile: LogUsage mean \(Int(quietMicros)) µs alone, \(Int(busyMicros)) µs beside 1,000 idle connections")
        let during = residentKiB(pid)
        idle.removeAll()
        try await Task.sleep(for: .milliseconds(300))
        try await assertStillServes(daemon)
        let after = residentKiB(pid)
        print("hostile: RSS before \(before) KiB, with 1,000 idle connections \(during) KiB, after \(after) KiB")
        XCTAssertLessThan(during - before, 32 * 1_024, "an idle connection must cost little memory (under 32 KiB each)")
        XCTAssertLessThan(after - before, 16 * 1_024, "closing the idle connections must give their memory back")
    }

    /// Replies that wait for the log are sent by the log's flusher; a peer that pipelines
    /// LogUsage calls and never reads must not hold up anyone else's writes (the flusher never
    /// blocks on a socket), and is dropped after the write timeout.
    func testAPeerThatNeverReadsItsRepliesHoldsUpNoOneElse() async throws {
        let daemon = try TestDaemon(arguments: ["--write-timeout-ms", "3000"])
        let peer = try RawPeer(daemon.socketPath)
        var frames: [UInt8] = []
        for index in 0..<20_000 {
            let usage = LogUsageRequest(eventID: "flood-\(index)", shopID: "shop_flood", inputTokens: 10, outputTokens: 1)
            Framing.appendFrame(RequestEnvelope(callID: UInt64(index + 1), method: MethodPath.logUsage, payload: usage.encoded()).encoded(), to: &frames)
        }
        // Far more replies than the socket buffers hold; the send blocks once the daemon stops
        // reading and fails once the daemon drops the connection.
        let sent = DispatchSemaphore(value: 0)
        let refused = Mutex(false)
        Thread.detachNewThread { [frames, fd = peer.fd] in
            do { try UnixSocket.writeAll(fd, frames) } catch { refused.withLock { $0 = true } }
            sent.signal()
        }
        try await Task.sleep(for: .milliseconds(500))
        let client = daemon.client()
        let started = Date()
        for index in 0..<50 {
            _ = try await client.logUsage(.init(eventID: "other-\(index)", shopID: "shop_other", inputTokens: 100, outputTokens: 10))
        }
        let seconds = Date().timeIntervalSince(started)
        XCTAssertLessThan(seconds, 0.9, "other connections' LogUsage calls waited on the stalled peer (\(seconds) s for 50)")
        XCTAssertEqual(sent.wait(timeout: .now() + 10), .success, "the stalled peer's connection is still open")
        XCTAssertTrue(refused.withLock { $0 }, "a peer that never reads is dropped after the write timeout")
        try await assertStillServes(daemon)
        withExtendedLifetime(peer) {}
    }

    func testEarlyDisconnectsAndTheConnectionCap() async throws {
        let daemon = try TestDaemon(arguments: ["--max-connections", "4"])
        for _ in 0..<50 {
            let peer = try RawPeer(daemon.socketPath)
            try peer.call(method: MethodPath.health, payload: [])
        }  // each closes before reading its answer
        try await Task.sleep(for: .milliseconds(200))
        let held = try (0..<3).map { _ in try RawPeer(daemon.socketPath) }
        let client = daemon.client()
        let verdict = try await client.canMakeRequest(.init(shopID: "shop_cap"))  // the 4th connection
        XCTAssertEqual(verdict.decision, .allow)
        let refused = try RawPeer(daemon.socketPath)
        let answer = try XCTUnwrap(try refused.readResponse())
        XCTAssertEqual(answer.statusCode, StatusCode.resourceExhausted.rawValue)
        XCTAssertTrue(answer.statusMessage.contains("connection limit"), answer.statusMessage)
        XCTAssertTrue(refused.isClosedByPeer())
        XCTAssertEqual(held.count, 3)
        let again = try await client.canMakeRequest(.init(shopID: "shop_cap"))
        XCTAssertEqual(again.decision, .allow, "admitted connections keep working at the cap")
    }

    func testSocketFileModesAndTheSocketDirectory() throws {
        let daemon = try TestDaemon()
        let mode = try FileManager.default.attributesOfItem(atPath: daemon.socketPath)[.posixPermissions] as? Int
        XCTAssertEqual(mode, 0o660)
        let nested = daemon.directory + "/run/tokengate/gate.sock"
        let other = try TestDaemon(arguments: ["--socket-mode", "0600"], socketPath: nested)
        let nestedMode = try FileManager.default.attributesOfItem(atPath: nested)[.posixPermissions] as? Int
        XCTAssertEqual(nestedMode, 0o600)
        let directoryMode = try FileManager.default.attributesOfItem(atPath: daemon.directory + "/run/tokengate")[.posixPermissions] as? Int
        XCTAssertEqual(directoryMode, 0o750, "a socket directory the daemon creates is 0750")
        XCTAssertEqual(try other.runCLI(["health"]).exitCode, 0)
    }

    func testASecondDaemonOnTheSameDataDirRefusesToStart() throws {
        let daemon = try TestDaemon()
        let second = Process()
        second.executableURL = URL(fileURLWithPath: TestDaemon.productsDirectory + "/tokengated")
        second.arguments = ["--socket", daemon.directory + "/second.sock", "--data-dir", daemon.dataDirectory]
        let err = Pipe()
        second.standardError = err
        try second.run()
        let message = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        second.waitUntilExit()
        XCTAssertNotEqual(second.terminationStatus, 0)
        XCTAssertTrue(message.contains("locked by another running tokengated"), message)
        XCTAssertEqual(try daemon.runCLI(["health"]).exitCode, 0, "the running daemon must be untouched")
    }

    func testPeersOutsideTheAllowListAreRefused() throws {
        let daemon = try TestDaemon(arguments: ["--allow-uids", "12345"])
        let peer = try RawPeer(daemon.socketPath)
        let answer = try XCTUnwrap(try peer.readResponse())
        XCTAssertEqual(answer.statusCode, StatusCode.permissionDenied.rawValue)
        XCTAssertTrue(answer.statusMessage.contains("allow-list"), answer.statusMessage)
    }
}
