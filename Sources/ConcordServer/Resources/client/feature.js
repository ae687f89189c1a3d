// What the channel features share: when a session is live for them (presence, typing, records),
// the watch of a channel's snapshot and pushes, and "change" listeners (presence, typing).

import { ConcordError, SESSION_ENDED } from "./errors.js";

// What presence and typing share. A session is "live" for them once their onConnected has run, so
// that a call made from a "state" listener, before the feature restored the session, waits for the
// restore instead of racing it. `drain` counts the unsubscribes in flight per channel (see Watch).
export class ChannelFeature {
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
export class Watch {
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
export function emitList(listeners, list, ctx) {
  for (const listener of [...listeners]) {
    try {
      listener(list);
    } catch (error) {
      ctx.report(error);
    }
  }
}

export function addChangeListener(listeners, event, listener) {
  if (event !== "change") throw new TypeError(`unknown event "${event}": only "change" is emitted`);
  if (typeof listener !== "function") throw new TypeError("listener must be a function");
  listeners.add(listener);
  return () => listeners.delete(listener);
}
