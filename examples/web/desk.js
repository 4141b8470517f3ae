// Shared by the customer page, the agent console, the supervisor page and
// the chat page: sign-in and the connection, through the client package
// (clients/js, built into ./chatd-client/ by `make web`). It keeps the STOMP
// session, resubscribes after a drop and catches up with since-seq, sends
// with a client-id until the server confirms, and reconnects with back-off.
"use strict";

const desk = {
  awayAfterMs: 60000, // how long a hidden page waits before it says away (PresenceBook)
  user: null,
  chat: null, // the package's ChatClient
  lib: null, // the package's module
  // fn(reconnected) after every connection but the first: what the page
  // re-reads then (lists, counts); the subscriptions come back by themselves.
  onConnect: [],

  // Sign in: the package connects (login and passcode; REST then uses
  // Basic) and rejects with the server's refusal. Every call after goes
  // through desk.chat (rooms, room(id), support, presence, search); its
  // errors are ChatdErrors (status, code, detail: the server's words).
  async signIn(user, password) {
    this.lib = this.lib || await import("./chatd-client/index.js");
    this.chat = await this.lib.connect({ login: user, passcode: password });
    this.user = this.chat.user || user;
    setStatus("online", true);
    this.chat.on("connect", ({ reconnected }) => {
      setStatus("online", true);
      if (reconnected) for (const f of this.onConnect) f(true);
    });
    this.chat.on("disconnect", ({ retryIn }) => {
      if (retryIn !== null) setStatus("reconnecting in " + Math.max(1, Math.round(retryIn / 1000)) + " s…", false);
    });
    this.chat.on("error", (e) => setStatus("error: " + e.code, false));
  },

  // A room's events after lastSeq, kept across reconnects: the package
  // subscribes again with since-seq (and since-rev for the edits), each
  // message once, in seq order however the instances deliver them.
  // handlers: the package's RoomHandlers (`event` gets every one;
  // `resumed` runs after each reconnect's catch-up). Resolves with the
  // watch (stop(), lastSeq) once it is live.
  watchRoom(roomId, lastSeq, handlers) {
    return this.chat.room(roomId).watch(handlers, { sinceSeq: lastSeq });
  },

  // A message with its client-id (the package makes one), resolved once
  // stored; offline it waits and goes out on the next connection, once.
  // replyTo: the seq of the message it answers.
  send(roomId, text, replyTo) {
    return this.chat.room(roomId).send(text, replyTo ? { replyTo } : {});
  },
  // An attachment (docs/files.md): the bytes, then a `file` message naming
  // the upload. Throws the server's refusal.
  sendFile(roomId, file) {
    return this.chat.room(roomId).sendFile(file, { name: file.name });
  },
  // A file's bytes as an object URL (an <img> cannot send credentials).
  async fileUrl(url) {
    return URL.createObjectURL(await this.chat.rest.blob(url));
  },
  typing(roomId) {
    this.chat.room(roomId).typing();
  },
  read(roomId, seq) {
    this.chat.room(roomId).read(seq).catch(() => {}); // refused (a room gone) or the page signed out
  },
};

// What to show of an error: the server's own words when it gave some.
function errorText(err) {
  return (err && err.detail) || (err && err.message) || String(err);
}

function $(id) { return document.getElementById(id); }

// A user as the pages name them: an anonymous visitor (`visitor:<id>`,
// docs/visitors.md) as a short label, "Visitor ab12" (the package's
// userLabel), anyone else as is. titleIds(el, ...users) puts the full ids
// of the visitors among users in el's title, a hover away.
function userName(user) {
  return user && desk.lib ? desk.lib.userLabel(user) : user;
}
function titleIds(el, ...users) {
  const ids = users.filter((u) => u && desk.lib && desk.lib.isVisitor(u));
  if (ids.length) el.title = ids.join(", ");
  else el.removeAttribute("title");
}

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

// What a message says, as its sender wrote it: a JSON body's `text` (what
// the widget and JSON clients send, protocol.md "Message bodies"), any
// other body as it is.
function messageText(m) {
  if (!/^application\/json\b/i.test(m.content_type || "")) return m.body;
  try {
    const j = JSON.parse(m.body);
    if (j && typeof j.text === "string") return j.text;
  } catch { /* stored as sent: show it */ }
  return m.body;
}

function setStatus(text, online) {
  const s = $("status");
  if (!s) return;
  s.textContent = text;
  s.classList.toggle("online", !!online);
}

