// The server under disk faults, in process so a test file system can fail on command: a full
// disk (ENOSPC on write) fails exactly the calls whose writes it held with RESOURCE_EXHAUSTED
// while the daemon keeps serving, and a retry after space returns records each event once; a
// failed fdatasync (EIO) stops every acknowledgement and calls the daemon's fatal exit.
import Dispatch
import Foundation
import Synchronization
import TokenGateClient
import TokenGateServer
import TokenGateStore
import TokenGateWire
import XCTest

/// The real file system, with writes and fdatasyncs of log segments that fail on command.
final class FaultyDisk: FileSystem {
    let base = PosixFileSystem()
    /// errno for every append-file write, 0 for none.
    let writeErrno = Atomic<Int32>(0)
    /// errno for every fdatasync, 0 for none.
    let syncErrno = Atomic<Int32>(0)
    /// errno for every atomic file write (snapshots), 0 for none.
    let atomicWriteErrno = Atomic<Int32>(0)

    func openAppend(_ path: String) throws(SystemError) -> any AppendFile {
        FaultyFile(base: try base.openAppend(path), disk: self, path: path)
    }
    func readAll(_ path: String) throws(SystemError) -> [UInt8] { try base.readAll(path) }
    func writeAtomically(_ path: String, _ bytes: [UInt8]) throws(SystemError) {
        let code = atomicWriteErrno.load(ordering: .relaxed)
        if code != 0 { throw SystemError(errno: code, operation: "write", path: path) }
        try base.writeAtomically(path, bytes)
    }
    func list(_ directory: String) throws(SystemError) -> [String] { try base.list(directory) }
    func remove(_ path: String) throws(SystemError) { try base.remove(path) }
    func truncate(_ path: String, to length: Int) throws(SystemError) { try base.truncate(path, to: length) }
    func createDirectory(_ path: String) throws(SystemError) { try base.createDirectory(path) }
    func syncDirectory(_ path: String) throws(SystemError) { try base.syncDirectory(path) }
}

final class FaultyFile: AppendFile {
    let base: any AppendFile
    let disk: FaultyDisk
    let path: String

    init(base: any AppendFile, disk: FaultyDisk, path: String) {
        self.base = base
        self.disk = disk
        self.path = path
    }

    func write(_ bytes: [UInt8]) throws(SystemError) {
        let code = disk.writeErrno.load(ordering: .relaxed)
        if code != 0 { throw SystemError(errno: code, operation: "write", path: path) }
        try base.write(bytes)
    }
    func sync() throws(SystemError) {
        let code = disk.syncErrno.load(ordering: .relaxed)
        if code != 0 { throw SystemError(errno: code, operation: "fdatasync", path: path) }
        try base.sync()
    }
    func truncate(to length: Int) throws(SystemError) { try base.truncate(to: length) }
    func close() throws(SystemError) { try base.close() }
    var size: Int { base.size }
}

/// A server, service and ledger in this process on a temporary socket and data dir.
final class InProcessDaemon: @unchecked Sendable {
    let directory: String
    let socketPath: String
    let disk: FaultyDisk
    let ledger: Ledger
    let server: Server
    /// Messages the server passed to its fatal handler (the real daemon exits 1 there).
    let fatal = FatalMessages()

    let service: BudgetService

    /// With `recovered` false the server listens before recovery, as the daemon does, until
    /// `finishRecovery()`.
    init(directory: String? = nil, disk: FaultyDisk = FaultyDisk(), recovered: Bool = true) throws {
        let directory = directory ?? NSTemporaryDirectory() + "tg-inproc-" + UUID().uuidString
        self.directory = directory
        self.socketPath = directory + "/gate.sock"
        self.disk = disk
        let data = directory + "/data"
        let log = try WriteAheadLog(directory: data, policy: .always, fileSystem: disk)
        ledger = Ledger(
            directory: data, configuration: .defaults, log: log,
            encoding: FactEncoding(encode: FactCodec.encode, decode: { bytes in try FactCodec.decode(bytes) }),
            fileSystem: disk, bootID: "inproc")
        service = BudgetService(ledger: ledger, clock: SystemClock())
        let fatal = self.fatal
        server = Server(
            configuration: ServerConfiguration(socketPath: socketPath, adminUIDs: [getuid()]), service: service,
            ledger: ledger, logger: Logger(),
            onFatal: { message in
                fatal.messages.withLock { $0.append(message) }
                // Stands in for exit(1): this connection thread never answers again.
                DispatchSemaphore(value: 0).wait()
                fatalError("unreachable")
            })
        try server.start()
        if recovered { try finishRecovery() }
    }

