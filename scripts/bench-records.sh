#!/usr/bin/env bash
# Records benchmarks: in-memory conflict checks, commits over HTTP in memory and durable (group
# commit), and startup time with many stored records. Server on core 0, generator on core 1.
#   scripts/bench-records.sh [STORED_RECORDS]     (default 1000000)
set -euo pipefail
cd "$(dirname "$0")/.."
stored=${1:-1000000}
scratch=${SCRATCH:-.build}
swift build -c release --scratch-path "$scratch" --product concord >/dev/null
swift build -c release --scratch-path "$scratch" --product concord-bench >/dev/null
bin="$scratch/release"
ulimit -n "$(ulimit -Hn)"
work=$(mktemp -d)
server=""
cleanup() { [ -n "$server" ] && kill "$server" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

start_server() {  # args: extra flags; sets $server and $port
  taskset -c 0 "$bin/concord" serve --port 0 --api-key bench-key --log-level warning "$@" >"$work/server.out" 2>&1 &
  server=$!
  until grep -q "listening on" "$work/server.out"; do sleep 0.05; done
  port=$(grep -o '127.0.0.1:[0-9]*' "$work/server.out" | cut -d: -f2)
}
stop_server() { kill "$server"; wait "$server" 2>/dev/null || true; server=""; }

echo "== conflict checks in memory (core only)"
taskset -c 1 "$bin/concord-bench" commit-check

for mode in memory durable; do
  echo "== commits over HTTP, $mode"
  if [ "$mode" = memory ]; then start_server --memory; else start_server --data-dir "$work/data-commits"; fi
  taskset -c 1 "$bin/concord-bench" commits --port "$port" --server-pid "$server" --label "$mode" --commits 20000
  stop_server
done

echo "== startup with $stored stored records"
"$bin/concord-bench" populate --data-dir "$work/data-startup" --count "$stored"
echo "data directory: $(du -sh "$work/data-startup" | cut -f1)"
for run in 1 2 3; do
  begin=$(date +%s.%N)
  start_server --data-dir "$work/data-startup"
  end=$(date +%s.%N)
  printf 'run %d: listening after %.2f s, resident %s\n' "$run" "$(echo "$end - $begin" | bc)" "$(grep VmRSS /proc/$server/status | awk '{print $2 " " $3}')"
  stop_server
done
