// The client's hot path after the benchmark's changes: deadlines checked by one sweeper thread
// instead of a timer per call (they must fire, never early, and leave other calls alone), and
// frames of concurrent calls written together (every answer must still reach its own caller).
import Foundation
import TokenGateClient
import TokenGateWire
import XCTest

final class ClientHotPathTests: XCTestCase {
    /// A socket that accepts connections and reads requests but never answers.
    final class SilentServer: @unchecked Sendable {
        let directory: String
        let socketPath: String
        private let listener: Int32

        init() throws {
            var template = Array("/tmp/tg-silent-XXXXXX".utf8CString)
            guard let made = mkdtemp(&template) else { throw TokenGateError(.internal, "mkdtemp failed") }
            directory = String(cString: made)
            socketPath = directory + "/silent.sock"
            listener = try UnixSocket.listen(path: socketPath, backlog: 16, mode: 0o600)
            let fd = listener
            Thread {
                while let connection = try? UnixSocket.accept(fd) {
                    Thread {
                        var buffer = [UInt8](repeating: 0, count: 4_096)
                        while let count = try? UnixSocket.read(connection, into: &buffer), count > 0 {}
                        UnixSocket.close(connection)
                    }.start()
                }
            }.start()
        }

        deinit {
            UnixSocket.shutdown(listener)
            UnixSocket.close(listener)
            try? FileManager.default.removeItem(atPath: directory)
        }
    }

    /// Closes `client` after `seconds`, so a broken deadline fails the test instead of hanging it.
    static func watchdog(_ client: TokenGateClient, seconds: Double = 5) -> Task<Void, Never> {
        Task {
            try? await Task.sleep(nanoseconds: UInt64(seconds * 1e9))
            if !Task.isCancelled { client.close() }
        }
    }

    func testDeadlineFiresNotEarlyAndNotLong() async throws {
        let server = try SilentServer()
        let client = TokenGateClient(socketPath: server.socketPath)
        let watchdog = Self.watchdog(client)
        defer { watchdog.cancel() }
        let started = Date()
        do {
            _ = try await client.canMakeRequest(.init(shopID: "s"), timeoutMs: 150)
            XCTFail("a server that never answers cannot produce a response")
        } catch {
            XCTAssertEqual(error.code, .deadlineExceeded)
            XCTAssertTrue(error.message.contains("150 ms"), error.message)
        }
        let elapsed = Date().timeIntervalSince(started)
        XCTAssertGreaterThanOrEqual(elapsed, 0.15, "a deadline must never fire early")
        XCTAssertLessThan(elapsed, 3, "the sweeper must end the call, not the server")
    }

    func testEachCallKeepsItsOwnDeadline() async throws {
        let server = try SilentServer()
        let client = TokenGateClient(socketPath: server.socketPath)
        let watchdog = Self.watchdog(client)
        defer { watchdog.cancel() }
        let started = Date()
        async let short: Double = Self.secondsUntilDeadline(client, timeoutMs: 100, since: started)
        async let long: Double = Self.secondsUntilDeadline(client, timeoutMs: 600, since: started)
        let (shortSeconds, longSeconds) = try await (short, long)
        XCTAssertGreaterThanOrEqual(shortSeconds, 0.1)
        XCTAssertGreaterThanOrEqual(longSeconds, 0.6, "expiring one call must not expire a later deadline on the same connection")
        XCTAssertLessThan(shortSeconds, longSeconds)
    }

    static func secondsUntilDeadline(_ client: TokenGateClient, timeoutMs: UInt32, since started: Date) async throws -> Double {
        do {
            _ = try await client.health(timeoutMs: timeoutMs)
        } catch {
            guard error.code == .deadlineExceeded else { throw error }
            return Date().timeIntervalSince(started)
        }
        throw TokenGateError(.internal, "the call should have hit its deadline")
    }

