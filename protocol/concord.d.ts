// Type declarations for concord.js, the Concord reference client (protocol v1).
// The Refine shapes below mirror @refinedev/core's LiveEvent and LiveProvider without importing it.

export declare const PROTOCOL_VERSION: 1;

// ---------------------------------------------------------------------------------------------
// Refine-compatible shapes

/** Refine's BaseKey: record ids are strings or numbers and compare as strings. */
export type BaseKey = string | number;

/** Refine's LiveEvent as callbacks receive it: `date` is a Date. */
export interface LiveEvent {
  channel: string;
  type: "deleted" | "updated" | "created" | "*" | (string & {});
  payload: {
    ids?: BaseKey[];
    [key: string]: any;
  };
  date: Date;
  meta?: {
    dataProviderName?: string;
    [key: string]: any;
  };
}

/** A LiveEvent to publish: `date` may be a Date, an ISO string, a timestamp, or left to the server. */
export interface PublishEvent {
  channel: string;
  type: LiveEvent["type"];
  payload?: LiveEvent["payload"];
  date?: Date | string | number;
  meta?: LiveEvent["meta"];
}

/** Refine's subscription params (useList / useOne / useMany / useSubscription). Only `ids` filters. */
export interface LiveSubscribeParams {
  ids?: BaseKey[];
  id?: BaseKey;
  subscriptionType?: "useList" | "useOne" | "useMany" | (string & {});
  resource?: string;
  pagination?: unknown;
  sorters?: unknown;
  filters?: unknown;
  meta?: unknown;
  [key: string]: any;
}

/** What Refine passes to LiveProvider.subscribe. */
export interface LiveSubscribeOptions {
  channel: string;
  types: Array<LiveEvent["type"]>;
  callback: (event: LiveEvent) => void;
  params?: LiveSubscribeParams;
  meta?: Record<string, any> & { dataProviderName?: string };
  /** Older Refine versions pass this at the top level. */
  dataProviderName?: string;
}

/** Refine's LiveProvider. */
export interface LiveProvider {
  /** Returns the handle synchronously; Refine passes it back to unsubscribe as is. */
  subscribe(options: LiveSubscribeOptions): Subscription;
  /** Accepts what subscribe returned; a second call does nothing. */
  unsubscribe(subscription: Subscription): void;
  /** Never throws; a refusal goes to the client's "error" listeners (or console.warn). */
  publish(event: LiveEvent | PublishEvent): void;
}

// ---------------------------------------------------------------------------------------------
// Client

export type ConnectionState = "connecting" | "connected" | "disconnected";

/** Server error codes (README, "Error codes") and the client's own. */
export type ErrorCode =
  | "invalid_json"
  | "invalid_frame"
  | "unknown_op"
  | "invalid_channel"
  | "invalid_event"
  | "duplicate_subscription"
  | "unknown_subscription"
  | "too_many_subscriptions"
  | "not_present"
  | "anonymous"
  | "rate_limited"
  /** the record store could not write, or could not read the record: the command was not carried out */
  | "unavailable"
  | "forbidden"
  | "unauthorized"
  | "internal"
  /** HTTP API and refused upgrades only: never in a WebSocket error frame */
  | "not_found"
  | "method_not_allowed"
  | "headers_too_large"
  | "bad_request"
  | "unsupported_media_type"
  | "too_many_connections"
  /** client: the session ended before the reply */
  | "disconnected"
  /** client: close() was called */
  | "closed"
  /** client: no reply within requestTimeoutMs */
  | "timeout"
  /** client: the frame is over the server's maxMessageBytes and was not sent */
  | "payload_too_large"
  /** client: the subscription was ended before the server confirmed it (Subscription.ready,
   *  Presence.subscribe(), Typing.subscribe()) */
  | "unsubscribed"
  /** client: edit() was overtaken by stop() or close() before the server confirmed it */
  | "stopped"
  /** client: keepMine() without a conflict to resolve */
  | "no_conflict"
  /** client: the token function threw, rejected or returned something that is not a non-empty
   *  string (the original error is the `cause`); at connect time a reconnect follows with backoff */
  | "token_failed"
  /** client: the server sent `token.expiring` but `token` is a string: there is nothing to refresh with */
  | "token_expiring"
  /** client: the server closed the connection with 4001 (token expired, not refreshed); a reconnect
   *  with a fresh token from the token function follows */
  | "token_expired"
  | (string & {});

