// Feature: presence (ops presence.*; push `presence.event`).

import { ConcordError, SESSION_ENDED } from "./errors.js";
import { ChannelFeature, Watch, addChangeListener, emitList } from "./feature.js";

function toMember(raw) {
  if (raw === null || typeof raw !== "object" || typeof raw.user !== "string") return null;
  return Object.freeze({
    user: raw.user,
    info: raw.info === undefined ? null : raw.info,
    connections: typeof raw.connections === "number" ? raw.connections : 1,
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

export class PresenceFeature extends ChannelFeature {
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
