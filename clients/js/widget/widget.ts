// The chatd support widget: one <script src=".../widget.js"
// data-chatd="https://chat.example.com"> adds a chat bubble to any page.
// It opens a support chat for the site's signed-in user (data-token, or a
// global function named by data-token-callback) or, without one, for an
// anonymous visitor whose token chatd issues (POST /api/visitors) and this
// page's origin keeps in localStorage. No framework; the STOMP client
// (@stomp/stompjs) is bundled beside it by scripts/build.mjs, which wraps
// both in one function so that nothing leaks into the page but
// window.ChatdWidget. Styling: CSS custom properties (README.md). The
// back-off between reconnection attempts and the names of users come from
// the package's own modules, which scripts/build.mjs inlines.

import { backoffDelay } from "../src/backoff.js";
import { userLabel } from "../src/names.js";

interface StompFrame {
  headers: Record<string, string>;
  body: string;
}
interface StompSubscription {
  unsubscribe(): void;
}
interface StompClient {
  connectHeaders: Record<string, string>;
  reconnectDelay: number;
  connectionTimeout: number;
  beforeConnect: () => void | Promise<void>;
  onConnect: (frame: StompFrame) => void;
  onStompError: (frame: StompFrame) => void;
  onWebSocketClose: (event: unknown) => void;
  connected: boolean;
  activate(): void;
  deactivate(): Promise<void>;
  subscribe(destination: string, cb: (frame: StompFrame) => void, headers?: Record<string, string>): StompSubscription;
  publish(params: { destination: string; body?: string; headers?: Record<string, string> }): void;
  watchForReceipt(id: string, cb: (frame: StompFrame) => void): void;
}
// Defined by the bundle's wrapper (scripts/build.mjs), not a global.
declare const StompJs: { Client: new (conf: { brokerURL: string }) => StompClient };

interface Room {
  id: string;
  state: string;
  owner?: string;
  agent?: string;
  last_seq: number;
  unread?: number;
}
interface StoredMessage {
  seq: number;
  sender: string;
  body: string;
  timestamp: number;
  content_type?: string;
  kind?: string;
  client_id?: string | null;
}
interface Visitor {
  user: string;
  token: string;
  expires_ms: number;
  issued_ms: number;
}

class WidgetError extends Error {
  constructor(message: string, readonly status = 0) {
    super(message);
  }
}

