build-bench/bench/parley-bench --scenario receipts --pairs 20 --rate 1600 --duration 15 --start-server build-bench/src/app/parley-server --json docs/bench/receipts.json
