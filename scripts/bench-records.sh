#!/usr/bin/env bash
# Records benchmarks: in-memory conflict checks, then, for stores of 0, 10,000, 1,000,000 and
# 10,000,000 synthetic records, startup time and memory, and durable commits over HTTP spread
# uniformly over every stored record (each a likely cache miss) and over a hot set that fits the
# cache (the most recently created records). The 10,000-record store is the hot set alone: the same
# records and commits as on the larger stores, without the rest. Server on core 0, generator on core 1.
#   scripts/bench-records.sh [SIZES...]          (default: 0 10000 1000000 10000000)
# Environment: COMMITS (per run, default 40000), HOT_SET (default 10000), QUIET_WAIT (s, default 20),
# DATA_ROOT (where the populated stores go, default a temporary directory; kept when set, and reused
# on the next run). Every server starts on a fresh copy of the populated store, so runs do not see
# each other's writes.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/bench-common.sh
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(0 10000 1000000 10000000)
commits=${COMMITS:-40000}
hot=${HOT_SET:-10000}
export QUIET_WAIT=${QUIET_WAIT:-20}
scratch=${SCRATCH:-.build}
swift build -c release --scratch-path "$scratch" --product concord >/dev/null
swift build -c release --scratch-path "$scratch" --product concord-bench >/dev/null
bin="$scratch/release"
ulimit -n "$(ulimit -Hn)"
work=$(mktemp -d)
data_root=${DATA_ROOT:-$work}
server=""
cleanup() { [ -n "$server" ] && kill "$server" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

start_server() {  # args: extra flags; sets $server, $port and $listening_after (seconds)
  local begin end
  begin=$(date +%s.%N)
  taskset -c 0 "$bin/concord" serve --port 0 --api-key bench-key --log-level warning "$@" >"$work/server.out" 2>&1 &
  server=$!
  until grep -q "listening on" "$work/server.out"; do
    kill -0 "$server" 2>/dev/null || { cat "$work/server.out" >&2; exit 1; }
    sleep 0.01
  done
  end=$(date +%s.%N)
  listening_after=$(echo "$end - $begin" | bc)
  port=$(grep -o '127.0.0.1:[0-9]*' "$work/server.out" | cut -d: -f2)
}
stop_server() { kill "$server"; wait "$server" 2>/dev/null || true; server=""; }
resident() { grep VmRSS "/proc/$server/status" | awk '{printf "%.1f MB", $2 / 1024}'; }
commits_run() {  # args: label, then concord-bench commits flags
  local label=$1; shift
  wait_for_quiet
  taskset -c 1 "$bin/concord-bench" commits --port "$port" --server-pid "$server" --label "$label" --commits "$commits" --json "$@"
}

echo "== conflict checks in memory (core only, no I/O)"
taskset -c 1 "$bin/concord-bench" commit-check
taskset -c 1 "$bin/concord-bench" commit-check --records 1000000

echo "== commits over HTTP, memory (--memory starts empty: fresh records)"
start_server --memory
commits_run memory
stop_server

for size in "${sizes[@]}"; do
  pristine="$data_root/records-$size"
  if [ "$(cat "$pristine/populated" 2>/dev/null)" != "$size" ]; then
    rm -rf "$pristine"
    if [ "$size" -gt 0 ]; then "$bin/concord-bench" populate --data-dir "$pristine" --count "$size"; fi
    mkdir -p "$pristine"
    echo "$size" >"$pristine/populated"
  fi
  data="$work/data"
  # Synced, so that the copy's own writeback is not paid by the first checkpoint of a measured run.
  fresh_copy() { rm -rf "$data"; cp -a "$pristine" "$data"; sync; }
  echo "== $size stored records ($(du -sh "$pristine" | cut -f1) on disk)"
  fresh_copy  # starting writes nothing: the three starts share one copy
  for run in 1 2 3; do
    wait_for_quiet
    start_server --data-dir "$data"
    printf 'startup run %d: listening after %.3f s, resident %s\n' "$run" "$listening_after" "$(resident)"
    stop_server
  done
  if [ "$size" -eq 0 ]; then
    fresh_copy
    start_server --data-dir "$data"
    commits_run "durable, empty store"
  else
    fresh_copy
    start_server --data-dir "$data"
    commits_run "durable, uniform" --stored "$size" --spread uniform
    echo "resident after the uniform run: $(resident)"
    stop_server
    fresh_copy
    start_server --data-dir "$data"
    # The first pass brings the hot set into the cache; the second is the one to read.
    commits_run "warm-up" --stored "$size" --spread hot --hot-set "$hot" >/dev/null
    commits_run "durable, hot set (1)" --stored "$size" --spread hot --hot-set "$hot"
    commits_run "durable, hot set (2)" --stored "$size" --spread hot --hot-set "$hot"
  fi
  curl -s "http://127.0.0.1:$port/metrics" | grep -E '^concord_record_cache_(hits|misses|evictions)_total|^concord_record_cache_entries' || true
  echo "resident at the end: $(resident)"
  stop_server
done
rm -rf "$work/data"
