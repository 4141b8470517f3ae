// The agent's side: availability, the live queue, claiming, own chats,
// conversations, and the other agents' status and load.
"use strict";

// turn counts the rooms asked to open: only the newest may show its room.
// breached: rooms an sla-breached event named (the instance keeping a wait
// tells every instance; the lists show the flag only where it is kept).
const state = { queue: [], mine: [], open: null, watch: null, conv: null, lastTyping: 0,
                lastMine: 0, customerRead: 0, turn: 0, agents: [], me: "offline", breached: new Set(),
                ratings: [] };
window.__desk = state; // for the browser tests

function roomItem(room, button) {
  const li = document.createElement("li");
  li.dataset.room = room.id;
  const who = document.createElement("span");
  who.className = "who";
  who.textContent = userName(room.owner);
  titleIds(who, room.owner);
  if (room.topic) { // what the customer needs help with (docs/support-desk.md, "Topics and skills")
    li.dataset.topic = room.topic;
    const topic = document.createElement("span");
    topic.className = "topic";
    topic.textContent = room.topic;
    who.append(" ", topic);
  }
  const info = document.createElement("span");
  info.className = "info";
  li.append(who, info);
  if (button) li.append(button);
  return li;
}

// Past [support] first_response_target: a badge beside the customer's name.
function markSla(li, room, breached) {
  if (!breached) return;
  li.dataset.sla = "breached";
  const badge = document.createElement("span");
  badge.className = "sla";
  badge.textContent = "over target";
  badge.title = "Waiting for an agent's answer longer than the desk's first-response target";
  li.querySelector(".who").append(" ", badge);
}

function renderQueue() {
  const list = $("queue");
  list.replaceChildren(...state.queue.map((room) => {
    const b = document.createElement("button");
    b.textContent = "Claim";
    b.setAttribute("aria-label", "Claim the chat of " + userName(room.owner));
    b.addEventListener("click", () => claim(room.id));
    const li = roomItem(room, b);
    li.querySelector(".info").dataset.created = room.waiting_since || room.created_at;
    markSla(li, room, "sla_breached" in room ? room.sla_breached : state.breached.has(room.id));
    return li;
  }));
  $("queue-empty").hidden = state.queue.length > 0;
  $("queue-count").textContent = state.queue.length ? state.queue.length : "";
  tick();
}

function tick() {
  for (const el of document.querySelectorAll("#queue .info"))
    el.textContent = "waiting " + fmtWait(Date.now() - Number(el.dataset.created));
}
setInterval(tick, 1000);

function renderMine() {
  $("mine").replaceChildren(...state.mine.map((room) => {
    const li = roomItem(room);
    markSla(li, room, room.sla_breached === true);
    li.tabIndex = 0;
    li.classList.toggle("active", state.open === room.id);
    const unread = state.open === room.id ? 0 : room.unread;
    li.querySelector(".info").textContent = unread ? unread + " unread" : (room.last_message ? messageText(room.last_message) : "");
    if (unread) li.querySelector(".info").classList.add("unread");
    li.addEventListener("click", () => openRoom(room.id));
    li.addEventListener("keydown", (e) => { if (e.key === "Enter") openRoom(room.id); });
    return li;
  }));
}

// Every agent with their status and open chats (GET /api/agents); mine
// sets the availability toggle.
function renderAgents(limit) {
  $("agents").replaceChildren(...state.agents.map((a) => {
    const li = document.createElement("li");
    li.dataset.agent = a.user;
    li.dataset.status = a.status;
    const who = document.createElement("span");
    who.className = "who";
    who.textContent = a.user + (a.user === desk.user ? " (you)" : "");
    const info = document.createElement("span");
    info.className = "info";
    info.textContent = a.status + " · " + a.open_chats + (a.open_chats === 1 ? " open chat" : " open chats") +
      (a.skills && a.skills.length ? " · " + a.skills.join(", ") : "");
    li.append(who, info);
    return li;
  }));
  $("agents-limit").textContent = limit ? "at most " + limit + (limit === 1 ? " chat" : " chats") + " each" : "";
  const me = state.agents.find((a) => a.user === desk.user);
  state.me = me ? me.status : "offline";
  $("availability").textContent = state.me === "away" ? "You are away: no new chats are routed to you"
                                                      : "You are online";
  $("availability").dataset.status = state.me;
  $("away-toggle").textContent = state.me === "away" ? "Come back" : "Go away";
}