export declare class ConcordError extends Error {
  constructor(code: ErrorCode, message?: string, frame?: ErrorFrame);
  readonly name: "ConcordError";
  readonly code: ErrorCode;
  /** The server's error frame, when the error came from one. */
  readonly frame?: ErrorFrame;
}

export interface ReconnectOptions {
  /** Delay before the first retry. Default 250. */
  initialDelayMs?: number;
  /** Cap on the delay. Default 10000. */
  maxDelayMs?: number;
  /** Growth per failed attempt. Default 2. */
  factor?: number;
  /** Share of the delay taken away at random: 1 = full jitter, 0 = none. Default 0.5. */
  jitter?: number;
}

export interface HeartbeatOptions {
  /** Time between ping commands while connected. Default 25000. */
  intervalMs?: number;
  /** The connection is given up on (and re-established) without a pong by then. Default 10000. */
  timeoutMs?: number;
}

/** Query parameters of the WebSocket URL, e.g. `{user}` in development mode or `{token}`. */
export type QueryParams = Record<string, string | number | boolean | null | undefined>;

export interface WebSocketLike {
  send(data: string): void;
  close(code?: number, reason?: string): void;
  addEventListener(type: "message", listener: (event: { data: unknown }) => void): void;
  addEventListener(type: "close", listener: (event: { code: number; reason: string }) => void): void;
  removeEventListener(type: string, listener: (...args: any[]) => void): void;
}

export type WebSocketConstructor = new (url: string) => WebSocketLike;

/**
 * A JWT, or a function that returns one (or a Promise of one). A function is called before every
 * connect and reconnect (a browser only sees a refused, e.g. expired, token as a failed connection)
 * and when the server pushes `token.expiring`, whereupon the client sends the new token in an
 * `auth` command on the open connection.
 */
export type TokenSource = string | (() => string | PromiseLike<string>);

export interface ClientOptions {
  /** WebSocket implementation; defaults to globalThis.WebSocket. */
  WebSocket?: WebSocketConstructor;
  /** The token, sent as `?token=` (added to `params`, overriding a `token` there). Errors of the token
   *  function and of refreshes go to the "error" listeners (`token_failed`, `unauthorized`,
   *  `forbidden`, ...), never thrown; a failure at connect time is retried with the reconnect backoff. */
  token?: TokenSource;
  /** Backoff after an unexpected close, or false to never reconnect. */
  reconnect?: ReconnectOptions | false;
  /** Application-level pings that detect half-open connections, or false. */
  heartbeat?: HeartbeatOptions | false;
  /** Query parameters; a function is called before every (re)connect. Prefer `token` for tokens:
   *  only it refreshes the token on `token.expiring` without a reconnect. */
  params?: QueryParams | (() => QueryParams);
  /** Timeout of request(), publish() and ping(), including time spent waiting for a session. Default 10000; 0 = none. */
  requestTimeoutMs?: number;
  /** Called with every error that has no pending request to reject (as are "error" listeners). */
  onError?: (error: Error) => void;
}

/** Information passed with "state" events when the connection is lost. */
export interface CloseInfo {
  /** WebSocket close code (README, "Close codes"); 1006 when the connection failed or timed out
   *  (or the server refused the upgrade, e.g. a bad token); 4001 when the token expired. */
  code: number;
  reason: string;
}

