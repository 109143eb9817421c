build-bench/bench/parley-bench --scenario pairs --pairs 500 --rate 1600 --duration 15 --plot docs/bench/pairs-latency.svg --start-server build-bench/src/app/parley-server --json docs/bench/pairs.json
