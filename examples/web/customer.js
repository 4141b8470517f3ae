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
  showAgentPresence();
  $("composer").querySelector("input").disabled = room.state === "completed";
  if (room.state !== "unassigned") $("queue-position").hidden = true;
}

function ordinal(n) {
  const tens = n % 100, ones = n % 10;
  if (tens >= 11 && tens <= 13) return n + "th";
  return n + (ones === 1 ? "st" : ones === 2 ? "nd" : ones === 3 ? "rd" : "th");
}

// queue-position and assigned notifications (the package's typed ones).
function onNotification(n) {
  if (!state.room || state.room.id !== n.roomId) {
    state.early.set(n.roomId, n);
    return;
  }
  if (n.type === "queue-position") showQueuePosition(n);
  else if (n.room) onAssigned(n.room);
  else desk.chat.room(n.roomId).get().then(onAssigned, () => {});
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
function showQueuePosition(n) {
  if (!state.room || n.roomId !== state.room.id || state.room.state !== "unassigned") return;
  let text = "You are " + ordinal(n.position) + " in line";
  if (n.estimatedWaitMs !== undefined) {
    const min = Math.round(n.estimatedWaitMs / 60000);
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

// Edit and Delete on the customer's own lines; Reply and reactions on any (desk.js).
const editing = new MessageEditing($("composer"), () => state.room && state.room.id, () => false,
                                   (err) => { $("read").textContent = errorText(err); });
const reply = new ReplyBar(editing);
offerReactions(editing, () => state.conv);
state.reply = reply;

// The agent's presence: a dot beside "You are talking with …" (online,
// away, offline), read when an agent takes the chat and kept by the events.
const presence = new PresenceBook(() => showAgentPresence());
state.presence = presence.of;
presence.awayWhenHidden(); // the agent sees the customer away when the tab is hidden a while

function showAgentPresence() {
  const agent = state.room && state.room.state === "assigned" ? state.room.agent : null;
  $("agent-dot").replaceChildren(...(agent ? [presence.dot(agent)] : []));
  if (agent && !presence.knows(agent) && desk.chat) presence.load([agent]).catch(() => {});
}

// Search in this chat (GET /api/rooms/{room}/search): a match shows its message.
const search = new SearchPanel({
  search: (q, opts) => desk.chat.room(state.room.id).search(q, opts),
  label: () => "",
  pick: (m) => state.conv.reveal(m.seq),
  onError: (err) => { $("read").textContent = errorText(err); },
});

// The room's events, as the package delivers them (typed, each message once).
function onEvent(e) {
  switch (e.type) {
  case "message-edited":
  case "message-deleted":
  case "reaction":
    showMessageChange(e, state.conv, editing, reply);
    break;
  case "message": {
    const m = e.message;
    state.conv.add(m, false);
    if (m.sender === desk.user) {
      state.lastMine = m.seq;
      updateRead();
    } else if (document.hidden) {
      setUnread(state.unread + 1);
      if (window.Notification && Notification.permission === "granted")
        new Notification("New reply from " + m.sender, { body: bodyLine(m.body) });
    } else {
      desk.read(state.room.id, m.seq);
    }
    break;
  }
  case "assigned":
  case "completed":
    state.room.state = e.type;
    state.room.agent = e.agent;
    showRoomState(state.room);
    break;
  case "transferred":
  case "reopened": {
    // Handed on (to another agent, or back to the queue), or reopened.
    const agent = e.type === "transferred" ? e.to : e.agent;
    state.room.state = agent ? "assigned" : "unassigned";
    state.room.agent = agent;
    showRoomState(state.room);
    break;
  }
  case "read":
    if (e.user !== desk.user) { state.agentRead = Math.max(state.agentRead, e.seq); updateRead(); }
    break;
  case "typing":
    showTyping(e.user);
    break;
  case "closed":
    showClosed();
    break;
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
  reply.clear();
  search.close(); // what was found in the chat before
  state.room = (await desk.chat.rooms.openSupport(topic || undefined)).info;
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
  // Once the room's events reach us (and after each reconnect), its state
  // as it is then: it may have been given to an agent before we subscribed.
  const room = state.room.id;
  const live = async () => {
    const now = await desk.chat.room(room).get();
    if (state.room && state.room.id === room && now.state === "assigned") onAssigned(now);
  };
  const watch = await desk.watchRoom(room, last, { event: onEvent, resumed: live });
  if (!state.room || state.room.id !== room || state.closedRoom === room) { watch.stop(); return; }
  state.watch = watch;
  live();
  if (last) desk.read(room, last);
}

function showClosed() {
  if (state.room) state.closedRoom = state.room.id;
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
    // Queue positions (the package subscribes again after every
    // reconnect). The chat opens once the subscription is in place: the
    // place in line is told when the room is made, and a subscription
    // still on its way would miss it.
    await desk.chat.onNotification({ "queue-position": onNotification, assigned: onNotification }).ready;
    presence.listen();
    if (window.Notification && Notification.permission === "default") Notification.requestPermission();
    await openChat(e.target.topic.value);
  } catch (err) {
    $("signin-error").textContent = errorText(err);
  }
});

$("composer").addEventListener("submit", (e) => {
  e.preventDefault();
  const input = e.target.text;
  if (!input.value.trim() || editing.submitted()) return;
  desk.send(state.room.id, input.value, reply.seq).catch((err) => { $("read").textContent = errorText(err); });
  input.value = "";
  reply.clear();
});

// Attach a screenshot or a document (desk.js); a refusal shows.
offerAttachments($("attach"), $("attach-file"), () => state.room && state.room.id,
                 (text) => { $("attach-error").textContent = text; });
$("attach").addEventListener("click", () => { $("attach-error").textContent = ""; });

$("composer").querySelector("input").addEventListener("input", () => {
  // At most one typing signal every two seconds.
  if (Date.now() - state.lastTyping > 2000) { state.lastTyping = Date.now(); desk.typing(state.room.id); }
});

document.addEventListener("visibilitychange", () => {
  if (!document.hidden && state.room && state.watch) { setUnread(0); desk.read(state.room.id, state.watch.lastSeq); }
});

$("close").addEventListener("click", async () => {
  await desk.chat.room(state.room.id).close();
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
    const rated = await desk.chat.room(room).rate(rating, comment);
    if (state.room && state.room.id === room) state.room.rating = rated.rating;
    showAfter(rated);
  } catch (err) {
    $("rating-error").textContent = errorText(err);
  }
});

// The transcript as a file: fetched with the credentials (a plain link
// would not send them), then saved under the server's name.
$("transcript").addEventListener("click", async () => {
  const room = state.after;
  let blob;
  try {
    blob = await desk.chat.room(room).transcript();
  } catch (err) {
    $("rating-error").textContent = "The transcript could not be downloaded (" + err.status + ").";
    return;
  }
  const url = URL.createObjectURL(blob);
  const a = document.createElement("a");
  a.href = url;
  a.download = "chat-" + room + ".txt";
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
});