    func testConcurrentCallsOnOneConnectionEachGetTheirOwnAnswer() async throws {
        let daemon = try TestDaemon()
        let client = daemon.client()
        let answers = try await withThrowingTaskGroup(of: (String, String).self) { group in
            for index in 0..<64 {
                group.addTask {
                    let requestID = "req-\(index)"
                    let verdict = try await client.canMakeRequest(.init(shopID: "shop_\(index % 7)", requestID: requestID))
                    return (requestID, verdict.requestID)
                }
            }
            var all: [(String, String)] = []
            for try await answer in group { all.append(answer) }
            return all
        }
        XCTAssertEqual(answers.count, 64)
        for (sent, received) in answers { XCTAssertEqual(sent, received, "an answer reached the wrong caller") }
    }
    /// 32 callers sending again as soon as they are answered: writes coalesce (a writer yields
    /// for the others) and answers often arrive before their caller has suspended; every call
    /// must still get its own answer, once.
    func testPipelinedCallersThatSendAgainAtOnceEachGetTheirOwnAnswers() async throws {
        let daemon = try TestDaemon()
        let client = daemon.client()
        let callsPerCaller = 150
        let mismatches = try await withThrowingTaskGroup(of: Int.self) { group in
            for caller in 0..<32 {
                group.addTask {
                    var wrong = 0
                    for call in 0..<callsPerCaller {
                        let requestID = "r-\(caller)-\(call)"
                        let verdict = try await client.canMakeRequest(.init(shopID: "shop_\(caller % 5)", requestID: requestID))
                        if verdict.requestID != requestID { wrong += 1 }
                    }
                    return wrong
                }
            }
            return try await group.reduce(0, +)
        }
        XCTAssertEqual(mismatches, 0, "an answer reached the wrong caller")
        XCTAssertEqual(client.metrics.calls, UInt64(32 * callsPerCaller))
        XCTAssertEqual(client.metrics.errors, 0)
    }

    /// The same pipelined load with every caller preferring the client's executor: callers are
    /// continued on the connection's reader thread, which writes what they queue every few
    /// callers; every call must still get its own answer, once.
    func testCallersPreferringTheClientExecutorRunOnTheReaderAndGetTheirOwnAnswers() async throws {
        let daemon = try TestDaemon()
        let client = daemon.client()
        let callsPerCaller = 150
        let (mismatches, offReader) = try await withThrowingTaskGroup(of: (Int, Int).self) { group in
            for caller in 0..<32 {
                group.addTask(executorPreference: client.executor) {
                    var wrong = 0
                    var elsewhere = 0
                    for call in 0..<callsPerCaller {
                        let requestID = "r-\(caller)-\(call)"
                        let verdict = try await client.canMakeRequest(.init(shopID: "shop_\(caller % 5)", requestID: requestID))
                        if verdict.requestID != requestID { wrong += 1 }
                        if !client.executor.isReaderThread { elsewhere += 1 }
                    }
                    return (wrong, elsewhere)
                }
            }
            return try await group.reduce((0, 0)) { ($0.0 + $1.0, $0.1 + $1.1) }
        }
        XCTAssertEqual(mismatches, 0, "an answer reached the wrong caller")
        XCTAssertEqual(offReader, 0, "a preferring caller was continued off the reader thread")
        XCTAssertEqual(client.metrics.calls, UInt64(32 * callsPerCaller))
        XCTAssertEqual(client.metrics.errors, 0)
    }

    /// Outcomes that come from other threads (the deadline sweeper, `close`) still reach
    /// preferring callers, through the global pool.
    func testPreferringCallersEndedFromOtherThreadsAreResumed() async throws {
        let server = try SilentServer()
        let client = TokenGateClient(socketPath: server.socketPath)
        let watchdog = Self.watchdog(client)
        defer { watchdog.cancel() }
        let deadline = Task(executorPreference: client.executor) { () -> TokenGateError? in
            do throws(TokenGateError) {
                _ = try await client.canMakeRequest(.init(shopID: "s"), timeoutMs: 100)
                return nil
            } catch {
                return error
            }
        }
        let expired = await deadline.value
        XCTAssertEqual(expired?.code, .deadlineExceeded)

        let closing = (0..<8).map { _ in
            Task(executorPreference: client.executor) { () -> TokenGateError? in
                do throws(TokenGateError) {
                    _ = try await client.canMakeRequest(.init(shopID: "s"), timeoutMs: 0)
                    return nil
                } catch {
                    return error
                }
            }
        }
        try await Task.sleep(nanoseconds: 100_000_000)
        client.close()
        for call in closing {
            let error = await call.value
            XCTAssertEqual(error?.code, .cancelled, "a call in flight when the client closes ends CANCELLED")
        }
    }
}
