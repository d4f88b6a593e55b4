// tokengate-bench: measures TokenGate against the raw Unix-socket floor and Redis on this
// machine (issue 6, DESIGN.md §9). The same binary also serves as the echo server and the
// pinned client it starts, so one build holds everything a run needs.
import Foundation
import TokenGateClient

let arguments = Array(CommandLine.arguments.dropFirst())
switch arguments.first {
case "--echo-server":
    guard arguments.count == 5, let request = Int(arguments[3]), let response = Int(arguments[4]) else {
        fail("--echo-server thread|epoll SOCKET REQUEST_BYTES RESPONSE_BYTES")
    }
    RawLoad.serveEcho(socketPath: arguments[2], epoll: arguments[1] == "epoll", requestBytes: request, responseBytes: response)
case "--profile-server":
    guard arguments.count == 3 else { fail("--profile-server SOCKET DATA_DIR") }
    do { try ProfileRoles.serve(socketPath: arguments[1], dataDirectory: arguments[2]) } catch { fail("\(error)") }
case "--profile-recover":
    guard arguments.count == 2 else { fail("--profile-recover DATA_DIR") }
    ProfileRoles.recover(dataDirectory: arguments[1])
case "--profile-client":
    guard arguments.count == 4, let count = Int(arguments[2]) else { fail("--profile-client SOCKET CALLS can|log") }
    ProfileRoles.call(socketPath: arguments[1], count: count, logUsage: arguments[3] == "log")
case "--generate":
    guard arguments.count == 4, let shops = Int(arguments[2]), let events = Int(arguments[3]), shops > 0, events >= shops else {
        fail("--generate DATA_DIR SHOPS EVENTS (events >= shops > 0)")
    }
    do {
        let bytes = try ScaleData.generate(directory: arguments[1], shops: shops, events: events, nowMs: SystemClockReading.nowMs())
        print("wrote \(events) usage events over \(shops) shops (\(bytes) bytes of log) to \(arguments[1])")
    } catch {
        fail("\(error)")
    }
case "--load-client":
    guard arguments.count == 6, let connections = Int(arguments[3]), let inFlight = Int(arguments[4]), let seconds = Double(arguments[5])
    else { fail("--load-client SOCKET can|log CONNECTIONS IN_FLIGHT SECONDS") }
    await ProfileRoles.load(
        socketPath: arguments[1], logUsage: arguments[2] == "log", connections: connections, inFlight: inFlight, seconds: seconds)
case "--raw-load":
    guard arguments.count == 7, let connections = Int(arguments[2]), let depth = Int(arguments[3]),
        let request = Int(arguments[4]), let response = Int(arguments[5]), let seconds = Double(arguments[6])
    else { fail("--raw-load SOCKET CONNECTIONS DEPTH REQUEST_BYTES RESPONSE_BYTES SECONDS") }
    ProfileRoles.rawLoad(
        socketPath: arguments[1], connections: connections, depth: depth, requestBytes: request, responseBytes: response,
        seconds: seconds)
case "--raw-gate":
    guard arguments.count == 4, let connections = Int(arguments[2]), let seconds = Double(arguments[3]), connections > 0
    else { fail("--raw-gate SOCKET CONNECTIONS SECONDS") }
    await ProfileRoles.rawGate(socketPath: arguments[1], connections: connections, seconds: seconds)
case "--pinned-client":
    await PinnedClient.run(Array(arguments.dropFirst()))
default:
    let options = BenchOptions.parse(arguments)
    do {
        exit(try await BenchRun(options: options).run())
    } catch {
        fail("\(error)")
    }
}
