#!/usr/bin/env bash
# The whole test suite, as README promises: installs what is missing, checks that the committed
# generated protobuf code is current, builds everything with warnings as errors, and runs the
# Swift tests.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/ensure-deps.sh
scripts/gen-proto.sh --check
swift build --build-tests
swift test --skip-build
