// The drain on SIGTERM against the real daemon (DESIGN §5): several connections pipeline
// LogUsage as fast as they can while the daemon is told to stop. Every frame a peer managed to
// write must be answered (OK, or UNAVAILABLE for calls dispatched after the drain began), and
// every event answered OK must be there after a restart.
import Foundation
import Synchronization
import TokenGateClient
import TokenGateCore
import TokenGateWire
import XCTest

final class DrainTests: XCTestCase {
    /// One pipelining peer: a writer thread sends LogUsage frames one `write` each (so a frame
    /// is either wholly queued or refused with EPIPE) until the daemon stops reading; a reader
    /// thread collects the answers until the daemon closes the connection.
    /// (Unchecked: the `RawPeer` is only written by the writer thread and only read by the
    /// reader thread; a socket may be read and written at once.)
    final class Pipeliner: @unchecked Sendable {
        struct Tally {
            var sent: Set<UInt64> = []
            var answers: [UInt64: UInt32] = [:]
            var strayAnswers = 0
        }
        let index: Int
        let peer: RawPeer
        let tally = Mutex(Tally())
        let done = DispatchGroup()

        init(index: Int, socketPath: String) throws {
            self.index = index
            peer = try RawPeer(socketPath, receiveTimeoutMs: 30_000)
        }

        func shop() -> String { "drain_shop_\(index)" }
        func eventID(_ call: UInt64) -> String { "drain-\(index)-\(call)" }

        func start(callsMax: UInt64) {
            done.enter()
            Thread.detachNewThread { [self] in
                defer { done.leave() }
                for call in 1...callsMax {
                    let request = LogUsageRequest(eventID: eventID(call), shopID: shop(), inputTokens: 1_000, outputTokens: 10)
                    var frame: [UInt8] = []
                    Framing.appendFrame(RequestEnvelope(callID: call, method: MethodPath.logUsage, payload: request.encoded()).encoded(), to: &frame)
                    let written = frame.withUnsafeBytes { Glibc.send(peer.fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                    guard written == frame.count else {
                        // Refused whole (EPIPE after the daemon's SHUT_RD); a short write would
                        // make the count ambiguous, so it fails the test.
                        XCTAssertTrue(written < 0, "short write of \(written) bytes")
                        return
                    }
                    tally.withLock { _ = $0.sent.insert(call) }
                }
            }
            done.enter()
            Thread.detachNewThread { [self] in
                defer { done.leave() }
                var reader = FrameReader(frameBytesMax: 1 << 20)
                var chunk = [UInt8](repeating: 0, count: 64 << 10)
                while let count = try? UnixSocket.read(peer.fd, into: &chunk), count > 0 {
                    reader.append(chunk[0..<count])
                    while let frame = try? reader.nextFrame(), let response = try? ResponseEnvelope.decode(frame) {
                        tally.withLock { tally in
                            if tally.answers.updateValue(response.statusCode, forKey: response.callID) != nil || response.callID == 0 {
                                tally.strayAnswers += 1
                            }
                        }
                    }
                }
            }
        }

        var answered: Int { tally.withLock { $0.answers.count } }
    }

    func testSIGTERMUnderPipelinedLogUsageAnswersEveryReadCallAndKeepsEveryAcknowledgedEvent() async throws {
        let daemon = try TestDaemon(arguments: ["--fsync", "always"])
        let peers = try (0..<4).map { try Pipeliner(index: $0, socketPath: daemon.socketPath) }
        for peer in peers { peer.start(callsMax: 200_000) }
        // Let the pipelines fill, then stop the daemon in the middle of the traffic.
        let deadline = Date().addingTimeInterval(20)
        while peers.map(\.answered).reduce(0, +) < 2_000 && Date() < deadline { usleep(5_000) }
        XCTAssertEqual(daemon.stop(signal: SIGTERM), 0, "a drain exits 0")
        for peer in peers { XCTAssertEqual(peer.done.wait(timeout: .now() + 30), .success, "peer \(peer.index) hung") }

        var acknowledged: [String: Set<String>] = [:]
        var unavailable = 0
        for peer in peers {
            let tally = peer.tally.withLock { $0 }
            XCTAssertEqual(tally.strayAnswers, 0, "peer \(peer.index): duplicate or call-0 answers")
            let unanswered = tally.sent.subtracting(tally.answers.keys)
            XCTAssertTrue(unanswered.isEmpty, "peer \(peer.index): \(unanswered.count) of \(tally.sent.count) calls read but never answered")
            for (call, code) in tally.answers {
                switch code {
                case StatusCode.ok.rawValue: acknowledged[peer.shop(), default: []].insert(peer.eventID(call))
                case StatusCode.unavailable.rawValue: unavailable += 1
                default: XCTFail("peer \(peer.index) call \(call): status \(code)")
                }
            }
            XCTAssertLessThan(tally.sent.count, 200_000, "the drain must stop the peer's writes (EPIPE)")
        }
        let total = acknowledged.values.map(\.count).reduce(0, +)
        print("drain: \(total) acknowledged, \(unavailable) UNAVAILABLE, sent \(peers.map { $0.tally.withLock { $0.sent.count } })")
        XCTAssertGreaterThanOrEqual(total, 2_000)

        try daemon.start()
        let client = daemon.client()
        for (shop, events) in acknowledged {
            var found: Set<String> = []
            var cursor = ""
            repeat {
                let page = try await client.queryUsageLogs(.init(filter: .init(shopID: shop), pageSize: 1_000, cursor: cursor))
                found.formUnion(page.events.map(\.eventID))
                cursor = page.nextCursor
            } while !cursor.isEmpty
            let lost = events.subtracting(found)
            XCTAssertTrue(lost.isEmpty, "\(shop): \(lost.count) acknowledged events lost, e.g. \(lost.prefix(3))")
        }
        daemon.stop()
    }
}
