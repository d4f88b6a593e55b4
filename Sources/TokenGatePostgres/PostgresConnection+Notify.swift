// LISTEN/NOTIFY on a connection of its own (fleet configuration, issue 20): `listen` subscribes,
// `waitForNotifications` waits on the connection's socket with poll(2) until a notification
// arrives or the timeout passes, and returns the payloads. The libpq calls (PQconsumeInput,
// PQnotifies, PQsocket) and poll stay in this module; every PGnotify is freed where it is read.

import CLibPQ
import Glibc

extension PostgresConnection {
    /// Subscribes this connection to `channel` (a plain identifier).
    public func listen(_ channel: String) throws(PostgresError) {
        try execute("LISTEN \(channel)")
    }

    /// Waits up to `timeoutMs` for notifications and returns their payloads (empty after a
    /// timeout). Notifications that arrived while the connection ran other statements are
    /// returned at once.
    /// - Throws: `.connection` when the connection broke (reconnect and LISTEN again).
    public func waitForNotifications(timeoutMs: Int32) throws(PostgresError) -> [String] {
        var payloads = try drainNotifications()
        if !payloads.isEmpty { return payloads }
        let socket = PQsocket(connection)
        guard socket >= 0 else { throw connectionError() }
        var descriptor = pollfd(fd: socket, events: Int16(POLLIN), revents: 0)
        let ready = poll(&descriptor, 1, timeoutMs)
        if ready < 0 {
            if errno == EINTR { return [] }
            throw PostgresError(.connection, "poll on the PostgreSQL socket failed: errno \(errno)")
        }
        if ready == 0 { return [] }
        payloads = try drainNotifications()
        return payloads
    }

    /// Reads what the server sent and returns every notification received so far.
    private func drainNotifications() throws(PostgresError) -> [String] {
        guard PQconsumeInput(connection) == 1 else { throw connectionError() }
        var payloads: [String] = []
        while let notification = PQnotifies(connection) {
            payloads.append(notification.pointee.extra.map { String(cString: $0) } ?? "")
            PQfreemem(notification)
        }
        // A server that closed the connection leaves it readable with nothing to read.
        guard PQstatus(connection) == CONNECTION_OK else { throw connectionError() }
        return payloads
    }
}
