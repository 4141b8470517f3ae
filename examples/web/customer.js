// The customer's side: open (or resume) a support chat and talk.
"use strict";

const state = { room: null, watch: null, conv: null, unread: 0, lastMine: 0, agentRead: 0,
                lastTyping: 0 };
window.__desk = state; // for the browser tests

function showRoomState(room) {
  const text = room.state === "unassigned" ? "Waiting for an agent…"
    : room.state === "assigned" ? "You are talking with " + room.agent
    : room.state === "completed" ? "The agent completed this chat." : "";
  $("room-state").textContent = text;
  $("composer").querySelector("input").disabled = room.state === "completed";
}

function updateRead() {
  $("read").textContent = state.lastMine && state.agentRead >= state.lastMine ? "Read by the agent" : "";
}

function setUnread(n) {
  state.unread = n;
  $("badge").hidden = n === 0;
  $("badge").textContent = n;
  document.title = (n ? "(" + n + ") " : "") + "Support — chatd";
}

function onEvent(f) {
  const ev = f.headers.event;
  if (ev === "message") {
    state.conv.addEvent(f);
    const seq = Number(f.headers.seq);
    if (f.headers.sender === desk.user) {
      state.lastMine = seq;
      updateRead();
    } else if (document.hidden) {
      setUnread(state.unread + 1);
      if (window.Notification && Notification.permission === "granted")
        new Notification("New reply from " + f.headers.sender, { body: f.body });
    } else {
      desk.read(state.room.id, seq);
    }
  } else if (ev === "assigned" || ev === "completed") {
    const body = JSON.parse(f.body);
    state.room.state = ev === "assigned" ? "assigned" : "completed";
    state.room.agent = body.agent;
    showRoomState(state.room);
  } else if (ev === "read") {
    const body = JSON.parse(f.body);
    if (body.user !== desk.user) { state.agentRead = Math.max(state.agentRead, body.seq); updateRead(); }
  } else if (ev === "typing") {
    showTyping(f);
  } else if (ev === "closed") {
    showClosed();
  }
}

async function openChat() {
  state.room = await desk.api("POST", "/api/rooms", { kind: "support" });
  $("chat").hidden = false;
  $("closed").hidden = true;
  showRoomState(state.room);
  state.conv = state.conv || new Conversation($("messages"), desk.user);
  const last = await state.conv.open(state.room.id);
  state.watch = desk.watchRoom(state.room.id, last, onEvent);
  if (last) desk.read(state.room.id, last);
}

function showClosed() {
  if (state.watch) state.watch.stop();
  state.watch = null;
  $("chat").hidden = true;
  $("closed").hidden = false;
}

$("signin").addEventListener("submit", async (e) => {
  e.preventDefault();
  $("signin-error").textContent = "";
  try {
    await desk.signIn(e.target.login.value.trim(), e.target.passcode.value);
    $("signin").hidden = true;
    if (window.Notification && Notification.permission === "default") Notification.requestPermission();
    await openChat();
  } catch (err) {
    $("signin-error").textContent = err.message;
  }
});

$("composer").addEventListener("submit", (e) => {
  e.preventDefault();
  const input = e.target.text;
  if (!input.value.trim()) return;
  desk.send(state.room.id, input.value);
  input.value = "";
});

$("composer").querySelector("input").addEventListener("input", () => {
  // At most one typing signal every two seconds.
  if (Date.now() - state.lastTyping > 2000) { state.lastTyping = Date.now(); desk.typing(state.room.id); }
});

document.addEventListener("visibilitychange", () => {
  if (!document.hidden && state.room && state.watch) { setUnread(0); desk.read(state.room.id, state.watch.lastSeq); }
});

$("close").addEventListener("click", async () => {
  await desk.api("DELETE", "/api/rooms/" + state.room.id);
  showClosed();
});
$("new").addEventListener("click", () => openChat());
