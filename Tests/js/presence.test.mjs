// Presence against the real server in development mode (README, "Presence", "Liveness" and the
// presence endpoints): members keyed by user, join once for many tabs, leave when the last tab goes,
// backend entries with a TTL, the idle deadline, and the client restoring presence after a restart.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createClient } from "../../protocol/concord.js";
import {
  startServer,
  rawSocket,
  silentWebSocket,
  httpJson,
  waitFor,
  sleep,
  recordErrors,
  FAST_RECONNECT,
  PRESENCE_ARGS,
  devServerFixture,
} from "./helpers.mjs";

const fixture = devServerFixture();
const { clients, sockets, newClient } = fixture;

// A raw WebSocket (as `user`) that watches a channel's presence and records every frame.
async function watcher(channel, user = "watcher") {
  const socket = await rawSocket(`${fixture.server.wsUrl}?user=${user}`);
  sockets.push(socket);
  await socket.next((f) => f.op === "welcome", "welcome");
  socket.send({ op: "presence.subscribe", id: "w", channel });
  const snapshot = await socket.next((f) => f.id === "w", "the snapshot");
  return { socket, snapshot, events: () => socket.frames.filter((f) => f.op === "presence.event" && f.channel === channel) };
}

const byUser = (members) => Object.fromEntries(members.map((m) => [m.user, m]));
const getPresence = (channel, query = "") => httpJson(fixture.server, "GET", `/v1/presence/${channel}${query}`);

test("development mode names the user from ?user=", async () => {
  const client = newClient("alice", "Alice");
  await client.ping();
  assert.equal(client.welcome.user, "alice");
});

test("two tabs are one member: one join, connections 2, no leave until the last tab goes", async () => {
  const channel = "presence/posts/tabs";
  const bob = newClient("bob", "Bob");
  const bobPresence = bob.presence(channel);
  const bobLists = [];
  bobPresence.on("change", (members) => bobLists.push(members));
  assert.deepEqual(await bobPresence.subscribe(), []);
  const { socket: raw, snapshot, events } = await watcher(channel);
  assert.deepEqual({ total: snapshot.total, members: snapshot.members }, { total: 0, members: [] });

  const tab1 = newClient("alice", "Alice");
  const tab2 = newClient("alice", "Alice");
  const entered = await tab1.presence(channel).enter({ name: "Alice" });
  assert.deepEqual([entered.op, entered.channel, typeof entered.id], ["presence.entered", channel, "number"]);
  await tab2.presence(channel).enter({ name: "Alice" });

  // connections: 2, seen by the backend and by a new subscriber.
  const listed = await getPresence(channel);
  assert.equal(listed.status, 200);
  assert.deepEqual(listed.body, { channel, total: 1, members: [{ user: "alice", info: { name: "Alice" }, connections: 2 }] });
  const late = newClient("late");
  assert.deepEqual(await late.presence(channel).subscribe(), [{ user: "alice", info: { name: "Alice" }, connections: 2 }]);

  await waitFor(() => events().length >= 2, 3000, "alice's join and second tab");
  assert.deepEqual(events().map((e) => [e.action, e.member.user, e.member.connections]), [["join", "alice", 1], ["update", "alice", 2]], "one join for two tabs");
  assert.deepEqual(events()[0].member, { user: "alice", info: { name: "Alice" }, connections: 1 });
  await waitFor(() => bobPresence.members().length === 1, 3000, "bob's list");
  assert.equal(bobPresence.members()[0].user, "alice");
  assert.equal(bobPresence.total, 1);

  // The second tab closes: alice is still there; watchers only see her count go down.
  tab2.close();
  await waitFor(async () => (await getPresence(channel)).body.members[0]?.connections === 1, 3000, "connections back to 1");
  // An info update from the remaining tab reaches bob; any leave would have arrived before it.
  await tab1.presence(channel).update({ name: "Alice", field: "title" });
  await waitFor(() => events().length === 4, 3000, "the update");
  assert.deepEqual(events().map((e) => e.action), ["join", "update", "update", "update"], "no leave while a tab remains");
  assert.deepEqual(events()[2].member, { user: "alice", info: { name: "Alice" }, connections: 1 });
  assert.deepEqual(events()[3].member, { user: "alice", info: { name: "Alice", field: "title" }, connections: 1 });
  await waitFor(() => bobPresence.members()[0]?.info?.field === "title", 3000, "bob sees the new info");
  assert.deepEqual(bobPresence.members(), [{ user: "alice", info: { name: "Alice", field: "title" }, connections: 1 }]);

  // The last tab goes: leave, at once (a clean close).
  tab1.close();
  await waitFor(() => events().length === 5, 3000, "the leave");
  assert.deepEqual(events()[4], { op: "presence.event", channel, action: "leave", member: { user: "alice", info: { name: "Alice", field: "title" }, connections: 0 } });
  await waitFor(() => bobPresence.members().length === 0, 3000, "bob's list empty");
  assert.equal(bobPresence.total, 0);
  assert.deepEqual(bobLists.map((list) => list.map((m) => `${m.user}:${m.connections}`)), [[], ["alice:1"], ["alice:2"], ["alice:1"], ["alice:1"], []]);
  assert.equal(raw.closed(), null);
});

