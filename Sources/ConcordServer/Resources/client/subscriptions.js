// Feature: channel subscriptions (ops subscribe, unsubscribe; push `event`).

import { ConcordError, SESSION_ENDED } from "./errors.js";
import { admits, idsOf, toLiveEvent } from "./wire.js";

// Server limits on one subscribe frame (README, "Limits"). Past them the client asks the server for
// more (every id, every type) instead of being refused, and its own filter narrows it down.
const MAX_SERVER_IDS = 1000;
const MAX_SERVER_TYPES = 64;

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

export class Subscriptions {
  ops = ["event"];
  #ctx;
  #records = new Map(); // sub -> record, in subscription order
  #byHandle = new WeakMap(); // Subscription -> record
  #nextSub = 1;

  constructor(ctx) {
    this.#ctx = ctx;
  }

  add(options) {
    const { channel, types = ["*"], params, callback, onSubscribed, coalesce } = options ?? {};
    if (typeof channel !== "string") throw new TypeError("subscribe needs a channel string");
    if (coalesce !== undefined && !(Number.isInteger(coalesce) && coalesce >= 10 && coalesce <= 60_000)) {
      throw new TypeError("coalesce must be milliseconds from 10 to 60000");
    }
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
      coalesce, // at most one event per this many ms, merged by the server; they come for this sub alone
      status: "pending",
      error: undefined,
      sentIn: 0, // the session the last subscribe frame went out on
      everActive: false,
      // The channel position this subscription has seen everything up to ({offset, epoch}), sent as
      // `since` when it is restored after a reconnect, so the server replays what it missed.
      position: null,
      replayLeft: 0, // replayed events still to come after a `subscribed` that recovered
      replayEnd: null, // the position once they are in
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
    const { channel, offset, event, sub } = frame;
    if (typeof channel !== "string" || event === null || typeof event !== "object") return;
    const live = toLiveEvent(event, channel);
    const info = { channel, offset };
    if (sub !== undefined) {
      // For one subscription alone: an event it missed while away (replayed after its
      // `subscribed`), or a coalescing subscription's event.
      const record = this.#records.get(String(sub));
      if (!record || record.channel !== channel || record.status !== "active") return;
      const replayed = record.replayLeft > 0;
      this.#replayed(record, offset);
      this.#deliver(record, live, replayed ? { ...info, replayed: true } : info);
      return;
    }
    // The server sends a live event once per connection even when several subscriptions admit it:
    // hand it to each local subscription whose filter admits it.
    for (const record of [...this.#records.values()]) {
      // Re-checked per record: an earlier callback may have unsubscribed this one.
      if (record.channel !== channel || record.status !== "active" || record.coalesce !== undefined) continue;
      if (record.replayLeft === 0 && record.position && typeof offset === "number") record.position.offset = offset;
      if (admits(record, live)) this.#deliver(record, live, info);
    }
  }

  #deliver(record, live, info) {
    try {
      record.callback(live, info);
    } catch (error) {
      this.#ctx.report(error);
    }
  }

  #replayed(record, offset) {
    if (typeof offset === "number" && record.position) record.position.offset = offset;
    if (record.replayLeft > 0 && --record.replayLeft === 0) {
      record.position = record.replayEnd;
      record.replayEnd = null;
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
    if (record.coalesce !== undefined) frame.coalesce = record.coalesce;
    // Restored after a reconnect: ask for what was missed since the last event seen.
    if (record.everActive && record.position) frame.since = { ...record.position };
    // No timeout: only a dead connection keeps the reply away, and that ends the session anyway.
    this.#ctx.command(frame, {
      timeoutMs: 0,
      onReply: (reply) => this.#onSubscribed(record, generation, reply),
      onError: (error) => this.#onRefused(record, generation, error),
    });
  }

  #onSubscribed(record, generation, reply) {
    if (record.status !== "subscribing" || record.sentIn !== generation) return; // ended meanwhile
    const resumed = record.everActive;
    const recovered = reply.recovered === true;
    const now = { offset: reply.offset, epoch: reply.epoch };
    if (recovered && reply.replayed > 0) {
      // The missed events follow this reply; the position moves past them as they come.
      record.replayLeft = reply.replayed;
      record.replayEnd = now;
    } else {
      record.replayLeft = 0;
      record.position = now;
    }
    record.status = "active";
    record.everActive = true;
    // Restored after a reconnect without every missed event: the app must refetch.
    const gap = resumed && !recovered;
    const info = { sub: record.sub, channel: record.channel, offset: reply.offset, epoch: reply.epoch, resumed, gap };
    if (reply.recovered !== undefined) info.recovered = recovered;
    if (recovered) info.replayed = reply.replayed ?? 0;
    else if (resumed) info.reason = reply.reason ?? "not_asked";
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
