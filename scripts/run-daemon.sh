#!/usr/bin/env bash
# Builds tokengated (release) and runs it in the foreground with embedded defaults; extra
# arguments go to the daemon (see `scripts/run-daemon.sh --help`). The socket is
# $TOKENGATE_SOCKET, else /run/tokengate/tokengate.sock for root, else
# $XDG_RUNTIME_DIR/tokengate/tokengate.sock; `tokengate` finds it the same way.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/ensure-deps.sh
swift build -c release --product tokengated >&2
swift build -c release --product tokengate >&2
exec .build/release/tokengated "$@"
