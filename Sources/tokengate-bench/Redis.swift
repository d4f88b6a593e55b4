// The peer: Redis over a Unix socket doing the gate the way teams do it today, an INCRBY of the
// shop's spend counter and a GET, sent together (one round trip, two commands) and counted as
// one gate call. Driven by the same C load generator as the floor, at the same concurrency.
import Foundation

enum RedisPeer {
    /// The shops the counters are spread over (as many as the TokenGate loads use).
    static func gateRequests(shops: Int) -> [[UInt8]] {
        (0..<shops).map { index in
            let key = "spend:" + Workload.shopID(index) + ":day"
            return command(["INCRBY", key, "1121100"]) + command(["GET", key])
        }
    }

    /// One RESP command.
    static func command(_ words: [String]) -> [UInt8] {
        var text = "*\(words.count)\r\n"
        for word in words { text += "$\(word.utf8.count)\r\n\(word)\r\n" }
        return Array(text.utf8)
    }

    /// INCRBY answers `:n\r\n` and GET `$len\r\nn\r\n`: three CRLFs end one gate call.
    static let crlfsPerGate = 3

    /// Starts redis-server on a Unix socket in `directory`, with or without an fsync-always AOF.
    static func start(executable: String, directory: String, appendFsyncAlways: Bool) throws -> (Child, String) {
        let socketPath = directory + "/redis.sock"
        var arguments = [
            "--port", "0", "--unixsocket", socketPath, "--unixsocketperm", "700", "--dir", directory,
            "--save", "", "--daemonize", "no", "--loglevel", "warning", "--maxclients", "1000",
        ]
        arguments += appendFsyncAlways ? ["--appendonly", "yes", "--appendfsync", "always"] : ["--appendonly", "no"]
        let child = try Child("redis-server", executable: executable, arguments: arguments, stderrPath: directory + "/redis.log")
        try Machine.waitForSocket(socketPath, child: child)
        return (child, socketPath)
    }
}
