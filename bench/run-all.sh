#!/usr/bin/env bash
# Runs Parley's standard benchmark suite and rewrites docs/benchmarks.md.
#
# Every scenario starts its own fresh parley-server (temporary data dir, free
# port on 127.0.0.1, cheap argon2 and high rate limits so that setup is quick)
# through `parley-bench --start-server`, then the microbenchmarks run. The
# figures, plots and logs go to docs/bench/; docs/benchmarks.md is rendered
# from them by bench/render_docs.py. Sized to finish in under 10 minutes on a
# 2-core machine where the generator shares the cores with the server.
#
#   bench/run-all.sh            # the standard suite
#   QUICK=1 bench/run-all.sh    # tiny sizes, to check that the suite runs
#   BUILD_DIR=build bench/run-all.sh
#   OUT=/tmp/b DOC=/tmp/b/benchmarks.md bench/run-all.sh   # elsewhere
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
BUILD_DIR=${BUILD_DIR:-build-bench}
QUICK=${QUICK:-0}
OUT=${OUT:-docs/bench}   # results, plots, logs
DOC=${DOC:-docs/benchmarks.md}
BENCH=$BUILD_DIR/bench/parley-bench
SERVER=$BUILD_DIR/src/app/parley-server

if [[ ! -x $BENCH || ! -x $SERVER ]]; then
  echo "run-all: build first: ninja -C $BUILD_DIR parley-bench parley-server parley-microbench-frames parley-microbench-store" >&2
  exit 2
fi
mkdir -p "$OUT"
rm -f "$OUT"/*.json "$OUT"/*.svg "$OUT"/*.txt "$OUT"/*.cmd "$OUT"/*.log

# ---- the machine, before anything runs
{
  echo "date=$(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "commit=$(git rev-parse HEAD 2>/dev/null || echo unknown)"
  echo "dirty=$(git status --porcelain 2>/dev/null | grep -c . || true)"
  echo "nproc=$(nproc)"
  echo "cpu=$(lscpu | sed -n 's/^Model name: *//p' | head -1)"
  echo "memory=$(free -g | awk '/^Mem:/ {print $2 " GiB"}')"
  echo "kernel=$(uname -r)"
  echo "loadavg=$(cut -d' ' -f1-3 /proc/loadavg)"
  echo "compilers_running=$(pgrep -c cc1plus || true)"
  # fsync cost of the disk the data dirs live on (4 KiB writes, O_DSYNC)
  tmp=$(mktemp -d)
  dd_out=$(dd if=/dev/zero of="$tmp/dd" bs=4k count=200 oflag=dsync 2>&1 | tail -1)
  rm -rf "$tmp"
  secs=$(echo "$dd_out" | sed -n 's/.* copied, \([0-9.]*\) s.*/\1/p')
  echo "fsync_ms=$(python3 -c "print(round(${secs:-0} * 1000 / 200, 2))")"
  echo "build_type=$(sed -n 's/^CMAKE_BUILD_TYPE:STRING=//p' "$BUILD_DIR/CMakeCache.txt")"
  echo "quick=$QUICK"
} > "$OUT/machine.txt"

# perf (when it works here) profiles the server of two runs: pairs-os and group.
PERF_DIR=$(mktemp -d)
trap 'rm -rf "$PERF_DIR"' EXIT
perf_args() {
  if command -v perf > /dev/null && perf record -o /dev/null -- true > /dev/null 2>&1; then
    echo "--perf-record $PERF_DIR/$1.data"
  fi
}
perf_summary() {
  local data=$PERF_DIR/$1.data
  [[ -f $data ]] || return 0
  set +o pipefail  # head closes its pipe early
  {
    echo "# perf record -F 999 -g -p <server pid> during the measured window of '$1'"
    echo "## CPU samples by thread name"
    perf report -i "$data" --no-children --sort comm --stdio -g none 2> /dev/null | grep '%' | head -12
    echo "## by library"
    perf report -i "$data" --no-children --sort dso --stdio -g none 2> /dev/null | grep '%' | head -10
    echo "## top functions (self)"
    perf report -i "$data" --no-children --sort dso,sym --stdio -g none 2> /dev/null | grep '%' | head -40 | cut -c1-160
  } > "$OUT/perf-$1.txt"
  set -o pipefail
}

