// A scripted in-memory WebSocket for unit tests of the reference client: the test plays the server
// (push, welcome, drop) and reads what the client sent (sent, lastSent).
import { createClient } from "../../protocol/concord.js";

export class FakeSocket extends EventTarget {
  static all = [];
  constructor(url) {
    super();
    this.url = url;
    this.sent = [];
    this.closedByClient = null;
    FakeSocket.all.push(this);
  }
  send(text) {
    this.sent.push(JSON.parse(text));
  }
  close(code) {
    if (this.closedByClient !== null) return;
    this.closedByClient = code ?? 1005;
    // The worst case seen in real implementations: Node 20 fires "error" synchronously from close().
    this.fail();
    this.drop(code ?? 1005);
  }
  // --- the "server" side
  push(frame) {
    const event = new Event("message");
    event.data = JSON.stringify(frame);
    this.dispatchEvent(event);
  }
  welcome(extra = {}) {
    this.push({ op: "welcome", v: 1, epoch: "e1", session: "c1", user: null, limits: { maxMessageBytes: 65536, maxSubscriptions: 128 }, ...extra });
  }
  drop(code = 1006) {
    const event = new Event("close");
    event.code = code;
    event.reason = "";
    this.dispatchEvent(event);
  }
  fail() {
    this.dispatchEvent(new Event("error"));
  }
  lastSent(op) {
    return this.sent.filter((f) => f.op === op).at(-1);
  }
  // Replies to the last frame sent with `op`, echoing its id (and channel, when it had one).
  answer(op, reply) {
    const frame = this.lastSent(op);
    if (!frame) throw new Error(`nothing sent with op ${op}; sent ${JSON.stringify(this.sent)}`);
    this.push({ id: frame.id, ...(frame.channel === undefined ? {} : { channel: frame.channel }), ...reply });
    return frame;
  }
  // Every frame sent with `op`.
  sentOps(op) {
    return this.sent.filter((f) => f.op === op);
  }
  // Replies to every subscribe sent so far that has no reply yet.
  confirmSubscribes(offset = 0, epoch = "e1") {
    this.confirmed ??= new Set();
    for (const f of this.sent) {
      if (f.op === "subscribe" && !this.confirmed.has(f.id)) {
        this.confirmed.add(f.id);
        this.push({ op: "subscribed", id: f.id, sub: f.sub, channel: f.channel, offset, epoch });
      }
    }
  }
}

export function fakeClient(options = {}) {
  FakeSocket.all = [];
  const errors = [];
  const client = createClient("ws://fake/v1/ws", {
    WebSocket: FakeSocket,
    reconnect: { initialDelayMs: 1, maxDelayMs: 5, jitter: 0 },
    heartbeat: false,
    onError: (e) => errors.push(e),
    ...options,
  });
  return { client, errors, socket: () => FakeSocket.all.at(-1) };
}