const WIDGET_CSS = `
:host { all: initial; }
.root { position: fixed; right: var(--chatd-offset, 20px); bottom: var(--chatd-offset, 20px);
  z-index: var(--chatd-z-index, 2147483000); font-family: var(--chatd-font, system-ui, -apple-system, "Segoe UI",
  "Noto Sans KR", "Apple SD Gothic Neo", sans-serif); font-size: var(--chatd-font-size, 14px);
  color: var(--chatd-fg, #1d2330); line-height: 1.4; }
.bubble { width: 56px; height: 56px; border-radius: 50%; border: none; cursor: pointer; position: relative;
  background: var(--chatd-accent, #2f6fed); color: var(--chatd-accent-fg, #fff);
  box-shadow: 0 4px 14px rgba(0,0,0,.25); display: flex; align-items: center; justify-content: center; margin-left: auto; }
.bubble svg { width: 28px; height: 28px; fill: currentColor; }
.badge { position: absolute; top: -4px; right: -4px; min-width: 20px; height: 20px; padding: 0 5px; box-sizing: border-box;
  border-radius: 10px; background: var(--chatd-badge, #e5484d); color: #fff; font-size: 12px; font-weight: 600;
  display: flex; align-items: center; justify-content: center; }
.badge[hidden], .panel[hidden], .fallback[hidden], .typing[hidden], .again[hidden] { display: none; }
.panel { width: min(360px, calc(100vw - 40px)); height: min(520px, calc(100vh - 110px)); margin-bottom: 12px;
  background: var(--chatd-bg, #fff); border-radius: var(--chatd-radius, 14px); overflow: hidden;
  box-shadow: 0 8px 30px rgba(0,0,0,.22); display: flex; flex-direction: column; }
header { background: var(--chatd-accent, #2f6fed); color: var(--chatd-accent-fg, #fff); padding: 12px 14px;
  display: flex; align-items: center; gap: 8px; }
header .titles { flex: 1; min-width: 0; }
header .title { font-weight: 600; font-size: 15px; }
header .status { font-size: 12px; opacity: .9; }
header button { background: none; border: none; color: inherit; font-size: 22px; cursor: pointer; line-height: 1; }
.fallback { background: var(--chatd-fallback-bg, #fff4e5); color: var(--chatd-fallback-fg, #6b4200);
  padding: 10px 14px; font-size: 13px; border-bottom: 1px solid rgba(0,0,0,.06); }
.messages { flex: 1; overflow-y: auto; list-style: none; margin: 0; padding: 12px; display: flex;
  flex-direction: column; gap: 6px; background: var(--chatd-messages-bg, #f6f7f9); }
.messages li { max-width: 80%; padding: 7px 11px; border-radius: 12px; white-space: pre-wrap; overflow-wrap: anywhere; }
.messages li.theirs { align-self: flex-start; background: var(--chatd-theirs-bg, #fff); border: 1px solid #e3e6ea; }
.messages li.mine { align-self: flex-end; background: var(--chatd-mine-bg, var(--chatd-accent, #2f6fed));
  color: var(--chatd-mine-fg, #fff); }
.messages li.notice { align-self: center; background: none; color: #6b7280; font-size: 12px; }
.messages li .meta { display: block; font-size: 11px; opacity: .75; margin-top: 2px; text-align: right; }
.messages li.pending { opacity: .6; }
.typing { padding: 4px 14px; font-size: 12px; color: #6b7280; background: var(--chatd-messages-bg, #f6f7f9); }
form { display: flex; gap: 6px; padding: 10px; border-top: 1px solid #e3e6ea; background: var(--chatd-bg, #fff); }
form input { flex: 1; min-width: 0; padding: 8px 10px; border: 1px solid #cfd4da; border-radius: 8px; font: inherit; }
form button, .again { padding: 8px 12px; border: none; border-radius: 8px; cursor: pointer; font: inherit;
  background: var(--chatd-accent, #2f6fed); color: var(--chatd-accent-fg, #fff); }
form input:disabled, form button:disabled { opacity: .5; }
.again { margin: 8px auto; display: block; }
`;

const ICON = '<svg viewBox="0 0 24 24" aria-hidden="true"><path d="M12 3C6.5 3 2 6.6 2 11c0 2.4 1.3 4.5 3.4 ' +
  '6L4.5 21l4.3-2.2c1 .3 2.1.4 3.2.4 5.5 0 10-3.6 10-8S17.5 3 12 3z"/></svg>';

const script = document.currentScript as HTMLScriptElement | null;

