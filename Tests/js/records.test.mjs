// Records and conflicts against the real server in development mode (README, "Records and
// conflicts" and the /v1/records endpoints): two users edit one post; the stale warning before
// Save; a conflict naming the field and who changed it; "keep mine"; disjoint fields merged;
// deletion; "load latest"; the Refine event on the record's channel; the backend's HTTP API.
// The server runs with --memory: nothing is written to a data directory.
import { test } from "node:test";
import assert from "node:assert/strict";
import { ConcordError, liveProvider } from "../../protocol/concord.js";
import { httpJson, waitFor, sleep, recordErrors, PRESENCE_ARGS, devServerFixture } from "./helpers.mjs";

const fixture = devServerFixture([...PRESENCE_ARGS, "--memory"]);
const { newClient } = fixture;

const CHANNEL = "resources/posts";

const getRecord = (id, channel = CHANNEL) =>
  httpJson(fixture.server, "GET", `/v1/records?channel=${encodeURIComponent(channel)}&id=${encodeURIComponent(id)}`);
const httpCommit = (body) => httpJson(fixture.server, "POST", "/v1/records/commit", { body });
const httpDelete = (body) => httpJson(fixture.server, "POST", "/v1/records/delete", { body });

// Creates the record as the backend would when the post is inserted: a whole-record write by
// "server", so that editors start from {"server": 1} as in the README's worked example.
async function seed(id) {
  const created = await httpCommit({ channel: CHANNEL, record: id, version: {}, actor: "server" });
  assert.equal(created.status, 200, created.text);
  assert.deepEqual(created.body.version, { server: 1 });
}

// A third client watching resources/posts through Refine's liveProvider, as useOne(id) does.
async function refineWatcher(id) {
  const client = newClient("carol");
  const errors = recordErrors(client);
  const provider = liveProvider(client);
  const events = [];
  const handle = provider.subscribe({
    channel: CHANNEL,
    types: ["*"],
    params: { ids: [id], id, meta: {}, subscriptionType: "useOne" },
    callback: (event) => events.push(event),
    meta: { dataProviderName: "default" },
  });
  await handle.ready;
  return { client, events, errors };
}

const isDate = (value) => value instanceof Date && !Number.isNaN(value.getTime());

