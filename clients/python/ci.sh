#!/usr/bin/env bash
# The Python client's whole check (scripts/test.sh runs it after the Swift tests):
#  1. the tests against the OLDEST and the NEWEST protobuf of the range pyproject.toml declares,
#     each in a venv of its own under .build/python/ (pip reaches PyPI);
#  2. `gen.sh --check`: the generated protobuf code and the clients' typed stubs are current;
#  3. `python -m build` makes a wheel that installs into a fresh venv holding the newest protobuf
#     WITHOUT changing that protobuf, and imports there.
# The tests start .build/debug/tokengated (or $TOKENGATED); build it first.
set -euo pipefail
cd "$(dirname "$0")"
root=$(cd ../.. && pwd)
venvs="$root/.build/python"
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_ROOT_USER_ACTION=ignore

range=$(sed -nE 's/^dependencies = \["protobuf(>=[0-9.]+,<[0-9.]+)"\]$/\1/p' pyproject.toml)
oldest=$(echo "$range" | sed -nE 's/^>=([0-9.]+),.*/\1/p')
[ -n "$oldest" ] || { echo "ci.sh: cannot read the protobuf range from pyproject.toml" >&2; exit 2; }

venv() {  # venv NAME PIP-ARGS...: creates (once) and updates .build/python/NAME
  local name=$1; shift
  [ -x "$venvs/$name/bin/python" ] || python3 -m venv "$venvs/$name"
  "$venvs/$name/bin/python" -m pip install -q --upgrade "$@"
}

status=0
for end in oldest newest; do
  if [ $end = oldest ]; then pin="protobuf==$oldest"; else pin="protobuf$range"; fi
  venv "$end" . "$pin" -r requirements-test.txt
  version=$("$venvs/$end/bin/python" -c 'import google.protobuf as p; print(p.__version__)')
  echo "python client: tests with the $end protobuf of $range: $version"
  "$venvs/$end/bin/python" -m pytest -q -p no:cacheprovider tests || status=1
done

PYTHON="$venvs/newest/bin/python" ./gen.sh --check || status=1

# The wheel, installed as a user would into an environment that already has the newest protobuf.
venv newest build
dist=$(mktemp -d)
trap 'rm -rf "$dist"' EXIT
if ! "$venvs/newest/bin/python" -m build --wheel --outdir "$dist" . >"$dist/build.log" 2>&1; then
  cat "$dist/build.log" >&2
  exit 1
fi
wheel=$(ls "$dist"/tokengate_client-*.whl)
python3 -m venv "$dist/fresh"
"$dist/fresh/bin/python" -m pip install -q protobuf
before=$("$dist/fresh/bin/python" -c 'import google.protobuf as p; print(p.__version__)')
"$dist/fresh/bin/python" -m pip install -q "$wheel"
after=$("$dist/fresh/bin/python" -c 'import google.protobuf as p; print(p.__version__)')
(cd "$dist" && fresh/bin/python -c '
import os, tokengate, tokengate.aio
assert tokengate.Client.export_usage_csv and tokengate.aio.Client.watch_alerts
folder = os.path.dirname(tokengate.__file__)
assert all(os.path.exists(os.path.join(folder, f)) for f in ("py.typed", "client.pyi", "aio.pyi", "v1/tokengate_pb2.pyi"))
print("python client: wheel", os.path.basename("'"$wheel"'"), "installs and imports, with", len(tokengate.METHODS), "RPC methods")
')  || status=1
if [ "$before" = "$after" ]; then
  echo "python client: installing the wheel kept protobuf $before"
else
  echo "python client: installing the wheel CHANGED protobuf from $before to $after" >&2
  status=1
fi
exit $status
