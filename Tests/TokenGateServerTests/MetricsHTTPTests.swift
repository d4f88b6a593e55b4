// The HTTP metrics endpoint: its request parser fed whole, byte by byte and cut at every
// offset; the routing (200 / 404 / 405 / 431 / 503); the `--metrics-listen` flag's parsing and
// loopback rule; and the real daemon answering `curl`.
import Foundation
import TokenGateWire
import XCTest

@testable import TokenGateServer

final class MetricsHTTPTests: XCTestCase {
    private let scrape = Array("GET /metrics HTTP/1.1\r\nHost: 127.0.0.1:9464\r\nAccept: text/plain;version=0.0.4\r\n\r\n".utf8)

    func testAWholeRequestParsesAndEveryShorterPrefixIsIncomplete() {
        let expected = HTTPRequestParse.complete(HTTPRequestHead(method: "GET", path: "/metrics", version: "HTTP/1.1"))
        XCTAssertEqual(HTTPRequestParser.parse(scrape, headBytesMax: 8_192), expected)
        for cut in 0..<scrape.count {
            XCTAssertEqual(HTTPRequestParser.parse(Array(scrape[..<cut]), headBytesMax: 8_192), .incomplete, "cut at \(cut)")
        }
        // Bytes after the head (a body, a pipelined request) do not change it.
        XCTAssertEqual(HTTPRequestParser.parse(scrape + Array("GET / HTTP/1.1\r\n".utf8), headBytesMax: 8_192), expected)
    }

    func testTargetsAndLineEnds() {
        func path(_ text: String) -> String? {
            if case .complete(let head) = HTTPRequestParser.parse(Array(text.utf8), headBytesMax: 8_192) { return head.path }
            return nil
        }
        XCTAssertEqual(path("GET /metrics?name[]=x HTTP/1.1\r\n\r\n"), "/metrics")
        XCTAssertEqual(path("GET http://127.0.0.1:9464/metrics HTTP/1.0\r\n\r\n"), "/metrics")
        XCTAssertEqual(path("GET /metrics HTTP/1.1\nHost: x\n\n"), "/metrics")
        XCTAssertNil(path("GET metrics HTTP/1.1\r\n\r\n"))
    }

    func testMalformedRequestsGetTheirStatus() {
        func status(_ text: String, limit: Int = 8_192) -> Int? {
            if case .invalid(let status, _) = HTTPRequestParser.parse(Array(text.utf8), headBytesMax: limit) { return status }
            return nil
        }
        XCTAssertEqual(status("GET /metrics\r\n\r\n"), 400)
        XCTAssertEqual(status("GET  /metrics HTTP/1.1\r\n\r\n"), 400)
        XCTAssertEqual(status("G(T /metrics HTTP/1.1\r\n\r\n"), 400)
        XCTAssertEqual(status("GET /metrics HTTP/2.0\r\n\r\n"), 505)
        XCTAssertEqual(status("GET /metrics HTTP/1.1\r\nNo colon here\r\n\r\n"), 400)
        XCTAssertEqual(status("GET /metrics HTTP/1.1\r\nX: a\u{1}b\r\n\r\n"), 400)
        XCTAssertEqual(status("\r\n\r\n"), 400)
        // Over the limit: 431 whether or not the end has arrived.
        let long = "GET /metrics HTTP/1.1\r\nX-Long: " + String(repeating: "a", count: 2_000)
        XCTAssertEqual(status(long, limit: 1_024), 431)
        XCTAssertEqual(status(long + "\r\n\r\n", limit: 1_024), 431)
        XCTAssertEqual(HTTPRequestParser.parse(Array(long.utf8), headBytesMax: 4_096), .incomplete)
    }

    func testRouting() {
        func respond(_ text: String, serving: Bool = true) -> HTTPResponse {
            HTTPResponse.forMetrics(HTTPRequestParser.parse(Array(text.utf8), headBytesMax: 8_192), serving: serving) { "up 1\n" }
        }
        let ok = respond("GET /metrics HTTP/1.1\r\n\r\n")
        XCTAssertEqual(ok.status, 200)
        XCTAssertEqual(ok.headers.first?.1, "text/plain; version=0.0.4; charset=utf-8")
        let wire = String(decoding: ok.bytes, as: UTF8.self)
        XCTAssertTrue(wire.hasPrefix("HTTP/1.1 200 OK\r\n"), wire)
        XCTAssertTrue(wire.contains("\r\nContent-Length: 5\r\nConnection: close\r\n\r\nup 1\n"), wire)
        let head = String(decoding: respond("HEAD /metrics HTTP/1.1\r\n\r\n").bytes, as: UTF8.self)
        XCTAssertTrue(head.hasSuffix("Content-Length: 5\r\nConnection: close\r\n\r\n"), head)
        XCTAssertEqual(respond("GET / HTTP/1.1\r\n\r\n").status, 404)
        XCTAssertEqual(respond("GET /metrics/ HTTP/1.1\r\n\r\n").status, 404)
        let post = respond("POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n")
        XCTAssertEqual(post.status, 405)
        XCTAssertTrue(post.headers.contains { $0 == ("Allow", "GET, HEAD") })
        XCTAssertEqual(respond("GET /metrics HTTP/1.1\r\n\r\n", serving: false).status, 503)
        XCTAssertEqual(HTTPResponse.forMetrics(.incomplete, serving: true) { "" }.status, 408)
    }

