// Unit tests of the presence and typing features of the reference client, driven through the
// scripted in-memory WebSocket: snapshot + delta merging, restoring after a reconnect, throttling.
// The same behaviour against the real server is in presence.test.mjs and typing.test.mjs.
import { test } from "node:test";
import assert from "node:assert/strict";
import { ConcordError, Presence, Typing } from "../../protocol/concord.js";
import { waitFor, sleep } from "./helpers.mjs";
import { FakeSocket, fakeClient } from "./fake-socket.mjs";

const alice = (connections = 1, info = { name: "Alice" }) => ({ user: "alice", info, connections });
const bob = (connections = 1, info = { name: "Bob" }) => ({ user: "bob", info, connections });
const carol = (connections = 1, info = { name: "Carol" }) => ({ user: "carol", info, connections });
const presenceEvent = (channel, action, member) => ({ op: "presence.event", channel, action, member });
const users = (list) => list.map((m) => m.user);

async function reconnect(socket) {
  const count = FakeSocket.all.length;
  socket().drop(1006);
  await waitFor(() => FakeSocket.all.length === count + 1, 1000, "a new socket");
  socket().welcome({ user: "me" });
}

// --- presence -----------------------------------------------------------------------------------

test("presence(channel) returns one object per channel; checks its argument", () => {
  const { client } = fakeClient();
  const a = client.presence("presence/posts/1");
  assert.ok(a instanceof Presence);
  assert.equal(client.presence("presence/posts/1"), a);
  assert.notEqual(client.presence("presence/posts/2"), a);
  assert.equal(a.channel, "presence/posts/1");
  assert.throws(() => client.presence(42), TypeError);
  assert.throws(() => a.on("nope", () => {}), TypeError);
  assert.throws(() => a.on("change", "x"), TypeError);
  client.close();
});

test("enter waits for a session, goes out once, and does not subscribe", async () => {
  const { client, socket } = fakeClient();
  const p = client.presence("presence/posts/1");
  const entered = p.enter({ name: "Me" });
  assert.equal(p.entered, true);
  assert.deepEqual(p.info, { name: "Me" });
  assert.equal(socket().sent.length, 0);
  socket().welcome({ user: "me" });
  assert.deepEqual(socket().sent.map((f) => f.op), ["presence.enter"]);
  const frame = socket().answer("presence.enter", { op: "presence.entered" });
  assert.deepEqual(frame, { op: "presence.enter", id: frame.id, channel: "presence/posts/1", info: { name: "Me" } });
  assert.deepEqual(await entered, { op: "presence.entered", id: frame.id, channel: "presence/posts/1" });
  assert.equal(p.status, "idle");
  assert.deepEqual(socket().sentOps("presence.subscribe"), []);

  const updated = p.update({ name: "Me", field: "title" });
  socket().answer("presence.update", { op: "presence.updated" });
  assert.equal((await updated).op, "presence.updated");
  const left = p.leave();
  assert.equal(p.entered, false);
  socket().answer("presence.leave", { op: "presence.left" });
  assert.equal((await left).op, "presence.left");
  client.close();
});

test("enter() without info sends {}; server errors reject with the ConcordError", async () => {
  const { client, socket } = fakeClient();
  socket().welcome({ user: "me" });
  const p = client.presence("c");
  p.enter().catch(() => {}); // rejected by client.close() below
  assert.deepEqual(socket().lastSent("presence.enter").info, {});
  const update = client.presence("d").update({ x: 1 });
  socket().answer("presence.update", { op: "error", code: "not_present", message: "not present in d: enter it first" });
  await assert.rejects(update, (e) => e instanceof ConcordError && e.code === "not_present");
  client.close();
});

