// The client: the socket, the connection state, reconnects, the heartbeat, token refresh and
// request/reply correlation. What lives on top of a session is a feature (subscriptions.js,
// presence.js, typing.js, records.js); the client creates one of each and tells it when a session
// starts or ends, and hands it the pushes of its ops. The features never import this module.

import { ConcordError, REPORT, SESSION_ENDED } from "./errors.js";
import { DEFAULT_RECONNECT, backoffDelay } from "./backoff.js";
import { buildUrl, toWireEvent, utf8Length } from "./wire.js";
import { checkedToken, expiryOf, isThenable, tokenError } from "./token.js";
import { Subscriptions } from "./subscriptions.js";
import { PresenceFeature } from "./presence.js";
import { TypingFeature } from "./typing.js";
import { RecordFeature } from "./records.js";

const DEFAULT_HEARTBEAT = Object.freeze({ intervalMs: 25_000, timeoutMs: 10_000 });
const DEFAULT_REQUEST_TIMEOUT_MS = 10_000;

// The server closes with this code when the token expired without a refresh (README, "Close codes").
const CLOSE_TOKEN_EXPIRED = 4001;

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
  #reconnectHint = null; // ms the server asked us to wait before coming back (`reconnect` push)
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
    if (frame.op === "reconnect") {
      // The server is going away (a restart, a deploy): come back after its hint, not at once
      // with everyone else, and not after a backoff that grew for no fault of ours.
      if (Number.isInteger(frame.afterMs) && frame.afterMs >= 0) this.#reconnectHint = frame.afterMs;
      return;
    }
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
    const hint = this.#reconnectHint;
    this.#reconnectHint = null;
    const delay = hint ?? backoffDelay(this.#attempt++, this.#reconnect);
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
