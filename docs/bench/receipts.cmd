build/bench/parley-bench --scenario receipts --pairs 20 --rate 2500 --duration 15 --start-server build/src/app/parley-server --json docs/bench/receipts.json
