// Shared helpers for the JavaScript tests: start/stop the real concord binary, publish over HTTP,
// wait for conditions, and talk raw WebSocket frames.
import { spawn } from "node:child_process";
import { createHmac } from "node:crypto";
import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { after, before } from "node:test";
import { fileURLToPath } from "node:url";
import { createClient } from "../../protocol/concord.js";

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
export const clientModulePath = resolve(repoRoot, "protocol/concord.js");
export const concordBin = process.env.CONCORD_BIN ?? resolve(repoRoot, ".build/debug/concord");
export const API_KEY = "test-key";

// The flags every test server runs with; tests add to them. `--memory`: no test writes a record
// store into the working directory (test files run in parallel, and would fight over its lock).
export const DEFAULT_ARGS = [
  "--host", "127.0.0.1",
  "--memory",
  "--api-key", API_KEY,
  "--client-publish", "resources/*",
  "--client-publish", "chat/*",
  // A restarted test server tells its clients to come back within 100 ms, not 5 s.
  "--drain-window", "100",
];

/** Short, jitter-free reconnects so tests take milliseconds, not seconds. */
export const FAST_RECONNECT = { initialDelayMs: 20, maxDelayMs: 200, factor: 2, jitter: 0 };

/**
 * Starts `concord serve` on `port` (0 = any) and resolves once it prints "listening on
 * http://127.0.0.1:PORT" on stdout or stderr. Returns {port, httpUrl, wsUrl, stop(), output()}.
 */
