// Unit tests of the records feature of the reference client (client.record(channel, id)), driven
// through the scripted in-memory WebSocket: the frames it sends, stale warnings, commits and
// conflicts, keepMine/loadLatest, and restoring the editing session after a reconnect.
// The same flow against the real server is in records.test.mjs.
import { test } from "node:test";
import assert from "node:assert/strict";
import { ConcordError, ConcordRecord, commitFields, descends } from "../../protocol/concord.js";
import { waitFor } from "./helpers.mjs";
import { FakeSocket, fakeClient } from "./fake-socket.mjs";

const CHANNEL = "resources/posts";
const T1 = "2026-11-22T10:00:00.000Z";
const T2 = "2026-11-22T10:00:05.000Z";

// Waits until `count` frames with `op` went out on the current socket; returns the last one.
async function sent(socket, op, count = 1) {
  await waitFor(() => socket().sentOps(op).length >= count, 1000, `${count} × ${op}; sent ${JSON.stringify(socket().sent)}`);
  return socket().sentOps(op)[count - 1];
}

function reply(socket, frame, fields) {
  socket().push({ id: frame.id, channel: frame.channel, record: String(frame.record), ...fields });
}

const state = (version, fields = {}, deleted = false) => ({ op: "record.state", version, deleted, fields });
const stale = (version, changes, by = "bob", deleted = false) => ({ op: "record.stale", channel: CHANNEL, record: "1", by, deleted, version, changes });

// A client connected as `user` with record 1 of resources/posts being edited on `version`.
async function editing(version = { server: 1 }, user = "alice") {
  const { client, socket, errors } = fakeClient();
  socket().welcome({ user });
  const record = client.record(CHANNEL, 1);
  const edited = record.edit();
  reply(socket, await sent(socket, "record.get"), state(version));
  reply(socket, await sent(socket, "record.edit"), { op: "record.editing" });
  assert.deepEqual(await edited, version);
  return { client, socket, errors, record };
}

test("pure helpers: descends and commitFields", () => {
  assert.equal(descends({}, {}), true);
  assert.equal(descends({ server: 1, bob: 1 }, { server: 1 }), true);
  assert.equal(descends({ server: 1 }, { server: 1, bob: 1 }), false);
  assert.equal(descends({ server: 2 }, { server: 1 }), true);
  assert.equal(descends({ server: 1 }, { server: 2 }), false);
  assert.equal(descends({ "~": 1 }, { "~": 1, alice: 0 }), true, "a zero counter is nothing to have seen");

  assert.equal(commitFields(), undefined, "no fields: the whole record");
  assert.equal(commitFields({}), undefined);
  assert.deepEqual(commitFields({ fields: ["title", "body"] }), ["title", "body"]);
  assert.deepEqual(commitFields({ values: { title: "Hi" } }), { title: "Hi" });
  assert.deepEqual(commitFields({ fields: ["title", "body"], values: { title: "Hi" } }), { title: "Hi", body: null },
    "a named field without a value is sent as null");
  assert.throws(() => commitFields({ fields: "title" }), TypeError);
  assert.throws(() => commitFields({ fields: [1] }), TypeError);
  assert.throws(() => commitFields({ values: ["x"] }), TypeError);
});

test("record(channel, id) returns one object per (channel, String(id)); checks its arguments", () => {
  const { client } = fakeClient();
  const a = client.record(CHANNEL, 1);
  assert.ok(a instanceof ConcordRecord);
  assert.equal(client.record(CHANNEL, "1"), a, "ids compare as strings");
  assert.notEqual(client.record(CHANNEL, 2), a);
  assert.notEqual(client.record("resources/comments", 1), a);
  assert.equal(a.channel, CHANNEL);
  assert.equal(a.id, "1");
  assert.deepEqual(a.state, { context: null, stale: [], editing: false, lastConflict: null });
  assert.throws(() => client.record(42, 1), TypeError);
  assert.throws(() => client.record(CHANNEL, {}), TypeError);
  assert.throws(() => client.record(CHANNEL, NaN), TypeError);
  assert.throws(() => a.on("change", () => {}), TypeError);
  assert.throws(() => a.on("stale", "x"), TypeError);
  client.close();
});

