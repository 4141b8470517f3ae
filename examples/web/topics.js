// A live topic chat over chatd's STOMP-over-WebSocket endpoint: plain
// publish/subscribe on /topic/chat.NAME (the server's `[stomp] allow`
// admits it), through the client package (clients/js, built into
// ./chatd-client/ by `make web`), which keeps the subscription across
// reconnects and reconnects with back-off and jitter.
"use strict";

// --- the page ---------------------------------------------------------------
const $ = (id) => document.getElementById(id);
const state = { chat: null, topic: null, sub: null };
window.__topics = state; // for the browser tests

function setStatus(text, online) {
  $("status").textContent = text;
  $("status").classList.toggle("online", !!online);
}

function addMessage(text, meta, cls) {
  const li = document.createElement("li");
  if (cls) li.className = cls;
  li.textContent = text;
  if (meta) {
    const m = document.createElement("span");
    m.className = "meta";
    m.textContent = meta;
    li.prepend(m);
  }
  const list = $("messages");
  list.append(li);
  list.scrollTop = list.scrollHeight;
}

function onMessage(f) {
  let m;
  try { m = JSON.parse(f.body); } catch { m = { text: f.body, from: "?" }; }
  const time = new Date(m.ts || Date.now()).toLocaleTimeString();
  addMessage(m.text, m.from + " · " + time, m.from === state.chat.user ? "mine" : "");
}

// One topic at a time; "joined" each time the subscription is in place
// (after a reconnect too).
function join(topic) {
  if (state.sub) state.sub.stop();
  state.topic = topic;
  state.sub = state.chat.listen("/topic/chat." + topic, onMessage, {
    onLive: () => { if (state.topic === topic) addMessage("joined #" + topic, null, "system"); },
  });
}

$("signin").addEventListener("submit", async (e) => {
  e.preventDefault();
  $("signin-error").textContent = "";
  setStatus("connecting…");
  let chat;
  try {
    const { connect } = await import("./chatd-client/index.js");
    chat = await connect({ login: e.target.login.value.trim(), passcode: e.target.passcode.value });
  } catch (err) {
    $("signin-error").textContent = err.code || err.message;
    setStatus("signed out");
    return;
  }
  state.chat = chat;
  chat.on("connect", () => setStatus("signed in as " + chat.user, true));
  chat.on("disconnect", ({ retryIn }) => {
    if (retryIn !== null) setStatus("disconnected — retrying in " + Math.max(1, Math.round(retryIn / 1000)) + " s");
  });
  chat.on("error", (err) => addMessage("server: " + err.code, null, "system"));
  setStatus("signed in as " + chat.user, true);
  $("signin").hidden = true;
  $("chat").hidden = false;
  join($("topic-form").topic.value);
});

$("topic-form").addEventListener("submit", (e) => {
  e.preventDefault();
  $("messages").replaceChildren();
  join(e.target.topic.value);
});

$("composer").addEventListener("submit", (e) => {
  e.preventDefault();
  const input = e.target.text;
  if (!input.value.trim() || !state.chat) return;
  state.chat.publish("/topic/chat." + state.topic, JSON.stringify({ text: input.value, from: state.chat.user, ts: Date.now() }),
                     { "content-type": "application/json" });
  input.value = "";
});

$("signout").addEventListener("click", async () => {
  const chat = state.chat;
  state.chat = null;
  state.sub = null;
  $("chat").hidden = true;
  $("signin").hidden = false;
  setStatus("signed out");
  if (chat) await chat.close();
});
