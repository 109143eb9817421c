build-bench/bench/parley-bench --scenario receipts --pairs 50 --rate 1000 --duration 3 --start-server build-bench/src/app/parley-server --json docs/bench/receipts.json
