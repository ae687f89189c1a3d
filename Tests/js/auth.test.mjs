// Authentication (issue #5): the client's `token` option and token refresh, first against a
// scripted socket, then against the real server with HS256 tokens minted here
// (/tmp/auth-spec.md: tokens, token expiry over an open connection, caps, close 4001).
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { createClient, ConcordError } from "../../protocol/concord.js";
import {
  FAST_RECONNECT,
  epochSeconds,
  mintToken,
  rawSocket,
  recordErrors,
  recordStates,
  sleep,
  startServer,
  trackedWebSocket,
  upgradeRequest,
  waitFor,
  writeTempFile,
} from "./helpers.mjs";
import { FakeSocket, fakeClient } from "./fake-socket.mjs";

const tokenOf = (socket) => new URL(socket.url).searchParams.get("token");
const codes = (errors) => errors.map((error) => error.code);

// --- the client, against a scripted socket ------------------------------------------------------

test("a string token goes into the URL next to params, and wins over params.token", () => {
  const { client, socket } = fakeClient({ token: "a.b.c", params: { name: "Al", token: "old" } });
  const url = new URL(socket().url);
  assert.equal(url.searchParams.get("token"), "a.b.c");
  assert.equal(url.searchParams.get("name"), "Al");
  client.close();
});

test("without a token the URL and the behaviour are as before", async () => {
  const { client, socket, errors } = fakeClient({ params: { user: "u" } });
  assert.equal(socket().url, "ws://fake/v1/ws?user=u");
  socket().welcome({ expiresAt: null });
  assert.equal(client.tokenExpiresAt, null);
  socket().push({ op: "token.expiring", expiresAt: Date.now() + 1000 });
  assert.equal(socket().sentOps("auth").length, 0, "nothing to refresh with");
  socket().drop(4001);
  await waitFor(() => FakeSocket.all.length === 2, 1_000, "the reconnect");
  assert.deepEqual(errors, [], "a token in params is renewed by the reconnect; nothing to report");
  client.close();
});

test("options.token must be a string or a function", () => {
  assert.throws(() => createClient("ws://fake/v1/ws", { WebSocket: FakeSocket, token: 42 }), TypeError);
  assert.throws(() => createClient("ws://fake/v1/ws", { WebSocket: FakeSocket, token: { t: 1 } }), TypeError);
});

test("a token function is called before every connect and reconnect", async () => {
  let calls = 0;
  const { client, socket } = fakeClient({ token: () => `t${++calls}` });
  assert.equal(calls, 1);
  assert.equal(tokenOf(socket()), "t1", "a function that returns a string opens the socket at once");
  socket().welcome();
  socket().drop(1006);
  await waitFor(() => FakeSocket.all.length === 2, 1_000, "the reconnect");
  assert.equal(calls, 2);
  assert.equal(tokenOf(socket()), "t2");
  client.close();
});

test("an async token function: the socket opens once the token is in", async () => {
  let release;
  const { client, socket } = fakeClient({ token: () => new Promise((resolve) => (release = resolve)) });
  assert.equal(client.state, "connecting");
  assert.equal(FakeSocket.all.length, 0, "no socket before the token");
  release("async.token");
  await waitFor(() => FakeSocket.all.length === 1, 1_000, "the socket");
  assert.equal(tokenOf(socket()), "async.token");
  socket().welcome({ expiresAt: 1_790_000_000_000 });
  assert.equal(client.state, "connected");
  assert.equal(client.tokenExpiresAt, 1_790_000_000_000);
  client.close();
});

test("close() while the token function is pending opens no socket", async () => {
  let release;
  const { client } = fakeClient({ token: () => new Promise((resolve) => (release = resolve)) });
  client.close();
  release("late");
  await sleep(20);
  assert.equal(FakeSocket.all.length, 0);
});

