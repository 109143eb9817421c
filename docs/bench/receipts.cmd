build-bench/bench/parley-bench --scenario receipts --pairs 500 --rate 1100 --duration 15 --start-server build-bench/src/app/parley-server --json docs/bench/receipts.json
