// Concord reference client for protocol v1 (see README.md beside this file).
//
// An ES module with no dependencies. It runs in browsers and in Node >= 20 (global WebSocket, or
// pass `options.WebSocket`). The server serves this same file at GET /v1/client.js.
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
// Structure: ConcordClient owns the socket, the connection state, reconnects and request/reply
// correlation. What lives on top of a session is a "feature": channel subscriptions, presence
// (`client.presence(channel)`), typing (`client.typing(channel)`) and records under conflict
// detection (`client.record(channel, id)`). A feature is told when a session starts or ends and
// receives the server pushes of its ops; each one restores its state on the server after a
// reconnect by itself.

export const PROTOCOL_VERSION = 1;

const DEFAULT_RECONNECT = Object.freeze({ initialDelayMs: 250, maxDelayMs: 10_000, factor: 2, jitter: 0.5 });
const DEFAULT_HEARTBEAT = Object.freeze({ intervalMs: 25_000, timeoutMs: 10_000 });
const DEFAULT_REQUEST_TIMEOUT_MS = 10_000;

// Server limits on one subscribe frame (README, "Limits"). Past them the client asks the server for
// more (every id, every type) instead of being refused, and its own filter narrows it down.
const MAX_SERVER_IDS = 1000;
const MAX_SERVER_TYPES = 64;

// Errors that only mean "the session ended"; whatever was in flight is redone on the next session.
const SESSION_ENDED = new Set(["disconnected", "closed"]);

// The server closes with this code when the token expired without a refresh (README, "Close codes").
const CLOSE_TOKEN_EXPIRED = 4001;

// Lets liveProvider() report through a client without making reporting public API.
const REPORT = Symbol("concord.report");

/** An error with a machine-readable `code`: a server code (README, "Error codes") or a client one
 *  (`disconnected`, `closed`, `timeout`, `payload_too_large`, `invalid_event`, `token_failed`,
 *  `token_expiring`, `token_expired`). */
export class ConcordError extends Error {
  constructor(code, message, frame) {
    super(message || code);
    this.name = "ConcordError";
    this.code = code;
    if (frame !== undefined) this.frame = frame;
  }
}

// ---------------------------------------------------------------------------------------------
// Pure helpers (exported so they can be tested without a server)

/**
 * Refine's subscription filter, exactly as the server applies it (README, "Subscription"):
 * the type must be wanted; then `created` always passes, and otherwise the event passes unless both
 * the subscription and the event name ids and the two lists share none (compared as strings).
 */
export function admits(subscription, event) {
  const types = subscription.types ?? ["*"];
  if (!types.includes("*") && !types.includes(event.type)) return false;
  if (event.type === "created") return true;
  const wanted = idsOf(subscription.params);
  const carried = idsOf(event.payload);
  if (wanted === undefined || carried === undefined) return true;
  const wantedSet = new Set(wanted.map(String));
  return carried.some((id) => wantedSet.has(String(id)));
}

// `ids` when it is a list; anything else (missing, null, a lone value) means "no ids".
function idsOf(holder) {
  const ids = holder == null ? undefined : holder.ids;
  return Array.isArray(ids) ? ids : undefined;
}

/**
 * Delay before reconnect attempt number `attempt` (0 = first retry): exponential growth capped at
 * maxDelayMs, then `jitter` of it taken away at random (1 = full jitter, 0 = none), so that
 * thousands of browsers dropped by one server restart do not come back in lockstep.
 */
export function backoffDelay(attempt, reconnect = {}, random = Math.random) {
  const { initialDelayMs, maxDelayMs, factor, jitter } = { ...DEFAULT_RECONNECT, ...reconnect };
  const base = Math.min(maxDelayMs, initialDelayMs * Math.pow(factor, attempt));
  const spread = Math.min(1, Math.max(0, jitter));
  return Math.max(0, Math.round(base * (1 - spread * random())));
}

/**
 * The WebSocket URL for `url` plus query `params`: http(s) becomes ws(s), and a URL with no path
 * gets `/v1/ws`. Relative URLs resolve against the page in a browser.
 */
export function buildUrl(url, params) {
  const page = typeof globalThis.location?.href === "string" ? globalThis.location.href : undefined;
  const u = new URL(String(url), page);
  if (u.protocol === "http:") u.protocol = "ws:";
  else if (u.protocol === "https:") u.protocol = "wss:";
  if (u.pathname === "" || u.pathname === "/") u.pathname = "/v1/ws";
  for (const [key, value] of Object.entries(params ?? {})) {
    if (value !== undefined && value !== null) u.searchParams.set(key, String(value));
  }
  return u.toString();
}

/** The wire form of a LiveEvent for `publish`: Date becomes ISO 8601; a missing date is left for
 *  the server to fill in. Throws ConcordError("invalid_event") on what is not a LiveEvent. */
export function toWireEvent(event) {
  if (event === null || typeof event !== "object") {
    throw new ConcordError("invalid_event", "publish needs a LiveEvent object");
  }
  if (typeof event.channel !== "string") throw new ConcordError("invalid_event", 'event needs "channel" as a string');
  if (typeof event.type !== "string" || event.type === "") {
    throw new ConcordError("invalid_event", 'event needs "type" as a non-empty string');
  }
  const wire = { channel: event.channel, type: event.type, payload: event.payload ?? {} };
  const date = isoDate(event.date);
  if (date !== undefined) wire.date = date;
  if (event.meta !== undefined) wire.meta = event.meta;
  return wire;
}

function isoDate(date) {
  if (date === undefined || date === null) return undefined;
  if (date instanceof Date) return Number.isNaN(date.getTime()) ? undefined : date.toISOString();
  if (typeof date === "number") return isoDate(new Date(date));
  return String(date);
}

/** A received wire event as Refine's LiveEvent: `date` becomes a Date, `payload` is always an object. */
export function toLiveEvent(wire, channel) {
  const date = wire.date === undefined || wire.date === null ? new Date() : new Date(wire.date);
  return { ...wire, channel: wire.channel ?? channel, payload: wire.payload ?? {}, date };
}

// ---------------------------------------------------------------------------------------------
// The client

export class ConcordClient {
  #url;
  #options;
  #WebSocket;
  #token; // options.token: a string, a function returning one (or a Promise of one), or undefined
  #reconnect; // backoff options, or false for no reconnect
  #heartbeat; // {intervalMs, timeoutMs}, or false
  #requestTimeoutMs;

  #state = "connecting";
  #closed = false;
  #listeners = new Map(); // event name -> Set of functions
  #conn = null; // the current socket: {ws, detach}
  #generation = 0; // counts sessions (welcomes); marks what was sent on which session
  #attempt = 0; // failed attempts since the last welcome, for backoff
  #reconnectTimer = null;
  #heartbeatTimer = null;
  #removeOnlineListener = null;
  #tokenExpiresAt = null; // ms since the epoch, from welcome.expiresAt, then authed.expiresAt
  #refreshingIn = 0; // the session whose token refresh (token function, then auth) is under way, or 0

  #nextId = 1;
  #pending = new Map(); // request id -> entry, for requests on the wire
  #queue = []; // requests waiting for a session

  #features = [];
  #routes = new Map(); // push op -> feature
  #subscriptions;
  #presence;
  #typing;
  #records;

  /** The last `welcome` frame ({epoch, session, user, limits}), or null before the first one. */
  welcome = null;

  constructor(url, options = {}) {
    this.#url = url;
    this.#options = options;
    this.#WebSocket = options.WebSocket ?? globalThis.WebSocket;
    if (typeof this.#WebSocket !== "function") {
      throw new TypeError("no WebSocket implementation: pass options.WebSocket (Node < 22 needs --experimental-websocket)");
    }
    buildUrl(url); // fail now on a malformed URL rather than on every reconnect
    if (options.token !== undefined && typeof options.token !== "string" && typeof options.token !== "function") {
      throw new TypeError("token must be a string or a function returning one (or a Promise of one)");
    }
    this.#token = options.token;
    this.#reconnect = options.reconnect === false ? false : { ...DEFAULT_RECONNECT, ...options.reconnect };
    this.#heartbeat = options.heartbeat === false ? false : { ...DEFAULT_HEARTBEAT, ...options.heartbeat };
    this.#requestTimeoutMs = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;

    this.#subscriptions = this.#addFeature(new Subscriptions(this.#featureContext()));
    this.#presence = this.#addFeature(new PresenceFeature(this.#featureContext()));
    this.#typing = this.#addFeature(new TypingFeature(this.#featureContext()));
    this.#records = this.#addFeature(new RecordFeature(this.#featureContext()));
    this.#watchNetwork();
    this.#connect();
  }

  /** "connecting" | "connected" | "disconnected". */
  get state() {
    return this.#state;
  }

  /** True once close() was called. */
  get closed() {
    return this.#closed;
  }

  /** When the session's token expires (ms since the epoch): `welcome.expiresAt`, then the
   *  `expiresAt` of each refresh the server accepted. Null without a token or before the first welcome. */
  get tokenExpiresAt() {
    return this.#tokenExpiresAt;
  }

  /**
   * Listens to "state" (state, {code, reason}?) or "error" (ConcordError). Returns a function that
   * removes the listener.
   */
  on(event, listener) {
    if (typeof listener !== "function") throw new TypeError("listener must be a function");
    let set = this.#listeners.get(event);
    if (!set) this.#listeners.set(event, (set = new Set()));
    set.add(listener);
    return () => set.delete(listener);
  }

  /**
   * Subscribes to a channel. Returns the handle at once (Refine never awaits); the subscribe frame
   * goes out when a session is up, and again after every reconnect.
   */
  subscribe(options) {
    return this.#subscriptions.add(options);
  }

  /** Ends a subscription. Idempotent; accepts anything (Refine may pass what subscribe returned). */
  unsubscribe(handle) {
    this.#subscriptions.remove(handle);
  }

  /**
   * The presence of `channel` (README, "Presence"): enter(), update() and leave() make this client
   * present; members(), on("change") and subscribe() watch who is. One object per channel: a
   * second call returns the same object until its close().
   */
  presence(channel) {
    return this.#presence.get(channel);
  }

