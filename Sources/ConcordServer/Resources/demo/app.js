// The Concord demo: a list of posts, an edit form and comments, shared live between users.
// It uses only the public API of the client Concord serves at /v1/client.js: channel
// subscriptions (live list), presence (who views a post, who edits which field), typing, records
// with conflict detection (the "updated by another user" banner, per-field conflicts) and the
// connection state (the offline indicator). The demo's few HTTP routes are under /demo/api.
import { ConcordClient } from "/v1/client.js";

const POSTS = "demo/posts";
const COMMENTS = "demo/comments";
const FIELDS = ["title", "body"];
const LIST_PRESENCE_LIMIT = 50; // posts whose viewers the list shows (each is one presence watch)

const $ = (id) => document.getElementById(id);
const presenceChannel = (id) => `demo/presence/posts/${id}`;
const typingChannel = (id) => `demo/comments/posts/${id}`;

const query = new URLSearchParams(location.search);
const config = await api("/demo/api/config");
const me = query.get("user");
const myName = query.get("name") || capitalized(me ?? "");
const names = new Map(); // user id -> display name, learnt from presence, typing and comments
let client;
let current = null; // the open post: {id, presence, typing, record, offs, baseline, attempt}
let posts = [];
let listRequest = 0;
const listWatches = new Map(); // post id -> function that stops rendering its viewers in the list
const changedPosts = new Set(); // ids flashed in the list after a live event

if (!me) showPicker();
else if (!config.devMode && !config.tokens) showFatal("This server gives the demo no way to name users: start it with --dev.");
else if (!config.devMode && !config.users.includes(me)) showPicker(`"${me}" is not a demo user.`);
else start();

// ---------------------------------------------------------------------------------------------
// Who am I

function showPicker(problem) {
  $("picker").hidden = false;
  if (problem) $("picker").querySelector("p").textContent = `${problem} Pick one of these:`;
  for (const user of config.users) {
    const link = element("a", { href: urlFor(user), className: "pick", "data-test": `pick-${user}` });
    link.append(avatar(user, capitalized(user)), capitalized(user));
    const item = element("li");
    item.append(link);
    $("picker-users").append(item);
  }
}

function showFatal(message) {
  $("picker").hidden = false;
  $("picker").replaceChildren(element("h2", { textContent: "The demo cannot start" }), element("p", { textContent: message }));
}

function urlFor(user, hash = location.hash) {
  return `${location.pathname}?user=${encodeURIComponent(user)}${hash}`;
}

// ---------------------------------------------------------------------------------------------
// The app

function start() {
  names.set(me, myName);
  // Development mode names the user in the URL; otherwise the demo's token endpoint signs a
  // token for a demo user, as an app's backend would for its signed-in user.
  const identity = config.devMode
    ? { params: { user: me, name: myName } }
    : { token: () => api(`/demo/api/token?user=${encodeURIComponent(me)}`, { text: true }) };
  client = new ConcordClient("/v1/ws", identity);

  let everConnected = false;
  client.on("state", (state) => {
    everConnected ||= state === "connected";
    const pill = $("connection");
    pill.dataset.state = state;
    pill.textContent = state === "connected" ? "Live" : everConnected ? "Offline" : "Connecting…";
    $("offline").hidden = state === "connected" || !everConnected;
    document.body.classList.toggle("is-offline", !$("offline").hidden);
  });
  client.on("error", (error) => showError(error));

  client.subscribe({
    channel: POSTS,
    callback: (event) => onPostEvent(event),
    // After a reconnect the missed events are replayed; only when they cannot be (the server lost
    // them) is the list read again.
    onSubscribed: (info) => info.gap && refreshPosts({ afterReconnect: true }),
  });
  client.subscribe({
    channel: COMMENTS,
    callback: (event) => current && String(event.payload.post) === current.id && loadComments(current),
    onSubscribed: (info) => info.gap && current && loadComments(current),
  });

  renderMe();
  $("connection").hidden = false;
  $("app").hidden = false;
  $("new-post").addEventListener("submit", createPost);
  $("edit-form").addEventListener("submit", save);
  $("edit-form").addEventListener("focusin", () => setTimeout(announceField));
  $("edit-form").addEventListener("focusout", () => setTimeout(announceField));
  $("delete").addEventListener("click", deletePost);
  $("load-latest").addEventListener("click", loadLatest);
  $("conflict-load-latest").addEventListener("click", loadLatest);
  $("keep-mine").addEventListener("click", dismissStale);
  $("conflict-keep-mine").addEventListener("click", keepMine);
  $("comment-box").addEventListener("input", onCommentInput);
  $("comment-form").addEventListener("submit", sendComment);
  addEventListener("hashchange", route);
  refreshPosts();
  route();
}

