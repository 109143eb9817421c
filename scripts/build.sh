#!/usr/bin/env bash
# Configures (once) and builds with CMake + Ninja + ccache. PRESET picks a configure preset of
# CMakePresets.json (release → build/, asan → build-asan/, tsan → build-tsan/); default release.
set -euo pipefail
cd "$(dirname "$0")/.."
PRESET=${PRESET:-release}
BUILD_DIR=${BUILD_DIR:-$([[ $PRESET == release ]] && echo build || echo "build-$PRESET")}
# Let ccache hit across clones in other folders (CI builds a fresh clone).
export CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=true CCACHE_MAXSIZE=${CCACHE_MAXSIZE:-5G}
if [[ ! -f "$BUILD_DIR/build.ninja" ]]; then
  cmake --preset "$PRESET" -B "$BUILD_DIR" ${CMAKE_ARGS:-} >/dev/null
elif [[ -n "${CMAKE_ARGS:-}" ]]; then
  cmake -B "$BUILD_DIR" ${CMAKE_ARGS} >/dev/null  # e.g. the test command turns the fuzz targets on
fi
ninja -C "$BUILD_DIR" ${NINJA_ARGS:-} "$@"
