#!/usr/bin/env bash
# Turns the JSON lines of scripts/bench-suite.sh into Markdown tables: medians per scenario and
# server, Concord's ratios to nchan and to the floor, Concord's own scenarios, and every run.
#   bench/results-table.sh artifacts/bench-suite/results.jsonl
set -euo pipefail
results="$1"

jq -rs '
  def r(d): if . == null then "-" else (. * pow(10; d) | round / pow(10; d) | tostring) end;
  def median: map(select(. != null)) | sort | if length == 0 then null else .[(length - 1) / 2 | floor] end;
  def med(f): map(f) | median;
  def other: if .machine_busy_cpu_seconds == null or .server_cpu_seconds == null then null
             else .machine_busy_cpu_seconds - .server_cpu_seconds - .generator_cpu_seconds end;
  def mib: if . == null then null else . / 1048576 end;
  def ratio(a; b): if a == null or b == null or b == 0 then "-" else (a / b | r(2)) end;
  def order: {"fanout": 0, "fanout-rate": 1, "channels": 2, "idle": 3}[.] // 9;
  def sorder: {"concord": 0, "nchan": 1, "floor": 2}[.] // 9;
  def title: {"fanout": "fan-out, as fast as delivered", "fanout-rate": "fan-out at a fixed rate",
              "channels": "many channels", "idle": "idle connections"}[.] // .;

  (map(select(.deliveries != null)) | group_by([(.scenario | order), (.server | sorder)])
   | map({scenario: .[0].scenario, server: .[0].server, runs: length,
          subscribers: .[0].subscribed, channels: .[0].channels, events: .[0].events, rate: .[0].rate, window: .[0].window,
          dps: med(.deliveries_per_second), p50: med(.latency_p50_ms), p99: med(.latency_p99_ms),
          max: med(.latency_max_ms), cpu: med(.server_cpu_us_per_delivery), cpus: med(.server_cpu_seconds),
          rss: med(.server_rss_subscribed_bytes | mib), rssconn: med(.server_rss_per_connection_bytes),
          dpr: med(.deliveries_per_read), bytes: med(.bytes_per_delivery), other: med(other),
          errors: (map(.errors) | add), delivered: (map(.deliveries) | add), expected: (map(.expected_deliveries) | add)})) as $rows
  | ($rows | map(select(.scenario != "idle"))) as $busy
  | ($rows | map(select(.scenario == "idle"))) as $idle
  | "## Concord, nchan and the floor\n",
    "| scenario | server | deliveries/s | p50 ms | p99 ms | max ms | **server µs/delivery** | server CPU s | deliveries/read | bytes/delivery | RSS subscribed MiB | errors | other CPU s |",
    "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ($busy[] | "| \(.scenario | title): \(.subscribers) subscribers, \(.channels) channel\(if .channels == 1 then "" else "s" end), \(.events) events\(if .rate > 0 then " at \(.rate)/s" else ", window \(.window)" end) | \(.server) | \(.dps | r(0)) | \(.p50 | r(2)) | \(.p99 | r(2)) | \(.max | r(2)) | **\(.cpu | r(3))** | \(.cpus | r(2)) | \(.dpr | r(2)) | \(.bytes | r(0)) | \(.rss | r(1)) | \(.errors) | \(.other | r(2)) |"),
    "",
    (if ($idle | length) > 0 then
      "| idle connections | server | connections | RSS subscribed MiB | **RSS per connection** | server CPU s while idle |",
      "|---|---|---|---|---|---|",
      ($idle[] | "| idle | \(.server) | \(.subscribers) | \(.rss | r(1)) | **\(.rssconn | r(0)) B** | \(.cpus | r(2)) |"),
      ""
     else empty end),
    "## Ratios (Concord ÷ peer; below 1 means Concord spends less)\n",
    "| scenario | CPU/delivery vs nchan | CPU/delivery vs floor | p99 vs nchan | p99 vs floor | deliveries/s vs nchan | RSS/connection vs nchan | RSS/connection vs floor |",
    "|---|---|---|---|---|---|---|---|",
    ($rows | group_by(.scenario | order)[] | . as $g
     | ($g | map(select(.server == "concord"))[0]) as $c | ($g | map(select(.server == "nchan"))[0]) as $n
     | ($g | map(select(.server == "floor"))[0]) as $f
     | select($c != null)
     | "| \($c.scenario | title) | \(ratio($c.cpu; $n.cpu)) | \(ratio($c.cpu; $f.cpu)) | \(ratio($c.p99; $n.p99)) | \(ratio($c.p99; $f.p99)) | \(ratio($c.dps; $n.dps)) | \(ratio($c.rssconn; $n.rssconn)) | \(ratio($c.rssconn; $f.rssconn)) |"),
    ""
  ,
  (map(select(.ops_per_second != null)) | group_by(.scenario) | select(length > 0)
   | "## Concord only\n",
     "| scenario | ops/s | p50 ms | p99 ms | **server µs/op** | RSS per member | watcher pushes/read | errors |",
     "|---|---|---|---|---|---|---|---|",
     (.[] | "| \(.[0].scenario) (\(.[0].connections) connections, \(.[0].channels) channels, \(.[0].ops) ops, window \(.[0].window), \(.[0].watchers) watchers) | \(med(.ops_per_second) | r(0)) | \(med(.latency_p50_ms) | r(2)) | \(med(.latency_p99_ms) | r(2)) | **\(med(.server_cpu_us_per_op) | r(2))** | \(med(.server_rss_per_member_bytes) | r(0)) B | \(med(.watcher_events_per_read) | r(1)) | \(map(.errors) | add) |")),
  (map(select(.commitsPerSecond != null)) | select(length > 0)
   | "| commits (in memory, 64 connections) | \(med(.commitsPerSecond) | r(0)) | \(med(.p50Ms) | r(2)) | \(med(.p99Ms) | r(2)) | **\(med(.serverCpuMicrosecondsPerCommit) | r(2))** | - | - | \(map(.conflicts) | add) conflicts |"),
  "",
  "## Every run\n",
  "```",
  (["scenario", "server", "run", "deliveries", "deliv/s", "p50 ms", "p99 ms", "max ms", "srv µs/deliv", "srv CPU s", "deliv/read", "RSS B/conn", "errors", "other CPU s"] | @tsv),
  (map(select(.deliveries != null)) | sort_by([(.scenario | order), .run, (.server | sorder)])[]
   | [.scenario, .server, (.run | tostring), "\(.deliveries)/\(.expected_deliveries)", (.deliveries_per_second | r(0)),
      (.latency_p50_ms | r(2)), (.latency_p99_ms | r(2)), (.latency_max_ms | r(2)), (.server_cpu_us_per_delivery | r(3)),
      (.server_cpu_seconds | r(2)), (.deliveries_per_read | r(2)), (.server_rss_per_connection_bytes | r(0)), (.errors | tostring), (other | r(2))] | @tsv),
  (map(select(.ops_per_second != null))[]
   | [.scenario, "concord", (.run | tostring), "\(.ops_done)/\(.ops) ops", (.ops_per_second | r(0)), (.latency_p50_ms | r(2)),
      (.latency_p99_ms | r(2)), (.latency_max_ms | r(2)), "\(.server_cpu_us_per_op | r(2))/op", (.server_cpu_seconds | r(2)), (.replies_per_read | r(2)),
      (.server_rss_per_member_bytes | r(0)), (.errors | tostring), (other | r(2))] | @tsv),
  (map(select(.commitsPerSecond != null))[]
   | ["commits", "concord", (.run | tostring), "\(.accepted) commits", (.commitsPerSecond | r(0)), (.p50Ms | r(2)), (.p99Ms | r(2)), "-",
      "\(.serverCpuMicrosecondsPerCommit | r(2))/commit", "-", "-", "-", "\(.conflicts) conflicts", "-"] | @tsv),
  "```"
' "$results" | awk '
  # Aligns the tab-separated lines inside the code block; the Markdown tables pass through.
  /^```/ { if (inblock) { flush() } inblock = !inblock; print; next }
  inblock { lines[n++] = $0; c = split($0, f, "\t"); for (i = 1; i <= c; i++) if (length(f[i]) > w[i]) w[i] = length(f[i]); next }
  { print }
  function flush(   j, i, c, f, line) {
    for (j = 0; j < n; j++) { c = split(lines[j], f, "\t"); line = ""; for (i = 1; i <= c; i++) line = line sprintf("%-" (w[i] + 2) "s", f[i]); sub(/ +$/, "", line); print line }
    n = 0
  }'
