// Unit tests of the reference client that need no server: the pure helpers, and the client's
// bookkeeping driven through a scripted in-memory WebSocket. The server tests are in the other files.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  admits,
  backoffDelay,
  buildUrl,
  toWireEvent,
  toLiveEvent,
  createClient,
  liveProvider,
  ConcordError,
  Subscription,
} from "../../protocol/concord.js";
import { waitFor } from "./helpers.mjs";
import { FakeSocket, fakeClient } from "./fake-socket.mjs";

// --- admits: Refine's filter ----------------------------------------------------------------

test("admits: types must contain * or the event type", () => {
  assert.equal(admits({ types: ["*"] }, { type: "anything" }), true);
  assert.equal(admits({ types: ["updated"] }, { type: "updated" }), true);
  assert.equal(admits({ types: ["updated"] }, { type: "deleted" }), false);
  assert.equal(admits({ types: ["message", "typing"] }, { type: "typing" }), true);
  assert.equal(admits({}, { type: "x" }), true, "types default to *");
  assert.equal(admits({ types: [] }, { type: "x" }), false);
});

test("admits: created always passes the id check", () => {
  const sub = { types: ["*"], params: { ids: [1] } };
  assert.equal(admits(sub, { type: "created", payload: { ids: [99] } }), true);
  assert.equal(admits({ types: ["updated"], params: { ids: [1] } }, { type: "created", payload: {} }), false);
});

test("admits: ids filter only when both sides name ids", () => {
  const withIds = { types: ["*"], params: { ids: [1, "2"] } };
  assert.equal(admits(withIds, { type: "updated", payload: { ids: [1] } }), true);
  assert.equal(admits(withIds, { type: "updated", payload: { ids: [3] } }), false);
  assert.equal(admits(withIds, { type: "updated", payload: {} }), true, "event without ids");
  assert.equal(admits(withIds, { type: "updated" }), true, "event without payload");
  assert.equal(admits({ types: ["*"], params: {} }, { type: "updated", payload: { ids: [3] } }), true);
  assert.equal(admits({ types: ["*"] }, { type: "deleted", payload: { ids: [3] } }), true);
  assert.equal(admits({ types: ["*"], params: { ids: null } }, { type: "deleted", payload: { ids: [3] } }), true);
  assert.equal(admits({ types: ["*"], params: { ids: [] } }, { type: "deleted", payload: { ids: [3] } }), false,
    "an empty id list is a list (as in Refine's Ably provider and the server)");
});

test("admits: ids compare as strings", () => {
  assert.equal(admits({ params: { ids: [1] } }, { type: "updated", payload: { ids: ["1"] } }), true);
  assert.equal(admits({ params: { ids: ["1"] } }, { type: "updated", payload: { ids: [1] } }), true);
  assert.equal(admits({ params: { ids: ["01"] } }, { type: "updated", payload: { ids: [1] } }), false);
  assert.equal(admits({ params: { ids: [2, 3] } }, { type: "deleted", payload: { ids: ["4", "3"] } }), true);
});

// --- other helpers --------------------------------------------------------------------------

test("backoffDelay grows by factor, caps, and jitters downwards", () => {
  const none = () => 0;
  assert.deepEqual([0, 1, 2, 3, 4].map((a) => backoffDelay(a, {}, none)), [250, 500, 1000, 2000, 4000]);
  assert.equal(backoffDelay(20, {}, none), 10_000);
  assert.equal(backoffDelay(0, {}, () => 1), 125, "default jitter 0.5 takes up to half away");
  assert.equal(backoffDelay(3, { jitter: 1 }, () => 1), 0, "full jitter");
  assert.equal(backoffDelay(2, { initialDelayMs: 10, factor: 3, jitter: 0 }), 90);
  for (let i = 0; i < 100; i++) {
    const d = backoffDelay(2, {});
    assert.ok(d >= 500 && d <= 1000, `${d} within [500, 1000]`);
  }
});

