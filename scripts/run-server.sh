#!/usr/bin/env bash
# The one command to try Parley: installs what is missing, builds, and runs the
# server on http://127.0.0.1:8080 with its embedded store under ./data.
# Extra arguments go to parley-server (see build/src/app/parley-server --help).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh parley-server
# The defaults (127.0.0.1:8080, ./data) unless the arguments say otherwise.
listen=127.0.0.1:8080
defaults=(--data-dir ./data)
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
  case "${args[i]}" in
    --listen) listen="${args[i + 1]:-$listen}" ;;
    --listen=*) listen="${args[i]#--listen=}" ;;
    --data-dir | --data-dir=*) defaults=() ;;
  esac
done
echo
echo "Parley is starting. Web client: http://${listen}/  (Ctrl-C stops it)"
echo
exec build/src/app/parley-server "${defaults[@]}" "$@"
