#!/usr/bin/env bash
# Installs what building TokenGate needs when it is missing: libprotobuf-c (the C runtime the
# wire module links), protoc-c and protoc (to check the committed generated C and Python code),
# pip, venv and curl for the Python client's and the HTTP metrics endpoint's tests, libpq (the
# PostgreSQL module) and the PostgreSQL server the shipping tests start. Debian packages.
set -euo pipefail
need=()
pkg-config --exists libprotobuf-c 2>/dev/null || need+=(libprotobuf-c-dev pkg-config)
command -v protoc-c >/dev/null 2>&1 || need+=(protobuf-c-compiler)
command -v protoc >/dev/null 2>&1 || need+=(protobuf-compiler)  # clients/python/gen.sh --check
python3 -c 'import google.protobuf' >/dev/null 2>&1 || need+=(python3-protobuf)  # scripts/gen-swift.py (gen-proto.sh)
python3 -m pip --version >/dev/null 2>&1 || need+=(python3-pip)  # the Python client's tests
python3 -c 'import ensurepip, venv' >/dev/null 2>&1 || need+=(python3-venv)  # clients/python/ci.sh's venvs
command -v curl >/dev/null 2>&1 || need+=(curl)  # the HTTP /metrics endpoint's tests
pkg-config --exists libpq 2>/dev/null || need+=(libpq-dev pkg-config)  # TokenGatePostgres (DESIGN §8)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)  # the PostgreSQL tests' server
if [ ${#need[@]} -gt 0 ]; then
  echo "ensure-deps: installing ${need[*]}" >&2
  sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y "${need[@]}"
fi