test("buildUrl maps http to ws, adds /v1/ws to a bare host, appends params", () => {
  assert.equal(buildUrl("http://127.0.0.1:7700"), "ws://127.0.0.1:7700/v1/ws");
  assert.equal(buildUrl("https://example.com/"), "wss://example.com/v1/ws");
  assert.equal(buildUrl("ws://h:1/v1/ws", { user: "alice", skip: undefined, none: null }), "ws://h:1/v1/ws?user=alice");
  assert.equal(buildUrl("wss://h/custom?a=1", { token: "t k" }), "wss://h/custom?a=1&token=t+k");
  assert.throws(() => buildUrl("not a url"));
});

test("toWireEvent serialises Date to ISO and leaves a missing date to the server", () => {
  const date = new Date("2026-11-22T10:00:00.000Z");
  assert.deepEqual(toWireEvent({ channel: "c", type: "updated", payload: { ids: [1] }, date, meta: { dataProviderName: "default" } }), {
    channel: "c", type: "updated", payload: { ids: [1] }, date: "2026-11-22T10:00:00.000Z", meta: { dataProviderName: "default" },
  });
  assert.deepEqual(toWireEvent({ channel: "c", type: "x" }), { channel: "c", type: "x", payload: {} });
  assert.deepEqual(toWireEvent({ channel: "c", type: "x", date: new Date(NaN) }), { channel: "c", type: "x", payload: {} });
  assert.throws(() => toWireEvent({ channel: "c" }), (e) => e instanceof ConcordError && e.code === "invalid_event");
  assert.throws(() => toWireEvent(null), (e) => e.code === "invalid_event");
});

test("toLiveEvent turns date into a Date and keeps everything else", () => {
  const event = toLiveEvent({ channel: "c", type: "t", payload: { ids: [1] }, date: "2026-11-22T10:00:00.000Z", meta: { a: 1 } });
  assert.ok(event.date instanceof Date);
  assert.equal(event.date.toISOString(), "2026-11-22T10:00:00.000Z");
  assert.deepEqual(event.meta, { a: 1 });
  assert.deepEqual(toLiveEvent({ type: "t" }, "fallback").payload, {});
  assert.equal(toLiveEvent({ type: "t" }, "fallback").channel, "fallback");
});

// --- the client over a scripted WebSocket ---------------------------------------------------

test("subscribe returns a handle synchronously and sends nothing before welcome", async () => {
  const { client, socket } = fakeClient();
  const handle = client.subscribe({ channel: "resources/posts", callback() {} });
  assert.ok(handle instanceof Subscription);
  assert.equal(typeof handle.then, "undefined", "not a thenable");
  assert.equal(handle.sub, "s1");
  assert.equal(handle.status, "pending");
  assert.equal(socket().sent.length, 0);
  socket().welcome();
  assert.equal(client.state, "connected");
  assert.deepEqual(socket().sent, [{ op: "subscribe", id: socket().sent[0].id, sub: "s1", channel: "resources/posts", types: ["*"] }]);
  socket().confirmSubscribes(5);
  const info = await handle.ready;
  assert.deepEqual(info, { sub: "s1", channel: "resources/posts", offset: 5, epoch: "e1", resumed: false, gap: false });
  assert.equal(handle.status, "active");
  client.close();
});

test("only params.ids goes on the wire; oversized id lists fall back to client filtering", () => {
  const { client, socket } = fakeClient();
  socket().welcome();
  client.subscribe({ channel: "c", params: { ids: [1], id: 1, subscriptionType: "useOne", meta: { huge: "x".repeat(10) } }, callback() {} });
  client.subscribe({ channel: "c", params: { ids: Array.from({ length: 1001 }, (_, i) => i) }, callback() {} });
  client.subscribe({ channel: "c", params: { pagination: { current: 1 } }, callback() {} });
  const [a, b, c] = socket().sent;
  assert.deepEqual(a.params, { ids: [1] });
  assert.equal(b.params, undefined);
  assert.equal(c.params, undefined);
  client.close();
});

