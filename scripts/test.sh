#!/usr/bin/env bash
# The whole test suite, as README promises: installs what is missing, checks that the committed
# generated protobuf code is current, builds everything with warnings as errors, and runs the
# Swift tests, replays the fuzz regression inputs and fuzzes each decoder briefly.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/ensure-deps.sh
scripts/gen-proto.sh --check
swift build --build-tests
# Hostile bytes: replay every saved fuzz regression, then fuzz each decoder for a short time.
for dir in fuzz/regressions/*/; do
  .build/debug/tokengate-fuzz-wire "$(basename "$dir")" "$dir"
done
scripts/fuzz.sh --seconds "${TOKENGATE_FUZZ_SECONDS:-20}"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
swift test --skip-build --disable-swift-testing 2>&1 | tee "$log" || status=$?
# One plain closing line for any reader: the totals of XCTest's last summary.
summary=$(grep -E "Executed [0-9]+ tests?, with [0-9]+ failures?" "$log" | tail -n 1 || true)
total=$(echo "$summary" | sed -E 's/.*Executed ([0-9]+) tests?.*/\1/')
failed=$(echo "$summary" | sed -E 's/.*with ([0-9]+) failures?.*/\1/')
[ -n "$summary" ] && echo "$((total - failed)) passed, $failed failed"
exit $status
