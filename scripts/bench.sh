#!/usr/bin/env bash
# The benchmark in one command (docs/performance.md): installs redis-server when it is missing
# (the peer comparison; skipped with --no-redis), builds tokengated and tokengate-bench in
# release mode, and runs the benchmark with the given arguments (--quick, --json, ...), under a
# throwaway PostgreSQL for the ship section.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/ensure-deps.sh
if [[ " $* " != *" --no-redis "* ]] && ! command -v redis-server >/dev/null 2>&1; then
  echo "bench: installing redis-server for the peer comparison" >&2
  sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  if ! { $sudo apt-get update && $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y redis-server; } >&2; then
    echo "bench: could not install redis-server; the Redis figures will read n/a" >&2
  fi
fi
swift build -c release --product tokengated >&2
swift build -c release --product tokengate-bench >&2
# The ship section needs a PostgreSQL: a throwaway one (scripts/with-postgres.sh) unless
# TOKENGATE_BENCH_POSTGRES names a server to use.
[ -n "${TOKENGATE_BENCH_POSTGRES:-}" ] || exec scripts/with-postgres.sh .build/release/tokengate-bench "$@"
exec .build/release/tokengate-bench "$@"