  /**
   * Typing signals on `channel`, for one `scope` (a field, a thread) or none (README, "Typing"):
   * start() on every keystroke, stop(), and typing() / on("change") for who else is typing.
   * One object per (channel, scope) until its close(). `interval` (ms, default 1000) is the
   * least time between two typing.start frames.
   */
  typing(channel, options) {
    return this.#typing.get(channel, options);
  }

  /**
   * The record `id` of `channel` under conflict detection (README, "Records and conflicts"):
   * version(), edit() with stale warnings, commit() with conflicts, keepMine(), loadLatest().
   * One object per (channel, String(id)) until its close().
   */
  record(channel, id) {
    return this.#records.get(channel, id);
  }

  /** Publishes a LiveEvent; resolves with {channel, offset}, rejects with a ConcordError. */
  async publish(event) {
    const reply = await this.request({ op: "publish", event: toWireEvent(event) });
    return { channel: reply.channel, offset: reply.offset };
  }

  /** Checks liveness with the protocol's ping command; resolves when the pong arrives. */
  async ping() {
    await this.request({ op: "ping" });
  }

  /**
   * Sends a command and resolves with the reply frame carrying its `id` (which this method assigns),
   * or rejects with a ConcordError: the server's error code, `disconnected` when the session ends
   * before the reply, `closed`, or `timeout` (`timeoutMs`, 0 for none). Sent when a session is up.
   */
  request(frame, { timeoutMs = this.#requestTimeoutMs } = {}) {
    return new Promise((resolve, reject) => this.#command(frame, resolve, reject, timeoutMs));
  }

  /** Closes the connection for good: no reconnect; everything pending rejects with `closed`. */
  close() {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#reconnectTimer);
    this.#stopHeartbeat();
    this.#removeOnlineListener?.();
    const conn = this.#conn;
    this.#conn = null;
    if (conn) {
      conn.detach();
      try {
        conn.ws.close(1000);
      } catch {
        // already closing
      }
    }
    this.#failAll([...this.#pending.values(), ...this.#queue], "closed", "the client is closed");
    for (const feature of this.#features) feature.onClosed();
    this.#setState("disconnected", { code: 1000, reason: "closed by the client" });
  }

  /** Reports an error to `options.onError` and "error" listeners, or console.warn when nobody listens. */
  [REPORT](error) {
    const listeners = this.#listeners.get("error");
    const onError = this.#options.onError;
    if (!onError && !listeners?.size) {
      console.warn("[concord]", error);
      return;
    }
    if (onError) this.#call(onError, error);
    for (const listener of [...(listeners ?? [])]) this.#call(listener, error);
  }

  // --- connection --------------------------------------------------------------------------

  // Asks the token function for a token first, when there is one: a browser only sees a refused
  // upgrade (expired token) as a failed connection, so every attempt gets a fresh token. A token
  // that is not a Promise opens the socket at once, as without a token.
  #connect() {
    this.#reconnectTimer = null;
    if (this.#closed) return;
    this.#setState("connecting");
    let token;
    try {
      token = this.#callToken();
    } catch (error) {
      this.#connectFailed(error);
      return;
    }
    if (!isThenable(token)) {
      this.#open(token);
      return;
    }
    Promise.resolve(token).then(checkedToken).then(
      (value) => !this.#closed && this.#open(value),
      (error) => !this.#closed && this.#connectFailed(tokenError(error)),
    );
  }

  // `options.token` now: a string, a Promise of one, or undefined. Throws ConcordError("token_failed").
  #callToken() {
    if (typeof this.#token !== "function") return this.#token;
    let token;
    try {
      token = this.#token();
    } catch (error) {
      throw tokenError(error);
    }
    return isThenable(token) ? token : checkedToken(token);
  }

  // The query of the next socket: `options.params` (called when a function) plus `token`.
  #connectParams(token) {
    const params = typeof this.#options.params === "function" ? this.#options.params() : this.#options.params;
    return token === undefined ? params : { ...params, token };
  }

  #connectFailed(error) {
    this.#report(error);
    this.#setState("disconnected", { code: 1006, reason: String(error?.message ?? error) });
    this.#scheduleReconnect();
  }

  #open(token) {
    let ws;
    try {
      ws = new this.#WebSocket(buildUrl(this.#url, this.#connectParams(token)));
    } catch (error) {
      this.#connectFailed(error);
      return;
    }
    const conn = { ws, detach: null, welcomed: false };
    // Handlers check they still belong to the current socket: a socket we gave up on (heartbeat
    // timeout) may still deliver late events.
    const onMessage = (event) => this.#conn === conn && this.#onMessage(conn, event.data);
    const onClose = (event) => this.#conn === conn && this.#onConnectionLost({ code: event.code, reason: event.reason });
    // Browsers follow "error" with "close", but Node 20's WebSocket fires only "error" when the
    // handshake fails (server down): without this the client would wait in "connecting" forever.
    const onError = () => this.#conn === conn && this.#abandon(conn, "connection failed");
    ws.addEventListener("message", onMessage);
    ws.addEventListener("close", onClose);
    ws.addEventListener("error", onError);
    conn.detach = () => {
      ws.removeEventListener("message", onMessage);
      ws.removeEventListener("close", onClose);
      ws.removeEventListener("error", onError);
    };
    this.#conn = conn;
  }

  #onMessage(conn, data) {
    if (typeof data !== "string") return; // v1 is text only
    let frame;
    try {
      frame = JSON.parse(data);
    } catch {
      this.#report(new ConcordError("invalid_json", "the server sent a message that is not JSON"));
      return;
    }
    if (frame === null || typeof frame !== "object" || Array.isArray(frame)) return;

