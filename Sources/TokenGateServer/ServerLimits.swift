// Every limit the daemon enforces on its peers, in one place with the reason for each
// (DESIGN.md §5). Input over a limit gets a typed error, never a silent drop or an unbounded
// allocation. Relations between the limits are checked once, at startup.

/// The daemon's limits on peers. Units are in the names.
public struct ServerLimits: Sendable, Equatable {
    /// A request envelope is a few hundred bytes; 64 KiB leaves room for large metadata while
    /// bounding what one peer can make the daemon buffer.
    public var requestFrameBytesMax = 64 << 10
    /// Responses are small except streamed exports, which are cut into frames below this size.
    public var responseFrameBytesMax = 4 << 20
    /// Each connection has a thread; 4,096 covers every worker of a host with room to spare.
    public var connectionsMax = 4_096
    /// Pipelined calls decoded from one read and answered together; more wait in the socket.
    public var callsInFlightPerConnectionMax = 256
    /// Calls being decoded and answered at once across all connections. On 2 cores more would
    /// only queue inside the scheduler; past it a call is refused with RESOURCE_EXHAUSTED at
    /// once, so admitted calls keep a bounded latency.
    public var callsExecutingMax = 256
    /// A peer that sends part of a frame and then stalls is dropped after this long.
    public var frameReadTimeoutMs: Int32 = 10_000
    /// A connection with nothing in flight and nothing sent for this long is closed (0 = never).
    public var idleTimeoutMs: Int32 = 600_000
    /// A peer that stops reading its replies (its socket buffer full) is dropped after this long,
    /// so it cannot stall the thread writing to it (a watcher's publisher, for one).
    public var writeTimeoutMs: Int32 = 10_000
    /// Bytes read from the socket per `read` call: one read carries many pipelined frames.
    public var readChunkBytes = 64 << 10
    /// Pending connections the kernel queues while every accept is busy.
    public var listenBacklog: Int32 = 1_024
    /// HTTP metrics endpoint (`--metrics-listen`): a scrape's request head is a few hundred
    /// bytes; 8 KiB is what common servers allow for a whole head, and all one peer can make it buffer.
    public var metricsRequestBytesMax = 8 << 10
    /// A scraper that has not sent its whole request head by then is answered 408 and dropped;
    /// the endpoint serves one request at a time, so this bounds how long one peer can hold it.
    public var metricsRequestTimeoutMs: Int32 = 5_000
    /// After refusing a request whose bytes are still arriving (431), the endpoint reads and drops
    /// up to this much for up to `metricsRefusedDrainMs`, so the peer gets the answer, not a reset.
    public var metricsRefusedDrainBytesMax = 256 << 10
    public var metricsRefusedDrainMs: Int32 = 500
    /// Scrapes waiting while one is answered (a few scrapers at most).
    public var metricsListenBacklog: Int32 = 16
    /// How long a drain (SIGTERM) waits for connections to answer the calls they have read and
    /// send their durable replies before closing them anyway; well under systemd's
    /// TimeoutStopSec (90 s by default) so the final snapshot still runs.
    public var drainTimeoutMs: Int64 = 10_000
    /// Reply bytes queued for a peer that does not read them (a connection's durable replies,
    /// an alert watcher's stream); past this the peer is dropped instead of buffered for. A
    /// full response frame must fit.
    public var queuedReplyBytesMax = 8 << 20

    public init() {}

    /// Checks the relations between limits; returns a message naming the first one broken.
    public func problem() -> String? {
        if requestFrameBytesMax < 1_024 { return "requestFrameBytesMax must be at least 1024" }
        if responseFrameBytesMax < requestFrameBytesMax { return "responseFrameBytesMax must be >= requestFrameBytesMax" }
        if connectionsMax < 1 { return "connectionsMax must be at least 1" }
        if callsInFlightPerConnectionMax < 1 { return "callsInFlightPerConnectionMax must be at least 1" }
        if callsExecutingMax < 1 { return "callsExecutingMax must be at least 1" }
        if frameReadTimeoutMs < 1 { return "frameReadTimeoutMs must be positive" }
        if idleTimeoutMs < 0 { return "idleTimeoutMs must be >= 0" }
        if writeTimeoutMs < 1 { return "writeTimeoutMs must be positive" }
        if readChunkBytes < 4_096 { return "readChunkBytes must be at least 4096" }
        if metricsRequestBytesMax < 1_024 { return "metricsRequestBytesMax must be at least 1024" }
        if metricsRequestTimeoutMs < 1 { return "metricsRequestTimeoutMs must be positive" }
        if drainTimeoutMs < 0 { return "drainTimeoutMs must be >= 0" }
        if queuedReplyBytesMax < responseFrameBytesMax { return "queuedReplyBytesMax must be >= responseFrameBytesMax" }
        return nil
    }
}