// Ratings as the queue topic tells them (`rated`, body = the room), newest
// first: who rated whose chat, the score and the comment.
function onRated(room) {
  state.ratings = [room, ...state.ratings.filter((r) => r.id !== room.id)].slice(0, 20);
  $("ratings").replaceChildren(...state.ratings.map((r) => {
    const li = roomItem(r);
    li.dataset.score = r.rating.score;
    li.querySelector(".who").textContent = userName(r.owner) + " → " + (r.agent || "queue");
    li.querySelector(".info").textContent = "★".repeat(r.rating.score) + "☆".repeat(5 - r.rating.score) + " " +
      r.rating.score + "/5" + (r.rating.comment ? " · " + r.rating.comment : "");
    return li;
  }));
  $("ratings-empty").hidden = state.ratings.length > 0;
}

async function refreshAgents() {
  const answer = await desk.chat.support.agents();
  state.agents = answer.agents;
  renderAgents(answer.max_chats_per_agent);
}

async function refreshQueue() {
  state.queue = (await desk.chat.rooms.list("unassigned")).map((r) => r.info);
  renderQueue();
}

async function refreshMine() {
  state.mine = (await desk.chat.rooms.list("assigned")).map((r) => r.info);
  renderMine();
}

async function claim(roomId) {
  $("toast").textContent = "";
  try {
    await desk.chat.room(roomId).claim();
    await Promise.all([refreshQueue(), refreshMine()]);
    openRoom(roomId);
  } catch (err) {
    $("toast").textContent = err.status === 409 ? "Another agent took that chat." : errorText(err);
    refreshQueue();
  }
}

function updateRead() {
  $("read").textContent = state.lastMine && state.customerRead >= state.lastMine ? "Read by the customer" : "";
}

// Edit and Delete: the agent's own lines; an agent deletes any line of the
// support room (a card number the customer should not have sent).
const editing = new MessageEditing($("composer"), () => state.open, () => true,
                                   (err) => { $("read").textContent = errorText(err); });
// The open chat's internal notes, for agents and supervisors only.
const notes = new NotesPanel($("notes"), $("note-form"), $("note-error"));

// The open chat's events, as the package delivers them.
function onEvent(e) {
  switch (e.type) {
  case "message-edited":
  case "message-deleted":
    state.conv.change(e.message);
    editing.changed(e);
    break;
  case "message":
    state.conv.add(e.message, false);
    if (e.message.sender === desk.user) {
      state.lastMine = e.message.seq;
      updateRead();
      // My answer ends the customer's wait: the flag goes.
      if (state.mine.some((r) => r.id === state.open && r.sla_breached)) refreshMine();
    } else {
      desk.read(state.open, e.message.seq);
    }
    break;
  case "typing":
    showTyping(e.user);
    break;
  case "read":
    if (e.user !== desk.user) { state.customerRead = Math.max(state.customerRead, e.seq); updateRead(); }
    break;
  case "closed":
    closePane();
    refreshMine();
    break;
  case "transferred":
    // Handed on by me (or an admin): the room is no longer mine.
    if (e.from === desk.user) {
      closePane();
      refreshMine();
    }
    break;
  }
}

async function openRoom(roomId) {
  const turn = ++state.turn;
  if (state.watch) state.watch.stop();
  state.watch = null;
  state.open = roomId;
  state.lastMine = 0;
  state.customerRead = 0;
  const room = state.mine.find((r) => r.id === roomId);
  $("pane").hidden = false;
  $("pane-title").textContent = room ? "Chat with " + userName(room.owner) + (room.topic ? " · " + room.topic : "") : "Chat";
  titleIds($("pane-title"), room && room.owner);
  $("read").textContent = "";
  editing.stop();
  state.conv = state.conv || new Conversation($("messages"), desk.user, editing.actions);
  const last = await state.conv.open(roomId);
  if (turn !== state.turn) return;
  const watch = await desk.watchRoom(roomId, last, { event: onEvent });
  if (turn !== state.turn) { watch.stop(); return; }
  state.watch = watch;
  notes.open(roomId);
  if (last) desk.read(roomId, last);
  renderMine();
}

function closePane() {
  state.turn++;
  if (state.watch) state.watch.stop();
  state.watch = null;
  state.open = null;
  notes.stop();
  $("pane").hidden = true;
}