test("the first listener subscribes; snapshot then every event, each time with the full list", () => {
  const { client, socket } = fakeClient();
  socket().welcome({ user: "me" });
  const p = client.presence("room");
  const seen = [];
  const off = p.on("change", (list) => seen.push(list));
  p.on("change", () => {});
  assert.equal(socket().sentOps("presence.subscribe").length, 1, "one subscribe for many listeners");
  assert.equal(p.status, "subscribing");
  socket().answer("presence.subscribe", { op: "presence.snapshot", total: 2, members: [alice(2), bob()] });
  assert.equal(p.status, "active");
  assert.equal(p.synced, true);
  assert.deepEqual(seen, [[alice(2), bob()]]);
  assert.equal(p.total, 2);

  socket().push(presenceEvent("room", "join", carol()));
  socket().push(presenceEvent("room", "update", alice(2, { name: "Alice", field: "body" })));
  socket().push(presenceEvent("room", "leave", { ...bob(), connections: 0 }));
  socket().push(presenceEvent("other-room", "join", bob()));
  assert.deepEqual(seen.slice(1).map(users), [["alice", "bob", "carol"], ["alice", "bob", "carol"], ["alice", "carol"]]);
  assert.deepEqual(p.members(), [alice(2, { name: "Alice", field: "body" }), carol()]);
  assert.equal(p.total, 2);
  assert.equal(socket().sentOps("presence.subscribe").length, 1, "members() does not subscribe twice");

  off();
  socket().push(presenceEvent("room", "leave", { ...carol(), connections: 0 }));
  assert.equal(seen.length, 4, "an unlistened listener is not called");
  client.close();
});

test("members() and subscribe() subscribe too; subscribe() resolves with the list", async () => {
  const { client, socket } = fakeClient();
  socket().welcome({ user: "me" });
  const p = client.presence("room");
  assert.deepEqual(p.members(), []);
  assert.equal(socket().sentOps("presence.subscribe").length, 1);
  const ready = p.subscribe();
  socket().answer("presence.subscribe", { op: "presence.snapshot", total: 1, members: [bob()] });
  assert.deepEqual(await ready, [bob()]);
  assert.deepEqual(await p.subscribe(), [bob()], "at once when in sync");
  client.close();
});

test("events that arrive before the snapshot reply are held and applied after it", () => {
  const { client, socket } = fakeClient();
  socket().welcome({ user: "me" });
  const p = client.presence("room");
  const seen = [];
  p.on("change", (list) => seen.push(list));
  socket().push(presenceEvent("room", "join", carol()));
  socket().push(presenceEvent("room", "leave", { ...bob(), connections: 0 }));
  socket().push(presenceEvent("room", "update", alice(1, { name: "A2" })));
  assert.deepEqual(seen, [], "nothing is emitted before the snapshot");
  socket().answer("presence.subscribe", { op: "presence.snapshot", total: 2, members: [alice(), bob()] });
  assert.equal(seen.length, 1, "one emission for the snapshot and the held events");
  assert.deepEqual(seen[0], [alice(1, { name: "A2" }), carol()]);
  assert.equal(p.total, 2);
  client.close();
});

test("applying a held event that the snapshot already contains changes nothing", () => {
  const { client, socket } = fakeClient();
  socket().welcome({ user: "me" });
  const p = client.presence("room");
  p.members();
  socket().push(presenceEvent("room", "join", carol()));
  socket().answer("presence.subscribe", { op: "presence.snapshot", total: 2, members: [alice(), carol()] });
  assert.deepEqual(users(p.members()), ["alice", "carol"]);
  assert.equal(p.total, 2);
  client.close();
});

test("a capped snapshot: total counts everyone, late members join the list", () => {
  const { client, socket } = fakeClient();
  socket().welcome({ user: "me" });
  const p = client.presence("big");
  p.members();
  const members = Array.from({ length: 100 }, (_, i) => ({ user: `u${i}`, info: null, connections: 1 }));
  socket().answer("presence.subscribe", { op: "presence.snapshot", total: 150, members });
  assert.equal(p.members().length, 100);
  assert.equal(p.total, 150);
  socket().push(presenceEvent("big", "join", { user: "new", info: null, connections: 1 }));
  assert.equal(p.total, 151);
  assert.equal(p.members().at(-1).user, "new");
  socket().push(presenceEvent("big", "leave", { user: "u120", info: null, connections: 0 }));
  assert.equal(p.total, 150);
  assert.equal(p.members().length, 101);
  socket().push(presenceEvent("big", "update", { user: "u130", info: { x: 1 }, connections: 2 }));
  assert.equal(p.total, 150, "an update is no new member");
  assert.equal(p.members().at(-1).user, "u130");
  client.close();
});