test("a token function that throws or rejects at connect time is reported, then retried with backoff", async () => {
  let calls = 0;
  const failures = [() => { throw new Error("no session"); }, () => Promise.reject(new Error("offline")), () => 17];
  const { client, socket, errors } = fakeClient({
    token: () => (calls < failures.length ? failures[calls++]() : (calls++, "good")),
  });
  const states = recordStates(client);
  await waitFor(() => FakeSocket.all.length === 1, 2_000, "the fourth attempt");
  assert.equal(calls, 4);
  assert.deepEqual(codes(errors), ["token_failed", "token_failed", "token_failed"]);
  assert.ok(errors.every((error) => error instanceof ConcordError));
  assert.equal(errors[0].cause.message, "no session");
  assert.equal(errors[1].cause.message, "offline");
  assert.match(errors[2].message, /number/);
  assert.ok(states.includes("disconnected"));
  assert.equal(tokenOf(socket()), "good");
  socket().welcome();
  assert.equal(client.state, "connected");
  client.close();
});

test("token.expiring: the function is called and the token goes out in an auth request", async () => {
  let calls = 0;
  const { client, socket, errors } = fakeClient({ token: async () => `t${++calls}` });
  await waitFor(() => FakeSocket.all.length === 1, 1_000, "the socket");
  socket().welcome({ user: "alice", expiresAt: 1000 });
  assert.equal(client.tokenExpiresAt, 1000);
  socket().push({ op: "token.expiring", expiresAt: 1000 });
  socket().push({ op: "token.expiring", expiresAt: 1000 }); // a refresh is under way: not twice
  const auth = await waitFor(() => socket().lastSent("auth"), 1_000, "the auth request");
  assert.equal(calls, 2);
  assert.equal(auth.token, "t2");
  assert.ok(auth.id !== undefined, "auth is a request, with an id");
  assert.equal(socket().sentOps("auth").length, 1);
  socket().answer("auth", { op: "authed", user: "alice", expiresAt: 5000 });
  assert.equal(client.tokenExpiresAt, 5000);
  assert.equal(client.state, "connected");
  assert.deepEqual(errors, []);
  // A later warning refreshes again.
  socket().push({ op: "token.expiring", expiresAt: 5000 });
  await waitFor(() => socket().sentOps("auth").length === 2, 1_000, "the second auth");
  assert.equal(socket().lastSent("auth").token, "t3");
  client.close();
});

test("a refused refresh is reported, not thrown, and keeps tokenExpiresAt", async () => {
  const { client, socket, errors } = fakeClient({ token: () => "t" });
  socket().welcome({ expiresAt: 1000 });
  socket().push({ op: "token.expiring", expiresAt: 1000 });
  await waitFor(() => socket().lastSent("auth"), 1_000, "the auth request");
  socket().answer("auth", { op: "error", code: "unauthorized", message: "token signature is invalid" });
  assert.deepEqual(codes(errors), ["unauthorized"]);
  assert.equal(client.tokenExpiresAt, 1000);
  assert.equal(client.state, "connected");
  client.close();
});

test("a token function failing at refresh is reported and sends no auth", async () => {
  let calls = 0;
  const { client, socket, errors } = fakeClient({
    token: () => {
      if (++calls === 1) return "first";
      if (calls === 2) throw new Error("sync failure");
      return Promise.reject(new Error("async failure"));
    },
  });
  socket().welcome({ expiresAt: 1000 });
  socket().push({ op: "token.expiring", expiresAt: 1000 });
  socket().push({ op: "token.expiring", expiresAt: 1000 });
  await waitFor(() => errors.length === 2, 1_000, "two reports");
  assert.deepEqual(codes(errors), ["token_failed", "token_failed"]);
  assert.deepEqual(errors.map((error) => error.cause.message), ["sync failure", "async failure"]);
  assert.equal(socket().sentOps("auth").length, 0);
  client.close();
});

