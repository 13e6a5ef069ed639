#!/usr/bin/env bash
# Runs the API and the order worker side by side until Ctrl-C, then stops both
# gracefully (SIGTERM, wait). Used by `make run`; expects `make build` first.
set -euo pipefail
cd "$(dirname "$0")/.."

bin=./target/debug
"$bin/seam-api" &
api=$!
"$bin/seam-order-worker" &
worker=$!

stop() {
  trap - INT TERM
  kill -TERM "$api" "$worker" 2>/dev/null || true
  wait "$api" "$worker" 2>/dev/null || true
}
# Ctrl-C or SIGTERM: a requested stop, so a clean exit once both have stopped.
trap 'stop; exit 0' INT TERM

# Exit when either process exits, stopping the other.
status=0
wait -n "$api" "$worker" || status=$?
stop
exit "$status"