test("the worked example: stale warning before Save, conflict, keep mine, the Refine event, disjoint fields merged", async () => {
  await seed(1);
  const carol = await refineWatcher(1);
  const alice = newClient("alice", "Alice");
  const bob = newClient("bob", "Bob");
  const aliceErrors = recordErrors(alice);
  const bobErrors = recordErrors(bob);
  const alicePost = alice.record(CHANNEL, 1);
  const bobPost = bob.record(CHANNEL, 1);

  // 1-2. Both open the edit form: read the version and declare editing on it.
  assert.deepEqual(await alicePost.edit(), { server: 1 });
  assert.deepEqual(await bobPost.edit(), { server: 1 });
  assert.deepEqual(alicePost.state, { context: { server: 1 }, stale: [], editing: true, lastConflict: null });
  const banners = [];
  alicePost.on("stale", (stale, push) => banners.push({ stale, push }));

  // 3. Bob saves the title.
  const saved = await bobPost.commit({ fields: ["title"], values: { title: "Hi" } });
  assert.deepEqual(saved, { status: "accepted", version: { server: 1, bob: 1 }, dot: { actor: "bob", counter: 1 }, fields: ["title"], deleted: false });
  assert.deepEqual(bobPost.context, { server: 1, bob: 1 });

  // Alice's form shows "This post was updated by another user" before she presses Save.
  await waitFor(() => alicePost.stale.length > 0, 3000, "alice's stale warning");
  assert.equal(alicePost.stale.length, 1);
  const [change] = alicePost.stale;
  assert.deepEqual({ field: change.field, actor: change.actor, value: change.value }, { field: "title", actor: "bob", value: "Hi" });
  assert.ok(isDate(change.at), "at is a Date");
  assert.equal(banners.length, 1);
  assert.deepEqual({ by: banners[0].push.by, deleted: banners[0].push.deleted, version: banners[0].push.version },
    { by: "bob", deleted: false, version: { server: 1, bob: 1 } });
  assert.deepEqual(alicePost.context, { server: 1 }, "a warning does not move the context");
  assert.deepEqual(bobPost.stale, [], "nobody is warned of their own commit");

  // The third client gets Refine's updated event, with the new version.
  await waitFor(() => carol.events.length >= 1, 3000, "carol's updated event");
  const updated = carol.events[0];
  assert.equal(updated.channel, CHANNEL);
  assert.equal(updated.type, "updated");
  assert.deepEqual(updated.payload.ids.map(String), ["1"]);
  assert.deepEqual(updated.payload.version, { server: 1, bob: 1 });
  assert.equal(updated.payload.actor, "bob");
  assert.deepEqual(updated.payload.fields, ["title"]);
  assert.ok(isDate(updated.date));

  // 5. Alice saves her title on {"server": 1}: a conflict naming the field and bob (a result, not an error).
  const conflict = await alicePost.commit({ fields: ["title"], values: { title: "Hello" } });
  assert.equal(conflict.status, "conflict");
  assert.equal(conflict.kind, "fields");
  assert.deepEqual(conflict.version, { server: 1, bob: 1 });
  assert.deepEqual(conflict.conflicts.map((c) => [c.field, c.actor, c.value]), [["title", "bob", "Hi"]]);
  assert.ok(isDate(conflict.conflicts[0].at));
  assert.equal(conflict.deletedBy, undefined);
  assert.equal(alicePost.lastConflict, conflict);

  // "Keep my changes": the same commit on the version the conflict gave. Accepted.
  const kept = await alicePost.keepMine();
  assert.deepEqual(kept, { status: "accepted", version: { server: 1, bob: 1, alice: 1 }, dot: { actor: "alice", counter: 1 }, fields: ["title"], deleted: false });
  assert.deepEqual(alicePost.state, { context: { server: 1, bob: 1, alice: 1 }, stale: [], editing: true, lastConflict: null });
  assert.deepEqual(banners.at(-1).stale, [], "the banner clears on an accepted commit");
  await waitFor(() => carol.events.length >= 2, 3000, "carol's second event");
  assert.deepEqual(carol.events[1].payload.version, { server: 1, bob: 1, alice: 1 });
  assert.equal(carol.events[1].payload.actor, "alice");

  // Bob, still on {"server": 1, "bob": 1}, was warned of alice's title; he saves the body: a
  // disjoint field, merged.
  await waitFor(() => bobPost.stale.length > 0, 3000, "bob's stale warning");
  assert.deepEqual(bobPost.stale.map((c) => [c.field, c.actor, c.value]), [["title", "alice", "Hello"]]);
  const merged = await bobPost.commit({ values: { body: "Text" } });
  assert.deepEqual(merged, { status: "accepted", version: { server: 1, bob: 2, alice: 1 }, dot: { actor: "bob", counter: 2 }, fields: ["body"], deleted: false });

  // Alice (editing on the context of her last commit) hears only of the body.
  await waitFor(() => alicePost.stale.length > 0, 3000, "alice's warning about the body");
  assert.deepEqual(alicePost.stale.map((c) => [c.field, c.actor, c.value]), [["body", "bob", "Text"]]);
  await waitFor(() => carol.events.length >= 3, 3000, "carol's third event");
  assert.deepEqual(carol.events.map((e) => [e.type, e.payload.actor]), [["updated", "bob"], ["updated", "alice"], ["updated", "bob"]]);

  // The backend sees the same state.
  const state = await getRecord(1);
  assert.equal(state.status, 200);
  assert.deepEqual(state.body.version, { server: 1, bob: 2, alice: 1 });
  assert.equal(state.body.deleted, false);
  assert.deepEqual(Object.keys(state.body.fields).sort(), ["body", "title"]);
  assert.deepEqual([state.body.fields.title.actor, state.body.fields.title.counter, state.body.fields.title.value], ["alice", 1, "Hello"]);
  assert.deepEqual([state.body.fields.body.actor, state.body.fields.body.counter, state.body.fields.body.value], ["bob", 2, "Text"]);

  await alicePost.stop();
  await bobPost.stop();
  assert.deepEqual([aliceErrors, bobErrors, carol.errors], [[], [], []]);
});

test("disjoint fields committed concurrently on the same context are merged", async () => {
  await seed(2);
  const alicePost = newClient("alice").record(CHANNEL, 2);
  const bobPost = newClient("bob").record(CHANNEL, 2);
  await Promise.all([alicePost.version(), bobPost.version()]);
  const [a, b] = await Promise.all([
    alicePost.commit({ values: { title: "T" } }),
    bobPost.commit({ fields: ["body"] }),
  ]);
  assert.deepEqual([a.status, b.status], ["accepted", "accepted"]);
  assert.deepEqual((await getRecord(2)).body.version, { server: 1, alice: 1, bob: 1 });
  // The same field on the same old context: the later one conflicts.
  const stale = newClient("dave").record(CHANNEL, 2);
  const late = await stale.commit({ fields: ["title"] });
  assert.equal(late.status, "conflict", "a commit without a read has seen nothing");
});