$("signin").addEventListener("submit", async (e) => {
  e.preventDefault();
  $("signin-error").textContent = "";
  try {
    await desk.signIn(e.target.login.value.trim(), e.target.passcode.value);
  } catch (err) {
    $("signin-error").textContent = errorText(err);
    return;
  }
  $("signin").hidden = true;
  $("console").hidden = false;
  // The queue, my notifications and the agents (the package keeps the
  // subscriptions across reconnects); the lists are read again after each.
  desk.chat.onSupportQueue((e) => {
    if (e.type === "sla-breached") {
      state.breached.add(e.roomId);
      refreshMine(); // a chat of mine may be the one waiting
    }
    if (e.type === "rated") onRated(e.room);
    else refreshQueue();
    refreshAgents();
  });
  desk.chat.onNotification({ notification: () => { refreshMine(); refreshAgents(); } });
  desk.chat.onAgents(() => refreshAgents());
  const refresh = () => {
    refreshQueue();
    refreshMine();
    refreshAgents();
    refreshCanned();
  };
  desk.onConnect.push(refresh);
  refresh();
});

$("composer").addEventListener("submit", (e) => {
  e.preventDefault();
  const input = e.target.text;
  if (!input.value.trim() || !state.open || editing.submitted()) return;
  desk.send(state.open, withCannedBodies(input.value)).catch((err) => { $("read").textContent = errorText(err); });
  input.value = "";
  canned.inserted = [];
  hideSuggestions();
});

// Canned replies (GET /api/support/canned, support-desk.md): "/" and the
// start of a shortcut in the reply box offers the desk's replies whose
// shortcut starts so (or whose title holds it); Tab, Enter or a click
// puts the body in place of "/…". The reply box is one line, so a body's
// line breaks show as spaces there and are sent as they are saved.
const canned = { replies: [], canEdit: false, matches: [], pick: 0, token: null, inserted: [] };
window.__canned = canned; // for the browser tests

async function refreshCanned() {
  try {
    const doc = await desk.chat.support.canned();
    canned.replies = doc.replies;
    canned.canEdit = doc.can_edit;
  } catch (err) {
    $("canned").hidden = true; // a storage without them (501), or not an agent
    return;
  }
  renderCanned();
}

function renderCanned() {
  $("canned").hidden = false;
  $("canned-form").hidden = !canned.canEdit;
  $("canned-count").textContent = canned.replies.length ? canned.replies.length : "";
  $("canned-list").replaceChildren(...canned.replies.map((r) => {
    const li = document.createElement("li");
    li.dataset.shortcut = r.shortcut;
    const who = document.createElement("span");
    who.className = "who";
    who.textContent = "/" + r.shortcut;
    const info = document.createElement("span");
    info.className = "info";
    info.textContent = r.title;
    info.title = r.body;
    li.append(who, info);
    if (canned.canEdit) {
      const actions = document.createElement("span");
      actions.className = "actions";
      const edit = document.createElement("button");
      edit.type = "button";
      edit.className = "secondary";
      edit.textContent = "Edit";
      edit.setAttribute("aria-label", "Edit /" + r.shortcut);
      edit.addEventListener("click", () => {
        const f = $("canned-form");
        f.shortcut.value = r.shortcut;
        f.title.value = r.title;
        f.body.value = r.body;
        f.title.focus();
      });
      const del = document.createElement("button");
      del.type = "button";
      del.className = "secondary";
      del.textContent = "Delete";
      del.setAttribute("aria-label", "Delete /" + r.shortcut);
      del.addEventListener("click", async () => {
        try {
          await desk.chat.support.deleteCanned(r.shortcut);
        } catch (err) {
          $("canned-error").textContent = errorText(err);
        }
        refreshCanned();
      });
      actions.append(edit, del);
      li.append(actions);
    }
    return li;
  }));
}

$("canned-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const f = e.target;
  $("canned-error").textContent = "";
  try {
    await desk.chat.support.saveCanned(f.shortcut.value.trim(), f.title.value, f.body.value);
  } catch (err) {
    $("canned-error").textContent = errorText(err);
    return;
  }
  f.reset();
  refreshCanned();
});

// The "/…" being typed before the caret, or null.
function cannedToken(input) {
  const before = input.value.slice(0, input.selectionStart);
  const m = /(^|\s)\/(\S*)$/.exec(before);
  return m ? { start: before.length - m[2].length - 1, end: before.length, prefix: m[2] } : null;
}

function showSuggestions() {
  const input = $("composer").text;
  canned.token = state.open ? cannedToken(input) : null;
  const p = canned.token ? canned.token.prefix.replace(/[A-Z]/g, (c) => c.toLowerCase()) : "";
  canned.matches = !canned.token ? [] : canned.replies.filter((r) =>
    r.shortcut.startsWith(p) || (p && r.title.toLowerCase().includes(p.toLowerCase()))).slice(0, 8);
  canned.pick = 0;
  renderSuggestions();
}

