// LogUsage that survives an unreachable daemon: `logUsageOrSpool` gives every event an id
// before anything else, sends it, and when the daemon cannot answer keeps it in the bounded
// spool; one background drainer re-sends spooled events (same ids, so the daemon counts each
// once) until the daemon acknowledges them, retrying with backoff and at once on reconnect.
import Foundation
import Synchronization
import TokenGateClock
import TokenGateCore

/// The drainer's sleep between retries, and a wake-up that arrived while it was awake.
struct DrainerState {
    var sleeper: Task<Void, Never>?
    var wakePending = false
    var task: Task<Void, Never>?
}

extension TokenGateClient {
    /// Records what a call used, and keeps the event when the daemon cannot take it.
    ///
    /// The event gets an id first when it has none (`eventID` empty), so every later re-send is
    /// idempotent. When the daemon answers, this is `.logged` with its response. When it is
    /// unreachable, does not answer within the deadline, is starting or draining (UNAVAILABLE,
    /// DEADLINE_EXCEEDED) or the calling task is cancelled, the event (stamped with the time of
    /// this call, before its first send, when `occurredAtUnixMs` is 0) goes into the spool and this returns `.spooled`;
    /// the client re-sends it in the background until acknowledged. An event sent but
    /// unanswered may already be recorded: its re-send is answered as a duplicate and counted once.
    ///
    /// - Throws: RESOURCE_EXHAUSTED when the spool is full (the event is NOT recorded: nothing
    ///   is dropped silently); INTERNAL when the spool file cannot take it; and the daemon's own
    ///   errors for a bad event (INVALID_ARGUMENT, FAILED_PRECONDITION for a billed month), which
    ///   are not spooled because a re-send would fail the same way.
    public func logUsageOrSpool(_ request: LogUsageRequest, timeoutMs: UInt32? = nil) async throws(TokenGateError) -> LogUsageOutcome {
        var request = request
        if request.eventID.isEmpty { request.eventID = Self.makeEventID() }
        // Stamped before the first send, so that the first attempt and every re-send are the
        // same request: the daemon refuses an event id re-sent with other content
        // (ALREADY_EXISTS), and "0" then a time would be other content.
        if request.occurredAtUnixMs == 0 { request.occurredAtUnixMs = Int64(Date().timeIntervalSince1970 * 1_000) }
        do throws(TokenGateError) {
            return .logged(try await logUsage(request, timeoutMs: timeoutMs))
        } catch where Self.meansUnreachable(error) || error.code == .cancelled {
            let (depth, startDrainer) = try spool.add(request)
            updateMetrics { $0.spooledCount += 1 }
            if startDrainer { self.startDrainer() }
            return .spooled(eventID: request.eventID, spoolDepth: depth, cause: error)
        }
    }

    /// Waits until the spool is empty or `timeoutMs` passed; returns the events still waiting.
    /// Retries at once rather than after the backoff. Use it before a planned shutdown.
    public func flushSpool(timeoutMs: UInt32) async -> Int {
        let deadline = MonotonicClock.nanoseconds() + UInt64(timeoutMs) * 1_000_000
        wakeDrainer()
        while spool.depth > 0 && MonotonicClock.nanoseconds() < deadline {
            try? await Task.sleep(for: .milliseconds(Self.flushPollMs))
        }
        return spool.depth
    }

    /// The file in `spoolDirectory` that keeps spooled events the daemon refused for good.
    public static var deadLetterFileName: String { UsageSpool.deadLetterFileName }

    /// How often `flushSpool` looks at the spool depth, in milliseconds.
    static let flushPollMs = 5

    /// A fresh event id: `tgc-` and a random UUID (well under the daemon's 128-byte limit).
    static func makeEventID() -> String {
        "tgc-" + UUID().uuidString.lowercased()
    }

    // MARK: - Drainer

    enum DrainStep {
        /// The spool is empty and the drainer's job is given up.
        case finished
        /// Events went out (or were refused for good); look for more at once.
        case progressed
        /// The daemon could not take the oldest event; wait before the next try.
        case blocked
    }

