// The wire protocol seen through raw WebSockets and HTTP, against the real server: the frames and
// errors of protocol/README.md, delivery once per connection, and GET /v1/client.js.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { request as httpRequest } from "node:http";
import { readdir, readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { createClient } from "../../protocol/concord.js";
import { startServer, httpPublish, publishOk, rawSocket, waitFor, clientModulePath, repoRoot, FAST_RECONNECT } from "./helpers.mjs";

let server;
const sockets = [];

before(async () => {
  server = await startServer();
});

after(async () => {
  for (const socket of sockets) socket.close();
  await server?.stop();
});

async function open() {
  const socket = await rawSocket(server.wsUrl);
  sockets.push(socket);
  await socket.next((f) => f.op === "welcome", "welcome");
  return socket;
}

test("GET /v1/client.js serves protocol/concord.js byte for byte", async () => {
  const response = await fetch(`${server.httpUrl}/v1/client.js`);
  assert.equal(response.status, 200);
  assert.match(response.headers.get("content-type") ?? "", /^text\/javascript/);
  const served = Buffer.from(await response.arrayBuffer());
  const source = await readFile(clientModulePath);
  assert.ok(served.equals(source), `served ${served.length} bytes, protocol/concord.js has ${source.length}`);
});

const clientModulesDir = resolve(repoRoot, "Sources/ConcordServer/Resources/client");

/** The specifiers of a module's static imports and re-exports (`import ... from "x"`, `import "x"`,
 *  `export ... from "x"`), statements only: comments and strings that merely mention one are skipped. */
function importSpecifiers(source) {
  const statements = /^(?:import\s*["']([^"']+)["']|(?:import|export)\b[^;]*?\bfrom\s*["']([^"']+)["'])/gm;
  return [...source.matchAll(statements)].map((match) => match[1] ?? match[2]);
}

test("GET /v1/client.js imports its modules by relative URL from /v1/client/: each served byte for byte, no cycle", async () => {
  const entry = `${server.httpUrl}/v1/client.js`;
  const imports = new Map(); // module URL -> the URLs it imports
  const queue = [entry];
  while (queue.length > 0) {
    const url = queue.shift();
    if (imports.has(url)) continue;
    const response = await fetch(url);
    assert.equal(response.status, 200, url);
    assert.equal(response.headers.get("content-type"), "text/javascript; charset=utf-8", url);
    assert.equal(response.headers.get("access-control-allow-origin"), "*", url);
    const served = Buffer.from(await response.arrayBuffer());
    if (url !== entry) {
      const { pathname } = new URL(url);
      assert.match(pathname, /^\/v1\/client\/[\w-]+\.js$/, `${url} is a module of client/`);
      const file = resolve(clientModulesDir, pathname.slice("/v1/client/".length));
      const source = await readFile(file);
      assert.ok(served.equals(source), `${pathname}: served ${served.length} bytes, ${file} has ${source.length}`);
    }
    const specifiers = importSpecifiers(served.toString("utf8"));
    for (const specifier of specifiers) {
      assert.match(specifier, /^\.\.?\//, `${url} imports ${specifier}: only relative URLs load without a bundler`);
    }
    const targets = specifiers.map((specifier) => new URL(specifier, url).href);
    imports.set(url, targets);
    queue.push(...targets);
  }
  assert.ok(imports.get(entry).length > 0, "the entry imports its modules");

  const reached = [...imports.keys()].filter((url) => url !== entry).map((url) => new URL(url).pathname.slice("/v1/client/".length));
  const files = (await readdir(clientModulesDir)).filter((name) => name.endsWith(".js"));
  assert.deepEqual(reached.sort(), files.sort(), "every module of client/ is reached from the entry, and nothing else");

  // A module graph without cycles evaluates in one obvious order in every loader.
  const state = new Map(); // url -> "visiting" | "done"
  const visit = (url, path) => {
    if (state.get(url) === "done") return;
    assert.notEqual(state.get(url), "visiting", `import cycle: ${[...path, url].map((u) => new URL(u).pathname).join(" -> ")}`);
    state.set(url, "visiting");
    for (const target of imports.get(url)) visit(target, [...path, url]);
    state.set(url, "done");
  };
  visit(entry, []);
});

/** GET with the path sent exactly as written (fetch would resolve `..` and `%2e%2e` first). */
function rawRequest(method, path) {
  return new Promise((done, fail) => {
    const request = httpRequest({ host: "127.0.0.1", port: server.port, method, path }, (response) => {
      const chunks = [];
      response.on("data", (chunk) => chunks.push(chunk));
      response.on("end", () => done({ status: response.statusCode, headers: response.headers, body: Buffer.concat(chunks).toString("utf8") }));
      response.on("error", fail);
    });
    request.on("error", fail);
    request.end();
  });
}

test("GET /v1/client/NAME.js: 404 for a name that is not a module and for any path out of client/", async () => {
  const paths = [
    "/v1/client/nope.js",
    "/v1/client/",
    "/v1/client/errors",
    "/v1/client/../client.js",
    "/v1/client/../../Package.swift",
    "/v1/client/..%2Fconcord.js",
    "/v1/client/%2e%2e/client.js",
    "/v1/client/./errors.js",
    "/v1/client/client/errors.js",
    "/v1/client/errors.js/",
  ];
  for (const path of paths) {
    const response = await rawRequest("GET", path);
    assert.equal(response.status, 404, path);
    assert.equal(JSON.parse(response.body).error.code, "not_found", path);
  }
  const wrongMethod = await rawRequest("DELETE", "/v1/client/errors.js");
  assert.equal(wrongMethod.status, 405);
  assert.equal(wrongMethod.headers.allow, "GET");
});

test("welcome comes first, with version, epoch, session, user and limits", async () => {
  const socket = await rawSocket(server.wsUrl);
  sockets.push(socket);
  const welcome = await socket.next((f) => f.op === "welcome", "welcome");
  assert.equal(socket.frames[0], welcome, "welcome is the first frame");
  assert.equal(welcome.v, 1);
  assert.equal(typeof welcome.epoch, "string");
  assert.equal(typeof welcome.session, "string");
  assert.equal(welcome.user, null);
  assert.equal(typeof welcome.limits.maxMessageBytes, "number");
  assert.equal(typeof welcome.limits.maxSubscriptions, "number");
});

test("error frames: invalid_channel, invalid_frame, unknown_op, invalid_json, duplicate and unknown subscriptions", async () => {
  const socket = await open();
  const reply = (id) => socket.next((f) => f.id === id, `reply ${id}`);

  socket.send({ op: "subscribe", id: 1, sub: "s1", channel: "bad*name" });
  assert.deepEqual(pick(await reply(1), "op", "id", "code"), { op: "error", id: 1, code: "invalid_channel" });

  socket.send({ op: "subscribe", id: 2, sub: "s2", channel: "" });
  assert.equal((await reply(2)).code, "invalid_channel");

  socket.send({ op: "subscribe", id: 3, sub: "s3" });
  assert.equal((await reply(3)).code, "invalid_frame");

  socket.send({ op: "subscrib", id: 4 });
  assert.equal((await reply(4)).code, "unknown_op");

  socket.send({ op: "subscribe", id: 5, sub: "s5", channel: "resources/x" });
  assert.equal((await reply(5)).op, "subscribed");
  socket.send({ op: "subscribe", id: 6, sub: "s5", channel: "resources/y" });
  assert.equal((await reply(6)).code, "duplicate_subscription");

  socket.send({ op: "unsubscribe", id: 7, sub: "s9" });
  assert.equal((await reply(7)).code, "unknown_subscription");

  socket.send("{not json");
  const invalidJson = await socket.next((f) => f.op === "error" && f.code === "invalid_json", "invalid_json");
  assert.equal(invalidJson.id, undefined, "no id without a command id");
  for (const frame of socket.frames.filter((f) => f.op === "error")) assert.equal(typeof frame.message, "string");
  assert.equal(socket.closed(), null, "errors do not close the connection");
});

test("subscribe, ping, unsubscribe and publish replies", async () => {
  const socket = await open();
  const reply = (id) => socket.next((f) => f.id === id, `reply ${id}`);

  socket.send({ op: "subscribe", id: "a", sub: "s1", channel: "chat/replies", types: ["*"], params: { ids: [1, "2"] } });
  const subscribed = await reply("a");
  assert.equal(subscribed.op, "subscribed");
  assert.equal(subscribed.sub, "s1");
  assert.equal(subscribed.channel, "chat/replies");
  assert.equal(typeof subscribed.offset, "number");
  assert.equal(typeof subscribed.epoch, "string");

  socket.send({ op: "ping", id: 2 });
  assert.deepEqual(pick(await reply(2), "op", "id"), { op: "pong", id: 2 });

  socket.send({ op: "publish", id: 3, event: { channel: "chat/replies", type: "message", payload: { ids: [2], text: "hi" } } });
  const published = await reply(3);
  assert.deepEqual(pick(published, "op", "id", "channel"), { op: "published", id: 3, channel: "chat/replies" });
  assert.equal(published.offset, subscribed.offset + 1);
  const event = await socket.next((f) => f.op === "event", "the publisher's own event");
  assert.equal(event.channel, "chat/replies");
  assert.equal(event.offset, published.offset);
  assert.equal(event.event.type, "message");
  assert.equal(typeof event.event.date, "string", "the server fills in the date");
  assert.ok(!Number.isNaN(Date.parse(event.event.date)));

  socket.send({ op: "publish", id: 4, event: { channel: "secret/x", type: "message", payload: {} } });
  assert.equal((await reply(4)).code, "forbidden");
  socket.send({ op: "publish", id: 5, event: { channel: "chat/replies", payload: {} } });
  assert.equal((await reply(5)).code, "invalid_event");

  socket.send({ op: "unsubscribe", id: 6, sub: "s1" });
  assert.deepEqual(pick(await reply(6), "op", "id", "sub"), { op: "unsubscribed", id: 6, sub: "s1" });
});

test("an event is delivered once per connection, and the server filters by ids", async () => {
  const socket = await open();
  socket.send({ op: "subscribe", id: 1, sub: "list", channel: "resources/once", types: ["*"] });
  socket.send({ op: "subscribe", id: 2, sub: "one", channel: "resources/once", types: ["*"], params: { ids: [1] } });
  socket.send({ op: "subscribe", id: 3, sub: "five", channel: "resources/filtered", types: ["*"], params: { ids: ["5"] } });
  await socket.next((f) => f.id === 3, "the third subscribe reply");

  await publishOk(server, { channel: "resources/once", type: "updated", payload: { ids: [1] } });
  await publishOk(server, { channel: "resources/filtered", type: "updated", payload: { ids: [6] } });
  await publishOk(server, { channel: "resources/filtered", type: "updated", payload: { ids: [5] } });
  await socket.next((f) => f.op === "event" && f.channel === "resources/filtered", "the filtered event");
  const events = socket.frames.filter((f) => f.op === "event");
  assert.deepEqual(events.map((f) => [f.channel, f.event.payload.ids]), [["resources/once", [1]], ["resources/filtered", [5]]]);
});

test("HTTP publish: batches are ordered; bad keys and bad events are refused", async () => {
  const batch = await publishOk(server, { events: [
    { channel: "resources/http", type: "created", payload: { ids: [1] } },
    { channel: "resources/http", type: "updated", payload: { ids: [1] } },
  ] });
  assert.equal(batch.results.length, 2);
  assert.equal(batch.results[1].offset, batch.results[0].offset + 1);

  const noKey = await httpPublish(server, { channel: "resources/http", type: "x" }, { apiKey: null });
  assert.equal(noKey.status, 401);
  assert.equal(noKey.body.error.code, "unauthorized");
  const badEvent = await httpPublish(server, [{ channel: "resources/http", type: "x" }, { channel: "resources/http" }]);
  assert.equal(badEvent.status, 400);
  assert.equal(badEvent.body.error.code, "invalid_event");
  const badChannel = await httpPublish(server, { channel: "a*b", type: "x" });
  assert.equal(badChannel.status, 400);
  assert.equal(badChannel.body.error.code, "invalid_channel");
});

test("commands without an id get replies and errors without one", async () => {
  const socket = await open();
  socket.send({ op: "ping" });
  socket.send({ op: "subscribe", sub: "x", channel: "bad*" });
  const pong = await socket.next((f) => f.op === "pong", "pong");
  const error = await socket.next((f) => f.op === "error", "error");
  assert.equal("id" in pong, false);
  assert.equal("id" in error, false);
  assert.equal(error.code, "invalid_channel");
});

test("close codes: 1008 for a binary message, 1009 for a message over maxMessageBytes", async () => {
  const binary = await open();
  binary.ws.send(new Uint8Array([1, 2, 3]));
  const binaryClose = await waitFor(() => binary.closed(), 3000, "close after a binary message");
  assert.equal(binaryClose.code, 1008);

  const big = await open();
  const limit = big.frames[0].limits.maxMessageBytes;
  big.send({ op: "ping", pad: "x".repeat(limit) });
  const bigClose = await waitFor(() => big.closed(), 3000, "close after an oversized message");
  assert.equal(bigClose.code, 1009);
});

test("HTTP errors have the documented status and body", async () => {
  const cases = [
    ["GET", "/v1/publish", {}, undefined, 405, "method_not_allowed"],
    ["GET", "/v1/nope", {}, undefined, 404, "not_found"],
    ["POST", "/v1/publish", { "Content-Type": "text/plain", Authorization: "Bearer test-key" }, "{}", 415, "unsupported_media_type"],
    ["POST", "/v1/publish", { "Content-Type": "application/json", Authorization: "Bearer wrong" }, "{}", 401, "unauthorized"],
    ["POST", "/v1/publish", { "Content-Type": "application/json", Authorization: "Bearer test-key" }, "{nope", 400, "invalid_json"],
    ["GET", "/v1/ws", {}, undefined, 400, "bad_request"],
  ];
  for (const [method, path, headers, body, status, code] of cases) {
    const response = await fetch(`${server.httpUrl}${path}`, { method, headers, body });
    assert.equal(response.status, status, `${method} ${path}`);
    assert.match(response.headers.get("content-type") ?? "", /^application\/json/);
    const json = await response.json();
    assert.equal(json.error.code, code, `${method} ${path}`);
    assert.equal(typeof json.error.message, "string");
  }
  const health = await (await fetch(`${server.httpUrl}/healthz`)).json();
  assert.equal(health.status, "ok");
  assert.equal(typeof health.epoch, "string");
});

test("dev mode: params {user} names the user in welcome", async () => {
  const dev = await startServer({ args: ["--dev"] });
  const client = createClient(dev.wsUrl, { reconnect: FAST_RECONNECT, params: { user: "alice" } });
  try {
    await waitFor(() => client.state === "connected", 3000, "connected");
    assert.equal(client.welcome.user, "alice");
  } finally {
    client.close();
    await dev.stop();
  }
});

function pick(object, ...keys) {
  return Object.fromEntries(keys.filter((k) => k in object).map((k) => [k, object[k]]));
}
