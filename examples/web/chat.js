// 1:1 and group chats: the rooms list with unread counts and last
// messages, new direct and group chats, a conversation with history
// paging, typing, read marks, editing and deleting messages, and reactions,
// a search of the messages of every chat of ours, and the presence of the
// people of our chats (a dot: online, away, offline with when last seen).
"use strict";

// turn counts the rooms asked to open: when answers come back out of order,
// only the newest request may show its room. opening counts the requests
// still under way.
const state = { rooms: [], open: null, watch: null, conv: null, lastTyping: 0, turn: 0, opening: 0 };
window.__chat = state; // for the browser tests

// Presence of everyone we share a chat with, and ours: user -> { status,
// last_seen }, from GET /api/presence and the events of /user/queue/presence.
// autoAway: we set away because the page was hidden (AWAY_AFTER_MS), so
// showing it again comes back.
const presence = { of: new Map(), autoAway: false, hiddenTimer: null };
state.presence = presence.of;
const AWAY_AFTER_MS = 60000;

function presenceText(user) {
  const p = presence.of.get(user);
  if (!p) return "offline";
  if (p.status === "offline" && p.last_seen) return "last seen " + fmtTime(p.last_seen);
  return p.status;
}

function presenceDot(user) {
  const p = presence.of.get(user);
  const dot = document.createElement("span");
  dot.className = "dot " + (p ? p.status : "offline");
  dot.dataset.user = user;
  dot.title = user + ": " + presenceText(user);
  dot.setAttribute("role", "img");
  dot.setAttribute("aria-label", dot.title);
  return dot;
}

// Everyone of our chats (the server leaves out anyone else), 50 a request.
async function loadPresence() {
  const users = [...new Set(state.rooms.filter((r) => r.kind !== "support").flatMap((r) => r.members))];
  if (!users.includes(desk.user)) users.push(desk.user);
  for (let i = 0; i < users.length; i += 50) {
    for (const p of await desk.chat.presence(users.slice(i, i + 50))) presence.of.set(p.user, p);
  }
  showPresence();
}

function showPresence() {
  renderRooms();
  if (state.open) showMembers(state.open);
  const me = presence.of.get(desk.user);
  const away = !!me && me.status === "away";
  $("away").textContent = away ? "I'm back" : "Set away";
  $("away").setAttribute("aria-pressed", String(away));
}

function onPresence(p) {
  presence.of.set(p.user, p);
  showPresence();
}

function setAway(away) {
  desk.chat.setPresence(away ? "away" : "online");
}

function roomName(room) {
  if (room.kind === "direct") return room.members.find((m) => m !== desk.user) || desk.user;
  return room.title || "Group";
}

function renderRooms() {
  const chats = state.rooms.filter((r) => r.kind !== "support");
  $("rooms").replaceChildren(...chats.map((room) => {
    const li = document.createElement("li");
    li.dataset.room = room.id;
    li.tabIndex = 0;
    li.classList.toggle("active", state.open && state.open.id === room.id);
    const who = document.createElement("span");
    who.className = "who";
    who.textContent = roomName(room) + (room.kind === "group" ? " · " + room.members.length : "");
    if (room.kind === "direct") who.prepend(presenceDot(roomName(room)));
    const info = document.createElement("span");
    info.className = "info";
    const unread = state.open && state.open.id === room.id ? 0 : room.unread;
    const last = room.last_message;
    info.textContent = unread ? unread + " unread" : !last ? "" : last.deleted ? "Message deleted" : bodyLine(last.body);
    info.classList.toggle("unread", unread > 0);
    li.append(who, info);
    li.addEventListener("click", () => openRoom(room.id));
    li.addEventListener("keydown", (e) => { if (e.key === "Enter") openRoom(room.id); });
    return li;
  }));
  $("rooms-empty").hidden = chats.length > 0;
}

async function refreshRooms() {
  const known = new Set(state.rooms.flatMap((r) => r.members));
  state.rooms = (await desk.chat.rooms.list("mine")).map((r) => r.info);
  renderRooms();
  // Someone new among our chats: their presence is ours to see now.
  if (state.rooms.some((r) => r.kind !== "support" && r.members.some((m) => !known.has(m)))) loadPresence();
}