test("leave() and entering again; members are listed longest present first", async () => {
  const channel = "presence/posts/order";
  const { events } = await watcher(channel);
  const carol = newClient("carol", "Carol");
  const dan = newClient("dan", "Dan");
  await carol.presence(channel).enter({ n: 1 });
  await dan.presence(channel).enter({ n: 2 });
  const { body } = await getPresence(channel);
  assert.deepEqual(body.members.map((m) => m.user), ["carol", "dan"]);
  const left = await carol.presence(channel).leave();
  assert.deepEqual([left.op, left.channel], ["presence.left", channel]);
  assert.equal(carol.presence(channel).entered, false);
  await carol.presence(channel).enter({ n: 3 });
  assert.deepEqual((await getPresence(channel)).body.members.map((m) => m.user), ["dan", "carol"]);
  await waitFor(() => events().length === 4, 3000, "four events");
  assert.deepEqual(events().map((e) => `${e.action}:${e.member.user}`), ["join:carol", "join:dan", "leave:carol", "join:carol"]);
});

test("close() on the presence object leaves and unsubscribes", async () => {
  const channel = "presence/posts/close";
  const { events } = await watcher(channel);
  const erin = newClient("erin", "Erin");
  const presence = erin.presence(channel);
  const lists = [];
  presence.on("change", (list) => lists.push(list));
  await presence.enter({ name: "Erin" });
  await waitFor(() => lists.at(-1)?.length === 1, 3000, "erin sees herself");
  await presence.close();
  await waitFor(() => events().some((e) => e.action === "leave"), 3000, "the leave");
  assert.notEqual(erin.presence(channel), presence);
  const count = lists.length;
  // Her watch is gone: another member's join is not delivered to the closed object.
  await newClient("frank").presence(channel).enter({});
  await waitFor(() => events().some((e) => e.member.user === "frank"), 3000, "frank's join");
  await erin.ping();
  assert.equal(lists.length, count);
  // And re-subscribing on the same connection works (the server forgot the old watch).
  assert.deepEqual((await erin.presence(channel).subscribe()).map((m) => m.user), ["frank"]);
});

test("a client that vanishes without closing leaves when the idle deadline passes", async () => {
  const channel = "presence/posts/vanish";
  const { events } = await watcher(channel);
  const ghost = await silentWebSocket(fixture.server, "/v1/ws?user=ghost");
  await ghost.next((f) => f.op === "welcome", "welcome");
  ghost.send({ op: "presence.enter", id: 1, channel, info: { name: "Ghost" } });
  await ghost.next((f) => f.id === 1, "entered");
  const enteredAt = Date.now();
  await waitFor(() => events().some((e) => e.action === "join"), 3000, "the join");
  // It answers no ping: dropped 600 ms (--idle-timeout) after its last byte, and its presence with it.
  await waitFor(() => events().some((e) => e.action === "leave"), 3000, "the leave");
  const elapsed = Date.now() - enteredAt;
  assert.ok(elapsed >= 450 && elapsed < 2000, `left after ${elapsed} ms`);
  assert.deepEqual(events().at(-1).member, { user: "ghost", info: { name: "Ghost" }, connections: 0 });
  ghost.destroy();
});