// "X is typing…" for three seconds after each typing event of someone else.
function showTyping(user) {
  if (user === desk.user) return;
  const el = $("typing");
  el.textContent = userName(user) + " is typing…";
  titleIds(el, user);
  clearTimeout(showTyping.timer);
  showTyping.timer = setTimeout(() => { el.textContent = ""; }, 3000);
}

// The start of a text, for a quote: one line, at most 80 characters (not
// cutting an emoji or a Korean syllable in two).
function excerpt(text) {
  const chars = [...String(text).replace(/\s+/g, " ").trim()];
  return chars.length > 80 ? chars.slice(0, 79).join("") + "…" : chars.join("");
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
    this.call("PATCH", seq, body);
    return true;
  }
  // A message-edited / message-deleted event: leave the edit of a line deleted meanwhile.
  changed(e) {
    if (e.type === "message-deleted" && this.seq === e.message.seq) this.stop();
  }
  async call(method, seq, body) {
    const id = this.roomId();
    if (!id) return;
    const room = desk.chat.room(id);
    try {
      if (method === "DELETE") await room.deleteMessage(seq);
      else await room.editMessage(seq, body);
    } catch (err) {
      this.onError(err);
    }
  }
}

// Reactions under a Conversation's messages (it shows them once
// editing.actions has react): a click on one adds ours or takes it back,
// "+" offers a few emoji. The answer holds the message's reactions with our
// own marked; the `reaction` event brings everyone else's changes.
// conv() is the page's Conversation.
function offerReactions(editing, conv) {
  editing.actions.react = async (m, emoji, add) => {
    const id = editing.roomId();
    if (!id) return;
    try {
      const room = desk.chat.room(id);
      const reactions = add ? await room.react(m.seq, emoji) : await room.unreact(m.seq, emoji);
      if (editing.roomId() === id) conv().setReactions(m.seq, reactions);
    } catch (err) {
      editing.onError(err);
    }
  };
}

// Reply: "Reply" under a message puts it above the composer ("Replying to
// …", × or Escape to leave it); the next message sent answers it
// (`reply-to`, docs/protocol.md) and shows it quoted above its text. The
// page holds #reply-bar, #reply-to and #reply-cancel above its composer.
class ReplyBar {
  constructor(editing) {
    this.editing = editing;
    this.seq = null;
    this.input = editing.input;
    editing.actions.reply = (m) => this.set(m);
    $("reply-cancel").addEventListener("click", () => this.clear());
    this.input.addEventListener("keydown", (e) => { if (e.key === "Escape" && this.seq !== null) this.clear(); });
  }
  set(m) {
    this.editing.stop();
    this.seq = m.seq;
    $("reply-to").textContent = "Replying to " + (m.sender || "someone") + ": " + excerpt(bodyLine(m.body));
    $("reply-bar").hidden = false;
    this.input.focus();
  }
  clear() {
    this.seq = null;
    $("reply-bar").hidden = true;
    $("reply-to").textContent = "";
  }
}

// A room event that changes messages shown already (an edit, a delete, a
// reaction): applied to the Conversation; false for any other event.
function showMessageChange(e, conv, editing, reply) {
  if (e.type === "reaction") {
    conv.setReactions(e.seq, e.reactions, e.user, e.emoji, e.action === "added");
    return true;
  }
  if (e.type !== "message-edited" && e.type !== "message-deleted") return false;
  conv.change(e.message);
  editing.changed(e);
  if (reply && reply.seq === e.message.seq && e.type === "message-deleted") reply.clear();
  return true;
}

// The 📎 button: the chosen file goes up, then its `file` message
// (docs/files.md); a refusal (too large, a type not allowed, the quota)
// goes to onError with the file's name. roomId() names the open room.
function offerAttachments(button, input, roomId, onError) {
  button.addEventListener("click", () => { if (roomId()) input.click(); });
  input.addEventListener("change", async () => {
    const file = input.files[0];
    input.value = "";
    const id = roomId();
    if (!file || !id) return;
    try {
      await desk.sendFile(id, file);
    } catch (err) {
      onError(file.name + ": " + errorText(err));
    }
  });
}

