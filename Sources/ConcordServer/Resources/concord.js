// Concord reference client for protocol v1 (see README.md beside this file).
//
// An ES module with no dependencies. It runs in browsers and in Node >= 20 (global WebSocket, or
// pass `options.WebSocket`). The server serves this same file at GET /v1/client.js.
//
//   import { createClient, liveProvider } from "/v1/client.js";
//   const client = createClient("ws://localhost:7700/v1/ws");
//   <Refine liveProvider={liveProvider(client)} options={{ liveMode: "auto" }} />
//
// Structure: ConcordClient owns the socket, the connection state, reconnects and request/reply
// correlation. What lives on top of a session is a "feature": channel subscriptions, presence
// (`client.presence(channel)`) and typing (`client.typing(channel)`). A feature is told when a
// session starts or ends and receives the server pushes of its ops; each one restores its state on
// the server after a reconnect by itself. Records (ops `record.*`) are meant to be added the same way.

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

// Lets liveProvider() report through a client without making reporting public API.
const REPORT = Symbol("concord.report");

/** An error with a machine-readable `code`: a server code (README, "Error codes") or a client one
 *  (`disconnected`, `closed`, `timeout`, `payload_too_large`, `invalid_event`). */
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

  #nextId = 1;
  #pending = new Map(); // request id -> entry, for requests on the wire
  #queue = []; // requests waiting for a session

  #features = [];
  #routes = new Map(); // push op -> feature
  #subscriptions;
  #presence;
  #typing;

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
    this.#reconnect = options.reconnect === false ? false : { ...DEFAULT_RECONNECT, ...options.reconnect };
    this.#heartbeat = options.heartbeat === false ? false : { ...DEFAULT_HEARTBEAT, ...options.heartbeat };
    this.#requestTimeoutMs = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;

    this.#subscriptions = this.#addFeature(new Subscriptions(this.#featureContext()));
    this.#presence = this.#addFeature(new PresenceFeature(this.#featureContext()));
    this.#typing = this.#addFeature(new TypingFeature(this.#featureContext()));
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

  #connect() {
    this.#reconnectTimer = null;
    if (this.#closed) return;
    this.#setState("connecting");
    let ws;
    try {
      const params = typeof this.#options.params === "function" ? this.#options.params() : this.#options.params;
      ws = new this.#WebSocket(buildUrl(this.#url, params));
    } catch (error) {
      this.#report(error);
      this.#setState("disconnected", { code: 1006, reason: String(error?.message ?? error) });
      this.#scheduleReconnect();
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
    // Unknown pushes are ignored: v1 may add ops and fields (README, "Versioning").
    this.#routes.get(frame.op)?.onPush(frame);
  }

  #onWelcome(conn, frame) {
    conn.welcomed = true;
    this.welcome = frame;
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
    this.#scheduleReconnect();
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