test("version() sends record.get, converts dates, and makes the version the context", async () => {
  const { client, socket } = fakeClient();
  socket().welcome({ user: "alice" });
  const record = client.record(CHANNEL, 1);
  const read = record.version();
  const frame = await sent(socket, "record.get");
  assert.deepEqual(frame, { op: "record.get", id: frame.id, channel: CHANNEL, record: "1" });
  reply(socket, frame, state({ server: 1, bob: 1 }, { title: { actor: "bob", counter: 1, at: T1, value: "Hi" }, body: { actor: "server", counter: 1, at: T1 } }));
  const result = await read;
  assert.deepEqual(result, {
    channel: CHANNEL,
    record: "1",
    version: { server: 1, bob: 1 },
    deleted: false,
    fields: { title: { actor: "bob", counter: 1, at: new Date(T1), value: "Hi" }, body: { actor: "server", counter: 1, at: new Date(T1) } },
  });
  assert.ok(result.fields.title.at instanceof Date);
  assert.deepEqual(record.context, { server: 1, bob: 1 });
  assert.equal(record.editing, false, "reading is not editing");
  assert.deepEqual(socket().sentOps("record.edit"), []);
  client.close();
});

test("edit() reads the version first when there is none, then declares editing on it", async () => {
  const { client, socket, record } = await editing({ server: 1 });
  assert.deepEqual(socket().sent.map((f) => f.op), ["record.get", "record.edit"]);
  assert.deepEqual(socket().lastSent("record.edit"), { op: "record.edit", id: socket().lastSent("record.edit").id, channel: CHANNEL, record: "1", version: { server: 1 } });
  assert.equal(record.editing, true);
  // With a context, edit() goes out at once.
  const again = record.edit();
  const frame = await sent(socket, "record.edit", 2);
  assert.deepEqual(frame.version, { server: 1 });
  assert.equal(socket().sentOps("record.get").length, 1, "no second read");
  reply(socket, frame, { op: "record.editing" });
  assert.deepEqual(await again, { server: 1 });
  client.close();
});

test("edit() called twice before the version arrives reads once", async () => {
  const { client, socket } = fakeClient();
  socket().welcome({ user: "alice" });
  const record = client.record(CHANNEL, 1);
  const first = record.edit();
  const second = record.edit();
  reply(socket, await sent(socket, "record.get"), state({}));
  const edit = await sent(socket, "record.edit");
  assert.deepEqual(edit.version, {}, "a record never written: the empty version");
  reply(socket, edit, { op: "record.editing" });
  assert.deepEqual(await Promise.all([first, second]), [{}, {}]);
  assert.equal(socket().sentOps("record.get").length, 1);
  assert.equal(socket().sentOps("record.edit").length, 1);
  client.close();
});

test("stale pushes accumulate one entry per field, call the listeners, and skip what the context has seen", async () => {
  const { client, socket, record } = await editing({ server: 1 });
  const seen = [];
  const off = record.on("stale", (list, push) => seen.push({ list, push }));
  socket().push(stale({ server: 1, bob: 1 }, [{ field: "title", actor: "bob", at: T1, value: "Hi" }]));
  assert.deepEqual(record.stale, [{ field: "title", actor: "bob", at: new Date(T1), value: "Hi" }]);
  assert.ok(record.stale[0].at instanceof Date);
  assert.equal(seen.length, 1);
  assert.deepEqual(seen[0].push, { by: "bob", deleted: false, version: { server: 1, bob: 1 }, changes: [{ field: "title", actor: "bob", at: new Date(T1), value: "Hi" }] });

  socket().push(stale({ server: 1, bob: 1, carol: 1 }, [{ field: "body", actor: "carol", at: T2 }], "carol"));
  socket().push(stale({ server: 1, bob: 2, carol: 1 }, [{ field: "title", actor: "bob", at: T2, value: "Hello" }]));
  assert.deepEqual(record.stale.map((c) => [c.field, c.actor, c.value]), [["body", "carol", undefined], ["title", "bob", "Hello"]],
    "the latest write of each field, in arrival order");
  assert.equal(seen.length, 3);

  // Not news: a push the context descends; another record; another channel.
  socket().push(stale({ server: 1 }, [{ field: "x", actor: "bob", at: T1 }]));
  socket().push({ ...stale({ server: 9 }, [{ field: "x", actor: "bob", at: T1 }]), record: "2" });
  socket().push({ ...stale({ server: 9 }, [{ field: "x", actor: "bob", at: T1 }]), channel: "resources/comments" });
  assert.equal(seen.length, 3);
  assert.equal(record.stale.length, 2);

  off();
  socket().push(stale({ server: 1, bob: 3 }, [{ field: "tags", actor: "bob", at: T2 }]));
  assert.equal(seen.length, 3, "a removed listener is not called");
  assert.equal(record.stale.length, 3);
  client.close();
});