function renderMe() {
  const other = config.users.find((user) => user !== me) ?? "bob";
  const otherLink = element("a", { target: "_blank", "data-test": "other-user", textContent: `Open a window as ${capitalized(other)}` });
  // A window of its own (not a tab), to put beside this one; a plain link if popups are blocked.
  otherLink.addEventListener("click", (event) => {
    if (open(otherLink.href, `concord-demo-${other}`, "popup,width=1100,height=800")) event.preventDefault();
  });
  const switchLink = element("a", { textContent: "Switch user" });
  const follow = () => {
    otherLink.href = urlFor(other);
    switchLink.href = location.pathname + location.hash;
  };
  follow();
  addEventListener("hashchange", follow);
  const who = element("span");
  who.append("You are ", element("strong", { textContent: myName }));
  $("me").replaceChildren(avatar(me, myName), who, otherLink, switchLink);
  $("me").hidden = false;
}

function route() {
  const match = /^#\/posts\/([^/]+)$/.exec(location.hash);
  const id = match ? decodeURIComponent(match[1]) : null;
  if (current && current.id !== id) closePost();
  if (id !== null && !current) openPost(id);
  $("no-post").hidden = id !== null;
  renderPosts();
}

// ---------------------------------------------------------------------------------------------
// The list of posts: refreshed on every created/updated/deleted event of demo/posts

function onPostEvent(event) {
  for (const id of event.payload.ids ?? []) {
    changedPosts.add(String(id));
    setTimeout(() => changedPosts.delete(String(id)), 2000);
  }
  const mine = event.payload.actor === me; // this user's own deletion closes the post by itself
  if (event.type === "deleted" && !mine && current && (event.payload.ids ?? []).map(String).includes(current.id)) {
    showDeleted(current, deletedBy(event.payload.actor));
  }
  refreshPosts();
}

async function refreshPosts({ afterReconnect = false } = {}) {
  const request = ++listRequest;
  try {
    const list = (await api("/demo/api/posts")).posts;
    if (request !== listRequest) return; // a later refresh overtook this one
    posts = list;
    renderPosts();
    // Deleted while this page was offline (or gone with a server that kept posts in memory only).
    if (afterReconnect && current?.baseline && !posts.some((post) => post.id === current.id)) {
      showDeleted(current, "This post is gone: it was deleted while you were offline (or the server forgot it).");
    }
  } catch (error) {
    showError(error);
  }
}

function renderPosts() {
  const items = posts.map((post) => {
    const item = element("li", { className: "post-item", "data-test": "post-item", "data-id": post.id });
    item.classList.toggle("selected", current?.id === post.id);
    item.classList.toggle("changed", changedPosts.has(post.id));
    const link = element("a", { href: `#/posts/${encodeURIComponent(post.id)}`, "data-test": "post-title", textContent: post.title || "(untitled)" });
    if (current?.id === post.id) link.setAttribute("aria-current", "page");
    const meta = element("span", { className: "muted small", textContent: `#${post.id} · last edit by ${nameOf(post.author)}` });
    const viewers = element("ul", { className: "avatars mini", "data-test": "post-viewers", "aria-label": `Viewing post ${post.id}` });
    item.append(link, meta, viewers);
    return item;
  });
  $("post-list").replaceChildren(...items);
  if (posts.length === 0) $("post-list").append(element("li", { className: "muted", textContent: "No posts yet: create one." }));
  watchListViewers();
}

// Each listed post shows its viewers' avatars: one presence watch per post.
function watchListViewers() {
  const shown = new Set(posts.slice(0, LIST_PRESENCE_LIMIT).map((post) => post.id));
  for (const [id, stop] of listWatches) {
    if (shown.has(id)) continue;
    stop();
    listWatches.delete(id);
    if (current?.id !== id) client.presence(presenceChannel(id)).unsubscribe();
  }
  for (const id of shown) {
    const presence = client.presence(presenceChannel(id));
    if (!listWatches.has(id)) listWatches.set(id, presence.on("change", () => renderListViewers(id)));
    renderListViewers(id);
  }
}

function renderListViewers(id) {
  const list = $("post-list").querySelector(`li[data-id="${CSS.escape(id)}"] [data-test="post-viewers"]`);
  const members = client.presence(presenceChannel(id)).members();
  list?.replaceChildren(...members.map((member) => memberAvatar(member, { mini: true })));
}