function start(): void {
  const data = script?.dataset ?? {};
  const base = (data.chatd ?? "").replace(/\/+$/, "");
  if (!base) {
    console.error("chatd widget: the script tag needs data-chatd=\"https://your-chatd\"");
    return;
  }
  const text = {
    title: data.title ?? "Support",
    greeting: data.greeting ?? "Hi! How can we help?",
    fallback: data.fallback ?? "Chat is unavailable right now. Please try again later.",
    waiting: "Waiting for an agent…",
    // {s}: the seconds until the next attempt.
    reconnecting: data.reconnecting ?? "Connection lost. Reconnecting in {s} s…",
    visitor: data.visitorLabel ?? "Visitor",
  };
  // Between attempts after a drop: from at most reconnectDelay, doubling up
  // to maxReconnectDelay, each wait a random point in the upper half of its
  // step (the client package's back-off); back to the first step once connected.
  const delayOption = (v: string | undefined, d: number) => (v !== undefined && Number(v) >= 0 ? Number(v) : d);
  const reconnectDelay = delayOption(data.reconnectDelay, 1000);
  const maxReconnectDelay = delayOption(data.maxReconnectDelay, 30000);
  const wsUrl = base.replace(/^http/, "ws") + (data.wsPath ?? "/ws");
  const storeKey = "chatd-widget:" + base;

  // ---- the page's part: DOM in a shadow root ---------------------------
  const host = document.createElement("div");
  host.id = "chatd-widget";
  const shadow = host.attachShadow({ mode: "open" });
  shadow.innerHTML = `<style>${WIDGET_CSS}</style><div class="root">
<section class="panel" role="dialog" hidden>
 <header><div class="titles"><div class="title"></div><div class="status"></div></div>
  <button class="close" type="button" aria-label="Close">×</button></header>
 <div class="fallback" role="alert" hidden></div>
 <ol class="messages" aria-live="polite"></ol>
 <button class="again" type="button" hidden>Start a new chat</button>
 <div class="typing" hidden></div>
 <form><input name="text" autocomplete="off" maxlength="4000" placeholder="Type a message…" aria-label="Message">
  <button type="submit">Send</button></form>
</section>
<button class="bubble" type="button" aria-label="Open support chat">${ICON}<span class="badge" hidden></span></button>
</div>`;
  const $ = <T extends Element>(sel: string) => shadow.querySelector(sel) as T;
  const panel = $<HTMLElement>(".panel"), list = $<HTMLOListElement>(".messages");
  const statusEl = $<HTMLElement>(".status"), badge = $<HTMLElement>(".badge");
  const fallbackEl = $<HTMLElement>(".fallback"), typingEl = $<HTMLElement>(".typing");
  const form = $<HTMLFormElement>("form"), input = $<HTMLInputElement>("form input");
  const sendButton = $<HTMLButtonElement>("form button"), again = $<HTMLButtonElement>(".again");
  $<HTMLElement>(".title").textContent = text.title;
  panel.setAttribute("aria-label", text.title);
  fallbackEl.textContent = text.fallback;

  // ---- state -----------------------------------------------------------
  let room: Room | null = null;
  let me = "";
  let lastSeq = 0;
  let theirRead = 0;
  let unread = 0;
  let queueText = ""; // the last queue-position, while waiting
  let client: StompClient | null = null;
  let live: Promise<void> = Promise.resolve();
  let roomSub: StompSubscription | null = null;
  const early = new Map<string, string>(); // room -> a queue position heard before the room was ours
  let starting: Promise<void> | null = null;
  let typingSent = 0;
  let typingTimer: ReturnType<typeof setTimeout> | undefined;
  const shown = new Map<number, HTMLLIElement>(); // seq -> li
  const pending = new Map<string, { li: HTMLLIElement; body: string }>(); // client-id -> not yet stored
  let failures = 0; // connection attempts failed since the last success
  let retryAt = 0; // when the next attempt starts (ms)
  let countdown: ReturnType<typeof setTimeout> | undefined;

  // ---- tokens ----------------------------------------------------------
  function loadVisitor(): Visitor | null {
    try {
      const v = JSON.parse(localStorage.getItem(storeKey) ?? "null") as Visitor | null;
      return v && v.token && v.expires_ms > Date.now() ? v : null;
    } catch {
      return null;
    }
  }

  async function issueVisitor(renew: Visitor | null): Promise<Visitor> {
    const res = await request("POST", "/api/visitors", undefined, renew?.token);
    if (res.status === 401 && renew) return issueVisitor(null); // expired or a new secret: a new visitor
    if (!res.ok) throw new WidgetError("visitor token: " + res.status, res.status);
    const v = (await res.json()) as Visitor;
    v.issued_ms = Date.now();
    try {
      localStorage.setItem(storeKey, JSON.stringify(v));
    } catch {
      /* storage full or denied: this page view keeps it */
    }
    return v;
  }

  const siteToken = async (): Promise<string | null> => {
    const name = data.tokenCallback;
    if (name) {
      const fn = (window as unknown as Record<string, unknown>)[name];
      if (typeof fn !== "function") throw new WidgetError(`data-token-callback: window.${name} is not a function`);
      const t = await (fn as () => string | Promise<string>)();
      return t || null;
    }
    return data.token || null;
  };

  // The token to use now; create: whether a visitor may be issued one.
  async function token(create: boolean): Promise<string | null> {
    const site = await siteToken();
    if (site) return site;
    let v = loadVisitor();
    if (v && Date.now() > v.issued_ms + (v.expires_ms - v.issued_ms) / 2) v = await issueVisitor(v);
    if (!v && create) v = await issueVisitor(null);
    if (v) me = v.user;
    return v ? v.token : null;
  }

  async function request(method: string, path: string, body?: unknown, bearer?: string | null): Promise<Response> {
    const headers: Record<string, string> = {};
    if (bearer) headers.Authorization = "Bearer " + bearer;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    try {
      return await fetch(base + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body),
                                        mode: "cors", credentials: "omit" });
    } catch {
      throw new WidgetError("unreachable");
    }
  }

  async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await request(method, path, body, await token(false));
    if (!res.ok) throw new WidgetError(method + " " + path + ": " + res.status, res.status);
    return (await res.json()) as T;
  }

  // ---- showing ---------------------------------------------------------
  function setOffline(off: boolean, message = text.fallback): void {
    fallbackEl.textContent = message;
    fallbackEl.hidden = !off;
    host.toggleAttribute("data-offline", off);
    refreshComposer();
  }

  function refreshComposer(): void {
    const closed = !room || room.state === "completed" || room.state === "closed";
    const off = !fallbackEl.hidden;
    input.disabled = off || (!!room && closed);
    sendButton.disabled = input.disabled;
    again.hidden = !room || !closed;
  }

  function setBadge(n: number): void {
    unread = n;
    badge.hidden = n <= 0;
    badge.textContent = n > 99 ? "99+" : String(n);
    window.dispatchEvent(new CustomEvent("chatd-widget:unread", { detail: { unread: n } }));
  }

  function showStatus(): void {
    if (!room) statusEl.textContent = "";
    else if (room.state === "unassigned") statusEl.textContent = queueText || text.waiting;
    else if (room.state === "assigned")
      statusEl.textContent = "You are talking with " + (room.agent ? userLabel(room.agent, text.visitor) : "an agent");
    else if (room.state === "completed") statusEl.textContent = "This chat is finished.";
    else if (room.state === "closed") statusEl.textContent = "This chat is closed.";
    refreshComposer();
  }

  function textOf(body: string, contentType: string | undefined): string {
    if ((contentType ?? "").startsWith("application/json") || body.trimStart().startsWith("{")) {
      try {
        const j = JSON.parse(body) as { text?: unknown };
        if (typeof j.text === "string") return j.text;
      } catch {
        /* shown as sent */
      }
    }
    return body;
  }

  function time(ms: number): string {
    return new Date(ms).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  }

  function metaOf(li: HTMLLIElement): HTMLElement {
    let meta = li.querySelector(".meta") as HTMLElement | null;
    if (!meta) {
      meta = document.createElement("span");
      meta.className = "meta";
      li.append(meta);
    }
    return meta;
  }

  function markRead(): void {
    for (const [seq, li] of shown) {
      if (!li.classList.contains("mine")) continue;
      const read = seq <= theirRead;
      li.classList.toggle("read", read);
      const meta = metaOf(li);
      meta.textContent = (li.dataset.time ?? "") + (read ? " · Read" : "");
    }
  }

  function atBottom(): boolean {
    return list.scrollHeight - list.scrollTop - list.clientHeight < 40;
  }

  function place(m: StoredMessage): void {
    if (shown.has(m.seq)) return;
    const stick = atBottom();
    const mine = m.sender === me;
    let li: HTMLLIElement | undefined;
    if (mine && m.client_id && pending.has(m.client_id)) {
      li = pending.get(m.client_id)!.li;
      pending.delete(m.client_id);
      li.classList.remove("pending");
    } else {
      li = document.createElement("li");
      li.textContent = textOf(m.body, m.content_type);
      li.className = m.kind === "system" ? "notice" : mine ? "mine" : "theirs";
      // In seq order, whatever order replay and live frames came in.
      const after = [...shown.keys()].filter((s) => s > m.seq).sort((a, b) => a - b)[0];
      const firstPending = [...pending.values()][0]?.li;
      list.insertBefore(li, after !== undefined ? shown.get(after)! : firstPending ?? null);
    }
    li.dataset.seq = String(m.seq);
    li.dataset.time = time(m.timestamp);
    metaOf(li).textContent = li.dataset.time;
    shown.set(m.seq, li);
    if (m.seq > lastSeq) lastSeq = m.seq;
    if (!mine && m.kind !== "system") {
      if (panel.hidden || document.visibilityState !== "visible") setBadge(unread + 1);
      typingEl.hidden = true;
    }
    markRead();
    if (stick || mine) list.scrollTop = list.scrollHeight;
    readUpTo();
  }

  // Tell the server what the visitor has seen (panel open, page visible).
  function readUpTo(): void {
    if (panel.hidden || document.visibilityState !== "visible" || !room || !lastSeq) return;
    setBadge(0);
    if (client?.connected)
      client.publish({ destination: `/app/rooms/${room.id}/read`, body: JSON.stringify({ seq: lastSeq }),
                       headers: { "content-type": "application/json" } });
  }

  // ---- live ------------------------------------------------------------
  function onRoomEvent(f: StompFrame): void {
    if (!room) return;
    const h = f.headers;
    const ev = h.event;
    if (ev === "message") {
      place({ seq: Number(h.seq), sender: h.sender, body: f.body, timestamp: Number(h.timestamp),
              content_type: h["content-type"], kind: h.kind, client_id: h["client-id"] });
      return;
    }
    let body: Record<string, unknown> = {};
    try {
      body = JSON.parse(f.body) as Record<string, unknown>;
    } catch {
      return;
    }
    if (ev === "read" && body.user !== me) {
      theirRead = Math.max(theirRead, Number(body.seq) || 0);
      markRead();
    } else if (ev === "typing" && body.user !== me) {
      typingEl.textContent = `${userLabel(String(body.user), text.visitor)} is typing…`;
      typingEl.hidden = false;
      clearTimeout(typingTimer);
      typingTimer = setTimeout(() => { typingEl.hidden = true; }, 4000);
    } else if (ev === "assigned") {
      room.state = "assigned";
      room.agent = String(body.agent);
      showStatus();
    } else if (ev === "completed" || ev === "closed") {
      room.state = ev;
      showStatus();
    }
  }

  function onNotification(f: StompFrame): void {
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(f.body) as Record<string, unknown>;
    } catch {
      return;
    }
    const about = String(body.room ?? body.id);
    if (!room || about !== room.id) {
      if (f.headers.event === "queue-position") early.set(about, f.body);
      return;
    }
    if (f.headers.event === "queue-position" && room.state === "unassigned") {
      const n = Number(body.position);
      const wait = Number(body.estimated_wait_ms);
      queueText = `You are number ${n} in the queue` +
        (wait > 0 ? ` (about ${Math.max(1, Math.round(wait / 60000))} min)` : "");
      showStatus();
    }
  }

  // The room's events from lastSeq on (a resume after a reconnect too),
  // then the room as it is once they are live: what changed before (an
  // agent assigned at once) is not an event this subscription replays.
  function subscribeRoom(c: StompClient): void {
    if (!room || roomSub) return;
    const id = room.id;
    c.watchForReceipt("w-room", () => {
      api<Room>("GET", `/api/rooms/${id}`).then((r) => {
        if (room?.id !== id) return;
        room.state = r.state;
        room.agent = r.agent;
        showStatus();
      }, () => { /* the events tell */ });
    });
    roomSub = c.subscribe(`/topic/rooms/${id}`, onRoomEvent, { "since-seq": String(lastSeq), receipt: "w-room" });
    for (const [clientId, p] of pending) publish(clientId, p.body); // the same client-id: stored once
    readUpTo();
  }

  // The state of the connection, for the page: { state: "online" }, or
  // { state: "reconnecting", attempt, retryIn } after each drop or failed attempt.
  function announce(detail: Record<string, unknown>): void {
    window.dispatchEvent(new CustomEvent("chatd-widget:connection", { detail }));
  }

  // "Reconnecting in N s…" in the fallback bar, counting down.
  function showRetry(): void {
    clearTimeout(countdown);
    const left = retryAt - Date.now();
    const s = Math.max(1, Math.ceil(left / 1000));
    setOffline(true, text.reconnecting.replace("{s}", String(s)));
    host.dataset.reconnectIn = String(s);
    if (left > 1000) countdown = setTimeout(showRetry, left - (s - 1) * 1000);
  }

  function stopRetry(): void {
    clearTimeout(countdown);
    delete host.dataset.reconnectIn;
  }

  // Resolves once the notifications are live (a room opened after it
  // hears its queue position), or after a while without a server.
  function connect(): Promise<void> {
    if (client) return live;
    const c = new StompJs.Client({ brokerURL: wsUrl });
    client = c;
    // stompjs would wait a fixed delay; it goes again at once and
    // beforeConnect waits the back-off instead.
    c.reconnectDelay = reconnectDelay > 0 ? 1 : 0;
    c.connectionTimeout = 8000;
    let ready: () => void = () => {};
    live = new Promise<void>((resolve) => {
      ready = resolve;
      setTimeout(resolve, 8000);
    });
    c.beforeConnect = async () => {
      const wait = retryAt - Date.now();
      if (failures > 0 && wait > 0) await new Promise((r) => setTimeout(r, wait));
      try {
        const t = await token(false);
        c.connectHeaders = t ? { Authorization: "Bearer " + t } : {};
      } catch {
        c.connectHeaders = {};
      }
    };
    c.onConnect = () => {
      failures = 0;
      stopRetry();
      setOffline(false);
      announce({ state: "online" });
      roomSub = null;
      c.watchForReceipt("w-notifications", () => ready());
      c.subscribe("/user/queue/notifications", onNotification, { receipt: "w-notifications" });
      subscribeRoom(c);
    };
    c.onWebSocketClose = () => {
      if (client !== c) return; // a chat left for a new one
      roomSub = null;
      if (reconnectDelay <= 0) {
        setOffline(true);
        return;
      }
      failures++;
      const retryIn = backoffDelay(failures, reconnectDelay, maxReconnectDelay);
      retryAt = Date.now() + retryIn;
      showRetry();
      announce({ state: "reconnecting", attempt: failures, retryIn });
    };
    c.onStompError = (f) => {
      console.warn("chatd widget:", f.headers.message);
    };
    c.activate();
    return live;
  }

  function publish(clientId: string, body: string): void {
    if (!client?.connected || !room) return;
    const receipt = "w-" + clientId;
    client.watchForReceipt(receipt, (f) => {
      const p = pending.get(clientId);
      if (p && f.headers.seq) {
        place({ seq: Number(f.headers.seq), sender: me, body, timestamp: Date.now(), client_id: clientId });
      }
    });
    client.publish({ destination: `/app/rooms/${room.id}/send`, body,
                     headers: { "content-type": "application/json", "client-id": clientId, receipt } });
  }

  // ---- the chat ----------------------------------------------------------
  async function attach(r: Room): Promise<void> {
    room = r;
    if (r.owner) me = r.owner;
    showStatus();
    const page = await api<{ messages: StoredMessage[] }>("GET", `/api/rooms/${r.id}/messages?limit=50`);
    if (!page.messages.length && !list.children.length) {
      const hello = document.createElement("li");
      hello.className = "notice";
      hello.textContent = text.greeting;
      list.append(hello);
    }
    for (const m of page.messages.reverse()) place(m);
    if (panel.hidden) setBadge(r.unread ?? 0);
    const heard = early.get(r.id);
    early.clear();
    if (heard) onNotification({ headers: { event: "queue-position" }, body: heard });
    if (client?.connected) subscribeRoom(client);
    else void connect();
  }

  // A chat the visitor already has, without creating anything (badge).
  async function resume(): Promise<void> {
    if (!(await token(false))) return;
    const { rooms } = await api<{ rooms: (Room & { kind: string })[] }>("GET", "/api/rooms");
    const open = rooms.find((r) => r.kind === "support" && (r.state === "unassigned" || r.state === "assigned"));
    if (open && !room) await attach(open);
  }

  async function begin(): Promise<void> {
    await token(true);
    await connect();
    const r = await api<Room>("POST", "/api/rooms", { kind: "support" });
    if (!room || room.id !== r.id) await attach(r);
  }

  function ensureStarted(): void {
    if (room && client) return;
    if (!starting)
      starting = begin().then(() => setOffline(false), (e: unknown) => {
        setOffline(true);
        console.warn("chatd widget:", e instanceof Error ? e.message : e);
      }).finally(() => { starting = null; });
  }

  async function newChat(): Promise<void> {
    const old = client;
    client = null;
    stopRetry();
    failures = 0;
    await old?.deactivate();
    roomSub = null;
    room = null;
    queueText = "";
    lastSeq = 0;
    theirRead = 0;
    shown.clear();
    pending.clear();
    list.replaceChildren();
    ensureStarted();
  }

  function open(): void {
    panel.hidden = false;
    $<HTMLButtonElement>(".bubble").setAttribute("aria-label", "Close support chat");
    ensureStarted();
    readUpTo();
    list.scrollTop = list.scrollHeight;
    input.focus();
  }

  function close(): void {
    panel.hidden = true;
    $<HTMLButtonElement>(".bubble").setAttribute("aria-label", "Open support chat");
  }

  $<HTMLButtonElement>(".bubble").addEventListener("click", () => (panel.hidden ? open() : close()));
  $<HTMLButtonElement>(".close").addEventListener("click", close);
  again.addEventListener("click", () => { void newChat(); });
  document.addEventListener("visibilitychange", readUpTo);
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const value = input.value.trim();
    if (!value || !room) return;
    input.value = "";
    const clientId = Math.random().toString(36).slice(2) + Date.now().toString(36);
    const li = document.createElement("li");
    li.className = "mine pending";
    li.textContent = value;
    metaOf(li).textContent = "Sending…";
    list.append(li);
    list.scrollTop = list.scrollHeight;
    const body = JSON.stringify({ text: value });
    pending.set(clientId, { li, body });
    publish(clientId, body);
  });
  input.addEventListener("input", () => {
    if (!room || !client?.connected || Date.now() - typingSent < 2000) return;
    typingSent = Date.now();
    client.publish({ destination: `/app/rooms/${room.id}/typing`, body: "{}",
                     headers: { "content-type": "application/json" } });
  });

  const mount = () => document.body.append(host);
  if (document.body) mount();
  else document.addEventListener("DOMContentLoaded", mount);
  (window as unknown as Record<string, unknown>).ChatdWidget = {
    open, close,
    get unread() { return unread; },
    get room() { return room?.id ?? null; },
    get user() { return me || null; },
  };
  resume().catch(() => { /* shown when the visitor opens the chat */ });
}

start();
