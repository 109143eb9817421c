#!/usr/bin/env bash
# Cluster mode on one machine (docs/operations.md "Cluster mode"): starts a throw-away
# PostgreSQL and redis-server, three parley-server nodes on loopback ports sharing them, and
# shows two users on different nodes chatting through parley-cli: bob listens on node 2 while
# alice sends from node 1, then bob answers through node 3. The cluster keeps running (a web
# client on each node) until Ctrl-C, which stops everything and removes the temp dir.
# DEMO_EXIT=1 stops right after the chat (used by the ctest smoke test).
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ -z "${DEMO_NO_SETUP:-}" ]]; then
  scripts/setup.sh
  scripts/build.sh parley-server parley-cli
fi
SERVER=${PARLEY_SERVER:-build/src/app/parley-server}
CLI=${PARLEY_CLI:-build/client/cli/parley-cli}
PG_BIN=${PARLEY_PG_BIN:-/usr/lib/postgresql/15/bin}

# A loopback port nobody listens on (bash's /dev/tcp: no python needed).
free_port() {
  local p
  while :; do
    p=$((20000 + RANDOM % 40000))
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
  done
}
dir=$(mktemp -d /tmp/parley-cluster-XXXXXX)
pids=()
as_pg=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait "${pids[@]}" 2>/dev/null || true
  "${as_pg[@]}" "$PG_BIN/pg_ctl" -D "$dir/pg" -m fast -w -s stop 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 0' INT TERM

# PostgreSQL (as the postgres user when run as root: it refuses root) and Redis.
if [[ $(id -u) == 0 ]]; then
  chown postgres "$dir"
  as_pg=(runuser -u postgres --)
fi
pg_port=$(free_port)
"${as_pg[@]}" "$PG_BIN/initdb" -D "$dir/pg" -A trust -U parley -E UTF8 --locale=C --no-sync >/dev/null
"${as_pg[@]}" "$PG_BIN/pg_ctl" -D "$dir/pg" -l "$dir/postgres.log" -w -s \
  -o "-k $dir -p $pg_port -c listen_addresses=127.0.0.1" start
redis_port=$(free_port)
redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no \
  --dir "$dir" >"$dir/redis.log" 2>&1 &
pids+=($!)
for _ in $(seq 50); do redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break; sleep 0.1; done

export PARLEY_CLUSTER_SECRET=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
mkdir -p "$dir/shared"  # one data dir for all: uploaded media is readable through every node
for n in 1 2 3; do
  # Port 0: each node takes a free port and logs it (no race with other programs).
  "$SERVER" --node-id "$n" --listen 127.0.0.1:0 --internal-listen 127.0.0.1:0 \
    --store "postgres://parley@127.0.0.1:$pg_port/postgres" --redis "redis://127.0.0.1:$redis_port" \
    --data-dir "$dir/shared" >"$dir/node$n.log" 2>&1 &
  pids+=($!)
done
ports=()
for n in 1 2 3; do
  port=
  for _ in $(seq 150); do
    port=$(grep -o 'event=listening address=127.0.0.1:[0-9]*' "$dir/node$n.log" | grep -o '[0-9]*$' || true)
    [[ -n $port ]] && curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && break
    sleep 0.1
  done
  [[ -n $port ]] && curl -sf "http://127.0.0.1:$port/readyz" >/dev/null ||
    { echo "node $n did not become ready:"; cat "$dir/node$n.log"; exit 1; }
  ports+=("$port")
done
echo "PostgreSQL :$pg_port, Redis :$redis_port, nodes :${ports[0]} :${ports[1]} :${ports[2]}"

# parley-cli keeps a token for the server it logged in to; any node accepts it (the tokens
# live in PostgreSQL), so each user's config is copied once per node.
cli() {
  local who=$1 node=$2 url="http://127.0.0.1:${ports[$2 - 1]}"
  shift 2
  local config="$dir/$who-node$node.toml"
  [[ -f $config ]] || sed "s|^server = .*|server = '$url'|" "$dir/$who.toml" >"$config"
  "$CLI" --config "$config" --server "$url" "$@"
}
for who in alice bob; do
  login=("$CLI" --config "$dir/$who.toml" --server "http://127.0.0.1:${ports[0]}")
  echo "demo-password-$who" | "${login[@]}" register "$who" >/dev/null
  echo "demo-password-$who" | "${login[@]}" login "$who" >/dev/null
done

# Bob listens on node 2 (stdin held open, so the session stays up).
sleep 30 | cli bob 2 chat alice >"$dir/bob-chat.out" 2>&1 &
listener=$!
pids+=("$listener")
sleep 1
echo "alice@node1 → bob: hello from node 1"
cli alice 1 send bob "hello from node 1" >/dev/null
for _ in $(seq 50); do grep -q "hello from node 1" "$dir/bob-chat.out" && break; sleep 0.1; done
grep -q "hello from node 1" "$dir/bob-chat.out" ||
  { echo "bob's session on node 2 did not receive it:"; cat "$dir/bob-chat.out"; exit 1; }
echo "bob's session on node 2 received it live:"
grep "hello from node 1" "$dir/bob-chat.out" | sed 's/^/    /'
echo "bob@node3 → alice: hi alice, from node 3"
cli bob 3 send alice "hi alice, from node 3" >/dev/null
echo "alice reads the conversation through node 2:"
cli alice 2 history bob | sed 's/^/    /'
kill "$listener" 2>/dev/null || true

[[ -n "${DEMO_EXIT:-}" ]] && exit 0
echo
echo "The cluster keeps running. Web client on each node:"
for n in 1 2 3; do echo "  node $n: http://127.0.0.1:${ports[n - 1]}/"; done
echo "Logs in $dir. Ctrl-C stops everything."
while true; do sleep 3600; done
