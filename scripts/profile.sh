#!/usr/bin/env bash
# Instructions per call on each side of a sequential CanMakeRequest (or LogUsage) round trip,
# counted by valgrind's callgrind, which stays stable on a busy machine where timings do not.
# Usage: scripts/profile.sh [can|log] [CALLS]   (builds release first; needs valgrind)
# Leaves the callgrind files in $PROFILE_DIR (default /tmp/tokengate-profile) for
# callgrind_annotate. Debug info is stripped from copies of the binaries because valgrind
# 3.19 cannot read the toolchain's DWARF 5; symbol names remain.
set -euo pipefail
cd "$(dirname "$0")/.."
kind=${1:-can}
calls=${2:-2000}
dir=${PROFILE_DIR:-/tmp/tokengate-profile}
command -v valgrind >/dev/null || { echo "valgrind is not installed (apt-get install -y valgrind)" >&2; exit 1; }
swift build -c release --product tokengate-bench >/dev/null
rm -rf "$dir" && mkdir -p "$dir"
strip --strip-debug -o "$dir/bench" .build/release/tokengate-bench
socket="$dir/gate.sock"
valgrind --tool=callgrind --callgrind-out-file="$dir/server.%p" "$dir/bench" --profile-server "$socket" "$dir/data" \
    >"$dir/server.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for _ in $(seq 200); do [ -S "$socket" ] && break; sleep 0.1; done
.build/release/tokengate-bench --profile-client "$socket" 200 "$kind"
callgrind_control -z "$server" >/dev/null
.build/release/tokengate-bench --profile-client "$socket" "$calls" "$kind"
callgrind_control -d "$server" >/dev/null
sleep 1
total() { grep -h "^summary:\|^totals:" "$@" | head -n 1 | awk '{print $2}'; }
server_ir=$(total "$dir"/server.*.1)
for n in "$calls" $((calls * 2)); do
    valgrind --tool=callgrind --callgrind-out-file="$dir/client.$n" "$dir/bench" --profile-client "$socket" "$n" "$kind" \
        >"$dir/client.$n.log" 2>&1
done
client_ir=$(( ($(total "$dir/client.$((calls * 2))") - $(total "$dir/client.$calls")) ))
echo "$kind: server $((server_ir / calls)) instructions/call, client $((client_ir / calls)) instructions/call ($calls calls)"
