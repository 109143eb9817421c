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

source scripts/lib/cluster.sh
dir=$(mktemp -d /tmp/parley-cluster-XXXXXX)
node_pids=()
listeners=()
cleanup() {
  set +e  # everything below is best effort
  kill "${listeners[@]}" 2>/dev/null
  stop_cluster "$dir"
  rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 0' INT TERM

start_postgres "$dir"
start_redis "$dir"
start_nodes "$dir" 3 "$SERVER"
ports=("${node_ports[@]}")
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
mkfifo "$dir/bob-stdin"
sleep 60 >"$dir/bob-stdin" &
listeners+=($!)
cli bob 2 chat alice <"$dir/bob-stdin" >"$dir/bob-chat.out" 2>&1 &
listeners+=($!)
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
kill "${listeners[@]}" 2>/dev/null || true
listeners=()

[[ -n "${DEMO_EXIT:-}" ]] && exit 0
echo
echo "The cluster keeps running. Web client on each node:"
for n in 1 2 3; do echo "  node $n: http://127.0.0.1:${ports[n - 1]}/"; done
echo "Logs in $dir. Ctrl-C stops everything."
while true; do sleep 3600; done