test("a stale push for a record not being edited is ignored", async () => {
  const { client, socket } = fakeClient();
  socket().welcome({ user: "alice" });
  const record = client.record(CHANNEL, 1);
  socket().push(stale({ server: 1, bob: 1 }, [{ field: "title", actor: "bob", at: T1 }]));
  assert.deepEqual(record.stale, []);
  client.close();
});

test("commit() sends the context and the fields; accepted adds only its own write to the context, keeps unseen changes stale, and re-edits", async () => {
  const { client, socket, record } = await editing({ server: 1 });
  const seen = [];
  record.on("stale", (list, push) => seen.push({ list, push }));
  socket().push(stale({ server: 1, bob: 1 }, [{ field: "title", actor: "bob", at: T1 }]));

  const committed = record.commit({ fields: ["body", "summary"], values: { body: "New body" } });
  const frame = await sent(socket, "record.commit");
  assert.deepEqual(frame, { op: "record.commit", id: frame.id, channel: CHANNEL, record: "1", version: { server: 1 }, fields: { body: "New body", summary: null } });
  reply(socket, frame, { op: "record.committed", version: { server: 1, bob: 1, alice: 1 }, dot: { actor: "alice", counter: 1 }, fields: ["body", "summary"], deleted: false });
  assert.deepEqual(await committed, { status: "accepted", version: { server: 1, bob: 1, alice: 1 }, dot: { actor: "alice", counter: 1 }, fields: ["body", "summary"], deleted: false });
  // Bob's merged title is not something this form has seen: it stays out of the context and stale.
  assert.deepEqual(record.context, { server: 1, alice: 1 });
  assert.deepEqual(record.stale.map((c) => c.field), ["title"]);
  assert.deepEqual(seen.map((s) => [s.list.length, s.push === null]), [[1, false]], "no clearing while bob's change is unseen");
  assert.deepEqual(socket().lastSent("record.edit").version, { server: 1, alice: 1 }, "the editing session moves to the new context");

  // Names only, and the whole record; after loading what bob did, the banner clears.
  record.commit({ fields: ["title"], version: undefined });
  const titleCommit = await sent(socket, "record.commit", 2);
  assert.deepEqual(titleCommit.fields, ["title"]);
  assert.deepEqual(titleCommit.version, { server: 1, alice: 1 }, "a commit of bob's field goes on a context without bob's write");
  reply(socket, titleCommit, { op: "record.committed", version: { server: 1, bob: 1, alice: 2 }, dot: { actor: "alice", counter: 2 }, fields: ["title"], deleted: false });
  record.commit();
  const whole = await sent(socket, "record.commit", 3);
  assert.equal("fields" in whole, false, "no fields: a commit of the whole record");
  assert.deepEqual(whole.version, { server: 1, alice: 2 }, "each commit goes on the context the previous one left");
  client.close();
});

test("commits go out one at a time, each on the context the previous one left", async () => {
  const { client, socket } = fakeClient();
  socket().welcome({ user: "alice" });
  const record = client.record(CHANNEL, 1);
  const first = record.commit({ values: { title: "A" } });
  const second = record.commit({ values: { title: "B" } });
  const one = await sent(socket, "record.commit");
  assert.deepEqual(one.version, {}, "no read yet: the empty context");
  await new Promise((r) => setTimeout(r, 10));
  assert.equal(socket().sentOps("record.commit").length, 1, "the second waits for the first's reply");
  reply(socket, one, { op: "record.committed", version: { alice: 1 }, dot: { actor: "alice", counter: 1 }, fields: ["title"], deleted: false });
  const two = await sent(socket, "record.commit", 2);
  assert.deepEqual(two.version, { alice: 1 });
  reply(socket, two, { op: "record.committed", version: { alice: 2 }, dot: { actor: "alice", counter: 2 }, fields: ["title"], deleted: false });
  assert.equal((await first).status, "accepted");
  assert.deepEqual((await second).version, { alice: 2 });
  client.close();
});

