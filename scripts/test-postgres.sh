#!/usr/bin/env bash
# Runs the integration tests against parley-server on PostgreSQL: starts a
# throw-away PostgreSQL (initdb into a temp dir, a free loopback port, as the
# `postgres` user when run as root: the server refuses root), points
# tests/testing/server_process at it with PARLEY_TEST_POSTGRES (each server
# gets a fresh database), runs ctest, and stops PostgreSQL again.
# Extra arguments go to ctest (default: -L integration).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
PG_BIN=${PARLEY_PG_BIN:-/usr/lib/postgresql/15/bin}

dir=$(mktemp -d /tmp/parley-pg-XXXXXX)
as_pg=()
if [[ $(id -u) == 0 ]]; then
  chown postgres "$dir"
  as_pg=(runuser -u postgres --)
fi
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"${as_pg[@]}" "$PG_BIN/initdb" -D "$dir/data" -A trust -U parley -E UTF8 --locale=C --no-sync >/dev/null
"${as_pg[@]}" "$PG_BIN/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -w -s \
  -o "-k $dir -p $port -c listen_addresses=127.0.0.1 -F -c max_connections=400" start
stop() {
  "${as_pg[@]}" "$PG_BIN/pg_ctl" -D "$dir/data" -m fast -w -s stop || true
  rm -rf "$dir"
}
trap stop EXIT

export PARLEY_TEST_POSTGRES="postgres://parley@127.0.0.1:$port"
echo "PostgreSQL on $PARLEY_TEST_POSTGRES"
if [[ $# -eq 0 ]]; then set -- -L integration; fi
ctest --test-dir "$BUILD_DIR" --output-on-failure --timeout 600 "$@"