export interface ClientEvents {
  state: (state: ConnectionState, info?: CloseInfo) => void;
  error: (error: Error) => void;
}

/** Passed with each event to subscription callbacks after the LiveEvent. */
export interface EventInfo {
  channel: string;
  offset: number;
  /** True for an event missed while disconnected and replayed on recovery (it comes before any
   *  live event of the restored subscription). */
  replayed?: true;
}

/** Told each time the server confirms a subscription (first time and after every reconnect). */
export interface SubscribedInfo {
  sub: string;
  channel: string;
  /** The channel's last offset when subscribing: later events arrive. */
  offset: number;
  /** Names the channel's stream; offsets of another epoch are not comparable. */
  epoch: string;
  /** True when this confirms a subscription restored after a reconnect. */
  resumed: boolean;
  /** True when a restored subscription could not get every event it missed: refetch. */
  gap: boolean;
  /** For a restored subscription that asked: whether every missed event is replayed. */
  recovered?: boolean;
  /** When recovered: how many missed events follow, each with `info.replayed` set. */
  replayed?: number;
  /** When a restored subscription has a gap, why: "epoch_changed", "history_too_short",
   *  "gap_too_long", "position_ahead", or "not_asked" (it had no position to ask from). */
  reason?: "epoch_changed" | "history_too_short" | "gap_too_long" | "position_ahead" | "not_asked";
}

export interface SubscribeOptions {
  channel: string;
  /** Event types wanted; default ["*"]. */
  types?: Array<LiveEvent["type"]>;
  /** Refine's params; `params.ids` filters (compared as strings), the rest is kept for the caller. */
  params?: LiveSubscribeParams;
  /** Called with each admitted event, in offset order. */
  callback: (event: LiveEvent, info: EventInfo) => void;
  onSubscribed?: (info: SubscribedInfo) => void;
  /** At most one event per this many ms (10 to 60000): the server sends the first at once and
   *  merges what comes during the window into one event per type (ids united,
   *  `meta.concord.coalesced` = how many). */
  coalesce?: number;
}

export type SubscriptionStatus = "pending" | "subscribing" | "active" | "failed" | "closed";

/** The handle subscribe() returns. */
export declare class Subscription {
  private constructor();
  /** The client-chosen id on the wire: "s1", "s2", ... */
  readonly sub: string;
  readonly channel: string;
  readonly types: ReadonlyArray<string>;
  readonly params: LiveSubscribeParams | undefined;
  readonly status: SubscriptionStatus;
  /** The server's refusal when status is "failed" (it is retried after a reconnect). */
  readonly error: ConcordError | undefined;
  /** Resolves with the first confirmation; rejects when the first attempt is refused, or the
   *  subscription is ended or the client closed before it. Never an unhandled rejection. */
  readonly ready: Promise<SubscribedInfo>;
  unsubscribe(): void;
}

export interface WelcomeFrame {
  op: "welcome";
  v: number;
  epoch: string;
  session: string;
  user: string | null;
  /** When the token expires, in ms since the epoch; null without a token. */
  expiresAt: number | null;
  limits: { maxMessageBytes: number; maxSubscriptions: number; [key: string]: unknown };
  [key: string]: unknown;
}

/** Pushed `--token-notice` ms (default 60000) before the token expires, or at once after `welcome`
 *  when less time remains. The client answers with an `auth` command. */
export interface TokenExpiringFrame {
  op: "token.expiring";
  /** The current token's expiry, in ms since the epoch. */
  expiresAt: number;
}

/** Pushed when the server shuts down gracefully, right before it closes the connection with 4012:
 *  the client waits `afterMs` (spread over the server's --drain-window) instead of its backoff, then
 *  reconnects and recovers its subscriptions. */
export interface ReconnectFrame {
  op: "reconnect";
  afterMs: number;
}

