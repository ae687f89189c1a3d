// Benchmarks of history, recovery and coalescing against a real Concord, printing their figures.
// Run by scripts/bench-recovery.sh, which builds the release binary, pins the server to core 0 and
// this generator to core 1, and raises the open-file limit.
//
//   node --experimental-websocket scripts/bench-recovery.mjs CONCORD_BINARY [storm|coalescing|history|memory]...
//
// storm       CLIENTS clients (default 5,000) subscribed to one channel lose their connections
//             together; MISSED events (100) are published; all reconnect at once with `since`.
//             Time until every one has recovered them, server CPU, and the latency of the first live
//             event after recovery (p50, p99).
// coalescing  1,000 subscribers, a 1,000-event burst, with and without `coalesce: 200`: deliveries
//             and server CPU.
// history     1,000 subscribers, EVENTS events (1,000), with history (the default) and without
//             (`--history '*=0'`): server CPU per delivery.
// memory      300 events of about 200 bytes in each of 1,000 channels: history bytes per channel
//             (`concord_history_bytes`) and the server's resident memory per channel.
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";

const [binary, ...wanted] = process.argv.slice(2);
if (!binary) {
  console.error("usage: bench-recovery.mjs CONCORD_BINARY [storm|coalescing|history|memory]...");
  process.exit(2);
}
const scenarios = wanted.length ? wanted : ["history", "coalescing", "memory", "storm"];
const CLIENTS = Number(process.env.CLIENTS ?? 5000);
const MISSED = Number(process.env.MISSED ?? 100);
const EVENTS = Number(process.env.EVENTS ?? 1000);
const API_KEY = "bench-key";
const SERVER_PIN = process.env.SERVER_PIN ? process.env.SERVER_PIN.split(" ") : [];

// --- the server ----------------------------------------------------------------------------

async function startServer(args = []) {
  const command = [...SERVER_PIN, binary, "serve", "--port", "0", "--memory", "--api-key", API_KEY, "--log-level", "warning",
    "--max-connections", "20000", "--max-connections-per-ip", "0", "--max-connections-per-user", "0", ...args];
  const child = spawn(command[0], command.slice(1), { stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  const port = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no listening line:\n${output}`)), 15_000);
    const onData = (chunk) => {
      output += chunk;
      const match = /listening on http:\/\/[^ ]*:(\d+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(Number(match[1]));
      }
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", onData);
    child.once("exit", (code) => reject(new Error(`server exited (${code}):\n${output}`)));
  });
  const pid = await serverPid(child.pid);
  return {
    port,
    /** CPU seconds (user + system) the server has used so far. */
    cpu() {
      const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
      return (Number(fields[11]) + Number(fields[12])) / 100;
    },
    rss() {
      const line = readFileSync(`/proc/${pid}/status`, "utf8").split("\n").find((l) => l.startsWith("VmRSS:"));
      return Number(line.split(/\s+/)[1]) * 1024;
    },
    stop() {
      child.kill("SIGKILL");
    },
  };
}

// With `taskset`, the child is taskset until it execs concord: the pid stays the same.
async function serverPid(pid) {
  return pid;
}

async function publish(server, events) {
  const response = await fetch(`http://127.0.0.1:${server.port}/v1/publish`, {
    method: "POST",
    headers: { "Content-Type": "application/json", Authorization: `Bearer ${API_KEY}` },
    body: JSON.stringify(events),
  });
  if (response.status !== 200) throw new Error(`publish: ${response.status} ${await response.text()}`);
}

async function metric(server, name) {
  const text = await (await fetch(`http://127.0.0.1:${server.port}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith(name + " "));
  return Number(line?.split(" ")[1] ?? NaN);
}

// --- a raw protocol client -----------------------------------------------------------------

/** One WebSocket that subscribes once and counts events; `onEvent` sees each event frame. */
function connect(server, { channel, coalesce, since, onEvent, onSubscribed }) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${server.port}/v1/ws`);
    ws.addEventListener("error", () => reject(new Error("connect failed")));
    ws.addEventListener("message", (message) => {
      const frame = JSON.parse(message.data);
      if (frame.op === "welcome") {
        const subscribe = { op: "subscribe", sub: "s", channel };
        if (coalesce) subscribe.coalesce = coalesce;
        if (since) subscribe.since = since;
        ws.send(JSON.stringify(subscribe));
      } else if (frame.op === "subscribed") {
        onSubscribed?.(frame);
        resolve(ws);
      } else if (frame.op === "event") {
        onEvent?.(frame);
      }
    });
  });
}

async function inBatches(count, batch, make) {
  const out = [];
  for (let i = 0; i < count; i += batch) {
    out.push(...(await Promise.all(Array.from({ length: Math.min(batch, count - i) }, (_, j) => make(i + j)))));
  }
  return out;
}

async function until(predicate, timeoutMs, what) {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

const percentile = (values, p) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
};
const events = (channel, count, from = 0, pad = "") =>
  Array.from({ length: count }, (_, i) => ({ channel, type: "updated", payload: { ids: [from + i], pad } }));

// --- scenarios -----------------------------------------------------------------------------

