// Several nodes on one Redis, through the reference client: a Refine page on one node hears what a
// backend publishes on another, presence is one member per user across nodes, and a client whose
// node dies comes back through the load balancer to another node and recovers what it missed.
// A real redis-server and real concord nodes; a few lines of TCP proxy play the load balancer.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createClient, liveProvider } from "../../protocol/concord.js";
import { startServer, publishOk, waitFor, FAST_RECONNECT } from "./helpers.mjs";

const redisBinary = process.env.REDIS_SERVER ?? "/usr/bin/redis-server";

async function freePort() {
  const server = createServer();
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** A durable redis-server on a free loopback port, in a scratch directory. */
async function startRedis() {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), "concord-redis-"));
  const child = spawn(redisBinary, ["--port", String(port), "--bind", "127.0.0.1", "--dir", dir, "--save", "", "--appendonly", "yes", "--appendfsync", "always"], { stdio: "ignore" });
  await waitFor(
    () => new Promise((resolve) => {
      const socket = connect(port, "127.0.0.1", () => { socket.destroy(); resolve(true); });
      socket.on("error", () => resolve(false));
    }),
    10_000,
    "redis-server to listen",
  );
  return {
    port,
    stop() {
      child.kill("SIGKILL");
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A load balancer of one TCP hop: new connections go to `target`, which the test may move (or
 *  set to null: connections are refused meanwhile). */
async function startBalancer(target) {
  const balancer = { target, sockets: new Set() };
  const server = createServer((socket) => {
    if (!balancer.target) return socket.destroy();
    const upstream = connect(balancer.target.port, "127.0.0.1");
    for (const s of [socket, upstream]) {
      balancer.sockets.add(s);
      s.on("error", () => { socket.destroy(); upstream.destroy(); });
      s.on("close", () => { balancer.sockets.delete(s); socket.destroy(); upstream.destroy(); });
    }
    socket.pipe(upstream).pipe(socket);
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  balancer.wsUrl = `ws://127.0.0.1:${server.address().port}/v1/ws`;
  balancer.close = () => {
    for (const s of balancer.sockets) s.destroy();
    server.close();
  };
  return balancer;
}

let redis;
const nodes = [];
const clients = [];
const prefix = `js${process.pid}`;
const nodeArgs = () => ["--dev", "--ping-interval", "200", "--idle-timeout", "600", "--redis", `redis://127.0.0.1:${redis.port}?prefix=${prefix}`];
const newClient = (url, user) => {
  const client = createClient(url, { reconnect: FAST_RECONNECT, params: { user } });
  clients.push(client);
  return client;
};

before(async () => {
  redis = await startRedis();
  for (let i = 0; i < 2; i++) nodes.push(await startServer({ args: nodeArgs() }));
});

after(async () => {
  for (const client of clients) client.close();
  for (const node of nodes) await node.stop();
  redis?.stop();
});

test("a Refine subscription on one node hears a backend publishing on the other, filtered", async () => {
  const [a, b] = nodes;
  const client = newClient(b.wsUrl, "alice");
  const received = [];
  const handle = liveProvider(client).subscribe({
    channel: "resources/cluster-posts",
    types: ["*"],
    params: { ids: ["1"] },
    callback: (event) => received.push(`${event.type}:${event.payload.ids.join(",")}`),
  });
  await handle.ready;
  await publishOk(a, { channel: "resources/cluster-posts", type: "updated", payload: { ids: [1] } });
  await publishOk(a, { channel: "resources/cluster-posts", type: "updated", payload: { ids: [2] } }); // another record
  await publishOk(b, { channel: "resources/cluster-posts", type: "deleted", payload: { ids: [1] } });
  await waitFor(() => received.length === 2, 5000, "two events across nodes");
  assert.deepEqual(received, ["updated:1", "deleted:1"]);
});

test("a user with tabs on both nodes is one member, who leaves with the last tab", async () => {
  const [a, b] = nodes;
  const channel = "presence/cluster-doc";
  const watcher = newClient(a.wsUrl, "watcher").presence(channel);
  const lists = [];
  watcher.on("change", (list) => lists.push(list.map((m) => `${m.user}:${m.connections}`).sort()));
  await watcher.subscribe();
  const tabOnA = newClient(a.wsUrl, "alice");
  const tabOnB = newClient(b.wsUrl, "alice");
  await tabOnA.presence(channel).enter({ name: "Alice" });
  await tabOnB.presence(channel).enter({ name: "Alice" });
  await waitFor(() => lists.at(-1)?.join() === "alice:2", 5000, "alice with two connections");
  tabOnA.close();
  await waitFor(() => lists.at(-1)?.join() === "alice:1", 5000, "alice still present on the other node");
  tabOnB.close();
  await waitFor(() => lists.at(-1)?.length === 0, 5000, "alice gone with her last tab");
  assert.ok(!lists.some((list) => list.filter((m) => m.startsWith("alice:")).length > 1), "never two alices");
});

test("a client whose node is killed comes back through the balancer to the other and recovers", async () => {
  const extra = await startServer({ args: nodeArgs() });
  nodes.push(extra);
  const balancer = await startBalancer(extra);
  try {
    const client = newClient(balancer.wsUrl, "bob");
    const received = [];
    const refetches = [];
    const handle = liveProvider(client).subscribe({
      channel: "resources/cluster-failover",
      types: ["*"],
      callback: (event) => (event.type === "*" ? refetches.push(event) : received.push(event.payload.ids[0])),
    });
    await handle.ready;
    await publishOk(nodes[0], { channel: "resources/cluster-failover", type: "created", payload: { ids: [1] } });
    await waitFor(() => received.length === 1, 5000, "the first event");

    // The node dies without a word; while the client cannot reconnect, three events go out; then
    // the balancer sends new connections to another node.
    balancer.target = null;
    await extra.kill();
    await waitFor(() => client.state !== "connected", 5000, "the client to notice");
    for (let id = 2; id <= 4; id++) {
      await publishOk(nodes[0], { channel: "resources/cluster-failover", type: "created", payload: { ids: [id] } });
    }
    balancer.target = nodes[1];
    await waitFor(() => received.length === 4, 10_000, "the missed events, recovered on the other node");
    await publishOk(nodes[1], { channel: "resources/cluster-failover", type: "created", payload: { ids: [5] } });
    await waitFor(() => received.length === 5, 5000, "a live event after the recovery");
    assert.deepEqual(received, [1, 2, 3, 4, 5], "each once, in order");
    assert.deepEqual(refetches, [], "recovered, not refetched");
    const metrics = await (await fetch(`${nodes[1].httpUrl}/metrics`)).text();
    assert.match(metrics, /^concord_events_replayed_total 3$/m, "the three came as a replay on the other node");
  } finally {
    balancer.close();
  }
});

test("/readyz says ready while Redis answers, and 503 with the reason once it is gone", async () => {
  const ready = await fetch(`${nodes[0].httpUrl}/readyz`);
  assert.equal(ready.status, 200);
  const body = await ready.json();
  assert.equal(body.ready, true);
  assert.match(body.node, /^[a-z0-9]{12}$/);
  // Last in this file: Redis goes, and stays gone.
  redis.stop();
  const gone = await waitFor(async () => {
    const answer = await fetch(`${nodes[1].httpUrl}/readyz`);
    return answer.status === 503 ? answer.json() : null;
  }, 10_000, "/readyz to say not ready");
  assert.equal(gone.ready, false);
  assert.match(gone.reason, /Redis/);
  const refused = await fetch(`${nodes[1].httpUrl}/v1/publish`, {
    method: "POST",
    headers: { authorization: "Bearer test-key", "content-type": "application/json" },
    body: JSON.stringify({ channel: "resources/cluster-posts", type: "created" }),
  });
  assert.equal(refused.status, 503);
  assert.equal((await refused.json()).error.code, "unavailable");
  redis = null;
});