// Presence of the people a page shows (docs/protocol.md, "Presence"):
// user -> { status, last_seen }, from GET /api/presence and the events of
// /user/queue/presence; onChange() after each change.
class PresenceBook {
  constructor(onChange) {
    this.of = new Map();
    this.onChange = onChange;
  }
  // Subscribe (kept across reconnects by the package).
  listen() {
    desk.chat.onPresence((p) => { this.of.set(p.user, p); this.onChange(); });
  }
  // The named users (the server leaves out anyone we share no room with), 50 a request.
  async load(users) {
    users = [...new Set(users.filter(Boolean))];
    for (let i = 0; i < users.length; i += 50)
      for (const p of await desk.chat.presence(users.slice(i, i + 50))) this.of.set(p.user, p);
    this.onChange();
  }
  knows(user) { return this.of.has(user); }
  // The server cannot tell an idle page from a busy one: hidden for
  // afterMs (desk.awayAfterMs), we say away; shown again, back, unless
  // away was chosen by hand (chosen() says so, then the page stays away).
  awayWhenHidden() {
    let auto = false, timer = null;
    const set = (away) => desk.chat.setPresence(away ? "away" : "online");
    document.addEventListener("visibilitychange", () => {
      clearTimeout(timer);
      if (!desk.chat || !desk.chat.connected) return;
      if (document.hidden) {
        timer = setTimeout(() => {
          const me = this.of.get(desk.user);
          if (me && me.status === "away") return;
          auto = true;
          set(true);
        }, desk.awayAfterMs);
      } else if (auto) {
        auto = false;
        set(false);
      }
    });
    return { chosen() { auto = false; clearTimeout(timer); } };
  }
  text(user) {
    const p = this.of.get(user);
    if (!p) return "offline";
    if (p.status === "offline" && p.last_seen) return "last seen " + fmtTime(p.last_seen);
    return p.status;
  }
  // A dot: green online, amber away, hollow offline; its title says which.
  dot(user) {
    const p = this.of.get(user);
    const dot = document.createElement("span");
    dot.className = "dot " + (p ? p.status : "offline");
    dot.dataset.user = user;
    dot.title = user + ": " + this.text(user);
    dot.setAttribute("role", "img");
    dot.setAttribute("aria-label", dot.title);
    return dot;
  }
}