test("reconnect: re-enters with the latest info, then re-subscribes; the list is kept, never emptied", async () => {
  const { client, socket } = fakeClient();
  socket().welcome({ user: "me" });
  const p = client.presence("room");
  const seen = [];
  p.on("change", (list) => seen.push(list));
  p.enter({ name: "Me", field: "title" });
  socket().answer("presence.enter", { op: "presence.entered" });
  socket().answer("presence.subscribe", { op: "presence.snapshot", total: 2, members: [alice(), { user: "me", info: { name: "Me", field: "title" }, connections: 1 }] });
  const updated = p.update({ name: "Me", field: "body" });
  socket().answer("presence.update", { op: "presence.updated" });
  await updated;

  socket().drop(1006);
  assert.equal(p.synced, false);
  assert.equal(p.status, "pending");
  assert.deepEqual(users(p.members()), ["alice", "me"], "the last known list while disconnected");
  await waitFor(() => FakeSocket.all.length === 2, 1000, "a new socket");
  socket().welcome({ user: "me" });
  assert.deepEqual(socket().sent.map((f) => f.op), ["presence.enter", "presence.subscribe"], "enter first, so our snapshot lists us");
  assert.deepEqual(socket().lastSent("presence.enter").info, { name: "Me", field: "body" });
  assert.equal(seen.length, 1, "nothing emitted between the sessions");
  socket().answer("presence.enter", { op: "presence.entered" });
  socket().push(presenceEvent("room", "join", bob())); // before the snapshot: held
  socket().answer("presence.subscribe", { op: "presence.snapshot", total: 2, members: [alice(), { user: "me", info: { name: "Me", field: "body" }, connections: 1 }] });
  assert.equal(seen.length, 2);
  assert.deepEqual(users(seen[1]), ["alice", "me", "bob"]);
  assert.ok(seen.every((list) => list.length > 0), "never an empty list");
  client.close();
});

test("calls cut off by a disconnect, or made offline, are settled by the next session", async () => {
  const { client, socket } = fakeClient();
  socket().welcome({ user: "me" });
  const p = client.presence("room");
  const entered = p.enter({ v: 1 });
  socket().drop(1006); // the enter is on the wire without a reply
  const updated = p.update({ v: 2 }); // offline
  await waitFor(() => FakeSocket.all.length === 2, 1000, "a new socket");
  socket().welcome({ user: "me" });
  assert.deepEqual(socket().sent, [{ op: "presence.enter", id: socket().sent[0].id, channel: "room", info: { v: 2 } }], "one enter with the latest info");
  socket().answer("presence.enter", { op: "presence.entered" });
  assert.equal((await entered).op, "presence.entered");
  assert.equal((await updated).op, "presence.entered", "answered by the restoring enter");

  socket().drop(1006);
  const left = p.leave(); // offline: the old session's presence is gone with its socket
  const stray = client.presence("never-entered").update({ v: 3 });
  await waitFor(() => FakeSocket.all.length === 3, 1000, "a third socket");
  socket().welcome({ user: "me" });
  assert.deepEqual(await left, { op: "presence.left", channel: "room" });
  await assert.rejects(stray, (e) => e.code === "not_present");
  assert.deepEqual(socket().sent, [], "nothing to restore after leave()");
  client.close();
});

test("enter then leave while offline: nothing is sent and both resolve", async () => {
  const { client, socket } = fakeClient();
  const p = client.presence("room");
  const entered = p.enter({});
  const left = p.leave();
  socket().welcome({ user: "me" });
  assert.deepEqual(socket().sent, []);
  assert.equal((await entered).op, "presence.entered");
  assert.equal((await left).op, "presence.left");
  client.close();
});

test("a refused enter rejects, is reported nowhere else, and is not restored after a reconnect", async () => {
  const { client, socket, errors } = fakeClient();
  socket().welcome({ user: null });
  const p = client.presence("room");
  const entered = p.enter({ name: "x" });
  socket().answer("presence.enter", { op: "error", code: "anonymous", message: "presence needs a user" });
  await assert.rejects(entered, (e) => e instanceof ConcordError && e.code === "anonymous");
  assert.equal(p.entered, false);
  assert.deepEqual(errors, []);
  await reconnect(socket);
  assert.deepEqual(socket().sentOps("presence.enter"), []);
  client.close();
});

test("a refused update keeps the previous info for the next restore", async () => {
  const { client, socket } = fakeClient();
  socket().welcome({ user: "me" });
  const p = client.presence("room");
  p.enter({ v: 1 });
  socket().answer("presence.enter", { op: "presence.entered" });
  const updated = p.update({ huge: "x".repeat(10) });
  socket().answer("presence.update", { op: "error", code: "invalid_frame", message: "info too large" });
  await assert.rejects(updated, (e) => e.code === "invalid_frame");
  assert.deepEqual(p.info, { v: 1 });
  await reconnect(socket);
  assert.deepEqual(socket().lastSent("presence.enter").info, { v: 1 });
  client.close();
});