/** Client to server: replaces the connection's token (same `sub`; its caps apply to later commands). */
export interface AuthFrame {
  op: "auth";
  /** The client always sends one, to match the reply. */
  id?: number | string;
  token: string;
}

/** The reply to `auth`. Errors: `unauthorized` (bad or expired token), `forbidden` (another `sub`). */
export interface AuthedFrame {
  op: "authed";
  /** The `auth` command's id, when it had one. */
  id?: number | string;
  user: string;
  /** The new token's expiry, in ms since the epoch. */
  expiresAt: number;
}

export interface ErrorFrame {
  op: "error";
  id?: number | string;
  code: ErrorCode;
  message: string;
}

/** A reply frame: `subscribed`, `unsubscribed`, `published`, `pong`, ... */
export interface ReplyFrame {
  op: string;
  id: number | string;
  [key: string]: unknown;
}

export interface PublishResult {
  channel: string;
  offset: number;
}

export declare class ConcordClient {
  /** Connects at once. Throws on a malformed URL or when no WebSocket implementation exists. */
  constructor(url: string | URL, options?: ClientOptions);
  readonly state: ConnectionState;
  /** True once close() was called. */
  readonly closed: boolean;
  /** The last welcome frame, or null before the first. */
  readonly welcome: WelcomeFrame | null;
  /** When the session's token expires (ms since the epoch): `welcome.expiresAt`, then the
   *  `expiresAt` of each accepted refresh. Null without a token or before the first welcome. */
  readonly tokenExpiresAt: number | null;
  /** Adds a listener; returns a function that removes it. */
  on<E extends keyof ClientEvents>(event: E, listener: ClientEvents[E]): () => void;
  /** Returns synchronously; subscribes when connected and again after every reconnect. */
  subscribe(options: SubscribeOptions): Subscription;
  /** Idempotent; anything that is not a live handle is ignored. */
  unsubscribe(subscription: Subscription | unknown): void;
  publish(event: LiveEvent | PublishEvent): Promise<PublishResult>;
  ping(): Promise<void>;
  /** Low level: sends `frame` with a fresh `id` once connected and resolves with the reply. */
  request(frame: { op: string; [key: string]: unknown }, options?: { timeoutMs?: number }): Promise<ReplyFrame>;
  /**
   * The presence of `channel`: the same object until its close(). Entering does not subscribe;
   * members(), on("change") and subscribe() do.
   */
  presence(channel: string): Presence;
  /**
   * Typing signals on `channel` for `options.scope` (none by default): the same object per
   * (channel, scope) until its close(). `options.interval` updates the object's interval.
   */
  typing(channel: string, options?: TypingOptions): Typing;
  /**
   * The record `id` of `channel` under conflict detection: the same object per
   * (channel, String(id)) until its close(). Throws TypeError unless `id` is a string or a number.
   */
  record(channel: string, id: BaseKey): ConcordRecord;
  /** Stops for good: no reconnect; pending requests reject with `closed`. */
  close(): void;
}

// ---------------------------------------------------------------------------------------------
// Presence and typing (README, "Presence" and "Typing")

/** Any JSON value; the server refuses more than 2,048 bytes once serialised (`invalid_frame`). */
export type PresenceInfo = unknown;

/** One user on a channel, however many tabs: `connections` counts its sessions (tabs, backend entries). */
export interface PresenceMember<Info = PresenceInfo> {
  readonly user: string;
  readonly info: Info;
  readonly connections: number;
}

/** The replies enter(), update() and leave() resolve with. After a reconnect the reply may be the
 *  one of the enter that restored the presence, or made up by the client (without `id`) for a call
 *  that the new session made moot: a leave, or an enter undone by a later leave. */
export interface PresenceReply {
  op: "presence.entered" | "presence.updated" | "presence.left";
  id?: number | string;
  channel: string;
  [key: string]: unknown;
}

/** "idle" (not subscribed), "pending" (waiting for a session), "subscribing", "active",
 *  "failed" (refused; retried after a reconnect) or "closed". */
