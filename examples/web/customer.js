// The customer's side: open (or resume) a support chat and talk.
"use strict";

// early: notifications about a room that came before the answer that
// opened it (with automatic assignment a room can be given to an agent at
// once): applied when it opens.
const state = { room: null, watch: null, conv: null, unread: 0, lastMine: 0, agentRead: 0,
                lastTyping: 0, early: new Map(), after: null };
window.__desk = state; // for the browser tests

// A completed (or closed) chat: the rating form, or the rating given, and
// the transcript download (docs/support-desk.md, "Ratings", "Transcripts").
function showAfter(room) {
  state.after = room.id;
  $("after").hidden = false;
  $("rating-form").hidden = !!room.rating;
  $("rating-done").hidden = !room.rating;
  if (room.rating) $("rating-done").textContent = "You rated this chat " + room.rating.score + "/5. Thank you!";
}

function hideAfter() {
  state.after = null;
  $("after").hidden = true;
  $("rating-form").reset();
  $("rating-error").textContent = "";
}

function showRoomState(room) {
  if (room.state === "completed") showAfter(room);
  else if (state.after === room.id) hideAfter();
  const text = room.state === "unassigned" ? "Waiting for an agent…"
    : room.state === "assigned" ? "You are talking with " + room.agent
    : room.state === "completed" ? "The agent completed this chat." : "";
  $("room-state").textContent = text;
  $("composer").querySelector("input").disabled = room.state === "completed";
  if (room.state !== "unassigned") $("queue-position").hidden = true;
}

function ordinal(n) {
  const tens = n % 100, ones = n % 10;
  if (tens >= 11 && tens <= 13) return n + "th";
  return n + (ones === 1 ? "st" : ones === 2 ? "nd" : ones === 3 ? "rd" : "th");
}

function onNotification(f) {
  const ev = f.headers.event;
  if (ev !== "queue-position" && ev !== "assigned") return;
  const body = JSON.parse(f.body);
  const room = ev === "assigned" ? body.id : body.room;
  if (!state.room || state.room.id !== room) {
    state.early.set(room, f);
    return;
  }
  if (ev === "queue-position") showQueuePosition(body);
  else onAssigned(body);
}

// The room was given to an agent: the notification (it may come before the
// room's own `assigned` event could reach a subscription just made).
function onAssigned(room) {
  if (!state.room || room.id !== state.room.id || state.room.state === "completed") return;
  state.room.state = "assigned";
  state.room.agent = room.agent;
  showRoomState(state.room);
}

