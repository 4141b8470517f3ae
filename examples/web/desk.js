// Shared by the customer page and the agent console: sign-in, the REST API
// and a STOMP connection (@stomp/stompjs) that resubscribes after a drop
// and catches up with since-seq.
"use strict";

const desk = {
  user: null,
  auth: null,
  client: null,
  onConnect: [],

  async api(method, path, body) {
    const res = await fetch(path, {
      method,
      headers: { Authorization: this.auth, "Content-Type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const data = res.status === 204 ? null : await res.json().catch(() => null);
    if (!res.ok) {
      const err = new Error((data && data.message) || res.statusText);
      err.status = res.status;
      throw err;
    }
    return data;
  },

  // Sign in: check the credentials with the API, then open STOMP.
  async signIn(user, password) {
    this.user = user;
    this.auth = "Basic " + btoa(user + ":" + password);
    await this.api("GET", "/api/rooms");
    return new Promise((resolve, reject) => {
      const proto = location.protocol === "https:" ? "wss:" : "ws:";
      let first = true;
      this.client = new StompJs.Client({
        brokerURL: proto + "//" + location.host + "/ws",
        connectHeaders: { login: user, passcode: password },
        reconnectDelay: 1000,
        heartbeatIncoming: 10000,
        heartbeatOutgoing: 10000,
      });
      this.client.onConnect = () => {
        setStatus("online", true);
        for (const f of this.onConnect) f(!first);
        if (first) { first = false; resolve(); }
      };
      this.client.onWebSocketClose = () => setStatus("reconnecting…", false);
      this.client.onStompError = (f) => {
        if (first) { this.client.deactivate(); reject(new Error(f.headers.message)); }
        else setStatus("error: " + f.headers.message, false);
      };
      this.client.activate();
    });
  },

  // A room's events, resubscribed after every reconnect with since-seq so
  // that nothing is lost and nothing doubled. With several server instances
  // messages may arrive out of order (seq 7 before 6): since-seq is the
  // highest seq below which every one has arrived, and seqs above it that
  // did arrive are remembered so that a replay does not double them.
  // onLive (optional) runs each time the subscription is in place (its
  // RECEIPT): from then on no event of the room is missed.
  // lastRev: the highest revision (edit or delete) seen since the watch
  // began; a resubscription asks for the changes after it (since-rev).
  watchRoom(roomId, lastSeq, onEvent, onLive) {
    const w = { roomId, lastSeq, lastRev: null, above: new Set(), sub: null, closed: false, subs: 0 };
    const subscribe = () => {
      if (w.closed || !this.client.connected) return;
      const headers = { "since-seq": String(w.lastSeq) };
      if (w.lastRev !== null) headers["since-rev"] = String(w.lastRev);
      else w.lastRev = 0; // changes from now on arrive live
      if (onLive) {
        headers.receipt = "live-" + roomId + "-" + ++w.subs;
        this.client.watchForReceipt(headers.receipt, () => onLive());
      }
      w.sub = this.client.subscribe("/topic/rooms/" + roomId, (m) => {
        const ev = m.headers.event;
        if (ev === "message") {
          const seq = Number(m.headers.seq);
          if (seq <= w.lastSeq || w.above.has(seq)) return;
          w.above.add(seq);
          while (w.above.has(w.lastSeq + 1)) w.above.delete(++w.lastSeq);
        }
        if (m.headers.rev) w.lastRev = Math.max(w.lastRev, Number(m.headers.rev));
        onEvent(m);
      }, headers);
    };
    w.resubscribe = subscribe;
    this.onConnect.push(() => subscribe());
    subscribe();
    w.stop = () => { w.closed = true; if (w.sub && this.client.connected) w.sub.unsubscribe(); };
    return w;
  },

  send(roomId, text) {
    const clientId = (crypto.randomUUID ? crypto.randomUUID() : String(Math.random()).slice(2));
    this.client.publish({ destination: "/app/rooms/" + roomId + "/send", body: text,
                          headers: { "client-id": clientId, "content-type": "text/plain" } });
  },
  // An attachment (docs/files.md): the bytes to POST .../files, then a
  // `file` message naming the upload. Throws the server's refusal.
  async sendFile(roomId, file) {
    const res = await fetch(`/api/rooms/${roomId}/files?name=${encodeURIComponent(file.name)}`, {
      method: "POST", body: file,
      headers: { Authorization: this.auth, "Content-Type": file.type || "application/octet-stream" },
    });
    const data = await res.json().catch(() => null);
    if (!res.ok) throw new Error((data && data.message) || res.statusText);
    this.client.publish({ destination: "/app/rooms/" + roomId + "/send", body: JSON.stringify({ file: data.id }),
                          headers: { kind: "file", "content-type": "application/json" } });
    return data;
  },
  // A file's bytes as an object URL (an <img> cannot send credentials).
  async fileUrl(url) {
    const res = await fetch(url, { headers: { Authorization: this.auth } });
    if (!res.ok) throw new Error(res.statusText);
    return URL.createObjectURL(await res.blob());
  },
  typing(roomId) {
    this.client.publish({ destination: "/app/rooms/" + roomId + "/typing", body: "" });
  },
  read(roomId, seq) {
    this.client.publish({ destination: "/app/rooms/" + roomId + "/read", body: JSON.stringify({ seq }) });
  },
};

function $(id) { return document.getElementById(id); }

// A message body as a line of text: a JSON body's `text` (a file message's
// with a clip before it), other bodies as they are.
function bodyLine(body) {
  if (typeof body !== "string" || !body.startsWith("{")) return body;
  try {
    const j = JSON.parse(body);
    if (j && typeof j.text === "string") return (j.file ? "📎 " : "") + j.text;
  } catch { /* not JSON: the text itself */ }
  return body;
}

function setStatus(text, online) {
  const s = $("status");
  if (!s) return;
  s.textContent = text;
  s.classList.toggle("online", !!online);
}

// "X is typing…" for three seconds after each typing event of someone else.
function showTyping(f) {
  const body = JSON.parse(f.body);
  if (body.user === desk.user) return;
  const el = $("typing");
  el.textContent = body.user + " is typing…";
  clearTimeout(showTyping.timer);
  showTyping.timer = setTimeout(() => { el.textContent = ""; }, 3000);
}

function fmtTime(ms) { return new Date(ms).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }); }
function fmtWait(ms) {
  const s = Math.floor(ms / 1000);
  return s < 60 ? s + " s" : Math.floor(s / 60) + " min " + (s % 60) + " s";
}

// A conversation view: newest 20 first, older pages on scrolling up.
// Editing and deleting messages from a page: the actions a Conversation
// shows (Edit on the user's own lines; Delete on their own, or on any when
// manager() says the user manages the room), and the composer's edit mode:
// Edit puts the line into the composer, whose button becomes Save; Enter
// stores the edit, Escape leaves it. roomId() names the open room; failures
// go to onError (the edit window is over, ...). The events show the result.
class MessageEditing {
  constructor(composer, roomId, manager, onError) {
    this.composer = composer;
    this.input = composer.querySelector("input");
    this.button = composer.querySelector("button[type=submit]");
    this.roomId = roomId;
    this.seq = null;
    this.onError = onError;
    this.actions = {
      canEdit: (m) => m.sender === desk.user,
      canDelete: (m) => m.sender === desk.user || manager(),
      edit: (m) => this.start(m),
      remove: (m) => this.call("DELETE", m.seq),
    };
    this.input.addEventListener("keydown", (e) => { if (e.key === "Escape" && this.seq !== null) this.stop(); });
  }
  start(m) {
    this.seq = m.seq;
    this.input.value = m.body;
    this.button.textContent = "Save";
    this.composer.classList.add("editing");
    this.input.focus();
  }
  stop() {
    this.seq = null;
    this.button.textContent = "Send";
    this.composer.classList.remove("editing");
    this.input.value = "";
  }
  // From the composer's submit: true when it was an edit (stored here).
  submitted() {
    if (this.seq === null) return false;
    const seq = this.seq, body = this.input.value;
    this.stop();
    this.call("PATCH", seq, { body, content_type: "text/plain" });
    return true;
  }
  // A message-edited / message-deleted event: leave the edit of a line deleted meanwhile.
  changed(f) {
    if (f.headers.event === "message-deleted" && this.seq === Number(f.headers.seq)) this.stop();
  }
  async call(method, seq, body) {
    const room = this.roomId();
    if (!room) return;
    try {
      await desk.api(method, `/api/rooms/${room}/messages/${seq}`, body);
    } catch (err) {
      this.onError(err);
    }
  }
}

// A room event's message, in the shape of the REST API's.
function frameMessage(f) {
  const h = f.headers;
  const m = { seq: Number(h.seq), sender: h.sender, timestamp: Number(h.timestamp), body: f.body,
              kind: h.kind || "text" };
  if (h.rev) m.rev = Number(h.rev);
  if (h.deleted === "true") m.deleted = true;
  return m;
}

// The emoji a message's small picker offers (docs/protocol.md, "Reactions").
const PICKER = ["👍", "❤️", "😂", "🎉", "😮", "😢"];

class Conversation {
  // actions (optional): { canEdit(m), canDelete(m), edit(m), remove(m) }:
  // which messages get Edit / Delete buttons, and what they do; with
  // react(m, emoji, add) too, reactions under each message and a picker.
  constructor(list, me, actions = null) {
    this.list = list;
    this.me = me;
    this.actions = actions;
    this.reactions = new Map(); // seq -> [{emoji, count, me}] as last known
    this.seqs = new Set();
    this.nextBefore = null;
    this.roomId = null;
    this.loading = false;
    list.addEventListener("scroll", () => { if (list.scrollTop < 40) this.loadOlder(); });
  }
  async open(roomId) {
    this.roomId = roomId;
    this.seqs.clear();
    this.reactions.clear();
    this.list.replaceChildren();
    const page = await desk.api("GET", "/api/rooms/" + roomId + "/messages?limit=20");
    if (roomId !== this.roomId) return 0; // another room was opened meanwhile
    page.messages.slice().reverse().forEach((m) => this.add(m, false));
    this.nextBefore = page.next_before ?? null;
    this.list.scrollTop = this.list.scrollHeight;
    return page.messages.length ? page.messages[0].seq : 0;
  }
  async loadOlder() {
    if (this.loading || !this.nextBefore || !this.roomId) return;
    this.loading = true;
    const room = this.roomId;
    const page = await desk.api("GET", `/api/rooms/${room}/messages?limit=20&before=${this.nextBefore}`);
    if (room === this.roomId) {
      const h = this.list.scrollHeight;
      page.messages.forEach((m) => this.add(m, true));
      this.nextBefore = page.next_before ?? null;
      this.list.scrollTop += this.list.scrollHeight - h;
    }
    this.loading = false;
  }
  // A `file` message: its caption, and an image's preview (laid out at
  // its size before it loads) or a link that downloads the file.
  fillFile(li, text, m) {
    let body;
    try { body = typeof m.body === "string" ? JSON.parse(m.body) : m.body; } catch { return; }
    const f = body && body.file;
    if (!f) return;
    text.textContent = body.text !== f.name ? body.text : "";
    li.classList.add("file");
    const kib = f.size < 1024 ? f.size + " B" : Math.round(f.size / 1024) + " KiB";
    if (f.content_type.startsWith("image/")) {
      const img = document.createElement("img");
      img.className = "attachment";
      img.alt = f.name;
      img.title = f.name + " · " + kib;
      if (f.width && f.height) { img.width = Math.min(f.width, 320); img.height = Math.round(img.width * f.height / f.width); }
      li.insertBefore(img, text.nextSibling);
      desk.fileUrl(f.url).then((u) => { img.src = u; }).catch(() => { img.alt = f.name + " (unavailable)"; });
    } else {
      const a = document.createElement("a");
      a.className = "attachment";
      a.href = "#";
      a.textContent = "📎 " + f.name + " · " + kib;
      a.addEventListener("click", async (e) => {
        e.preventDefault();
        const u = await desk.fileUrl(f.url);
        const save = document.createElement("a");
        save.href = u;
        save.download = f.name;
        save.click();
      });
      li.insertBefore(a, text.nextSibling);
    }
  }
  // The message's content: its text, or a tombstone; "(edited)" after an
  // edit; the buttons its viewer may use.
  fill(li, m) {
    // A system message (a transfer, say) is the server's: centred, no tools.
    li.className = m.kind === "system" ? "system" : m.sender === this.me ? "mine" : "";
    li.classList.toggle("deleted", !!m.deleted);
    li.dataset.rev = m.rev || 0;
    const meta = document.createElement("span");
    meta.className = "meta";
    meta.textContent = m.sender + " · " + fmtTime(m.timestamp) + (m.rev && !m.deleted ? " · edited" : "");
    const text = document.createElement("span");
    text.className = "text";
    text.textContent = m.deleted ? "Message deleted" : m.body;
    li.replaceChildren(meta, text);
    if (m.kind === "file" && !m.deleted) this.fillFile(li, text, m);
    if (m.reactions) this.reactions.set(m.seq, m.reactions);
    const a = this.actions;
    if (!a || m.deleted || m.erased || m.sender === "" || m.kind === "system") return;
    if (a.react) li.append(this.reactionRow(m));
    const tools = document.createElement("span");
    tools.className = "tools";
    if (a.canEdit(m) && m.kind !== "file") tools.append(this.button("Edit", () => a.edit(m)));
    if (a.canDelete(m)) tools.append(this.button("Delete", () => a.remove(m)));
    if (tools.childElementCount) li.append(tools);
  }
  // Under a message: each emoji with its count (pressed: ours; a click adds
  // or takes ours back), and "+" opening a small picker.
  reactionRow(m) {
    const row = document.createElement("span");
    row.className = "reactions";
    for (const r of this.reactions.get(m.seq) || []) {
      const b = document.createElement("button");
      b.type = "button";
      b.className = "reaction" + (r.me ? " me" : "");
      b.dataset.emoji = r.emoji;
      b.setAttribute("aria-pressed", r.me ? "true" : "false");
      b.setAttribute("aria-label", `${r.emoji} ${r.count}`);
      b.textContent = `${r.emoji} ${r.count}`;
      b.addEventListener("click", () => this.actions.react(m, r.emoji, !r.me));
      row.append(b);
    }
    const add = document.createElement("button");
    add.type = "button";
    add.className = "reaction add";
    add.textContent = "+";
    add.setAttribute("aria-label", "Add a reaction");
    const picker = document.createElement("span");
    picker.className = "picker";
    picker.hidden = true;
    for (const emoji of PICKER) {
      const b = document.createElement("button");
      b.type = "button";
      b.className = "pick";
      b.dataset.emoji = emoji;
      b.textContent = emoji;
      b.addEventListener("click", () => { picker.hidden = true; this.actions.react(m, emoji, true); });
      picker.append(b);
    }
    add.addEventListener("click", () => { picker.hidden = !picker.hidden; });
    row.append(add, picker);
    return row;
  }
  // A message's reactions as they now are (a REST answer: `me` for us; a
  // `reaction` event: none, so ours follow from who reacted).
  setReactions(seq, reactions, who = null, emoji = null, added = false) {
    const before = new Map((this.reactions.get(seq) || []).map((r) => [r.emoji, r.me]));
    const now = reactions.map((r) => ({
      emoji: r.emoji, count: r.count,
      me: r.me !== undefined ? r.me : who === this.me && r.emoji === emoji ? added : !!before.get(r.emoji),
    }));
    this.reactions.set(seq, now);
    const li = this.list.querySelector(`li[data-seq="${seq}"]`);
    const row = li && li.querySelector(".reactions");
    if (!row) return;
    const m = { seq, sender: li.dataset.sender, kind: null };
    row.replaceWith(this.reactionRow(m));
  }
  button(label, fn) {
    const b = document.createElement("button");
    b.type = "button";
    b.className = "link " + label.toLowerCase();
    b.textContent = label;
    b.addEventListener("click", fn);
    return b;
  }
  add(m, atTop) {
    if (this.seqs.has(m.seq)) return;
    this.seqs.add(m.seq);
    const li = document.createElement("li");
    li.dataset.seq = m.seq;
    li.dataset.sender = m.sender;
    this.fill(li, m);
    if (atTop) {
      this.list.prepend(li);
    } else {
      // Usually the newest; if not (out of order), before the first newer one.
      let next = null;
      for (let el = this.list.lastElementChild; el && Number(el.dataset.seq) > m.seq; el = el.previousElementSibling)
        next = el;
      this.list.insertBefore(li, next);
      this.list.scrollTop = this.list.scrollHeight;
    }
  }
  addEvent(f) {
    this.add(frameMessage(f), false);
  }
  // message-edited / message-deleted: the message as it now is, unless
  // what is shown is as new already.
  changeEvent(f) {
    const m = frameMessage(f);
    const li = this.list.querySelector(`li[data-seq="${m.seq}"]`);
    if (!li || Number(li.dataset.rev) >= m.rev) return;
    this.fill(li, m);
  }
  count() { return this.seqs.size; }
}