function renderSuggestions() {
  const list = $("canned-suggest");
  list.hidden = canned.matches.length === 0;
  $("composer").text.setAttribute("aria-expanded", String(!list.hidden));
  list.replaceChildren(...canned.matches.map((r, i) => {
    const li = document.createElement("li");
    li.role = "option";
    li.dataset.shortcut = r.shortcut;
    li.setAttribute("aria-selected", String(i === canned.pick));
    const sc = document.createElement("span");
    sc.className = "sc";
    sc.textContent = "/" + r.shortcut;
    const title = document.createElement("span");
    title.className = "title";
    title.textContent = r.title;
    const body = document.createElement("span");
    body.className = "body";
    body.textContent = r.body;
    li.append(sc, title, body);
    // mousedown, not click: the reply box keeps its focus and caret.
    li.addEventListener("mousedown", (e) => { e.preventDefault(); insertCanned(r); });
    return li;
  }));
}

function hideSuggestions() {
  canned.matches = [];
  renderSuggestions();
}

function insertCanned(r) {
  const input = $("composer").text;
  const t = canned.token || { start: input.selectionStart, end: input.selectionStart };
  const shown = r.body.replace(/\r?\n/g, " ");
  input.value = input.value.slice(0, t.start) + shown + input.value.slice(t.end);
  const caret = t.start + shown.length;
  input.setSelectionRange(caret, caret);
  if (shown !== r.body) canned.inserted.push({ shown, body: r.body });
  hideSuggestions();
  input.focus();
}

// The text to send: each inserted body still there whole, with its line breaks.
function withCannedBodies(text) {
  for (const { shown, body } of canned.inserted) text = text.replace(shown, body);
  return text;
}

$("composer").text.addEventListener("input", showSuggestions);
$("composer").text.addEventListener("keydown", (e) => {
  if (!canned.matches.length) return;
  if (e.key === "ArrowDown" || e.key === "ArrowUp") {
    e.preventDefault();
    const n = canned.matches.length;
    canned.pick = (canned.pick + (e.key === "ArrowDown" ? 1 : n - 1)) % n;
    renderSuggestions();
  } else if (e.key === "Tab" || e.key === "Enter") {
    e.preventDefault();
    insertCanned(canned.matches[canned.pick]);
  } else if (e.key === "Escape") {
    e.preventDefault();
    hideSuggestions();
  }
});
$("composer").text.addEventListener("blur", () => setTimeout(hideSuggestions, 0));

$("composer").querySelector("input").addEventListener("input", () => {
  if (state.open && Date.now() - state.lastTyping > 2000) { state.lastTyping = Date.now(); desk.typing(state.open); }
});

$("away-toggle").addEventListener("click", async () => {
  try {
    await desk.chat.support.setStatus(state.me === "away" ? "online" : "away");
  } catch (err) {
    $("toast").textContent = errorText(err);
  }
  refreshAgents();
});

// Transfer: to an online agent (not me), or back to the queue, with a note
// only agents read (POST /api/rooms/{room}/transfer).
function openTransfer() {
  if (!state.open) return;
  const to = $("transfer-to");
  const others = state.agents.filter((a) => a.user !== desk.user && a.status === "online");
  to.replaceChildren(...others.map((a) => {
    const o = document.createElement("option");
    o.value = a.user;
    o.textContent = a.user + " · " + a.open_chats + (a.open_chats === 1 ? " open chat" : " open chats");
    return o;
  }));
  const queue = document.createElement("option");
  queue.value = "";
  queue.textContent = "Back to the queue";
  to.append(queue);
  $("transfer-note").value = "";
  $("transfer-error").textContent = "";
  $("transfer-dialog").showModal();
  to.focus();
}

$("transfer").addEventListener("click", async () => {
  await refreshAgents(); // who is online now
  openTransfer();
});
$("transfer-cancel").addEventListener("click", () => $("transfer-dialog").close());
$("transfer-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const room = state.open;
  const to = $("transfer-to").value || null;
  const note = $("transfer-note").value.trim();
  try {
    await desk.chat.room(room).transfer(to, note || undefined);
  } catch (err) {
    $("transfer-error").textContent = errorText(err);
    return;
  }
  $("transfer-dialog").close();
  if (state.open === room) closePane();
  $("toast").textContent = "";
  $("handed").textContent = to ? "Handed to " + to + "." : "Back in the queue.";
  refreshMine();
  refreshQueue();
});

$("complete").addEventListener("click", async () => {
  if (!state.open) return;
  await desk.chat.room(state.open).complete();
  closePane();
  refreshMine();
});
