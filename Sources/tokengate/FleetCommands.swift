// Fleet verbs (DESIGN §8, issue 20), run against PostgreSQL directly rather than a daemon:
// `tokengate fleet status` lists the budget pools and the hosts' leases (and how far each host
// applied the fleet's configuration changes), and `tokengate fleet
// release-host HOST` writes off a host's outstanding leases (a host gone for good, or one whose
// log has been shipped: spend it made and never shipped would otherwise count twice against
// the cap). Who may write to the database is the admin here.
import Foundation
import TokenGateCore
import TokenGatePostgres

let fleetCommands: [Command] = [
    Command(
        name: "fleet", synopsis: "fleet status|release-host HOST [--postgres CONNINFO]",
        summary: "budget pools and leases in PostgreSQL; release-host writes off a crashed host's leases (admin)",
        options: ["--postgres"]
    ) { arguments in
        guard let conninfo = arguments.string("--postgres") ?? ProcessInfo.processInfo.environment["TOKENGATE_POSTGRES"],
            !conninfo.isEmpty
        else { throw UsageError(message: "missing --postgres CONNINFO (or $TOKENGATE_POSTGRES)") }
        let connection = try PostgresConnection(conninfo: conninfo)
        var report = Report()
        switch try arguments.positional(0, "subcommand (status or release-host)") {
        case "release-host":
            let host = try arguments.positional(1, "HOST")
            let released = try LeaseStore.releaseHost(host, connection: connection)
            report.add("host_id", host)
            report.add("leases_released", UInt64(released.leases))
            report.addMoney("released", released.amountNanoUSD)
        case "status":
            let rows = try connection.query(
                "SELECT shop_id, budget_window, coalesce(cap_nano_usd, 0), settled_nano_usd, leased_nano_usd, "
                    + "(SELECT count(*) FROM tokengate_leases l WHERE l.shop_id = p.shop_id AND l.budget_window = p.budget_window "
                    + "AND l.amount_nano_usd > 0) FROM tokengate_budget_pools p ORDER BY 1, 2")
            let pools = rows.rows.map { row in
                row.map { $0 ?? "" }.enumerated().map { index, text in
                    (2...4).contains(index) ? Money.formatUSD(NanoUSD(text) ?? 0) : text
                }.joined(separator: " ")
            }
            report.add("pools", UInt64(pools.count))
            report.addList("shop window cap settled leased hosts", pools, json: pools.map { .string($0) })
            // Fleet configuration: the last change published and how far each host applied it.
            let config = try ConfigStatements.status(connection: connection)
            report.add("config_sequence", UInt64(max(config.head, 0)))
            let hosts = config.hosts.map { "\($0.0) \($0.1) \($0.2)" }
            report.addList("config host applied_seq applied_at", hosts, json: hosts.map { .string($0) })
        case let other:
            throw UsageError(message: "unknown subcommand '\(other)' (status or release-host)")
        }
        return OfflineOutcome(report: report, exitCode: 0)
    }
]