async function storm() {
  const server = await startServer();
  const channel = "resources/storm";
  const positions = new Array(CLIENTS);
  let sockets = await inBatches(CLIENTS, 500, (i) =>
    connect(server, { channel, onSubscribed: (f) => (positions[i] = { offset: f.offset, epoch: f.epoch }) }));
  for (const ws of sockets) ws.close();
  await until(() => true, 0, "");
  await new Promise((r) => setTimeout(r, 500));
  await publish(server, events(channel, MISSED));

  const recovered = new Array(CLIENTS).fill(0);
  const firstLive = new Array(CLIENTS).fill(0);
  let liveSentAt = 0;
  const cpuBefore = server.cpu();
  const start = performance.now();
  sockets = await inBatches(CLIENTS, CLIENTS, (i) =>
    connect(server, {
      channel,
      since: positions[i],
      onEvent: (frame) => {
        if (frame.sub !== undefined) recovered[i] += 1;
        else if (!firstLive[i]) firstLive[i] = performance.now() - liveSentAt;
      },
    }));
  await until(() => recovered.every((n) => n === MISSED), 120_000, "every client to recover");
  const allRecovered = performance.now() - start;
  const cpu = server.cpu() - cpuBefore;
  liveSentAt = performance.now();
  await publish(server, events(channel, 1, MISSED));
  await until(() => firstLive.every((t) => t > 0), 60_000, "the first live event everywhere");
  console.log(`storm: ${CLIENTS} clients reconnect at once, each recovering ${MISSED} missed events`);
  console.log(`  all recovered after           ${allRecovered.toFixed(0)} ms`);
  console.log(`  server CPU                    ${cpu.toFixed(2)} s (${((cpu * 1e6) / (CLIENTS * MISSED)).toFixed(2)} µs per replayed event)`);
  console.log(`  first live event after it p50 ${percentile(firstLive, 50).toFixed(1)} ms, p99 ${percentile(firstLive, 99).toFixed(1)} ms`);
  for (const ws of sockets) ws.close();
  server.stop();
}

async function burstTo(subscribers, coalesce) {
  const server = await startServer();
  const channel = "resources/burst";
  let received = 0;
  let stands = 0;
  const sockets = await inBatches(subscribers, 500, () =>
    connect(server, {
      channel,
      coalesce,
      onEvent: (frame) => {
        received += 1;
        stands += frame.event.meta?.concord?.coalesced ?? 1;
      },
    }));
  const cpuBefore = server.cpu();
  const start = performance.now();
  await publish(server, events(channel, 1000));
  await until(() => stands === subscribers * 1000, 60_000, "the burst everywhere");
  const elapsed = performance.now() - start;
  const cpu = server.cpu() - cpuBefore;
  for (const ws of sockets) ws.close();
  server.stop();
  return { received, cpu, elapsed };
}

async function coalescing() {
  const plain = await burstTo(1000, undefined);
  const merged = await burstTo(1000, 200);
  console.log("coalescing: a 1,000-event burst to 1,000 subscribers");
  console.log(`  without coalesce              ${plain.received} deliveries, server CPU ${plain.cpu.toFixed(2)} s, all in after ${plain.elapsed.toFixed(0)} ms`);
  console.log(`  coalesce 200 ms               ${merged.received} deliveries, server CPU ${merged.cpu.toFixed(2)} s, all in after ${merged.elapsed.toFixed(0)} ms`);
  console.log(`  ratio                         ${(plain.received / merged.received).toFixed(0)}x fewer deliveries, ${(plain.cpu / merged.cpu).toFixed(1)}x less server CPU`);
}

async function fanout(args) {
  const server = await startServer(args);
  const channel = "resources/fanout";
  let received = 0;
  const sockets = await inBatches(1000, 500, () => connect(server, { channel, onEvent: () => (received += 1) }));
  const cpuBefore = server.cpu();
  for (let i = 0; i < EVENTS; i += 20) {
    await publish(server, events(channel, 20, i));
    await until(() => received === 1000 * (i + 20), 60_000, "the batch everywhere");
  }
  const cpu = server.cpu() - cpuBefore;
  for (const ws of sockets) ws.close();
  server.stop();
  return (cpu * 1e6) / (1000 * EVENTS);
}

async function history() {
  const rounds = Number(process.env.ROUNDS ?? 3);
  const on = [];
  const off = [];
  for (let round = 0; round < rounds; round++) {
    on.push(await fanout([]));
    off.push(await fanout(["--history", "*=0"]));
  }
  const median = (values) => percentile(values, 50);
  console.log(`history: 1,000 subscribers, ${EVENTS} events, ${rounds} rounds alternating, server CPU per delivery (median)`);
  console.log(`  history on (300 events, 5 min) ${median(on).toFixed(2)} µs  (${on.map((v) => v.toFixed(2)).join(", ")})`);
  console.log(`  history off (--history '*=0')  ${median(off).toFixed(2)} µs  (${off.map((v) => v.toFixed(2)).join(", ")})`);
  console.log(`  on / off                       ${(median(on) / median(off)).toFixed(3)}`);
}

async function memory() {
  const server = await startServer();
  const pad = "x".repeat(120);
  const rssBefore = server.rss();
  for (let channel = 0; channel < 1000; channel++) {
    await publish(server, events(`resources/memory-${channel}`, 300, 0, pad));
  }
  const bytes = await metric(server, "concord_history_bytes");
  const kept = await metric(server, "concord_history_events");
  const rss = server.rss() - rssBefore;
  const frame = JSON.stringify({ op: "event", channel: "resources/memory-1", offset: 1, event: events("resources/memory-1", 1, 0, pad)[0] }).length;
  console.log("memory: 300 events (an event frame of about " + frame + " bytes) in each of 1,000 channels");
  console.log(`  events kept                   ${kept}`);
  console.log(`  concord_history_bytes         ${(bytes / 1000 / 1024).toFixed(1)} KiB per channel (${(bytes / kept).toFixed(0)} bytes per event)`);
  console.log(`  server RSS growth             ${(rss / 1000 / 1024).toFixed(1)} KiB per channel (${(rss / kept).toFixed(0)} bytes per event)`);
  server.stop();
}

const run = { storm, coalescing, history, memory };
for (const name of scenarios) {
  if (!run[name]) throw new Error(`no scenario ${name}`);
  await run[name]();
}
process.exit(0);