    /// Recovers the ledger and starts serving, as `Daemon.run` does after binding.
    func finishRecovery() throws {
        _ = try ledger.recover(repair: false)
        service.isReady = true
    }

    func client() -> TokenGateClient { TokenGateClient(socketPath: socketPath, defaultTimeoutMs: 5_000) }

    /// Stops serving and closes the log; the data dir stays for a restart.
    func stop() {
        server.drain(timeoutMs: 500)
        try? ledger.close()
    }
}

/// What the fatal handler was told.
final class FatalMessages: Sendable {
    let messages = Mutex<[String]>([])
    var all: [String] { messages.withLock { $0 } }
}

final class ServerFaultTests: XCTestCase {
    static func usage(_ id: String, tokens: UInt64 = 1_000) -> LogUsageRequest {
        LogUsageRequest(eventID: id, shopID: "shop_disk", inputTokens: tokens, outputTokens: 100)
    }

    func testFullDiskFailsOnlyThoseCallsAndARetryRecordsEachEventOnce() async throws {
        let daemon = try InProcessDaemon()
        defer { try? FileManager.default.removeItem(atPath: daemon.directory) }
        let client = daemon.client()
        let first = try await client.logUsage(Self.usage("e0"))

        daemon.disk.writeErrno.store(ENOSPC, ordering: .relaxed)
        let ids = (1...6).map { "e\($0)" }
        let failures = await withTaskGroup(of: TokenGateError?.self) { group in
            for id in ids {
                group.addTask {
                    do throws(TokenGateError) {
                        _ = try await client.logUsage(Self.usage(id))
                        return nil
                    } catch {
                        return error
                    }
                }
            }
            var all: [TokenGateError?] = []
            for await failure in group { all.append(failure) }
            return all
        }
        for failure in failures {
            let failure = try XCTUnwrap(failure, "nothing may be acknowledged while the disk is full")
            XCTAssertEqual(failure.code, .resourceExhausted, failure.message)
            XCTAssertTrue(failure.message.contains("disk is full"), failure.message)
            XCTAssertTrue(failure.message.contains("retry"), failure.message)
        }
        let gate = try await client.canMakeRequest(.init(shopID: "shop_disk"))
        XCTAssertEqual(gate.decision, .allow, "the daemon keeps serving")
        let health = try await client.health()
        XCTAssertEqual(health.status, .serving)
        XCTAssertTrue(daemon.fatal.all.isEmpty, "a full disk is not fatal")

        daemon.disk.writeErrno.store(0, ordering: .relaxed)
        for id in ids {
            let retry = try await client.logUsage(Self.usage(id))
            XCTAssertEqual(retry.costNanoUSD, first.costNanoUSD)
        }
        let again = try await client.logUsage(Self.usage("e1"))
        XCTAssertTrue(again.duplicate)
        let fresh = try await client.logUsage(Self.usage("e7"))
        XCTAssertFalse(fresh.duplicate)
        XCTAssertEqual(fresh.dailyTotalNanoUSD, 8 * first.costNanoUSD, "e0...e7, each once")
        daemon.stop()

        let restarted = try InProcessDaemon(directory: daemon.directory)
        let month = MonthKey(unixMs: Int64(Date().timeIntervalSince1970 * 1_000)).text
        let bill = try await restarted.client().generateBilling(.init(shopID: "shop_disk", period: month, preview: true))
        XCTAssertEqual(bill.record.messagesUsed, 8, "every event survived the restart, once")
        XCTAssertEqual(bill.record.apiCostNanoUSD, 8 * first.costNanoUSD)
        restarted.stop()
    }

