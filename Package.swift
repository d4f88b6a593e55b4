// swift-tools-version:6.0
// TokenGate: a per-shop LLM budget gate served over a Unix socket. The modules depend one way:
// Core (pure domain) <- Wire (protobuf-c framing and conversion), Store (shards, log,
// snapshots) and Postgres (libpq, schema, shipped rows) <- Server <- tokengated; Wire <- Client
// <- tokengate. Clock (the monotonic clock) <- Store, Server and Client.
import PackageDescription

// Warnings are errors in this project's own builds, passed by scripts/test.sh
// (`-Xswiftc -warnings-as-errors`), not here: SwiftPM refuses `unsafeFlags` in a package that
// another package depends on by version.

let package = Package(
    name: "TokenGate",
    products: [
        .library(name: "TokenGateClient", targets: ["TokenGateClient"]),
        .executable(name: "tokengated", targets: ["tokengated"]),
        .executable(name: "tokengate", targets: ["tokengate"]),
        .executable(name: "tokengate-bench", targets: ["tokengate-bench"]),
    ],
    targets: [
        .systemLibrary(
            name: "CProtobufC",
            pkgConfig: "libprotobuf-c",
            providers: [.apt(["libprotobuf-c-dev"])]
        ),
        // PostgreSQL (DESIGN §8): libpq fenced in TokenGatePostgres, as protobuf-c is in the wire.
        .systemLibrary(name: "CLibPQ", pkgConfig: "libpq", providers: [.apt(["libpq-dev"])]),
        .target(name: "TokenGatePostgres", dependencies: ["CLibPQ", "TokenGateCore"]),
        .target(name: "TokenGateProtoC", dependencies: ["CProtobufC"]),
        .target(name: "CTokenGateSys"),
        .target(name: "CTokenGateCRC"),
        .target(name: "CBenchFloor"),
        .target(name: "TokenGateClock"),
        .target(name: "TokenGateCore"),
        .target(name: "TokenGateWire", dependencies: ["TokenGateProtoC", "TokenGateCore"]),
        .target(name: "TokenGateStore", dependencies: ["TokenGateCore", "TokenGateClock", "CTokenGateCRC"]),
        .target(
            name: "TokenGateServer",
            dependencies: [
                "TokenGateCore", "TokenGateClock", "TokenGateWire", "TokenGateStore", "TokenGatePostgres", "CTokenGateSys",
            ]
        ),
        .target(
            name: "TokenGateClient", dependencies: ["TokenGateCore", "TokenGateClock", "TokenGateWire"],
            swiftSettings: [.enableUpcomingFeature("NonisolatedNonsendingByDefault")]
        ),
        .executableTarget(name: "tokengated", dependencies: ["TokenGateServer"]),
        .executableTarget(
            name: "tokengate",
            // TokenGatePostgres: `tokengate fleet` talks to PostgreSQL directly (issue 20).
            dependencies: ["TokenGateClient", "TokenGateStore", "TokenGatePostgres"]
        ),
        .executableTarget(
            name: "tokengate-fuzz-wire",
            dependencies: ["TokenGateWire", "TokenGateStore", "TokenGateServer"]
        ),
        .executableTarget(
            name: "tokengate-bench",
            dependencies: [
                "TokenGateClient", "TokenGateClock", "TokenGateServer", "TokenGateStore", "TokenGateWire", "TokenGatePostgres",
                "CBenchFloor",
            ]
        ),
        // What the test targets share (a seeded generator).
        .target(name: "TokenGateTestSupport", path: "Tests/TokenGateTestSupport"),
        .testTarget(name: "TokenGateCoreTests", dependencies: ["TokenGateCore", "TokenGateTestSupport"]),
        .testTarget(name: "TokenGateWireTests", dependencies: ["TokenGateWire", "TokenGateCore", "TokenGateTestSupport"]),
        .testTarget(name: "TokenGateStoreTests", dependencies: ["TokenGateStore", "TokenGateWire", "TokenGateTestSupport"]),
        .testTarget(name: "TokenGateClientTests", dependencies: ["TokenGateClient", "TokenGateWire", "TokenGateTestSupport"]),
        .testTarget(
            name: "TokenGateServerTests",
            dependencies: ["TokenGateServer", "TokenGateClient", "TokenGateWire", "TokenGatePostgres", "TokenGateTestSupport"]),
    ]
)