export type WatchStatus = "idle" | "pending" | "subscribing" | "active" | "failed" | "closed";

/**
 * The presence of one channel, from client.presence(channel).
 *
 * Being present: enter(), update() and leave() send their command when a session is up and
 * resolve with its reply, or reject with a ConcordError: the server's code (`anonymous`,
 * `not_present`, `invalid_frame`, `invalid_channel`, `too_many_subscriptions`), `timeout`
 * (requestTimeoutMs, counting time offline), or `closed`. A session ending before the reply does not
 * reject: the client re-enters with the latest info on every new session, and the call settles
 * with that outcome.
 *
 * Watching: the first "change" listener, members() or subscribe() sends presence.subscribe (again
 * after every reconnect). The list is the snapshot plus every presence.event after it; events that
 * arrive before the snapshot reply are applied after it. While reconnecting the last known list is
 * kept (nothing is emitted) until the new snapshot replaces it.
 */
export declare class Presence<Info = PresenceInfo> {
  private constructor();
  readonly channel: string;
  /** Enters with `info` (default {}); entering again updates the info. */
  enter(info?: Info): Promise<PresenceReply>;
  /** Replaces the info (of the member, for all its tabs); rejects with `not_present` before enter(). */
  update(info: Info): Promise<PresenceReply>;
  /** Leaves; no longer restored after a reconnect. */
  leave(): Promise<PresenceReply>;
  /** True between enter() and leave() or close(). */
  readonly entered: boolean;
  /** The info of the last enter() or update(), undefined when not entered. */
  readonly info: Info | undefined;
  /** The current members, longest present first, then arrivals. Subscribes if needed. */
  members(): PresenceMember<Info>[];
  /** The number of members. Exceeds members().length when the snapshot was capped at the server's
   *  maxPresenceMembers; members beyond the cap join the list when an event names them. */
  readonly total: number;
  /** Of the member list. */
  readonly status: WatchStatus;
  /** True once the snapshot of the current session has arrived. */
  readonly synced: boolean;
  /** The server's refusal of presence.subscribe when status is "failed". */
  readonly error: ConcordError | undefined;
  /** Called with the full member list after each snapshot and each presence.event. Subscribes if
   *  needed; a listener added later is not called with the current list (read members()).
   *  Returns a function that removes the listener (which does not unsubscribe). */
  on(event: "change", listener: (members: ReadonlyArray<PresenceMember<Info>>) => void): () => void;
  /** Subscribes if needed; resolves with the list once a snapshot is in (at once when in sync).
   *  Rejects when refused, or when unsubscribed, closed or the client closed before. */
  subscribe(): Promise<PresenceMember<Info>[]>;
  /** Stops watching and clears the list; the presence of this client is not touched. */
  unsubscribe(): void;
  /** Leaves (when entered), unsubscribes and drops the listeners; calls waiting for a session reject
   *  with `closed`. client.presence(channel) then returns a new object. Resolves, never rejects,
   *  once the leave is answered. */
  close(): Promise<void>;
}

/** Someone typing: `name` from their connection (`?name=` in development mode), `scope` null when not given. */
export interface Typist {
  readonly user: string;
  readonly name: string | null;
  readonly scope: string | null;
}

export interface TypingOptions {
  /** The field, thread, ... this object signals for and lists; at most 64 bytes. Default none (null). */
  scope?: string | null;
  /** Least time in ms between two typing.start frames; default 1000. Keep it well under the
   *  server's typing TTL (3000 by default) so continued typing refreshes it in time. */
  interval?: number;
}

/**
 * Typing on one channel and scope, from client.typing(channel, {scope}).
 *
 * start() and stop() send `typing.start` / `typing.stop` without an id: there is no reply, and a
 * refusal (`anonymous`, `rate_limited`, ...) goes to the client's "error" listeners. Nothing is
 * sent while disconnected, nor queued.
 *
 * typing(), on("change") and subscribe() send typing.subscribe (one per channel, shared by every
 * scope; again after every reconnect). The list never holds this client's own user.
 */