    /// One pipelined batch of reads and writes while the disk is full: only the writes' replies
    /// become errors, every other reply arrives intact and in order.
    func testAFullDiskRefusesOnlyTheWritesOfAMixedBatch() throws {
        let daemon = try InProcessDaemon()
        defer { try? FileManager.default.removeItem(atPath: daemon.directory) }
        daemon.disk.writeErrno.store(ENOSPC, ordering: .relaxed)
        let calls: [(String, [UInt8])] = [
            (MethodPath.health, HealthCheckRequest().encoded()),
            (MethodPath.logUsage, Self.usage("m1").encoded()),
            (MethodPath.canMakeRequest, CanMakeRequestRequest(shopID: "shop_disk").encoded()),
            (MethodPath.logUsage, Self.usage("m2").encoded()),
            (MethodPath.health, HealthCheckRequest().encoded()),
        ]
        var batch: [UInt8] = []
        for (index, (method, payload)) in calls.enumerated() {
            RequestEnvelope(callID: UInt64(index + 1), method: method, payload: payload).appendFrame(to: &batch)
        }
        let fd = try UnixSocket.connect(path: daemon.socketPath)
        defer { UnixSocket.close(fd) }
        try UnixSocket.setReceiveTimeout(fd, milliseconds: 5_000)
        try UnixSocket.writeAll(fd, batch)
        var reader = FrameReader(frameBytesMax: 1 << 20)
        var replies: [ResponseEnvelope] = []
        var chunk = [UInt8](repeating: 0, count: 4_096)
        while replies.count < calls.count {
            let count = try UnixSocket.read(fd, into: &chunk)
            XCTAssertGreaterThan(count, 0, "the daemon closed the connection")
            if count == 0 { break }
            reader.append(chunk[0..<count])
            while let frame = try reader.nextFrame() { replies.append(try ResponseEnvelope.decode(frame)) }
        }
        XCTAssertEqual(replies.map(\.callID), [1, 2, 3, 4, 5])
        XCTAssertEqual(replies.map(\.statusCode), [0, StatusCode.resourceExhausted.rawValue, 0, StatusCode.resourceExhausted.rawValue, 0])
        XCTAssertEqual(try HealthCheckResponse.decode(replies[0].payload).status, .serving)
        XCTAssertEqual(try CanMakeRequestResponse.decode(replies[2].payload).decision, .allow)
        XCTAssertTrue(replies[3].statusMessage.contains("disk is full"), replies[3].statusMessage)
        XCTAssertEqual(try HealthCheckResponse.decode(replies[4].payload).status, .serving)
        daemon.stop()
    }

    func testHealthIsNotServingAndWritesAreRefusedUntilRecoveryIsDone() async throws {
        let daemon = try InProcessDaemon(recovered: false)
        defer { try? FileManager.default.removeItem(atPath: daemon.directory) }
        let client = daemon.client()
        let before = try await client.health()
        XCTAssertEqual(before.status, .notServing)
        await assertStatus(.unavailable) { _ = try await client.logUsage(Self.usage("early")) }
        await assertStatus(.unavailable) { _ = try await client.canMakeRequest(.init(shopID: "shop_disk")) }
        try daemon.finishRecovery()
        let after = try await client.health()
        XCTAssertEqual(after.status, .serving)
        let logged = try await client.logUsage(Self.usage("early"))
        XCTAssertFalse(logged.duplicate, "the refused call recorded nothing")
        daemon.stop()
    }

    func testFailedFsyncStopsAcknowledgingAndCallsTheFatalExit() async throws {
        let daemon = try InProcessDaemon()
        defer { try? FileManager.default.removeItem(atPath: daemon.directory) }
        let client = daemon.client()
        _ = try await client.logUsage(Self.usage("ok"))

        daemon.disk.syncErrno.store(EIO, ordering: .relaxed)
        do {
            _ = try await client.logUsage(Self.usage("lost"), timeoutMs: 1_000)
            XCTFail("a write whose fdatasync failed must not be acknowledged")
        } catch {
            XCTAssertEqual(error.code, .deadlineExceeded, error.message)
        }
        let messages = daemon.fatal.all
        XCTAssertEqual(messages.count, 1)
        XCTAssertTrue(messages.first?.contains("fdatasync") ?? false, "\(messages)")

        daemon.disk.syncErrno.store(0, ordering: .relaxed)
        let other = daemon.client()
        do {
            _ = try await other.logUsage(Self.usage("after"))
            XCTFail("a dead log acknowledges nothing, even once the disk answers again")
        } catch {
            XCTAssertEqual(error.code, .unavailable, error.message)
        }
        daemon.stop()
    }
}
