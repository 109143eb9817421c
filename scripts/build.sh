#!/usr/bin/env bash
# Configures (once) and builds everything with CMake + Ninja + ccache into build/.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
if [[ ! -f "$BUILD_DIR/build.ninja" ]]; then
  cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo ${CMAKE_ARGS:-} >/dev/null
fi
ninja -C "$BUILD_DIR" ${NINJA_ARGS:-} "$@"
