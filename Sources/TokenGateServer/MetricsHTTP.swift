// The pure half of the HTTP metrics endpoint (`--metrics-listen`): parsing the `ADDR:PORT`
// flag, parsing an HTTP/1.x request head from the bytes a peer sent, and choosing the answer
// (200 for `GET /metrics`, 404 for any other path, 405 for any other method). No I/O here, so
// the parser is fuzzed (tokengate-fuzz-wire's `http` target) and unit-tested byte by byte.

/// Where `--metrics-listen` serves: a numeric IPv4 or IPv6 address and a TCP port.
public struct MetricsListenAddress: Sendable, Equatable, CustomStringConvertible {
    public var host: String
    public var port: UInt16

    public init(host: String, port: UInt16) {
        self.host = host
        self.port = port
    }

    /// Parses `127.0.0.1:9464`, `[::1]:9464` or `localhost:9464` (read as 127.0.0.1).
    /// Returns nil for anything else; port 0 means "any free port" (tests use it).
    public static func parse(_ text: String) -> MetricsListenAddress? {
        let host: Substring
        let portText: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]"), text[text.index(after: close)...].hasPrefix(":") else { return nil }
            host = text[text.index(after: text.startIndex)..<close]
            portText = text[text.index(close, offsetBy: 2)...]
        } else {
            guard let colon = text.lastIndex(of: ":"), !text[..<colon].contains(":") else { return nil }
            host = text[..<colon]
            portText = text[text.index(after: colon)...]
        }
        guard !host.isEmpty, !portText.isEmpty, portText.allSatisfy(\.isWholeNumber), portText.allSatisfy(\.isASCII), let port = UInt16(portText) else { return nil }
        return MetricsListenAddress(host: host == "localhost" ? "127.0.0.1" : String(host), port: port)
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}

/// An HTTP/1.x request head, as far as the metrics endpoint needs it.
public struct HTTPRequestHead: Sendable, Equatable {
    public var method: String
    /// The request target's path, without a query string.
    public var path: String
    /// `HTTP/1.0` or `HTTP/1.1`.
    public var version: String
}

/// What a peer's bytes amount to so far.
public enum HTTPRequestParse: Sendable, Equatable {
    /// No blank line yet and still under the size limit: read more.
    case incomplete
    /// A whole, well-formed head; bytes after it (a body) are ignored.
    case complete(HTTPRequestHead)
    /// Not an HTTP/1.x request, or over the limit: answer with this status and close.
    case invalid(status: Int, reason: String)
}

public enum HTTPRequestParser {
    /// Parses the start of `bytes` as an HTTP/1.x request head (request line and header lines,
    /// ended by an empty line; bare LF line ends are accepted as RFC 9112 allows). A head longer
    /// than `headBytesMax` is 431 whether or not its end has arrived.
    public static func parse(_ bytes: [UInt8], headBytesMax: Int) -> HTTPRequestParse {
        guard let end = headEnd(bytes, limit: headBytesMax) else {
            return bytes.count > headBytesMax
                ? .invalid(status: 431, reason: "request head over \(headBytesMax) bytes")
                : .incomplete
        }
        var lines = bytes[..<end].split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).map { line in
            line.last == UInt8(ascii: "\r") ? line.dropLast() : line
        }
        while lines.last?.isEmpty == true { lines.removeLast() }
        guard let requestLine = lines.first else { return .invalid(status: 400, reason: "empty request line") }
        let parts = requestLine.split(separator: UInt8(ascii: " "), omittingEmptySubsequences: false)
        guard parts.count == 3, let method = token(parts[0]), let target = visible(parts[1]), let version = visible(parts[2]) else {
            return .invalid(status: 400, reason: "request line is not METHOD TARGET VERSION")
        }
        guard version == "HTTP/1.1" || version == "HTTP/1.0" else {
            return .invalid(status: 505, reason: "only HTTP/1.0 and HTTP/1.1 are served")
        }
        for header in lines.dropFirst() {
            guard let colon = header.firstIndex(of: UInt8(ascii: ":")), token(header[header.startIndex..<colon]) != nil,
                  header[colon...].allSatisfy({ $0 == 9 || ($0 >= 32 && $0 != 127) })
            else { return .invalid(status: 400, reason: "malformed header line") }
        }
        guard let path = self.path(of: target) else { return .invalid(status: 400, reason: "request target is not a path") }
        return .complete(HTTPRequestHead(method: method, path: path, version: version))
    }

    /// The index just past the blank line ending the head, looked for in the first `limit` bytes.
    private static func headEnd(_ bytes: [UInt8], limit: Int) -> Int? {
        let newline = UInt8(ascii: "\n")
        var index = 0
        let searchEnd = min(bytes.count, limit)
        while index < searchEnd {
            if bytes[index] == newline {
                var next = index + 1
                if next < searchEnd && bytes[next] == UInt8(ascii: "\r") { next += 1 }
                if next < searchEnd && bytes[next] == newline { return next + 1 }
            }
            index += 1
        }
        return nil
    }

    /// An RFC 9110 token (method or header name), or nil.
    private static func token(_ bytes: ArraySlice<UInt8>) -> String? {
        let extra = Set("!#$%&'*+-.^_`|~".utf8)
        guard !bytes.isEmpty, bytes.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 | 0x20 >= 0x61 && $0 | 0x20 <= 0x7a) || extra.contains($0) })
        else { return nil }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Printable ASCII without spaces, or nil.
    private static func visible(_ bytes: ArraySlice<UInt8>) -> String? {
        guard !bytes.isEmpty, bytes.allSatisfy({ $0 > 32 && $0 < 127 }) else { return nil }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The path of an origin-form (`/metrics?x`) or absolute-form (`http://h/metrics`) target.
    private static func path(of target: String) -> String? {
        var rest = Substring(target)
        if rest.hasPrefix("http://") || rest.hasPrefix("https://") {
            rest = rest[rest.index(after: rest.firstIndex(of: ":")!)...].dropFirst(2)
            rest = rest.firstIndex(of: "/").map { rest[$0...] } ?? "/"
        }
        guard rest.hasPrefix("/") else { return nil }
        if let query = rest.firstIndex(where: { $0 == "?" || $0 == "#" }) { rest = rest[..<query] }
        return String(rest)
    }
}

