// Concord reference client for protocol v1 (see README.md beside this file).
//
// ES modules with no dependencies and no build step. They run in browsers and in Node >= 20 (global
// WebSocket, or pass `options.WebSocket`). This file is the entry and the whole public API (typed in
// concord.d.ts); it imports the rest from client/ beside it. The server serves this file at
// GET /v1/client.js and each module of client/ at GET /v1/client/NAME.js, so the relative imports
// below resolve there as they do on disk.
//
//   import { createClient, liveProvider } from "/v1/client.js";
//   const client = createClient("ws://localhost:7700/v1/ws");
//   <Refine liveProvider={liveProvider(client)} options={{ liveMode: "auto" }} />
//
// With authentication, pass `token`: a JWT string, or a function that returns one (or a Promise of
// one), called before every (re)connect and when the server warns that the token is expiring:
//
//   const client = createClient(url, { token: () => fetch("/api/concord-token").then((r) => r.text()) });
//
// Structure: ConcordClient (client/connection.js) owns the socket, the connection state, reconnects
// and request/reply correlation. What lives on top of a session is a "feature": channel
// subscriptions (client/subscriptions.js), presence (`client.presence(channel)`, client/presence.js),
// typing (`client.typing(channel)`, client/typing.js) and records under conflict detection
// (`client.record(channel, id)`, client/records.js). A feature is told when a session starts or ends
// and receives the server pushes of its ops; each one restores its state on the server after a
// reconnect by itself. The features import what they share (client/feature.js, client/errors.js),
// never the client, so the modules import one another without a cycle.

import { ConcordClient } from "./client/connection.js";

export const PROTOCOL_VERSION = 1;

export { ConcordError } from "./client/errors.js";
export { admits, buildUrl, toWireEvent, toLiveEvent } from "./client/wire.js";
export { backoffDelay } from "./client/backoff.js";
export { ConcordClient };
export { Subscription } from "./client/subscriptions.js";
export { Presence } from "./client/presence.js";
export { Typing } from "./client/typing.js";
export { descends, commitFields } from "./client/record-wire.js";
export { ConcordRecord } from "./client/records.js";
export { liveProvider } from "./client/refine.js";

/** Same as `new ConcordClient(url, options)`. */
export function createClient(url, options) {
  return new ConcordClient(url, options);
}
