#!/usr/bin/env bash
# The whole test suite, as README promises: installs what is missing, checks that the committed
# generated protobuf code is current, builds everything with warnings as errors, and runs the
# Swift tests (replaying the fuzz regression inputs and fuzzing each decoder briefly first),
# then the Python client's checks against the daemon just built (clients/python/ci.sh), then
# checks that a separate package can depend on the TokenGateClient library (scripts/consumer-check.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/ensure-deps.sh
scripts/gen-proto.sh --check
# Warnings are errors for this project's Swift code, given here rather than in Package.swift
# (SwiftPM refuses `unsafeFlags` in a package others depend on by version). -Xswiftc reaches
# only the Swift compiler, so the C targets build as before. `swift test --skip-build` below
# gets the same flags, so it runs exactly this build and never rebuilds with other settings.
swift_flags=(-Xswiftc -warnings-as-errors)
swift build --build-tests "${swift_flags[@]}"
# Hostile bytes: replay every saved fuzz regression, then fuzz each decoder for a short time.
for dir in fuzz/regressions/*/; do
  .build/debug/tokengate-fuzz-wire "$(basename "$dir")" "$dir"
done
scripts/fuzz.sh --seconds "${TOKENGATE_FUZZ_SECONDS:-20}"
# The reference parser the identifier tests feed the Prometheus exposition through (DESIGN §4).
PIP_ROOT_USER_ACTION=ignore PIP_BREAK_SYSTEM_PACKAGES=1 python3 -m pip install -q prometheus_client==0.21.1
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
swift test --skip-build "${swift_flags[@]}" --disable-swift-testing 2>&1 | tee "$log" || status=$?
# --- Python client (clients/python; issue 21) -------------------------------------------------
# clients/python/ci.sh: the tests against the oldest and the newest protobuf of the declared
# range (a venv each under .build/python/), `gen.sh --check` (generated code and typed stubs),
# and a wheel from `python -m build` installed into a fresh venv without changing its protobuf.
python_log=$(mktemp)
trap 'rm -f "$log" "$python_log"' EXIT
python_status=0
clients/python/ci.sh 2>&1 | tee "$python_log" || python_status=$?
[ $python_status = 0 ] || status=$python_status
# --- end of the Python client's section --------------------------------------------------------
# A separate package depending on TokenGateClient by a version tag: one more passed or failed.
consumer_status=0
scripts/consumer-check.sh || consumer_status=$?
[ $consumer_status = 0 ] || status=$consumer_status
# One plain closing line for any reader: the totals of XCTest's last summary plus pytest's (a
# Python stage that failed before pytest could report counts as one failure) plus the
# consumer check's one.
summary=$(grep -E "Executed [0-9]+ tests?, with [0-9]+ failures?" "$log" | tail -n 1 || true)
total=$(echo "$summary" | sed -E 's/.*Executed ([0-9]+) tests?.*/\1/')
failed=$(echo "$summary" | sed -E 's/.*with ([0-9]+) failures?.*/\1/')
# (the Python client's pytest runs twice, once per end of the protobuf range: both are summed)
python_summary=$(grep -E "^=*[ ]*[0-9]+ (passed|failed|errors?)" "$python_log" || true)
python_passed=$(( $(echo "$python_summary" | grep -oE "[0-9]+ passed" | grep -oE "[0-9]+" | paste -sd+ - || true) + 0 ))
python_failed=$(( $(echo "$python_summary" | grep -oE "[0-9]+ (failed|errors?)" | grep -oE "^[0-9]+" | paste -sd+ - || true) + 0 ))
[ $python_status != 0 ] && [ $python_failed = 0 ] && python_failed=1  # a failed check beside pytest counts once
consumer_passed=$(( consumer_status == 0 ? 1 : 0 ))
consumer_failed=$(( 1 - consumer_passed ))
[ -n "$summary" ] && echo "$((total - failed + python_passed + consumer_passed)) passed, $((failed + python_failed + consumer_failed)) failed"
exit $status