test("a silent client that answers pings stays present past the idle timeout", async () => {
  const channel = "presence/posts/quiet";
  const { events } = await watcher(channel);
  const quiet = newClient("quiet", "Quiet", { heartbeat: false });
  await quiet.presence(channel).enter({});
  await sleep(1500); // more than twice --idle-timeout, sending nothing; the WebSocket answers pings
  assert.equal(quiet.state, "connected");
  assert.deepEqual(events().map((e) => e.action), ["join"]);
  assert.equal((await getPresence(channel, "?count=1")).body.total, 1);
});

test("HTTP: POST makes a user present for ttlMs, GET lists, ?count=1 and ?limit, DELETE", async () => {
  const channel = "presence/posts/backend";
  const bob = newClient("bob", "Bob");
  const presence = bob.presence(channel);
  await presence.subscribe();
  const { events } = await watcher(channel);

  const posted = await httpJson(fixture.server, "POST", `/v1/presence/${channel}`, { body: { user: "dave", info: { name: "Dave" }, ttlMs: 400 } });
  assert.equal(posted.status, 200, posted.text);
  assert.deepEqual(posted.body, { channel, user: "dave", ttlMs: 400 });
  const postedAt = Date.now();
  await waitFor(() => presence.members().some((m) => m.user === "dave"), 3000, "dave in bob's list");
  assert.deepEqual(byUser(presence.members()).dave, { user: "dave", info: { name: "Dave" }, connections: 1 });

  const gina = newClient("gina", "Gina");
  await gina.presence(channel).enter({ name: "Gina" });
  const listed = await getPresence(channel);
  assert.deepEqual(listed.body, {
    channel,
    total: 2,
    members: [{ user: "dave", info: { name: "Dave" }, connections: 1 }, { user: "gina", info: { name: "Gina" }, connections: 1 }],
  });
  assert.deepEqual((await getPresence(channel, "?count=1")).body, { channel, total: 2 });
  const limited = await getPresence(channel, "?limit=1");
  assert.deepEqual({ total: limited.body.total, users: limited.body.members.map((m) => m.user) }, { total: 2, users: ["dave"] });

  // No refresh: dave goes when his TTL lapses.
  await waitFor(() => !presence.members().some((m) => m.user === "dave"), 3000, "dave's TTL to lapse");
  const elapsed = Date.now() - postedAt;
  assert.ok(elapsed >= 300 && elapsed < 2000, `dave left after ${elapsed} ms`);
  // The watcher is another connection: its copy of the leave may still be on the way.
  await waitFor(() => events().filter((e) => e.member.user === "dave").length === 2, 3000, "the watcher's leave");
  assert.deepEqual(events().filter((e) => e.member.user === "dave").map((e) => e.action), ["join", "leave"]);
  assert.equal(presence.total, 1);

  // A refreshed entry stays; DELETE removes it at once.
  await httpJson(fixture.server, "POST", `/v1/presence/${channel}`, { body: { user: "dave", info: { name: "Dave" }, ttlMs: 400 } });
  for (let i = 0; i < 3; i++) {
    await sleep(200);
    await httpJson(fixture.server, "POST", `/v1/presence/${channel}`, { body: { user: "dave", info: { name: "Dave" }, ttlMs: 400 } });
  }
  assert.ok(presence.members().some((m) => m.user === "dave"), "refreshed in time, still present");
  const removed = await httpJson(fixture.server, "DELETE", `/v1/presence/${channel}?user=dave`);
  assert.deepEqual(removed.body, { channel, user: "dave", removed: true });
  await waitFor(() => !presence.members().some((m) => m.user === "dave"), 3000, "dave removed");
  assert.deepEqual((await httpJson(fixture.server, "DELETE", `/v1/presence/${channel}?user=dave`)).body, { channel, user: "dave", removed: false });
  assert.deepEqual(events().filter((e) => e.member.user === "dave").map((e) => e.action), ["join", "leave", "join", "leave"]);
});

