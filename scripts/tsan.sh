#!/usr/bin/env bash
# ThreadSanitizer run (not part of scripts/test.sh: a second instrumented tree would not fit
# CI's time budget). Builds the `tsan` preset into build-tsan/ and runs the concurrency-heavy
# tests: the worker pool, timer thread and rate limiter (common_test), the session directory,
# the store's group-commit committer (store_test, rocksdb_store_test), and the integration
# tests whose servers fan messages out across threads. `scripts/tsan.sh --all` builds
# everything and runs every unit and integration test. Other arguments go to ctest.
# Results are recorded in docs/testing.md.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
export PRESET=tsan BUILD_DIR=${BUILD_DIR:-build-tsan}
targets=(common_test directory_test store_test rocksdb_store_test parley-server
         integration_messaging_test integration_group_fanout_test integration_sparse_fanout_test
         integration_presence_typing_test integration_receipts_test integration_durability_test
         client_integration_test)
if [[ ${1:-} == --all ]]; then
  shift
  targets=()
fi
scripts/build.sh "${targets[@]}"
# halt_on_error: the first race fails its test (the server's exit status, see tests/testing).
export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1:suppressions=$PWD/tests/tsan.supp}
# Tests of binaries the default target list does not build show up as *_NOT_BUILT: skip them.
ctest --test-dir "$BUILD_DIR" --output-on-failure -j2 --timeout 900 -L 'unit|integration' \
  -E '_NOT_BUILT$' "$@"
