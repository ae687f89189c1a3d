// Pure helpers over the wire forms: the subscription filter, URLs, events, frame sizes. They touch
// no socket, so they are exported (through the entry) to be tested without a server.

import { ConcordError } from "./errors.js";

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
export function idsOf(holder) {
  const ids = holder == null ? undefined : holder.ids;
  return Array.isArray(ids) ? ids : undefined;
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

export function utf8Length(text) {
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