function toast(text) {
  $("toast").textContent = text;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { $("toast").textContent = ""; }, 4000);
}

// The open chat's events, as the package delivers them.
function onRoomEvent(e) {
  const room = state.open;
  if (!room || e.room !== room.id) return;
  switch (e.type) {
  case "message": {
    const m = e.message;
    state.conv.add(m, false);
    if (m.sender !== desk.user && !document.hidden) desk.read(room.id, m.seq);
    const entry = state.rooms.find((r) => r.id === room.id);
    if (entry) { entry.last_message = { body: m.body, sender: m.sender }; entry.unread = 0; renderRooms(); }
    break;
  }
  case "message-edited":
  case "message-deleted":
    state.conv.change(e.message);
    editing.changed(e);
    if (reply.seq === e.message.seq && e.type === "message-deleted") reply.clear();
    refreshRooms(); // the list's last line may be the one that changed
    break;
  case "reaction":
    state.conv.setReactions(e.seq, e.reactions, e.user, e.emoji, e.action === "added");
    break;
  case "typing":
    showTyping(e.user);
    break;
  case "member-joined":
  case "member-left":
  case "role-changed":
    if (e.type === "member-left" && e.user === desk.user) { closePane(); refreshRooms(); return; }
    desk.chat.room(room.id).get().then((r) => { state.open = r; showMembers(r); refreshRooms(); }, () => {});
    break;
  case "renamed": {
    room.title = e.title;
    $("pane-title").textContent = roomName(room);
    const entry = state.rooms.find((r) => r.id === room.id);
    if (entry) { entry.title = room.title; renderRooms(); }
    break;
  }
  case "deleted":
    // The last frame of the room: it is gone for every member.
    closePane();
    toast(`"${roomName(room)}" was deleted`);
    refreshRooms();
    break;
  }
}

// Edit and Delete beside a message: the sender's own (the server holds
// them to [rooms] edit_window and says so when it is over); a group's owner
// and admins delete any.
const editing = new MessageEditing($("composer"), () => state.open && state.open.id,
                                   () => !!state.open && mayManage(state.open), (err) => toast(errorText(err)));

// Reply: "Reply" under a message puts it above the composer ("Replying to
// …", × or Escape to leave it); the next message sent answers it
// (`reply-to`, docs/protocol.md) and shows it quoted above its text.
const reply = {
  seq: null,
  set(m) {
    editing.stop();
    reply.seq = m.seq;
    $("reply-to").textContent = "Replying to " + (m.sender || "someone") + ": " + excerpt(bodyLine(m.body));
    $("reply-bar").hidden = false;
    $("composer").querySelector("input").focus();
  },
  clear() {
    reply.seq = null;
    $("reply-bar").hidden = true;
    $("reply-to").textContent = "";
  },
};
state.reply = reply;
editing.actions.reply = (m) => reply.set(m);
$("reply-cancel").addEventListener("click", () => reply.clear());
$("composer").querySelector("input").addEventListener("keydown", (e) => {
  if (e.key === "Escape" && reply.seq !== null) reply.clear();
});

// Reactions under each message: a click on one adds ours or takes it back,
// "+" offers a few emoji. The answer holds the message's reactions with our
// own marked; the `reaction` event brings everyone else's changes.
editing.actions.react = async (m, emoji, add) => {
  const room = state.open && state.open.id;
  if (!room) return;
  try {
    const r = desk.chat.room(room);
    const reactions = add ? await r.react(m.seq, emoji) : await r.unreact(m.seq, emoji);
    if (state.open && state.open.id === room) state.conv.setReactions(m.seq, reactions);
  } catch (err) {
    toast(errorText(err));
  }
};

// Owners and admins of a group may rename and delete it.
function mayManage(room) {
  return room.kind === "group" && (room.owner === desk.user || (room.admins || []).includes(desk.user));
}

