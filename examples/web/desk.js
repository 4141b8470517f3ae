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
  watchRoom(roomId, lastSeq, onEvent, onLive) {
    const w = { roomId, lastSeq, above: new Set(), sub: null, closed: false, subs: 0 };
    const subscribe = () => {
      if (w.closed || !this.client.connected) return;
      const headers = { "since-seq": String(w.lastSeq) };
      if (onLive) {
        headers.receipt = "live-" + roomId + "-" + ++w.subs;
        this.client.watchForReceipt(headers.receipt, () => onLive());
      }
      w.sub = this.client.subscribe("/topic/rooms/" + roomId, (m) => {
        if (m.headers.event === "message") {
          const seq = Number(m.headers.seq);
          if (seq <= w.lastSeq || w.above.has(seq)) return;
          w.above.add(seq);
          while (w.above.has(w.lastSeq + 1)) w.above.delete(++w.lastSeq);
        }
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
  typing(roomId) {
    this.client.publish({ destination: "/app/rooms/" + roomId + "/typing", body: "" });
  },
  read(roomId, seq) {
    this.client.publish({ destination: "/app/rooms/" + roomId + "/read", body: JSON.stringify({ seq }) });
  },
};

function $(id) { return document.getElementById(id); }

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
class Conversation {
  constructor(list, me) {
    this.list = list;
    this.me = me;
    this.seqs = new Set();
    this.nextBefore = null;
    this.roomId = null;
    this.loading = false;
    list.addEventListener("scroll", () => { if (list.scrollTop < 40) this.loadOlder(); });
  }
  async open(roomId) {
    this.roomId = roomId;
    this.seqs.clear();
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
  add(m, atTop) {
    if (this.seqs.has(m.seq)) return;
    this.seqs.add(m.seq);
    const li = document.createElement("li");
    li.className = m.sender === this.me ? "mine" : "";
    li.dataset.seq = m.seq;
    const meta = document.createElement("span");
    meta.className = "meta";
    meta.textContent = m.sender + " · " + fmtTime(m.timestamp);
    li.append(meta, document.createTextNode(m.body));
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
    this.add({ seq: Number(f.headers.seq), sender: f.headers.sender, timestamp: Number(f.headers.timestamp),
               body: f.body }, false);
  }
  count() { return this.seqs.size; }
}
