build/bench/parley-bench --scenario pairs --pairs 500 --rate 2500 --duration 15 --plot docs/bench/pairs-latency.svg --start-server build/src/app/parley-server --json docs/bench/pairs.json
