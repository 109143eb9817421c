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
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
BUILD_DIR=${BUILD_DIR:-build-bench}
QUICK=${QUICK:-0}
OUT=docs/bench
BENCH=$BUILD_DIR/bench/parley-bench
SERVER=$BUILD_DIR/src/app/parley-server

if [[ ! -x $BENCH || ! -x $SERVER ]]; then
  echo "run-all: build first: ninja -C $BUILD_DIR parley-bench parley-server parley-microbench-frames parley-microbench-store" >&2
  exit 2
fi
mkdir -p "$OUT"
rm -f "$OUT"/*.json "$OUT"/*.svg "$OUT"/*.txt "$OUT"/*.cmd

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

# run NAME ARGS...: one scenario, its JSON, its log and its exact command line.
run() {
  local name=$1
  shift
  local cmd=("$BENCH" "$@" --start-server "$SERVER" --json "$OUT/$name.json")
  echo "${cmd[*]}" > "$OUT/$name.cmd"
  echo "+ ${cmd[*]}" >&2
  local start=$SECONDS
  if "${cmd[@]}" > "$OUT/$name.txt" 2> "$OUT/$name.log"; then :; else echo "run-all: $name exited $?" >&2; fi
  cat "$OUT/$name.txt"
  echo "($name took $((SECONDS - start)) s)" >&2
}

if [[ $QUICK == 1 ]]; then
  IDLE=200; PAIRS=50; RATE=1000; DUR=3; GROUPS=2; MEMBERS=50; GRATE=100; STORM=200; STEPS=3; STEP=2
else
  IDLE=19000; PAIRS=500; RATE=2000; DUR=15; GROUPS=4; MEMBERS=500; GRATE=400; STORM=5000; STEPS=9; STEP=5
fi

run idle --scenario idle --connections "$IDLE" --duration 10
run saturate --scenario saturate --pairs "$PAIRS" --start-rate 1000 --rate-factor 1.5 --max-steps "$STEPS" \
  --step-duration "$STEP" --drain-timeout-ms 20000 --plot "$OUT/saturate.svg"
# pairs at a moderate fixed rate (durable), and the same with --durability os
run pairs --scenario pairs --pairs "$PAIRS" --rate "$RATE" --duration "$DUR" --plot "$OUT/pairs-latency.svg"
run pairs-os --scenario pairs --pairs "$PAIRS" --rate "$RATE" --duration "$DUR" --durability os \
  --plot "$OUT/pairs-os-latency.svg"
run saturate-os --scenario saturate --pairs "$PAIRS" --start-rate 2000 --rate-factor 1.5 --max-steps "$STEPS" \
  --step-duration "$STEP" --durability os --drain-timeout-ms 20000 --plot "$OUT/saturate-os.svg"
run group --scenario group --groups "$GROUPS" --members "$MEMBERS" --rate "$GRATE" --duration "$DUR" \
  --drain-timeout-ms 30000 --plot "$OUT/group-latency.svg"
run receipts --scenario receipts --pairs "$PAIRS" --rate "$RATE" --duration "$DUR"
run storm --scenario storm --connections "$STORM" --rate 1000 --duration 10 --backoff-base-ms 100 \
  --backoff-max-ms 2000 --storm-timeout 60

# ---- microbenchmarks
MIN_TIME=$([[ $QUICK == 1 ]] && echo 0.05 || echo 0.3)
for micro in frames store; do
  bin=$BUILD_DIR/bench/parley-microbench-$micro
  if [[ -x $bin ]]; then
    echo "$bin --benchmark_min_time=$MIN_TIME" > "$OUT/micro-$micro.cmd"
    echo "+ $bin" >&2
    "$bin" --benchmark_min_time="$MIN_TIME" --benchmark_out="$OUT/micro-$micro.json" \
      --benchmark_out_format=json > "$OUT/micro-$micro.txt" 2> "$OUT/micro-$micro.log" || true
  fi
done

echo "loadavg_end=$(cut -d' ' -f1-3 /proc/loadavg)" >> "$OUT/machine.txt"
python3 bench/render_docs.py "$OUT" docs/benchmarks.md
echo "run-all: wrote docs/benchmarks.md and $OUT/" >&2
