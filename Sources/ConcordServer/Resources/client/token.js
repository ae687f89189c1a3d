// The token function's answers, checked: what options.token gives before a (re)connect and on
// token.expiring (README, "Token expiry").

import { ConcordError } from "./errors.js";

export function isThenable(value) {
  return value !== null && (typeof value === "object" || typeof value === "function") && typeof value.then === "function";
}

// What the token function gave, if it is a token; throws ConcordError("token_failed") otherwise.
export function checkedToken(value) {
  if (typeof value === "string" && value !== "") return value;
  throw new ConcordError("token_failed", `the token function returned ${value === "" ? "an empty string" : typeof value}, not a token`);
}

// A failure of the token function as a ConcordError("token_failed"), the original as `cause`.
export function tokenError(error) {
  if (error instanceof ConcordError) return error;
  const failure = new ConcordError("token_failed", `the token function failed: ${String(error?.message ?? error)}`);
  failure.cause = error;
  return failure;
}

// `expiresAt` of a welcome or authed frame: ms since the epoch, or null.
export function expiryOf(frame) {
  return typeof frame.expiresAt === "number" && Number.isFinite(frame.expiresAt) ? frame.expiresAt : null;
}