test("HTTP: a backend entry and a WebSocket tab of the same user are one member", async () => {
  const channel = "presence/posts/mixed";
  const { events } = await watcher(channel);
  const hank = newClient("hank", "Hank");
  await hank.presence(channel).enter({ name: "Hank" });
  await httpJson(fixture.server, "POST", `/v1/presence/${channel}`, { body: { user: "hank", info: { name: "Hank" }, ttlMs: 60_000 } });
  assert.equal((await getPresence(channel)).body.members[0].connections, 2);
  hank.close();
  await waitFor(async () => (await getPresence(channel)).body.members[0]?.connections === 1, 3000, "one session left");
  await httpJson(fixture.server, "DELETE", `/v1/presence/${channel}?user=hank`);
  await waitFor(() => events().some((e) => e.action === "leave"), 3000, "the leave");
  assert.deepEqual(events().map((e) => [e.action, e.member.connections]), [["join", 1], ["update", 2], ["update", 1], ["leave", 0]]);
});

test("HTTP errors: API key, user, ttlMs, info size, channel", async () => {
  const channel = "presence/posts/errors";
  const code = (response) => [response.status, response.body?.error?.code];
  assert.deepEqual(code(await httpJson(fixture.server, "GET", `/v1/presence/${channel}`, { apiKey: null })), [401, "unauthorized"]);
  assert.deepEqual(code(await httpJson(fixture.server, "POST", `/v1/presence/${channel}`, { body: { user: "x" }, apiKey: "wrong" })), [401, "unauthorized"]);
  assert.deepEqual(code(await httpJson(fixture.server, "POST", `/v1/presence/${channel}`, { body: { info: {} } })), [400, "invalid_frame"]);
  assert.deepEqual(code(await httpJson(fixture.server, "POST", `/v1/presence/${channel}`, { body: { user: "x", ttlMs: -1 } })), [400, "invalid_frame"]);
  assert.deepEqual(code(await httpJson(fixture.server, "POST", `/v1/presence/${channel}`, { body: { user: "x", ttlMs: 86_400_001 } })), [400, "invalid_frame"]);
  assert.deepEqual(code(await httpJson(fixture.server, "POST", `/v1/presence/${channel}`, { body: { user: "x", info: { s: "x".repeat(2100) } } })), [400, "invalid_frame"]);
  assert.deepEqual(code(await httpJson(fixture.server, "POST", `/v1/presence/${channel}`, { body: "{nope" })), [400, "invalid_json"]);
  assert.deepEqual(code(await httpJson(fixture.server, "GET", "/v1/presence/bad*channel")), [400, "invalid_channel"]);
  const defaults = await httpJson(fixture.server, "POST", `/v1/presence/${channel}`, { body: { user: "ivy" } });
  assert.deepEqual(defaults.body, { channel, user: "ivy", ttlMs: 30_000 });
  await httpJson(fixture.server, "DELETE", `/v1/presence/${channel}?user=ivy`);
});

test("WebSocket errors: anonymous, not_present, info too large, duplicate and unknown watches", async () => {
  const anonymous = newClient(undefined);
  await assert.rejects(anonymous.presence("presence/e").enter({}), (e) => e.code === "anonymous");
  assert.equal(anonymous.presence("presence/e").entered, false);
  // Watching needs no user.
  assert.deepEqual(await anonymous.presence("presence/e").subscribe(), []);

  const jay = newClient("jay", "Jay");
  await assert.rejects(jay.presence("presence/e").update({}), (e) => e.code === "not_present");
  await assert.rejects(jay.presence("presence/e").leave(), (e) => e.code === "not_present");
  await assert.rejects(jay.presence("presence/e").enter({ s: "x".repeat(2100) }), (e) => e.code === "invalid_frame");
  await assert.rejects(jay.presence("bad*").enter({}), (e) => e.code === "invalid_channel");

  const socket = await rawSocket(`${fixture.server.wsUrl}?user=kim`);
  sockets.push(socket);
  const reply = (id) => socket.next((f) => f.id === id, `reply ${id}`);
  socket.send({ op: "presence.subscribe", id: 1, channel: "presence/e" });
  assert.equal((await reply(1)).op, "presence.snapshot");
  socket.send({ op: "presence.subscribe", id: 2, channel: "presence/e" });
  assert.equal((await reply(2)).code, "duplicate_subscription");
  socket.send({ op: "presence.unsubscribe", id: 3, channel: "presence/e" });
  assert.deepEqual(await reply(3), { op: "presence.unsubscribed", id: 3, channel: "presence/e" });
  socket.send({ op: "presence.unsubscribe", id: 4, channel: "presence/e" });
  assert.equal((await reply(4)).code, "unknown_subscription");
  socket.send({ op: "presence.enter", id: 5, channel: "presence/e", info: { a: 1 } });
  assert.deepEqual(await reply(5), { op: "presence.entered", id: 5, channel: "presence/e" });
  socket.send({ op: "presence.update", id: 6, channel: "presence/e", info: { a: 2 } });
  assert.deepEqual(await reply(6), { op: "presence.updated", id: 6, channel: "presence/e" });
});

