build/bench/parley-microbench-frames --benchmark_min_time=0.3
