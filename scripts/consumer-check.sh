#!/usr/bin/env bash
# Proves that another package can depend on the TokenGateClient library: builds, in a temp
# directory, a separate package whose main.swift is README.md's Swift client example, depending
# on this repository by a version tag. A version dependency is the strict case: SwiftPM allows
# `unsafeFlags` in the root package and in path or branch dependencies, but refuses a tagged
# dependency whose products use them, so a path dependency would build even with the flags back.
# The tag is made on a throwaway git repository holding this working tree's files (tracked and
# untracked, not ignored), so uncommitted changes are what gets checked. One debug build of the
# client and what it needs (protobuf-c's generated code), in its own scratch path.
# Prints "consumer-check: ok" and exits 0, or says what failed and exits 1.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

mkdir -p "$work/tokengate" "$work/consumer/Sources/consumer"
(cd "$repo" && git ls-files -z --cached --others --exclude-standard) \
  | (cd "$repo" && xargs -0 cp --parents -t "$work/tokengate" 2>/dev/null || true)
(cd "$work/tokengate" && git init -q && git add -A \
  && git -c user.name=check -c user.email=check@localhost commit -qm snapshot && git tag 1.0.0)

cat > "$work/consumer/Package.swift" <<EOF
// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "consumer",
    dependencies: [.package(url: "file://$work/tokengate", from: "1.0.0")],
    targets: [.executableTarget(name: "consumer", dependencies: [.product(name: "TokenGateClient", package: "tokengate")])]
)
EOF
# README.md's Swift example, in a function so it only has to compile.
cat > "$work/consumer/Sources/consumer/main.swift" <<'EOF'
import TokenGateClient

func example() async throws {
    var configuration = TokenGateClient.Configuration(socketPath: "/tmp/tokengate.sock")
    configuration.whenUnreachable = .failOpen(timeoutMs: 250)  // or .failClosed
    configuration.spoolDirectory = "/var/spool/chat-worker/tokengate"  // optional: survives a worker restart
    let gate = try TokenGateClient(configuration: configuration)

    let verdict = try await gate.canMakeRequest(.init(shopID: "shop_1", estimatedInputTokens: 2_000, maxOutputTokens: 500))
    if verdict.decision == .allow {
        // ... call the model, then:
        switch try await gate.logUsageOrSpool(.init(shopID: "shop_1", inputTokens: 2_062, outputTokens: 201)) {
        case .logged(let response): print("cost", response.costNanoUSD)
        case .spooled(let eventID, let depth, _): print("daemon away; \(eventID) is spooled (\(depth) waiting)")
        }
    }
    print(gate.metrics)  // calls, errors, failOpenCount, failClosedCount, spoolDepth, resentCount, ...
}

print("consumer built")
EOF

log="$work/build.log"
if (cd "$work/consumer" && swift build --scratch-path "$work/consumer/.build" > "$log" 2>&1) \
  && "$work/consumer/.build/debug/consumer" | grep -q "consumer built"; then
  echo "consumer-check: ok (a package depending on TokenGateClient by version tag builds and runs)"
else
  tail -n 30 "$log" >&2
  echo "consumer-check: FAILED: a separate package could not build against TokenGateClient (log above)" >&2
  exit 1
fi
