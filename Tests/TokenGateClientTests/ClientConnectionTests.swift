// Deadlines, dropped connections and the gate's fail-open / fail-closed policy, against a fake
// daemon that never answers or hangs up, and against a socket where nothing listens.
import Foundation
import TokenGateClient
import TokenGateWire
import XCTest

final class ClientConnectionTests: XCTestCase {
    /// The longest any single call here may take before the test calls it hung; calls are
    /// expected back within their own deadline (hundreds of milliseconds).
    static let hungCallSeconds = 5.0

    func testDeadlineIsSentAndEnforcedLocallyWhenTheDaemonNeverAnswers() async throws {
        let fake = try FakeDaemon(.neverAnswer)
        defer { fake.stop() }
        let client = TokenGateClient(socketPath: fake.socketPath)
        let started = Date()
        do {
            _ = try await client.health(timeoutMs: 200)
            XCTFail("a call the daemon never answers must not succeed")
        } catch {
            XCTAssertEqual(error.code, .deadlineExceeded)
        }
        let elapsed = Date().timeIntervalSince(started)
        XCTAssertGreaterThanOrEqual(elapsed, 0.2, "the deadline must not fire early")
        XCTAssertLessThan(elapsed, Self.hungCallSeconds, "the local deadline, not the daemon, must end the call")
        XCTAssertTrue(fake.waitForRequests(1))
        XCTAssertEqual(fake.received.first?.deadlineMs, 200, "the deadline travels in the request envelope")
        XCTAssertEqual(fake.received.first?.method, MethodPath.health)
        XCTAssertEqual(client.metrics.calls, 1)
        XCTAssertEqual(client.metrics.errors, 1)
    }

    func testDefaultDeadlineIsSentWhenTheCallNamesNone() async throws {
        let fake = try FakeDaemon(.answer(.invalidArgument, "shop_id is empty"))
        defer { fake.stop() }
        let client = TokenGateClient(socketPath: fake.socketPath, defaultTimeoutMs: 1_234)
        do {
            _ = try await client.canMakeRequest(.init(shopID: ""))
            XCTFail("the fake answers INVALID_ARGUMENT")
        } catch {
            XCTAssertEqual(error, TokenGateError(.invalidArgument, "shop_id is empty"))
        }
        XCTAssertEqual(fake.received.first?.deadlineMs, 1_234)
    }

    func testCallInFlightWhenTheConnectionDropsFailsUnavailableAndTheNextCallReconnects() async throws {
        let fake = try FakeDaemon(.closeConnection)
        defer { fake.stop() }
        let client = TokenGateClient(socketPath: fake.socketPath)
        for attempt in 1...2 {
            do {
                _ = try await client.canMakeRequest(.init(shopID: "s", reserve: true), timeoutMs: 10_000)
                XCTFail("the fake hangs up instead of answering")
            } catch {
                XCTAssertEqual(error.code, .unavailable, "attempt \(attempt): \(error)")
            }
        }
        XCTAssertEqual(fake.received.count, 2, "each call was sent once: a reserving check is not retried behind the caller's back")
        XCTAssertEqual(fake.accepted, 2, "the second call opened a new connection")
        XCTAssertEqual(client.metrics.reconnects, 1)
    }

    func testFailOpenAllowsAndCountsWhenNothingListens() async throws {
        var configuration = TokenGateClient.Configuration(socketPath: absentSocketPath())
        configuration.whenUnreachable = .failOpen(timeoutMs: 1_000)
        let client = try TokenGateClient(configuration: configuration)
        let started = Date()
        for index in 0..<3 {
            let verdict = try await client.canMakeRequest(.init(shopID: "s", estimatedInputTokens: 10, requestID: "r\(index)"))
            XCTAssertEqual(verdict.decision, .allow)
            XCTAssertTrue(verdict.isPolicyAnswer)
            XCTAssertEqual(verdict.requestID, "r\(index)")
            XCTAssertTrue(verdict.message.contains("failOpen"), verdict.message)
        }
        XCTAssertLessThan(Date().timeIntervalSince(started), 3.0, "each answer must come within the 1 s policy timeout")
        let metrics = client.metrics
        XCTAssertEqual(metrics.failOpenCount, 3)
        XCTAssertEqual(metrics.failClosedCount, 0)
        XCTAssertEqual(metrics.calls, 3)
        XCTAssertEqual(metrics.errors, 3)
    }