/// The answer to one request: status, headers and body, rendered by `bytes`.
public struct HTTPResponse: Sendable {
    public static let metricsContentType = "text/plain; version=0.0.4; charset=utf-8"

    public var status: Int
    public var headers: [(String, String)]
    public var body: [UInt8]
    /// HEAD: the headers say what GET would send, without the body.
    public var omitBody = false

    /// The routing of the metrics endpoint: `GET`/`HEAD /metrics` → 200 with `metrics()`;
    /// another path → 404; another method → 405 with `Allow`; an unparsable request → its status.
    public static func forMetrics(_ parse: HTTPRequestParse, serving: Bool, metrics: () -> String) -> HTTPResponse {
        switch parse {
        case .incomplete:
            return plain(408, "request head not received in time\n")
        case .invalid(let status, let reason):
            return plain(status, reason + "\n")
        case .complete(let head):
            guard head.path == "/metrics" else { return plain(404, "not found: only GET /metrics is served here\n") }
            guard head.method == "GET" || head.method == "HEAD" else {
                var response = plain(405, "method \(head.method) not allowed: use GET /metrics\n")
                response.headers.append(("Allow", "GET, HEAD"))
                return response
            }
            guard serving else { return plain(503, "tokengated is still recovering; retry shortly\n") }
            let body = Array(metrics().utf8)
            return HTTPResponse(
                status: 200, headers: [("Content-Type", metricsContentType)], body: body, omitBody: head.method == "HEAD")
        }
    }

    static func plain(_ status: Int, _ text: String) -> HTTPResponse {
        HTTPResponse(status: status, headers: [("Content-Type", "text/plain; charset=utf-8")], body: Array(text.utf8))
    }

    /// The response on the wire; every answer closes the connection.
    public var bytes: [UInt8] {
        var head = "HTTP/1.1 \(status) \(Self.reasonPhrase(status))\r\n"
        for (name, value) in headers { head += "\(name): \(value)\r\n" }
        head += "Content-Length: \(body.count)\r\nConnection: close\r\n\r\n"
        return Array(head.utf8) + (omitBody ? [] : body)
    }

    static func reasonPhrase(_ status: Int) -> String {
        switch status {
        case 200: "OK"
        case 400: "Bad Request"
        case 404: "Not Found"
        case 405: "Method Not Allowed"
        case 408: "Request Timeout"
        case 431: "Request Header Fields Too Large"
        case 503: "Service Unavailable"
        case 505: "HTTP Version Not Supported"
        default: "Error"
        }
    }
}