test("an event frame reaches every admitting local subscription once, in order, with a Date", () => {
  const { client, socket } = fakeClient();
  socket().welcome();
  const list = [];
  const one = [];
  const other = [];
  client.subscribe({ channel: "resources/posts", types: ["*"], params: { subscriptionType: "useList" }, callback: (e) => list.push(e) });
  client.subscribe({ channel: "resources/posts", types: ["*"], params: { ids: [1], id: 1 }, callback: (e) => one.push(e) });
  client.subscribe({ channel: "resources/users", callback: (e) => other.push(e) });
  socket().confirmSubscribes();
  const events = [
    { type: "created", payload: { ids: [3] } },
    { type: "updated", payload: { ids: ["1"] } },
    { type: "updated", payload: { ids: [2] } },
    { type: "deleted", payload: { ids: [1] } },
  ];
  events.forEach((e, i) => socket().push({ op: "event", channel: "resources/posts", offset: i + 1, event: { channel: "resources/posts", date: "2026-01-01T00:00:00.000Z", ...e } }));
  assert.deepEqual(list.map((e) => e.type), ["created", "updated", "updated", "deleted"]);
  assert.deepEqual(one.map((e) => `${e.type}:${e.payload.ids}`), ["created:3", "updated:1", "deleted:1"]);
  assert.equal(other.length, 0);
  assert.ok(list.every((e) => e.date instanceof Date));
  client.close();
});

test("a throwing callback does not starve the others and is reported", () => {
  const { client, socket, errors } = fakeClient();
  socket().welcome();
  const got = [];
  client.subscribe({ channel: "c", callback: () => { throw new Error("boom"); } });
  client.subscribe({ channel: "c", callback: (e) => got.push(e) });
  socket().confirmSubscribes();
  socket().push({ op: "event", channel: "c", offset: 1, event: { channel: "c", type: "x", payload: {} } });
  assert.equal(got.length, 1);
  assert.equal(errors[0].message, "boom");
  client.close();
});

test("unsubscribe stops delivery at once, sends one frame, and is idempotent", () => {
  const { client, socket } = fakeClient();
  socket().welcome();
  const got = [];
  const handle = client.subscribe({ channel: "c", callback: (e) => got.push(e) });
  socket().confirmSubscribes();
  client.unsubscribe(handle);
  client.unsubscribe(handle);
  handle.unsubscribe();
  client.unsubscribe(undefined);
  client.unsubscribe({ sub: "s1" });
  assert.equal(socket().sent.filter((f) => f.op === "unsubscribe").length, 1);
  socket().push({ op: "event", channel: "c", offset: 1, event: { channel: "c", type: "x", payload: {} } });
  assert.equal(got.length, 0);
  assert.equal(handle.status, "closed");
  client.close();
});

test("unsubscribe before connect sends nothing, ever", () => {
  const { client, socket } = fakeClient();
  const handle = client.subscribe({ channel: "c", callback() {} });
  client.unsubscribe(handle);
  socket().welcome();
  assert.deepEqual(socket().sent, []);
  client.close();
});

test("states, reconnect and re-subscribe; pending requests reject with disconnected", async () => {
  const { client, socket } = fakeClient();
  const states = [client.state];
  client.on("state", (s) => states.push(s));
  const handle = client.subscribe({ channel: "c", callback() {} });
  const first = socket();
  first.welcome();
  first.confirmSubscribes(3, "e1");
  await handle.ready;
  const ping = client.ping();
  first.drop(1001);
  await assert.rejects(ping, (e) => e.code === "disconnected");
  assert.equal(client.state, "disconnected");
  assert.equal(handle.status, "pending");
  await waitFor(() => FakeSocket.all.length === 2, 1000, "a second socket");
  const second = socket();
  assert.notEqual(second, first);
  second.welcome({ epoch: "e1" });
  assert.deepEqual(states, ["connecting", "connected", "disconnected", "connecting", "connected"]);
  assert.equal(second.lastSent("subscribe").sub, "s1", "same sub id on the new connection");
  const resumed = new Promise((resolve) => client.subscribe({ channel: "d", callback() {}, onSubscribed: resolve }));
  second.confirmSubscribes(3, "e1");
  assert.equal(handle.status, "active");
  assert.equal((await resumed).resumed, false);
  client.close();
  assert.equal(client.state, "disconnected");
  assert.equal(second.closedByClient, 1000);
});

