// A set of long-lived response streams that all receive the same messages (health watchers,
// alert watchers). Streams whose connection has gone are dropped on the next publish.
import Synchronization
import TokenGateCore
import TokenGateWire

final class StreamHub<Message: WireMessage>: Sendable {
    /// Why 4,096: one watcher per connection at most is the expected use, and connections are
    /// capped at that number by default.
    static var watchersMax: Int { 4_096 }

    private let streams = Mutex<[ResponseStream]>([])

    /// Adds a watcher and sends it `first` (the current state) under the same lock as
    /// publishes, so it never misses a change made between the two.
    func add(_ stream: ResponseStream, first: Message) {
        streams.withLock { streams in
            streams.removeAll { $0.isClosed }
            guard streams.count < Self.watchersMax else {
                stream.finish(TokenGateError(.resourceExhausted, "too many watchers (\(Self.watchersMax)); retry later"))
                return
            }
            stream.send(first)
            streams.append(stream)
        }
    }

    /// Adds a watcher with no initial message.
    func add(_ stream: ResponseStream) {
        streams.withLock { streams in
            streams.removeAll { $0.isClosed }
            guard streams.count < Self.watchersMax else {
                stream.finish(TokenGateError(.resourceExhausted, "too many watchers (\(Self.watchersMax)); retry later"))
                return
            }
            streams.append(stream)
        }
    }

    func publish(_ message: Message) {
        streams.withLock { streams in
            streams.removeAll { !$0.send(message) }
        }
    }

    func finishAll(_ error: TokenGateError? = nil) {
        let all = streams.withLock { streams in
            defer { streams = [] }
            return streams
        }
        for stream in all { stream.finish(error) }
    }
}
