// The client as an npm package (clients/js/, scripts/npm-pack.sh), as an app would get it: the
// tarball holds exactly the served modules, the types, the manifest and its README; it installs into
// a scratch project with no registry at all; and a script there imports the client by package name,
// subscribes through liveProvider on a real server and gets an event published over HTTP.
// CONCORD_NPM_TARBALL tests a tarball built elsewhere (e.g. by make dist) instead of packing one.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { publishOk, repoRoot, startServer, waitFor } from "./helpers.mjs";

const NAME = "concord-client";
const version = readFileSync(resolve(repoRoot, "VERSION"), "utf8").trim();
const resources = resolve(repoRoot, "Sources/ConcordServer/Resources");
const modules = readdirSync(resolve(resources, "client")).filter((name) => name.endsWith(".js"));

let work;
let tarball;
let project;
let installed;
let server;

/** Runs npm offline, with a fresh cache and a registry that does not exist: nothing may be fetched. */
function npm(args, cwd) {
  return execFileSync("npm", [...args, "--offline", "--cache", join(work, "npm-cache"), "--registry", "http://127.0.0.1:9/"], {
    cwd,
    encoding: "utf8",
    env: { ...process.env, npm_config_update_notifier: "false", npm_config_audit: "false", npm_config_fund: "false" },
  });
}

before(async () => {
  work = mkdtempSync(join(tmpdir(), "concord-npm-"));
  tarball = process.env.CONCORD_NPM_TARBALL
    ?? execFileSync(resolve(repoRoot, "scripts/npm-pack.sh"), [work], { encoding: "utf8" }).trim();
  project = join(work, "app");
  mkdirSync(project);
  npm(["init", "-y"], project);
  npm(["install", tarball], project);
  installed = join(project, "node_modules", NAME);
  server = await startServer();
});

after(async () => {
  await server?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

test("the tarball is concord-client-VERSION.tgz with exactly the served modules, the types and the manifest", () => {
  assert.ok(tarball.endsWith(`/${NAME}-${version}.tgz`), tarball);
  const entries = execFileSync("tar", ["-tzf", tarball], { encoding: "utf8" }).trim().split("\n").sort();
  const expected = ["package.json", "README.md", "concord.js", "concord.d.ts", ...modules.map((name) => `client/${name}`)]
    .map((path) => `package/${path}`)
    .sort();
  assert.deepEqual(entries, expected);
  // The same bytes the server serves at /v1/client.js and /v1/client/NAME.js, and the protocol's types.
  const same = [["concord.js", join(resources, "concord.js")], ["concord.d.ts", resolve(repoRoot, "protocol/concord.d.ts")]]
    .concat(modules.map((name) => [`client/${name}`, join(resources, "client", name)]));
  for (const [path, source] of same) {
    assert.equal(readFileSync(join(installed, path), "utf8"), readFileSync(source, "utf8"), path);
  }
});

test("the installed manifest: the server's version, an ES module, exports and types, no dependencies", () => {
  const manifest = JSON.parse(readFileSync(join(installed, "package.json"), "utf8"));
  assert.equal(manifest.name, NAME);
  assert.equal(manifest.version, version);
  assert.equal(manifest.type, "module");
  assert.equal(manifest.sideEffects, false);
  assert.equal(manifest.engines.node, ">=20");
  for (const field of ["dependencies", "peerDependencies", "optionalDependencies", "scripts"]) {
    assert.equal(manifest[field], undefined, field);
  }
  assert.deepEqual(manifest.exports["."], { types: "./concord.d.ts", default: "./concord.js" });
  assert.equal(manifest.types, "./concord.d.ts");
  // The app's package.json records it, and Node resolves the name to the entry module.
  const app = JSON.parse(readFileSync(join(project, "package.json"), "utf8"));
  assert.match(app.dependencies[NAME], /\.tgz$/);
  const requireFromApp = createRequire(join(project, "index.js"));
  assert.equal(requireFromApp.resolve(NAME), join(installed, "concord.js"));
  assert.equal(requireFromApp.resolve(`${NAME}/package.json`), join(installed, "package.json"));
});

test("the types that the manifest names exist and declare every export of the module", async () => {
  const manifest = JSON.parse(readFileSync(join(installed, "package.json"), "utf8"));
  const typesPath = join(installed, manifest.exports["."].types);
  assert.ok(existsSync(typesPath), typesPath);
  const types = readFileSync(typesPath, "utf8");
  const runtime = await import(pathToFileURL(join(installed, "concord.js")).href);
  const names = Object.keys(runtime);
  assert.ok(names.includes("createClient") && names.includes("liveProvider"), names.join(", "));
  for (const name of names) {
    assert.match(types, new RegExp(`^export declare (?:const|function|class) ${name}\\b`, "m"), `concord.d.ts declares ${name}`);
  }
});

test("a script in the app imports the client by package name, subscribes with liveProvider and gets an event", async () => {
  writeFileSync(join(project, "live.mjs"), `
import { createClient, liveProvider } from "${NAME}";

const client = createClient(process.argv[2]);
const provider = liveProvider(client);
const timer = setTimeout(() => { console.error("no event within 10 s"); process.exit(2); }, 10_000);
const subscription = provider.subscribe({
  channel: "resources/posts",
  types: ["*"],
  params: { ids: [7] },
  callback: (event) => {
    console.log(JSON.stringify({ event }));
    provider.unsubscribe(subscription);
    client.close();
    clearTimeout(timer);
  },
});
await subscription.ready;
console.log(JSON.stringify({ subscribed: subscription.channel }));
`);
  // Node 20 has the global WebSocket behind a flag; later versions have it by default.
  const flags = process.allowedNodeEnvironmentFlags.has("--experimental-websocket") ? ["--experimental-websocket"] : [];
  const child = spawn(process.execPath, [...flags, "live.mjs", server.wsUrl], { cwd: project, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk) => (stdout += chunk));
  child.stderr.on("data", (chunk) => (stderr += chunk));
  const exited = new Promise((done) => child.once("exit", (code) => done(code)));
  try {
    await waitFor(() => stdout.includes('"subscribed"') || child.exitCode !== null, 10_000, "the script's subscription");
    assert.ok(stdout.includes('"subscribed"'), `the script did not subscribe:\n${stdout}${stderr}`);
    await publishOk(server, { channel: "resources/posts", type: "updated", payload: { ids: [7] } });
    assert.equal(await exited, 0, `${stdout}${stderr}`);
  } finally {
    child.kill();
  }
  const lines = stdout.trim().split("\n").map((line) => JSON.parse(line));
  assert.deepEqual(lines[0], { subscribed: "resources/posts" });
  const { event } = lines[1];
  assert.equal(event.channel, "resources/posts");
  assert.equal(event.type, "updated");
  assert.deepEqual(event.payload, { ids: [7] });
});

test("the README's install commands name the current version", () => {
  const readme = readFileSync(resolve(repoRoot, "README.md"), "utf8");
  const named = [...readme.matchAll(/concord-client[-@](\d+\.\d+\.\d+[\w.-]*?)(?:\.tgz|`|\s)/g)].map((m) => m[1]);
  assert.ok(named.length >= 2, "the README shows how to install the package");
  assert.deepEqual([...new Set(named)], [version]);
});
