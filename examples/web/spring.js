// A chat client written the way Spring STOMP tutorials write it: a SockJS
// socket at /ws under a STOMP client (Stomp.over), messages sent to the
// application prefix /pub and received under the broker prefix /sub, a
// bearer token in the CONNECT headers. Nothing here is specific to chatd
// but the paths of its rooms (/pub/rooms/{id}/send, /sub/rooms/{id}) and of
// its REST API; with examples/deploy/spring.ini it runs unchanged.
"use strict";

var token = null;
var me = null;
var ws = null;      // the STOMP client
var sock = null;    // the SockJS socket under it
var room = null;    // the room on screen: { id, title, lastSeq, sub }
var rooms = [];

window.__spring = { // for the browser tests
  transport: function () { return sock && sock.transport; },
  connected: function () { return !!(ws && ws.connected); },
  room: function () { return room && room.id; },
};

function $(id) { return document.getElementById(id); }

function setStatus(text, online) {
  $("status").textContent = text;
  $("status").classList.toggle("online", !!online);
}

// The user a JWT names (its sub claim), read without checking it: the
// server checks it.
function userOf(jwt) {
  var part = jwt.split(".")[1] || "";
  var json = atob(part.replace(/-/g, "+").replace(/_/g, "/"));
  var bytes = Uint8Array.from(json, function (c) { return c.charCodeAt(0); });
  return JSON.parse(new TextDecoder().decode(bytes)).sub;
}

function api(method, path, body) {
  return fetch(path, {
    method: method,
    headers: { Authorization: "Bearer " + token, "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  }).then(function (res) {
    return res.json().catch(function () { return null; }).then(function (data) {
      if (!res.ok) throw new Error((data && data.message) || res.statusText);
      return data;
    });
  });
}

// A message's text: the body is the JSON this page sends ({type, text}) or
// plain text from other clients.
function textOf(body) {
  if (/^\s*\{/.test(body)) {
    try { return JSON.parse(body).text; } catch (e) { /* plain text after all */ }
  }
  return body;
}

function connect(onFirstConnect) {
  ws = StompJs.Stomp.over(function () {
    sock = new SockJS("/ws");
    return sock;
  });
  ws.debug = function () {};
  ws.reconnect_delay = 2000;
  ws.heartbeat = { outgoing: 10000, incoming: 10000 };
  var first = true;
  ws.connect({ Authorization: "Bearer " + token }, function () {
    setStatus("connected (" + sock.transport + ")", true);
    $("transport").textContent = "SockJS transport: " + sock.transport;
    if (room) subscribeRoom();
    if (first) { first = false; onFirstConnect(null); }
  }, function (frame) {
    var reason = frame.headers ? frame.headers.message : String(frame);
    if (first) { ws.deactivate(); onFirstConnect(new Error(reason)); }
    else setStatus("error: " + reason, false);
  }, function () {
    if (!first) setStatus("reconnecting…", false);
  });
}

function showRooms() {
  var groups = rooms.filter(function (r) { return r.kind === "group"; });
  $("rooms").replaceChildren.apply($("rooms"), groups.map(function (r) {
    var li = document.createElement("li");
    li.dataset.room = r.id;
    li.tabIndex = 0;
    li.classList.toggle("active", !!room && room.id === r.id);
    var who = document.createElement("span");
    who.className = "who";
    who.textContent = r.title + " · " + r.members.length;
    li.appendChild(who);
    li.addEventListener("click", function () { enterRoom(r); });
    li.addEventListener("keydown", function (e) { if (e.key === "Enter") enterRoom(r); });
    return li;
  }));
  $("rooms-empty").hidden = groups.length > 0;
}

function loadRooms() {
  return api("GET", "/api/rooms").then(function (data) {
    rooms = data.rooms;
    showRooms();
  });
}

function addMessage(sender, text, timestamp) {
  var li = document.createElement("li");
  li.classList.toggle("mine", sender === me);
  var meta = document.createElement("span");
  meta.className = "meta";
  meta.textContent = sender + " · " + new Date(timestamp).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  li.append(meta, document.createTextNode(text));
  $("messages").appendChild(li);
  li.scrollIntoView({ block: "end" });
}

// Subscribes to the room's topic under /sub; after a reconnect, since-seq
// has the server send what was missed while the socket was down.
function subscribeRoom() {
  var r = room;
  r.sub = ws.subscribe("/sub/rooms/" + r.id, function (message) {
    if (message.headers.event !== "message") return;
    var seq = Number(message.headers.seq);
    if (seq <= r.lastSeq) return;
    r.lastSeq = seq;
    addMessage(message.headers.sender, textOf(message.body), Number(message.headers.timestamp));
  }, { "since-seq": String(r.lastSeq) });
}

function enterRoom(r) {
  if (room && room.sub && ws.connected) room.sub.unsubscribe();
  room = { id: r.id, title: r.title, lastSeq: 0, sub: null };
  $("room-title").textContent = r.title;
  $("messages").replaceChildren();
  $("room").hidden = false;
  showRooms();
  api("GET", "/api/rooms/" + r.id + "/messages?limit=50").then(function (page) {
    if (!room || room.id !== r.id) return;
    page.messages.slice().reverse().forEach(function (m) {
      addMessage(m.sender, textOf(m.body), m.timestamp);
      room.lastSeq = Math.max(room.lastSeq, m.seq);
    });
    if (ws.connected) subscribeRoom();
  });
}

function sendMessage(text) {
  ws.send("/pub/rooms/" + room.id + "/send", { "content-type": "application/json" },
          JSON.stringify({ type: "TALK", text: text }));
}

$("signin").addEventListener("submit", function (e) {
  e.preventDefault();
  token = e.target.token.value.trim();
  $("signin-error").textContent = "";
  try { me = userOf(token); } catch (err) { $("signin-error").textContent = "That is not a JWT."; return; }
  setStatus("connecting…", false);
  loadRooms().then(function () {
    connect(function (err) {
      if (err) { $("signin-error").textContent = err.message; setStatus("signed out", false); return; }
      $("signin").hidden = true;
      $("console").hidden = false;
    });
  }).catch(function (err) {
    $("signin-error").textContent = err.message;
    setStatus("signed out", false);
  });
});

$("refresh").addEventListener("click", function () {
  loadRooms().catch(function (err) { $("toast").textContent = err.message; });
});

$("new-room").addEventListener("submit", function (e) {
  e.preventDefault();
  var form = e.target;
  var members = form.members.value.split(",").map(function (s) { return s.trim(); }).filter(Boolean);
  api("POST", "/api/rooms", { kind: "group", title: form.title.value.trim(), members: members })
    .then(function (r) {
      form.reset();
      return loadRooms().then(function () { enterRoom(r); });
    })
    .catch(function (err) { $("toast").textContent = err.message; });
});

$("composer").addEventListener("submit", function (e) {
  e.preventDefault();
  var input = e.target.text;
  if (!input.value || !ws.connected) return;
  sendMessage(input.value);
  input.value = "";
});

// A token in the address (spring.html#token=...) signs in at once.
var fromHash = new URLSearchParams(location.hash.slice(1)).get("token");
if (fromHash) {
  document.querySelector("#signin input[name=token]").value = fromHash;
  $("signin").requestSubmit();
}