async function createPost(event) {
  event.preventDefault();
  const input = $("new-title");
  const title = input.value.trim();
  if (!title) return;
  try {
    const { post } = await api("/demo/api/posts", { method: "POST", body: { user: me, title, body: "" } });
    input.value = "";
    location.hash = `#/posts/${encodeURIComponent(post.id)}`;
  } catch (error) {
    showError(error);
  }
}

// ---------------------------------------------------------------------------------------------
// One post: who views it, the edit form, comments

async function openPost(id) {
  const presence = client.presence(presenceChannel(id));
  const typing = client.typing(typingChannel(id));
  const record = client.record(POSTS, id);
  const view = (current = { id, presence, typing, record, offs: [], baseline: null, attempt: null });

  $("post").hidden = false;
  $("post").dataset.id = id;
  $("post-id").textContent = `#${id}`;
  resetForm();
  setStatus("Loading…");
  $("comments").replaceChildren();
  $("comment-box").value = "";

  view.offs.push(presence.on("change", (members) => view === current && renderViewers(members)));
  renderViewers(presence.members());
  presence.enter({ name: myName, field: null }).catch(showError);
  view.offs.push(typing.on("change", (typists) => view === current && renderTyping(typists)));
  renderTyping(typing.typing());
  view.offs.push(record.on("stale", (stale, push) => view === current && onStale(view, stale, push)));
  loadComments(view);

  try {
    // The form shows the values of the version it edits, so that a conflict is judged against
    // exactly what the user saw; edit() then asks for a warning as soon as someone else saves.
    const state = await record.version();
    if (view !== current) return;
    if (state.deleted || !state.fields.title) return showDeleted(view, state.deleted ? "This post was deleted." : "There is no such post.");
    fill(view, state);
    setStatus("");
    await record.edit();
  } catch (error) {
    if (view === current) setStatus(`Could not open the post: ${error.message}`);
  }
}

function closePost() {
  const view = current;
  current = null;
  for (const off of view.offs) off();
  // Leaving keeps the list's watch of this post's viewers; only this user leaves.
  view.presence.leave().catch(() => {});
  if (!listWatches.has(view.id)) view.presence.unsubscribe();
  view.typing.close();
  view.record.close();
  $("post").hidden = true;
  delete $("post").dataset.id;
}

function renderViewers(members) {
  for (const member of members) rememberName(member.user, member.info?.name);
  $("viewers").replaceChildren(...members.map((member) => memberAvatar(member)));
  for (const field of FIELDS) {
    const editors = members.filter((member) => member.user !== me && member.info?.field === field).map((member) => nameOf(member.user));
    const marker = $(`editors-${field}`);
    marker.textContent = editors.length === 0 ? "" : `${listOf(editors)} ${editors.length === 1 ? "is" : "are"} editing`;
    marker.closest(".field").classList.toggle("being-edited", editors.length > 0);
  }
}

// Presence info says which field this user is in: the others see "Alice is editing" beside it.
function announceField() {
  if (!current?.baseline) return;
  const focused = document.activeElement;
  const field = FIELDS.includes(focused?.id) && $("edit-form").contains(focused) ? focused.id : null;
  if (field === (current.presence.info?.field ?? null)) return;
  current.presence.update({ name: myName, field }).catch(showError);
}

// --- the edit form ---------------------------------------------------------------------------

function resetForm() {
  for (const field of FIELDS) {
    $(field).value = "";
    showFieldConflict(field, null);
  }
  for (const id of ["edit-fields", "save", "delete"]) $(id).disabled = true; // until the post is read
  for (const id of ["comment-box", "comment-send"]) $(id).disabled = false;
  $("stale-banner").hidden = true;
  $("conflict-banner").hidden = true;
  $("deleted-banner").hidden = true;
}

function fill(view, state) {
  view.baseline = Object.fromEntries(FIELDS.map((field) => [field, textOf(state.fields[field]?.value)]));
  view.attempt = null;
  for (const field of FIELDS) {
    $(field).value = view.baseline[field];
    showFieldConflict(field, null);
  }
  $("edit-fields").disabled = false;
  $("save").disabled = false;
  $("delete").disabled = false;
  $("stale-banner").hidden = true;
  $("conflict-banner").hidden = true;
}

function changedFields(view) {
  return FIELDS.filter((field) => $(field).value !== view.baseline[field]);
}

async function save(event) {
  event.preventDefault();
  const view = current;
  if (!view?.baseline) return;
  const fields = changedFields(view);
  if (fields.length === 0) return setStatus("Nothing changed.");
  if (!$("title").value.trim()) return setStatus("A post needs a title.");
  // Only the fields this user changed: someone else's edit of another field merges.
  const values = Object.fromEntries(fields.map((field) => [field, $(field).value]));
  await settleCommit(view, "Saving…", () => view.record.commit({ fields, values }), values, "Saved.");
}