# On a shared machine, give the bench and its server priority over background
# jobs (compilers) when allowed to (root): NICE=0 to disable.
NICE=${NICE:--10}
PRIO=()
if [[ $NICE != 0 ]] && nice -n "$NICE" true 2> /dev/null; then PRIO=(nice -n "$NICE"); fi
echo "nice=${NICE}" >> "$OUT/machine.txt"

# run NAME ARGS...: one scenario, its JSON, its log and its exact command line.
run() {
  local name=$1
  shift
  local cmd=("$BENCH" "$@" --start-server "$SERVER" --json "$OUT/$name.json")
  echo "${cmd[*]}" > "$OUT/$name.cmd"
  echo "+ ${cmd[*]}" >&2
  local start=$SECONDS
  if "${PRIO[@]}" "${cmd[@]}" > "$OUT/$name.txt"; then :; else echo "run-all: $name exited $?" >&2; fi
  cat "$OUT/$name.txt"
  echo "($name took $((SECONDS - start)) s)" >&2
}

if [[ $QUICK == 1 ]]; then
  IDLE=200; PAIRS=50; RATE=1000; DUR=3; NGROUPS=2; MEMBERS=50; GRATE=100; STORM=200; STEPS=3; STEP=2; GDUR=2; RPAIRS=10
else
  IDLE=19000; PAIRS=500; RATE=1000; DUR=15; NGROUPS=4; MEMBERS=500; GRATE=400; STORM=5000; STEPS=9; STEP=5; GDUR=5; RPAIRS=20
fi

run idle --scenario idle --connections "$IDLE" --duration 10
run saturate --scenario saturate --pairs "$PAIRS" --start-rate 1000 --rate-factor 1.5 --max-steps "$STEPS" \
  --step-duration "$STEP" --drain-timeout-ms 20000 --plot "$OUT/saturate.svg"
# pairs at half the highest rate saturate sustained (at least 1,000 msg/s): the latency of a
# server that is busy but not saturated; then the same with --durability os.
best=$(jq -r '.results.max_delivered_msg_per_s_within_limit // 0' "$OUT/saturate.json" 2>/dev/null || echo 0)
RATE=$(python3 -c "print(max($RATE, int(float('${best:-0}') / 2 / 100) * 100))")
run pairs --scenario pairs --pairs "$PAIRS" --rate "$RATE" --duration "$DUR" --plot "$OUT/pairs-latency.svg"
run pairs-os --scenario pairs --pairs "$PAIRS" --rate "$RATE" --duration "$DUR" --durability os \
  --plot "$OUT/pairs-os-latency.svg" $(perf_args pairs-os)
perf_summary pairs-os
run saturate-os --scenario saturate --pairs "$PAIRS" --start-rate 2000 --rate-factor 1.5 --max-steps "$STEPS" \
  --step-duration "$STEP" --durability os --drain-timeout-ms 20000 --plot "$OUT/saturate-os.svg"
run group --scenario group --groups "$NGROUPS" --members "$MEMBERS" --rate "$GRATE" --duration "$GDUR" \
  --drain-timeout-ms 60000 --plot "$OUT/group-latency.svg" $(perf_args group)
perf_summary group
# receipts: few conversations with many messages each, so that coalescing has something to coalesce
run receipts --scenario receipts --pairs "$RPAIRS" --rate "$RATE" --duration "$DUR"
run storm --scenario storm --connections "$STORM" --rate 1000 --duration 10 --backoff-base-ms 100 \
  --backoff-max-ms 2000 --storm-timeout 60

# ---- microbenchmarks
MIN_TIME=$([[ $QUICK == 1 ]] && echo 0.05 || echo 0.3)
for micro in frames store; do
  bin=$BUILD_DIR/bench/parley-microbench-$micro
  if [[ -x $bin ]]; then
    echo "$bin --benchmark_min_time=$MIN_TIME" > "$OUT/micro-$micro.cmd"
    echo "+ $bin" >&2
    "${PRIO[@]}" "$bin" --benchmark_min_time="$MIN_TIME" --benchmark_out="$OUT/micro-$micro.json" \
      --benchmark_out_format=json > "$OUT/micro-$micro.txt" || true
  fi
done

echo "loadavg_end=$(cut -d' ' -f1-3 /proc/loadavg)" >> "$OUT/machine.txt"
python3 bench/render_docs.py "$OUT" "$DOC"
echo "run-all: wrote $DOC and $OUT/" >&2