test("a conflict resolves (not rejects), is remembered, and keepMine() re-sends on the conflict's version", async () => {
  const { client, socket, record } = await editing({ server: 1 });
  const committed = record.commit({ values: { title: "Mine" } });
  reply(socket, await sent(socket, "record.commit"), {
    op: "record.conflict", kind: "fields", version: { server: 1, bob: 1 },
    conflicts: [{ field: "title", actor: "bob", at: T1, value: "Hi" }],
  });
  const conflict = await committed;
  assert.deepEqual(conflict, { status: "conflict", kind: "fields", version: { server: 1, bob: 1 }, conflicts: [{ field: "title", actor: "bob", at: new Date(T1), value: "Hi" }] });
  assert.equal(record.lastConflict, conflict);
  assert.deepEqual(record.context, { server: 1 }, "a conflict does not move the context");

  const kept = record.keepMine();
  const frame = await sent(socket, "record.commit", 2);
  assert.deepEqual({ version: frame.version, fields: frame.fields }, { version: { server: 1, bob: 1 }, fields: { title: "Mine" } });
  reply(socket, frame, { op: "record.committed", version: { server: 1, bob: 1, alice: 1 }, dot: { actor: "alice", counter: 1 }, fields: ["title"], deleted: false });
  assert.equal((await kept).status, "accepted");
  assert.equal(record.lastConflict, null);
  assert.deepEqual(record.context, { server: 1, bob: 1, alice: 1 });
  await assert.rejects(record.keepMine(), (e) => e instanceof ConcordError && e.code === "no_conflict");
  client.close();
});

test("a deleted conflict carries deletedBy; keepMine() of a delete sends record.delete again", async () => {
  const { client, socket } = fakeClient();
  socket().welcome({ user: "alice" });
  const record = client.record(CHANNEL, 1);
  const deleting = record.delete();
  const frame = await sent(socket, "record.delete");
  assert.deepEqual(frame, { op: "record.delete", id: frame.id, channel: CHANNEL, record: "1", version: {} });
  reply(socket, frame, { op: "record.conflict", kind: "deleted", version: { server: 1, bob: 1 }, conflicts: [], deletedBy: { actor: "bob", at: T1 } });
  assert.deepEqual(await deleting, { status: "conflict", kind: "deleted", version: { server: 1, bob: 1 }, conflicts: [], deletedBy: { actor: "bob", at: new Date(T1) } });
  record.keepMine();
  assert.deepEqual((await sent(socket, "record.delete", 2)).version, { server: 1, bob: 1 });
  client.close();
});

test("protocol errors reject commit() with the ConcordError; malformed options with TypeError", async () => {
  const { client, socket } = fakeClient();
  socket().welcome({ user: null });
  const record = client.record(CHANNEL, 1);
  const committed = record.commit({ fields: ["title"] });
  const frame = await sent(socket, "record.commit");
  socket().push({ op: "error", id: frame.id, code: "anonymous", message: "committing needs a user" });
  await assert.rejects(committed, (e) => e instanceof ConcordError && e.code === "anonymous");
  await assert.rejects(record.commit({ fields: "title" }), TypeError);
  // The chain survives a rejection.
  const next = record.commit({ fields: ["title"] });
  reply(socket, await sent(socket, "record.commit", 2), { op: "record.committed", version: { alice: 1 }, dot: { actor: "alice", counter: 1 }, fields: ["title"], deleted: false });
  assert.equal((await next).status, "accepted");
  client.close();
});