function showMembers(room) {
  const people = room.kind === "group" ? room.members : room.members.filter((m) => m !== desk.user);
  $("members").replaceChildren(...(room.kind === "group" ? ["Members: "] : []), ...people.flatMap((m, i) => {
    const span = document.createElement("span");
    span.className = "member";
    span.append(presenceDot(m), room.kind === "group" ? m : m + " · " + presenceText(m));
    return i ? [", ", span] : [span];
  }));
  $("leave").hidden = room.kind !== "group";
  $("rename").hidden = !mayManage(room);
  $("delete").hidden = !mayManage(room);
}

function closePane() {
  reply.clear();
  state.turn++;
  if (state.watch) state.watch.stop();
  state.watch = null;
  state.open = null;
  $("pane").hidden = true;
}

async function openRoom(id) {
  state.opening++;
  try {
    await showRoom(id, ++state.turn);
  } catch (err) {
    // A chat that went away meanwhile (deleted, or we were removed).
    toast(errorText(err));
    refreshRooms();
  } finally {
    state.opening--;
  }
}

async function showRoom(id, turn) {
  if (state.watch) state.watch.stop();
  state.watch = null;
  const room = await desk.chat.room(id).get();
  if (turn !== state.turn) return;
  state.open = room;
  $("pane").hidden = false;
  $("pane-title").textContent = roomName(room);
  showMembers(room);
  editing.stop();
  reply.clear();
  state.conv = state.conv || new Conversation($("messages"), desk.user, editing.actions);
  const last = await state.conv.open(id);
  if (turn !== state.turn) return;
  const watch = await desk.watchRoom(id, last, { event: onRoomEvent });
  if (turn !== state.turn) { watch.stop(); return; }
  state.watch = watch;
  if (last) desk.read(id, last);
  const entry = state.rooms.find((r) => r.id === id);
  if (entry) entry.unread = 0;
  renderRooms();
  $("composer").querySelector("input").focus();
}

// In-band notifications: a chat someone added us to, a message in a chat
// that is not open.
function onNotification(n) {
  if (n.type === "room-added") { refreshRooms(); return; }
  if (n.type !== "message") return;
  const entry = state.rooms.find((r) => r.id === n.room);
  if (!entry) { refreshRooms(); return; } // a chat someone just started with us
  if (state.open && state.open.id === n.room) return;
  entry.unread = (entry.unread || 0) + 1;
  entry.last_message = { body: n.preview, sender: n.sender };
  renderRooms();
}

$("signin").addEventListener("submit", async (e) => {
  e.preventDefault();
  $("signin-error").textContent = "";
  try {
    await desk.signIn(e.target.login.value.trim(), e.target.passcode.value);
    $("signin").hidden = true;
    $("console").hidden = false;
    // Kept across reconnects by the package; after one, the list and
    // presence are read again.
    desk.chat.onNotification({ notification: onNotification });
    desk.chat.onPresence(onPresence);
    desk.onConnect.push(() => refreshRooms().then(loadPresence));
    await refreshRooms();
    await loadPresence();
  } catch (err) {
    $("signin-error").textContent = errorText(err);
  }
});

$("new-direct").addEventListener("submit", async (e) => {
  e.preventDefault();
  const other = e.target.with.value.trim();
  try {
    const room = await desk.chat.rooms.openDirect(other);
    e.target.reset();
    await refreshRooms();
    await openRoom(room.id);
  } catch (err) {
    toast(errorText(err));
  }
});

$("new-group").addEventListener("submit", async (e) => {
  e.preventDefault();
  const members = e.target.members.value.split(/[\s,]+/).filter(Boolean);
  try {
    const room = await desk.chat.rooms.createGroup(e.target.title.value.trim(), members);
    e.target.reset();
    await refreshRooms();
    await openRoom(room.id);
  } catch (err) {
    toast(errorText(err));
  }
});

// Search: GET /api/search across the rooms we may read, newest first; a
// match opens its chat. "More" follows the page's cursor.
const found = { q: "", cursor: null, turn: 0 };