test("delete, then a commit is a conflict of kind deleted; loadLatest() clears the banner", async () => {
  await seed(3);
  const carol = await refineWatcher(3);
  const alicePost = newClient("alice").record(CHANNEL, 3);
  const bobPost = newClient("bob").record(CHANNEL, 3);
  await alicePost.edit();
  await bobPost.edit();
  const banners = [];
  alicePost.on("stale", (stale, push) => banners.push({ stale, push }));

  const deleted = await bobPost.delete();
  assert.deepEqual({ ...deleted, fields: undefined }, { status: "accepted", version: { server: 1, bob: 1 }, dot: { actor: "bob", counter: 1 }, fields: undefined, deleted: true });
  await waitFor(() => carol.events.length >= 1, 3000, "the deleted event");
  assert.equal(carol.events[0].type, "deleted");
  assert.deepEqual(carol.events[0].payload.version, { server: 1, bob: 1 });

  // Alice's banner: the post was deleted.
  await waitFor(() => alicePost.stale.length > 0, 3000, "alice's stale warning");
  assert.deepEqual(alicePost.stale.map((c) => [c.field, c.actor]), [["*", "bob"]]);
  assert.equal(banners[0].push.deleted, true);
  assert.equal(banners[0].push.by, "bob");

  const conflict = await alicePost.commit({ values: { title: "Too late" } });
  assert.equal(conflict.status, "conflict");
  assert.equal(conflict.kind, "deleted");
  assert.deepEqual(conflict.conflicts, []);
  assert.equal(conflict.deletedBy.actor, "bob");
  assert.ok(isDate(conflict.deletedBy.at));
  assert.deepEqual(conflict.version, { server: 1, bob: 1 });
  // Keeping mine cannot bring a deleted record back.
  assert.equal((await alicePost.keepMine()).kind, "deleted");

  // "Load latest": the banner goes, the session moves to the new version, the state says deleted.
  const latest = await alicePost.loadLatest();
  assert.equal(latest.deleted, true);
  assert.deepEqual(latest.version, { server: 1, bob: 1 });
  assert.deepEqual(alicePost.state, { context: { server: 1, bob: 1 }, stale: [], editing: true, lastConflict: null });
  assert.deepEqual(banners.at(-1).stale, []);
});

test("loadLatest() clears the banner and the session moves: only later commits warn again", async () => {
  await seed(4);
  const alicePost = newClient("alice").record(CHANNEL, 4);
  const bobPost = newClient("bob").record(CHANNEL, 4);
  await alicePost.edit();
  await bobPost.edit();
  await bobPost.commit({ values: { title: "One" } });
  await waitFor(() => alicePost.stale.length === 1, 3000, "the first warning");

  const latest = await alicePost.loadLatest();
  assert.deepEqual(latest.version, { server: 1, bob: 1 });
  assert.equal(latest.fields.title.value, "One");
  assert.ok(isDate(latest.fields.title.at));
  assert.deepEqual(alicePost.stale, []);
  assert.deepEqual(alicePost.context, { server: 1, bob: 1 });
  await sleep(100);
  assert.deepEqual(alicePost.stale, [], "no warning about what was loaded");

  await bobPost.commit({ values: { body: "Two" } });
  await waitFor(() => alicePost.stale.length === 1, 3000, "the second warning");
  assert.deepEqual(alicePost.stale.map((c) => [c.field, c.actor, c.value]), [["body", "bob", "Two"]]);
  // Now on the latest version, alice's title commit is accepted.
  await alicePost.loadLatest();
  assert.equal((await alicePost.commit({ values: { title: "Three" } })).status, "accepted");
});

test("stop() ends the warnings; editing and committing need a user", async () => {
  await seed(5);
  const alicePost = newClient("alice").record(CHANNEL, 5);
  const bobPost = newClient("bob").record(CHANNEL, 5);
  await alicePost.edit();
  await alicePost.stop();
  assert.equal(alicePost.editing, false);
  await bobPost.version();
  assert.equal((await bobPost.commit({ values: { title: "X" } })).status, "accepted");
  await sleep(100);
  assert.deepEqual(alicePost.stale, [], "not editing: no warning");

  const anonymous = newClient();
  recordErrors(anonymous);
  const post = anonymous.record(CHANNEL, 5);
  assert.equal((await post.version()).version.bob, 1, "reading needs no user");
  await assert.rejects(post.edit(), (e) => e instanceof ConcordError && e.code === "anonymous");
  assert.equal(post.editing, false);
  await assert.rejects(post.commit({ fields: ["title"] }), (e) => e instanceof ConcordError && e.code === "anonymous");
});