test("with a string token, token.expiring is reported: there is nothing to refresh", () => {
  const { client, socket, errors } = fakeClient({ token: "fixed" });
  socket().welcome({ expiresAt: 1_790_000_000_000 });
  socket().push({ op: "token.expiring", expiresAt: 1_790_000_000_000 });
  assert.deepEqual(codes(errors), ["token_expiring"]);
  assert.ok(errors[0] instanceof ConcordError);
  assert.equal(socket().sentOps("auth").length, 0);
  client.close();
});

test("a refresh whose session ended is dropped: the reconnect has fetched a newer token", async () => {
  let calls = 0;
  let release;
  const { client, socket, errors } = fakeClient({
    token: () => (++calls === 2 ? new Promise((resolve) => (release = resolve)) : `t${calls}`),
  });
  socket().welcome({ expiresAt: 1000 });
  socket().push({ op: "token.expiring", expiresAt: 1000 });
  socket().drop(1006);
  await waitFor(() => FakeSocket.all.length === 2, 1_000, "the reconnect");
  assert.equal(tokenOf(socket()), "t3");
  socket().welcome({ expiresAt: 9000 });
  release("t2");
  await sleep(20);
  assert.equal(socket().sentOps("auth").length, 0);
  assert.equal(client.tokenExpiresAt, 9000);
  assert.deepEqual(errors, []);
  client.close();
});

test("close 4001 is reported as token_expired and reconnects with a fresh token", async () => {
  let calls = 0;
  const { client, socket, errors } = fakeClient({ token: () => `t${++calls}` });
  socket().welcome({ expiresAt: 1000 });
  const infos = [];
  client.on("state", (state, info) => infos.push([state, info?.code]));
  socket().drop(4001);
  assert.deepEqual(infos[0], ["disconnected", 4001]);
  assert.deepEqual(codes(errors), ["token_expired"]);
  await waitFor(() => FakeSocket.all.length === 2, 1_000, "the reconnect");
  assert.equal(tokenOf(socket()), "t2");
  socket().welcome({ expiresAt: 2000 });
  assert.equal(client.tokenExpiresAt, 2000);
  client.close();
});

// --- against the server ------------------------------------------------------------------------

const SECRET = `concord-test-${randomBytes(16).toString("hex")}`;
const NOTICE_MS = 1500;
// A token lasts an hour unless the test says otherwise.
const sign = (claims, options) => mintToken(SECRET, { exp: epochSeconds(3600), ...claims }, options);
const wsPath = (token) => `/v1/ws?token=${encodeURIComponent(token)}`;

/** A WebSocket class that remembers its sockets, to tell whether the client opened a new one. */
/** Records every state change with its close info and time. */
function recordStateInfo(client) {
  const events = [];
  client.on("state", (state, info) => events.push({ state, code: info?.code, reason: info?.reason, at: Date.now() }));
  return events;
}

