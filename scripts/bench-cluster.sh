#!/usr/bin/env bash
# parley-bench against a cluster on one machine (docs/benchmarks.md "Cluster"): starts a
# throw-away PostgreSQL and redis-server, N parley-server nodes on loopback ports sharing
# them (with the bench's server arguments: cheap password hashing, high rate limits), runs
# each given parley-bench scenario against all nodes, prints the results and stops and
# removes everything on exit.
#
#   scripts/bench-cluster.sh [--nodes N] [--out DIR] [--per-process N] -- BENCH-ARGS [-- BENCH-ARGS ...]
#   scripts/bench-cluster.sh --nodes 3 -- --scenario pairs --pairs 100 --rate 1000 --duration 10
#   scripts/bench-cluster.sh --nodes 6 -- --scenario idle --connections 100000 --duration 20
#
# Every run gets --server with every node and --server-pid with their pids (pairs span two
# nodes, other connections go round robin). An idle run with more connections than one
# process may hold (--per-process, default 18000: `ulimit -n` is 20000 here) is split into
# one bench process per node, each holding its share on its own node; they meet at a
# barrier so that all connections are held at once, the script reads every node's open
# connections and RSS while they are (give --duration 3 or more), and sums the processes'
# JSON (jq) into one result.
# --out DIR keeps every JSON result and the logs there. BENCH/SERVER override the binaries.
set -euo pipefail
cd "$(dirname "$0")/.."
SERVER=${SERVER:-build/src/app/parley-server}
BENCH=${BENCH:-build/bench/parley-bench}
nodes=3
out=""
per_process=18000
while [[ $# -gt 0 && $1 != -- ]]; do
  case $1 in
    --nodes) nodes=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --per-process) per_process=$2; shift 2 ;;
    *) echo "bench-cluster: unknown option $1 (options: --nodes N --out DIR --per-process N, then -- BENCH-ARGS)" >&2
       exit 2 ;;
  esac