test("an enter made offline and refused by the restoring enter is undone", async () => {
  const { client, socket, errors } = fakeClient();
  const p = client.presence("room");
  const entered = p.enter({ name: "x" });
  socket().welcome({ user: null });
  socket().answer("presence.enter", { op: "error", code: "anonymous", message: "presence needs a user" });
  await assert.rejects(entered, (e) => e.code === "anonymous");
  assert.equal(p.entered, false);
  assert.deepEqual(errors, [], "the caller got the error");
  await reconnect(socket);
  assert.deepEqual(socket().sentOps("presence.enter"), []);
  client.close();
});

test("an offline update refused by the restoring enter falls back to the last accepted info", async () => {
  const { client, socket, errors } = fakeClient();
  socket().welcome({ user: "me" });
  const p = client.presence("room");
  p.enter({ v: 1 });
  socket().answer("presence.enter", { op: "presence.entered" });
  socket().drop(1006);
  const updated = p.update({ huge: true });
  await waitFor(() => FakeSocket.all.length === 2, 1000, "a new socket");
  socket().welcome({ user: "me" });
  assert.deepEqual(socket().lastSent("presence.enter").info, { huge: true });
  socket().answer("presence.enter", { op: "error", code: "invalid_frame", message: "info too large" });
  await assert.rejects(updated, (e) => e.code === "invalid_frame");
  assert.deepEqual(p.info, { v: 1 });
  assert.deepEqual(socket().sentOps("presence.enter").map((f) => f.info), [{ huge: true }, { v: 1 }], "present again with the old info");
  socket().answer("presence.enter", { op: "presence.entered" });
  assert.deepEqual(errors, []);
  client.close();
});

test("a refused subscribe fails, is reported, rejects subscribe(), and is retried after a reconnect", async () => {
  const { client, socket, errors } = fakeClient();
  socket().welcome({ user: "me" });
  const p = client.presence("bad*");
  const ready = p.subscribe();
  socket().answer("presence.subscribe", { op: "error", code: "invalid_channel", message: "bad" });
  await assert.rejects(ready, (e) => e.code === "invalid_channel");
  assert.equal(p.status, "failed");
  assert.equal(p.error.code, "invalid_channel");
  assert.deepEqual(errors.map((e) => e.code), ["invalid_channel"]);
  await reconnect(socket);
  assert.equal(socket().sentOps("presence.subscribe").length, 1);
  client.close();
});

test("close() leaves and unsubscribes; pushes of the old watch are dropped until the unsubscribe reply", async () => {
  const { client, socket, errors } = fakeClient();
  socket().welcome({ user: "me" });
  const p = client.presence("room");
  const seen = [];
  p.on("change", (list) => seen.push(list));
  p.enter({ name: "Me" });
  socket().answer("presence.enter", { op: "presence.entered" });
  socket().answer("presence.subscribe", { op: "presence.snapshot", total: 1, members: [alice()] });
  const closed = p.close();
  assert.equal(p.status, "closed");
  assert.equal(p.entered, false);
  assert.deepEqual(socket().sent.slice(-2).map((f) => f.op), ["presence.leave", "presence.unsubscribe"]);
  await assert.rejects(p.enter({}), (e) => e.code === "closed");

  const again = client.presence("room");
  assert.notEqual(again, p, "a new object after close()");
  const seenAgain = [];
  again.on("change", (list) => seenAgain.push(list));
  // The server answers in order: an event of the old watch, the leave and unsubscribe replies, then the new snapshot.
  socket().push(presenceEvent("room", "join", carol()));
  socket().answer("presence.leave", { op: "presence.left" });
  socket().answer("presence.unsubscribe", { op: "presence.unsubscribed" });
  socket().answer("presence.subscribe", { op: "presence.snapshot", total: 2, members: [alice(), carol()] });
  await closed;
  assert.equal(seen.length, 1, "the closed object's listener is not called again");
  assert.deepEqual(seenAgain.map(users), [["alice", "carol"]]);
  socket().push(presenceEvent("room", "join", bob()));
  assert.deepEqual(users(again.members()), ["alice", "carol", "bob"]);
  assert.deepEqual(errors, []);
  client.close();
});

