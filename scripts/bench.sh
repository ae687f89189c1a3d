#!/usr/bin/env bash
# Fan-out benchmark: builds release binaries, then for each scenario starts a fresh Concord pinned to
# core 0, runs `concord-bench fanout` pinned to core 1, and prints one table of the figures.
#
#   scripts/bench.sh                      # 1000x500 10000x100 10000x50@5, RUNS times each
#   scripts/bench.sh 1000x500 5000x200@50 # SUBSCRIBERSxEVENTS, optionally @RATE events/s
#
# Without @RATE the generator keeps 4 events in flight (as fast as the server delivers); with it,
# events go out on a schedule, the regime where each event costs the server one write per socket.
#
# Environment: SCRATCH (SwiftPM scratch dir, default .build), RUNS (default 3), OUT (where logs and
# JSON lines go, default artifacts/bench), BENCH_ARGS (extra flags for every generator run),
# QUIET_WAIT (seconds to wait, before each run, for other programs to leave the cores; default 120).
set -euo pipefail

cd "$(dirname "$0")/.."
SCRATCH=${SCRATCH:-.build}
RUNS=${RUNS:-3}
OUT=${OUT:-artifacts/bench}
BENCH_ARGS=${BENCH_ARGS:-}
QUIET_WAIT=${QUIET_WAIT:-120}
API_KEY=bench-key
if [ "$#" -gt 0 ]; then SCENARIOS=("$@"); else SCENARIOS=(1000x500 10000x100 10000x50@5); fi

SERVER_PID="" GENERATOR_PID=""
cleanup() {
    if [ -n "$GENERATOR_PID" ]; then kill -TERM "$GENERATOR_PID" 2>/dev/null || true; wait "$GENERATOR_PID" 2>/dev/null || true; fi
    stop_server
}
stop_server() {
    [ -n "$SERVER_PID" ] || return 0
    if kill -0 "$SERVER_PID" 2>/dev/null; then
        kill -TERM "$SERVER_PID" 2>/dev/null || true
        # Graceful shutdown closes every WebSocket; give it a moment, then insist.
        for _ in $(seq 30); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$SERVER_PID" 2>/dev/null || true
    fi
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=""
}
trap cleanup EXIT
trap 'exit 130' INT TERM

command -v jq >/dev/null || { echo "bench.sh needs jq" >&2; exit 1; }

# Two cores or more: the server and the generator each get one, so neither steals the other's time.
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

# Every subscriber is a descriptor in both processes.
ulimit -n "$(ulimit -Hn)"
mkdir -p "$OUT"
RESULTS="$OUT/results.jsonl"
: > "$RESULTS"

start_server() {
    local log="$1"
    "${SERVER_PIN[@]}" "$BIN/concord" serve --port 0 --api-key "$API_KEY" --log-level warning >"$log" 2>&1 &
    SERVER_PID=$!
    for _ in $(seq 100); do
        PORT=$(sed -n 's|^concord listening on http://[^ ]*:\([0-9][0-9]*\).*|\1|p' "$log" | head -n 1)
        [ -n "$PORT" ] && return 0
        kill -0 "$SERVER_PID" 2>/dev/null || { echo "server exited:" >&2; cat "$log" >&2; return 1; }
        sleep 0.1
    done
    echo "server did not report its port within 10 s" >&2
    return 1
}

# Busy cores over the last second: wall time x cores minus idle, iowait and steal from /proc/stat
# (idle is exact on a tickless kernel; the busy counters are tick samples that miss short bursts).
busy_cores() {
    local a b t0 t1
    t0=$(date +%s.%N); a=$(head -n 1 /proc/stat); sleep 1; b=$(head -n 1 /proc/stat); t1=$(date +%s.%N)
    echo "$a $b" | awk -v hz="$(getconf CLK_TCK)" -v cores="$(nproc)" -v t0="$t0" -v t1="$t1" \
        '{ idle = ($16 + $17 + $20) - ($5 + $6 + $9); b = cores - idle / hz / (t1 - t0); printf "%.2f", (b < 0 ? 0 : b) }'
}

