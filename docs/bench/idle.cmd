build/bench/parley-bench --scenario idle --connections 19000 --duration 10 --start-server build/src/app/parley-server --json docs/bench/idle.json