export declare class Typing {
  private constructor();
  readonly channel: string;
  readonly scope: string | null;
  readonly interval: number;
  /** Safe on every keystroke: sends at once, then at most once per interval while called again. */
  start(): void;
  /** Sends typing.stop when a start went out since the last stop; the next start() sends at once. */
  stop(): void;
  /** True between a start() that went out and stop() or a disconnect. */
  readonly active: boolean;
  /** Who else is typing: in this scope, or in the whole channel when this object has no scope.
   *  Subscribes if needed. */
  typing(): Typist[];
  readonly status: WatchStatus;
  readonly synced: boolean;
  /** Called with typing() after each snapshot and each typing.event that changes it. Subscribes if
   *  needed. Returns a function that removes the listener. */
  on(event: "change", listener: (typists: ReadonlyArray<Typist>) => void): () => void;
  /** Subscribes if needed; resolves with typing() once a snapshot is in. */
  subscribe(): Promise<Typist[]>;
  /** Stops watching (the channel is unsubscribed when no scope watches it any more). */
  unsubscribe(): void;
  /** stop(), unsubscribe and drop the listeners; client.typing() then returns a new object. */
  close(): void;
}

/** A `presence.event` push. */
export interface PresenceEventFrame {
  op: "presence.event";
  channel: string;
  action: "join" | "update" | "leave";
  member: PresenceMember;
}

/** The reply to `presence.subscribe`. */
export interface PresenceSnapshotFrame {
  op: "presence.snapshot";
  id?: number | string;
  channel: string;
  total: number;
  members: PresenceMember[];
}

/** A `typing.event` push. */
export interface TypingEventFrame {
  op: "typing.event";
  channel: string;
  action: "started" | "stopped";
  typist: Typist;
}

/** The reply to `typing.subscribe`. */
export interface TypingSnapshotFrame {
  op: "typing.snapshot";
  id?: number | string;
  channel: string;
  typing: Typist[];
}

// ---------------------------------------------------------------------------------------------
// Records and conflicts (README, "Records and conflicts")

/** A version vector: actor (user id, backend name, or the floor actor "~") to counter. `{}` for a
 *  record never written. */
export type Version = Readonly<{ [actor: string]: number }>;

/** The write that last changed a field. */
export interface Dot {
  readonly actor: string;
  readonly counter: number;
}

/** A field another actor changed: in a stale warning, or in a conflict. `field` is `"*"` for a
 *  write of the whole record (a commit without fields, or a deletion). `value` is there when the
 *  writer shared it. */
export interface RecordChange<Value = unknown> {
  readonly field: string;
  readonly actor: string;
  readonly at: Date;
  readonly value?: Value;
}

/** The last write of one field, in a record's state. */
export interface FieldWrite<Value = unknown> extends Dot {
  readonly at: Date;
  readonly value?: Value;
}

/** What version() and loadLatest() resolve with: the `record.state` reply, dates as Date. */
export interface RecordState {
  readonly channel: string;
  /** The record id, as a string. */
  readonly record: string;
  readonly version: Version;
  readonly deleted: boolean;
  /** Who deleted the record and when, when `deleted`. */
  readonly deletedBy?: { readonly actor: string; readonly at: Date };
  readonly fields: Readonly<{ [field: string]: FieldWrite }>;
}

/** A commit or delete the server accepted. */
export interface CommitAccepted {
  readonly status: "accepted";
  /** The record's new version, now the context. */
  readonly version: Version;
  /** This write: the committing user and its new counter. */
  readonly dot: Dot;
  /** The fields changed, sorted; empty for a commit of the whole record or a delete. */
  readonly fields: ReadonlyArray<string>;
  /** True for delete(). */
  readonly deleted: boolean;
}