test("a context that claims writes the record never had is refused with invalid_frame", async () => {
  await seed(6);
  const post = newClient("alice").record(CHANNEL, 6);
  assert.deepEqual((await post.version()).version, { server: 1 });
  const wrong = await httpCommit({ channel: CHANNEL, record: 6, version: { server: 3 }, fields: ["title"], actor: "alice" });
  assert.deepEqual([wrong.status, wrong.body?.error?.code], [400, "invalid_frame"]);
  // Over WebSocket the same refusal rejects commit() (a protocol error, not a conflict).
  const bobPost = newClient("bob").record(CHANNEL, 6);
  await bobPost.version();
  await assert.rejects(bobPost.keepMine(), (e) => e instanceof ConcordError && e.code === "no_conflict");
  const lying = newClient("bob");
  await assert.rejects(
    lying.request({ op: "record.commit", channel: CHANNEL, record: "6", version: { server: 2 }, fields: ["title"] }),
    (e) => e instanceof ConcordError && e.code === "invalid_frame",
  );
});

// README: "A context cannot claim writes the record never had (invalid_frame)". The server only
// refuses counters of actors the record's vector has (absent ones might have been folded into "~"),
// so it accepts {"bob": 5} even on a record never written, where nothing was folded (deviation
// reported; not a client bug).
test("a context naming an actor the record never had is refused", async () => {
  const post = newClient("alice").record(CHANNEL, 60);
  assert.deepEqual((await post.version()).version, {}, "a record never written has the empty version");
  const wrong = await httpCommit({ channel: CHANNEL, record: 60, version: { bob: 5 }, fields: ["title"], actor: "alice" });
  assert.deepEqual([wrong.status, wrong.body?.error?.code], [400, "invalid_frame"]);
});

test("after a reconnect the editing session is restored, and what changed meanwhile shows as stale", async () => {
  await seed(8);
  // A WebSocket the test can cut, as a network drop would.
  const sockets = [];
  class Droppable extends WebSocket {
    constructor(url) {
      super(url);
      sockets.push(this);
    }
  }
  const alice = newClient("alice", "Alice", { WebSocket: Droppable });
  const errors = recordErrors(alice);
  const alicePost = alice.record(CHANNEL, 8);
  const bobPost = newClient("bob").record(CHANNEL, 8);
  await alicePost.edit();
  await bobPost.version();

  const reconnected = new Promise((resolve) => {
    let dropped = false;
    alice.on("state", (state) => {
      if (state === "disconnected") dropped = true;
      if (state === "connected" && dropped) resolve();
    });
  });
  sockets.at(-1).close();
  await waitFor(() => alice.state !== "connected", 3000, "alice to notice the drop");
  assert.equal((await bobPost.commit({ values: { title: "While away" } })).status, "accepted");
  await reconnected;

  // The catch-up: bob's title, although the push went out while alice had no session.
  await waitFor(() => alicePost.stale.length === 1, 3000, "the missed change");
  assert.deepEqual(alicePost.stale.map((c) => [c.field, c.actor, c.value]), [["title", "bob", "While away"]]);
  assert.deepEqual(alicePost.context, { server: 1 }, "still the context the form was loaded with");
  assert.equal(alicePost.editing, true);

  // The session is live again on the server: the next commit warns at once.
  assert.equal((await bobPost.commit({ values: { body: "And more" } })).status, "accepted");
  await waitFor(() => alicePost.stale.length === 2, 3000, "a live warning after the reconnect");
  assert.deepEqual(alicePost.stale.map((c) => c.field), ["title", "body"]);
  const conflict = await alicePost.commit({ values: { title: "Mine" } });
  assert.deepEqual(conflict.conflicts.map((c) => [c.field, c.actor]), [["title", "bob"]]);
  assert.deepEqual(errors, []);
});

