#!/usr/bin/env bash
# Regenerates the code committed from proto/: the protobuf-c code under Sources/TokenGateProtoC
# and the Swift message types, conversions and method paths under Sources/*/Generated
# (scripts/gen-swift.py, from protoc's descriptor set; issue 22).
# `scripts/gen-proto.sh --check` regenerates into a temporary folder and fails when the
# committed copy differs (CI runs it), so the schema and the generated code never drift.
set -euo pipefail
cd "$(dirname "$0")/.."

want_version="1.4"
if ! command -v protoc-c >/dev/null 2>&1; then
  echo "gen-proto: protoc-c is missing; install it with: apt-get install -y protobuf-c-compiler" >&2
  exit 2
fi
version_text=$(protoc-c --version 2>&1 || true)
have_version=$(printf "%s\n" "$version_text" | awk "NR==1 {print \$2}")
case "$have_version" in
  "$want_version".*) ;;
  *) echo "gen-proto: protoc-c $have_version found, $want_version.x expected (the committed code was made with it)" >&2; exit 2 ;;
esac

if ! command -v protoc >/dev/null 2>&1 || ! python3 -c 'import google.protobuf' >/dev/null 2>&1; then
  echo "gen-proto: protoc or the protobuf Python runtime is missing; run scripts/ensure-deps.sh (apt-get install -y protobuf-compiler python3-protobuf)" >&2
  exit 2
fi

protos=(tokengate/v1/tokengate.proto tokengate/v1/storage.proto)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
protoc-c --proto_path=proto --c_out="$out" "${protos[@]}"
protoc --proto_path=proto --include_source_info --include_imports --descriptor_set_out="$out/descriptors.pb" "${protos[@]}"
swift_generated=(
  Sources/TokenGateCore/Generated/Messages.generated.swift
  Sources/TokenGateWire/Generated/Wire.generated.swift
  Sources/TokenGateWire/Generated/Methods.generated.swift
)

target=Sources/TokenGateProtoC
place() {  # place DEST_ROOT: lay generated files out as SwiftPM wants them
  local root=$1
  mkdir -p "$root/tokengate/v1" "$root/include/tokengate/v1"
  for p in "${protos[@]}"; do
    local base=${p%.proto}
    cp "$out/$base.pb-c.c" "$root/$base.pb-c.c"
    cp "$out/$base.pb-c.h" "$root/include/$base.pb-c.h"
  done
}

if [ "${1:-}" = "--check" ]; then
  fresh=$(mktemp -d)
  trap 'rm -rf "$out" "$fresh"' EXIT
  place "$fresh"
  status=0
  for p in "${protos[@]}"; do
    base=${p%.proto}
    cmp -s "$fresh/$base.pb-c.c" "$target/$base.pb-c.c" || { echo "gen-proto: $target/$base.pb-c.c is stale" >&2; status=1; }
    cmp -s "$fresh/include/$base.pb-c.h" "$target/include/$base.pb-c.h" || { echo "gen-proto: $target/include/$base.pb-c.h is stale" >&2; status=1; }
  done
  python3 scripts/gen-swift.py "$out/descriptors.pb" "$fresh/swift"
  for f in "${swift_generated[@]}"; do
    cmp -s "$fresh/swift/$f" "$f" || { echo "gen-proto: $f is stale" >&2; status=1; }
  done
  [ $status = 0 ] && echo "gen-proto: generated code is current"
  [ $status = 0 ] || echo "gen-proto: run scripts/gen-proto.sh and commit the result" >&2
  exit $status
fi

place "$target"
python3 scripts/gen-swift.py "$out/descriptors.pb" .
echo "gen-proto: regenerated ${protos[*]} into $target and ${swift_generated[*]}"
