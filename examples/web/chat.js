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

// Presence of everyone we share a chat with, and ours (desk.js,
// PresenceBook); hidden a while, the page says away.
const presence = { book: new PresenceBook(() => showPresence()) };
state.presence = presence.book.of;
presence.auto = presence.book.awayWhenHidden();

// Everyone of our chats, and ourselves.
function loadPresence() {
  return presence.book.load([...state.rooms.filter((r) => r.kind !== "support").flatMap((r) => r.members), desk.user]);
}

function showPresence() {
  renderRooms();
  if (state.open) showMembers(state.open);
  const me = presence.book.of.get(desk.user);
  const away = !!me && me.status === "away";
  $("away").textContent = away ? "I'm back" : "Set away";
  $("away").setAttribute("aria-pressed", String(away));
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
    if (room.kind === "direct") who.prepend(presence.book.dot(roomName(room)));
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
  case "reaction":
    showMessageChange(e, state.conv, editing, reply);
    if (e.type !== "reaction") refreshRooms(); // the list's last line may be the one that changed
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

// Reply and reactions (desk.js).
const reply = new ReplyBar(editing);
state.reply = reply;
offerReactions(editing, () => state.conv);

// Owners and admins of a group may rename and delete it.
function mayManage(room) {
  return room.kind === "group" && (room.owner === desk.user || (room.admins || []).includes(desk.user));
}

function showMembers(room) {
  const people = room.kind === "group" ? room.members : room.members.filter((m) => m !== desk.user);
  $("members").replaceChildren(...(room.kind === "group" ? ["Members: "] : []), ...people.flatMap((m, i) => {
    const span = document.createElement("span");
    span.className = "member";
    span.append(presence.book.dot(m), room.kind === "group" ? m : m + " · " + presence.book.text(m));
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
    presence.book.listen();
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
// match opens its chat.
new SearchPanel({
  search: (q, opts) => desk.chat.search(q, opts),
  label: (m) => {
    const entry = state.rooms.find((r) => r.id === m.room);
    return (entry ? roomName(entry) : "Support") + " · ";
  },
  pick: (m) => openRoom(m.room),
  onError: (err) => toast(errorText(err)),
});

$("composer").addEventListener("submit", (e) => {
  e.preventDefault();
  const input = e.target.text;
  if (!input.value.trim() || !state.open || editing.submitted()) return;
  desk.send(state.open.id, input.value, reply.seq).catch((err) => toast(errorText(err)));
  input.value = "";
  reply.clear();
});

// Attach (desk.js): a refusal shows as a toast.
offerAttachments($("attach"), $("attach-file"), () => state.open && state.open.id, toast);

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
  const me = presence.book.of.get(desk.user);
  presence.auto.chosen();
  setAway(!(me && me.status === "away"));
});

document.addEventListener("visibilitychange", () => {
  if (!document.hidden && state.open && state.watch) desk.read(state.open.id, state.watch.lastSeq);
});
