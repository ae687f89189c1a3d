// Errors of the client: ConcordError and its codes, and how a client reports them.

/** An error with a machine-readable `code`: a server code (README, "Error codes") or a client one
 *  (`disconnected`, `closed`, `timeout`, `payload_too_large`, `invalid_event`, `token_failed`,
 *  `token_expiring`, `token_expired`). */
export class ConcordError extends Error {
  constructor(code, message, frame) {
    super(message || code);
    this.name = "ConcordError";
    this.code = code;
    if (frame !== undefined) this.frame = frame;
  }
}

// Errors that only mean "the session ended"; whatever was in flight is redone on the next session.
export const SESSION_ENDED = new Set(["disconnected", "closed"]);

// Lets liveProvider() report through a client without making reporting public API.
export const REPORT = Symbol("concord.report");
