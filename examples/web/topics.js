// A live topic chat over chatd's STOMP-over-WebSocket endpoint, with a tiny
// STOMP 1.2 client so the page needs no build step.
"use strict";

const enc = new TextEncoder();
const dec = new TextDecoder();

// --- STOMP framing ---------------------------------------------------------
function escapeHeader(s) {
  return String(s).replace(/\\/g, "\\\\").replace(/\r/g, "\\r").replace(/\n/g, "\\n").replace(/:/g, "\\c");
}
function unescapeHeader(s) {
  return s.replace(/\\(.)/g, (_, c) => ({ n: "\n", r: "\r", c: ":", "\\": "\\" }[c] ?? c));
}
function frame(command, headers, body = "") {
  const bytes = enc.encode(body);
  let out = command + "\n";
  // CONNECT headers are never escaped (STOMP 1.2).
  const esc = command === "CONNECT" ? (s) => s : escapeHeader;
  for (const [k, v] of Object.entries(headers)) out += esc(k) + ":" + esc(v) + "\n";
  if (body) out += "content-length:" + bytes.length + "\n";
  return out + "\n" + body + "\0";
}

// Parses frames from a byte stream: a message may hold several frames,
// heart-beat newlines, or part of a frame.
class FrameReader {
  constructor() { this.buf = new Uint8Array(0); }
  push(chunk) {
    const b = new Uint8Array(this.buf.length + chunk.length);
    b.set(this.buf); b.set(chunk, this.buf.length);
    this.buf = b;
    const frames = [];
    for (;;) {
      let i = 0;
      while (i < this.buf.length && (this.buf[i] === 10 || this.buf[i] === 13)) i++;
      this.buf = this.buf.subarray(i);
      const end = this.findHeadersEnd();
      if (end < 0) break;
      const lines = dec.decode(this.buf.subarray(0, end.at)).split(/\r?\n/);
      const command = lines.shift();
      const headers = {};
      for (const line of lines) {
        const c = line.indexOf(":");
        const k = unescapeHeader(line.slice(0, c));
        if (!(k in headers)) headers[k] = unescapeHeader(line.slice(c + 1));
      }
      const start = end.at + end.len;
      let stop;
      if ("content-length" in headers) {
        stop = start + Number(headers["content-length"]);
        if (this.buf.length < stop + 1) break;
      } else {
        stop = this.buf.indexOf(0, start);
        if (stop < 0) break;
      }
      frames.push({ command, headers, body: dec.decode(this.buf.subarray(start, stop)) });
      this.buf = this.buf.subarray(stop + 1);
    }
    return frames;
  }
  findHeadersEnd() {
    for (let i = 0; i + 1 < this.buf.length; i++) {
      if (this.buf[i] === 10 && this.buf[i + 1] === 10) return { at: i, len: 2 };
      if (this.buf[i] === 10 && this.buf[i + 1] === 13 && this.buf[i + 2] === 10) return { at: i, len: 3 };
    }
    return -1;
  }
}

// --- the page --------------------------------------------------------------
const $ = (id) => document.getElementById(id);
const state = { ws: null, user: null, pass: null, topic: null, backoff: 1000, receipts: {}, nextId: 1,
                wanted: false };

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

function send(command, headers, body) {
  if (state.ws && state.ws.readyState === WebSocket.OPEN) state.ws.send(frame(command, headers, body));
}

function subscribe(topic) {
  if (state.topic) send("UNSUBSCRIBE", { id: "topic" });
  state.topic = topic;
  send("SUBSCRIBE", { id: "topic", destination: "/topic/chat." + topic, receipt: "joined" });
}

function connect() {
  const proto = location.protocol === "https:" ? "wss:" : "ws:";
  const ws = new WebSocket(proto + "//" + location.host + "/ws", ["v12.stomp"]);
  ws.binaryType = "arraybuffer";
  const reader = new FrameReader();
  state.ws = ws;
  setStatus("connecting…");
  ws.onopen = () => send("CONNECT", { "accept-version": "1.2", host: location.hostname,
                                      login: state.user, passcode: state.pass, "heart-beat": "0,0" });
  ws.onmessage = (ev) => {
    const data = typeof ev.data === "string" ? enc.encode(ev.data) : new Uint8Array(ev.data);
    for (const f of reader.push(data)) onFrame(f);
  };
  ws.onclose = () => {
    state.ws = null;
    if (!state.wanted) return;
    // Exponential backoff with jitter, so a restarted server is not stampeded.
    const wait = state.backoff * (0.5 + Math.random());
    state.backoff = Math.min(state.backoff * 2, 30000);
    setStatus("disconnected — retrying in " + Math.round(wait / 1000) + " s");
    setTimeout(() => state.wanted && connect(), wait);
  };
}

function onFrame(f) {
  if (f.command === "CONNECTED") {
    state.backoff = 1000;
    setStatus("signed in as " + f.headers["user-name"], true);
    $("signin").hidden = true;
    $("chat").hidden = false;
    subscribe($("topic-form").topic.value);
  } else if (f.command === "MESSAGE") {
    let m;
    try { m = JSON.parse(f.body); } catch { m = { text: f.body, from: "?" }; }
    const time = new Date(m.ts || Date.now()).toLocaleTimeString();
    addMessage(m.text, m.from + " · " + time, m.from === state.user ? "mine" : "");
  } else if (f.command === "RECEIPT") {
    const id = f.headers["receipt-id"];
    if (id === "joined") addMessage("joined #" + state.topic, null, "system");
    if (state.receipts[id]) { state.receipts[id](); delete state.receipts[id]; }
  } else if (f.command === "ERROR") {
    const msg = f.headers.message || "error";
    if (!$("chat").hidden) addMessage("server: " + msg, null, "system");
    else { $("signin-error").textContent = msg; state.wanted = false; }
  }
}

$("signin").addEventListener("submit", (e) => {
  e.preventDefault();
  state.user = e.target.login.value.trim();
  state.pass = e.target.passcode.value;
  $("signin-error").textContent = "";
  state.wanted = true;
  connect();
});

$("topic-form").addEventListener("submit", (e) => {
  e.preventDefault();
  $("messages").replaceChildren();
  subscribe(e.target.topic.value);
});

$("composer").addEventListener("submit", (e) => {
  e.preventDefault();
  const input = e.target.text;
  if (!input.value.trim()) return;
  send("SEND", { destination: "/topic/chat." + state.topic, "content-type": "application/json" },
       JSON.stringify({ text: input.value, from: state.user, ts: Date.now() }));
  input.value = "";
});

$("signout").addEventListener("click", () => {
  state.wanted = false;
  const id = "bye-" + state.nextId++;
  state.receipts[id] = () => state.ws && state.ws.close();
  send("DISCONNECT", { receipt: id });
  $("chat").hidden = true;
  $("signin").hidden = false;
  setStatus("signed out");
});