test("HTTP: GET /v1/records, POST /v1/records/commit (409 on a stale context, dryRun records nothing), /delete", async () => {
  const carol = await refineWatcher(7);
  // Never written: the empty version.
  const empty = await getRecord(7);
  assert.equal(empty.status, 200);
  assert.deepEqual(empty.body, { channel: CHANNEL, record: "7", version: {}, deleted: false, fields: {} });

  // Alice saves the title through the backend.
  const first = await httpCommit({ channel: CHANNEL, record: 7, version: {}, fields: { title: "Hi" }, actor: "alice" });
  assert.equal(first.status, 200, first.text);
  assert.deepEqual(first.body, { channel: CHANNEL, record: "7", version: { alice: 1 }, dot: { actor: "alice", counter: 1 }, fields: ["title"], deleted: false });
  await waitFor(() => carol.events.length === 1, 3000, "the event of the HTTP commit");
  assert.deepEqual(carol.events[0].payload.version, { alice: 1 });

  // Bob's commit of the title on the stale context: 409 with the conflict body.
  const stale = await httpCommit({ channel: CHANNEL, record: 7, version: {}, fields: { title: "Hello" }, actor: "bob" });
  assert.equal(stale.status, 409, stale.text);
  assert.equal(stale.body.channel, CHANNEL);
  assert.equal(stale.body.record, "7");
  assert.equal(stale.body.kind, "fields");
  assert.deepEqual(stale.body.version, { alice: 1 });
  assert.equal(stale.body.conflicts.length, 1);
  assert.deepEqual([stale.body.conflicts[0].field, stale.body.conflicts[0].actor, stale.body.conflicts[0].value], ["title", "alice", "Hi"]);
  assert.ok(isDate(new Date(stale.body.conflicts[0].at)));
  assert.equal("op" in stale.body, false);
  assert.equal("id" in stale.body, false);

  // dryRun: checked, nothing recorded or published, whatever the outcome.
  const dryConflict = await httpCommit({ channel: CHANNEL, record: 7, version: {}, fields: ["title"], actor: "bob", dryRun: true });
  assert.equal(dryConflict.status, 409);
  const dryOk = await httpCommit({ channel: CHANNEL, record: 7, version: { alice: 1 }, fields: { title: "Dry" }, actor: "bob", dryRun: true });
  assert.equal(dryOk.status, 200, dryOk.text);
  assert.equal(dryOk.body.dryRun, true);
  assert.deepEqual(dryOk.body.version, { alice: 1 }, "the answer gives the version as it is");
  assert.equal("dot" in dryOk.body, false, "no write, no dot");
  const after = await getRecord(7);
  assert.deepEqual(after.body.version, { alice: 1 }, "dryRun recorded nothing");
  assert.equal(after.body.fields.title.value, "Hi");
  await sleep(100);
  assert.equal(carol.events.length, 1, "dryRun published nothing");

  // The default actor is "backend"; the commit on the fresh version is accepted.
  const backend = await httpCommit({ channel: CHANNEL, record: 7, version: { alice: 1 }, fields: ["title"] });
  assert.equal(backend.status, 200, backend.text);
  assert.deepEqual(backend.body.dot, { actor: "backend", counter: 1 });

  // Delete: 409 on a stale context, 200 with deleted: true on the current one, then 409 "deleted".
  const staleDelete = await httpDelete({ channel: CHANNEL, record: 7, version: { alice: 1 }, actor: "bob" });
  assert.equal(staleDelete.status, 409, staleDelete.text);
  const gone = await httpDelete({ channel: CHANNEL, record: 7, version: { alice: 1, backend: 1 }, actor: "bob" });
  assert.equal(gone.status, 200, gone.text);
  assert.equal(gone.body.deleted, true);
  const afterDelete = await httpCommit({ channel: CHANNEL, record: 7, version: { alice: 1, backend: 1, bob: 1 }, fields: ["title"], actor: "alice" });
  assert.equal(afterDelete.status, 409);
  assert.equal(afterDelete.body.kind, "deleted");
  assert.equal(afterDelete.body.deletedBy.actor, "bob");
  assert.equal((await getRecord(7)).body.deleted, true);

  // Errors: the API key, a missing id, a bad channel, the method.
  assert.equal((await httpJson(fixture.server, "GET", `/v1/records?channel=${CHANNEL}&id=7`, { apiKey: null })).status, 401);
  const noId = await httpJson(fixture.server, "GET", `/v1/records?channel=${CHANNEL}`);
  assert.deepEqual([noId.status, noId.body?.error?.code], [400, "invalid_frame"]);
  const badChannel = await httpJson(fixture.server, "GET", `/v1/records?channel=${encodeURIComponent("a*b")}&id=1`);
  assert.deepEqual([badChannel.status, badChannel.body?.error?.code], [400, "invalid_channel"]);
  const wrongMethod = await httpJson(fixture.server, "GET", "/v1/records/commit");
  assert.equal(wrongMethod.status, 405);
  const notJson = await httpJson(fixture.server, "POST", "/v1/records/commit", { body: "nope" });
  assert.deepEqual([notJson.status, notJson.body?.error?.code], [400, "invalid_json"]);
});