    /// Starts the one drainer task. It holds the client weakly, so a dropped client stops it.
    func startDrainer() {
        let initialMs = configuration.spoolRetryIntervalMs
        let maximumMs = configuration.spoolRetryIntervalMaxMs
        let task = Task.detached { [weak self] in
            var backoffMs = initialMs
            while true {
                guard let step = await self?.drainOnce() else { return }
                switch step {
                case .finished: return
                case .progressed: backoffMs = initialMs
                case .blocked:
                    guard let sleeper = self?.prepareSleep(milliseconds: backoffMs) else { continue }
                    await sleeper.value
                    if Task.isCancelled { return }
                    backoffMs = min(backoffMs.multipliedReportingOverflow(by: 2).partialValue, maximumMs)
                }
            }
        }
        drainer.withLock { $0.task = task }
    }

    /// Cuts the drainer's current wait short (a reconnect or a flush).
    func wakeDrainer() {
        drainer.withLock { state in
            state.wakePending = true
            state.sleeper?.cancel()
        }
    }

    func stopDrainer() {
        drainer.withLock { state in
            state.task?.cancel()
            state.sleeper?.cancel()
        }
    }

    /// A sleep the drainer can be woken from; nil when a wake-up is already pending.
    private func prepareSleep(milliseconds: UInt32) -> Task<Void, Never>? {
        drainer.withLock { state in
            if state.wakePending {
                state.wakePending = false
                return nil
            }
            let sleeper = Task<Void, Never> { _ = try? await Task.sleep(for: .milliseconds(Int(milliseconds))) }
            state.sleeper = sleeper
            return sleeper
        }
    }

    /// Re-sends the oldest spooled event alone (a probe: while the daemon is down one attempt
    /// is enough), and when it goes through, the rest of a batch pipelined on the connection.
    private func drainOnce() async -> DrainStep {
        let batch = spool.oldest(Configuration.drainBatchMax)
        guard let probe = batch.first else {
            return spool.releaseDrainerIfEmpty() ? .finished : .progressed
        }
        drainer.withLock { $0.wakePending = false }
        if await !resend([probe]) { return .blocked }
        return await resend(Array(batch.dropFirst())) ? .progressed : .blocked
    }

    /// Sends spooled events concurrently; returns false when any could not reach the daemon.
    private func resend(_ events: [LogUsageRequest]) async -> Bool {
        guard !events.isEmpty else { return true }
        let timeoutMs = defaultTimeoutMs == 0 ? Self.resendTimeoutMs : defaultTimeoutMs
        let results = await withTaskGroup(of: (LogUsageRequest, Result<LogUsageResponse, TokenGateError>).self) { group in
            for event in events {
                group.addTask {
                    do throws(TokenGateError) {
                        return (event, .success(try await self.logUsage(event, timeoutMs: timeoutMs)))
                    } catch {
                        return (event, .failure(error))
                    }
                }
            }
            var all: [(LogUsageRequest, Result<LogUsageResponse, TokenGateError>)] = []
            for await result in group { all.append(result) }
            return all
        }
        var reached = true
        for (event, result) in results {
            switch result {
            case .success(let response):
                // Counted before it leaves the spool, so an empty spool means the counts are final.
                updateMetrics { metrics in
                    metrics.resentCount += 1
                    if response.duplicate { metrics.resentDuplicateCount += 1 }
                }
                spool.remove(event.eventID)
            case .failure(let error) where Self.meansUnreachable(error) || error.code == .cancelled || error.code == .resourceExhausted:
                // Not refused for good: unreachable, closed, or overloaded. Try again later.
                reached = false
            case .failure(let error):
                // Refused for good (malformed): kept in the dead-letter file, never dropped unseen.
                do throws(TokenGateError) {
                    try spool.deadLetter(event, error: error, atUnixMs: Int64(Date().timeIntervalSince1970 * 1_000))
                } catch {
                    reached = false  // keep it in the spool until it can be written down
                    continue
                }
                updateMetrics { $0.spoolRejectedCount += 1 }
                configuration.onSpoolRejection?(event, error)
                spool.remove(event.eventID)
            }
        }
        return reached
    }

    /// Deadline of a re-send when the client's default is "none": a hung daemon must not
    /// stall the drainer forever.
    static let resendTimeoutMs: UInt32 = 5_000
}