done
[[ $# -gt 1 ]] || { echo "bench-cluster: give -- BENCH-ARGS (e.g. -- --scenario pairs --pairs 100)" >&2; exit 2; }
[[ $nodes =~ ^[1-9][0-9]*$ ]] || { echo "bench-cluster: --nodes must be a positive number" >&2; exit 2; }
for tool in "$SERVER" "$BENCH"; do
  [[ -x $tool ]] || { echo "bench-cluster: $tool not built (scripts/build.sh parley-server parley-bench)" >&2; exit 2; }
done
command -v jq >/dev/null || { echo "bench-cluster: needs jq (scripts/setup.sh installs it)" >&2; exit 2; }

source scripts/lib/cluster.sh
dir=$(mktemp -d /tmp/parley-bench-cluster-XXXXXX)
[[ -n $out ]] && mkdir -p "$out"
results=${out:-$dir}
pids=()  # bench processes
node_pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait "${pids[@]}" 2>/dev/null || true
  stop_cluster "$dir"
  [[ -n $out ]] && cp "$dir"/*.log "$out"/ 2>/dev/null
  rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

start_postgres "$dir"
# Each node holds a committer connection and a read pool of 8 (src/store/postgres).
max_conn=$(psql -h 127.0.0.1 -p "$pg_port" -U parley -d postgres -Atc 'SHOW max_connections')
if ((nodes * 9 + 5 > max_conn)); then
  echo "bench-cluster: $nodes nodes need $((nodes * 9)) PostgreSQL connections; max_connections is $max_conn" >&2
  exit 2
fi
start_redis "$dir"
mapfile -t bench_args < <("$BENCH" --print-server-args)
start_nodes "$dir" "$nodes" "$SERVER" "${bench_args[@]}"
ports=("${node_ports[@]}")
servers=$(printf '127.0.0.1:%s,' "${ports[@]}")
servers=${servers%,}
server_pids=$(IFS=,; echo "${node_pids[*]}")
echo "PostgreSQL :$pg_port (max_connections $max_conn), Redis :$redis_port, $nodes nodes: $servers"

# Value of `--NAME V` in a run's arguments (empty when absent).
arg_of() {
  local name=$1
  shift
  while [[ $# -gt 0 ]]; do
    [[ $1 == "$name" ]] && { echo "${2:-}"; return; }
    [[ $1 == "$name="* ]] && { echo "${1#*=}"; return; }
    shift
  done
}

# CPU ticks (user + system) of the given processes; and of each part of the cluster.
cpu_ticks() {
  local total=0 p
  for p in "$@"; do
    [[ -r /proc/$p/stat ]] && total=$((total + $(awk '{sub(/.*\) /, ""); print $12 + $13}' "/proc/$p/stat")))
  done
  echo "$total"
}
pg_master=$(head -1 "$dir/pg/postmaster.pid")
cpu_parts() {
  echo "$(cpu_ticks "$pg_master" $(pgrep -P "$pg_master")) $(cpu_ticks "$redis_pid") $(cpu_ticks "${node_pids[@]}")"
}
# Prints and writes (run N, nanoseconds, ticks before, ticks after) the cores each part used.
report_cpu() {
  local run=$1 secs tck
  secs=$(jq -n "$2 / 1e9 | . * 10 | round / 10")
  tck=$(getconf CLK_TCK)
  read -r pg0 rd0 nd0 <<<"$3"
  read -r pg1 rd1 nd1 <<<"$4"
  jq -n --argjson s "$secs" --argjson t "$tck" --argjson pg $((pg1 - pg0)) --argjson rd $((rd1 - rd0)) \
    --argjson nd $((nd1 - nd0)) '{seconds: $s, postgres_cores: ($pg / $t / $s), redis_cores: ($rd / $t / $s),
    nodes_cores: ($nd / $t / $s)}' >"$results/run$run-cpu.json"
  jq -r '"CPU over the whole run (\(.seconds) s, setup included): nodes \(.nodes_cores * 100 | round / 100),"
    + " PostgreSQL \(.postgres_cores * 100 | round / 100), Redis \(.redis_cores * 100 | round / 100) cores"' \
    "$results/run$run-cpu.json"
}

# The arguments without `--NAME V` / `--NAME=V`.
without_arg() {
  local name=$1
  shift
  while [[ $# -gt 0 ]]; do
    if [[ $1 == "$name" ]]; then shift 2; continue; fi
    [[ $1 == "$name="* ]] || printf '%s\n' "$1"
    shift
  done
}

# An idle run split over one bench process per node (see the header).
run_idle_split() {
  local run=$1 connections=$2
  shift 2
  local share=$(((connections + nodes - 1) / nodes))
  if ((share > per_process)); then
    echo "bench-cluster: $connections connections over $nodes nodes is $share per process;" \
      "at most $per_process fit in one (use more --nodes)" >&2
    return 2
  fi
  local barrier="$dir/barrier-$run" bench_pids=() left=$connections rc=0 rest
  mapfile -t rest < <(without_arg --connections "$@")
  mkdir -p "$barrier"
  echo "== run $run: $connections idle connections, one bench process per node ($share each)"
  for n in $(seq "$nodes"); do
    local mine=$((left < share ? left : share))
    left=$((left - mine))
    "$BENCH" "${rest[@]}" --connections "$mine" --server "127.0.0.1:${ports[n - 1]}" \
      --server-pid "${node_pids[n - 1]}" --barrier-dir "$barrier" --barrier-count "$nodes" \
      --json "$results/run$run-bench$n.json" >"$dir/run$run-bench$n.log" 2>&1 &
    bench_pids+=($!)
    pids+=($!)
  done
  # While all of them hold: every node's open sessions and RSS at one moment.
  local t0=$SECONDS
  while (($(ls "$barrier" | wc -l) < nodes)); do
    for pid in "${bench_pids[@]}"; do
      if ! kill -0 "$pid" 2>/dev/null; then
        echo "a bench process ended before the barrier: stopping the others"
        for other in "${bench_pids[@]}"; do kill "$other" 2>/dev/null || true; done
        break 2
      fi
    done
    sleep 1
  done
  if (($(ls "$barrier" | wc -l) >= nodes)); then
    echo "all $nodes bench processes connected after $((SECONDS - t0)) s (registration included)"
    sleep 3  # the benches settle 2 s after the barrier, then hold for their --duration
    local total=0
    for n in $(seq "$nodes"); do
      local open rss
      # The kernel's count of established sockets on the node's public port (the
      # parley_connections gauge also counts the node-to-node links).
      open=$(ss -Htn state established "( sport = :${ports[n - 1]} )" | wc -l)
      rss=$(awk '/^VmRSS/ {print $2}' "/proc/${node_pids[n - 1]}/status")
      echo "  node $n: $open established connections on its port, RSS $rss KiB"
      total=$((total + open))
    done
    echo "  held at once: $total connections over $nodes nodes"
    ((total >= connections)) || { echo "bench-cluster: fewer sessions held than $connections" >&2; rc=1; }
    echo "$total" >"$results/run$run-held.txt"
  fi
  for pid in "${bench_pids[@]}"; do wait "$pid" || rc=1; done
  for n in $(seq "$nodes"); do sed -n '/^== parley-bench/,$p' "$dir/run$run-bench$n.log"; done
  ((rc == 0)) || for n in $(seq "$nodes"); do tail -5 "$dir/run$run-bench$n.log"; done
  jq -s --argjson held "$(cat "$results/run$run-held.txt" 2>/dev/null || echo 0)" '{
      scenario: "idle", processes: length, held_at_once: $held,
      connections: (map(.results.connections // 0) | add),
      open_at_end: (map(.results.open_at_end // 0) | add),
      setup_users_seconds_max: (map(.setup_users_seconds // 0) | max),
      connect_seconds_max: (map(.results.connect_seconds // 0) | max),
      connects_per_s_total: ((map(.results.connections // 0) | add) / (map(.results.connect_seconds // 1) | max)),
      server_rss_before_kib: (map(.results.server_rss_before_kib // 0) | add),
      server_rss_after_kib: (map(.results.server_rss_after_kib // 0) | add),
      server_rss_per_connection_kib: (((map(.results.server_rss_after_kib // 0) | add) -
                                      (map(.results.server_rss_before_kib // 0) | add)) /
                                     (map(.results.connections // 1) | add)),
      bench_rss_per_connection_kib: (map(.results.bench_rss_per_connection_kib // 0) | add / length),
      nodes: map({server: .server_address, connections: .results.connections,
                  open_at_end: .results.open_at_end, rss_before_kib: .results.server_rss_before_kib,
                  rss_after_kib: .results.server_rss_after_kib,
                  rss_per_connection_kib: .results.server_rss_per_connection_kib,
                  connect_seconds: .results.connect_seconds, setup_users_seconds: .setup_users_seconds}),
      problems: (map(.problems // 1) | add), ok: (map(.ok == true) | all)
    }' "$results"/run"$run"-bench*.json | tee "$results/run$run.json"
  [[ $(jq .ok "$results/run$run.json") == true ]] || rc=1
  return $rc
}

status=0
run=0
shift  # the first --
while [[ $# -gt 0 ]]; do
  args=()
  while [[ $# -gt 0 && $1 != -- ]]; do args+=("$1"); shift; done
  [[ $# -gt 0 ]] && shift
  run=$((run + 1))
  cpu_before=$(cpu_parts) started=$(date +%s%N)
  scenario=$(arg_of --scenario "${args[@]}")
  connections=$(arg_of --connections "${args[@]}")
  if [[ $scenario == idle && -n $connections ]] && ((connections > per_process)); then
    run_idle_split "$run" "$connections" "${args[@]}" || status=1
  else
    echo "== run $run: parley-bench ${args[*]} (against $nodes nodes)"
    "$BENCH" "${args[@]}" --server "$servers" --server-pid "$server_pids" \
      --json "$results/run$run.json" || status=1
  fi
  report_cpu "$run" $(($(date +%s%N) - started)) "$cpu_before" "$(cpu_parts)"
done
echo "PostgreSQL max_connections $max_conn; backends in use at the end:" \
  "$(psql -h 127.0.0.1 -p "$pg_port" -U parley -d postgres -Atc 'SELECT count(*) FROM pg_stat_activity')"
[[ -n $out ]] && echo "results in $out"
exit $status