test("a throwing change listener is reported and does not starve the others", () => {
  const { client, socket, errors } = fakeClient();
  socket().welcome({ user: "me" });
  const p = client.presence("room");
  const seen = [];
  p.on("change", () => {
    throw new Error("boom");
  });
  p.on("change", (list) => seen.push(list));
  socket().answer("presence.subscribe", { op: "presence.snapshot", total: 1, members: [alice()] });
  assert.equal(seen.length, 1);
  assert.equal(errors[0].message, "boom");
  client.close();
});

test("client.close() rejects presence calls waiting for a session", async () => {
  const { client } = fakeClient();
  const p = client.presence("room");
  const entered = p.enter({});
  const ready = p.subscribe();
  client.close();
  await assert.rejects(entered, (e) => e.code === "closed");
  await assert.rejects(ready, (e) => e.code === "closed");
  await assert.rejects(p.update({}), (e) => e.code === "closed");
});

test("presence calls time out after requestTimeoutMs, also while waiting for a session", async () => {
  const { client } = fakeClient({ requestTimeoutMs: 20 });
  await assert.rejects(client.presence("room").enter({}), (e) => e.code === "timeout");
  client.close();
});

test("a call from a state listener waits for the restore instead of racing it", async () => {
  const { client, socket } = fakeClient();
  socket().welcome({ user: "me" });
  const p = client.presence("room");
  p.enter({ v: 1 });
  socket().answer("presence.enter", { op: "presence.entered" });
  client.on("state", (state) => {
    if (state === "connected") p.update({ v: 2 }).catch(() => {}); // rejected by client.close() below
  });
  await reconnect(socket);
  assert.deepEqual(socket().sent.map((f) => [f.op, f.info]), [["presence.enter", { v: 2 }]]);
  client.close();
});

// --- typing ---------------------------------------------------------------------------------------

test("typing(channel, {scope}) returns one object per channel and scope", () => {
  const { client } = fakeClient();
  const t = client.typing("comments/1", { scope: "new" });
  assert.ok(t instanceof Typing);
  assert.equal(client.typing("comments/1", { scope: "new" }), t);
  assert.notEqual(client.typing("comments/1"), t);
  assert.equal(client.typing("comments/1"), client.typing("comments/1", {}));
  assert.equal(client.typing("comments/1", { scope: null }), client.typing("comments/1"));
  assert.equal(t.scope, "new");
  assert.equal(client.typing("comments/1").scope, null);
  assert.equal(t.interval, 1000);
  assert.equal(client.typing("comments/1", { scope: "new", interval: 300 }).interval, 300);
  assert.throws(() => client.typing(1), TypeError);
  assert.throws(() => client.typing("c", { scope: 3 }), TypeError);
  assert.throws(() => client.typing("c", { interval: "1s" }), TypeError);
  client.close();
});

test("start() sends at most once per interval, then again while typing goes on; stop() once", async () => {
  const { client, socket } = fakeClient();
  socket().welcome({ user: "me" });
  const t = client.typing("comments/1", { scope: "new", interval: 60 });
  for (let i = 0; i < 20; i++) t.start();
  assert.deepEqual(socket().sent, [{ op: "typing.start", channel: "comments/1", scope: "new" }], "no id: no reply");
  assert.equal(t.active, true);
  await sleep(80);
  t.start();
  t.start();
  assert.equal(socket().sentOps("typing.start").length, 2, "re-sent after the interval, so the TTL does not lapse");
  t.stop();
  t.stop();
  assert.deepEqual(socket().sentOps("typing.stop"), [{ op: "typing.stop", channel: "comments/1", scope: "new" }]);
  assert.equal(t.active, false);
  t.start();
  assert.equal(socket().sentOps("typing.start").length, 3, "start() right after stop() goes out at once");
  client.typing("comments/1").start();
  assert.deepEqual(socket().sent.at(-1), { op: "typing.start", channel: "comments/1" }, "no scope: no scope field");
  assert.equal(socket().sentOps("typing.subscribe").length, 0, "typing does not need a subscription");
  client.close();
});

test("start() while disconnected sends nothing; the first one after the reconnect does", async () => {
  const { client, socket } = fakeClient();
  const t = client.typing("c");
  t.start();
  assert.equal(t.active, false);
  socket().welcome({ user: "me" });
  t.start();
  assert.equal(socket().sentOps("typing.start").length, 1);
  await reconnect(socket);
  assert.equal(t.active, false);
  t.start();
  assert.equal(socket().sentOps("typing.start").length, 1, "not throttled by the signal of the old session");
  client.close();
});