function foundItem(m) {
  const li = document.createElement("li");
  li.dataset.room = m.room;
  li.dataset.seq = m.seq;
  li.tabIndex = 0;
  const entry = state.rooms.find((r) => r.id === m.room);
  const who = document.createElement("span");
  who.className = "who";
  who.textContent = (entry ? roomName(entry) : "Support") + " · " + m.sender + " · " + fmtTime(m.timestamp);
  const info = document.createElement("span");
  info.className = "info";
  info.textContent = m.body;
  li.append(who, info);
  li.addEventListener("click", () => openRoom(m.room));
  li.addEventListener("keydown", (e) => { if (e.key === "Enter") openRoom(m.room); });
  return li;
}

async function searchPage(more) {
  const turn = ++found.turn;
  try {
    const page = await desk.chat.search(found.q, more && found.cursor ? { cursor: found.cursor } : {});
    if (turn !== found.turn) return; // a newer search took over
    const list = $("found-list");
    if (!more) list.replaceChildren();
    list.append(...page.messages.map(foundItem));
    found.cursor = page.next_cursor;
    $("found-more").hidden = !page.next_cursor;
    const n = list.children.length;
    $("found-summary").textContent = n ? `${n} message${n === 1 ? "" : "s"} with "${found.q}"`
                                       : `No message with "${found.q}"`;
    $("found").hidden = false;
  } catch (err) {
    if (turn === found.turn) toast(errorText(err)); // a query too short, say
  }
}

$("search").addEventListener("submit", (e) => {
  e.preventDefault();
  found.q = e.target.q.value.trim();
  found.cursor = null;
  searchPage(false);
});
$("found-more").addEventListener("click", () => searchPage(true));
$("found-close").addEventListener("click", () => {
  found.turn++;
  $("found").hidden = true;
  $("search").reset();
});

$("composer").addEventListener("submit", (e) => {
  e.preventDefault();
  const input = e.target.text;
  if (!input.value.trim() || !state.open || editing.submitted()) return;
  desk.send(state.open.id, input.value, reply.seq).catch((err) => toast(errorText(err)));
  input.value = "";
  reply.clear();
});

// Attach: the file goes up, then its `file` message (docs/files.md); a
// refusal (too large, a type not allowed, the quota) shows as a toast.
$("attach").addEventListener("click", () => { if (state.open) $("attach-file").click(); });
$("attach-file").addEventListener("change", async (e) => {
  const file = e.target.files[0];
  e.target.value = "";
  if (!file || !state.open) return;
  try {
    await desk.sendFile(state.open.id, file);
  } catch (err) {
    toast(file.name + ": " + errorText(err));
  }
});

$("composer").querySelector("input").addEventListener("input", () => {
  if (state.open && Date.now() - state.lastTyping > 2000) { state.lastTyping = Date.now(); desk.typing(state.open.id); }
});

$("leave").addEventListener("click", async () => {
  if (!state.open) return;
  await desk.chat.room(state.open.id).leave();
  closePane();
  await refreshRooms();
});

$("rename").addEventListener("submit", async (e) => {
  e.preventDefault();
  if (!state.open) return;
  try {
    await desk.chat.room(state.open.id).rename(e.target.title.value.trim());
    e.target.reset(); // the `renamed` event shows the new title
  } catch (err) {
    toast(errorText(err));
  }
});

$("delete").addEventListener("click", async () => {
  if (!state.open) return;
  try {
    await desk.chat.room(state.open.id).deleteForEveryone();
  } catch (err) {
    toast(errorText(err));
  }
});

$("away").addEventListener("click", () => {
  const me = presence.of.get(desk.user);
  presence.autoAway = false;
  setAway(!(me && me.status === "away"));
});

document.addEventListener("visibilitychange", () => {
  if (!document.hidden && state.open && state.watch) desk.read(state.open.id, state.watch.lastSeq);
  // The server cannot tell an idle page from a busy one: hidden a while, we
  // say away; shown again, back (unless away was chosen by hand).
  clearTimeout(presence.hiddenTimer);
  if (!desk.chat || !desk.chat.connected) return;
  if (document.hidden) {
    presence.hiddenTimer = setTimeout(() => {
      const me = presence.of.get(desk.user);
      if (me && me.status === "away") return;
      presence.autoAway = true;
      setAway(true);
    }, AWAY_AFTER_MS);
  } else if (presence.autoAway) {
    presence.autoAway = false;
    setAway(false);
  }
});