    func testFailClosedDeniesWhenNothingListens() async throws {
        var configuration = TokenGateClient.Configuration(socketPath: absentSocketPath())
        configuration.whenUnreachable = .failClosed(timeoutMs: 1_000)
        let client = try TokenGateClient(configuration: configuration)
        let started = Date()
        let verdict = try await client.canMakeRequest(.init(shopID: "s"))
        XCTAssertLessThan(Date().timeIntervalSince(started), 1.0, "the answer must come within the policy timeout")
        XCTAssertEqual(verdict.decision, .deny)
        XCTAssertTrue(verdict.isPolicyAnswer)
        XCTAssertEqual(client.metrics.failClosedCount, 1)
        XCTAssertEqual(client.metrics.failOpenCount, 0)
    }

    func testPolicyAnswersWithinItsTimeoutWhenTheDaemonHangs() async throws {
        let fake = try FakeDaemon(.neverAnswer)
        defer { fake.stop() }
        for mode in [GatePolicy.Mode.failOpen, .failClosed] {
            var configuration = TokenGateClient.Configuration(socketPath: fake.socketPath)
            configuration.whenUnreachable = GatePolicy(mode: mode, timeoutMs: 150)
            let client = try TokenGateClient(configuration: configuration)
            let started = Date()
            let verdict = try await client.canMakeRequest(.init(shopID: "s"))
            let elapsed = Date().timeIntervalSince(started)
            XCTAssertEqual(verdict.decision, mode == .failOpen ? .allow : .deny)
            XCTAssertTrue(verdict.isPolicyAnswer)
            XCTAssertGreaterThanOrEqual(elapsed, 0.15, "the policy waits for its timeout first")
            XCTAssertLessThan(elapsed, Self.hungCallSeconds)
            XCTAssertEqual(client.metrics.failOpenCount, mode == .failOpen ? 1 : 0)
            XCTAssertEqual(client.metrics.failClosedCount, mode == .failClosed ? 1 : 0)
        }
        XCTAssertTrue(fake.waitForRequests(2))
        XCTAssertEqual(fake.received.map(\.deadlineMs), [150, 150], "the policy timeout is the call's deadline")
    }

    func testPolicyDoesNotHideOtherErrors() async throws {
        let fake = try FakeDaemon(.answer(.notFound, "model 'x' has no price"))
        defer { fake.stop() }
        var configuration = TokenGateClient.Configuration(socketPath: fake.socketPath)
        configuration.whenUnreachable = .failOpen()
        let client = try TokenGateClient(configuration: configuration)
        do {
            _ = try await client.canMakeRequest(.init(shopID: "s", model: "x"))
            XCTFail("NOT_FOUND is the caller's mistake, not an unreachable daemon")
        } catch {
            XCTAssertEqual(error.code, .notFound)
        }
        XCTAssertEqual(client.metrics.failOpenCount, 0)
    }

    func testConfigurationOutOfRangeIsRefused() {
        var configuration = TokenGateClient.Configuration(socketPath: absentSocketPath())
        configuration.spoolEventsMax = 0
        XCTAssertThrowsError(try TokenGateClient(configuration: configuration)) { error in
            XCTAssertEqual((error as? TokenGateError)?.code, .invalidArgument)
            XCTAssertTrue("\(error)".contains("spoolEventsMax"), "\(error)")
        }
        configuration = TokenGateClient.Configuration(socketPath: absentSocketPath())
        configuration.whenUnreachable = .failOpen(timeoutMs: 0)
        XCTAssertThrowsError(try TokenGateClient(configuration: configuration))
    }

    func testCallsAfterShutdownAreCancelled() async throws {
        let client = TokenGateClient(socketPath: absentSocketPath())
        client.shutdown()
        do {
            _ = try await client.health()
            XCTFail("a shut-down client makes no calls")
        } catch {
            XCTAssertEqual(error.code, .cancelled)
        }
    }
    /// A task cancelled before it calls ends at once with CANCELLED: the cancellation arrives
    /// before the call has suspended and is kept for it (not lost until the deadline).
    func testCallFromACancelledTaskEndsCancelledWithoutWaitingForItsDeadline() async throws {
        let fake = try FakeDaemon(.neverAnswer)
        defer { fake.stop() }
        let client = TokenGateClient(socketPath: fake.socketPath)
        _ = try? await client.health(timeoutMs: 50)
        let started = Date()
        let task = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            return try await client.health(timeoutMs: 3_000)
        }
        do {
            _ = try await task.value
            XCTFail("the fake never answers")
        } catch let error as TokenGateError {
            XCTAssertEqual(error.code, .cancelled)
        }
        XCTAssertLessThan(Date().timeIntervalSince(started), 2.0, "cancellation must not wait for the deadline")
    }
}
