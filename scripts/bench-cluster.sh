#!/usr/bin/env bash
# Several nodes on one Redis, against one node alone in the same run:
#
#   scripts/bench-cluster.sh                       # every part: fanout connections presence ghosts commits
#   scripts/bench-cluster.sh fanout commits        # some of them
#
# - fanout: one node with SUBSCRIBERS subscribers on one channel (no Redis), then two nodes on
#   Redis with half of them each, events published to node 1; RUNS rounds, alternating. Each node's
#   CPU per delivery to its own subscribers, Redis CPU per publish, and the Redis commands each
#   publish made (INFO commandstats before and after the run).
# - connections: CONNECTIONS subscribers over two nodes from two generator processes (one process
#   cannot hold them all), then EVENTS_20K events published by a third one: every event must reach
#   all of them. Each node's memory per connection.
# - presence: PRESENCE_USERS users (and their churn of PRESENCE_OPS joins and leaves) on one node,
#   then spread over two nodes on Redis; Redis commands per presence operation.
# - ghosts: GHOST_USERS users on node 2, watched from node 1; kill -9 node 2 and time until node 1's
#   watchers have seen every member leave.
# - commits: COMMITS commits through a node on Redis (appendonly yes, appendfsync always), then
#   through a node on its embedded SQLite store.
#
# Every redis-server runs with appendonly yes and appendfsync always (what acknowledged-means-durable
# needs) in a temporary directory, on a free loopback port. Servers (nodes and Redis) run on core 0,
# generators on core 1. Everything started is stopped at the end. Environment: RUNS (3), SUBSCRIBERS
# (10000), EVENTS (100), WINDOW (4), RATE (events per second; 0, the default, keeps WINDOW in
# flight), CONNECTIONS (20000), EVENTS_20K (20), PRESENCE_USERS (2000), PRESENCE_OPS (100000),
# GHOST_USERS (1000), COMMITS (20000), QUIET_WAIT (s, default 20), SCRATCH (SwiftPM scratch
# directory, default .build). JSON lines go to OUT (artifacts/bench-cluster).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/bench-common.sh
parts=("$@")
[ ${#parts[@]} -gt 0 ] || parts=(fanout connections presence ghosts commits)
RUNS=${RUNS:-3}
SUBSCRIBERS=${SUBSCRIBERS:-10000}
EVENTS=${EVENTS:-100}
WINDOW=${WINDOW:-4}
RATE=${RATE:-0}
CONNECTIONS=${CONNECTIONS:-20000}
EVENTS_20K=${EVENTS_20K:-20}
PRESENCE_USERS=${PRESENCE_USERS:-2000}
PRESENCE_OPS=${PRESENCE_OPS:-100000}
GHOST_USERS=${GHOST_USERS:-1000}
COMMITS=${COMMITS:-20000}
export QUIET_WAIT=${QUIET_WAIT:-20}
SCRATCH=${SCRATCH:-.build}
OUT=${OUT:-artifacts/bench-cluster}
command -v redis-server >/dev/null && command -v redis-cli >/dev/null && command -v jq >/dev/null ||
    { echo "bench-cluster.sh needs redis-server, redis-cli and jq (apt-get install redis-server jq)" >&2; exit 1; }
swift build -c release --scratch-path "$SCRATCH" --product concord >&2
swift build -c release --scratch-path "$SCRATCH" --product concord-bench >&2
bin="$SCRATCH/release"
ulimit -n "$(ulimit -Hn)"
mkdir -p "$OUT"
work=$(mktemp -d)
pids=()
cleanup() {
    local pid
    for pid in "${pids[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
pin_server=(taskset -c 0)
pin_generator=(taskset -c 1)
bench() { "${pin_generator[@]}" "$bin/concord-bench" "$@"; }

# A fresh redis-server on a free loopback port; sets $redis_pid and $redis_port.
start_redis() {
    redis_port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    mkdir -p "$work/redis-$redis_port"
    "${pin_server[@]}" redis-server --bind 127.0.0.1 --port "$redis_port" --dir "$work/redis-$redis_port" --save "" \
        --appendonly yes --appendfsync always --logfile "$work/redis-$redis_port/log" --maxclients 1000 &
    redis_pid=$!
    pids+=("$redis_pid")
    until redis-cli -p "$redis_port" ping >/dev/null 2>&1; do
        kill -0 "$redis_pid" 2>/dev/null || { cat "$work/redis-$redis_port/log" >&2; exit 1; }
        sleep 0.05
    done
}
stop_redis() { redis-cli -p "$redis_port" shutdown nosave >/dev/null 2>&1 || true; wait "$redis_pid" 2>/dev/null || true; }
rcli() { redis-cli -p "$redis_port" "$@"; }

# A node; args: a name, then extra flags. Sets $node_pid and $node_port.
start_node() {
    local name=$1 log="$work/$1.log"; shift
    rm -f "$log"  # the port is read from it: never from an earlier node's
    "${pin_server[@]}" "$bin/concord" serve --port 0 --api-key bench-key --log-level warning --max-connections 20000 \
        --max-connections-per-ip 0 --max-connections-per-user 0 "$@" >"$log" 2>&1 &
    node_pid=$!
    pids+=("$node_pid")
    until grep -q "listening on" "$log" 2>/dev/null; do
        kill -0 "$node_pid" 2>/dev/null || { cat "$log" >&2; exit 1; }
        sleep 0.02
    done
    node_port=$(grep -o '127.0.0.1:[0-9]*' "$log" | head -n 1 | cut -d: -f2)
}
# A node on Redis does not end after SIGTERM (its Redis connections keep the loop alive): kill -9
# what is still there after 3 s. Every part starts a fresh Redis, so nothing it left there matters.
stop_node() {
    local i
    kill "$1" 2>/dev/null || true
    for i in $(seq 30); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
}
redis_node() { start_node "$1" --redis "redis://127.0.0.1:$redis_port" "${@:2}"; }

# Redis's calls per command (from INFO commandstats), as "command calls" lines.
redis_calls() { rcli info commandstats | tr -d '\r' | sed -n 's/^cmdstat_\([^:]*\):calls=\([0-9]*\),.*/\1 \2/p' | sort; }
# Redis's own CPU seconds (user + sys, from INFO cpu).
redis_cpu() { rcli info cpu | tr -d '\r' | awk -F: '/^used_cpu_(user|sys):/ { s += $2 } END { printf "%.3f", s }'; }
# Calls per operation of every command that moved: args: before file, after file, operations.
calls_per() {
    join -a 2 -e 0 -o 0,1.2,2.2 "$1" "$2" | awk -v n="$3" '
        { d = $3 - $2; if (d > 0) { printf "%s%s %.2f", sep, $1, d / n; sep = ", "; t += d } }
        END { printf "%s(all %.2f)\n", (t > 0 ? "; " : ""), t / n }'
}
rss() { awk '/^VmRSS:/ { print $2 * 1024 }' "/proc/$1/status"; }

fanout() {
    echo "== cross-node fan-out: $SUBSCRIBERS subscribers on one channel, $EVENTS events, $([ "$RATE" = 0 ] && echo "window $WINDOW" || echo "$RATE per second")"
    local run single cluster args=(fanout --subscribers "$SUBSCRIBERS" --events "$EVENTS" --window "$WINDOW" --rate "$RATE" --timeout 120 --json)
    for run in $(seq "$RUNS"); do
        start_node single --memory
        wait_for_quiet
        single=$(bench "${args[@]}" --port "$node_port" --server-pid "$node_pid" --node-pid "$node_pid")
        echo "$single" | tail -n 1 | jq -c --arg run "$run" '{part: "fanout", setup: "one node", run: $run} + .' >>"$OUT/results.jsonl"
        stop_node "$node_pid"

        start_redis
        redis_node node1; local p1=$node_pid port1=$node_port
        redis_node node2; local p2=$node_pid port2=$node_port
        wait_for_quiet
        redis_calls >"$work/calls.before"
        cluster=$(bench "${args[@]}" --port "$port1" --subscriber-port "$port1" --subscriber-port "$port2" \
            --node-pid "$p1" --node-pid "$p2" --redis-pid "$redis_pid")
        redis_calls >"$work/calls.after"
        local per; per=$(calls_per "$work/calls.before" "$work/calls.after" "$EVENTS")
        echo "$cluster" | tail -n 1 | jq -c --arg run "$run" --arg calls "$per" \
            '{part: "fanout", setup: "two nodes", run: $run, redis_calls_per_publish: $calls} + .' >>"$OUT/results.jsonl"
        stop_node "$p1"; stop_node "$p2"; stop_redis

        echo "-- run $run: one node"; echo "$single" | sed '$d'
        echo "-- run $run: two nodes on Redis (publishing to node 1)"; echo "$cluster" | sed '$d'
        echo "Redis commands per publish          $per"
        jq -rn --argjson a "$(echo "$single" | tail -n 1)" --argjson b "$(echo "$cluster" | tail -n 1)" '
            def r(x; y): if x == null or y == null or y == 0 then "-" else ((x / y * 100 | round) / 100 | tostring) end;
            "ratios, two nodes ÷ one node:     node 1 µs/delivery \(r($b.nodes[0].cpu_us_per_delivery; $a.server_cpu_us_per_delivery)), node 2 \(r($b.nodes[1].cpu_us_per_delivery; $a.server_cpu_us_per_delivery)), both nodes + Redis \(r(($b.nodes[0].cpu_seconds + $b.nodes[1].cpu_seconds + $b.redis_cpu_seconds) / $b.deliveries * 1e6; $a.server_cpu_us_per_delivery)), p50 \(r($b.latency_p50_ms; $a.latency_p50_ms)), p99 \(r($b.latency_p99_ms; $a.latency_p99_ms)), deliveries/s \(r($b.deliveries_per_second; $a.deliveries_per_second))"'
    done
}

connections() {
    echo "== $CONNECTIONS connections over two nodes, from two generator processes; $EVENTS_20K events at 5/s from a third"
    start_redis
    redis_node node1; local p1=$node_pid port1=$node_port
    redis_node node2; local p2=$node_pid port2=$node_port
    local before1 before2 half=$((CONNECTIONS / 2)) i
    before1=$(rss "$p1"); before2=$(rss "$p2")
    local spread=(--port "$port1" --subscriber-port "$port1" --subscriber-port "$port2" --channel bench/twenty)
    for i in 1 2; do
        bench fanout "${spread[@]}" --subscribers "$half" --events "$EVENTS_20K" --listen-only --timeout 180 --json >"$work/listener$i.out" 2>&1 &
        pids+=("$!")
        until grep -q "^listening:" "$work/listener$i.out" 2>/dev/null; do
            grep -q "first failure" "$work/listener$i.out" 2>/dev/null && { cat "$work/listener$i.out" >&2; exit 1; }
            sleep 0.1
        done
    done
    sleep 1
    local after1 after2 fds1 fds2
    after1=$(rss "$p1"); after2=$(rss "$p2")
    fds1=$(ls "/proc/$p1/fd" | wc -l); fds2=$(ls "/proc/$p2/fd" | wc -l)
    grep -h '^listening:' "$work/listener1.out" "$work/listener2.out"
    echo "node 1: $fds1 open files, RSS $((before1 / 1048576)) -> $((after1 / 1048576)) MiB, $(((after1 - before1) / (CONNECTIONS / 2))) B per connection"
    echo "node 2: $fds2 open files, RSS $((before2 / 1048576)) -> $((after2 / 1048576)) MiB, $(((after2 - before2) / (CONNECTIONS / 2))) B per connection"
    echo "-- publisher (2 more subscribers, one per node)"
    bench fanout "${spread[@]}" --subscribers 2 --events "$EVENTS_20K" --rate 5 --timeout 120 | sed -n '/^subscribers\|^deliveries \|^errors/p'
    wait "${pids[@]: -2}" || true
    for i in 1 2; do
        echo "-- listener $i"
        sed -n '/^subscribers\|^deliveries \|^latency\|^errors\|^first failure/p' "$work/listener$i.out"
        tail -n 1 "$work/listener$i.out" | jq -c --arg i "$i" --argjson b1 "$before1" --argjson a1 "$after1" --argjson b2 "$before2" --argjson a2 "$after2" \
            '{part: "connections", listener: $i, node_rss: [$b1, $a1, $b2, $a2]} + .' >>"$OUT/results.jsonl"
    done
    stop_node "$p1"; stop_node "$p2"; stop_redis
}

presence() {
    echo "== presence churn: $PRESENCE_USERS users in 200 channels, $PRESENCE_OPS joins and leaves, window 8"
    local run single cluster args=(presence --connections "$PRESENCE_USERS" --channels 200 --ops "$PRESENCE_OPS" --window 8 --timeout 120 --json)
    for run in $(seq "$RUNS"); do
        start_node single --dev --memory
        wait_for_quiet
        single=$(bench "${args[@]}" --port "$node_port" --server-pid "$node_pid")
        echo "$single" | tail -n 1 | jq -c --arg run "$run" '{part: "presence", setup: "one node", run: $run} + .' >>"$OUT/results.jsonl"
        stop_node "$node_pid"

        start_redis
        redis_node node1 --dev; local p1=$node_pid port1=$node_port
        redis_node node2 --dev; local p2=$node_pid port2=$node_port
        wait_for_quiet
        redis_calls >"$work/calls.before"
        cluster=$(bench "${args[@]}" --port "$port1" --user-port "$port1" --user-port "$port2" --node-pid "$p1" --node-pid "$p2" --redis-pid "$redis_pid")
        redis_calls >"$work/calls.after"
        # Every entry and every churn operation is one presence operation.
        local per; per=$(calls_per "$work/calls.before" "$work/calls.after" $((PRESENCE_USERS + PRESENCE_OPS)))
        echo "$cluster" | tail -n 1 | jq -c --arg run "$run" --arg calls "$per" \
            '{part: "presence", setup: "two nodes", run: $run, redis_calls_per_op: $calls} + .' >>"$OUT/results.jsonl"
        stop_node "$p1"; stop_node "$p2"; stop_redis

        echo "-- run $run: one node"; echo "$single" | sed '$d'
        echo "-- run $run: two nodes on Redis (users spread over both)"; echo "$cluster" | sed '$d'
        echo "Redis commands per join or leave    $per"
        jq -rn --argjson a "$(echo "$single" | tail -n 1)" --argjson b "$(echo "$cluster" | tail -n 1)" '
            def r(x; y): if x == null or y == null or y == 0 then "-" else ((x / y * 100 | round) / 100 | tostring) end;
            "ratios, two nodes ÷ one node:     ops/s \(r($b.ops_per_second; $a.ops_per_second)), both nodes µs/op \(r($b.node_cpu_us_per_op[0] + $b.node_cpu_us_per_op[1]; $a.server_cpu_us_per_op)), with Redis \(r($b.node_cpu_us_per_op[0] + $b.node_cpu_us_per_op[1] + $b.redis_cpu_us_per_op; $a.server_cpu_us_per_op)), p99 \(r($b.latency_p99_ms; $a.latency_p99_ms))"'
    done
}

ghosts() {
    echo "== kill -9 of a node: $GHOST_USERS users on node 2 in 100 channels, 2 watchers of every channel on node 1"
    local run
    for run in $(seq "$RUNS"); do
        start_redis
        redis_node node1 --dev; local p1=$node_pid port1=$node_port
        redis_node node2 --dev; local p2=$node_pid port2=$node_port
        local out
        out=$(bench presence --port "$port2" --user-port "$port2" --watcher-port "$port1" --connections "$GHOST_USERS" --watchers 2 \
            --channels 100 --kill-pid "$p2" --timeout 60 --json)
        wait "$p2" 2>/dev/null || true
        echo "$out" | tail -n 1 | jq -c --arg run "$run" '{part: "ghosts", run: $run} + .' >>"$OUT/results.jsonl"
        echo "-- run $run"; echo "$out" | sed -n '/^connections\|^presence\|^errors\|^first failure\|^kill/p'
        stop_node "$p1"; stop_redis
    done
}

commits() {
    echo "== commits: $COMMITS from 64 connections, through Redis (appendfsync always) and through the embedded SQLite store"
    local run
    for run in $(seq "$RUNS"); do
        start_redis
        redis_node node1
        local cpu0 cpu1
        wait_for_quiet
        redis_calls >"$work/calls.before"; cpu0=$(redis_cpu)
        bench commits --port "$node_port" --server-pid "$node_pid" --commits "$COMMITS" --label "run $run, Redis" --json >"$work/commits.out"
        redis_calls >"$work/calls.after"; cpu1=$(redis_cpu)
        sed '$d' "$work/commits.out"
        echo "  Redis CPU $(echo "($cpu1 - $cpu0) * 1000000 / $COMMITS" | bc) µs per commit; commands per commit: $(calls_per "$work/calls.before" "$work/calls.after" "$COMMITS")"
        tail -n 1 "$work/commits.out" | jq -c --arg run "$run" '{part: "commits", setup: "redis", run: $run} + .' >>"$OUT/results.jsonl"
        stop_node "$node_pid"; stop_redis

        mkdir -p "$work/data-$run"
        start_node sqlite --data-dir "$work/data-$run"
        wait_for_quiet
        bench commits --port "$node_port" --server-pid "$node_pid" --commits "$COMMITS" --label "run $run, SQLite" --json >"$work/commits.out"
        sed '$d' "$work/commits.out"
        tail -n 1 "$work/commits.out" | jq -c --arg run "$run" '{part: "commits", setup: "sqlite", run: $run} + .' >>"$OUT/results.jsonl"
        stop_node "$node_pid"; rm -rf "$work/data-$run"
    done
}

for part in "${parts[@]}"; do
    case "$part" in
        fanout | connections | presence | ghosts | commits) "$part" ;;
        *) echo "unknown part '$part' (fanout, connections, presence, ghosts, commits)" >&2; exit 2 ;;
    esac
done
