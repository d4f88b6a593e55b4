#!/usr/bin/env bash
# Regenerates the Python protobuf modules committed under clients/python/tokengate/v1 from the
# schema in proto/ (tokengate_pb2.py and storage_pb2.py, with .pyi type stubs), and the typed
# stubs of the clients (tokengate/client.pyi, tokengate/aio.pyi: a method per RPC of the
# service, read from the generated descriptor by gen_stubs.py; needs the protobuf runtime).
# `clients/python/gen.sh --check` regenerates into a temporary folder and fails when the
# committed copy differs (scripts/test.sh runs it), so the schema and this code never drift.
# protoc must be 3.21.x (Debian 12's protobuf-compiler); its output runs on every protobuf
# runtime in pyproject.toml's range, which scripts/test.sh proves at both ends.
set -euo pipefail
cd "$(dirname "$0")"
root=../..

want_version="3.21"
if ! command -v protoc >/dev/null 2>&1; then
  echo "gen.sh: protoc is missing; install it with: apt-get install -y protobuf-compiler" >&2
  exit 2
fi
have_version=$(protoc --version | awk '{print $2}')
case "$have_version" in
  "$want_version".*) ;;
  *) echo "gen.sh: protoc $have_version found, $want_version.x expected (its output is what the declared protobuf range is tested with)" >&2; exit 2 ;;
esac

protos=(tokengate/v1/tokengate.proto tokengate/v1/storage.proto)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
protoc --proto_path="$root/proto" --python_out="$out" --pyi_out="$out" "${protos[@]}"
# gen_stubs.py needs a Python with the protobuf runtime: $PYTHON, ci.sh's newest venv, python3,
# or else a small venv made here (pip, the newest protobuf of pyproject.toml's range).
python=""
for candidate in "${PYTHON:-}" "$root/.build/python/newest/bin/python" "$root/.build/python/gen/bin/python" python3; do
  if [ -n "$candidate" ] && "$candidate" -c 'import google.protobuf' >/dev/null 2>&1; then python=$candidate; break; fi
done
if [ -z "$python" ]; then
  range=$(sed -nE 's/^dependencies = \["protobuf(>=[0-9.]+,<[0-9.]+)"\]$/\1/p' pyproject.toml)
  echo "gen.sh: no Python with protobuf found; making $root/.build/python/gen (protobuf$range)" >&2
  python3 -m venv "$root/.build/python/gen"
  "$root/.build/python/gen/bin/python" -m pip install -q --disable-pip-version-check "protobuf$range"
  python="$root/.build/python/gen/bin/python"
fi
"$python" gen_stubs.py "$out/tokengate" "$out/tokengate/v1"

files=()
for p in "${protos[@]}"; do
  base=${p%.proto}
  files+=("${base}_pb2.py" "${base}_pb2.pyi")
done
files+=(tokengate/client.pyi tokengate/aio.pyi)

if [ "${1:-}" = "--check" ]; then
  status=0
  for f in "${files[@]}"; do
    cmp -s "$out/$f" "$f" || { echo "gen.sh: clients/python/$f is stale" >&2; status=1; }
  done
  [ $status = 0 ] && echo "gen.sh: generated Python code is current"
  [ $status = 0 ] || echo "gen.sh: run clients/python/gen.sh and commit the result" >&2
  exit $status
fi

for f in "${files[@]}"; do cp "$out/$f" "$f"; done
echo "gen.sh: regenerated ${files[*]}"