    if (frame.op === "welcome") {
      if (!conn.welcomed) this.#onWelcome(conn, frame); // one session per socket
      return;
    }
    const entry = frame.id === undefined ? undefined : this.#pending.get(frame.id);
    if (frame.op === "error") {
      const error = new ConcordError(frame.code ?? "internal", frame.message, frame);
      if (entry) this.#settle(entry, error);
      else this.#report(error);
      return;
    }
    if (entry) return this.#settle(entry, null, frame);
    if (frame.op === "token.expiring") return this.#onTokenExpiring(frame);
    // Unknown pushes are ignored: v1 may add ops and fields (README, "Versioning").
    this.#routes.get(frame.op)?.onPush(frame);
  }

  #onWelcome(conn, frame) {
    conn.welcomed = true;
    this.welcome = frame;
    this.#tokenExpiresAt = expiryOf(frame);
    this.#attempt = 0;
    this.#generation += 1;
    this.#setState("connected");
    if (this.#state !== "connected") return; // a state listener closed the client
    for (const feature of this.#features) feature.onConnected(frame);
    // Queued requests go after the features restored the session, so that a publish made while
    // offline reaches subscriptions made while offline.
    const queued = this.#queue;
    this.#queue = [];
    for (const entry of queued) this.#transmit(entry);
    this.#startHeartbeat();
  }

  #onConnectionLost(info) {
    const conn = this.#conn;
    this.#conn = null;
    conn?.detach();
    this.#stopHeartbeat();
    this.#failAll([...this.#pending.values()], "disconnected", "the connection closed before the reply");
    for (const feature of this.#features) feature.onDisconnected();
    this.#setState("disconnected", info);
    // The token was not refreshed in time: the reconnect asks the token function for a new one.
    if (info.code === CLOSE_TOKEN_EXPIRED && this.#token !== undefined && !this.#closed) {
      this.#report(new ConcordError("token_expired", `the server closed the connection: ${info.reason || "token expired"}`));
    }
    this.#scheduleReconnect();
  }

  // --- token refresh -----------------------------------------------------------------------

  // The server warns before the token expires (README, "Token expiry"): a new token from the token
  // function goes out in an `auth` command on the same socket. Without a token function there is
  // nothing to refresh with (the server closes with 4001 at expiry, and the client reconnects).
  #onTokenExpiring(frame) {
    if (this.#token === undefined) return; // a token in options.params: renewed by the reconnect
    if (typeof this.#token !== "function") {
      const at = typeof frame.expiresAt === "number" ? new Date(frame.expiresAt).toISOString() : "soon";
      this.#report(new ConcordError("token_expiring", `the token expires at ${at}; pass a token function to refresh it`, frame));
      return;
    }
    const generation = this.#generation;
    if (this.#refreshingIn === generation) return;
    this.#refreshingIn = generation;
    const done = () => {
      if (this.#refreshingIn === generation) this.#refreshingIn = 0;
    };
    let token;
    try {
      token = this.#callToken();
    } catch (error) {
      done();
      this.#report(error);
      return;
    }
    Promise.resolve(token)
      .then(checkedToken)
      .then(
        (value) => this.#sendAuth(value, generation, done),
        (error) => {
          done();
          if (!this.#closed) this.#report(tokenError(error));
        },
      );
  }

  // Sends `auth` on the session that asked for it; a later session was opened with a newer token.
  #sendAuth(token, generation, done) {
    if (this.#closed || this.#state !== "connected" || this.#generation !== generation) {
      done();
      return;
    }
    this.#command(
      { op: "auth", token },
      (reply) => {
        done();
        if (this.#generation === generation) this.#tokenExpiresAt = expiryOf(reply);
      },
      (error) => {
        done();
        if (!SESSION_ENDED.has(error.code)) this.#report(error);
      },
    );
  }

  // Gives up on a socket without waiting for its close event, which may come late or never.
  // Its handlers go first: closing a socket that is still connecting fires "error" synchronously.
  #abandon(conn, reason) {
    this.#onConnectionLost({ code: 1006, reason });
    try {
      conn.ws.close();
    } catch {
      // already closing or closed
    }
  }

  #scheduleReconnect() {
    if (this.#closed || this.#reconnect === false || this.#reconnectTimer !== null) return;
    const delay = backoffDelay(this.#attempt++, this.#reconnect);
    this.#reconnectTimer = setTimeout(() => this.#connect(), delay);
  }

  // A browser that comes back online should not sit out the rest of a long backoff.
  #watchNetwork() {
    const target = globalThis;
    if (typeof target.addEventListener !== "function" || typeof target.removeEventListener !== "function") return;
    const onOnline = () => {
      if (this.#state !== "disconnected" || this.#closed || this.#reconnect === false) return;
      clearTimeout(this.#reconnectTimer);
      this.#attempt = 0;
      this.#connect();
    };
    target.addEventListener("online", onOnline);
    this.#removeOnlineListener = () => target.removeEventListener("online", onOnline);
  }

  // Browsers cannot see WebSocket pings, so a half-open connection (sleeping laptop, dead NAT
  // mapping) is only noticed by asking: without a pong in time the socket is given up on.
  #startHeartbeat() {
    if (this.#heartbeat === false) return;
    const { intervalMs, timeoutMs } = this.#heartbeat;
    const conn = this.#conn;
    this.#heartbeatTimer = setTimeout(() => {
      this.#heartbeatTimer = null;
      this.request({ op: "ping" }, { timeoutMs }).then(
        () => this.#conn === conn && this.#startHeartbeat(),
        (error) => {
          if (error.code === "timeout" && this.#conn === conn) this.#abandon(conn, `no pong within ${timeoutMs} ms`);
        },
      );
    }, intervalMs);
  }

  #stopHeartbeat() {
    clearTimeout(this.#heartbeatTimer);
    this.#heartbeatTimer = null;
  }

  // --- requests ----------------------------------------------------------------------------

  // Sends `frame` with a fresh id once a session is up; exactly one of onReply/onError is called.
  // Features use this directly rather than request(): their callbacks run synchronously with the
  // reply, before the next frame is read, so that e.g. an event right behind `subscribed` is not lost.
  #command(frame, onReply, onError, timeoutMs = this.#requestTimeoutMs) {
    if (this.#closed) {
      onError(new ConcordError("closed", "the client is closed"));
      return;
    }
    const entry = { frame: { ...frame, id: this.#nextId++ }, onReply, onError, timer: null, settled: false };
    if (timeoutMs > 0) {
      entry.timer = setTimeout(() => {
        this.#settle(entry, new ConcordError("timeout", `no reply to ${frame.op} within ${timeoutMs} ms`));
      }, timeoutMs);
    }
    if (this.#state === "connected") this.#transmit(entry);
    else this.#queue.push(entry);
  }

  #transmit(entry) {
    if (entry.settled) return;
    this.#pending.set(entry.frame.id, entry);
    const error = this.#send(entry.frame);
    if (error) this.#settle(entry, error);
  }

  // Writes one frame; returns a ConcordError instead of sending what the server would close us for.
  #send(frame) {
    const text = JSON.stringify(frame);
    const limit = this.welcome?.limits?.maxMessageBytes;
    if (typeof limit === "number" && utf8Length(text) > limit) {
      return new ConcordError("payload_too_large", `${frame.op} frame is over ${limit} bytes`);
    }
    try {
      this.#conn.ws.send(text);
      return null;
    } catch (error) {
      return new ConcordError("disconnected", String(error?.message ?? error));
    }
  }

  #settle(entry, error, reply) {
    if (entry.settled) return;
    entry.settled = true;
    clearTimeout(entry.timer);
    this.#pending.delete(entry.frame.id);
    const queued = this.#queue.indexOf(entry);
    if (queued >= 0) this.#queue.splice(queued, 1);
    if (error) entry.onError(error);
    else entry.onReply(reply);
  }

  #failAll(entries, code, message) {
    for (const entry of entries) this.#settle(entry, new ConcordError(code, message));
  }

  // --- features, listeners -----------------------------------------------------------------

  #addFeature(feature) {
    this.#features.push(feature);
    for (const op of feature.ops) this.#routes.set(op, feature);
    return feature;
  }

  // What a feature may use of the client: no access to the socket itself.
  #featureContext() {
    const client = this;
    return {
      request: (frame, options) => client.request(frame, options),
      command: (frame, { onReply, onError, timeoutMs } = {}) =>
        client.#command(frame, onReply ?? (() => {}), onError ?? (() => {}), timeoutMs),
      // Fire and forget (no id, no reply): true when the frame went out on the current session.
      send: (frame) => client.#state === "connected" && client.#conn !== null && client.#send(frame) === null,
      report: (error) => client.#report(error),
      get requestTimeoutMs() {
        return client.#requestTimeoutMs;
      },
      get user() {
        return client.welcome?.user ?? null;
      },
      get typingTtlMs() {
        return client.welcome?.limits?.typingTtlMs ?? null;
      },
      get closed() {
        return client.#closed;
      },
      get connected() {
        return client.#state === "connected";
      },
      get generation() {
        return client.#generation;
      },
      get epoch() {
        return client.welcome?.epoch;
      },
    };
  }

  #setState(state, info) {
    if (this.#state === state) return;
    this.#state = state;
    this.#emit("state", state, info);
  }

  #emit(event, ...args) {
    for (const listener of [...(this.#listeners.get(event) ?? [])]) this.#call(listener, ...args);
  }

  // A throwing listener or callback must not break the client or the other listeners.
  #call(fn, ...args) {
    try {
      fn(...args);
    } catch (error) {
      if (fn === this.#options.onError || this.#listeners.get("error")?.has(fn)) console.error("[concord]", error);
      else this.#report(error);
    }
  }

  #report(error) {
    this[REPORT](error);
  }
}

function isThenable(value) {
  return value !== null && (typeof value === "object" || typeof value === "function") && typeof value.then === "function";
}

// What the token function gave, if it is a token; throws ConcordError("token_failed") otherwise.
function checkedToken(value) {
  if (typeof value === "string" && value !== "") return value;
  throw new ConcordError("token_failed", `the token function returned ${value === "" ? "an empty string" : typeof value}, not a token`);
}

// A failure of the token function as a ConcordError("token_failed"), the original as `cause`.
function tokenError(error) {
  if (error instanceof ConcordError) return error;
  const failure = new ConcordError("token_failed", `the token function failed: ${String(error?.message ?? error)}`);
  failure.cause = error;
  return failure;
}

// `expiresAt` of a welcome or authed frame: ms since the epoch, or null.
function expiryOf(frame) {
  return typeof frame.expiresAt === "number" && Number.isFinite(frame.expiresAt) ? frame.expiresAt : null;
}

function utf8Length(text) {
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) bytes += 1;
    else if (c < 0x800) bytes += 2;
    else if (c >= 0xd800 && c <= 0xdbff) {
      bytes += 4; // a surrogate pair
      i++;
    } else bytes += 3;
  }
  return bytes;
}

// ---------------------------------------------------------------------------------------------
// Feature: channel subscriptions (ops subscribe, unsubscribe; push `event`)

/** The handle subscribe() returns. Read-only view; call unsubscribe() or client.unsubscribe(handle). */
export class Subscription {
  #record;

  constructor(record) {
    this.#record = record;
    this.sub = record.sub;
    this.channel = record.channel;
    this.types = record.types;
    this.params = record.params;
    /** Resolves with the first SubscribedInfo; rejects if the server refuses the first attempt. */
    this.ready = record.ready;
    Object.freeze(this);
  }

  /** "pending" (waiting for a session), "subscribing", "active", "failed" (refused; retried after a
   *  reconnect) or "closed". */
  get status() {
    return this.#record.status;
  }

  /** The server's refusal when status is "failed". */
  get error() {
    return this.#record.error;
  }

  unsubscribe() {
    this.#record.owner.remove(this);
  }
}

class Subscriptions {
  ops = ["event"];
  #ctx;
  #records = new Map(); // sub -> record, in subscription order
  #byHandle = new WeakMap(); // Subscription -> record
  #nextSub = 1;
  #seen = new Map(); // channel -> {epoch, offset}: the newest offset known, to tell a resume with a gap

  constructor(ctx) {
    this.#ctx = ctx;
  }

