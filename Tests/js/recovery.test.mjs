// Recovery after a reconnect against the real server: the events a subscription missed while its
// connection was down arrive once, in order, before live ones; when they cannot, Refine's callback
// gets one refetch event. Never a silent gap.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createClient, liveProvider } from "../../protocol/concord.js";
import { devServerFixture, startServer, startOnPort, publishOk, waitFor, FAST_RECONNECT, trackedWebSocket, httpJson } from "./helpers.mjs";

// A server of this file's own (not in development mode), and clients that close with it.
const fixture = devServerFixture([]);
const newClient = (options = {}) => fixture.newClient(undefined, undefined, options);

const post = (channel, type, id) => publishOk(fixture.server, { channel, type, payload: { ids: [id] } });

test("events missed while the network was down reach Refine's callback once, in order, before live ones", async () => {
  const network = trackedWebSocket();
  const client = newClient({ WebSocket: network.WebSocket });
  const received = [];
  const handle = liveProvider(client).subscribe({
    channel: "resources/recover",
    types: ["*"],
    params: { ids: ["1", "2"] },
    callback: (event) => received.push(`${event.type}:${event.payload.ids?.join(",") ?? "-"}`),
  });
  await handle.ready;
  await post("resources/recover", "updated", 1);
  await waitFor(() => received.length === 1, 3000, "the first event");

  // The network goes: the socket closes and reconnects fail until it is back.
  network.hold();
  network.sockets.at(-1).close();
  await waitFor(() => client.state !== "connected", 3000, "the client to notice");
  await post("resources/recover", "updated", 2);
  await post("resources/recover", "updated", 3); // not admitted by the filter
  await post("resources/recover", "deleted", 1);
  network.release();
  await waitFor(() => received.length === 3, 5000, "the missed events");
  await post("resources/recover", "created", 2);
  await waitFor(() => received.length === 4, 3000, "the live event");
  assert.deepEqual(received, ["updated:1", "updated:2", "deleted:1", "created:2"]);
});

test("a subscription that missed more than the history keeps gets one refetch event", async () => {
  const network = trackedWebSocket();
  const client = newClient({ WebSocket: network.WebSocket });
  const received = [];
  const infos = [];
  const handle = client.subscribe({
    channel: "resources/flood",
    callback: (event) => received.push(event.type),
    onSubscribed: (info) => infos.push(info),
  });
  const refine = [];
  const refineHandle = liveProvider(client).subscribe({ channel: "resources/flood", types: ["*"], callback: (event) => refine.push(event) });
  await Promise.all([handle.ready, refineHandle.ready]);
  network.hold();
  network.sockets.at(-1).close();
  await waitFor(() => client.state !== "connected", 3000, "the client to notice");
  // More than the 300 events a channel keeps by default.
  const events = Array.from({ length: 301 }, (_, i) => ({ channel: "resources/flood", type: "updated", payload: { ids: [i] } }));
  const published = await httpJson(fixture.server, "POST", "/v1/publish", { body: events });
  assert.equal(published.status, 200);
  network.release();
  await waitFor(() => infos.length === 2, 5000, "resubscribed");
  assert.deepEqual([infos[1].resumed, infos[1].gap, infos[1].recovered, infos[1].reason], [true, true, false, "history_too_short"]);
  assert.deepEqual(received, [], "no partial replay");
  await waitFor(() => refine.length === 1, 3000, "the refetch event");
  assert.equal(refine[0].type, "*");
  assert.deepEqual(refine[0].meta, { concord: { refetch: true, reason: "history_too_short" } });
});

test("GET /v1/history answers a channel's kept events to a backend", async () => {
  await post("resources/audit", "created", 7);
  await post("resources/audit", "updated", 7);
  const all = await httpJson(fixture.server, "GET", "/v1/history?channel=resources/audit");
  assert.equal(all.status, 200, all.text);
  assert.deepEqual(all.body.events.map((e) => [e.offset, e.event.type]), [[1, "created"], [2, "updated"]]);
  const after = await httpJson(fixture.server, "GET", `/v1/history?channel=resources/audit&since=1&epoch=${all.body.epoch}`);
  assert.deepEqual([after.body.complete, after.body.events.map((e) => e.offset)], [true, [2]]);
});

test("a burst of 1,000 events reaches a coalescing Refine subscription as a few merged events", async () => {
  const client = newClient();
  const received = [];
  const handle = liveProvider(client, { coalesce: 200 }).subscribe({
    channel: "resources/import",
    types: ["*"],
    callback: (event) => received.push(event),
  });
  await handle.ready;
  const events = Array.from({ length: 1000 }, (_, i) => ({ channel: "resources/import", type: "created", payload: { ids: [i] } }));
  assert.equal((await httpJson(fixture.server, "POST", "/v1/publish", { body: events })).status, 200);
  const stands = () => received.reduce((n, e) => n + (e.meta?.concord?.coalesced ?? 1), 0);
  await waitFor(() => stands() === 1000, 5000, "every event accounted for");
  assert.ok(received.length <= 3, `${received.length} callbacks for 1,000 events`);
  const merged = received.find((e) => e.meta?.concord?.coalesced > 1);
  assert.equal(merged.type, "created");
  assert.equal(merged.payload.ids.length, merged.meta.concord.coalesced, "every id of the merged events");
});

test("a graceful restart: 1,000 clients are told when to come back, return, and recover from the durable history", async () => {
  const dir = mkdtempSync(join(tmpdir(), "concord-drain-"));
  let drained = await startServer({ args: ["--data-dir", dir, "--drain-window", "500", "--max-connections-per-ip", "0"] });
  const clients = [];
  const received = [];
  const closes = [];
  try {
    for (let i = 0; i < 1000; i++) {
      const client = createClient(drained.wsUrl, { reconnect: FAST_RECONNECT });
      clients.push(client);
      received.push([]);
      client.on("state", (state, info) => {
        if (state === "disconnected" && closes[i] === undefined) closes[i] = info?.code;
      });
      liveProvider(client).subscribe({ channel: "resources/drain", types: ["*"], callback: (event) => received[i].push(event) });
    }
    await waitFor(() => clients.every((c) => c.state === "connected"), 20_000, "1,000 clients connected");
    await publishTo(drained, "updated", 1);
    await waitFor(() => received.every((r) => r.length === 1), 10_000, "the first event everywhere");

    const port = drained.port;
    const status = await drained.stop();
    assert.equal(status.code, 0, "a graceful exit");
    await waitFor(() => closes.filter((code) => code !== undefined).length === 1000, 5_000, "every client closed");
    assert.deepEqual([...new Set(closes)], [4012], "closed with 4012, server restarting");
    drained = await startOnPort(port, ["--data-dir", dir, "--drain-window", "500", "--max-connections-per-ip", "0"]);
    await publishTo(drained, "updated", 2);
    await waitFor(() => received.every((r) => r.length === 2), 20_000, "every client recovered the event published while it was away");
    assert.ok(received.every((r) => r[1].type === "updated" && r[1].payload.ids[0] === 2), "the missed event, not a refetch signal");
  } finally {
    for (const client of clients) client.close();
    await drained.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

async function publishTo(target, type, id) {
  const response = await httpJson(target, "POST", "/v1/publish", { body: { channel: "resources/drain", type, payload: { ids: [id] } } });
  assert.equal(response.status, 200, response.text);
}
