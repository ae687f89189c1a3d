#!/usr/bin/env bash
# Concord beside nginx + nchan and beside the libuv floor, on the same scenarios with the same
# generator, and Concord's own presence, typing and commit figures; writes a results table.
#
#   scripts/bench-suite.sh                       # every scenario below, RUNS rounds
#   scripts/bench-suite.sh fanout idle           # only these
#   SUBSCRIBERS=500 FANOUT_EVENTS=50 RUNS=1 scripts/bench-suite.sh   # a smoke run
#
# Scenarios (the first four run on all three servers, alternating Concord, nchan, floor in every
# round so that drift of the machine hits all three alike; the last three on Concord only):
#   fanout       SUBSCRIBERS on one channel, FANOUT_EVENTS events of ~200 B, 4 in flight (as fast as
#                the server delivers)
#   fanout-rate  the same channel at RATE events/s, RATE_EVENTS events (each event its own write)
#   channels     SUBSCRIBERS channels with one subscriber each, CHANNEL_EVENTS events round robin over
#                them, CHANNEL_WINDOW in flight (what a publish costs when it reaches one socket)
#   idle         SUBSCRIBERS subscribed connections left idle IDLE_SECONDS, then the server's RSS
#   presence     2,000 users churn presence.enter / presence.leave over 200 channels (window 8)
#   typing       a typing storm: the same with typing.start / typing.stop, 100 typing watchers
#   commits      record commits over HTTP, in memory (--memory), 64 connections
#
# Every server runs on core 0 and the generator (concord-bench) on core 1, each server on a free
# loopback port, started before its run and stopped after it. Server CPU (utime + stime of the
# process that does the work: nginx's single worker, not its master) and RSS come from /proc.
# The figure to compare servers by is server CPU per delivery; deliveries/s and latency depend on
# two cores shared with the generator and the kernel's loopback TCP.
#
# Needs: nginx with the nchan module, jq, gcc and libuv (scripts/install-deps.sh bench installs
# them); installs nothing itself. Environment: SCRATCH (SwiftPM scratch dir, default .build), RUNS
# (default 3), OUT (default artifacts/bench-suite), QUIET_WAIT (seconds to wait, before each run,
# for other programs to leave the cores; default 120), and the sizes above.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
SCRATCH=${SCRATCH:-.build}
RUNS=${RUNS:-3}
OUT=${OUT:-artifacts/bench-suite}
QUIET_WAIT=${QUIET_WAIT:-120}
SUBSCRIBERS=${SUBSCRIBERS:-10000}
FANOUT_EVENTS=${FANOUT_EVENTS:-100}
RATE=${RATE:-5}
RATE_EVENTS=${RATE_EVENTS:-50}
CHANNEL_EVENTS=${CHANNEL_EVENTS:-100000}
CHANNEL_WINDOW=${CHANNEL_WINDOW:-64}
IDLE_SECONDS=${IDLE_SECONDS:-5}
PRESENCE_OPS=${PRESENCE_OPS:-100000}
TYPING_OPS=${TYPING_OPS:-20000}
COMMITS=${COMMITS:-20000}
API_KEY=bench-key
SERVERS=(concord nchan floor)
ALL_SCENARIOS=(fanout fanout-rate channels idle presence typing commits)
SCENARIOS=("$@")
[ ${#SCENARIOS[@]} -gt 0 ] || SCENARIOS=("${ALL_SCENARIOS[@]}")
for scenario in "${SCENARIOS[@]}"; do
    [[ " ${ALL_SCENARIOS[*]} " == *" $scenario "* ]] || { echo "unknown scenario '$scenario' (${ALL_SCENARIOS[*]})" >&2; exit 2; }
done

fail() { echo "bench-suite: $*" >&2; exit 1; }
command -v jq >/dev/null || fail "needs jq (scripts/install-deps.sh bench)"
command -v nginx >/dev/null || fail "needs nginx (scripts/install-deps.sh bench)"
NCHAN_MODULE=/usr/lib/nginx/modules/ngx_nchan_module.so
[ -f "$NCHAN_MODULE" ] || fail "needs the nchan module, $NCHAN_MODULE (Debian libnginx-mod-nchan; scripts/install-deps.sh bench)"
command -v gcc >/dev/null && pkg-config --exists libuv || fail "needs gcc and libuv1-dev for the floor"

SERVER_PIN=() GENERATOR_PIN=()
if command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then
    SERVER_PIN=(taskset -c 0) GENERATOR_PIN=(taskset -c 1)
else
    echo "warning: fewer than 2 cores or no taskset; server and generator are not pinned" >&2
fi

echo "== building release binaries into $SCRATCH" >&2
swift build -c release --product concord --scratch-path "$SCRATCH" >&2
swift build -c release --product concord-bench --scratch-path "$SCRATCH" >&2
BIN="$SCRATCH/release"
FLOOR="$SCRATCH/bench-floor"
# shellcheck disable=SC2046 # pkg-config prints separate flags
gcc -O2 -Wall -o "$FLOOR" bench/floor.c $(pkg-config --cflags --libs libuv)

# Every connection is a descriptor in both processes.
ulimit -n "$(ulimit -Hn)"
[ "$(ulimit -n)" -ge $((SUBSCRIBERS + 100)) ] || fail "open-file limit $(ulimit -n) is below $SUBSCRIBERS connections"
mkdir -p "$OUT"
RESULTS="$OUT/results.jsonl"
: > "$RESULTS"
WORK=$(mktemp -d)

# The process started (SERVER_PID: Concord, the floor, nginx's master) and the one measured
# (MEASURED_PID: the same, or nginx's worker).
SERVER_PID="" MEASURED_PID="" GENERATOR_PID="" PORT=""
stop_server() {
    [ -n "$SERVER_PID" ] || return 0
    if kill -0 "$SERVER_PID" 2>/dev/null; then
        kill -TERM "$SERVER_PID" 2>/dev/null || true
        for _ in $(seq 50); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$SERVER_PID" 2>/dev/null || true
    fi
    wait "$SERVER_PID" 2>/dev/null || true
    # nginx's worker outlives a killed master briefly.
    if [ -n "$MEASURED_PID" ] && [ "$MEASURED_PID" != "$SERVER_PID" ]; then
        for _ in $(seq 50); do kill -0 "$MEASURED_PID" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$MEASURED_PID" 2>/dev/null || true
    fi
    SERVER_PID="" MEASURED_PID=""
}
cleanup() {
    if [ -n "$GENERATOR_PID" ]; then kill -TERM "$GENERATOR_PID" 2>/dev/null || true; wait "$GENERATOR_PID" 2>/dev/null || true; fi
    stop_server
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Waits for "... listening on ...:PORT" in a log; sets PORT.
await_port() {
    local log="$1"
    for _ in $(seq 100); do
        [ -f "$log" ] || { sleep 0.1; continue; }
        PORT=$(sed -n 's|.* listening on [^ ]*:\([0-9][0-9]*\).*|\1|p' "$log" | head -n 1)
        [ -n "$PORT" ] && return 0
        kill -0 "$SERVER_PID" 2>/dev/null || { echo "server exited:" >&2; cat "$log" >&2; return 1; }
        sleep 0.1
    done
    fail "server did not report its port within 10 s"
}

start_concord() {
    local log="$1"
    shift
    # Every generator connection comes from 127.0.0.1, often as one user: lift those limits.
    "${SERVER_PIN[@]}" "$BIN/concord" serve --port 0 --log-level warning --api-key "$API_KEY" \
        --max-connections 20000 --max-connections-per-ip 0 --max-connections-per-user 0 "$@" >"$log" 2>&1 &
    SERVER_PID=$! MEASURED_PID=$!
    await_port "$log"
}

start_floor() {
    "${SERVER_PIN[@]}" "$FLOOR" 0 >"$1" 2>&1 &
    SERVER_PID=$! MEASURED_PID=$!
    await_port "$1"
}

# A loopback port nothing listens on (nginx cannot be told to pick one and report it).
free_port() {
    local port
    while port=$((20000 + RANDOM % 12000)); (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do :; done
    echo "$port"
}

# nginx in the foreground with the repository's config, rendered for a free port and a fresh prefix.
start_nchan() {
    local log="$1" prefix="$WORK/nginx.$RANDOM"
    mkdir -p "$prefix"
    PORT=$(free_port)
    sed -e "s|@PORT@|$PORT|g" -e "s|@PREFIX@|$prefix|g" bench/nchan.conf >"$prefix/nginx.conf"
    "${SERVER_PIN[@]}" nginx -p "$prefix" -c "$prefix/nginx.conf" -e "$prefix/error.log" >"$log" 2>&1 &
    SERVER_PID=$! MEASURED_PID=""
    for _ in $(seq 100); do
        MEASURED_PID=$(pgrep -P "$SERVER_PID" | head -n 1 || true)
        if [ -n "$MEASURED_PID" ] && (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then return 0; fi
        kill -0 "$SERVER_PID" 2>/dev/null || { echo "nginx exited:" >&2; cat "$log" "$prefix/error.log" >&2; return 1; }
        sleep 0.1
    done
    fail "nginx did not start within 10 s (see $prefix/error.log)"
}

. scripts/bench-common.sh  # busy_cores, wait_for_quiet (the script runs from the repository root)

# Runs the generator in the background (so a signal is handled now), then files its JSON line.
# Usage: generate SCENARIO SERVER RUN LOG ARGS...
status=0
generate() {
    local scenario="$1" server="$2" run="$3" log="$4" code=0
    shift 4
    "${GENERATOR_PIN[@]}" "$BIN/concord-bench" "$@" >"$log" 2>&1 &
    GENERATOR_PID=$!
    wait "$GENERATOR_PID" || code=$?
    GENERATOR_PID=""
    grep -v '^{' "$log" | sed 's/^/    /' >&2 || true
    grep '^{' "$log" | jq -c --arg scenario "$scenario" --arg server "$server" --argjson run "$run" \
        '. + {scenario: $scenario, server: $server, run: $run}' >>"$RESULTS" || true
    [ "$code" -eq 0 ] || { echo "generator exited with $code (see $log)" >&2; status=1; }
}

# One fan-out family run against one server. Usage: run_fanout SCENARIO SERVER RUN
run_fanout() {
    local scenario="$1" server="$2" run="$3" name="$1-$2-run$3" args=()
    case "$scenario" in
        fanout) args=(--subscribers "$SUBSCRIBERS" --events "$FANOUT_EVENTS") ;;
        fanout-rate) args=(--subscribers "$SUBSCRIBERS" --events "$RATE_EVENTS" --rate "$RATE") ;;
        channels) args=(--subscribers "$SUBSCRIBERS" --channels "$SUBSCRIBERS" --events "$CHANNEL_EVENTS" --window "$CHANNEL_WINDOW") ;;
        idle) args=(--subscribers "$SUBSCRIBERS" --events 0 --idle-seconds "$IDLE_SECONDS") ;;
    esac
    case "$server" in
        concord) start_concord "$OUT/server-$name.log" --memory ;;
        nchan) start_nchan "$OUT/server-$name.log" ;;
        floor) start_floor "$OUT/server-$name.log" ;;
    esac
    generate "$scenario" "$server" "$run" "$OUT/bench-$name.log" fanout --server "$server" --port "$PORT" \
        --server-pid "$MEASURED_PID" --api-key "$API_KEY" --json "${args[@]}"
    stop_server
}