  add(options) {
    const { channel, types = ["*"], params, callback, onSubscribed } = options ?? {};
    if (typeof channel !== "string") throw new TypeError("subscribe needs a channel string");
    if (typeof callback !== "function") throw new TypeError("subscribe needs a callback function");
    if (!Array.isArray(types)) throw new TypeError("types must be an array of strings");
    const record = {
      owner: this,
      sub: `s${this.#nextSub++}`,
      channel,
      types: [...types],
      params,
      callback,
      onSubscribed,
      status: "pending",
      error: undefined,
      sentIn: 0, // the session the last subscribe frame went out on
      everActive: false,
      ready: null,
      settleReady: null,
    };
    record.ready = new Promise((resolve, reject) => {
      record.settleReady = (error, info) => {
        record.settleReady = null;
        if (error) reject(error);
        else resolve(info);
      };
    });
    record.ready.catch(() => {}); // nobody has to look at `ready`: never an unhandled rejection
    const handle = new Subscription(record);
    this.#byHandle.set(handle, record);
    this.#records.set(record.sub, record);
    if (this.#ctx.connected) this.#sendSubscribe(record);
    return handle;
  }

  remove(handle) {
    const record = handle instanceof Subscription ? this.#byHandle.get(handle) : undefined;
    if (!record || record.status === "closed") return;
    const onServer = this.#ctx.connected && record.sentIn === this.#ctx.generation &&
      (record.status === "subscribing" || record.status === "active");
    record.status = "closed";
    this.#records.delete(record.sub);
    record.settleReady?.(new ConcordError("unsubscribed", `subscription ${record.sub} was ended`));
    if (!onServer) return;
    // Delivery stops at once (the record is gone); the frame only spares the server the work.
    this.#ctx.command({ op: "unsubscribe", sub: record.sub }, {
      onError: (error) => {
        if (!SESSION_ENDED.has(error.code) && error.code !== "unknown_subscription") this.#ctx.report(error);
      },
    });
  }

  onConnected() {
    for (const record of [...this.#records.values()]) {
      if (record.sentIn !== this.#ctx.generation) this.#sendSubscribe(record);
    }
  }

  onDisconnected() {
    for (const record of this.#records.values()) {
      if (record.status === "subscribing" || record.status === "active") record.status = "pending";
    }
  }

  onClosed() {
    for (const record of this.#records.values()) {
      record.settleReady?.(new ConcordError("closed", "the client is closed"));
    }
  }

  onPush(frame) {
    const { channel, offset, event } = frame;
    if (typeof channel !== "string" || event === null || typeof event !== "object") return;
    this.#remember(channel, this.#ctx.epoch, offset);
    // The server sends an event once per connection even when several subscriptions admit it:
    // hand it to each local subscription whose filter admits it.
    const live = toLiveEvent(event, channel);
    const info = { channel, offset };
    for (const record of [...this.#records.values()]) {
      // Re-checked per record: an earlier callback may have unsubscribed this one.
      if (record.channel !== channel || record.status !== "active" || !admits(record, live)) continue;
      try {
        record.callback(live, info);
      } catch (error) {
        this.#ctx.report(error);
      }
    }
  }

  #sendSubscribe(record) {
    const generation = this.#ctx.generation;
    record.sentIn = generation;
    record.status = "subscribing";
    record.error = undefined;
    const frame = { op: "subscribe", sub: record.sub, channel: record.channel, types: serverTypes(record.types) };
    const ids = serverIds(record.params);
    if (ids !== undefined) frame.params = { ids };
    // No timeout: only a dead connection keeps the reply away, and that ends the session anyway.
    this.#ctx.command(frame, {
      timeoutMs: 0,
      onReply: (reply) => this.#onSubscribed(record, generation, reply),
      onError: (error) => this.#onRefused(record, generation, error),
    });
  }

  #onSubscribed(record, generation, reply) {
    if (record.status !== "subscribing" || record.sentIn !== generation) return; // ended meanwhile
    const previous = this.#seen.get(record.channel);
    const resumed = record.everActive;
    // After a reconnect events may have been missed: the numbering restarted (new epoch) or the
    // channel moved on. Apps can refetch when `gap` is true.
    const gap = resumed && (!previous || previous.epoch !== reply.epoch || reply.offset > previous.offset);
    this.#remember(record.channel, reply.epoch, reply.offset);
    record.status = "active";
    record.everActive = true;
    const info = { sub: record.sub, channel: record.channel, offset: reply.offset, epoch: reply.epoch, resumed, gap };
    record.settleReady?.(null, info);
    if (record.onSubscribed) {
      try {
        record.onSubscribed(info);
      } catch (error) {
        this.#ctx.report(error);
      }
    }
  }

  #onRefused(record, generation, error) {
    if (record.status !== "subscribing" || record.sentIn !== generation) return;
    if (SESSION_ENDED.has(error.code)) return; // onDisconnected made it pending; it is sent again
    record.status = "failed";
    record.error = error;
    record.settleReady?.(error);
    this.#ctx.report(error);
  }

  #remember(channel, epoch, offset) {
    if (typeof offset !== "number") return;
    const known = this.#seen.get(channel);
    if (!known || known.epoch !== epoch || offset > known.offset) this.#seen.set(channel, { epoch, offset });
  }
}

// The types to ask the server for; every type when there are more than it accepts.
function serverTypes(types) {
  return types.length > MAX_SERVER_TYPES ? ["*"] : types;
}

// The ids to ask the server for, or undefined for every id: the server refuses lists that are too
// long or hold anything but strings and numbers, and the local filter narrows the result anyway.
function serverIds(params) {
  const ids = idsOf(params);
  if (ids === undefined || ids.length > MAX_SERVER_IDS) return undefined;
  const usable = ids.every((id) => typeof id === "string" || (typeof id === "number" && Number.isFinite(id)));
  return usable ? ids : undefined;
}

// ---------------------------------------------------------------------------------------------
// Features: presence (ops presence.*; push `presence.event`) and typing (ops typing.*; push
// `typing.event`)

const DEFAULT_TYPING_INTERVAL_MS = 1000;

const monotonicNow = () => (typeof globalThis.performance?.now === "function" ? globalThis.performance.now() : Date.now());

// What presence and typing share. A session is "live" for them once their onConnected has run, so
// that a call made from a "state" listener, before the feature restored the session, waits for the
// restore instead of racing it. `drain` counts the unsubscribes in flight per channel (see Watch).
class ChannelFeature {
  ctx;
  #liveIn = 0;
  #draining = new Map(); // channel -> unsubscribe frames without a reply yet

  constructor(ctx) {
    this.ctx = ctx;
  }

  get live() {
    return this.ctx.connected && this.#liveIn === this.ctx.generation;
  }

  onConnected() {
    this.#liveIn = this.ctx.generation;
    this.#draining.clear();
  }

  onDisconnected() {
    this.#draining.clear();
  }

  drain(channel) {
    this.#draining.set(channel, (this.#draining.get(channel) ?? 0) + 1);
  }

  drained(channel) {
    const count = this.#draining.get(channel) ?? 0;
    if (count <= 1) this.#draining.delete(channel);
    else this.#draining.set(channel, count - 1);
  }

  draining(channel) {
    return this.#draining.has(channel);
  }
}

// One `presence.subscribe` or `typing.subscribe` of a channel: sent while wanted, again after every
// reconnect. Its reply is the snapshot; the pushes that follow are applied to it in order. Pushes
// that arrive between the subscribe frame and the snapshot reply are held and applied right after
// the snapshot (as Phoenix does), so nothing is lost whatever order a server answers in. Pushes of
// an earlier watch of the channel on this connection arrive before its unsubscribe reply: the
// feature drops those (`draining`), as the new snapshot already accounts for them.
class Watch {
  #feature;
  #family;
  #channel;
  #onSnapshot;
  #onPush;
  #sentIn = 0;
  #held = null; // pushes received while the snapshot is on its way
  #waiters = []; // subscribe() calls waiting for the next snapshot

  wanted = false;
  /** "idle" | "pending" | "subscribing" | "active" | "failed" */
  status = "idle";
  error = undefined;
  /** True when the snapshot of the current session has arrived. */
  synced = false;

  constructor(feature, family, channel, onSnapshot, onPush) {
    this.#feature = feature;
    this.#family = family;
    this.#channel = channel;
    this.#onSnapshot = onSnapshot;
    this.#onPush = onPush;
  }

  want() {
    if (this.wanted) return;
    this.wanted = true;
    this.status = "pending";
    if (this.#feature.live) this.#send();
  }

  /** Resolves at the next snapshot, at once when in sync; rejects when refused, ended or closed. */
  ready() {
    this.want();
    if (this.synced) return Promise.resolve();
    return new Promise((resolve, reject) => this.#waiters.push({ resolve, reject }));
  }

  unwant(code = "unsubscribed", message = `the ${this.#family} subscription of ${this.#channel} was ended`) {
    if (!this.wanted) return;
    const ctx = this.#feature.ctx;
    const onServer = this.#feature.live && this.#sentIn === ctx.generation &&
      (this.status === "subscribing" || this.status === "active");
    this.wanted = false;
    this.status = "idle";
    this.error = undefined;
    this.synced = false;
    this.#held = null;
    this.#settleWaiters(new ConcordError(code, message));
    if (!onServer) return;
    const channel = this.#channel;
    this.#feature.drain(channel);
    ctx.command({ op: `${this.#family}.unsubscribe`, channel }, {
      onReply: () => this.#feature.drained(channel),
      onError: (error) => {
        this.#feature.drained(channel);
        if (!SESSION_ENDED.has(error.code) && error.code !== "unknown_subscription") ctx.report(error);
      },
    });
  }

  onConnected() {
    if (this.wanted) this.#send();
  }

  onDisconnected() {
    this.synced = false;
    this.#held = null;
    if (this.status === "subscribing" || this.status === "active") this.status = "pending";
  }

  onClosed() {
    this.#settleWaiters(new ConcordError("closed", "the client is closed"));
  }

  push(frame) {
    if (!this.wanted) return;
    if (this.synced) this.#onPush(frame);
    else this.#held?.push(frame);
  }

  #send() {
    const ctx = this.#feature.ctx;
    const generation = ctx.generation;
    this.#sentIn = generation;
    this.status = "subscribing";
    this.error = undefined;
    this.synced = false;
    this.#held = [];
    const current = () => this.wanted && this.status === "subscribing" && this.#sentIn === generation;
    // No timeout: only a dead connection keeps the reply away, and that ends the session anyway.
    ctx.command({ op: `${this.#family}.subscribe`, channel: this.#channel }, {
      timeoutMs: 0,
      onReply: (reply) => {
        if (!current()) return;
        const held = this.#held ?? [];
        this.#held = null;
        this.status = "active";
        this.synced = true;
        this.#onSnapshot(reply, held);
        this.#settleWaiters(null);
      },
      onError: (error) => {
        if (!current()) return;
        this.#held = null;
        if (SESSION_ENDED.has(error.code)) return; // pending again; sent on the next session
        this.status = "failed";
        this.error = error;
        this.#settleWaiters(error);
        ctx.report(error);
      },
    });
  }

  #settleWaiters(error) {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const waiter of waiters) {
      if (error) waiter.reject(error);
      else waiter.resolve();
    }
  }
}

// Calls a listener set with `list`; a throwing listener is reported and does not stop the others.
function emitList(listeners, list, ctx) {
  for (const listener of [...listeners]) {
    try {
      listener(list);
    } catch (error) {
      ctx.report(error);
    }
  }
}

function addChangeListener(listeners, event, listener) {
  if (event !== "change") throw new TypeError(`unknown event "${event}": only "change" is emitted`);
  if (typeof listener !== "function") throw new TypeError("listener must be a function");
  listeners.add(listener);
  return () => listeners.delete(listener);
}

function toMember(raw) {
  if (raw === null || typeof raw !== "object" || typeof raw.user !== "string") return null;
  return Object.freeze({
    user: raw.user,
    info: raw.info === undefined ? null : raw.info,
    connections: typeof raw.connections === "number" ? raw.connections : 1,
  });
}

function toTypist(raw) {
  if (raw === null || typeof raw !== "object" || typeof raw.user !== "string") return null;
  return Object.freeze({
    user: raw.user,
    name: typeof raw.name === "string" ? raw.name : null,
    scope: typeof raw.scope === "string" ? raw.scope : null,
  });
}

