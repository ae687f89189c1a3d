// Shared helpers for the JavaScript tests: start/stop the real concord binary, publish over HTTP,
// wait for conditions, and talk raw WebSocket frames.
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
export const clientModulePath = resolve(repoRoot, "protocol/concord.js");
export const concordBin = process.env.CONCORD_BIN ?? resolve(repoRoot, ".build/debug/concord");
export const API_KEY = "test-key";

// The flags every test server runs with; tests add to them.
export const DEFAULT_ARGS = [
  "--host", "127.0.0.1",
  "--api-key", API_KEY,
  "--client-publish", "resources/*",
  "--client-publish", "chat/*",
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
  const child = spawn(concordBin, ["serve", "--port", String(port), ...DEFAULT_ARGS, ...args], {
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
