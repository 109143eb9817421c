# Sourced by scripts/cluster-demo.sh and scripts/bench-cluster.sh: a throw-away PostgreSQL,
# a redis-server and N parley-server nodes on loopback, all under one temp dir. Sets globals:
# pg_port, redis_port, redis_pid, node_ports[], node_pids[]; the caller stops them with
# stop_cluster (nodes and Redis by pid, PostgreSQL with pg_ctl) and removes the dir.
PG_BIN=${PARLEY_PG_BIN:-/usr/lib/postgresql/15/bin}
as_pg=()

# A loopback port nobody listens on (bash's /dev/tcp: no python needed), below the
# ephemeral range that outgoing connections use.
free_port() {
  local p
  while :; do
    p=$((20000 + RANDOM % 12000))
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
  done
}

# PostgreSQL in DIR/pg (as the postgres user when run as root: it refuses root).
start_postgres() {
  local dir=$1
  if [[ $(id -u) == 0 ]]; then
    chown postgres "$dir"
    as_pg=(runuser -u postgres --)
  fi
  pg_port=$(free_port)
  "${as_pg[@]}" "$PG_BIN/initdb" -D "$dir/pg" -A trust -U parley -E UTF8 --locale=C --no-sync >/dev/null
  "${as_pg[@]}" "$PG_BIN/pg_ctl" -D "$dir/pg" -l "$dir/postgres.log" -w -s \
    -o "-k $dir -p $pg_port -c listen_addresses=127.0.0.1" start
}

start_redis() {
  local dir=$1
  redis_port=$(free_port)
  redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no \
    --dir "$dir" >"$dir/redis.log" 2>&1 &
  redis_pid=$!
  for _ in $(seq 50); do redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break; sleep 0.1; done
}

# start_nodes DIR N SERVER [ARGS...]: N nodes on one shared data dir (uploaded media is
# readable through every node), each on a free port it picks itself (port 0, read back from
# its log: no race with other programs), waiting until each answers /readyz.
start_nodes() {
  local dir=$1 count=$2 server=$3 n port
  shift 3
  export PARLEY_CLUSTER_SECRET=${PARLEY_CLUSTER_SECRET:-$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')}
  mkdir -p "$dir/shared"
  node_ports=() node_pids=()
  for n in $(seq "$count"); do
    "$server" --node-id "$n" --listen 127.0.0.1:0 --internal-listen 127.0.0.1:0 \
      --store "postgres://parley@127.0.0.1:$pg_port/postgres" --redis "redis://127.0.0.1:$redis_port" \
      --data-dir "$dir/shared" "$@" >"$dir/node$n.log" 2>&1 &
    node_pids+=($!)
  done
  for n in $(seq "$count"); do
    port=
    for _ in $(seq 300); do
      port=$(grep -o 'event=listening address=127.0.0.1:[0-9]*' "$dir/node$n.log" | grep -o '[0-9]*$' || true)
      [[ -n $port ]] && curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && break
      sleep 0.1
    done
    [[ -n $port ]] && curl -sf "http://127.0.0.1:$port/readyz" >/dev/null ||
      { echo "node $n did not become ready:"; cat "$dir/node$n.log"; return 1; }
    node_ports+=("$port")
  done
}

# Nodes first, then Redis (nodes log Redis errors otherwise), then PostgreSQL. For EXIT
# traps: best effort, so it turns `set -e` off.
stop_cluster() {
  set +e
  local dir=$1
  for pid in "${node_pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${node_pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  [[ -n ${redis_pid:-} ]] && { kill "$redis_pid" 2>/dev/null; wait "$redis_pid" 2>/dev/null || true; }
  "${as_pg[@]}" "$PG_BIN/pg_ctl" -D "$dir/pg" -m fast -w -s stop 2>/dev/null || true
}