// A search form and its results: the page's #search form (with an optional
// <select name=scope>), and an empty #found that the panel fills with
// #found-summary, #found-list, #found-more and #found-close. search(q, opts, scope) answers a page
// (GET /api/search, or one room's); newest first, "More" follows the
// cursor; label(m) says where a match is; a click (or Enter) on one calls
// pick(m). A refusal (a query too short, say) goes to onError.
class SearchPanel {
  constructor({ search, label, pick, onError }) {
    Object.assign(this, { search, label, pick, onError });
    this.q = "";
    this.scope = "";
    this.cursor = null;
    this.turn = 0;
    SearchPanel.build($("found"));
    const form = $("search");
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      this.q = form.q.value.trim();
      this.scope = form.scope ? form.scope.value : "";
      this.cursor = null;
      this.page(false);
    });
    $("found-more").addEventListener("click", () => this.page(true));
    $("found-close").addEventListener("click", () => this.close());
  }
  // The results' parts, one markup for every page.
  static build(found) {
    const summary = document.createElement("p");
    summary.id = "found-summary";
    summary.className = "hint";
    summary.setAttribute("role", "status");
    const list = document.createElement("ul");
    list.id = "found-list";
    list.className = "rooms found";
    list.setAttribute("aria-label", "Messages found");
    const button = (id, text, hidden) => {
      const b = document.createElement("button");
      Object.assign(b, { type: "button", id, className: "secondary", textContent: text, hidden });
      return b;
    };
    const row = document.createElement("div");
    row.className = "row";
    row.append(button("found-more", "More", true), button("found-close", "Close", false));
    found.replaceChildren(summary, list, row);
  }
  close() {
    this.turn++;
    $("found").hidden = true;
    $("search").q.value = "";
  }
  item(m) {
    const li = document.createElement("li");
    li.dataset.room = m.room;
    li.dataset.seq = m.seq;
    li.tabIndex = 0;
    const who = document.createElement("span");
    who.className = "who";
    who.textContent = this.label(m) + m.sender + " · " + fmtTime(m.timestamp);
    const info = document.createElement("span");
    info.className = "info";
    info.textContent = bodyLine(m.body);
    li.append(who, info);
    li.addEventListener("click", () => this.pick(m));
    li.addEventListener("keydown", (e) => { if (e.key === "Enter") this.pick(m); });
    return li;
  }
  async page(more) {
    const turn = ++this.turn;
    try {
      const page = await this.search(this.q, more && this.cursor ? { cursor: this.cursor } : {}, this.scope);
      if (turn !== this.turn) return; // a newer search took over
      const list = $("found-list");
      if (!more) list.replaceChildren();
      list.append(...page.messages.map((m) => this.item(m)));
      this.cursor = page.next_cursor;
      $("found-more").hidden = !page.next_cursor;
      const n = list.children.length;
      $("found-summary").textContent = n ? `${n} message${n === 1 ? "" : "s"} with "${this.q}"`
                                         : `No message with "${this.q}"`;
      $("found").hidden = false;
    } catch (err) {
      if (turn === this.turn) this.onError(err);
    }
  }
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
    this.shown = new Map(); // seq -> the message as shown, for the replies that quote it
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
    this.shown.clear();
    this.list.replaceChildren();
    const page = await desk.chat.room(roomId).page({ limit: 20 });
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
    try {
      const page = await desk.chat.room(room).page({ limit: 20, before: this.nextBefore });
      if (room === this.roomId) {
        const h = this.list.scrollHeight;
        page.messages.forEach((m) => this.add(m, true));
        this.nextBefore = page.next_before ?? null;
        this.list.scrollTop += this.list.scrollHeight - h;
      }
    } finally {
      this.loading = false;
    }
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
    meta.textContent = userName(m.sender) + " · " + fmtTime(m.timestamp) + (m.rev && !m.deleted ? " · edited" : "");
    const text = document.createElement("span");
    text.className = "text";
    text.textContent = m.deleted ? "Message deleted" : messageText(m);
    titleIds(meta, m.sender);
    li.replaceChildren(meta, text);
    this.shown.set(m.seq, m);
    if (m.reply_to && !m.deleted) li.insertBefore(this.quote(m.reply_to), text);
    if (m.kind === "file" && !m.deleted) this.fillFile(li, text, m);
    if (m.reactions) this.reactions.set(m.seq, m.reactions);
    const a = this.actions;
    if (!a || m.deleted || m.erased || m.sender === "" || m.kind === "system") return;
    if (a.react) li.append(this.reactionRow(m));
    const tools = document.createElement("span");
    tools.className = "tools";
    if (a.reply) tools.append(this.button("Reply", () => a.reply(m)));
    if (a.canEdit(m) && m.kind !== "file") tools.append(this.button("Edit", () => a.edit(m)));
    if (a.canDelete(m)) tools.append(this.button("Delete", () => a.remove(m)));
    if (tools.childElementCount) li.append(tools);
  }
  // Above a reply: the message it answers (its sender and first words); a
  // click shows it. One not loaded yet (further back than the pages shown)
  // is read from the history.
  quote(seq) {
    const q = document.createElement("button");
    q.type = "button";
    q.className = "quote";
    q.dataset.replyTo = seq;
    this.fillQuote(q, this.shown.get(seq));
    q.addEventListener("click", () => this.reveal(seq));
    if (!this.shown.has(seq)) {
      const room = this.roomId;
      desk.chat.room(room).page({ before: seq + 1, limit: 1 }).then((page) => {
        const m = page.messages[0];
        if (room === this.roomId && m && m.seq === seq) this.fillQuote(q, m);
      }, () => {});
    }
    return q;
  }
  fillQuote(q, m) {
    const who = document.createElement("span");
    who.className = "who";
    const text = document.createElement("span");
    text.className = "excerpt";
    if (!m) {
      who.textContent = "↩ ";
      text.textContent = "an earlier message";
    } else {
      who.textContent = "↩ " + (userName(m.sender) || "someone") + " ";
      titleIds(who, m.sender);
      text.textContent = m.deleted ? "Message deleted" : excerpt(bodyLine(m.body));
    }
    q.replaceChildren(who, text);
    q.setAttribute("aria-label", "In reply to " + (m ? (userName(m.sender) || "someone") + ": " + text.textContent : text.textContent));
  }
  // Scroll to a message and flash it, once its page is loaded.
  async reveal(seq) {
    for (let tries = 0; !this.seqs.has(seq) && this.nextBefore && !this.loading && tries < 50; tries++)
      await this.loadOlder();
    const li = this.list.querySelector(`li[data-seq="${seq}"]`);
    if (!li) return;
    li.scrollIntoView({ block: "center" });
    li.classList.remove("flash");
    void li.offsetWidth;
    li.classList.add("flash");
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
  // message-edited / message-deleted: the message as it now is, unless
  // what is shown is as new already.
  change(m) {
    const li = this.list.querySelector(`li[data-seq="${m.seq}"]`);
    if (!li || Number(li.dataset.rev) >= m.rev) return;
    this.fill(li, m);
    // The replies that quote it show it as it now is.
    for (const q of this.list.querySelectorAll(`.quote[data-reply-to="${m.seq}"]`)) this.fillQuote(q, m);
  }
  count() { return this.seqs.size; }
}
