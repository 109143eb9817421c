#!/usr/bin/env bash
# The one command to try Parley: installs what is missing, builds, and runs the
# server on http://127.0.0.1:8080 with its embedded store under ./data.
# Extra arguments go to parley-server (see build/src/app/parley-server --help).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh parley-server
echo
echo "Parley is starting. Web client: http://127.0.0.1:8080/  (Ctrl-C stops it)"
echo
exec build/src/app/parley-server --data-dir ./data "$@"
