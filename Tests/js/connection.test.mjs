// Connection life cycle against the real server: synchronous subscribe, unsubscribe, connection
// state, and reconnecting (with subscriptions restored) after the server restarts on the same port.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createClient, liveProvider } from "../../protocol/concord.js";
import { startServer, startOnPort, publishOk, waitFor, FAST_RECONNECT, recordStates, recordErrors } from "./helpers.mjs";

let server;
const clients = [];

before(async () => {
  server = await startServer();
});

after(async () => {
  for (const client of clients) client.close();
  await server?.stop();
});

function newClient(options = {}) {
  const client = createClient(server.wsUrl, { reconnect: FAST_RECONNECT, ...options });
  clients.push(client);
  return client;
}

test("subscribe returns a handle synchronously, before the socket is open, and it works", async () => {
  const client = newClient();
  assert.equal(client.state, "connecting");
  const received = [];
  const handle = liveProvider(client).subscribe({
    channel: "resources/early",
    types: ["*"],
    params: { subscriptionType: "useList" },
    callback: (e) => received.push(e),
  });
  assert.ok(handle && typeof handle === "object");
  assert.equal(typeof handle.then, "undefined", "the handle is not a Promise");
  assert.equal(handle.channel, "resources/early");
  assert.equal(handle.status, "pending");
  await handle.ready;
  assert.equal(handle.status, "active");
  await publishOk(server, { channel: "resources/early", type: "created", payload: { ids: [1] } });
  await waitFor(() => received.length === 1, 3000, "the event");
  assert.equal(received[0].type, "created");
});

test("unsubscribe stops delivery, also when another subscription on the channel still gets events; a second call is harmless", async () => {
  const client = newClient();
  const errors = recordErrors(client);
  const provider = liveProvider(client);
  const gone = [];
  const kept = [];
  const alone = [];
  const sentinel = [];
  const goneHandle = provider.subscribe({ channel: "resources/unsub", types: ["*"], params: {}, callback: (e) => gone.push(e) });
  const keptHandle = provider.subscribe({ channel: "resources/unsub", types: ["*"], params: {}, callback: (e) => kept.push(e) });
  const aloneHandle = provider.subscribe({ channel: "resources/unsub-alone", types: ["*"], params: {}, callback: (e) => alone.push(e) });
  const sentinelHandle = provider.subscribe({ channel: "resources/unsub-sentinel", types: ["*"], params: {}, callback: (e) => sentinel.push(e) });
  await Promise.all([goneHandle.ready, keptHandle.ready, aloneHandle.ready, sentinelHandle.ready]);

  await publishOk(server, { channel: "resources/unsub", type: "updated", payload: { n: 1 } });
  await waitFor(() => kept.length === 1 && gone.length === 1, 3000, "the first event on both");

  provider.unsubscribe(goneHandle);
  provider.unsubscribe(aloneHandle);
  assert.doesNotThrow(() => provider.unsubscribe(goneHandle));
  assert.doesNotThrow(() => provider.unsubscribe(aloneHandle));
  assert.equal(goneHandle.status, "closed");

  // Events on one connection arrive in publish order, so once the sentinel's event is in, any
  // event wrongly delivered to the ended subscriptions would have arrived before it.
  await publishOk(server, { channel: "resources/unsub", type: "updated", payload: { n: 2 } });
  await publishOk(server, { channel: "resources/unsub-alone", type: "updated", payload: { n: 2 } });
  await publishOk(server, { channel: "resources/unsub-sentinel", type: "updated", payload: { n: 2 } });
  await waitFor(() => sentinel.length === 1, 3000, "the sentinel event");
  assert.equal(kept.length, 2);
  assert.equal(gone.length, 1, "no delivery after unsubscribe");
  assert.equal(alone.length, 0, "no delivery after unsubscribe");
  assert.deepEqual(errors, [], "double unsubscribe reports nothing");
});

test("state goes connecting -> connected", async () => {
  const client = newClient();
  const states = recordStates(client);
  await waitFor(() => client.state === "connected", 3000, "connected");
  assert.deepEqual(states, ["connecting", "connected"]);
  assert.equal(client.welcome.v, 1);
  assert.equal(typeof client.welcome.epoch, "string");
  await client.ping();
  client.close();
  assert.equal(client.state, "disconnected");
  assert.deepEqual(states, ["connecting", "connected", "disconnected"]);
});

test("reconnects after the server restarts on the same port and restores subscriptions", async () => {
  const client = newClient();
  const states = recordStates(client);
  const received = [];
  const resubscribed = [];
  const handle = client.subscribe({
    channel: "resources/restart",
    params: { ids: [1] },
    callback: (e) => received.push(e),
    onSubscribed: (info) => resubscribed.push(info),
  });
  await handle.ready;
  await publishOk(server, { channel: "resources/restart", type: "updated", payload: { ids: [1] } });
  await waitFor(() => received.length === 1, 3000, "the event before the restart");
  const firstEpoch = client.welcome.epoch;

  const port = server.port;
  const status = await server.stop();
  assert.equal(status.code, 0, `graceful exit on SIGTERM (got ${JSON.stringify(status)})`);
  await waitFor(() => client.state !== "connected", 3000, "the client to notice");
  assert.equal(states.at(-1) === "disconnected" || states.at(-1) === "connecting", true);

  server = await startOnPort(port);
  await waitFor(() => client.state === "connected" && handle.status === "active", 5000, "reconnected and resubscribed");

  const afterFirstConnect = states.slice(states.indexOf("connected") + 1);
  assert.equal(afterFirstConnect[0], "disconnected");
  assert.deepEqual(afterFirstConnect.slice(-3), ["disconnected", "connecting", "connected"]);
  assert.notEqual(client.welcome.epoch, firstEpoch, "a new server run has a new epoch");
  assert.equal(resubscribed.length, 2);
  assert.deepEqual([resubscribed[1].resumed, resubscribed[1].gap], [true, true]);

  await publishOk(server, { channel: "resources/restart", type: "updated", payload: { ids: [2] } });
  await publishOk(server, { channel: "resources/restart", type: "deleted", payload: { ids: [1] } });
  await waitFor(() => received.length === 2, 3000, "the event after the restart");
  assert.equal(received[1].type, "deleted");
  assert.ok(received[1].date instanceof Date);
});
