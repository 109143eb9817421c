build-bench/bench/parley-bench --scenario pairs --pairs 50 --rate 1000 --duration 3 --plot docs/bench/pairs-latency.svg --start-server build-bench/src/app/parley-server --json docs/bench/pairs.json
