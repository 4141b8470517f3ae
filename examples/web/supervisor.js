// The supervisor's page (docs/support-desk.md, "Supervisors"): every agent
// with their status and load, every support chat waiting or assigned
// (GET /api/support/overview, refreshed on the desk's events), any chat
// read live, handed to another agent or back to the queue, and its
// internal notes.
"use strict";

const state = { overview: null, open: null, watch: null, conv: null, turn: 0 };
window.__supervisor = state; // for the browser tests

function chatItem(room) {
  const li = document.createElement("li");
  li.dataset.room = room.id;
  li.tabIndex = 0;
  li.classList.toggle("active", state.open === room.id);
  const who = document.createElement("span");
  who.className = "who";
  who.textContent = userName(room.owner) + (room.agent ? " → " + room.agent : "");
  titleIds(who, room.owner);
  if (room.topic) {
    li.dataset.topic = room.topic;
    const topic = document.createElement("span");
    topic.className = "topic";
    topic.textContent = room.topic;
    who.append(" ", topic);
  }
  const info = document.createElement("span");
  info.className = "info";
  if (room.state === "unassigned") info.dataset.created = room.waiting_since || room.created_at;
  else info.textContent = room.last_seq + (room.last_seq === 1 ? " message" : " messages");
  li.append(who, info);
  if (room.sla_breached) {
    li.dataset.sla = "breached";
    const badge = document.createElement("span");
    badge.className = "sla";
    badge.textContent = "over target";
    who.append(" ", badge);
  }
  li.addEventListener("click", () => openRoom(room.id));
  li.addEventListener("keydown", (e) => { if (e.key === "Enter") openRoom(room.id); });
  return li;
}

function tick() {
  for (const el of document.querySelectorAll("#queue .info"))
    el.textContent = "waiting " + fmtWait(Date.now() - Number(el.dataset.created));
}
setInterval(tick, 1000);

function render() {
  const o = state.overview;
  $("agents").replaceChildren(...o.agents.map((a) => {
    const li = document.createElement("li");
    li.dataset.agent = a.user;
    li.dataset.status = a.status;
    const who = document.createElement("span");
    who.className = "who";
    who.textContent = a.user;
    const info = document.createElement("span");
    info.className = "info";
    info.textContent = a.status + " · " + a.open_chats + (a.open_chats === 1 ? " open chat" : " open chats") +
      (a.skills && a.skills.length ? " · " + a.skills.join(", ") : "");
    li.append(who, info);
    return li;
  }));
  $("agents-empty").hidden = o.agents.length > 0;
  $("agents-limit").textContent = o.max_chats_per_agent ? "at most " + o.max_chats_per_agent + " chats each" : "";
  $("queue").replaceChildren(...o.queue.map(chatItem));
  $("assigned").replaceChildren(...o.assigned.map(chatItem));
  for (const [list, n] of [["queue", o.queue.length], ["assigned", o.assigned.length]]) {
    $(list + "-empty").hidden = n > 0;
    $(list + "-count").textContent = n || "";
  }
  tick();
  renderReassign();
}

// Where the open chat may go: an online agent who does not have it, or
// (an assigned chat) back to the queue.
function renderReassign() {
  const room = openRoomInfo();
  const form = $("reassign");
  form.hidden = !room;
  if (form.hidden) return;
  const to = $("reassign-to");
  const chosen = to.value;
  const options = state.overview.agents.filter((a) => a.status === "online" && a.user !== room.agent).map((a) => {
    const o = document.createElement("option");
    o.value = a.user;
    o.textContent = a.user + " · " + a.open_chats + (a.open_chats === 1 ? " open chat" : " open chats");
    return o;
  });
  const queue = document.createElement("option");
  queue.value = "";
  queue.textContent = "Back to the queue";
  to.replaceChildren(...options, ...(room.state === "assigned" ? [queue] : []));
  $("reassign-submit").disabled = to.options.length === 0;
  if ([...to.options].some((o) => o.value === chosen)) to.value = chosen;
}

function openRoomInfo() {
  const o = state.overview;
  return o && state.open ? [...o.queue, ...o.assigned].find((r) => r.id === state.open) : null;
}

async function refresh() {
  try {
    state.overview = await desk.chat.support.overview();
  } catch (err) {
    $("toast").textContent = errorText(err);
    return;
  }
  render();
}

// Reading a chat: its history and its events live, as a watcher who is not
// in it; the supervisor does not write into it.
async function openRoom(roomId) {
  const turn = ++state.turn;
  if (state.watch) state.watch.stop();
  state.watch = null;
  state.open = roomId;
  const room = openRoomInfo();
  $("pane").hidden = false;
  $("pane-title").textContent = room ? "Chat of " + userName(room.owner) + (room.agent ? " with " + room.agent : "") : "Chat";
  titleIds($("pane-title"), room && room.owner);
  $("reassign-error").textContent = "";
  state.conv = state.conv || new Conversation($("messages"), desk.user);
  render();
  const last = await state.conv.open(roomId);
  if (turn !== state.turn) return;
  const watch = await desk.watchRoom(roomId, last, {
    message: (e) => state.conv.add(e.message, false),
    "message-edited": (e) => state.conv.change(e.message),
    "message-deleted": (e) => state.conv.change(e.message),
  });
  if (turn !== state.turn) { watch.stop(); return; }
  state.watch = watch;
  notes.open(roomId);
}

const notes = new NotesPanel($("notes"), $("note-form"), $("note-error"));

$("reassign").addEventListener("submit", async (e) => {
  e.preventDefault();
  const room = state.open;
  const to = $("reassign-to").value || null;
  try {
    await desk.chat.room(room).transfer(to);
  } catch (err) {
    $("reassign-error").textContent = errorText(err);
    return;
  }
  $("reassign-error").textContent = "";
  await refresh();
  if (state.open === room)
    $("pane-title").textContent = to ? "Chat handed to " + to : "Chat back in the queue";
});

$("signin").addEventListener("submit", async (e) => {
  e.preventDefault();
  $("signin-error").textContent = "";
  try {
    await desk.signIn(e.target.login.value.trim(), e.target.passcode.value);
    await desk.chat.support.overview(); // a supervisor?
  } catch (err) {
    if (desk.chat) desk.chat.close();
    $("signin-error").textContent = errorText(err);
    return;
  }
  $("signin").hidden = true;
  $("console").hidden = false;
  // The desk's events (kept across reconnects by the package); after a
  // reconnect, the overview again.
  desk.chat.onSupportQueue(() => refresh());
  desk.chat.onAgents(() => refresh());
  desk.onConnect.push(refresh);
  refresh();
  // A completion is told on its room only: the overview also every 10 s.
  setInterval(refresh, 10000);
});
