// Typing against the real server in development mode, TTL 500 ms (README, "Typing"): started once,
// silent refreshes, stopped on stop / TTL / last connection gone, scopes, the typist's own connections
// left out, snapshots for new subscribers, and the rate limit.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createClient } from "../../protocol/concord.js";
import { startServer, rawSocket, waitFor, sleep, recordErrors, FAST_RECONNECT, PRESENCE_ARGS, devServerFixture
} from "./helpers.mjs";

const TTL_MS = 500; // --typing-ttl in PRESENCE_ARGS

const fixture = devServerFixture();
const { clients, sockets, newClient } = fixture;

async function open(user) {
  const socket = await rawSocket(user === undefined ? fixture.server.wsUrl : `${fixture.server.wsUrl}?user=${user}&name=${user.toUpperCase()}`);
  sockets.push(socket);
  await socket.next((f) => f.op === "welcome", "welcome");
  return socket;
}

// A raw WebSocket (as `user`) that watches a channel's typing and records every frame.
async function watcher(channel, user = "watcher") {
  const socket = await open(user);
  socket.send({ op: "typing.subscribe", id: "w", channel });
  const snapshot = await socket.next((f) => f.id === "w", "the snapshot");
  return { socket, snapshot, events: () => socket.frames.filter((f) => f.op === "typing.event" && f.channel === channel) };
}

test("many start() calls: one started; stopped after the TTL once they stop", async () => {
  const channel = "comments/posts/1";
  const bob = newClient("bob", "Bob");
  const bobTyping = bob.typing(channel);
  const bobLists = [];
  bobTyping.on("change", (list) => bobLists.push(list));
  assert.deepEqual(await bobTyping.subscribe(), []);
  const { snapshot, events } = await watcher(channel);
  assert.deepEqual(snapshot, { op: "typing.snapshot", id: "w", channel, typing: [] });

  const alice = newClient("alice", "Alice");
  const aliceErrors = recordErrors(alice);
  await alice.ping();
  const typing = alice.typing(channel, { scope: "new-comment", interval: 150 });
  // A keystroke every 20 ms for a second: twice the TTL, so only the refreshes keep it alive.
  const until = Date.now() + 2 * TTL_MS;
  let calls = 0;
  while (Date.now() < until) {
    typing.start();
    calls++;
    await sleep(20);
  }
  const lastCall = Date.now();
  assert.ok(calls > 20);
  assert.deepEqual(events(), [{ op: "typing.event", channel, action: "started", typist: { user: "alice", name: "Alice", scope: "new-comment" } }]);
  assert.deepEqual(bobTyping.typing(), [{ user: "alice", name: "Alice", scope: "new-comment" }]);

  await waitFor(() => events().length === 2, 3000, "stopped");
  const elapsed = Date.now() - lastCall;
  assert.ok(elapsed >= TTL_MS - 150 - 50 && elapsed < TTL_MS + 1000, `stopped ${elapsed} ms after the last start()`);
  assert.deepEqual(events()[1], { op: "typing.event", channel, action: "stopped", typist: { user: "alice", name: "Alice", scope: "new-comment" } });
  await waitFor(() => bobTyping.typing().length === 0, 3000, "bob's list empty");
  assert.deepEqual(bobLists.map((list) => list.map((t) => t.user)), [[], ["alice"], []]);
  assert.deepEqual(aliceErrors, [], "the client stays within the rate limit");
});

test("stop() pushes stopped at once; start() right after pushes started again", async () => {
  const channel = "comments/posts/2";
  const { events } = await watcher(channel);
  const alice = newClient("alice", "Alice");
  await alice.ping();
  const typing = alice.typing(channel);
  typing.start();
  await waitFor(() => events().length === 1, 3000, "started");
  const stoppedAt = Date.now();
  typing.stop();
  await waitFor(() => events().length === 2, 3000, "stopped");
  assert.ok(Date.now() - stoppedAt < TTL_MS - 200, "well before the TTL");
  typing.start();
  await waitFor(() => events().length === 3, 3000, "started again");
  assert.deepEqual(events().map((e) => [e.action, e.typist.scope]), [["started", null], ["stopped", null], ["started", null]]);
  typing.close();
  await waitFor(() => events().length === 4, 3000, "close() stops");
});

test("the typist's own connections do not receive its typing events", async () => {
  const channel = "comments/posts/3";
  const { events: bobEvents } = await watcher(channel, "bob");
  const { events: otherTabEvents } = await watcher(channel, "alice"); // another tab of alice
  const alice = newClient("alice", "Alice");
  const own = alice.typing(channel);
  const ownLists = [];
  own.on("change", (list) => ownLists.push(list));
  await own.subscribe();
  own.start();
  await waitFor(() => bobEvents().length === 1, 3000, "bob sees started");
  own.stop();
  await waitFor(() => bobEvents().length === 2, 3000, "bob sees stopped");
  await alice.ping(); // anything for alice's own connection would have arrived before the pong
  await sleep(50);
  assert.deepEqual(otherTabEvents(), []);
  assert.deepEqual(ownLists, [[]], "only the (empty) snapshot");
  assert.deepEqual(own.typing(), []);
});

