// The README's Refine app is copy-paste code: every name it imports from concord.js must be exported,
// every method it calls on the client's objects must exist, and every event it listens to must be
// one those objects emit. This test reads the README itself, so the two cannot drift apart.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import * as concordModule from "../../protocol/concord.js";
import { fakeClient } from "./fake-socket.mjs";
import { repoRoot } from "./helpers.mjs";

const readme = readFileSync(resolve(repoRoot, "README.md"), "utf8");

/** The code blocks of the README section "Using it from a Refine app". */
function refineCode() {
  const start = readme.indexOf("## Using it from a Refine app");
  assert.ok(start >= 0, "the README has a Refine section");
  const end = readme.indexOf("\n## ", start + 1);
  const section = readme.slice(start, end);
  return [...section.matchAll(/```(?:tsx|ts|js|jsx)\n([\s\S]*?)```/g)].map((m) => m[1]);
}

const blocks = refineCode();
const code = blocks.join("\n");

test("the Refine section is a whole app: Refine root, auto list, manual edit with conflicts, avatars, typing", () => {
  assert.ok(blocks.length >= 5, `${blocks.length} code blocks`);
  assert.match(code, /<Refine[\s\S]*liveProvider=\{concordLiveProvider\}/);
  assert.match(code, /liveProvider\(concord\)/);
  assert.match(code, /useList\(\{[^}]*liveMode: "auto"/);
  assert.match(code, /liveMode: "manual"/);
  assert.match(code, /record\.keepMine\(\)/);
  assert.match(code, /record\.loadLatest\(\)/);
  assert.match(code, /This post was updated by another user/);
  assert.match(code, /presence\.members\(\)/);
  assert.match(code, /typing\.typing\(\)/);
});

test("every name imported from concord.js is exported by the module", () => {
  const imports = [...code.matchAll(/import\s+(?:type\s+)?\{([^}]*)\}\s+from\s+"\.\/concord\.js"/g)];
  assert.ok(imports.length >= 2, "the app imports from concord.js");
  for (const [, list] of imports) {
    for (const raw of list.split(",")) {
      const name = raw.trim().replace(/^type\s+/, "").split(/\s+as\s+/)[0];
      if (!name) continue;
      assert.ok(name in concordModule, `concord.js does not export ${name}`);
    }
  }
});

test("every method and property used on the client, records, presence and typing exists", () => {
  const { client } = fakeClient();
  try {
    const objects = {
      concord: client,
      record: client.record("resources/posts", "1"),
      presence: client.presence("presence/posts/1"),
      typing: client.typing("comments/posts/1"),
    };
    const used = [...code.matchAll(/(?<![\w./-])(concord|record|presence|typing)\.(\w+)\b/g)];
    assert.ok(used.length >= 15, `${used.length} uses found`);
    for (const [, receiver, member] of used) {
      assert.ok(member in objects[receiver], `${receiver}.${member} is not part of the client's API`);
    }
    // Events: the objects refuse names they do not emit; the client's own are "state" and "error".
    for (const [, receiver, event] of code.matchAll(/\b(concord|record|presence|typing)\.on\("([^"]+)"/g)) {
      if (receiver === "concord") {
        assert.ok(["state", "error"].includes(event), `the client emits no "${event}"`);
      } else {
        const off = objects[receiver].on(event, () => {});
        assert.equal(typeof off, "function", `${receiver}.on("${event}") returns its remover`);
        off();
      }
    }
    // The components' props are the classes the README names as types.
    assert.ok(objects.presence instanceof concordModule.Presence);
    assert.ok(objects.typing instanceof concordModule.Typing);
  } finally {
    client.close();
  }
});

test("the commit result fields the edit page reads are the ones the client returns", async () => {
  // status, conflicts[].field and .actor: read from the client's own conversion of a conflict reply.
  assert.match(code, /result\.status === "conflict"/);
  assert.match(code, /conflict\.conflicts\.map\(\(c: any\) => <p key=\{c\.field\}>\{c\.field\} was changed by \{c\.actor\}/);
  const { client, socket } = fakeClient();
  try {
    socket().welcome?.();
    const record = client.record("resources/posts", "1");
    const pending = record.commit({ values: { title: "mine" } });
    await new Promise((r) => setTimeout(r, 10));
    const sent = socket().sent.find((f) => f.op === "record.commit");
    assert.ok(sent, "the commit went out");
    socket().push({
      op: "record.conflict", id: sent.id, channel: "resources/posts", record: "1", kind: "fields",
      version: { bob: 1 }, conflicts: [{ field: "title", actor: "bob", at: new Date().toISOString(), value: "theirs" }],
    });
    const result = await pending;
    assert.equal(result.status, "conflict");
    assert.equal(result.conflicts[0].field, "title");
    assert.equal(result.conflicts[0].actor, "bob");
  } finally {
    client.close();
  }
});
