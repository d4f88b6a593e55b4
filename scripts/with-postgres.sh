#!/usr/bin/env bash
# Runs a command with a throwaway PostgreSQL of its own: Debian's postgresql binaries, a data
# directory and Unix socket in a temp directory owned by the `postgres` user (initdb and pg_ctl
# refuse to run as root), no TCP (listen_addresses=''), a port away from 5432, stopped and
# removed by a trap whatever happens. The command gets TOKENGATE_TEST_POSTGRES, a libpq conninfo
# for the server's `postgres` database; tests create a database of their own in it.
#   scripts/with-postgres.sh swift test --skip-build --filter Postgres
set -euo pipefail
bin=${TOKENGATE_PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)}
[ -x "$bin/initdb" ] || { echo "with-postgres: no PostgreSQL server binaries (apt-get install postgresql)" >&2; exit 1; }
port=${TOKENGATE_PG_PORT:-$((54000 + RANDOM % 1000))}
dir=$(mktemp -d /tmp/tokengate-pg.XXXXXX)
as_postgres() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
[ "$(id -u)" = 0 ] && chown postgres: "$dir"
chmod 700 "$dir"
stop() {
  as_postgres "$bin/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap stop EXIT
as_postgres "$bin/initdb" -D "$dir/data" -U postgres -A trust --no-sync >"$dir/initdb.log" 2>&1 \
  || { cat "$dir/initdb.log" >&2; exit 1; }
# In the config file, not on pg_ctl's command line, so a test's `pg_ctl start` gets them too.
printf "%s\n" "listen_addresses = ''" "unix_socket_directories = '$dir'" "port = $port" "max_connections = 200" \
  | as_postgres tee -a "$dir/data/postgresql.conf" >/dev/null
as_postgres "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w start >/dev/null || { cat "$dir/server.log" >&2; exit 1; }
# For tests that stop and restart the server (PostgreSQL down under load).
export TOKENGATE_TEST_PG_CTL="$bin/pg_ctl"
export TOKENGATE_TEST_PG_DATA="$dir/data"
export TOKENGATE_TEST_PG_RUN_AS=$([ "$(id -u)" = 0 ] && echo postgres || echo "")
export TOKENGATE_TEST_POSTGRES="host=$dir port=$port user=postgres dbname=postgres"
echo "with-postgres: PostgreSQL $("$bin/postgres" --version | awk '{print $3}') on $dir port $port" >&2
"$@"