# Concord-only scenarios. Usage: run_concord SCENARIO RUN
run_concord() {
    local scenario="$1" run="$2" name="$1-concord-run$2"
    case "$scenario" in
        presence)
            start_concord "$OUT/server-$name.log" --dev --max-subscriptions 200
            generate presence concord "$run" "$OUT/bench-$name.log" presence --port "$PORT" --server-pid "$MEASURED_PID" \
                --connections 2000 --channels 200 --ops "$PRESENCE_OPS" --json ;;
        typing)
            # The rate limit (5 signals/s per connection) and the TTL would turn a storm into errors
            # and silent expiries; lifted so that every signal is served and pushes once.
            start_concord "$OUT/server-$name.log" --dev --max-subscriptions 200 \
                --typing-rate 1000000 --typing-burst 1000000 --typing-ttl 600000
            generate typing concord "$run" "$OUT/bench-$name.log" presence --typing --port "$PORT" --server-pid "$MEASURED_PID" \
                --connections 2000 --channels 200 --ops "$TYPING_OPS" --window 1 --watchers 100 --json ;;
        commits)
            start_concord "$OUT/server-$name.log" --memory
            generate commits concord "$run" "$OUT/bench-$name.log" commits --port "$PORT" --server-pid "$MEASURED_PID" \
                --api-key "$API_KEY" --label memory --commits "$COMMITS" --json ;;
    esac
    stop_server
}

started=$(date +%s)
for run in $(seq "$RUNS"); do
    for scenario in "${SCENARIOS[@]}"; do
        case "$scenario" in
            presence | typing | commits)
                echo "== $scenario concord, round $run of $RUNS" >&2
                wait_for_quiet
                run_concord "$scenario" "$run" ;;
            *)
                for server in "${SERVERS[@]}"; do
                    echo "== $scenario $server, round $run of $RUNS" >&2
                    wait_for_quiet
                    run_fanout "$scenario" "$server" "$run"
                done ;;
        esac
    done
done
echo "== $RUNS rounds in $(( $(date +%s) - started )) s" >&2

# The table: medians over the runs of each scenario and server, then each server's ratio to
# Concord's peers. Written as Markdown, and printed aligned.
{
    echo "# bench-suite results"
    echo
    echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, $RUNS runs per row (medians), subscribers $SUBSCRIBERS"
    echo
    bench/results-table.sh "$RESULTS"
} >"$OUT/results.md"
cat "$OUT/results.md"
echo "results: $OUT/results.md, JSON lines: $RESULTS" >&2
exit "$status"