// A queue-position notification (automatic assignment): place and estimate.
function showQueuePosition(body) {
  if (!state.room || body.room !== state.room.id || state.room.state !== "unassigned") return;
  let text = "You are " + ordinal(body.position) + " in line";
  if (body.estimated_wait_ms !== undefined) {
    const min = Math.round(body.estimated_wait_ms / 60000);
    text += min < 1 ? " · less than a minute" : " · about " + min + (min === 1 ? " minute" : " minutes");
  }
  $("queue-position").textContent = text;
  $("queue-position").hidden = false;
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

// Edit and Delete on the customer's own lines.
const editing = new MessageEditing($("composer"), () => state.room && state.room.id, () => false,
                                   (err) => { $("read").textContent = err.message; });

function onEvent(f) {
  const ev = f.headers.event;
  if (ev === "message-edited" || ev === "message-deleted") {
    state.conv.changeEvent(f);
    editing.changed(f);
  } else if (ev === "message") {
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
  } else if (ev === "transferred" || ev === "reopened") {
    // Handed on (to another agent, or back to the queue), or reopened.
    const body = JSON.parse(f.body);
    const agent = ev === "transferred" ? body.to : body.agent;
    state.room.state = agent ? "assigned" : "unassigned";
    state.room.agent = agent;
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

// The topics the desk offers (examples/web/customer.html), by name.
function topicName(topic) {
  const option = document.querySelector('#topic option[value="' + topic + '"]');
  return option ? option.textContent : topic;
}

// topic: what the customer needs help with ("" for none): the room goes
// to an agent with that skill (docs/support-desk.md, "Topics and skills").
async function openChat(topic) {
  hideAfter();
  state.room = await desk.api("POST", "/api/rooms", topic ? { kind: "support", topic } : { kind: "support" });
  $("room-topic").hidden = !state.room.topic;
  $("room-topic").textContent = state.room.topic ? "Topic: " + topicName(state.room.topic) : "";
  $("chat").hidden = false;
  $("closed").hidden = true;
  showRoomState(state.room);
  const early = state.early.get(state.room.id);
  state.early.clear();
  if (early) onNotification(early);
  state.conv = state.conv || new Conversation($("messages"), desk.user, editing.actions);
  const last = await state.conv.open(state.room.id);
  // Once the room's events reach us, its state as it is then: it may
  // have been given to an agent before we subscribed.
  const room = state.room.id;
  state.watch = desk.watchRoom(room, last, onEvent, async () => {
    const now = await desk.api("GET", "/api/rooms/" + room);
    if (state.room && state.room.id === room && now.state === "assigned") onAssigned(now);
  });
  if (last) desk.read(state.room.id, last);
}

function showClosed() {
  if (state.watch) state.watch.stop();
  state.watch = null;
  $("chat").hidden = true;
  $("closed").hidden = false;
  if (state.room) showAfter(state.room); // a closed chat is rated too
}

$("signin").addEventListener("submit", async (e) => {
  e.preventDefault();
  $("signin-error").textContent = "";
  try {
    await desk.signIn(e.target.login.value.trim(), e.target.passcode.value);
    $("signin").hidden = true;
    // Queue positions, also after every reconnect. The chat opens once the
    // subscription is in place (its RECEIPT): the place in line is told
    // when the room is made, and a subscription still on its way would
    // miss it.
    let subs = 0;
    const notifications = () => new Promise((resolve) => {
      const receipt = "notifications-" + ++subs;
      desk.client.watchForReceipt(receipt, () => resolve());
      desk.client.subscribe("/user/queue/notifications", onNotification, { receipt });
    });
    desk.onConnect.push(notifications);
    await notifications();
    if (window.Notification && Notification.permission === "default") Notification.requestPermission();
    await openChat(e.target.topic.value);
  } catch (err) {
    $("signin-error").textContent = err.message;
  }
});

$("composer").addEventListener("submit", (e) => {
  e.preventDefault();
  const input = e.target.text;
  if (!input.value.trim() || editing.submitted()) return;
  desk.send(state.room.id, input.value);
  input.value = "";
});

// Attach a screenshot or a document (docs/files.md); a refusal shows.
$("attach").addEventListener("click", () => { if (state.room) $("attach-file").click(); });
$("attach-file").addEventListener("change", async (e) => {
  const file = e.target.files[0];
  e.target.value = "";
  $("attach-error").textContent = "";
  if (!file || !state.room) return;
  try {
    await desk.sendFile(state.room.id, file);
  } catch (err) {
    $("attach-error").textContent = file.name + ": " + err.message;
  }
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
$("new").addEventListener("click", () => openChat($("new-topic").value));

$("rating-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const room = state.after;
  const rating = Number(new FormData(e.target).get("rating"));
  const comment = $("rating-comment").value.trim();
  $("rating-error").textContent = "";
  try {
    const rated = await desk.api("POST", "/api/rooms/" + room + "/rating", comment ? { rating, comment } : { rating });
    if (state.room && state.room.id === room) state.room.rating = rated.rating;
    showAfter(rated);
  } catch (err) {
    $("rating-error").textContent = err.message;
  }
});

// The transcript as a file: fetched with the credentials (a plain link
// would not send them), then saved under the server's name.
$("transcript").addEventListener("click", async () => {
  const room = state.after;
  const res = await fetch("/api/rooms/" + room + "/transcript?format=text", { headers: { Authorization: desk.auth } });
  if (!res.ok) {
    $("rating-error").textContent = "The transcript could not be downloaded (" + res.status + ").";
    return;
  }
  const url = URL.createObjectURL(await res.blob());
  const a = document.createElement("a");
  a.href = url;
  a.download = "chat-" + room + ".txt";
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
});