test("loadLatest() reads, clears stale and the conflict, and edits again on the new version", async () => {
  const { client, socket, record } = await editing({ server: 1 });
  const seen = [];
  record.on("stale", (list) => seen.push(list));
  socket().push(stale({ server: 1, bob: 1 }, [{ field: "title", actor: "bob", at: T1 }]));
  const committed = record.commit({ values: { title: "Mine" } });
  reply(socket, await sent(socket, "record.commit"), { op: "record.conflict", kind: "fields", version: { server: 1, bob: 1 }, conflicts: [{ field: "title", actor: "bob", at: T1 }] });
  await committed;

  const loaded = record.loadLatest();
  reply(socket, await sent(socket, "record.get", 2), state({ server: 1, bob: 1 }, { title: { actor: "bob", counter: 1, at: T1 } }));
  const edit = await sent(socket, "record.edit", 2);
  assert.deepEqual(edit.version, { server: 1, bob: 1 });
  assert.deepEqual(record.stale, []);
  assert.equal(record.lastConflict, null);
  assert.deepEqual(seen.map((l) => l.length), [1, 0]);
  reply(socket, edit, { op: "record.editing" });
  assert.deepEqual((await loaded).version, { server: 1, bob: 1 });
  assert.equal(record.editing, true);
  // The push of a commit that the new context includes, arriving late, is no news.
  socket().push(stale({ server: 1, bob: 1 }, [{ field: "title", actor: "bob", at: T1 }]));
  assert.deepEqual(record.stale, []);
  client.close();
});

test("reconnect: the editing session is restored on the same context, and what changed meanwhile becomes stale", async () => {
  const { client, socket, record } = await editing({ server: 1 }, "alice");
  const seen = [];
  record.on("stale", (list, push) => seen.push({ list, push }));
  socket().drop(1006);
  await waitFor(() => FakeSocket.all.length === 2, 1000, "a new socket");
  socket().welcome({ user: "alice" });
  assert.deepEqual(socket().sent.map((f) => f.op), ["record.edit", "record.get"]);
  assert.deepEqual(socket().lastSent("record.edit").version, { server: 1 }, "the context the form was loaded with");
  reply(socket, socket().lastSent("record.edit"), { op: "record.editing" });
  reply(socket, socket().lastSent("record.get"), state({ server: 1, bob: 1, alice: 1 }, {
    title: { actor: "bob", counter: 1, at: T1, value: "Hi" },
    body: { actor: "server", counter: 1, at: T1 },
    tags: { actor: "alice", counter: 1, at: T2 },
  }));
  assert.deepEqual(record.stale, [{ field: "title", actor: "bob", at: new Date(T1), value: "Hi" }], "seen fields and the user's own writes are left out");
  assert.deepEqual(record.context, { server: 1 }, "the catch-up does not move the context");
  assert.equal(seen.length, 1);
  assert.equal(seen[0].push, null);
  client.close();
});

test("reconnect catch-up: a deletion shows as a change of '*' by whoever deleted it, when they did", async () => {
  const { client, socket, record } = await editing({ server: 1 }, "alice");
  socket().drop(1006);
  await waitFor(() => FakeSocket.all.length === 2, 1000, "a new socket");
  socket().welcome({ user: "alice" });
  const deletedBy = { actor: "bob", at: new Date(T1).toISOString() };
  reply(socket, socket().lastSent("record.get"), { ...state({ server: 1, bob: 1, carol: 1 }, {}, true), deletedBy });
  assert.deepEqual(record.stale.map((c) => [c.field, c.actor]), [["*", "bob"]]);
  assert.deepEqual(record.stale[0].at, new Date(T1));
  client.close();
});

test("reconnect catch-up from a server that does not name the deleter: an actor whose counter moved", async () => {
  const { client, socket, record } = await editing({ server: 1 }, "alice");
  socket().drop(1006);
  await waitFor(() => FakeSocket.all.length === 2, 1000, "a new socket");
  socket().welcome({ user: "alice" });
  reply(socket, socket().lastSent("record.get"), state({ server: 1, bob: 1 }, {}, true));
  assert.deepEqual(record.stale.map((c) => [c.field, c.actor]), [["*", "bob"]]);
  assert.ok(record.stale[0].at instanceof Date);
  client.close();
});

test("version() of a deleted record says who deleted it and when", async () => {
  const { client, socket } = fakeClient();
  socket().welcome({ user: "alice" });
  const record = client.record(CHANNEL, 1);
  const read = record.version();
  reply(socket, await sent(socket, "record.get"), { ...state({ bob: 1 }, {}, true), deletedBy: { actor: "bob", at: new Date(T1).toISOString() } });
  const result = await read;
  assert.equal(result.deleted, true);
  assert.deepEqual(result.deletedBy, { actor: "bob", at: new Date(T1) });
  client.close();
});

