// Refine's call shapes through liveProvider(client), against the real server.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createClient, liveProvider } from "../../protocol/concord.js";
import { startServer, publishOk, waitFor, FAST_RECONNECT, recordErrors, sleep } from "./helpers.mjs";

let server;
const clients = [];

before(async () => {
  server = await startServer();
});

after(async () => {
  for (const client of clients) client.close();
  await server?.stop();
});

function newClient() {
  const client = createClient(server.wsUrl, { reconnect: FAST_RECONNECT });
  clients.push(client);
  return client;
}

test("useList and useOne on the same channel each get exactly what Refine's filter admits", async () => {
  const client = newClient();
  const provider = liveProvider(client);
  const list = [];
  const one = [];
  // Exactly what useResourceSubscription passes for useList and useOne on the "posts" resource.
  const listHandle = provider.subscribe({
    channel: "resources/posts",
    types: ["*"],
    params: {
      resource: "posts",
      pagination: { current: 1, pageSize: 10, mode: "server" },
      sorters: [{ field: "id", order: "desc" }],
      filters: [],
      meta: {},
      subscriptionType: "useList",
    },
    callback: (event) => list.push(event),
    meta: { dataProviderName: "default" },
    dataProviderName: "default",
  });
  const oneHandle = provider.subscribe({
    channel: "resources/posts",
    types: ["*"],
    params: { ids: [1], id: 1, meta: {}, subscriptionType: "useOne" },
    callback: (event) => one.push(event),
    meta: { dataProviderName: "default" },
  });
  await Promise.all([listHandle.ready, oneHandle.ready]);

  // The backend publishes over HTTP, one request per change.
  const date = "2026-11-22T10:00:00.000Z";
  await publishOk(server, { channel: "resources/posts", type: "created", payload: { ids: [3] }, date });
  await publishOk(server, { channel: "resources/posts", type: "updated", payload: { ids: [1] }, date, meta: { by: "backend" } });
  await publishOk(server, { channel: "resources/posts", type: "updated", payload: { ids: [2] }, date });
  await publishOk(server, { channel: "resources/posts", type: "deleted", payload: { ids: [1] }, date });

  // Events arrive in offset order and `deleted [1]` is last for both, so once the list has all
  // four, the detail subscription has had every chance to receive its three.
  await waitFor(() => list.length === 4, 3000, "four list events");
  assert.deepEqual(list.map((e) => [e.type, e.payload.ids]), [["created", [3]], ["updated", [1]], ["updated", [2]], ["deleted", [1]]]);
  assert.deepEqual(one.map((e) => [e.type, e.payload.ids]), [["created", [3]], ["updated", [1]], ["deleted", [1]]]);
  for (const event of [...list, ...one]) {
    assert.ok(event.date instanceof Date, "date is a Date");
    assert.equal(event.date.toISOString(), date);
    assert.equal(event.channel, "resources/posts");
  }
  assert.deepEqual(list[1].meta, { by: "backend" });

  provider.unsubscribe(listHandle);
  provider.unsubscribe(oneHandle);
});

test("numeric and string ids compare equal, on the server and in the client", async () => {
  const client = newClient();
  const byNumber = [];
  const byString = [];
  const sentinel = [];
  const a = client.subscribe({ channel: "resources/ids", params: { ids: [1] }, callback: (e) => byNumber.push(e) });
  const b = client.subscribe({ channel: "resources/ids", params: { ids: ["2"] }, callback: (e) => byString.push(e) });
  const c = client.subscribe({ channel: "resources/ids", types: ["done"], callback: (e) => sentinel.push(e) });
  await Promise.all([a.ready, b.ready, c.ready]);

  await publishOk(server, [
    { channel: "resources/ids", type: "updated", payload: { ids: ["1"] } },
    { channel: "resources/ids", type: "updated", payload: { ids: [2] } },
    { channel: "resources/ids", type: "updated", payload: { ids: [3, "4"] } },
    { channel: "resources/ids", type: "deleted", payload: { ids: [5, 1] } },
    { channel: "resources/ids", type: "done", payload: {} },
  ]);
  await waitFor(() => sentinel.length === 1, 3000, "the sentinel event");
  // "done" names no ids, so every subscription whose types admit it gets it (Refine's filter).
  assert.deepEqual(byNumber.map((e) => [e.type, e.payload.ids]), [["updated", ["1"]], ["deleted", [5, 1]], ["done", undefined]]);
  assert.deepEqual(byString.map((e) => [e.type, e.payload.ids]), [["updated", [2]], ["done", undefined]]);
});