test("a restored subscription asks for what it missed, gets the replay first, and reports a gap only when recovery fails", async () => {
  const { client, socket } = fakeClient();
  const infos = [];
  const received = [];
  client.subscribe({ channel: "c", callback: (event, info) => received.push([event.type, info.offset, info.replayed ?? false]), onSubscribed: (i) => infos.push(i) });
  const reply = (fields) => {
    const frame = socket().lastSent("subscribe");
    socket().push({ op: "subscribed", id: frame.id, sub: frame.sub, channel: "c", ...fields });
    return frame;
  };
  const reconnect = async (n) => {
    socket().drop();
    await waitFor(() => FakeSocket.all.length === n, 1000, "reconnect");
    socket().welcome();
  };
  socket().welcome();
  assert.equal(reply({ offset: 3, epoch: "e1" }).since, undefined, "a first subscribe names no position");
  socket().push({ op: "event", channel: "c", offset: 4, event: { channel: "c", type: "updated", payload: {} } });

  await reconnect(2);
  assert.deepEqual(reply({ offset: 4, epoch: "e1", recovered: true, replayed: 0 }).since, { offset: 4, epoch: "e1" });

  await reconnect(3);
  assert.deepEqual(reply({ offset: 7, epoch: "e1", recovered: true, replayed: 2 }).since, { offset: 4, epoch: "e1" });
  for (const offset of [5, 7]) {
    socket().push({ op: "event", sub: "s1", channel: "c", offset, event: { channel: "c", type: "created", payload: {} } });
  }
  socket().push({ op: "event", channel: "c", offset: 8, event: { channel: "c", type: "updated", payload: {} } });
  // A replay naming another subscription is not this one's.
  socket().push({ op: "event", sub: "s9", channel: "c", offset: 8, event: { channel: "c", type: "deleted", payload: {} } });

  await reconnect(4);
  assert.deepEqual(reply({ offset: 9, epoch: "e2", recovered: false, reason: "epoch_changed" }).since, { offset: 8, epoch: "e1" });
  assert.deepEqual(
    infos.map((i) => [i.resumed, i.gap, i.recovered, i.replayed, i.reason]),
    [[false, false, undefined, undefined, undefined], [true, false, true, 0, undefined], [true, false, true, 2, undefined], [true, true, false, undefined, "epoch_changed"]],
  );
  assert.deepEqual(received, [["updated", 4, false], ["created", 5, true], ["created", 7, true], ["updated", 8, false]]);

  // Lost before the replay was all in: the next attempt asks from the last replayed event.
  await reconnect(5);
  reply({ offset: 12, epoch: "e2", recovered: true, replayed: 2 });
  socket().push({ op: "event", sub: "s1", channel: "c", offset: 10, event: { channel: "c", type: "created", payload: {} } });
  await reconnect(6);
  assert.deepEqual(reply({ offset: 12, epoch: "e2", recovered: true, replayed: 1 }).since, { offset: 10, epoch: "e2" });
  client.close();
});

test("liveProvider turns a failed recovery into one refetch event on the subscription's callback", async () => {
  const { client, socket } = fakeClient();
  const events = [];
  liveProvider(client).subscribe({ channel: "resources/posts", types: ["*"], params: { ids: ["1"] }, callback: (e) => events.push(e) });
  socket().welcome();
  socket().confirmSubscribes(3, "e1");
  socket().drop();
  await waitFor(() => FakeSocket.all.length === 2, 1000, "reconnect");
  socket().welcome();
  const frame = socket().lastSent("subscribe");
  socket().push({ op: "subscribed", id: frame.id, sub: frame.sub, channel: frame.channel, offset: 400, epoch: "e1", recovered: false, reason: "history_too_short" });
  assert.equal(events.length, 1);
  assert.equal(events[0].type, "*");
  assert.equal(events[0].channel, "resources/posts");
  assert.deepEqual(events[0].payload, {});
  assert.ok(events[0].date instanceof Date);
  assert.deepEqual(events[0].meta, { concord: { refetch: true, reason: "history_too_short" } });
  // A recovery that worked is no change at all.
  socket().drop();
  await waitFor(() => FakeSocket.all.length === 3, 1000, "reconnect");
  socket().welcome();
  const again = socket().lastSent("subscribe");
  socket().push({ op: "subscribed", id: again.id, sub: again.sub, channel: again.channel, offset: 400, epoch: "e1", recovered: true, replayed: 0 });
  assert.equal(events.length, 1);
  client.close();
});