test("after a server restart the client re-enters with its latest info and re-subscribes, and its list never empties", async () => {
  const own = await startServer({ args: PRESENCE_ARGS });
  try {
    const channel = "presence/posts/restart";
    const make = (user) => {
      const client = createClient(own.wsUrl, { reconnect: FAST_RECONNECT, params: { user, name: user } });
      clients.push(client);
      return client;
    };
    const lena = make("lena");
    const mia = make("mia");
    const lenaPresence = lena.presence(channel);
    const lenaLists = [];
    lenaPresence.on("change", (list) => lenaLists.push(list.map((m) => m.user)));
    await lenaPresence.enter({ field: "title" });
    await lenaPresence.update({ field: "body" });
    await mia.presence(channel).enter({});
    const miaPresence = mia.presence(channel);
    await miaPresence.subscribe();
    await waitFor(() => lenaPresence.members().length === 2 && miaPresence.members().length === 2, 3000, "both see both");

    const port = own.port;
    await own.stop();
    await waitFor(() => lena.state !== "connected" && mia.state !== "connected", 3000, "both notice");
    assert.equal(lenaPresence.members().length, 2, "the last known list while disconnected");
    const restarted = await startOnPort(port);
    try {
      await waitFor(() => lenaPresence.synced && miaPresence.synced, 5000, "both re-synced");
      await waitFor(() => lenaPresence.members().length === 2 && miaPresence.members().length === 2, 3000, "both see both again");
      assert.deepEqual(byUser(miaPresence.members()).lena.info, { field: "body" }, "re-entered with the latest info");
      assert.ok(lenaLists.every((list) => list.includes("lena")), `lena's own list never lost her: ${JSON.stringify(lenaLists)}`);
      const listed = await httpJson(restarted, "GET", `/v1/presence/${channel}`);
      assert.deepEqual(listed.body.members.map((m) => m.user).sort(), ["lena", "mia"]);
    } finally {
      lena.close();
      mia.close();
      await restarted.stop();
    }
  } finally {
    await own.stop();
  }
});

test("a capped snapshot: the longest present members and the total; later arrivals join the list", async () => {
  const own = await startServer({ args: [...PRESENCE_ARGS, "--max-presence-members", "2"] });
  const mine = [];
  try {
    const make = (user) => {
      const client = createClient(own.wsUrl, { reconnect: FAST_RECONNECT, params: { user } });
      mine.push(client);
      return client;
    };
    const channel = "presence/big";
    for (const user of ["u1", "u2", "u3"]) await make(user).presence(channel).enter({ user });
    const viewer = make("viewer").presence(channel);
    assert.deepEqual((await viewer.subscribe()).map((m) => m.user), ["u1", "u2"]);
    assert.equal(viewer.total, 3);
    await make("u4").presence(channel).enter({ user: "u4" });
    await waitFor(() => viewer.total === 4, 3000, "u4's join");
    assert.deepEqual(viewer.members().map((m) => m.user), ["u1", "u2", "u4"]);
    mine[2].close(); // u3, beyond the cap
    await waitFor(() => viewer.total === 3, 3000, "u3's leave");
    assert.deepEqual(viewer.members().map((m) => m.user), ["u1", "u2", "u4"]);
    const listed = await httpJson(own, "GET", `/v1/presence/${channel}`);
    assert.deepEqual({ total: listed.body.total, users: listed.body.members.map((m) => m.user) }, { total: 3, users: ["u1", "u2"] });
  } finally {
    for (const client of mine) client.close();
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

test("a presence listener's errors and the client's reports stay quiet in the normal case", async () => {
  const nora = newClient("nora", "Nora");
  const errors = recordErrors(nora);
  const presence = nora.presence("presence/posts/quiet-errors");
  presence.on("change", () => {});
  await presence.enter({});
  await presence.update({ a: 1 });
  await presence.close();
  await nora.ping();
  assert.deepEqual(errors, []);
});