test("custom types filter events", async () => {
  const client = newClient();
  const messages = [];
  const edits = [];
  const everything = [];
  const handles = [
    client.subscribe({ channel: "chat/room-1", types: ["message"], callback: (e) => messages.push(e) }),
    client.subscribe({ channel: "chat/room-1", types: ["updated", "deleted"], callback: (e) => edits.push(e) }),
    client.subscribe({ channel: "chat/room-1", callback: (e) => everything.push(e) }),
  ];
  await Promise.all(handles.map((h) => h.ready));
  for (const type of ["typing", "message", "updated", "message", "deleted", "created"]) {
    await publishOk(server, { channel: "chat/room-1", type, payload: { text: type } });
  }
  await waitFor(() => everything.length === 6, 3000, "all six events");
  assert.deepEqual(messages.map((e) => e.type), ["message", "message"]);
  assert.deepEqual(edits.map((e) => e.type), ["updated", "deleted"]);
  assert.deepEqual(everything.map((e) => e.payload.text), ["typing", "message", "updated", "message", "deleted", "created"]);
});

test("a mutation hook's publish reaches another client", async () => {
  const publisher = newClient();
  const subscriber = newClient();
  const received = [];
  const handle = liveProvider(subscriber).subscribe({
    channel: "resources/posts",
    types: ["*"],
    params: { ids: [7], id: 7, subscriptionType: "useOne" },
    callback: (event) => received.push(event),
  });
  await handle.ready;

  // What useUpdate publishes in onSuccess.
  const date = new Date();
  const result = liveProvider(publisher).publish({
    channel: "resources/posts",
    type: "updated",
    payload: { ids: [7] },
    date,
    meta: { dataProviderName: "default" },
  });
  assert.equal(result, undefined, "LiveProvider.publish returns nothing");
  await waitFor(() => received.length === 1, 3000, "the published event");
  const [event] = received;
  assert.equal(event.type, "updated");
  assert.deepEqual(event.payload, { ids: [7] });
  assert.deepEqual(event.meta, { dataProviderName: "default" });
  assert.ok(event.date instanceof Date);
  assert.equal(event.date.getTime(), date.getTime());

  // client.publish resolves with the offset; the next event on the channel gets a higher one.
  const first = await publisher.publish({ channel: "resources/posts", type: "updated", payload: { ids: [8] }, date: new Date() });
  const second = await publisher.publish({ channel: "resources/posts", type: "updated", payload: { ids: [8] } });
  assert.equal(first.channel, "resources/posts");
  assert.equal(typeof first.offset, "number");
  assert.equal(second.offset, first.offset + 1);
  await sleep(30);
  assert.equal(received.length, 1, "ids [8] is not for the useOne of 7");
});

test("publishing where the server forbids it: liveProvider.publish does not throw, client.publish rejects with forbidden", async () => {
  const client = newClient();
  const errors = recordErrors(client);
  const unhandled = [];
  const onUnhandled = (reason) => unhandled.push(reason);
  process.on("unhandledRejection", onUnhandled);
  try {
    const provider = liveProvider(client);
    assert.doesNotThrow(() =>
      provider.publish({ channel: "secret/x", type: "created", payload: { ids: [1] }, date: new Date(), meta: { dataProviderName: "default" } }),
    );
    await waitFor(() => errors.length === 1, 3000, "the refusal reported to error listeners");
    assert.equal(errors[0].code, "forbidden");

    await assert.rejects(
      client.publish({ channel: "secret/x", type: "created", payload: { ids: [1] }, date: new Date() }),
      (error) => error instanceof Error && error.code === "forbidden" && typeof error.message === "string",
    );
    assert.equal(errors.length, 1, "a rejected client.publish is not also reported");
    await sleep(20);
    assert.deepEqual(unhandled, []);
    assert.equal(client.state, "connected", "a refused publish keeps the connection");
  } finally {
    process.off("unhandledRejection", onUnhandled);
  }
});