/** A commit or delete the server refused because the context had not seen a write it overrides:
 *  a normal outcome, not an error. */
export interface CommitConflict {
  readonly status: "conflict";
  /** "fields": `conflicts` names the fields; "deleted": the record was deleted (`deletedBy`),
   *  `conflicts` is empty. */
  readonly kind: "fields" | "deleted";
  readonly conflicts: ReadonlyArray<RecordChange>;
  /** The record's current version: keepMine() commits on it. */
  readonly version: Version;
  /** Who deleted the record, and when (kind "deleted"). */
  readonly deletedBy?: { readonly actor: string; readonly at: Date };
}

export type CommitResult = CommitAccepted | CommitConflict;

export interface CommitOptions {
  /** The names of the fields changed. Without fields and values the commit changes the whole
   *  record (checked against every field). */
  fields?: ReadonlyArray<string>;
  /** New values to share with a conflicting editor: sent as the commit's `fields` object, with
   *  `null` for each name in `fields` that has no value here. At most 16,384 bytes. */
  values?: Readonly<{ [field: string]: unknown }>;
}

/** The `record.stale` push that changed a stale list. */
export interface StalePush {
  /** The user whose commit it was. */
  readonly by: string;
  readonly deleted: boolean;
  /** The record's version after that commit. */
  readonly version: Version;
  /** The fields of that commit that the context has not seen. */
  readonly changes: ReadonlyArray<RecordChange>;
}

export interface RecordEditState {
  readonly context: Version | null;
  readonly stale: ReadonlyArray<RecordChange>;
  readonly editing: boolean;
  readonly lastConflict: CommitConflict | null;
}

/**
 * One record (a channel plus an id) under conflict detection, from client.record(channel, id).
 *
 * The flow of an edit form: `await record.edit()` when it opens (reads the version if needed and
 * declares the editing session); `record.on("stale", ...)` shows "This post was updated by
 * another user" as soon as someone else commits; `await record.commit({fields, values})` on Save,
 * then on a conflict `keepMine()` or `loadLatest()`; `stop()` when the form closes.
 *
 * Commits (commit(), delete(), keepMine()) go out one after the other, each on the context the
 * previous one left. A commit cut off by a disconnect rejects with `disconnected` and is not
 * retried (it may have been applied): call loadLatest(). An editing session is restored after
 * every reconnect, on the same context; what other users changed meanwhile is then read from the
 * record and added to `stale` (a deletion seen that way has `field` "*" and the time it was noticed).
 */
