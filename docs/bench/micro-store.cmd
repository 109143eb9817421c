build/bench/parley-microbench-store --benchmark_min_time=0.3