describe("against a server with an HS256 secret", { concurrency: true }, () => {
  let server;
  let secretFile;
  const clients = [];
  const sockets = [];
  const connect = (options) => {
    const client = createClient(server.wsUrl, { reconnect: FAST_RECONNECT, ...options });
    clients.push(client);
    return client;
  };
  const raw = async (token) => {
    const socket = await rawSocket(`${server.wsUrl}?token=${encodeURIComponent(token)}`);
    sockets.push(socket);
    return socket;
  };

  before(async () => {
    secretFile = writeTempFile("jwt-secret", SECRET);
    // No clock-skew leeway here, so expiries fall when the tests say (the leeway has its own test).
    server = await startServer({ args: ["--jwt-secret-file", secretFile, "--token-notice", String(NOTICE_MS), "--jwt-leeway", "0"] });
  });
  after(async () => {
    for (const client of clients) client.close();
    for (const socket of sockets) socket.close();
    await server?.stop();
  });

  test("a valid token: welcome names its sub and gives its expiry", async () => {
    const exp = epochSeconds(3600);
    const client = connect({ token: sign({ sub: "alice", name: "Alice", exp }) });
    const errors = recordErrors(client);
    await waitFor(() => client.state === "connected", 3_000, "connected");
    assert.equal(client.welcome.user, "alice");
    assert.equal(client.welcome.expiresAt, exp * 1000);
    assert.equal(client.tokenExpiresAt, exp * 1000);
    await client.ping();
    assert.deepEqual(errors, []);
  });

  test("the token function is called before the connect and before every reconnect", async () => {
    const tokens = [];
    const tracked = trackedWebSocket();
    const client = connect({
      WebSocket: tracked.WebSocket,
      token: async () => {
        tokens.push(sign({ sub: "carol", jti: String(tokens.length) }));
        return tokens.at(-1);
      },
    });
    await waitFor(() => client.state === "connected", 3_000, "connected");
    assert.equal(tokens.length, 1);
    assert.equal(tokenOf(tracked.sockets[0]), tokens[0]);
    assert.equal(client.welcome.user, "carol");
    tracked.sockets[0].close(); // the connection ends for a reason of its own
    await waitFor(() => tracked.sockets.length === 2 && client.state === "connected", 3_000, "reconnected");
    assert.equal(tokens.length, 2);
    assert.equal(tokenOf(tracked.sockets[1]), tokens[1]);
  });

  test("token.expiring: the client refreshes and the same socket outlives the first token", async () => {
    const shortExp = epochSeconds(3); // 2 to 3 s from now; the notice comes 1.5 s before
    const longExp = epochSeconds(3600);
    let calls = 0;
    const tracked = trackedWebSocket();
    const client = connect({
      WebSocket: tracked.WebSocket,
      token: () => (++calls === 1 ? sign({ sub: "dave", exp: shortExp }) : sign({ sub: "dave", exp: longExp })),
    });
    const states = recordStates(client);
    const errors = recordErrors(client);
    await waitFor(() => client.state === "connected", 3_000, "connected");
    assert.equal(client.tokenExpiresAt, shortExp * 1000);
    await waitFor(() => client.tokenExpiresAt === longExp * 1000, 4_000, "the refresh");
    assert.equal(calls, 2, "called once to connect, once on token.expiring");
    assert.ok(Date.now() < shortExp * 1000, "refreshed before the first token expired");
    // Past the first token's expiry, the connection is still the same one.
    await sleep(shortExp * 1000 + 1_000 - Date.now());
    await client.ping();
    assert.equal(client.state, "connected");
    assert.deepEqual(states, ["connecting", "connected"], "never disconnected");
    assert.equal(tracked.sockets.length, 1, "the same socket");
    assert.equal(calls, 2);
    assert.deepEqual(errors, []);
  });

  test("a refresh with the same short token: closed with 4001 at expiry, then reconnects with a fresh token", async () => {
    const shortExp = epochSeconds(3);
    const short = sign({ sub: "erin", exp: shortExp });
    let token = short;
    let calls = 0;
    const client = connect({ token: () => (calls++, token) });
    const events = recordStateInfo(client);
    const errors = recordErrors(client);
    await waitFor(() => client.state === "connected", 3_000, "connected");
    const expired = await waitFor(() => events.find((e) => e.state === "disconnected"), 12_000, "the 4001 close");
    assert.equal(expired.code, 4001, `closed with ${expired.code} ${expired.reason}`);
    assert.equal(expired.reason, "token expired");
    assert.ok(expired.at >= shortExp * 1000 - 100, `closed ${shortExp * 1000 - expired.at} ms before the expiry`);
    assert.ok(calls >= 2, "the token function was asked on token.expiring");
    assert.ok(codes(errors).includes("token_expired"), `errors: ${codes(errors)}`);
    // It reconnects, asking the function again. The expired token gets no session: the upgrade is
    // refused (1006 in the client)...
    const before = calls;
    await waitFor(() => calls >= before + 2, 3_000, "reconnect attempts");
    const later = events.slice(events.indexOf(expired) + 1).filter((e) => e.state === "disconnected");
    assert.ok(later.length >= 1);
    assert.ok(later.every((e) => e.code === 4001 || e.code === 1006), `closes: ${JSON.stringify(later)}`);
    // ...until the function has a fresh token.
    token = sign({ sub: "erin" });
    await waitFor(() => client.state === "connected" && client.tokenExpiresAt > shortExp * 1000, 3_000, "reconnected");
    assert.equal(client.welcome.user, "erin");
    await sleep(200);
    assert.equal(client.state, "connected", "and stays");
    client.close();
  });

  test("a refresh that fails is reported; at expiry 4001, then a reconnect with a fresh token", async () => {
    const shortExp = epochSeconds(3);
    let calls = 0;
    const client = connect({
      token: async () => {
        calls += 1;
        if (calls === 1) return sign({ sub: "frank", exp: shortExp });
        if (calls === 2) throw new Error("the identity provider is down");
        return sign({ sub: "frank" });
      },
    });
    const events = recordStateInfo(client);
    const errors = recordErrors(client);
    await waitFor(() => client.state === "connected", 3_000, "connected");
    await waitFor(() => errors.length > 0, 4_000, "the failed refresh reported");
    assert.equal(errors[0].code, "token_failed");
    assert.equal(errors[0].cause.message, "the identity provider is down");
    const expired = await waitFor(() => events.find((e) => e.state === "disconnected"), 12_000, "the 4001 close");
    assert.equal(expired.code, 4001);
    assert.ok(codes(errors).includes("token_expired"));
    await waitFor(() => client.state === "connected", 3_000, "reconnected");
    assert.equal(calls, 3);
    assert.equal(client.welcome.user, "frank");
  });

  test("a refresh with a bad token is reported as unauthorized; the connection keeps its token", async () => {
    const shortExp = epochSeconds(3);
    let calls = 0;
    const client = connect({
      token: () => (++calls === 1 ? sign({ sub: "gina", exp: shortExp }) : mintToken("wrong secret", { sub: "gina", exp: epochSeconds(3600) })),
    });
    const errors = recordErrors(client);
    await waitFor(() => client.state === "connected", 3_000, "connected");
    await waitFor(() => errors.length > 0, 4_000, "the refused refresh reported");
    assert.equal(errors[0].code, "unauthorized");
    assert.equal(client.state, "connected");
    assert.equal(client.tokenExpiresAt, shortExp * 1000);
    await client.ping();
    client.close();
  });

  test("a token with less than the notice left gets token.expiring halfway through what is left, then close 4001 at expiry", async () => {
    // Connect when about 1300 ms remain: under the 1500 ms notice, with room for a slow upgrade.
    const exp = Math.ceil(Date.now() / 1000) + 1;
    await sleep(exp * 1000 - 1300 - Date.now());
    const socket = await raw(sign({ sub: "hank", exp }));
    // Arrival times, taken as the frames come in (a busy test process polls late, not the server).
    const arrivals = new Map();
    socket.ws.addEventListener("message", (event) => arrivals.set(JSON.parse(event.data).op, Date.now()));
    socket.ws.addEventListener("close", () => arrivals.set("close", Date.now()));
    await waitFor(() => socket.closed(), 5_000, "the close");
    assert.deepEqual(socket.closed(), { code: 4001, reason: "token expired" });
    assert.deepEqual(socket.frames.map((f) => f.op), ["welcome", "token.expiring"], "warned, then closed");
    const [welcome, expiring] = socket.frames;
    assert.equal(welcome.expiresAt, exp * 1000);
    assert.deepEqual(expiring, { op: "token.expiring", expiresAt: exp * 1000 });
    const gap = arrivals.get("token.expiring") - (arrivals.get("welcome") ?? arrivals.get("token.expiring"));
    // About 1300 ms were left at the upgrade: the notice comes halfway, about 650 ms later (never at
    // once, so a token shorter-lived than the notice cannot set off a stream of refreshes).
    assert.ok(gap >= 400 && gap < 1_100, `token.expiring ${gap} ms after welcome: not halfway`);
    assert.ok(arrivals.get("close") >= exp * 1000 - 50, `closed ${exp * 1000 - arrivals.get("close")} ms before the expiry`);
  });

  test("auth over a raw socket: authed, other sub forbidden, bad token unauthorized, caps replaced", async () => {
    const socket = await raw(sign({ sub: "ivy", caps: {} }));
    await socket.next((f) => f.op === "welcome", "welcome");
    socket.send({ op: "subscribe", id: 1, sub: "a", channel: "chat/room-1" });
    const refused = await socket.next((f) => f.id === 1, "reply 1");
    assert.equal(refused.op, "error");
    assert.equal(refused.code, "forbidden");

    const exp = epochSeconds(7200);
    socket.send({ op: "auth", id: 2, token: sign({ sub: "ivy", exp, caps: { "chat/*": ["subscribe"] } }) });
    const authed = await socket.next((f) => f.id === 2, "reply 2");
    assert.deepEqual(authed, { op: "authed", id: 2, user: "ivy", expiresAt: exp * 1000 });
    socket.send({ op: "subscribe", id: 3, sub: "a", channel: "chat/room-1" });
    assert.equal((await socket.next((f) => f.id === 3, "reply 3")).op, "subscribed", "the new token's caps apply");

    socket.send({ op: "auth", id: 4, token: sign({ sub: "mallory", caps: { "*": ["*"] } }) });
    const other = await socket.next((f) => f.id === 4, "reply 4");
    assert.equal(other.op, "error");
    assert.equal(other.code, "forbidden");

    socket.send({ op: "auth", id: 5, token: mintToken("wrong secret", { sub: "ivy", exp }) });
    const bad = await socket.next((f) => f.id === 5, "reply 5");
    assert.equal(bad.op, "error");
    assert.equal(bad.code, "unauthorized");

    socket.send({ op: "ping", id: 6 });
    assert.equal((await socket.next((f) => f.id === 6, "reply 6")).op, "pong", "still open");
  });

  test("subscribe needs the subscribe capability on the channel", async () => {
    const without = connect({ token: sign({ sub: "jack", caps: { "chat/*": ["publish", "presence"] } }) });
    const withoutErrors = recordErrors(without);
    const refused = without.subscribe({ channel: "chat/room-1", callback() {} });
    const error = await refused.ready.then(() => null, (e) => e);
    assert.ok(error instanceof ConcordError, `expected a refusal, got ${error}`);
    assert.equal(error.code, "forbidden");
    assert.equal(refused.status, "failed");
    assert.deepEqual(codes(withoutErrors), ["forbidden"]);

    const withCap = connect({ token: sign({ sub: "jack", caps: { "chat/*": ["subscribe"], "resources/posts": ["*"] } }) });
    const withErrors = recordErrors(withCap);
    const received = [];
    const allowed = withCap.subscribe({ channel: "chat/room-1", callback: (event) => received.push(event) });
    await allowed.ready;
    assert.equal(allowed.status, "active");
    await withCap.subscribe({ channel: "resources/posts", callback() {} }).ready; // "*": every capability
    const elsewhere = withCap.subscribe({ channel: "resources/users", callback() {} });
    assert.equal((await elsewhere.ready.then(() => null, (e) => e))?.code, "forbidden", "an exact pattern is exact");
    // Publishing on chat/* is granted to everyone by --client-publish (DEFAULT_ARGS).
    await withCap.publish({ channel: "chat/room-1", type: "message", payload: { text: "hi" } });
    await waitFor(() => received.length === 1, 3_000, "the event");
    assert.deepEqual(codes(withErrors), ["forbidden"]);
  });

  test("notifications/user/{id}: only that user, whatever the caps", async () => {
    const alice = connect({ token: sign({ sub: "alice", caps: { "*": ["*"] } }) });
    recordErrors(alice);
    const bobs = alice.subscribe({ channel: "notifications/user/bob", callback() {} });
    assert.equal((await bobs.ready.then(() => null, (e) => e))?.code, "forbidden");
    const own = connect({ token: sign({ sub: "alice", caps: {} }) });
    const info = await own.subscribe({ channel: "notifications/user/alice", callback() {} }).ready;
    assert.equal(info.channel, "notifications/user/alice");
  });

  test("a token with a bad signature is refused at the upgrade with 401 unauthorized", async () => {
    const forged = mintToken("not the secret", { sub: "alice", exp: epochSeconds(3600) });
    // A browser-like WebSocket only sees a failed connection.
    const ws = new WebSocket(`${server.wsUrl}?token=${forged}`);
    const outcome = await new Promise((resolve) => {
      ws.addEventListener("open", () => resolve("open"));
      ws.addEventListener("error", () => resolve("error"));
      ws.addEventListener("close", () => resolve("close"));
    });
    assert.notEqual(outcome, "open");
    ws.close();
    const answer = await upgradeRequest(server, wsPath(forged));
    assert.equal(answer.status, 401, answer.text);
    assert.equal(answer.body?.error?.code, "unauthorized", answer.text);
    assert.match(answer.body.error.message, /signature/);
  });

  test("the upgrade refuses a missing, expired, not-yet-valid, unsigned or malformed token", async () => {
    const cases = {
      missing: "/v1/ws",
      expired: wsPath(sign({ sub: "alice", exp: epochSeconds(-60) })),
      "not yet valid": wsPath(sign({ sub: "alice", nbf: epochSeconds(600) })),
      "without exp": wsPath(mintToken(SECRET, { sub: "alice" })),
      "alg none": wsPath(mintToken(SECRET, { sub: "alice", exp: epochSeconds(3600) }, { header: { alg: "none" }, signature: "" })),
      "sub starting with ~": wsPath(sign({ sub: "~root" })),
      malformed: wsPath("not-a-jwt"),
    };
    for (const [what, path] of Object.entries(cases)) {
      const answer = await upgradeRequest(server, path);
      assert.equal(answer.status, 401, `${what}: ${answer.status} ${answer.text}`);
      assert.equal(answer.body?.error?.code, "unauthorized", `${what}: ${answer.text}`);
    }
  });

  test("a token within the leeway (5 s by default) is accepted; a bearer header works for non-browsers", async () => {
    const lenientServer = await startServer({ args: ["--jwt-secret-file", secretFile] });
    try {
      const lenient = await upgradeRequest(lenientServer, wsPath(sign({ sub: "alice", exp: epochSeconds(-2) })));
      assert.equal(lenient.status, 101, lenient.text);
    } finally {
      await lenientServer.stop();
    }
    const strict = await upgradeRequest(server, wsPath(sign({ sub: "alice", exp: epochSeconds(-2) })));
    assert.equal(strict.status, 401, "no leeway with --jwt-leeway 0");
    const header = await upgradeRequest(server, "/v1/ws", { Authorization: `Bearer ${sign({ sub: "alice" })}` });
    assert.equal(header.status, 101, header.text);
  });
});

describe("against a server without a token key", () => {
  let server;
  let client;
  before(async () => {
    server = await startServer();
  });
  after(async () => {
    client?.close();
    await server?.stop();
  });

  test("anonymous and read-only as before: welcome.expiresAt and tokenExpiresAt are null", async () => {
    client = createClient(server.wsUrl, { reconnect: FAST_RECONNECT });
    await waitFor(() => client.state === "connected", 3_000, "connected");
    assert.equal(client.welcome.user, null);
    assert.ok("expiresAt" in client.welcome, `welcome has expiresAt: ${JSON.stringify(client.welcome)}`);
    assert.equal(client.welcome.expiresAt, null);
    assert.equal(client.tokenExpiresAt, null);
    await client.subscribe({ channel: "resources/posts", callback() {} }).ready; // --public-subscribe defaults to *
  });
});
