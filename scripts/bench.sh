#!/usr/bin/env bash
# Concord's benchmark suite: builds release binaries, then runs each scenario RUNS times and prints
# one table per kind with every run and the medians. Each fan-out or presence run gets a fresh
# Concord pinned to core 0 with its generator pinned to core 1; the expiry micro-benchmark runs
# in-process on core 1.
#
#   scripts/bench.sh                                  # the default suite below
#   scripts/bench.sh 1000x500 5000x200@50             # fan-out: SUBSCRIBERSxEVENTS, optionally @RATE events/s
#   scripts/bench.sh presence:2000x200x100000         # presence: CONNECTIONSxCHANNELSxOPS
#   scripts/bench.sh presence:2000x200x20000,watchers=100,window=1
#                                                     #   ,NAME=VALUE passes --NAME VALUE to the generator
#   scripts/bench.sh expiry                           # ExpiryQueue and registry expiry, no server
#
# Fan-out without @RATE keeps 4 events in flight (as fast as the server delivers); with it, events go
# out on a schedule, the regime where each event costs the server one write per socket. Presence runs
# enter every connection (memory per member), then churn leaves and enters (CPU per operation).
#
# Environment: SCRATCH (SwiftPM scratch dir, default .build), RUNS (default 3), OUT (where logs and
# JSON lines go, default artifacts/bench), BENCH_ARGS / PRESENCE_ARGS / EXPIRY_ARGS (extra flags for
# every fan-out / presence / expiry run), QUIET_WAIT (seconds to wait, before each run, for other
# programs to leave the cores; default 120).
set -euo pipefail

cd "$(dirname "$0")/.."
SCRATCH=${SCRATCH:-.build}
RUNS=${RUNS:-3}
OUT=${OUT:-artifacts/bench}
BENCH_ARGS=${BENCH_ARGS:-}
PRESENCE_ARGS=${PRESENCE_ARGS:-}
EXPIRY_ARGS=${EXPIRY_ARGS:-}
QUIET_WAIT=${QUIET_WAIT:-120}
API_KEY=bench-key
if [ "$#" -gt 0 ]; then
    SCENARIOS=("$@")
else
    # About four and a half minutes on two cores: fan-out; presence churn alone at two windows, with
    # 100 watchers (window 1: see BENCHMARKS.md for why not 8), and with 40,000 members for the memory
    # per member; and the expiry micro-benchmark.
    SCENARIOS=(1000x500 10000x100 10000x50@5
               presence:2000x200x100000 presence:2000x200x20000,window=1 presence:2000x200x20000,window=1,watchers=100
               presence:10000x1000x40000,channels-per-connection=4
               expiry)
fi

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

# Check every scenario before building, so a typo fails in a second rather than after the build.
for scenario in "${SCENARIOS[@]}"; do
    [[ "$scenario" =~ ^[0-9]+x[0-9]+(@[0-9.]+)?$ ]] && continue
    [[ "$scenario" =~ ^presence:[0-9]+x[0-9]+x[0-9]+(,[a-z-]+=[0-9]+)*$ ]] && continue
    [ "$scenario" = expiry ] && continue
    echo "bad scenario '$scenario': use SUBSCRIBERSxEVENTS[@RATE], presence:CONNECTIONSxCHANNELSxOPS[,NAME=VALUE...] or expiry" >&2
    exit 2
done

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

# Every connection is a descriptor in both processes.
ulimit -n "$(ulimit -Hn)"
mkdir -p "$OUT"
RESULTS="$OUT/results.jsonl"
: > "$RESULTS"