test("one typing.subscribe per channel for all scopes; snapshot, events, own user left out", () => {
  const { client, socket } = fakeClient();
  socket().welcome({ user: "me" });
  const all = client.typing("chat/1");
  const thread = client.typing("chat/1", { scope: "thread-9" });
  const allSeen = [];
  const threadSeen = [];
  all.on("change", (list) => allSeen.push(list));
  thread.on("change", (list) => threadSeen.push(list));
  assert.equal(thread.typing().length, 0);
  assert.equal(socket().sentOps("typing.subscribe").length, 1);
  assert.equal(all.status, "subscribing");
  socket().push({ op: "typing.event", channel: "chat/1", action: "started", typist: { user: "dan", name: "Dan", scope: null } }); // held
  socket().answer("typing.subscribe", {
    op: "typing.snapshot",
    typing: [
      { user: "bob", name: "Bob", scope: "thread-9" },
      { user: "me", name: "Me", scope: null },
      { user: "carol", name: null, scope: null },
    ],
  });
  assert.equal(all.synced, true);
  assert.deepEqual(all.typing(), [
    { user: "bob", name: "Bob", scope: "thread-9" },
    { user: "carol", name: null, scope: null },
    { user: "dan", name: "Dan", scope: null },
  ]);
  assert.deepEqual(thread.typing(), [{ user: "bob", name: "Bob", scope: "thread-9" }]);
  assert.equal(allSeen.length, 1);
  assert.equal(threadSeen.length, 1);

  socket().push({ op: "typing.event", channel: "chat/1", action: "stopped", typist: { user: "carol", name: null, scope: null } });
  assert.equal(allSeen.length, 2);
  assert.equal(threadSeen.length, 1, "a change in another scope is not emitted");
  socket().push({ op: "typing.event", channel: "chat/1", action: "started", typist: { user: "bob", name: "Bob", scope: "thread-9" } });
  assert.equal(allSeen.length, 2, "a repeated started changes nothing");
  socket().push({ op: "typing.event", channel: "chat/1", action: "stopped", typist: { user: "bob", name: "Bob", scope: "thread-9" } });
  assert.deepEqual(threadSeen.at(-1), []);
  assert.deepEqual(users(allSeen.at(-1)), ["dan"]);

  thread.close();
  assert.equal(socket().sentOps("typing.unsubscribe").length, 0, "another scope still watches the channel");
  all.unsubscribe();
  assert.deepEqual(socket().sentOps("typing.unsubscribe").map((f) => f.channel), ["chat/1"]);
  client.close();
});

test("typing re-subscribes after a reconnect and keeps the last list until the new snapshot", async () => {
  const { client, socket } = fakeClient();
  socket().welcome({ user: "me" });
  const t = client.typing("chat/1");
  const seen = [];
  t.on("change", (list) => seen.push(list));
  socket().answer("typing.subscribe", { op: "typing.snapshot", typing: [{ user: "bob", name: "Bob", scope: null }] });
  await reconnect(socket);
  assert.deepEqual(users(t.typing()), ["bob"]);
  assert.equal(seen.length, 1);
  assert.equal(socket().sentOps("typing.subscribe").length, 1);
  socket().answer("typing.subscribe", { op: "typing.snapshot", typing: [] });
  assert.deepEqual(seen.map(users), [["bob"], []]);
  client.close();
});

test("typing close() stops and unsubscribes; subscribe() resolves with the list", async () => {
  const { client, socket } = fakeClient();
  socket().welcome({ user: "me" });
  const t = client.typing("chat/2", { scope: "s" });
  const ready = t.subscribe();
  socket().answer("typing.subscribe", { op: "typing.snapshot", typing: [{ user: "x", name: "X", scope: "s" }, { user: "y", name: "Y", scope: "other" }] });
  assert.deepEqual(await ready, [{ user: "x", name: "X", scope: "s" }]);
  t.start();
  t.close();
  assert.deepEqual(socket().sent.slice(-2).map((f) => f.op), ["typing.stop", "typing.unsubscribe"]);
  assert.equal(t.status, "closed");
  t.start();
  assert.equal(socket().sentOps("typing.start").length, 1, "a closed object sends nothing");
  assert.notEqual(client.typing("chat/2", { scope: "s" }), t);
  client.close();
});