# On a shared machine other programs come and go; a run next to a compiler measures the compiler.
wait_for_quiet() {
    local waited=0 busy
    while busy=$(busy_cores); awk -v b="$busy" 'BEGIN { exit !(b > 0.25) }'; do
        if [ "$waited" -ge "$QUIET_WAIT" ]; then
            echo "warning: still $busy cores busy after ${QUIET_WAIT}s; running anyway" >&2
            return 0
        fi
        [ "$waited" -eq 0 ] && echo "waiting for the machine to go quiet ($busy cores busy)" >&2
        waited=$((waited + 1))
    done
}

status=0
for scenario in "${SCENARIOS[@]}"; do
    if ! [[ "$scenario" =~ ^([0-9]+)x([0-9]+)(@([0-9.]+))?$ ]]; then
        echo "bad scenario '$scenario': use SUBSCRIBERSxEVENTS or SUBSCRIBERSxEVENTS@RATE" >&2
        exit 2
    fi
    subs=${BASH_REMATCH[1]} events=${BASH_REMATCH[2]} rate=${BASH_REMATCH[4]:-0}
    for run in $(seq "$RUNS"); do
        name="${subs}x${events}@${rate}-run$run"
        echo "== $name" >&2
        wait_for_quiet
        start_server "$OUT/server-$name.log"
        # In the background, so a signal to this script is handled now rather than after the run.
        "${GENERATOR_PIN[@]}" "$BIN/concord-bench" fanout --port "$PORT" --server-pid "$SERVER_PID" \
            --subscribers "$subs" --events "$events" --rate "$rate" --api-key "$API_KEY" --json $BENCH_ARGS \
            >"$OUT/bench-$name.log" 2>&1 &
        GENERATOR_PID=$!
        code=0
        wait "$GENERATOR_PID" || code=$?
        GENERATOR_PID=""
        grep -v '^{' "$OUT/bench-$name.log" >&2 || true
        if line=$(grep '^{' "$OUT/bench-$name.log" | tail -n 1) && [ -n "$line" ]; then
            echo "$line" | jq -c --arg scenario "${subs}x${events}@${rate}" --argjson run "$run" \
                '. + {scenario: $scenario, run: $run}' >>"$RESULTS"
        fi
        [ "$code" -eq 0 ] || { echo "generator exited with $code (see $OUT/bench-$name.log)" >&2; status=1; }
        stop_server
    done
done

# One row per run, then the median of each figure per scenario. "other CPU s" is what the machine
# spent beyond the server and the generator during the publish phase: runs where it is large were
# disturbed by other programs.
echo
jq -rs '
  def r(d): if . == null then "-" else (. * pow(10; d) | round / pow(10; d) | tostring) end;
  def median: map(select(. != null)) | sort | if length == 0 then null else .[(length - 1) / 2 | floor] end;
  def row: [.scenario, (.run | tostring), "\(.deliveries)/\(.expected_deliveries)", (.deliveries_per_second | r(0)),
            (.latency_p50_ms | r(2)), (.latency_p90_ms | r(2)), (.latency_p99_ms | r(2)), (.latency_max_ms | r(2)),
            (.errors | tostring), (.server_cpu_seconds | r(2)), (.server_cpu_us_per_delivery | r(3)),
            (.generator_cpu_seconds | r(2)), (.deliveries_per_read | r(2)), (.server_rss_per_connection_bytes | r(0)),
            (if .machine_busy_cpu_seconds == null then null
             else .machine_busy_cpu_seconds - .server_cpu_seconds - .generator_cpu_seconds end | r(2))] | @tsv;
  (["scenario", "run", "deliveries", "deliv/s", "p50 ms", "p90 ms", "p99 ms", "max ms", "errors",
    "srv CPU s", "srv µs/deliv", "gen CPU s", "deliv/read", "RSS B/conn", "other CPU s"] | @tsv),
  (.[] | row),
  (group_by(.scenario)[] | . as $runs
    | [$runs[0] | keys[] | select(. != "scenario" and . != "run" and . != "first_failure")]
    | map({key: ., value: ([$runs[][.]] | if (.[0] | type) == "number" or .[0] == null then median else .[0] end)})
    | from_entries + {scenario: $runs[0].scenario, run: "median", errors: ([$runs[].errors] | add)}
    | row)
' "$RESULTS" | column -t -s $'\t'
echo
echo "JSON lines: $RESULTS" >&2
exit "$status"
