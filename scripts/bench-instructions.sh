#!/usr/bin/env bash
# User-space instructions the server spends per delivery, counted by valgrind's callgrind: the same
# count for the same binary and inputs whatever else the machine does, so it shows what a change to
# the hot path saves even on a busy shared machine (times cannot).
#
#   scripts/bench-instructions.sh                  # builds release concord and concord-bench, prints the figure
#   scripts/bench-instructions.sh BINARY...        # compares already built concord binaries, in order
#
# One fan-out run of 1,000 subscribers with E events and one with 2E; the difference divided by the
# extra deliveries leaves out start-up and connection set-up. Environment: SUBSCRIBERS (1000),
# EVENTS (200), SCRATCH (.build), GENERATOR (a built concord-bench to use instead of building one),
# SERVER_ARGS (extra flags for every server, e.g. "--history *=0" to measure without history).
set -euo pipefail
cd "$(dirname "$0")/.."
SUBSCRIBERS=${SUBSCRIBERS:-1000}
EVENTS=${EVENTS:-200}
SCRATCH=${SCRATCH:-.build}
command -v valgrind >/dev/null || { echo "bench-instructions.sh needs valgrind (apt-get install valgrind)" >&2; exit 1; }

if [ -z "${GENERATOR:-}" ]; then
    swift build -c release --product concord-bench --scratch-path "$SCRATCH" >&2
    GENERATOR="$SCRATCH/release/concord-bench"
fi
if [ "$#" -eq 0 ]; then
    swift build -c release --product concord --scratch-path "$SCRATCH" >&2
    set -- "$SCRATCH/release/concord"
fi
work=$(mktemp -d)
trap 'pkill -INT -f "$work/" 2>/dev/null || true; rm -rf "$work"' EXIT
ulimit -n "$(ulimit -Hn)"

# Instructions of one server run that serves `events` events to SUBSCRIBERS subscribers.
count() {
    local binary="$1" events="$2" out="$work/callgrind.$RANDOM" log="$work/server.log" port
    : > "$log"
    set -f # SERVER_ARGS splits into words, never globs ("*=0")
    valgrind --tool=callgrind --callgrind-out-file="$out" "$binary" serve --port 0 --memory --api-key bench-key \
        --log-level warning --max-connections 20000 --max-connections-per-ip 0 ${SERVER_ARGS:-} >"$log" 2>&1 &
    local pid=$!
    set +f
    for _ in $(seq 300); do
        port=$(sed -n 's|^concord listening on http://[^ ]*:\([0-9][0-9]*\).*|\1|p' "$log" | head -n 1)
        [ -n "$port" ] && break
        sleep 0.1
    done
    [ -n "$port" ] || { echo "server did not start:" >&2; cat "$log" >&2; exit 1; }
    "$GENERATOR" fanout --port "$port" --subscribers "$SUBSCRIBERS" --events "$events" --timeout 600 >"$work/generator.log" 2>&1 \
        || { cat "$work/generator.log" >&2; exit 1; }
    kill -INT "$pid"
    wait "$pid" || true
    callgrind_annotate "$out" 2>/dev/null | awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1 }'
}

printf '%-50s %14s %14s %12s\n' binary "Ir ($EVENTS ev)" "Ir ($((2 * EVENTS)) ev)" "Ir/delivery"
for binary in "$@"; do
    # valgrind cannot read the DWARF this toolchain writes: count a copy without debug sections.
    copy="$work/$(basename "$binary")-$RANDOM"
    cp "$binary" "$copy" && strip -g "$copy"
    one=$(count "$copy" "$EVENTS")
    two=$(count "$copy" "$((2 * EVENTS))")
    per=$(( (two - one) / (EVENTS * SUBSCRIBERS) ))
    printf '%-50s %14s %14s %12s\n' "$binary" "$one" "$two" "$per"
done