/**
 * The presence of one channel, from client.presence(channel). enter/update/leave make this client
 * present (and are restored after every reconnect); members(), on("change") and subscribe() watch
 * the member list (snapshot, then every presence.event).
 */
export class Presence {
  #state;

  constructor(state) {
    this.#state = state;
    this.channel = state.channel;
    Object.freeze(this);
  }

  /** Enters the channel with `info` (default {}); again from this client, it updates the info. */
  enter(info) {
    return this.#state.enter(info);
  }

  /** Replaces this member's info (for all its tabs). Rejects with `not_present` before enter(). */
  update(info) {
    return this.#state.update(info);
  }

  /** Leaves the channel; not restored after a reconnect any more. */
  leave() {
    return this.#state.leave();
  }

  /** The current members, longest present first. Subscribes to the channel's presence if needed. */
  members() {
    return this.#state.members();
  }

  /** The number of members: the server's total, which exceeds members().length when the snapshot
   *  was capped (README, "Limits"). */
  get total() {
    return this.#state.total;
  }

  /** True between enter() and leave() (or close()): this client means to be present. */
  get entered() {
    return this.#state.entered;
  }

  /** The info this client last entered or updated with, or undefined when not entered. */
  get info() {
    return this.#state.info;
  }

  /** Of the member list: "idle" (not subscribed), "pending", "subscribing", "active", "failed"
   *  (refused; retried after a reconnect) or "closed". */
  get status() {
    return this.#state.status;
  }

  /** True once the snapshot of the current session has arrived; during a reconnect the list keeps
   *  the last known members until the new snapshot replaces it. */
  get synced() {
    return this.#state.watch.synced;
  }

  /** The server's refusal when status is "failed". */
  get error() {
    return this.#state.watch.error;
  }

  /** "change": called with the full member list after each snapshot and each presence.event.
   *  Subscribes to the channel's presence. Returns a function that removes the listener. */
  on(event, listener) {
    return this.#state.on(event, listener);
  }

  /** Subscribes (if needed) and resolves with the member list once a snapshot is in. */
  subscribe() {
    return this.#state.subscribe();
  }

  /** Stops watching the member list (and clears it); this client stays present if it entered. */
  unsubscribe() {
    this.#state.unsubscribe();
  }

  /** Leaves, unsubscribes and drops the listeners; client.presence(channel) then makes a new object.
   *  Resolves (never rejects) once the leave was answered. */
  close() {
    return this.#state.close();
  }
}

class PresenceFeature extends ChannelFeature {
  ops = ["presence.event"];
  #channels = new Map(); // channel -> PresenceState

  get(channel) {
    if (typeof channel !== "string") throw new TypeError("presence needs a channel string");
    let state = this.#channels.get(channel);
    if (!state) this.#channels.set(channel, (state = new PresenceState(this, channel)));
    return state.handle;
  }

