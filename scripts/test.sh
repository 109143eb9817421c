#!/usr/bin/env bash
# The one command to check Parley: installs what is missing, builds everything,
# and runs every test (unit, integration, browser) with ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh
ctest --test-dir "${BUILD_DIR:-build}" --output-on-failure -j2 --timeout 600 "$@"