test("a new subscriber learns who is typing now", async () => {
  const channel = "comments/posts/4";
  const alice = newClient("alice", "Alice");
  await alice.ping();
  const typing = alice.typing(channel, { scope: "reply" });
  typing.start();
  const carol = newClient("carol", "Carol");
  await waitFor(async () => (await carol.typing(channel).subscribe()).length === 1, 3000, "alice in carol's snapshot");
  assert.deepEqual(carol.typing(channel).typing(), [{ user: "alice", name: "Alice", scope: "reply" }]);
  const { snapshot } = await watcher(channel);
  assert.deepEqual(snapshot.typing, [{ user: "alice", name: "Alice", scope: "reply" }]);
  typing.stop();
  await waitFor(() => carol.typing(channel).typing().length === 0, 3000, "carol sees stopped");
});

test("a typist without ?name= has name null", async () => {
  const channel = "comments/posts/noname";
  const { events } = await watcher(channel);
  const quentin = newClient("quentin");
  await quentin.ping();
  quentin.typing(channel).start();
  await waitFor(() => events().length === 1, 3000, "started");
  assert.deepEqual(events()[0].typist, { user: "quentin", name: null, scope: null });
  quentin.typing(channel).stop();
  await waitFor(() => events().length === 2, 3000, "stopped");
});

test("scopes: a scoped object lists its scope, an unscoped one the whole channel", async () => {
  const channel = "comments/posts/5";
  const bob = newClient("bob", "Bob");
  const whole = bob.typing(channel);
  const onlyA = bob.typing(channel, { scope: "a" });
  await Promise.all([whole.subscribe(), onlyA.subscribe()]);
  const alice = newClient("alice", "Alice");
  const dan = newClient("dan", "Dan");
  await Promise.all([alice.ping(), dan.ping()]);
  alice.typing(channel, { scope: "a" }).start();
  dan.typing(channel, { scope: "b" }).start();
  await waitFor(() => whole.typing().length === 2, 3000, "both typists");
  assert.deepEqual(onlyA.typing(), [{ user: "alice", name: "Alice", scope: "a" }]);
  assert.deepEqual(whole.typing().map((t) => `${t.user}:${t.scope}`).sort(), ["alice:a", "dan:b"]);
  alice.typing(channel, { scope: "a" }).stop();
  dan.typing(channel, { scope: "b" }).stop();
  await waitFor(() => whole.typing().length === 0, 3000, "both stopped");
});

test("the typist's last connection closing pushes stopped at once; another tab keeps it to the TTL", async () => {
  const channel = "comments/posts/6";
  const { events } = await watcher(channel);
  // A user of its own: the server stops a user's signals when its last connection (anywhere) goes.
  const tab1 = newClient("paula", "Paula");
  const tab2 = newClient("paula", "Paula");
  await Promise.all([tab1.ping(), tab2.ping()]);
  tab1.typing(channel).start();
  await waitFor(() => events().length === 1, 3000, "started");
  const firstClosedAt = Date.now();
  tab1.close();
  await waitFor(() => events().length === 2, 3000, "stopped by the TTL");
  assert.ok(Date.now() - firstClosedAt >= TTL_MS - 100, "another tab is open: the signal lives to its TTL");
  tab2.typing(channel).start();
  await waitFor(() => events().length === 3, 3000, "started again");
  const closedAt = Date.now();
  tab2.close();
  await waitFor(() => events().length === 4, 3000, "stopped");
  assert.ok(Date.now() - closedAt < TTL_MS - 200, "before the TTL");
  assert.deepEqual(events().map((e) => e.action), ["started", "stopped", "started", "stopped"]);
});

test("rate limit: 30 signals at once get rate_limited past the burst of 10, then 5 per second", async () => {
  const socket = await open("spammer");
  for (let id = 1; id <= 30; id++) socket.send({ op: "typing.start", id, channel: "comments/posts/spam" });
  await waitFor(() => socket.frames.filter((f) => typeof f.id === "number").length === 30, 3000, "30 replies");
  const replies = socket.frames.filter((f) => typeof f.id === "number");
  const ok = replies.filter((f) => f.op === "typing.ok");
  const limited = replies.filter((f) => f.op === "error" && f.code === "rate_limited");
  assert.equal(ok.length + limited.length, 30, JSON.stringify(replies));
  assert.ok(ok.length >= 10 && ok.length <= 12, `${ok.length} accepted`);
  assert.deepEqual(ok.slice(0, 10).map((f) => f.id), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], "the burst goes first");
  assert.deepEqual(ok[0], { op: "typing.ok", id: 1 });
  assert.equal(typeof limited[0].message, "string");

  // Without ids the refusals are still answered, without an id.
  for (let i = 0; i < 5; i++) socket.send({ op: "typing.start", channel: "comments/posts/spam" });
  await waitFor(() => socket.frames.filter((f) => f.op === "error" && f.id === undefined).length >= 3, 3000, "refusals without id");
  assert.ok(socket.frames.every((f) => f.op !== "typing.ok" || typeof f.id === "number"), "no typing.ok without an id");

  await sleep(450); // two tokens back at 5 per second
  socket.send({ op: "typing.start", id: 100, channel: "comments/posts/spam" });
  assert.deepEqual(await socket.next((f) => f.id === 100, "reply 100"), { op: "typing.ok", id: 100 });
  assert.equal(socket.closed(), null, "rate limiting does not close the connection");
});

