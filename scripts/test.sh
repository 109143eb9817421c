#!/usr/bin/env bash
# The one command to check Parley: installs what is missing, builds the release preset into
# build/ with the libFuzzer targets (clang), and runs every test there with ctest: unit,
# integration, faults, bench-smoke, browser and fuzz. Extra arguments go to ctest (e.g.
# -L integration). PRESET=asan runs the same under AddressSanitizer + UndefinedBehaviorSanitizer
# in build-asan/ (not yet CI's default: see docs/testing.md "Time budget"); ThreadSanitizer
# runs separately: scripts/tsan.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
export PRESET=${PRESET:-release}
export CMAKE_ARGS="-DPARLEY_FUZZ=ON ${CMAKE_ARGS:-}"
export BUILD_DIR=${BUILD_DIR:-$([[ $PRESET == release ]] && echo build || echo "build-$PRESET")}
scripts/build.sh
# A sanitizer finding stops the process with a non-zero status, which fails its test (the
# harnesses check the exit status of every server they started, see tests/testing).
export ASAN_OPTIONS=${ASAN_OPTIONS:-halt_on_error=1:detect_leaks=1:check_initialization_order=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
ctest --test-dir "$BUILD_DIR" --output-on-failure -j2 --timeout 600 "$@"
