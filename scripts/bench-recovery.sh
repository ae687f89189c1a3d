#!/usr/bin/env bash
# History, recovery and coalescing, measured against a release build of Concord:
#
#   scripts/bench-recovery.sh                      # every scenario: history, coalescing, memory, storm
#   scripts/bench-recovery.sh storm coalescing     # some of them
#
# The server runs pinned to core 0 and the generator (Node) to core 1. Environment: CLIENTS (5000,
# the reconnect storm), MISSED (100, events each client recovers), ROUNDS (3, history on and off),
# SCRATCH (SwiftPM scratch dir, default .build). See the scenarios in scripts/bench-recovery.mjs.
set -euo pipefail
cd "$(dirname "$0")/.."
SCRATCH=${SCRATCH:-.build}
swift build -c release --product concord --scratch-path "$SCRATCH" >&2
ulimit -n "$(ulimit -Hn)"
pin=()
if command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then
    export SERVER_PIN="taskset -c 0"
    pin=(taskset -c 1)
fi
exec "${pin[@]}" node --experimental-websocket scripts/bench-recovery.mjs "$SCRATCH/release/concord" "$@"