test("publish and ping queue until connected; errors carry the server code", async () => {
  const { client, socket } = fakeClient();
  const published = client.publish({ channel: "chat/1", type: "message", payload: { text: "hi" }, date: new Date("2026-01-01T00:00:00Z") });
  assert.equal(socket().sent.length, 0);
  socket().welcome();
  const frame = socket().lastSent("publish");
  assert.deepEqual(frame.event, { channel: "chat/1", type: "message", payload: { text: "hi" }, date: "2026-01-01T00:00:00.000Z" });
  socket().push({ op: "published", id: frame.id, channel: "chat/1", offset: 8 });
  assert.deepEqual(await published, { channel: "chat/1", offset: 8 });

  const refused = client.publish({ channel: "resources/posts", type: "x" });
  const f2 = socket().lastSent("publish");
  socket().push({ op: "error", id: f2.id, code: "forbidden", message: "no" });
  await assert.rejects(refused, (e) => e instanceof ConcordError && e.code === "forbidden" && e.message === "no");
  client.close();
});

test("error frames without a pending request go to error listeners", () => {
  const { client, socket } = fakeClient({ onError: undefined });
  const errors = [];
  const off = client.on("error", (e) => errors.push(e));
  socket().welcome();
  socket().push({ op: "error", code: "invalid_json", message: "message is not valid JSON" });
  socket().push({ op: "error", id: 999, code: "unknown_op", message: "x" });
  assert.deepEqual(errors.map((e) => e.code), ["invalid_json", "unknown_op"]);
  off();
  client.close();
});

test("unknown pushes and fields are ignored", () => {
  const { client, socket, errors } = fakeClient();
  socket().welcome();
  socket().push({ op: "presence.join", channel: "p", user: "a" });
  socket().push({ op: "something.new" });
  assert.equal(errors.length, 0);
  assert.equal(client.state, "connected");
  client.close();
});

test("a failed subscription is reported, rejects ready, and is retried after a reconnect", async () => {
  const { client, socket, errors } = fakeClient();
  const handle = client.subscribe({ channel: "bad*", callback() {} });
  socket().welcome();
  const f = socket().lastSent("subscribe");
  socket().push({ op: "error", id: f.id, code: "invalid_channel", message: "bad" });
  await assert.rejects(handle.ready, (e) => e.code === "invalid_channel");
  assert.equal(handle.status, "failed");
  assert.equal(errors[0].code, "invalid_channel");
  socket().drop();
  await waitFor(() => FakeSocket.all.length === 2, 1000, "reconnect");
  socket().welcome();
  assert.equal(socket().lastSent("subscribe").sub, "s1");
  client.close();
});

test("liveProvider.publish never throws nor leaves an unhandled rejection", async () => {
  const { client, socket, errors } = fakeClient();
  const unhandled = [];
  const onUnhandled = (reason) => unhandled.push(reason);
  process.on("unhandledRejection", onUnhandled);
  try {
    const provider = liveProvider(client);
    socket().welcome();
    assert.equal(provider.publish({ channel: "secret/x", type: "created", payload: { ids: [1] }, date: new Date() }), undefined);
    provider.publish(null); // not a LiveEvent: reported, not thrown
    const f = socket().lastSent("publish");
    socket().push({ op: "error", id: f.id, code: "forbidden", message: "nope" });
    await waitFor(() => errors.length === 2, 1000, "two reported errors");
    await new Promise((r) => setTimeout(r, 10));
    assert.deepEqual(errors.map((e) => e.code).sort(), ["forbidden", "invalid_event"]);
    assert.deepEqual(unhandled, []);
  } finally {
    process.off("unhandledRejection", onUnhandled);
    client.close();
  }
});

