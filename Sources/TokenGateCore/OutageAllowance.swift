// The fleet's outage allowance (DESIGN §8, issue 20 item 5): what a host cut off from PostgreSQL
// may admit beyond the lease it holds, per shop and budget window, before it fails closed. The
// spend it admits is settled against the pool once PostgreSQL is back (it may pass the cap by at
// most the allowance per host). Default 0: a host cut off admits from its lease only.
//
// Config file (a daemon setting, like `postgres`; `--fleet-outage-allowance-usd` sets the default):
//   fleet_outage_allowance  { default_usd: "0.05", shops: { SHOP: "0.50" } }

/// Per-shop outage allowances.
public struct OutageAllowance: Sendable, Equatable {
    /// Every shop's allowance unless `shops` names it.
    public var defaultNanoUSD: NanoUSD
    public var shops: [String: NanoUSD]

    public init(defaultNanoUSD: NanoUSD = 0, shops: [String: NanoUSD] = [:]) {
        self.defaultNanoUSD = defaultNanoUSD
        self.shops = shops
    }

    /// The allowance of `shopID` for each of its windows (day and month).
    public func nanoUSD(for shopID: String) -> NanoUSD { shops[shopID] ?? defaultNanoUSD }

    /// True when no shop has one.
    public var isZero: Bool { defaultNanoUSD == 0 && shops.values.allSatisfy { $0 == 0 } }
}

extension ConfigurationFile {
    /// The `fleet_outage_allowance` section of a config file (nil when the file has none).
    /// Throws `invalidArgument` naming the key, as `apply` does.
    public static func outageAllowance(_ bytes: [UInt8]) throws(TokenGateError) -> OutageAllowance? {
        let root = ConfigField(value: try JSONValue.parse(bytes), path: "")
        guard let field = try root.memberMap(allowed: topLevelKeys)["fleet_outage_allowance"] else { return nil }
        return try outageAllowance(field)
    }

    static func outageAllowance(_ field: ConfigField) throws(TokenGateError) -> OutageAllowance {
        let members = try field.memberMap(allowed: ["default_usd", "shops"])
        var allowance = OutageAllowance(defaultNanoUSD: try members["default_usd"]?.usd() ?? 0)
        if let shops = members["shops"] {
            for (shop, amount) in try shops.entries() { allowance.shops[shop] = try amount.usd() }
        }
        return allowance
    }
}
