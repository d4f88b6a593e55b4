// A tiny stand-in for tokengated on a temporary Unix socket, for client behaviour the real
// daemon never shows on demand: a call that is never answered, a connection that drops mid-call.
// It records every request envelope it reads, so tests can check what the client sent.
import Foundation
import Synchronization
import TokenGateClient
import TokenGateWire
import XCTest

final class FakeDaemon: Sendable {
    /// What the fake does with each request it reads.
    enum Behaviour: Sendable {
        /// Reads the call and never answers (a hung daemon, a deliberately slow call).
        case neverAnswer
        /// Reads the call and closes the connection without answering (a daemon that died).
        case closeConnection
        /// Answers with this status code and message.
        case answer(StatusCode, String)
    }

    private struct State {
        var received: [RequestEnvelope] = []
        var connections: [Int32] = []
        var accepted = 0
    }

    let directory: String
    let socketPath: String
    private let behaviour: Behaviour
    private let listener: Int32
    private let state = Mutex(State())

    init(_ behaviour: Behaviour) throws {
        var template = Array("/tmp/tg-fake-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw TokenGateError(.internal, "mkdtemp failed") }
        directory = String(cString: made)
        socketPath = directory + "/fake.sock"
        self.behaviour = behaviour
        listener = try UnixSocket.listen(path: socketPath, backlog: 16, mode: 0o600)
        let thread = Thread { [self] in acceptLoop() }
        thread.start()
    }

    /// Stops listening and drops every connection (the threads hold the fake until then).
    func stop() {
        UnixSocket.shutdown(listener)
        state.withLock { state in
            for fd in state.connections { UnixSocket.shutdown(fd) }
        }
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// Every request envelope read so far.
    var received: [RequestEnvelope] { state.withLock { $0.received } }
    /// Connections accepted so far.
    var accepted: Int { state.withLock { $0.accepted } }

    /// Waits (bounded) until `count` requests were read; true when they were.
    func waitForRequests(_ count: Int, timeoutSeconds: Double = 10) -> Bool {
        let deadline = Date().addingTimeInterval(timeoutSeconds)
        while received.count < count && Date() < deadline { usleep(2_000) }
        return received.count >= count
    }

    private func acceptLoop() {
        defer { UnixSocket.close(listener) }
        while let fd = try? UnixSocket.accept(listener) {
            state.withLock { state in
                state.connections.append(fd)
                state.accepted += 1
            }
            let thread = Thread { [self] in serve(fd) }
            thread.start()
        }
    }

    private func serve(_ fd: Int32) {
        var reader = FrameReader(frameBytesMax: 1 << 20)
        var chunk = [UInt8](repeating: 0, count: 4_096)
        defer {
            // Under the lock, so `stop` never shuts down a descriptor number already reused.
            state.withLock { state in
                state.connections.removeAll { $0 == fd }
                UnixSocket.close(fd)
            }
        }
        while let count = try? UnixSocket.read(fd, into: &chunk), count > 0 {
            reader.append(chunk[0..<count])
            while let frame = try? reader.nextFrame(), let request = try? RequestEnvelope.decode(frame) {
                state.withLock { $0.received.append(request) }
                switch behaviour {
                case .neverAnswer:
                    continue
                case .closeConnection:
                    UnixSocket.shutdown(fd)
                    return
                case .answer(let code, let message):
                    var out: [UInt8] = []
                    let response = ResponseEnvelope(callID: request.callID, statusCode: code.rawValue, statusMessage: message)
                    Framing.appendFrame(response.encoded(), to: &out)
                    try? UnixSocket.writeAll(fd, out)
                }
            }
        }
    }
}

/// A fresh temporary directory path (not created) for spool tests.
func temporaryPath(_ name: String) -> String {
    var template = Array("/tmp/tg-spool-XXXXXX".utf8CString)
    let made = mkdtemp(&template).map { String(cString: $0) } ?? NSTemporaryDirectory()
    return made + "/" + name
}

/// A socket path where nothing listens.
func absentSocketPath() -> String {
    temporaryPath("nobody-listens.sock")
}