test("edit() made offline goes out once the session is up, once; cut off, it is sent again", async () => {
  const second = fakeClient();
  const r2 = second.client.record(CHANNEL, 1);
  const edited = r2.edit();
  assert.equal(r2.editing, true);
  assert.equal(second.socket().sent.length, 0);
  second.socket().welcome({ user: "alice" });
  reply(second.socket, await sent(second.socket, "record.get"), state({ server: 1 }));
  await sent(second.socket, "record.edit");
  assert.equal(second.socket().sentOps("record.get").length, 1);
  second.socket().drop(1006);
  await waitFor(() => FakeSocket.all.length === 2, 1000, "a new socket");
  second.socket().welcome({ user: "alice" });
  assert.deepEqual(second.socket().sent.map((f) => f.op), ["record.edit"], "never confirmed: no catch-up read");
  reply(second.socket, second.socket().lastSent("record.edit"), { op: "record.editing" });
  assert.deepEqual(await edited, { server: 1 });
  second.client.close();
});

test("a refused edit rejects with the server's code and is not editing any more", async () => {
  const { client, socket } = fakeClient();
  socket().welcome({ user: null });
  const record = client.record(CHANNEL, 1);
  const edited = record.edit();
  reply(socket, await sent(socket, "record.get"), state({}));
  const frame = await sent(socket, "record.edit");
  socket().push({ op: "error", id: frame.id, code: "anonymous", message: "editing needs a user" });
  await assert.rejects(edited, (e) => e instanceof ConcordError && e.code === "anonymous");
  assert.equal(record.editing, false);
  client.close();
});

test("stop() sends record.stop, clears stale, and rejects edits still waiting; close() forgets the object", async () => {
  const { client, socket, record } = await editing({ server: 1 });
  const seen = [];
  record.on("stale", (list) => seen.push(list));
  socket().push(stale({ server: 1, bob: 1 }, [{ field: "title", actor: "bob", at: T1 }]));
  const stopping = record.stop();
  assert.equal(record.editing, false);
  assert.deepEqual(record.stale, []);
  assert.deepEqual(seen.map((l) => l.length), [1, 0]);
  reply(socket, await sent(socket, "record.stop"), { op: "record.stopped" });
  await stopping;
  socket().push(stale({ server: 1, bob: 2 }, [{ field: "title", actor: "bob", at: T2 }]));
  assert.deepEqual(record.stale, [], "not editing: no stale warnings");
  assert.equal(await record.stop(), undefined, "a second stop sends nothing");
  assert.equal(socket().sentOps("record.stop").length, 1);

  // An edit still waiting for its version when stop() comes.
  const pending = client.record(CHANNEL, 2).edit();
  client.record(CHANNEL, 2).stop();
  await assert.rejects(pending, (e) => e.code === "stopped");
  reply(socket, socket().sentOps("record.get").at(-1), state({}));
  await new Promise((r) => setTimeout(r, 10));
  assert.equal(socket().sentOps("record.edit").filter((f) => f.record === "2").length, 0, "a stopped edit never goes out");

  await record.close();
  assert.notEqual(client.record(CHANNEL, 1), record, "a new object after close()");
  await assert.rejects(record.version(), (e) => e.code === "closed");
  client.close();
});

test("close() of the client rejects waiting edits with closed", async () => {
  const { client } = fakeClient();
  const record = client.record(CHANNEL, 1);
  const edited = record.edit();
  client.close();
  await assert.rejects(edited, (e) => e.code === "closed");
  await assert.rejects(record.commit({ fields: ["x"] }), (e) => e.code === "closed");
});

test("a commit cut off by a disconnect rejects with disconnected and is not sent again", async () => {
  const { client, socket, record } = await editing({ server: 1 });
  const committed = record.commit({ values: { title: "Mine" } });
  await sent(socket, "record.commit");
  socket().drop(1006);
  await assert.rejects(committed, (e) => e instanceof ConcordError && e.code === "disconnected");
  await waitFor(() => FakeSocket.all.length === 2, 1000, "a new socket");
  socket().welcome({ user: "alice" });
  await new Promise((r) => setTimeout(r, 10));
  assert.deepEqual(socket().sentOps("record.commit"), [], "a commit may have been applied: never retried");
  assert.deepEqual(socket().sent.map((f) => f.op), ["record.edit", "record.get"]);
  client.close();
});