# Starts Concord with the given flags on a free port; sets SERVER_PID and PORT.
start_server() {
    local log="$1"
    shift
    # Every load-generator connection comes from 127.0.0.1, often as one user: lift those limits.
    "${SERVER_PIN[@]}" "$BIN/concord" serve --port 0 --log-level warning \
        --max-connections 20000 --max-connections-per-ip 0 --max-connections-per-user 0 "$@" >"$log" 2>&1 &
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

. scripts/bench-common.sh  # busy_cores, wait_for_quiet (the script runs from the repository root)

# Runs the generator in the background, so a signal to this script is handled now rather than after
# the run, then files its JSON lines under the scenario. Usage: generate KIND SCENARIO RUN LOG ARGS...
status=0
generate() {
    local kind="$1" scenario="$2" run="$3" log="$4" code=0
    shift 4
    "${GENERATOR_PIN[@]}" "$BIN/concord-bench" "$@" >"$log" 2>&1 &
    GENERATOR_PID=$!
    wait "$GENERATOR_PID" || code=$?
    GENERATOR_PID=""
    grep -v '^{' "$log" >&2 || true
    # Rows of one kind are grouped for medians by scenario, and expiry rows also by structure and size.
    grep '^{' "$log" | jq -c --arg kind "$kind" --arg scenario "$scenario" --argjson run "$run" \
        '. + {kind: $kind, scenario: $scenario, run: $run,
              group: ([$scenario, .structure // empty, (.entries // empty | tostring)] | join(" "))}' >>"$RESULTS" || true
    [ "$code" -eq 0 ] || { echo "generator exited with $code (see $log)" >&2; status=1; }
}

run_fanout() {
    local subs="$1" events="$2" rate="$3" run="$4" name="${1}x${2}@${3}"
    start_server "$OUT/server-$name-run$run.log" --api-key "$API_KEY"
    # shellcheck disable=SC2086 # BENCH_ARGS is a list of flags
    generate fanout "$name" "$run" "$OUT/bench-$name-run$run.log" fanout --port "$PORT" --server-pid "$SERVER_PID" \
        --subscribers "$subs" --events "$events" --rate "$rate" --api-key "$API_KEY" --json $BENCH_ARGS
    stop_server
}

run_presence() {
    local scenario="$1" run="$2" spec connections channels ops option options=() extra=()
    spec=${scenario#presence:}
    IFS=x read -r connections channels ops <<<"${spec%%,*}"
    if [[ "$spec" == *,* ]]; then
        IFS=, read -ra options <<<"${spec#*,}"
        for option in "${options[@]}"; do extra+=("--${option%%=*}" "${option#*=}"); done
    fi
    local name=${scenario//[:,=]/_}
    # Watchers watch every channel, and watches count against --max-subscriptions (128 by default).
    start_server "$OUT/server-$name-run$run.log" --dev --max-subscriptions "$((channels > 128 ? channels : 128))"
    # shellcheck disable=SC2086 # PRESENCE_ARGS is a list of flags
    generate presence "$scenario" "$run" "$OUT/bench-$name-run$run.log" presence --port "$PORT" --server-pid "$SERVER_PID" \
        --connections "$connections" --channels "$channels" --ops "$ops" "${extra[@]}" --json $PRESENCE_ARGS
    stop_server
}

run_expiry() {
    # shellcheck disable=SC2086 # EXPIRY_ARGS is a list of flags
    generate expiry expiry "$1" "$OUT/bench-expiry-run$1.log" expiry --json $EXPIRY_ARGS
}

for scenario in "${SCENARIOS[@]}"; do
    for run in $(seq "$RUNS"); do
        echo "== $scenario run $run" >&2
        wait_for_quiet
        if [[ "$scenario" =~ ^([0-9]+)x([0-9]+)(@([0-9.]+))?$ ]]; then
            run_fanout "${BASH_REMATCH[1]}" "${BASH_REMATCH[2]}" "${BASH_REMATCH[4]:-0}" "$run"
        elif [[ "$scenario" == presence:* ]]; then
            run_presence "$scenario" "$run"
        else
            run_expiry "$run"
        fi
    done
done

# One table per kind: a row per run (unless the kind is too wordy for that), then the median of each
# figure per group. "other CPU s" is what the machine spent beyond the server and the generator
# during the measured phase: runs where it is large were disturbed by other programs.
table() {
    local kind="$1" header="$2" row="$3" per_run="$4"
    jq -rs --arg kind "$kind" --argjson per_run "$per_run" '
      def r(d): if . == null then "-" else (. * pow(10; d) | round / pow(10; d) | tostring) end;
      def median: map(select(. != null)) | sort | if length == 0 then null else .[(length - 1) / 2 | floor] end;
      def other: if .machine_busy_cpu_seconds == null then null
                 else .machine_busy_cpu_seconds - .server_cpu_seconds - .generator_cpu_seconds end;
      def row: '"$row"';
      map(select(.kind == $kind)) | select(length > 0)
      | ('"$header"' | @tsv),
        (if $per_run then .[] | row | @tsv else empty end),
        (group_by(.group)[] | . as $runs
          | [$runs[0] | keys[] | select(. != "scenario" and . != "run" and . != "first_failure" and . != "group" and . != "kind")]
          | map({key: ., value: ([$runs[][.]] | if (.[0] | type) == "number" or .[0] == null then median else .[0] end)})
          | from_entries + {scenario: $runs[0].scenario, run: "median", errors: ([$runs[].errors] | add),
                            wrong_counts: ([$runs[].wrong_counts] | add)}
          | row | @tsv)
    ' "$RESULTS" | column -t -s $'\t'
    echo
}

echo
table fanout '["scenario", "run", "deliveries", "deliv/s", "p50 ms", "p90 ms", "p99 ms", "max ms", "errors",
               "srv CPU s", "srv µs/deliv", "gen CPU s", "deliv/read", "RSS B/conn", "other CPU s"]' \
    '[.scenario, (.run | tostring), "\(.deliveries)/\(.expected_deliveries)", (.deliveries_per_second | r(0)),
      (.latency_p50_ms | r(2)), (.latency_p90_ms | r(2)), (.latency_p99_ms | r(2)), (.latency_max_ms | r(2)),
      (.errors | tostring), (.server_cpu_seconds | r(2)), (.server_cpu_us_per_delivery | r(3)),
      (.generator_cpu_seconds | r(2)), (.deliveries_per_read | r(2)), (.server_rss_per_connection_bytes | r(0)), (other | r(2))]' true
table presence '["scenario", "run", "ops", "ops/s", "p50 ms", "p99 ms", "max ms", "errors", "srv CPU s", "srv µs/op",
                 "gen CPU s", "replies/read", "watcher pushes", "pushes/read", "RSS B/conn", "RSS B/member", "other CPU s"]' \
    '[.scenario, (.run | tostring), "\(.ops_done)/\(.ops)", (.ops_per_second | r(0)),
      (.latency_p50_ms | r(2)), (.latency_p99_ms | r(2)), (.latency_max_ms | r(2)), (.errors | tostring),
      (.server_cpu_seconds | r(2)), (.server_cpu_us_per_op | r(2)), (.generator_cpu_seconds | r(2)),
      (.replies_per_read | r(2)), "\(.watcher_events)/\(.expected_watcher_events)", (.watcher_events_per_read | r(1)),
      (.server_rss_per_connection_bytes | r(0)), (.server_rss_per_member_bytes | r(0)), (other | r(2))]' true
table expiry '["structure", "entries", "runs", "idle tick ns", "due/tick", "tick µs", "ns/expired", "refresh ns",
               "slowest 1k refreshes ms", "wrong counts", "other CPU s"]' \
    '[.structure, (.entries | tostring), "'"$RUNS"'", (.idle_tick_ns | r(1)), (.expiring | tostring), (.expiring_tick_us | r(1)),
      (.ns_per_expired | r(0)), (.refresh_ns | r(0)), (.slowest_refresh_batch_ms | r(2)), (.wrong_counts | tostring),
      (.other_cpu_seconds | r(2))]' false
echo "JSON lines: $RESULTS" >&2
exit "$status"