  forget(state) {
    if (this.#channels.get(state.channel) === state) this.#channels.delete(state.channel);
  }

  onConnected() {
    super.onConnected();
    for (const state of [...this.#channels.values()]) state.onConnected();
  }

  onDisconnected() {
    super.onDisconnected();
    for (const state of this.#channels.values()) state.watch.onDisconnected();
  }

  onClosed() {
    for (const state of [...this.#channels.values()]) state.onClosed();
  }

  onPush(frame) {
    if (typeof frame.channel !== "string" || this.draining(frame.channel)) return;
    this.#channels.get(frame.channel)?.watch.push(frame);
  }
}

class PresenceState {
  feature;
  channel;
  handle;
  watch;
  #desired = null; // {info} while this client means to be present
  #parked = []; // enter/update/leave calls made, or cut off, while no session was live
  #members = new Map(); // user -> member: snapshot order, then arrivals
  #total = 0;
  #listeners = new Set();
  #closed = false;

  constructor(feature, channel) {
    this.feature = feature;
    this.channel = channel;
    this.watch = new Watch(feature, "presence", channel, (reply, held) => this.#onSnapshot(reply, held), (frame) => this.#onEvent(frame));
    this.handle = new Presence(this);
  }

  get ctx() {
    return this.feature.ctx;
  }

  get total() {
    return this.#total;
  }

  get entered() {
    return this.#desired !== null;
  }

  get info() {
    return this.#desired?.info;
  }

  get status() {
    return this.#closed ? "closed" : this.watch.status;
  }

  enter(info = {}) {
    const previous = this.#desired;
    const desired = { info };
    if (!this.#closed) this.#desired = desired;
    // A refused enter changed nothing on the server: forget it, unless something came after it.
    return this.#perform("presence.enter", { info }, () => {
      if (this.#desired === desired) this.#desired = previous;
    });
  }

  update(info = {}) {
    const previous = this.#desired;
    const desired = previous ? { info } : null;
    if (previous && !this.#closed) this.#desired = desired;
    return this.#perform("presence.update", { info }, () => {
      if (previous && this.#desired === desired) this.#desired = previous;
    });
  }

  leave() {
    if (!this.#closed) this.#desired = null;
    return this.#perform("presence.leave", {}, null);
  }

  members() {
    if (!this.#closed) this.watch.want();
    return [...this.#members.values()];
  }

  on(event, listener) {
    const off = addChangeListener(this.#listeners, event, listener);
    if (this.#closed) {
      off();
      return () => {};
    }
    this.watch.want();
    return off;
  }

  async subscribe() {
    if (this.#closed) throw this.#closedError();
    await this.watch.ready();
    return [...this.#members.values()];
  }

  unsubscribe() {
    this.watch.unwant();
    this.#members = new Map();
    this.#total = 0;
  }

  close() {
    if (this.#closed) return Promise.resolve();
    const left = this.#desired !== null && this.feature.live ? this.leave().then(() => {}, () => {}) : Promise.resolve();
    this.#desired = null;
    this.#closed = true;
    for (const call of [...this.#parked]) this.#settle(call, this.#closedError());
    this.watch.unwant("closed", `the presence of ${this.channel} was closed`);
    this.#listeners.clear();
    this.feature.forget(this);
    return left;
  }

  onConnected() {
    const parked = this.#parked;
    this.#parked = [];
    // Enter first, so that our own snapshot below already lists us.
    const restore = this.#desired ? this.#restore(this.#desired) : null;
    for (const call of parked) {
      if (call.settled) continue;
      // The old session's presence went with its socket: a leave is done, an enter or update is
      // carried out by the restoring enter (with the latest info), unless a later leave undid it.
      if (call.op === "presence.leave") this.#settle(call, null, { op: "presence.left", channel: this.channel });
      else if (restore) restore.push(call);
      else if (call.op === "presence.enter") this.#settle(call, null, { op: "presence.entered", channel: this.channel });
      else this.#settle(call, new ConcordError("not_present", `not present in ${this.channel}: enter it first`));
    }
    this.watch.onConnected();
  }

  onClosed() {
    for (const call of [...this.#parked]) this.#settle(call, new ConcordError("closed", "the client is closed"));
    this.watch.onClosed();
  }

  #closedError() {
    return new ConcordError("closed", `the presence of ${this.channel} was closed`);
  }

  #perform(op, fields, onRefused) {
    if (this.#closed || this.ctx.closed) {
      const error = this.#closed ? this.#closedError() : new ConcordError("closed", "the client is closed");
      return Promise.reject(error);
    }
    return new Promise((resolve, reject) => {
      const call = { op, fields, resolve, reject, onRefused, settled: false, timer: null };
      const timeoutMs = this.ctx.requestTimeoutMs;
      if (timeoutMs > 0) {
        call.timer = setTimeout(() => this.#settle(call, new ConcordError("timeout", `no reply to ${op} within ${timeoutMs} ms`)), timeoutMs);
      }
      if (this.feature.live) this.#transmit(call);
      else this.#parked.push(call);
    });
  }

  #transmit(call) {
    this.ctx.command({ op: call.op, channel: this.channel, ...call.fields }, {
      timeoutMs: 0, // the call has its own timer, which spans reconnects
      onReply: (reply) => this.#settle(call, null, reply),
      onError: (error) => {
        if (call.settled) return;
        if (error.code === "disconnected") {
          this.#parked.push(call); // settled on the next session
          return;
        }
        if (!SESSION_ENDED.has(error.code)) call.onRefused?.();
        this.#settle(call, error);
      },
    });
  }

  // Re-enters with the latest info on a new session. Calls made or cut off while offline get its
  // outcome. Returns the list to add those calls to.
  #restore(desired) {
    const calls = [];
    this.ctx.command({ op: "presence.enter", channel: this.channel, info: desired.info }, {
      timeoutMs: 0,
      onReply: (reply) => {
        for (const call of calls) this.#settle(call, null, reply);
      },
      onError: (error) => {
        const waiting = calls.filter((call) => !call.settled);
        if (error.code === "disconnected") {
          this.#parked.push(...waiting);
          return;
        }
        if (SESSION_ENDED.has(error.code)) {
          for (const call of waiting) this.#settle(call, error);
          return;
        }
        // Refused: the offline calls are undone, latest first, as if each had been refused. When
        // that leaves an earlier presence (say, an update with too large an info after an accepted
        // enter), restore that one instead.
        for (const call of [...waiting].reverse()) call.onRefused?.();
        for (const call of waiting) this.#settle(call, error);
        if (waiting.length === 0) this.ctx.report(error);
        else if (this.#desired && this.#desired !== desired && this.feature.live && !this.#closed) this.#restore(this.#desired);
      },
    });
    return calls;
  }

  #settle(call, error, reply) {
    if (call.settled) return;
    call.settled = true;
    clearTimeout(call.timer);
    const parked = this.#parked.indexOf(call);
    if (parked >= 0) this.#parked.splice(parked, 1);
    if (error) call.reject(error);
    else call.resolve(reply);
  }

  #onSnapshot(reply, held) {
    const members = new Map();
    for (const raw of Array.isArray(reply.members) ? reply.members : []) {
      const member = toMember(raw);
      if (member) members.set(member.user, member);
    }
    this.#members = members;
    this.#total = Math.max(typeof reply.total === "number" ? reply.total : 0, members.size);
    for (const frame of held) this.#apply(frame);
    this.#emit();
  }

  #onEvent(frame) {
    if (this.#apply(frame)) this.#emit();
  }

  // Applies one presence.event; every action carries the whole member, so applying one twice
  // changes nothing more. Members beyond a capped snapshot join the list when they show up.
  #apply(frame) {
    const member = toMember(frame.member);
    if (!member) return false;
    const known = this.#members.has(member.user);
    if (frame.action === "leave") {
      this.#members.delete(member.user);
      this.#total = Math.max(this.#members.size, this.#total - 1);
      return true;
    }
    if (frame.action !== "join" && frame.action !== "update") return false;
    this.#members.set(member.user, member);
    if (frame.action === "join" && !known) this.#total += 1;
    this.#total = Math.max(this.#total, this.#members.size);
    return true;
  }

  #emit() {
    emitList(this.#listeners, Object.freeze([...this.#members.values()]), this.ctx);
  }
}

/**
 * Typing signals on one channel and scope, from client.typing(channel, {scope}). start() is safe
 * on every keystroke; typing() and on("change") list who else is typing.
 */
export class Typing {
  #state;

  constructor(state) {
    this.#state = state;
    this.channel = state.channel;
    this.scope = state.scope;
    Object.freeze(this);
  }

  /** The least time in ms between two typing.start frames: by default a third of the server's
   *  typing TTL (from `welcome.limits.typingTtlMs`), at most 1000. Continued typing re-sends after
   *  each interval, so the server's TTL never lapses while the user types. */
  get interval() {
    return this.#state.interval;
  }

  /** Says "typing": sends typing.start at once, then at most once per interval while called
   *  again. Sends nothing while disconnected (the next call after the reconnect does). */
  start() {
    this.#state.start();
  }

  /** Says "stopped typing", when start() sent anything since the last stop. */
  stop() {
    this.#state.stop();
  }

  /** True between a start() that went out and stop() (or a disconnect). */
  get active() {
    return this.#state.active;
  }

  /** Who else is typing (this client's own user is never listed): those in this scope, or in the
   *  whole channel when no scope was given. Subscribes to the channel's typing if needed. */
  typing() {
    return this.#state.typing();
  }

  /** Of the typing list: "idle" (not subscribed), "pending", "subscribing", "active", "failed" or "closed". */
  get status() {
    return this.#state.status;
  }

  /** True once the snapshot of the current session has arrived. */
  get synced() {
    return this.#state.synced;
  }

  /** "change": called with typing() after each snapshot and each typing.event that concerns it.
   *  Subscribes to the channel's typing. Returns a function that removes the listener. */
  on(event, listener) {
    return this.#state.on(event, listener);
  }

  /** Subscribes (if needed) and resolves with typing() once a snapshot is in. */
  subscribe() {
    return this.#state.subscribe();
  }

  /** Stops watching who is typing. */
  unsubscribe() {
    this.#state.unsubscribe();
  }

  /** stop(), unsubscribe, drop the listeners; client.typing(channel, {scope}) then makes a new object. */
  close() {
    this.#state.close();
  }
}

class TypingFeature extends ChannelFeature {
  ops = ["typing.event"];
  #objects = new Map(); // JSON [channel, scope] -> TypingState
  #channels = new Map(); // channel -> TypingChannel: one server subscription shared by every scope

  get(channel, options) {
    if (typeof channel !== "string") throw new TypeError("typing needs a channel string");
    const scope = options?.scope ?? null;
    if (scope !== null && typeof scope !== "string") throw new TypeError("scope must be a string");
    const interval = options?.interval;
    if (interval !== undefined && !(typeof interval === "number" && interval >= 0)) {
      throw new TypeError("interval must be a number of milliseconds");
    }
    const key = JSON.stringify([channel, scope]);
    let state = this.#objects.get(key);
    if (!state) this.#objects.set(key, (state = new TypingState(this, key, channel, scope)));
    if (interval !== undefined) state.interval = interval;
    return state.handle;
  }

  channelState(channel) {
    let state = this.#channels.get(channel);
    if (!state) this.#channels.set(channel, (state = new TypingChannel(this, channel)));
    return state;
  }

  release(channelState) {
    if (this.#channels.get(channelState.channel) === channelState) this.#channels.delete(channelState.channel);
  }

  forget(state) {
    if (this.#objects.get(state.key) === state) this.#objects.delete(state.key);
  }

  onConnected() {
    super.onConnected();
    for (const channel of [...this.#channels.values()]) channel.watch.onConnected();
  }

  onDisconnected() {
    super.onDisconnected();
    for (const channel of this.#channels.values()) channel.watch.onDisconnected();
    for (const state of this.#objects.values()) state.onDisconnected();
  }

  onClosed() {
    for (const channel of this.#channels.values()) channel.watch.onClosed();
  }

  onPush(frame) {
    if (typeof frame.channel !== "string" || this.draining(frame.channel)) return;
    this.#channels.get(frame.channel)?.watch.push(frame);
  }
}

// Who is typing on one channel, for the TypingStates (scopes) that watch it.
class TypingChannel {
  feature;
  channel;
  watch;
  watchers = new Set();
  typists = new Map(); // JSON [user, scope] -> typist

  constructor(feature, channel) {
    this.feature = feature;
    this.channel = channel;
    this.watch = new Watch(feature, "typing", channel, (reply, held) => this.#onSnapshot(reply, held), (frame) => this.#onEvent(frame));
  }

  add(state) {
    this.watchers.add(state);
    this.watch.want();
  }

  remove(state, code) {
    this.watchers.delete(state);
    if (this.watchers.size > 0) return;
    this.watch.unwant(code);
    this.typists.clear();
    this.feature.release(this);
  }

  #onSnapshot(reply, held) {
    this.typists = new Map();
    for (const raw of Array.isArray(reply.typing) ? reply.typing : []) {
      const typist = this.#own(toTypist(raw));
      if (typist) this.typists.set(typistKey(typist), typist);
    }
    for (const frame of held) this.#apply(frame);
    for (const state of [...this.watchers]) state.emit();
  }

  #onEvent(frame) {
    const typist = this.#apply(frame);
    if (!typist) return;
    for (const state of [...this.watchers]) if (state.matches(typist)) state.emit();
  }

  // The typist of a started/stopped push when it changed the list, else null.
  #apply(frame) {
    const typist = this.#own(toTypist(frame.typist));
    if (!typist) return null;
    const key = typistKey(typist);
    if (frame.action === "started") {
      const known = this.typists.has(key);
      this.typists.set(key, typist);
      return known ? null : typist;
    }
    if (frame.action === "stopped") return this.typists.delete(key) ? typist : null;
    return null;
  }

  // The server does not send a typist its own events; its own signals (from another tab, say)
  // are left out of the snapshot too, or nothing would ever take them away.
  #own(typist) {
    return typist && typist.user !== this.feature.ctx.user ? typist : null;
  }
}

function typistKey(typist) {
  return JSON.stringify([typist.user, typist.scope]);
}

class TypingState {
  feature;
  key;
  channel;
  scope;
  handle;
  // null: derived from the server's typing TTL (a third of it, at most the default).
  #interval = null;
  #lastSentAt = -Infinity;
  #active = false;
  #closed = false;
  #channelState = null; // set while watching
  #listeners = new Set();

  constructor(feature, key, channel, scope) {
    this.feature = feature;
    this.key = key;
    this.channel = channel;
    this.scope = scope;
    this.handle = new Typing(this);
  }

  get active() {
    return this.#active;
  }

  get status() {
    if (this.#closed) return "closed";
    return this.#channelState?.watch.status ?? "idle";
  }

  get synced() {
    return this.#channelState?.watch.synced ?? false;
  }

  get interval() {
    if (this.#interval !== null) return this.#interval;
    const ttl = this.feature.ctx.typingTtlMs;
    return typeof ttl === "number" && ttl > 0 ? Math.min(DEFAULT_TYPING_INTERVAL_MS, ttl / 3) : DEFAULT_TYPING_INTERVAL_MS;
  }

  set interval(ms) {
    this.#interval = ms;
  }

  start() {
    if (this.#closed || !this.feature.live) return;
    const now = monotonicNow();
    if (now - this.#lastSentAt < this.interval) return;
    if (this.feature.ctx.send(this.#frame("typing.start"))) {
      this.#lastSentAt = now;
      this.#active = true;
    }
  }

  stop() {
    this.#lastSentAt = -Infinity;
    if (!this.#active) return;
    this.#active = false;
    if (this.feature.live) this.feature.ctx.send(this.#frame("typing.stop"));
  }

  typing() {
    this.#watch();
    return this.#list();
  }

  on(event, listener) {
    const off = addChangeListener(this.#listeners, event, listener);
    if (this.#closed) {
      off();
      return () => {};
    }
    this.#watch();
    return off;
  }

  async subscribe() {
    if (this.#closed) throw new ConcordError("closed", `typing on ${this.channel} was closed`);
    this.#watch();
    await this.#channelState.watch.ready();
    return this.#list();
  }

  unsubscribe(code) {
    const channelState = this.#channelState;
    if (!channelState) return;
    this.#channelState = null;
    channelState.remove(this, code);
  }

  close() {
    if (this.#closed) return;
    this.stop();
    this.#closed = true;
    this.unsubscribe("closed");
    this.#listeners.clear();
    this.feature.forget(this);
  }

  // The server forgets a closed connection's signals (or lets them lapse): start() sends again.
  onDisconnected() {
    this.#lastSentAt = -Infinity;
    this.#active = false;
  }

  matches(typist) {
    return this.scope === null || typist.scope === this.scope;
  }

  emit() {
    emitList(this.#listeners, Object.freeze(this.#list()), this.feature.ctx);
  }

  #watch() {
    if (this.#closed || this.#channelState) return;
    this.#channelState = this.feature.channelState(this.channel);
    this.#channelState.add(this);
  }

  #list() {
    const typists = this.#channelState?.typists;
    return typists ? [...typists.values()].filter((typist) => this.matches(typist)) : [];
  }

  #frame(op) {
    const frame = { op, channel: this.channel };
    if (this.scope !== null) frame.scope = this.scope;
    return frame;
  }
}

// ---------------------------------------------------------------------------------------------
// Feature: records and conflicts (ops record.*; push `record.stale`)

/**
 * True when version `a` descends version `b` (README, "Records and conflicts"): `a` has every
 * actor's counter of `b` at least as high, i.e. whoever read `a` has seen every write of `b`.
 */
export function descends(a, b) {
  for (const [actor, counter] of Object.entries(b ?? {})) {
    if (typeof counter === "number" && !((a?.[actor] ?? 0) >= counter)) return false;
  }
  return true;
}

/**
 * The wire `fields` of a commit from `{fields, values}`: the values object when values are given
 * (names in `fields` without a value are sent as null: changed, value not shared), else the array
 * of names, else undefined (a commit of the whole record). Throws TypeError on other shapes.
 */
export function commitFields(options) {
  const { fields, values } = options ?? {};
  if (fields !== undefined && fields !== null) {
    if (!Array.isArray(fields) || !fields.every((name) => typeof name === "string")) {
      throw new TypeError("fields must be an array of field names");
    }
  }
  if (values !== undefined && values !== null) {
    if (typeof values !== "object" || Array.isArray(values)) throw new TypeError("values must be an object of field values");
    const wire = {};
    for (const name of fields ?? []) wire[name] = null;
    for (const [name, value] of Object.entries(values)) wire[name] = value === undefined ? null : value;
    return wire;
  }
  return fields == null ? undefined : [...fields];
}

function toVersion(raw) {
  const version = {};
  if (raw !== null && typeof raw === "object" && !Array.isArray(raw)) {
    for (const [actor, counter] of Object.entries(raw)) if (typeof counter === "number") version[actor] = counter;
  }
  return Object.freeze(version);
}

function toDate(raw) {
  return raw === undefined || raw === null ? new Date(NaN) : new Date(raw);
}

// A change of a stale push or a conflict: {field, actor, at: Date, value?}.
function toChange(raw) {
  if (raw === null || typeof raw !== "object" || typeof raw.field !== "string") return null;
  const change = { field: raw.field, actor: typeof raw.actor === "string" ? raw.actor : null, at: toDate(raw.at) };
  if (raw.value !== undefined) change.value = raw.value;
  return Object.freeze(change);
}

function toChanges(raw) {
  return Object.freeze((Array.isArray(raw) ? raw : []).map(toChange).filter(Boolean));
}

function toRecordState(reply, channel, id) {
  const fields = {};
  if (reply.fields !== null && typeof reply.fields === "object") {
    for (const [name, raw] of Object.entries(reply.fields)) {
      if (raw === null || typeof raw !== "object") continue;
      const write = { actor: raw.actor, counter: raw.counter, at: toDate(raw.at) };
      if (raw.value !== undefined) write.value = raw.value;
      fields[name] = Object.freeze(write);
    }
  }
  const state = {
    channel: reply.channel ?? channel,
    record: reply.record === undefined ? id : String(reply.record),
    version: toVersion(reply.version),
    deleted: reply.deleted === true,
    fields: Object.freeze(fields),
  };
  if (reply.deletedBy !== null && typeof reply.deletedBy === "object") {
    state.deletedBy = Object.freeze({ actor: reply.deletedBy.actor, at: toDate(reply.deletedBy.at) });
  }
  return Object.freeze(state);
}

function toCommitResult(reply) {
  if (reply.op === "record.committed") {
    return Object.freeze({
      status: "accepted",
      version: toVersion(reply.version),
      dot: Object.freeze({ actor: reply.dot?.actor, counter: reply.dot?.counter }),
      fields: Object.freeze(Array.isArray(reply.fields) ? [...reply.fields] : []),
      deleted: reply.deleted === true,
    });
  }
  if (reply.op === "record.conflict") {
    const conflict = {
      status: "conflict",
      kind: reply.kind,
      conflicts: toChanges(reply.conflicts),
      version: toVersion(reply.version),
    };
    if (reply.deletedBy !== null && typeof reply.deletedBy === "object") {
      conflict.deletedBy = Object.freeze({ actor: reply.deletedBy.actor, at: toDate(reply.deletedBy.at) });
    }
    return Object.freeze(conflict);
  }
  throw new ConcordError("internal", `unexpected reply ${JSON.stringify(reply.op)} to a commit`, reply);
}

// The list of changes a banner shows: one entry per field, the latest write of it, in arrival order.
function mergeChanges(list, changes) {
  const merged = [...list];
  for (const change of changes) {
    const known = merged.findIndex((entry) => entry.field === change.field);
    if (known >= 0) merged.splice(known, 1);
    merged.push(change);
  }
  return Object.freeze(merged);
}

const NO_CHANGES = Object.freeze([]);

/**
 * One record (a channel plus an id) under conflict detection, from client.record(channel, id)
 * (README, "Records and conflicts"). version() reads it and remembers the version as the context;
 * edit() declares an editing session on that context, so that another user's commit pushes a stale
 * warning before Save; commit() sends the context back with the changes and resolves with
 * "accepted" or "conflict"; keepMine() and loadLatest() resolve a conflict.
 */
export class ConcordRecord {
  #state;

  constructor(state) {
    this.#state = state;
    this.channel = state.channel;
    this.id = state.id;
    Object.freeze(this);
  }

  /** Reads the record (record.get) and remembers its version as the context. */
  version() {
    return this.#state.version();
  }

  /** Declares editing on the context (reading it first when there is none); restored after every
   *  reconnect. Resolves with the context once the server confirmed. */
  edit() {
    return this.#state.edit();
  }

  /** Commits `{fields, values}` on the context: resolves with {status: "accepted", ...} or
   *  {status: "conflict", ...}; rejects with a ConcordError on a protocol error. */
  commit(options) {
    return this.#state.commit(options);
  }

  /** Deletes on the context; resolves like commit(). */
  delete() {
    return this.#state.delete();
  }

  /** "Keep my changes": the last conflicting commit (or delete) again, on the version the conflict gave. */
  keepMine() {
    return this.#state.keepMine();
  }

  /** "Load latest": version(), then a new edit() on it when editing; clears stale and lastConflict. */
  loadLatest() {
    return this.#state.loadLatest();
  }

  /** Ends the editing session (record.stop) and clears stale. Resolves, never rejects. */
  stop() {
    return this.#state.stop();
  }

  /** stop(), drop the listeners; client.record(channel, id) then makes a new object. */
  close() {
    return this.#state.close();
  }

  /** "stale": called with the stale list each time it changes (an empty list when it clears), and
   *  the stale push that changed it (null otherwise). Returns a function that removes the listener. */
  on(event, listener) {
    return this.#state.on(event, listener);
  }

  /** The version the next commit is made on, or null before the first read. */
  get context() {
    return this.#state.context;
  }

  /** What other users changed since the context, while editing: [{field, actor, at, value?}]. */
  get stale() {
    return this.#state.stale;
  }

  /** True between edit() and stop() (or a refused edit). */
  get editing() {
    return this.#state.editing;
  }

  /** The last commit's conflict until a commit is accepted or loadLatest(), else null. */
  get lastConflict() {
    return this.#state.lastConflict;
  }

  /** {context, stale, editing, lastConflict} at once. */
  get state() {
    const state = this.#state;
    return Object.freeze({ context: state.context, stale: state.stale, editing: state.editing, lastConflict: state.lastConflict });
  }
}

class RecordFeature extends ChannelFeature {
  ops = ["record.stale"];
  #records = new Map(); // JSON [channel, id] -> RecordEditState

  get(channel, id) {
    if (typeof channel !== "string") throw new TypeError("record needs a channel string");
    if (!(typeof id === "string" || (typeof id === "number" && Number.isFinite(id)))) {
      throw new TypeError("record needs an id: a string or a number");
    }
    const key = JSON.stringify([channel, String(id)]);
    let state = this.#records.get(key);
    if (!state) this.#records.set(key, (state = new RecordEditState(this, key, channel, String(id))));
    return state.handle;
  }

  forget(state) {
    if (this.#records.get(state.key) === state) this.#records.delete(state.key);
  }

  onConnected() {
    super.onConnected();
    for (const state of [...this.#records.values()]) state.onConnected();
  }

  onClosed() {
    for (const state of [...this.#records.values()]) state.onClosed();
  }

  onPush(frame) {
    if (typeof frame.channel !== "string" || frame.record === undefined || frame.record === null) return;
    this.#records.get(JSON.stringify([frame.channel, String(frame.record)]))?.onStale(frame);
  }
}

class RecordEditState {
  feature;
  key;
  channel;
  id;
  handle;
  #context = null;
  #stale = NO_CHANGES;
  #editing = false; // this client means to edit (restored after reconnects)
  #confirmedIn = 0; // the session whose record.edit was confirmed last
  #editCalls = []; // edit() calls waiting for a record.editing reply
  #reading = null; // the record.get of an edit() that had no context yet
  #lastConflict = null;
  #lastAttempt = null; // {op, fields} of the commit that conflicted
  #chain = Promise.resolve(); // commits go out one at a time, each on the context the previous left
  #listeners = new Set();
  #closed = false;

  constructor(feature, key, channel, id) {
    this.feature = feature;
    this.key = key;
    this.channel = channel;
    this.id = id;
    this.handle = new ConcordRecord(this);
  }

  get ctx() {
    return this.feature.ctx;
  }

  get context() {
    return this.#context;
  }

  get stale() {
    return this.#stale;
  }

  get editing() {
    return this.#editing;
  }

  get lastConflict() {
    return this.#lastConflict;
  }

  async version() {
    this.#checkOpen();
    const reply = await this.ctx.request({ op: "record.get", channel: this.channel, record: this.id });
    const state = toRecordState(reply, this.channel, this.id);
    this.#context = state.version;
    return state;
  }

  edit() {
    try {
      this.#checkOpen();
    } catch (error) {
      return Promise.reject(error);
    }
    this.#editing = true;
    return new Promise((resolve, reject) => {
      const call = { resolve, reject, settled: false, timer: null };
      const timeoutMs = this.ctx.requestTimeoutMs;
      if (timeoutMs > 0) {
        call.timer = setTimeout(() => this.#settle(call, new ConcordError("timeout", `no reply to record.edit within ${timeoutMs} ms`)), timeoutMs);
      }
      this.#editCalls.push(call);
      this.#sendEdit();
    });
  }

  commit(options) {
    let fields;
    try {
      this.#checkOpen();
      fields = commitFields(options);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#enqueue(() => this.#commitNow("record.commit", fields, null));
  }

  delete() {
    try {
      this.#checkOpen();
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#enqueue(() => this.#commitNow("record.delete", undefined, null));
  }

  keepMine() {
    const conflict = this.#lastConflict;
    const attempt = this.#lastAttempt;
    try {
      this.#checkOpen();
      if (!conflict || !attempt) throw new ConcordError("no_conflict", `no conflict to resolve on ${this.channel} record ${this.id}`);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#enqueue(() => this.#commitNow(attempt.op, attempt.fields, conflict.version));
  }

  async loadLatest() {
    const state = await this.version();
    this.#lastConflict = null;
    this.#lastAttempt = null;
    this.#setStale(NO_CHANGES, null);
    if (this.#editing) await this.edit();
    return state;
  }

  stop() {
    const wasEditing = this.#editing;
    this.#editing = false;
    this.#settleEdits(new ConcordError("stopped", `editing of ${this.channel} record ${this.id} was stopped`));
    this.#setStale(NO_CHANGES, null);
    const onServer = wasEditing && this.feature.live;
    this.#confirmedIn = 0;
    if (!onServer) return Promise.resolve();
    return new Promise((resolve) => {
      this.ctx.command({ op: "record.stop", channel: this.channel, record: this.id }, {
        onReply: () => resolve(),
        onError: (error) => {
          // unknown_subscription: the edit never went out, or was refused.
          if (!SESSION_ENDED.has(error.code) && error.code !== "unknown_subscription") this.ctx.report(error);
          resolve();
        },
      });
    });
  }

  close() {
    if (this.#closed) return Promise.resolve();
    const stopped = this.stop();
    this.#closed = true;
    this.#listeners.clear();
    this.feature.forget(this);
    return stopped;
  }

  on(event, listener) {
    if (event !== "stale") throw new TypeError(`unknown event "${event}": only "stale" is emitted`);
    if (typeof listener !== "function") throw new TypeError("listener must be a function");
    if (this.#closed) return () => {};
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  // A new session: the server forgot the editing session with the old socket. Edit again on the
  // context, then read the record for what changed while this client could not be warned.
  onConnected() {
    if (!this.#editing) return;
    const missed = this.#confirmedIn !== 0 && this.#context !== null;
    this.#sendEdit();
    if (missed) this.#catchUp(this.#context);
  }

  onClosed() {
    this.#settleEdits(new ConcordError("closed", "the client is closed"));
  }

  onStale(frame) {
    if (!this.#editing || this.#closed) return;
    const version = toVersion(frame.version);
    // A commit the context has already seen (read after it, e.g. by loadLatest()) is no news.
    if (this.#context !== null && descends(this.#context, version)) return;
    const changes = toChanges(frame.changes);
    const push = Object.freeze({
      by: typeof frame.by === "string" ? frame.by : null,
      deleted: frame.deleted === true,
      version,
      changes,
    });
    this.#setStale(mergeChanges(this.#stale, changes), push);
  }

  #checkOpen() {
    if (this.#closed) throw new ConcordError("closed", `the record ${this.id} of ${this.channel} was closed`);
    if (this.ctx.closed) throw new ConcordError("closed", "the client is closed");
  }

  #enqueue(work) {
    const run = this.#chain.then(work);
    this.#chain = run.catch(() => {});
    return run;
  }

  async #commitNow(op, fields, version) {
    const frame = { op, channel: this.channel, record: this.id, version: version ?? this.#context ?? {} };
    if (fields !== undefined) frame.fields = fields;
    const result = toCommitResult(await this.ctx.request(frame));
    if (result.status === "accepted") {
      // The form has seen what it was based on plus its own write, not other users' merged writes:
      // a later commit of a field someone else changed must still conflict.
      const seen = { ...frame.version };
      if ((seen[result.dot.actor] ?? 0) < result.dot.counter) seen[result.dot.actor] = result.dot.counter;
      this.#context = seen;
      this.#lastConflict = null;
      this.#lastAttempt = null;
      if (descends(seen, result.version)) this.#setStale(NO_CHANGES, null);
      // Moves the server's editing session to the new context (README, record.edit).
      if (this.#editing) this.#sendEdit();
    } else {
      this.#lastConflict = result;
      this.#lastAttempt = { op, fields };
    }
    return result;
  }

  // Sends record.edit with the context, reading the record first when there is none. Nothing goes
  // out while no session is live: onConnected sends it then.
  #sendEdit() {
    if (!this.#editing || this.#closed || !this.feature.live) return;
    if (this.#context === null) {
      if (this.#reading) return;
      this.#reading = this.version().then(
        () => {
          this.#reading = null;
          this.#sendEdit();
        },
        (error) => {
          this.#reading = null;
          // A session that ended is redone by onConnected; anything else refuses the edit.
          if (!SESSION_ENDED.has(error.code)) this.#refuseEdit(error);
        },
      );
      return;
    }
    const context = this.#context;
    const generation = this.ctx.generation;
    const calls = this.#editCalls;
    this.#editCalls = [];
    this.ctx.command({ op: "record.edit", channel: this.channel, record: this.id, version: context }, {
      timeoutMs: 0, // the calls have their own timers, which span reconnects
      onReply: () => {
        if (this.#editing && this.ctx.generation === generation) this.#confirmedIn = generation;
        for (const call of calls) this.#settle(call, null, context);
      },
      onError: (error) => {
        const waiting = calls.filter((call) => !call.settled);
        if (error.code === "disconnected") {
          this.#editCalls.unshift(...waiting); // sent again, and settled, on the next session
          return;
        }
        if (SESSION_ENDED.has(error.code)) {
          for (const call of waiting) this.#settle(call, error);
          return;
        }
        this.#refuseEdit(error, waiting);
      },
    });
  }

  #refuseEdit(error, calls = []) {
    const waiting = [...calls, ...this.#editCalls];
    this.#editCalls = [];
    this.#editing = false;
    this.#confirmedIn = 0;
    for (const call of waiting) this.#settle(call, error);
    if (waiting.length === 0) this.ctx.report(error);
  }

  #settleEdits(error) {
    const calls = this.#editCalls;
    this.#editCalls = [];
    for (const call of calls) this.#settle(call, error);
  }

  #settle(call, error, value) {
    if (call.settled) return;
    call.settled = true;
    clearTimeout(call.timer);
    const waiting = this.#editCalls.indexOf(call);
    if (waiting >= 0) this.#editCalls.splice(waiting, 1);
    if (error) call.reject(error);
    else call.resolve(value);
  }

  // After a reconnect: the writes of other users that the context has not seen, from the record's
  // state, as stale changes. A deletion is reported as a change of "*" by the actor and at the time
  // the state's `deletedBy` names.
  #catchUp(context) {
    this.ctx.command({ op: "record.get", channel: this.channel, record: this.id }, {
      onReply: (reply) => {
        if (!this.#editing || this.#context !== context) return;
        const state = toRecordState(reply, this.channel, this.id);
        if (descends(context, state.version)) return;
        const me = this.ctx.user;
        const changes = [];
        for (const [field, write] of Object.entries(state.fields)) {
          if (write.actor === me || (context[write.actor] ?? 0) >= write.counter) continue;
          const change = { field, actor: write.actor, at: write.at };
          if (write.value !== undefined) change.value = write.value;
          changes.push(Object.freeze(change));
        }
        changes.sort((a, b) => a.at - b.at);
        if (state.deleted && state.deletedBy) {
          if (state.deletedBy.actor !== me) changes.push(Object.freeze({ field: "*", actor: state.deletedBy.actor, at: state.deletedBy.at }));
        } else if (state.deleted) {
          // A server that does not say who deleted it: an actor whose counter moved, noticed now.
          const movers = Object.keys(state.version).filter((actor) => actor !== me && (context[actor] ?? 0) < state.version[actor]);
          if (movers.length > 0) changes.push(Object.freeze({ field: "*", actor: movers.at(-1), at: new Date() }));
        }
        if (changes.length > 0) this.#setStale(mergeChanges(this.#stale, changes), null);
      },
      onError: (error) => {
        if (!SESSION_ENDED.has(error.code)) this.ctx.report(error);
      },
    });
  }

  #setStale(list, push) {
    if (list === this.#stale || (list.length === 0 && this.#stale.length === 0)) return;
    this.#stale = list;
    for (const listener of [...this.#listeners]) {
      try {
        listener(list, push);
      } catch (error) {
        this.ctx.report(error);
      }
    }
  }
}

/** Same as `new ConcordClient(url, options)`. */
export function createClient(url, options) {
  return new ConcordClient(url, options);
}

// ---------------------------------------------------------------------------------------------
// Refine

/**
 * Refine's LiveProvider over a Concord client:
 *
 *   <Refine liveProvider={liveProvider(client)} ... />
 *
 * subscribe returns its handle synchronously, as Refine stores it without awaiting; unsubscribe
 * takes that handle (a second call does nothing); publish never throws nor leaves a rejected promise
 * behind: a refusal (e.g. `forbidden` where browsers may not publish) goes to the client's error
 * listeners, or console.warn when there are none.
 */
export function liveProvider(client) {
  return {
    subscribe({ channel, types, params, callback }) {
      return client.subscribe({ channel, types: types ?? ["*"], params, callback });
    },
    unsubscribe(subscription) {
      client.unsubscribe(subscription);
    },
    publish(event) {
      client.publish(event).catch((error) => client[REPORT](error));
    },
  };
}
