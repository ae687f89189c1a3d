// Feature: typing (ops typing.*; push `typing.event`).

import { ConcordError } from "./errors.js";
import { ChannelFeature, Watch, addChangeListener, emitList } from "./feature.js";

const DEFAULT_TYPING_INTERVAL_MS = 1000;

const monotonicNow = () => (typeof globalThis.performance?.now === "function" ? globalThis.performance.now() : Date.now());

function toTypist(raw) {
  if (raw === null || typeof raw !== "object" || typeof raw.user !== "string") return null;
  return Object.freeze({
    user: raw.user,
    name: typeof raw.name === "string" ? raw.name : null,
    scope: typeof raw.scope === "string" ? raw.scope : null,
  });
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

export class TypingFeature extends ChannelFeature {
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
