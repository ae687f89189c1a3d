// Preloaded into every JavaScript test process (node --import) when CONCORD_FRAME_LOG names a file:
// every text frame a WebSocket receives and every JSON body fetch() gets back is appended to it, one
// JSON line each, so that Tests/schema can check what the real server sent against the schemas.
import { appendFileSync } from "node:fs";

const log = process.env.CONCORD_FRAME_LOG;

function record(entry) {
  appendFileSync(log, JSON.stringify(entry) + "\n");
}

if (log && globalThis.WebSocket) {
  const Base = globalThis.WebSocket;
  globalThis.WebSocket = class RecordingWebSocket extends Base {
    constructor(url, protocols) {
      super(url, protocols);
      const path = new URL(String(url)).pathname;
      this.addEventListener("message", (event) => {
        if (typeof event.data === "string") record({ kind: "frame", path, text: event.data });
      });
    }
  };
}

if (log && globalThis.fetch) {
  const baseFetch = globalThis.fetch;
  globalThis.fetch = async (input, init = {}) => {
    const response = await baseFetch(input, init);
    const url = new URL(typeof input === "string" || input instanceof URL ? String(input) : input.url);
    const method = (init.method ?? (typeof input === "object" && "method" in input ? input.method : "GET")).toUpperCase();
    if ((response.headers.get("content-type") ?? "").startsWith("application/json")) {
      const text = await response.clone().text();
      record({ kind: "http", method, path: url.pathname + url.search, status: response.status, text });
    }
    return response;
  };
}