async function keepMine() {
  const view = current;
  if (!view?.attempt) return;
  await settleCommit(view, "Saving your changes…", () => view.record.keepMine(), view.attempt, "Saved: your changes were kept.");
}

async function deletePost() {
  const view = current;
  if (!view?.baseline) return;
  await settleCommit(view, "Deleting…", () => view.record.delete(), null, "Deleted.");
}

async function settleCommit(view, doing, commit, values, done) {
  setStatus(client.state === "connected" ? doing : `${doing} (offline: waiting for the connection)`);
  $("save").disabled = true;
  try {
    const result = await commit();
    if (view !== current) return;
    if (result.status === "accepted" && result.deleted) {
      location.hash = "#/";
    } else if (result.status === "accepted") {
      Object.assign(view.baseline, values);
      view.attempt = null;
      for (const field of FIELDS) showFieldConflict(field, null);
      $("conflict-banner").hidden = true;
      if (view.record.stale.length === 0) $("stale-banner").hidden = true;
      setStatus(done);
    } else {
      view.attempt = values;
      showConflict(view, result);
    }
  } catch (error) {
    if (view === current) setStatus(`Not saved: ${error.message}`);
  } finally {
    if (view === current && view.baseline) $("save").disabled = false; // not once the post is gone
  }
}

function showConflict(view, conflict) {
  if (conflict.kind === "deleted") return showDeleted(view, deletedBy(conflict.deletedBy?.actor));
  for (const field of FIELDS) showFieldConflict(field, conflict.conflicts.find((change) => change.field === field) ?? null);
  $("conflict-details").textContent = describe(conflict.conflicts, "saved");
  $("conflict-banner").hidden = false;
  $("stale-banner").hidden = true; // the conflict says it all, field by field
  setStatus("Not saved.");
}

function showFieldConflict(field, change) {
  const marker = $(`conflict-${field}`);
  marker.hidden = change === null;
  marker.closest(".field").classList.toggle("has-conflict", change !== null);
  if (change === null) return marker.replaceChildren();
  const value = change.value === undefined || change.value === null ? "" : `: “${textOf(change.value)}”`;
  marker.textContent = `Conflict: ${nameOf(change.actor)} saved this field at ${timeOf(change.at)}${value}`;
}

// The early warning: someone else saved while this user edits, before they press Save.
function onStale(view, stale, push) {
  if (stale.length === 0) return void ($("stale-banner").hidden = true);
  if (push?.deleted || stale.some((change) => change.field === "*")) return showDeleted(view, deletedBy(push?.by ?? stale.at(-1).actor));
  $("stale-details").textContent = describe(stale, "changed");
  // Shown again on every new change, even after "Keep my changes" dismissed an earlier one.
  $("stale-banner").hidden = false;
}

function dismissStale() {
  $("stale-banner").hidden = true;
  setStatus("Your changes are kept: Save writes them.");
}

async function loadLatest() {
  const view = current;
  if (!view) return;
  try {
    const state = await view.record.loadLatest();
    if (view !== current) return;
    if (state.deleted) return showDeleted(view, "This post was deleted.");
    fill(view, state);
    setStatus("Showing the latest version.");
  } catch (error) {
    if (view === current) setStatus(`Could not load: ${error.message}`);
  }
}

function deletedBy(actor) {
  return actor ? `This post was deleted by ${nameOf(actor)}.` : "This post was deleted.";
}

function showDeleted(view, message) {
  if (view !== current) return;
  $("deleted-text").textContent = message;
  $("deleted-banner").hidden = false;
  $("stale-banner").hidden = true;
  $("conflict-banner").hidden = true;
  for (const id of ["edit-fields", "save", "delete", "comment-box", "comment-send"]) $(id).disabled = true;
  view.baseline = null;
  setStatus("");
}

function setStatus(text) {
  $("save-status").textContent = text;
}

// "Bob changed title (“New title”); Carol changed body."
function describe(changes, verb) {
  return changes.map((change) => {
    const what = change.field === "*" ? "the whole post" : change.field;
    const value = typeof change.value === "string" ? ` (“${change.value}”)` : "";
    return `${nameOf(change.actor)} ${verb} ${what}${value}`;
  }).join("; ") + ".";
}

// --- comments and typing ---------------------------------------------------------------------