test("typing errors: anonymous, scope too long, duplicate and unknown watches; stop when not typing is fine", async () => {
  const anonymous = await open(undefined);
  anonymous.send({ op: "typing.start", id: 1, channel: "comments/e" });
  assert.equal((await anonymous.next((f) => f.id === 1)).code, "anonymous");
  anonymous.send({ op: "typing.start", channel: "comments/e" });
  assert.equal((await anonymous.next((f) => f.op === "error" && f.id === undefined, "an error without id")).code, "anonymous");
  anonymous.send({ op: "typing.subscribe", id: 2, channel: "comments/e" });
  assert.deepEqual(await anonymous.next((f) => f.id === 2), { op: "typing.snapshot", id: 2, channel: "comments/e", typing: [] }, "watching needs no user");

  const socket = await open("olga");
  const reply = (id) => socket.next((f) => f.id === id, `reply ${id}`);
  socket.send({ op: "typing.start", id: 1, channel: "comments/e", scope: "x".repeat(65) });
  assert.equal((await reply(1)).code, "invalid_frame");
  socket.send({ op: "typing.start", id: 2, channel: "bad*" });
  assert.equal((await reply(2)).code, "invalid_channel");
  socket.send({ op: "typing.stop", id: 3, channel: "comments/e", scope: "never" });
  assert.deepEqual(await reply(3), { op: "typing.ok", id: 3 });
  socket.send({ op: "typing.subscribe", id: 4, channel: "comments/e" });
  assert.equal((await reply(4)).op, "typing.snapshot");
  socket.send({ op: "typing.subscribe", id: 5, channel: "comments/e" });
  assert.equal((await reply(5)).code, "duplicate_subscription");
  socket.send({ op: "typing.unsubscribe", id: 6, channel: "comments/e" });
  assert.deepEqual(await reply(6), { op: "typing.unsubscribed", id: 6, channel: "comments/e" });
  socket.send({ op: "typing.unsubscribe", id: 7, channel: "comments/e" });
  assert.equal((await reply(7)).code, "unknown_subscription");
});

test("the client reports refusals of its signals to the error listeners", async () => {
  const anonymous = newClient(undefined);
  const errors = recordErrors(anonymous);
  await anonymous.ping();
  anonymous.typing("comments/e2").start();
  await waitFor(() => errors.length === 1, 3000, "the reported error");
  assert.equal(errors[0].code, "anonymous");
});

test("after a server restart the typing list is re-subscribed and keeps working", async () => {
  const own = await startServer({ args: PRESENCE_ARGS });
  let restarted = null;
  try {
    const channel = "comments/posts/restart";
    const make = (user) => {
      const client = createClient(own.wsUrl, { reconnect: FAST_RECONNECT, params: { user, name: user } });
      clients.push(client);
      return client;
    };
    const bob = make("bob");
    const alice = make("alice");
    const bobTyping = bob.typing(channel);
    await bobTyping.subscribe();
    await alice.ping();
    const typing = alice.typing(channel);
    typing.start();
    await waitFor(() => bobTyping.typing().length === 1, 3000, "started");

    const port = own.port;
    await own.stop();
    await waitFor(() => bob.state !== "connected" && alice.state !== "connected", 3000, "both notice");
    assert.equal(typing.active, false, "a new session starts with nothing sent");
    restarted = await startOnPort(port);
    await waitFor(() => bobTyping.synced && alice.state === "connected", 5000, "re-synced");
    assert.deepEqual(bobTyping.typing(), [], "the new server's snapshot replaced the old list");
    typing.start();
    await waitFor(() => bobTyping.typing().length === 1, 3000, "started on the new server");
    typing.stop();
    await waitFor(() => bobTyping.typing().length === 0, 3000, "stopped on the new server");
    bob.close();
    alice.close();
  } finally {
    await restarted?.stop();
    await own.stop();
  }
});

// The old process may take a moment to release the port.
async function startOnPort(port) {
  const deadline = Date.now() + 5000;
  for (;;) {
    try {
      return await startServer({ port, args: PRESENCE_ARGS });
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await sleep(100);
    }
  }
}
