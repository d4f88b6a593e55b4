#!/usr/bin/env bash
# Builds the libFuzzer harness (tokengate-fuzz-wire) with AddressSanitizer and runs each target
# for a bounded time; exits non-zero when any target finds a crash (saved under fuzz/crashes/).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=30
targets=()
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) seconds=$2; shift 2 ;;
    -h|--help) echo "usage: scripts/fuzz.sh [--seconds N] [frames|envelope|requests|facts|records|http ...]"; exit 0 ;;
    *) targets+=("$1"); shift ;;
  esac
done
[ ${#targets[@]} -gt 0 ] || targets=(frames envelope requests facts records http)

swift build --scratch-path .build-fuzz --product tokengate-fuzz-wire \
  -Xswiftc -sanitize=fuzzer,address -Xswiftc -DFUZZING -Xswiftc -use-ld=lld >&2
binary=.build-fuzz/debug/tokengate-fuzz-wire
status=0
for target in "${targets[@]}"; do
  corpus=$(mktemp -d)
  cp fuzz/regressions/"$target"/* "$corpus"/ 2>/dev/null || true
  mkdir -p fuzz/crashes/"$target"
  log=$(mktemp)
  if TOKENGATE_FUZZ_TARGET=$target "$binary" -max_total_time="$seconds" -rss_limit_mb=2048 \
      -artifact_prefix=fuzz/crashes/"$target"/ "$corpus" >"$log" 2>&1; then
    runs=$(grep -Eo 'Done [0-9]+ runs' "$log" | awk '{print $2}' | tail -n 1)
    echo "fuzz $target: ${runs:-?} runs in ${seconds}s, no crash"
  else
    echo "fuzz $target: FAILED (input saved under fuzz/crashes/$target/)" >&2
    tail -n 30 "$log" >&2
    status=1
  fi
  rm -rf "$corpus" "$log"
done
exit $status
