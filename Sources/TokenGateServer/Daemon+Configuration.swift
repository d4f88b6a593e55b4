// The daemon's configuration at startup: embedded defaults, then the optional JSON config file
// (`--config`), then the run-time changes recovery replays from the log. A bad file or a
// conflict between the file and a logged change stops startup with a message naming the key;
// a periodic sweep then keeps in-memory gate state (holds, rate-limit buckets) bounded.
import Dispatch
import Foundation
import TokenGateCore
import TokenGateStore

extension Daemon {
    /// How often the sweep forgets expired holds and idle rate-limit state.
    static let sweepIntervalMs = 10_000

    /// The defaults, overridden by `options.configFile` when given; exits through `fail` with
    /// the file name and the offending key when the file is unreadable or invalid.
    static func loadConfiguration(_ options: DaemonOptions, fail: (String) -> Never) -> Configuration {
        var configuration = loadConfigurationFile(options, fail: fail)
        if let hours = options.billingGraceHours { configuration.billingGraceMs = Int64(hours) * 3_600_000 }
        return configuration
    }

    private static func loadConfigurationFile(_ options: DaemonOptions, fail: (String) -> Never) -> Configuration {
        guard let path = options.configFile else { return .defaults }
        guard let handle = FileHandle(forReadingAtPath: path) else { fail("config file \(path): cannot be opened for reading") }
        defer { try? handle.close() }
        let data: Data
        do {
            data = try handle.read(upToCount: ConfigurationFile.bytesMax + 1) ?? Data()
        } catch {
            fail("config file \(path): \(error)")
        }
        do {
            return try ConfigurationFile.apply([UInt8](data), to: .defaults)
        } catch {
            fail("config file \(path): \(error.message)")
        }
    }

    /// Fleet mode's outage allowances: the config file's `fleet_outage_allowance`, its default
    /// replaced by `--fleet-outage-allowance-usd` when given.
    static func fleetOutageAllowance(_ options: DaemonOptions, fail: (String) -> Never) -> OutageAllowance {
        var allowance = OutageAllowance()
        if let path = options.configFile, let data = FileManager.default.contents(atPath: path) {
            do {
                allowance = try ConfigurationFile.outageAllowance([UInt8](data)) ?? allowance
            } catch {
                fail("config file \(path): \(error.message)")
            }
        }
        if let amount = options.fleetOutageAllowanceNanoUSD { allowance.defaultNanoUSD = amount }
        return allowance
    }

    /// `options` with the config file's `postgres` section applied where neither a flag nor
    /// `$TOKENGATE_POSTGRES` set shipping up (those win over the file).
    static func withConfigFilePostgres(_ options: DaemonOptions, fail: (String) -> Never) -> DaemonOptions {
        guard options.postgres == nil, let path = options.configFile,
            let data = FileManager.default.contents(atPath: path)
        else { return options }
        do {
            guard let settings = try ConfigurationFile.postgresSettings([UInt8](data)), let conninfo = settings.conninfo,
                !conninfo.isEmpty
            else { return options }
            var shipping = ShipperOptions(conninfo: conninfo, hostID: settings.hostID ?? DaemonOptions.hostIDDefault)
            if let bytes = settings.shipBacklogBytesMax { shipping.backlogBytesMax = Int(clamping: bytes) }
            var options = options
            options.postgres = shipping
            return options
        } catch {
            fail("config file \(path): \(error.message)")
        }
    }

    /// After recovery: the base with the logged run-time changes replayed must still be valid.
    static func checkRecoveredConfiguration(_ ledger: Ledger, options: DaemonOptions, fail: (String) -> Never) {
        guard let problem = ledger.configurationProblem() else { return }
        let file = options.configFile.map { "the config file \($0)" } ?? "the embedded defaults"
        fail("the configuration (\(file) with \(ledger.runtimeChangeCount) run-time changes from the log replayed over it) "
            + "is invalid: \(problem). A run-time change conflicts with the file: fix the file to allow it.")
    }

    /// Sweeps the ledger every `sweepIntervalMs` on a background queue.
    static func startSweeper(ledger: Ledger, clock: any WallClock) {
        let timer = DispatchSource.makeTimerSource(queue: .global(qos: .utility))
        timer.schedule(deadline: .now() + .milliseconds(sweepIntervalMs), repeating: .milliseconds(sweepIntervalMs))
        timer.setEventHandler { ledger.sweep(now: clock.nowUnixMs()) }
        timer.resume()
        sweepTimer = timer
    }

    /// Keeps the sweep timer alive for the life of the process (set once, at startup).
    nonisolated(unsafe) private static var sweepTimer: (any DispatchSourceTimer)?
}