    func testListenAddressFlagAndLoopbackRule() {
        XCTAssertEqual(MetricsListenAddress.parse("127.0.0.1:9464"), MetricsListenAddress(host: "127.0.0.1", port: 9464))
        XCTAssertEqual(MetricsListenAddress.parse("[::1]:9464"), MetricsListenAddress(host: "::1", port: 9464))
        XCTAssertEqual(MetricsListenAddress.parse("localhost:1"), MetricsListenAddress(host: "127.0.0.1", port: 1))
        for bad in ["9464", "127.0.0.1", "127.0.0.1:", ":9464", "127.0.0.1:65536", "::1:9464", "[::1]9464", "1.2.3.4:+1"] {
            XCTAssertNil(MetricsListenAddress.parse(bad), bad)
        }
        XCTAssertEqual(TCPSocket.isLoopback(host: "127.0.0.1"), true)
        XCTAssertEqual(TCPSocket.isLoopback(host: "127.9.8.7"), true)
        XCTAssertEqual(TCPSocket.isLoopback(host: "::1"), true)
        XCTAssertEqual(TCPSocket.isLoopback(host: "::ffff:127.0.0.1"), true)
        XCTAssertEqual(TCPSocket.isLoopback(host: "0.0.0.0"), false)
        XCTAssertEqual(TCPSocket.isLoopback(host: "10.0.0.1"), false)
        XCTAssertEqual(TCPSocket.isLoopback(host: "::"), false)
        XCTAssertNil(TCPSocket.isLoopback(host: "example.com"))
    }

    /// The real daemon with `--metrics-listen`, asked by curl.
    func testDaemonServesMetricsToCurl() throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/curl") else { throw XCTSkip("curl is not installed") }
        let port = try Self.freePort()
        let daemon = try TestDaemon(arguments: ["--metrics-listen", "127.0.0.1:\(port)"])
        let url = "http://127.0.0.1:\(port)"
        let ok = try Self.curl(["-sS", "-D", "-", url + "/metrics"])
        XCTAssertTrue(ok.hasPrefix("HTTP/1.1 200 OK\r\n"), ok)
        XCTAssertTrue(ok.contains("Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"), ok)
        XCTAssertTrue(ok.contains("\ntokengate_serving 1\n"), ok)
        XCTAssertEqual(try Self.curl(["-s", "-o", "/dev/null", "-w", "%{http_code}", url + "/"]), "404")
        XCTAssertEqual(try Self.curl(["-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", "POST", url + "/metrics"]), "405")
        let big = "X-Big: " + String(repeating: "b", count: 10_000)
        XCTAssertEqual(try Self.curl(["-s", "-o", "/dev/null", "-w", "%{http_code}", "-H", big, url + "/metrics"]), "431")
        // The endpoint still answers after the refusals.
        XCTAssertEqual(try Self.curl(["-s", "-o", "/dev/null", "-w", "%{http_code}", url + "/metrics"]), "200")
        _ = daemon
    }

    func testNonLoopbackAddressIsRefusedWithoutTheExplicitFlag() throws {
        let daemon = try TestDaemon()
        daemon.stop()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: TestDaemon.productsDirectory + "/tokengated")
        process.arguments = ["--socket", daemon.directory + "/other.sock", "--data-dir", daemon.directory + "/other",
                             "--metrics-listen", "0.0.0.0:0"]
        let err = Pipe()
        process.standardError = err
        try process.run()
        let text = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        XCTAssertNotEqual(process.terminationStatus, 0)
        XCTAssertTrue(text.contains("is not a loopback address") && text.contains("--metrics-listen-any"), text)
    }

    /// The endpoint in-process with a short read timeout: a peer that sends half a request
    /// head and stalls gets 408 once the timeout passed, and the endpoint answers the next one.
    func testAStalledPeerIsAnswered408AfterTheReadTimeout() throws {
        guard FileManager.default.isExecutableFile(atPath: "/bin/bash") else { throw XCTSkip("bash is not installed") }
        var limits = ServerLimits()
        limits.metricsRequestTimeoutMs = 300
        let endpoint = try MetricsHTTPServer(address: MetricsListenAddress(host: "127.0.0.1", port: 0), limits: limits)
        endpoint.start(serving: { true }, metrics: { "up 1\n" }, logger: Logger())
        let port = endpoint.address.port
        let started = Date()
        let stalled = try Self.run("/bin/bash", ["-c", "exec 3<>/dev/tcp/127.0.0.1/\(port); printf 'GET /metrics HTTP/1.1\\r\\n' >&3; cat <&3"])
        let elapsed = Date().timeIntervalSince(started)
        XCTAssertTrue(stalled.hasPrefix("HTTP/1.1 408 Request Timeout\r\n"), stalled)
        XCTAssertGreaterThanOrEqual(elapsed, 0.29)
        XCTAssertLessThan(elapsed, 5)
        let whole = try Self.run("/bin/bash", ["-c", "exec 3<>/dev/tcp/127.0.0.1/\(port); printf 'GET /metrics HTTP/1.1\\r\\n\\r\\n' >&3; cat <&3"])
        XCTAssertTrue(whole.hasPrefix("HTTP/1.1 200 OK\r\n") && whole.hasSuffix("\r\n\r\nup 1\n"), whole)
    }

    /// A port the kernel just handed out (bound, then closed).
    static func freePort() throws -> UInt16 {
        let fd = try TCPSocket.listen(host: "127.0.0.1", port: 0, backlog: 1)
        defer { UnixSocket.close(fd) }
        return try TCPSocket.boundPort(fd)
    }

    static func curl(_ arguments: [String]) throws -> String {
        try run("/usr/bin/curl", ["--max-time", "10"] + arguments)
    }

    static func run(_ executable: String, _ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let out = Pipe()
        process.standardOutput = out
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return String(decoding: data, as: UTF8.self)
    }
}
