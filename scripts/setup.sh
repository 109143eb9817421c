#!/usr/bin/env bash
# Installs what Parley needs to build and test from Debian 12 packages (and
# playwright-core from npm for the browser tests). Idempotent and quiet when
# everything is already there. Run as root (or with sudo available).
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  build-essential cmake ninja-build ccache pkg-config git curl
  libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev libboost-system1.81-dev
  librocksdb-dev libsodium-dev libssl-dev libspdlog-dev libfmt-dev libcli11-dev
  libtomlplusplus-dev libgtest-dev libgmock-dev libbenchmark-dev libcurl4-openssl-dev
  libreadline-dev openssl libvips-dev libhiredis-dev redis-server zlib1g-dev
  libpq-dev postgresql
  jq  # scripts/bench-cluster.sh sums the JSON of several bench processes
  clang-14 libclang-rt-14-dev  # the libFuzzer targets in fuzz/
  chromium
)

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$p")
done

# Node.js may come from elsewhere than Debian (with its own npm): take any.
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)

if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  SUDO=""
  [[ $(id -u) -eq 0 ]] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Browser tests drive Debian's chromium with playwright-core (no browser download).
if [[ -f tests/browser/package.json && ! -d tests/browser/node_modules/playwright-core ]]; then
  echo "setup: installing playwright-core for the browser tests"
  (cd tests/browser && npm install --no-audit --no-fund --silent >/dev/null)
fi
