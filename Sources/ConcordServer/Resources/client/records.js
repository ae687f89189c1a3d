// Feature: records and conflicts (ops record.*; push `record.stale`).

import { ConcordError, SESSION_ENDED } from "./errors.js";
import { ChannelFeature } from "./feature.js";
import { NO_CHANGES, commitFields, descends, mergeChanges, toChanges, toCommitResult, toRecordState, toVersion } from "./record-wire.js";

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

export class RecordFeature extends ChannelFeature {
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