export async function startServer({ port = 0, args = [], timeoutMs = 15_000 } = {}) {
  if (!existsSync(concordBin)) {
    throw new Error(`concord binary not found at ${concordBin} (build it, or set CONCORD_BIN)`);
  }
  // A server given a data directory keeps its records and history there, not in memory only.
  const base = args.includes("--data-dir") ? DEFAULT_ARGS.filter((arg) => arg !== "--memory") : DEFAULT_ARGS;
  const child = spawn(concordBin, ["serve", "--port", String(port), ...base, ...args], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  const exited = new Promise((resolveExit) => child.once("exit", (code, signal) => resolveExit({ code, signal })));

  const listening = new Promise((resolveListening, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start within ${timeoutMs} ms:\n${output}`)), timeoutMs);
    const onData = (chunk) => {
      output += chunk.toString();
      const match = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolveListening(Number(match[1]));
      }
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", onData);
    child.once("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`server exited (code ${code}, signal ${signal}) before listening:\n${output}`));
    });
  });

  const actualPort = await listening;
  let stopping = null;
  return {
    port: actualPort,
    httpUrl: `http://127.0.0.1:${actualPort}`,
    wsUrl: `ws://127.0.0.1:${actualPort}/v1/ws`,
    output: () => output,
    exited,
    /** SIGKILL, as a crash: no drain, no goodbye. Resolves with the exit status. */
    kill() {
      stopping ??= (async () => {
        if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
        return exited;
      })();
      return stopping;
    },
    /** SIGTERM, then SIGKILL if it has not exited after `graceMs`. Resolves with the exit status. */
    stop(graceMs = 5_000) {
      stopping ??= (async () => {
        if (child.exitCode !== null || child.signalCode !== null) return exited;
        child.kill("SIGTERM");
        const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
        const status = await exited;
        clearTimeout(timer);
        return status;
      })();
      return stopping;
    },
  };
}

/** POST /v1/publish with the test API key. Resolves with {status, body}. */
export async function httpPublish(server, body, { apiKey = API_KEY } = {}) {
  const response = await fetch(`${server.httpUrl}/v1/publish`, {
    method: "POST",
    headers: { "Content-Type": "application/json", ...(apiKey ? { Authorization: `Bearer ${apiKey}` } : {}) },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  const text = await response.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: response.status, body: json, text };
}

/** Like httpPublish, but fails unless the server answers 200. */
export async function publishOk(server, body) {
  const result = await httpPublish(server, body);
  if (result.status !== 200) throw new Error(`publish answered ${result.status}: ${result.text}`);
  return result.body;
}

/** Polls `predicate` until it returns a truthy value (which is returned) or `timeoutMs` passes. */
export async function waitFor(predicate, timeoutMs = 3_000, what = "condition") {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await predicate();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Resolves after `ms`. Only for proving that something does NOT happen. */
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * A raw WebSocket that records every frame, for tests of the wire protocol itself.
 * `next(predicate)` resolves with the first recorded frame (from `from` on) that matches.
 */
export async function rawSocket(url, timeoutMs = 3_000) {
  const ws = new WebSocket(url);
  const frames = [];
  let closeEvent = null;
  ws.addEventListener("message", (event) => frames.push(JSON.parse(event.data)));
  ws.addEventListener("close", (event) => (closeEvent = { code: event.code, reason: event.reason }));
  await new Promise((resolveOpen, reject) => {
    ws.addEventListener("open", resolveOpen, { once: true });
    ws.addEventListener("error", () => reject(new Error(`could not open ${url}`)), { once: true });
  });
  return {
    ws,
    frames,
    closed: () => closeEvent,
    send: (frame) => ws.send(typeof frame === "string" ? frame : JSON.stringify(frame)),
    next: (predicate, what = "frame") =>
      waitFor(() => frames.find(predicate), timeoutMs, `${what}; got ${JSON.stringify(frames)}`),
    close: () => ws.close(),
  };
}

/** Records the "state" events of a client. */
export function recordStates(client) {
  const states = [client.state];
  client.on("state", (state) => states.push(state));
  return states;
}

/** Records the error events of a client (and keeps console.warn quiet). */
export function recordErrors(client) {
  const errors = [];
  client.on("error", (error) => errors.push(error));
  return errors;
}

/**
 * Any HTTP request to the server, with the test API key unless `apiKey` is null. A `body` that is
 * not a string is sent as JSON. Resolves with {status, body (parsed JSON or undefined), text}.
 */
export async function httpJson(server, method, path, { body, apiKey = API_KEY } = {}) {
  const headers = { ...(apiKey ? { Authorization: `Bearer ${apiKey}` } : {}) };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(`${server.httpUrl}${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
  });
  const text = await response.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: response.status, body: json, text };
}

/** The flags of a development-mode server with short deadlines, for presence and typing tests. */
export const PRESENCE_ARGS = ["--dev", "--ping-interval", "200", "--idle-timeout", "600", "--typing-ttl", "500"];

/**
 * A WebSocket client over a bare TCP socket that never answers pings: a client that vanished
 * without closing (sleeping laptop, lost network), as the server's idle deadline sees it.
 * `send(frame)` writes a masked text frame; `frames` collects the server's text frames as JSON.
 * `destroy()` drops the TCP connection without a close frame.
 */
export async function silentWebSocket(server, path = "/v1/ws", timeoutMs = 3_000) {
  const { connect } = await import("node:net");
  const { randomBytes } = await import("node:crypto");
  const socket = connect(server.port, "127.0.0.1");
  const frames = [];
  let buffer = Buffer.alloc(0);
  let upgraded = false;
  let closed = false;
  socket.on("close", () => (closed = true));
  socket.on("error", () => {});
  const ready = new Promise((resolveReady, reject) => {
    const timer = setTimeout(() => reject(new Error("no 101 from the server")), timeoutMs);
    socket.on("data", (chunk) => {
      buffer = Buffer.concat([buffer, chunk]);
      if (!upgraded) {
        const end = buffer.indexOf("\r\n\r\n");
        if (end < 0) return;
        const head = buffer.subarray(0, end).toString();
        buffer = buffer.subarray(end + 4);
        if (!head.startsWith("HTTP/1.1 101")) {
          clearTimeout(timer);
          reject(new Error(`upgrade refused: ${head}`));
          return;
        }
        upgraded = true;
        clearTimeout(timer);
        resolveReady();
      }
      // Server frames are unmasked; only text frames are kept, pings are left unanswered.
      for (;;) {
        if (buffer.length < 2) return;
        const opcode = buffer[0] & 0x0f;
        let length = buffer[1] & 0x7f;
        let offset = 2;
        if (length === 126) {
          if (buffer.length < 4) return;
          length = buffer.readUInt16BE(2);
          offset = 4;
        } else if (length === 127) {
          if (buffer.length < 10) return;
          length = Number(buffer.readBigUInt64BE(2));
          offset = 10;
        }
        if (buffer.length < offset + length) return;
        const payload = buffer.subarray(offset, offset + length);
        buffer = buffer.subarray(offset + length);
        if (opcode === 0x1) frames.push(JSON.parse(payload.toString()));
      }
    });
  });
  socket.write(
    `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${server.port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: ${randomBytes(16).toString("base64")}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
  );
  await ready;
  return {
    frames,
    closed: () => closed,
    send(frame) {
      const payload = Buffer.from(typeof frame === "string" ? frame : JSON.stringify(frame));
      const mask = randomBytes(4);
      const header = payload.length < 126 ? Buffer.from([0x81, 0x80 | payload.length]) : Buffer.from([0x81, 0x80 | 126, payload.length >> 8, payload.length & 0xff]);
      const masked = Buffer.from(payload.map((byte, i) => byte ^ mask[i % 4]));
      socket.write(Buffer.concat([header, mask, masked]));
    },
    next: (predicate, what = "frame") => waitFor(() => frames.find(predicate), timeoutMs, `${what}; got ${JSON.stringify(frames)}`),
    destroy: () => socket.destroy(),
  };
}

/** One development-mode server per test file, plus the clients and raw sockets to close after it:
 *  `newClient(user, name)` connects as that user through the reference client. */
export function devServerFixture(args = PRESENCE_ARGS) {
  const fixture = {
    server: null,
    clients: [],
    sockets: [],
    newClient(user, name, options = {}) {
      const params = user === undefined ? undefined : { user, ...(name === undefined ? {} : { name }) };
      const client = createClient(fixture.server.wsUrl, { reconnect: FAST_RECONNECT, params, ...options });
      fixture.clients.push(client);
      return client;
    },
  };
  before(async () => {
    fixture.server = await startServer({ args });
  });
  after(async () => {
    for (const client of fixture.clients) client.close();
    for (const socket of fixture.sockets) socket.close();
    await fixture.server?.stop();
  });
  return fixture;
}

// --- authentication (issue #5) ---------------------------------------------------------------

/**
 * An HS256 JWT of `claims`, signed with `secret` using Node's crypto (no JWT package needed).
 * `header` adds to or overrides {alg: "HS256", typ: "JWT"}; `signature` replaces the signature.
 */
export function mintToken(secret, claims, { header = {}, signature } = {}) {
  const part = (value) => Buffer.from(JSON.stringify(value)).toString("base64url");
  const signed = `${part({ alg: "HS256", typ: "JWT", ...header })}.${part(claims)}`;
  return `${signed}.${signature ?? createHmac("sha256", secret).update(signed).digest("base64url")}`;
}

/** Seconds since the epoch, `offsetSeconds` from now: for `exp`, `nbf`, `iat` claims. */
export const epochSeconds = (offsetSeconds = 0) => Math.floor(Date.now() / 1000) + offsetSeconds;

/** Writes `text` to a new file in a fresh temporary directory and returns its path. */
export function writeTempFile(name, text) {
  const path = join(mkdtempSync(join(tmpdir(), "concord-test-")), name);
  writeFileSync(path, text);
  return path;
}

/**
 * A WebSocket upgrade request to `path` (with `headers` added) over plain HTTP, for what the server
 * answers before any WebSocket exists. Resolves with {status: 101} when it upgrades (the socket is
 * then closed), else with {status, headers, body (parsed JSON or undefined), text}.
 */
export async function upgradeRequest(server, path = "/v1/ws", headers = {}, timeoutMs = 3_000) {
  const { request } = await import("node:http");
  const { randomBytes } = await import("node:crypto");
  return new Promise((resolveResult, reject) => {
    const req = request({
      host: "127.0.0.1",
      port: server.port,
      path,
      headers: {
        Connection: "Upgrade",
        Upgrade: "websocket",
        "Sec-WebSocket-Key": randomBytes(16).toString("base64"),
        "Sec-WebSocket-Version": "13",
        ...headers,
      },
      timeout: timeoutMs,
    });
    req.on("timeout", () => req.destroy(new Error(`no answer to the upgrade of ${path} within ${timeoutMs} ms`)));
    req.on("error", reject);
    req.on("upgrade", (response, socket) => {
      socket.destroy();
      resolveResult({ status: response.statusCode, headers: response.headers });
    });
    req.on("response", (response) => {
      let text = "";
      response.setEncoding("utf8");
      response.on("data", (chunk) => (text += chunk));
      response.on("end", () => {
        let body;
        try {
          body = JSON.parse(text);
        } catch {
          body = undefined;
        }
        resolveResult({ status: response.statusCode, headers: response.headers, body, text });
      });
      response.on("error", reject);
    });
    req.end();
  });
}

/**
 * A WebSocket class that records every socket the client opens. While `hold()` is in force, new
 * sockets go to a closed port instead, as when the network is down; `release()` ends that.
 */
export function trackedWebSocket() {
  const sockets = [];
  let held = false;
  class Tracked extends WebSocket {
    constructor(url) {
      super(held ? "ws://127.0.0.1:9/v1/ws" : url);
      sockets.push(this);
    }
  }
  return {
    sockets,
    WebSocket: Tracked,
    hold() {
      held = true;
    },
    release() {
      held = false;
    },
  };
}

/** Starts a server on `port` again, waiting for the old process to release it. */
export async function startOnPort(port, args = []) {
  const deadline = Date.now() + 5000;
  for (;;) {
    try {
      return await startServer({ port, args });
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}