export declare class ConcordRecord {
  private constructor();
  readonly channel: string;
  /** The record id, as a string. */
  readonly id: string;
  /** Reads the record (`record.get`) and makes its version the context. */
  version(): Promise<RecordState>;
  /** Declares editing on the context (calling version() first when there is none); `editing` is
   *  true at once. Resolves with that context once the server confirmed; rejects with the server's
   *  code (`anonymous`, `too_many_subscriptions`, ...; editing is then false again), `timeout`
   *  (counting time offline), `stopped` or `closed`. */
  edit(): Promise<Version>;
  /** Commits on the context (`{}` before any read). Accepted: the result's version becomes the
   *  context, `stale` and `lastConflict` clear, and the editing session moves to the new context.
   *  A conflict becomes `lastConflict`. Rejects only on errors: `invalid_frame`, `anonymous`,
   *  `unavailable`, `disconnected`, `timeout`, `closed`; TypeError for malformed options. */
  commit(options?: CommitOptions): Promise<CommitResult>;
  /** Deletes on the context; settles like commit() (accepted with `deleted: true`). */
  delete(): Promise<CommitResult>;
  /** "Keep my changes": the last conflicting commit or delete again, on `lastConflict.version`.
   *  Rejects with `no_conflict` when there is none. */
  keepMine(): Promise<CommitResult>;
  /** "Load latest": version(), clears `stale` and `lastConflict`, then when editing a new edit()
   *  on the new context. Resolves with the state. */
  loadLatest(): Promise<RecordState>;
  /** Ends the editing session (`record.stop`), clears `stale`; edit() calls still waiting reject
   *  with `stopped`. Resolves, never rejects. */
  stop(): Promise<void>;
  /** stop() and drop the listeners; client.record(channel, id) then returns a new object. */
  close(): Promise<void>;
  /** Called with the stale list each time it changes while editing (an empty list when it clears)
   *  and the push that changed it (null when cleared, or after the reconnect catch-up). Returns
   *  a function that removes the listener. */
  on(event: "stale", listener: (stale: ReadonlyArray<RecordChange>, push: StalePush | null) => void): () => void;
  /** The version commits are made on: from version(), or the last accepted commit. Null before. */
  readonly context: Version | null;
  /** What other users changed since the context while editing, one entry per field (the latest
   *  write of it), oldest first. Empty when nothing changed or not editing. */
  readonly stale: ReadonlyArray<RecordChange>;
  /** True between edit() and stop(), close() or a refused edit. */
  readonly editing: boolean;
  /** The last conflict, until a commit is accepted or loadLatest(). */
  readonly lastConflict: CommitConflict | null;
  /** All four above at once. */
  readonly state: RecordEditState;
}

/** A `record.stale` push as it arrives (dates as strings). */
export interface RecordStaleFrame {
  op: "record.stale";
  channel: string;
  record: string;
  by: string;
  deleted: boolean;
  version: { [actor: string]: number };
  changes: Array<{ field: string; actor: string; at: string; value?: unknown }>;
}

export declare function createClient(url: string | URL, options?: ClientOptions): ConcordClient;

export interface LiveProviderOptions {
  /** At most one event per this many ms on every subscription (10 to 60000), the events between
   *  merged by the server; a hook's `meta: { concord: { coalesce } }` overrides it. */
  coalesce?: number;
}

/** Refine's LiveProvider backed by `client`. After a reconnect whose missed events cannot all be
 *  replayed, a subscription's callback gets one event of type "*" with `meta.concord.refetch`. */
export declare function liveProvider(client: ConcordClient, options?: LiveProviderOptions): LiveProvider;

// ---------------------------------------------------------------------------------------------
// Pure helpers

/** Refine's filter, as the server applies it. */
export declare function admits(
  subscription: { types?: ReadonlyArray<string>; params?: { ids?: ReadonlyArray<BaseKey> } | null },
  event: { type: string; payload?: { ids?: ReadonlyArray<BaseKey> } | null },
): boolean;

/** Reconnect delay for attempt `attempt` (0 = first retry). `random` defaults to Math.random. */
export declare function backoffDelay(attempt: number, reconnect?: ReconnectOptions, random?: () => number): number;

/** The WebSocket URL: http(s) -> ws(s), empty path -> /v1/ws, plus query params. */
export declare function buildUrl(url: string | URL, params?: QueryParams): string;

/** The wire form of an event to publish (date as ISO 8601). Throws ConcordError("invalid_event"). */
export declare function toWireEvent(event: LiveEvent | PublishEvent): {
  channel: string;
  type: string;
  payload: Record<string, unknown>;
  date?: string;
  meta?: Record<string, unknown>;
};

/** True when version `a` has every actor's counter of `b` at least as high (has seen all of `b`). */
export declare function descends(a: Version, b: Version): boolean;

/** The wire `fields` of a commit: the values object (names without a value as null) when values
 *  are given, else the names, else undefined (the whole record). Throws TypeError. */
export declare function commitFields(options?: CommitOptions): { [field: string]: unknown } | string[] | undefined;

/** A received wire event as a LiveEvent (date as Date). */
export declare function toLiveEvent(wire: Record<string, any>, channel?: string): LiveEvent;