test("close rejects queued requests and stops reconnecting", async () => {
  const { client } = fakeClient();
  const ping = client.ping();
  const handle = client.subscribe({ channel: "c", callback() {} });
  client.close();
  await assert.rejects(ping, (e) => e.code === "closed");
  await assert.rejects(handle.ready, (e) => e.code === "closed");
  await assert.rejects(client.publish({ channel: "c", type: "x" }), (e) => e.code === "closed");
  assert.equal(client.closed, true);
  assert.equal(FakeSocket.all.length, 1);
});

test("a failed handshake reported only by an error event (Node 20) still reconnects", async () => {
  const { client, socket } = fakeClient();
  const states = [client.state];
  client.on("state", (s) => states.push(s));
  socket().fail();
  assert.equal(client.state, "disconnected");
  await waitFor(() => FAST_FAKE_SOCKETS() === 2, 1000, "a second socket");
  socket().fail();
  socket().drop(); // a browser's close after the error changes nothing
  await waitFor(() => FAST_FAKE_SOCKETS() === 3, 1000, "a third socket");
  socket().welcome();
  assert.deepEqual(states, ["connecting", "disconnected", "connecting", "disconnected", "connecting", "connected"]);
  client.close();
});

const FAST_FAKE_SOCKETS = () => FakeSocket.all.length;

test("params may be a function, called on every connect", async () => {
  let n = 0;
  const { client, socket } = fakeClient({ params: () => ({ token: `t${++n}` }) });
  assert.equal(socket().url, "ws://fake/v1/ws?token=t1");
  socket().drop();
  await waitFor(() => FakeSocket.all.length === 2, 1000, "reconnect");
  assert.equal(socket().url, "ws://fake/v1/ws?token=t2");
  client.close();
});

test("heartbeat: a missing pong gives up on the socket and reconnects", async () => {
  const { client, socket } = fakeClient({ heartbeat: { intervalMs: 5, timeoutMs: 20 } });
  const first = socket();
  first.welcome();
  await waitFor(() => first.lastSent("ping"), 1000, "a ping");
  await waitFor(() => FakeSocket.all.length === 2, 1000, "a new socket");
  assert.ok(first.closedByClient !== null);
  client.close();
});

test("frames over maxMessageBytes are refused locally instead of getting the socket closed", async () => {
  const { client, socket } = fakeClient();
  socket().welcome({ limits: { maxMessageBytes: 100, maxSubscriptions: 128 } });
  await assert.rejects(client.publish({ channel: "chat/1", type: "m", payload: { text: "é".repeat(60) } }), (e) => e.code === "payload_too_large");
  assert.equal(socket().sent.length, 0);
  client.close();
});

test("liveProvider asks for coalescing from the hook's meta or its default; such a subscription takes only events named for it", async () => {
  const { client, socket } = fakeClient();
  const provider = liveProvider(client, { coalesce: 500 });
  const listEvents = [];
  const oneEvents = [];
  provider.subscribe({ channel: "c", types: ["*"], callback: (e) => listEvents.push(e.type) });
  provider.subscribe({ channel: "c", types: ["*"], params: { ids: ["1"] }, meta: { concord: { coalesce: 200 } }, callback: (e) => oneEvents.push(e.type) });
  client.subscribe({ channel: "c", callback: () => {} });
  socket().welcome();
  const sent = socket().sent.filter((f) => f.op === "subscribe");
  assert.deepEqual(sent.map((f) => f.coalesce), [500, 200, undefined]);
  assert.throws(() => client.subscribe({ channel: "c", callback() {}, coalesce: 5 }), TypeError);
  socket().confirmSubscribes(0, "e1");
  // A live event is for the plain subscription only; a coalesced one names its subscription.
  socket().push({ op: "event", channel: "c", offset: 1, event: { channel: "c", type: "updated", payload: { ids: ["1"] } } });
  socket().push({ op: "event", sub: sent[0].sub, channel: "c", offset: 1, event: { channel: "c", type: "updated", payload: { ids: ["1"] } } });
  socket().push({ op: "event", sub: sent[1].sub, channel: "c", offset: 9, event: { channel: "c", type: "deleted", payload: { ids: ["1"] }, meta: { concord: { coalesced: 8 } } } });
  assert.deepEqual(listEvents, ["updated"]);
  assert.deepEqual(oneEvents, ["deleted"]);
  client.close();
});