async function loadComments(view) {
  try {
    const { comments } = await api(`/demo/api/posts/${encodeURIComponent(view.id)}/comments`);
    if (view !== current) return;
    $("comments").replaceChildren(...comments.map((comment) => {
      rememberName(comment.user, comment.name);
      const item = element("li", { className: "comment", "data-test": "comment", "data-user": comment.user });
      const head = element("div", { className: "comment-head" });
      head.append(avatar(comment.user, comment.name), element("strong", { textContent: comment.name }),
        element("span", { className: "muted small", textContent: timeOf(new Date(comment.at)) }));
      item.append(head, element("p", { textContent: comment.text }));
      return item;
    }));
    if (comments.length === 0) $("comments").append(element("li", { className: "muted small", textContent: "No comments yet." }));
  } catch (error) {
    if (view === current && !/no post/.test(error.message)) showError(error);
  }
}

function onCommentInput() {
  if (!current) return;
  // start() is throttled by the client, so calling it on every keystroke is fine.
  if ($("comment-box").value.trim()) current.typing.start();
  else current.typing.stop();
}

async function sendComment(event) {
  event.preventDefault();
  const view = current;
  const text = $("comment-box").value.trim();
  if (!view || !text) return;
  view.typing.stop();
  try {
    await api(`/demo/api/posts/${encodeURIComponent(view.id)}/comments`, { method: "POST", body: { user: me, name: myName, text } });
    $("comment-box").value = "";
    loadComments(view);
  } catch (error) {
    showError(error);
  }
}

function renderTyping(typists) {
  for (const typist of typists) rememberName(typist.user, typist.name);
  const who = typists.map((typist) => nameOf(typist.user));
  $("typing").textContent = who.length === 0 ? "" : `${listOf(who)} ${who.length === 1 ? "is" : "are"} typing...`;
}

// ---------------------------------------------------------------------------------------------
// Small helpers

async function api(path, { method = "GET", body, text = false } = {}) {
  const response = await fetch(path, {
    method,
    headers: body === undefined ? {} : { "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!response.ok) {
    const problem = await response.json().catch(() => null);
    throw new Error(problem?.error?.message ?? `${method} ${path}: HTTP ${response.status}`);
  }
  return text ? response.text() : response.json();
}

function element(tag, properties = {}) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(properties)) {
    if (key.includes("-")) node.setAttribute(key, value);
    else node[key] = value;
  }
  return node;
}

function avatar(user, name) {
  const badge = element("span", { className: "avatar-face", textContent: initials(name || user), "aria-hidden": "true" });
  badge.style.setProperty("--hue", hue(user));
  return badge;
}

// A viewer: one per user however many tabs it has open (the count is shown past one).
function memberAvatar(member, { mini = false } = {}) {
  const name = nameOf(member.user);
  const field = member.info?.field;
  const tabs = member.connections > 1 ? `${member.connections} tabs` : "";
  const label = [member.user === me ? `${name} (you)` : name, tabs, field ? `editing ${field}` : ""].filter(Boolean).join(", ");
  const item = element("li", { className: "viewer", title: label, "aria-label": label, "data-test": "avatar",
    "data-user": member.user, "data-connections": String(member.connections) });
  item.classList.toggle("me", member.user === me);
  item.append(avatar(member.user, name));
  if (!mini) {
    const caption = element("span", { className: "viewer-name", textContent: member.user === me ? `${name} (you)` : name });
    item.append(caption);
    if (tabs) item.append(element("span", { className: "tag", "data-test": "tabs", textContent: tabs }));
    if (field) item.append(element("span", { className: "tag editing", textContent: `editing ${field}` }));
  }
  return item;
}

function showError(error) {
  const item = element("li", { textContent: error?.code ? `${error.code}: ${error.message}` : String(error?.message ?? error) });
  $("errors").append(item);
  setTimeout(() => item.remove(), 8000);
}

function rememberName(user, name) {
  if (typeof name === "string" && name !== "") names.set(user, name);
}

function nameOf(user) {
  return names.get(user) ?? capitalized(String(user ?? "someone"));
}

function capitalized(text) {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

function initials(name) {
  return name.split(/\s+/).filter(Boolean).slice(0, 2).map((word) => word[0].toUpperCase()).join("") || "?";
}

function hue(user) {
  let hash = 0;
  for (const char of user) hash = (hash * 31 + char.codePointAt(0)) % 360;
  return String(hash);
}

function listOf(items) {
  return items.length <= 1 ? items.join("") : `${items.slice(0, -1).join(", ")} and ${items.at(-1)}`;
}

function textOf(value) {
  return typeof value === "string" ? value : value === undefined || value === null ? "" : JSON.stringify(value);
}

function timeOf(date) {
  return Number.isNaN(date.getTime()) ? "" : date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}
