// Records as values (README, "Records and conflicts"): version vectors, a commit's fields, and the
// replies and pushes of record.* parsed into the frozen objects the client hands out.

import { ConcordError } from "./errors.js";

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

export function toVersion(raw) {
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

export function toChanges(raw) {
  return Object.freeze((Array.isArray(raw) ? raw : []).map(toChange).filter(Boolean));
}

export function toRecordState(reply, channel, id) {
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

export function toCommitResult(reply) {
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
export function mergeChanges(list, changes) {
  const merged = [...list];
  for (const change of changes) {
    const known = merged.findIndex((entry) => entry.field === change.field);
    if (known >= 0) merged.splice(known, 1);
    merged.push(change);
  }
  return Object.freeze(merged);
}

export const NO_CHANGES = Object.freeze([]);
