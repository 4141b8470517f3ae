import { Client, type IFrame, type IMessage, type IStompSocket, type StompSubscription } from "@stomp/stompjs";

import { backoffDelay } from "./backoff.js";
import { ChatdClosedError, ChatdError } from "./errors.js";
import { notification, presenceEvent, supportAgentsEvent, supportQueueEvent } from "./events.js";
import { basicAuth, type FetchLike, RestApi } from "./rest.js";
import { ChatRoom, Rooms } from "./room.js";
import { resolveSocketFactory, type WebSocketConstructor } from "./socket.js";
import { SupportDesk } from "./support.js";
import { tokenExpiry } from "./token.js";
import type {
  AgentStatusEvent, Message, Notification, NotificationHandlers, PresenceEvent, SupportDeskEvent,
} from "./types.js";
import { RoomWatch, type WatchHost } from "./watch.js";

export interface ConnectOptions {
  /** The server's HTTP(S) base URL (`https://chat.example.com`); in a browser, the page's origin by default. */
  url?: string;
  /** The WebSocket URL; by default `url` with ws(s): and path `/ws`. */
  wsUrl?: string;
  /** A bearer token (a JWT for the jwt auth plugin). */
  token?: string;
  /** Returns a fresh token: called before the current one's `exp`, after a 401, and before reconnecting with an expired one. */
  getToken?: () => string | Promise<string>;
  /** login + passcode instead of a token (e.g. the static auth plugin's users). */
  login?: string;
  passcode?: string;
  /** The WebSocket constructor (the `ws` package in Node < 22); by default the platform's, else `ws` if installed. */
  WebSocket?: WebSocketConstructor;
  /** Full control over the sockets stompjs opens; wins over `WebSocket`. */
  webSocketFactory?: () => IStompSocket;
  fetch?: FetchLike;
  /** The first wait before reconnecting, ms (default 1000): doubled after each failed attempt up to
   * `maxReconnectDelay`, each wait drawn at random from its upper half (jitter); 0 turns reconnecting off. */
  reconnectDelay?: number;
  /** The longest wait between two connection attempts, ms (default 30000). */
  maxReconnectDelay?: number;
  /** STOMP heart-beat both ways, ms (default 10000; 0 = off). */
  heartbeat?: number;
  /** Refresh the token this long before its `exp`, ms (default 60000, at most half its remaining life). */
  refreshBeforeExpiry?: number;
  /** Give up a connection attempt after this long, ms (default 10000). */
  connectTimeout?: number;
  debug?: (msg: string) => void;
}

export interface ClientEvents {
  /** A STOMP session is up; `reconnected` after the first. */
  connect: { reconnected: boolean; session: string };
  /** The connection (or an attempt at one) is gone; the client tries again in `retryIn` ms unless closed
   * (null: it will not). */
  disconnect: { reason: string; retryIn: number | null };
  /** An ERROR frame from the server (the connection closes after it), or a failed token refresh. */
  error: ChatdError;
  /** The session's token was replaced before it ran out. */
  "token-refreshed": { expiresAt: number | null };
}

/** SEND frames that give up for good when the server refuses them; anything
 * else (storage down, rate limit, …) is sent again on the next connection. */
const FINAL_SEND_ERRORS = new Set([
  "no such room", "room is closed to new messages", "invalid message body", "invalid read body",
  "unknown destination", "destination not allowed", "destination is server-only", "body too large",
  "frame too large", "invalid reply-to", "invalid kind", "no such file",
]);

interface Outgoing {
  destination: string;
  body: string;
  headers: Record<string, string>;
  resolve: (seq: number | undefined) => void;
  reject: (e: Error) => void;
  receipt: string | null;
}

interface UserSub {
  destination: string;
  onFrame: (m: IMessage) => void;
  sub: StompSubscription | null;
  /** The SUBSCRIBE's headers, asked anew for every (re)subscription. */
  headers: () => Record<string, string>;
  /** Each time the subscription is in place (its RECEIPT). */
  onLive: () => void;
  /** In place on this connection. */
  live?: boolean;
}

/** A subscription kept across reconnects: `ready` resolves once the first one is in place. */
export interface Listening {
  (): void;
  stop(): void;
  ready: Promise<void>;
}

export interface ListenOptions {
  /** SUBSCRIBE headers, or a function that gives them anew for every (re)subscription (a `since-seq`). */
  headers?: Record<string, string> | (() => Record<string, string>);
  /** Each time the subscription is in place (its RECEIPT): on the first connection and after every reconnect. */
  onLive?: () => void;
}

type Listener<K extends keyof ClientEvents> = (e: ClientEvents[K]) => void;

export class ChatClient implements WatchHost {
  /** The REST API (every request authorised like the STOMP session). */
  readonly rest: RestApi;
  readonly rooms: Rooms;
  /** The support desk: agents, canned replies, the supervisors' overview. */
  readonly support: SupportDesk;
  /** The underlying @stomp/stompjs client, for what this one does not wrap. */
  readonly stomp: Client;
  /** The authenticated user (CONNECTED's `user-name`). */
  user = "";
  /** The server's id of the current session. */
  session = "";

  private token: string | null;
  private tokenPending: Promise<string> | null = null;
  private readonly opts: ConnectOptions;
  private readonly watches = new Set<RoomWatch>();
  private readonly userSubs = new Set<UserSub>();
  private readonly outbox: Outgoing[] = [];
  private readonly listeners = new Map<keyof ClientEvents, Set<(e: any) => void>>();
  private readonly errorReceipts = new Map<string, (e: ChatdError) => void>();
  private refreshTimer: ReturnType<typeof setTimeout> | null = null;
  private receipts = 0;
  private connects = 0;
  private closed = false;
  /** Connection attempts that failed (or sessions that ended) since the last CONNECTED. */
  private failures = 0;
  private retryWait: { timer: ReturnType<typeof setTimeout>; done: () => void } | null = null;
  private nextRetry = 0;
  private notificationHandlers = new Set<NotificationHandlers>();
  private notificationSub: UserSub | null = null;
  private queueHandlers = new Set<(e: SupportDeskEvent) => void>();
  private queueSub: UserSub | null = null;

  /** Use connect(). */
  constructor(opts: ConnectOptions, base: string, socketFactory: () => IStompSocket) {
    this.opts = opts;
    this.token = opts.token ?? null;
    const fetchFn: FetchLike = opts.fetch ?? ((input, init) => (globalThis as any).fetch(input, init));
    this.rest = new RestApi(base, {
      header: async () => {
        if (opts.login !== undefined && this.token === null && !opts.getToken)
          return basicAuth(opts.login, opts.passcode ?? "");
        return "Bearer " + (await this.currentToken());
      },
      renew: async () => {
        if (!opts.getToken) return false;
        await this.freshToken();
        return true;
      },
    }, fetchFn);
    this.rooms = new Rooms(this);
    this.support = new SupportDesk(this);
    const hb = opts.heartbeat ?? 10000;
    this.stomp = new Client({
      webSocketFactory: socketFactory,
      // stompjs reconnects at once; beforeConnect below waits the back-off first.
      reconnectDelay: (opts.reconnectDelay ?? 1000) > 0 ? 1 : 0,
      heartbeatIncoming: hb,
      heartbeatOutgoing: hb,
      connectionTimeout: opts.connectTimeout ?? 10000,
      debug: opts.debug ?? (() => {}),
    });
    this.stomp.beforeConnect = async () => {
      if (this.failures > 0) await this.backOff();
      this.stomp.connectHeaders = await this.connectHeaders();
    };
    this.stomp.onConnect = (f) => this.onConnected(f);
    this.stomp.onWebSocketClose = (ev: any) => this.onClosed(ev && ev.reason ? String(ev.reason) : "closed");
    this.stomp.onStompError = (f) => this.onStompError(f);
  }

  /** Whether a STOMP session is up now. */
  get connected(): boolean {
    return this.stomp.connected;
  }

  on<K extends keyof ClientEvents>(event: K, cb: Listener<K>): () => void {
    let set = this.listeners.get(event);
    if (!set) this.listeners.set(event, (set = new Set()));
    set.add(cb);
    return () => set.delete(cb);
  }

  /** A handle on a room by id (no request is made). */
  room(id: string): ChatRoom {
    return new ChatRoom(this, id);
  }

  /**
   * Any destination's MESSAGE frames (a `/topic/…` the server's `[stomp] allow`
   * admits, a room's notes, /user/queue/presence), subscribed again after
   * every reconnect. Returns a function that stops it, with `ready`: resolves
   * once the first SUBSCRIBE is in place.
   */
  listen(destination: string, onMessage: (m: IMessage) => void, opts: ListenOptions = {}): Listening {
    const h = opts.headers;
    const u = this.userSubscribe(destination, onMessage, typeof h === "function" ? h : () => ({ ...(h ?? {}) }),
                                 opts.onLive);
    return this.stopper(() => this.userUnsubscribe(u), u);
  }

  /** SEND to any destination, without a receipt: dropped while offline. */
  publish(destination: string, body = "", headers: Record<string, string> = {}): void {
    this.sendEphemeral(destination, body, headers);
  }

  /** Say whether the user is away (docs/protocol.md, "Presence"); dropped while offline. */
  setPresence(status: "online" | "away"): void {
    this.sendEphemeral("/app/presence", "", { status });
  }

  /** Presence changes of the people the user shares a room with (/user/queue/presence). */
  onPresence(cb: (p: PresenceEvent) => void): Listening {
    return this.listen("/user/queue/presence", (m) => {
      const p = presenceEvent(m);
      if (p && typeof p.user === "string") cb(p);
    });
  }

  /** The presence of the named users who share a room with the caller, and the caller's (at most 100). */
  async presence(users: string[]): Promise<PresenceEvent[]> {
    const r = await this.rest.request<{ presence: PresenceEvent[] }>(
      "GET", "/api/presence?users=" + users.map(encodeURIComponent).join(","));
    return r.presence;
  }

  /** Messages of every room the caller may read that hold `q` anywhere in their text, newest first; pass
   * `next_cursor` back as `cursor` for the next page (null: the last). */
  search(q: string, opts: { cursor?: string; limit?: number } = {}): Promise<{ messages: Message[]; next_cursor: string | null }> {
    const p = new URLSearchParams({ q });
    if (opts.cursor) p.set("cursor", opts.cursor);
    if (opts.limit !== undefined) p.set("limit", String(opts.limit));
    return this.rest.request("GET", "/api/search?" + p.toString());
  }

  /** Agents, supervisors: an agent's status changed (/topic/support/agents), as an AgentStatusEvent
   * (an event this client does not know is left out). */
  onAgents(cb: (event: AgentStatusEvent) => void): Listening {
    return this.listen("/topic/support/agents", (frame) => {
      const e = supportAgentsEvent(frame);
      if (e) cb(e);
    });
  }

  /** Personal events on /user/queue/notifications; returns a function that stops them, with `ready`
   * (resolves once the subscription is in place: nothing sent to the user after that is missed). */
  onNotification(handlers: NotificationHandlers): Listening {
    this.notificationHandlers.add(handlers);
    if (!this.notificationSub) {
      this.notificationSub = this.userSubscribe("/user/queue/notifications", (m) => {
        const n = notification(m);
        if (!n) return;
        for (const h of [...this.notificationHandlers]) {
          (h[n.type] as ((x: Notification) => void) | undefined)?.(n);
          h.notification?.(n);
        }
      });
    }
    return this.stopper(() => {
      this.notificationHandlers.delete(handlers);
      if (!this.notificationHandlers.size && this.notificationSub) {
        this.userUnsubscribe(this.notificationSub);
        this.notificationSub = null;
      }
    }, this.notificationSub);
  }

  /** Agents and supervisors: changes of the unassigned support queue, rooms handed on, ratings and
   * first-response targets missed; returns a function that stops them, with `ready`. */
  onSupportQueue(cb: (e: SupportDeskEvent) => void): Listening {
    this.queueHandlers.add(cb);
    if (!this.queueSub) {
      this.queueSub = this.userSubscribe("/topic/support/queue", (m) => {
        const e = supportQueueEvent(m);
        if (e) for (const h of [...this.queueHandlers]) h(e);
      });
    }
    return this.stopper(() => {
      this.queueHandlers.delete(cb);
      if (!this.queueHandlers.size && this.queueSub) {
        this.userUnsubscribe(this.queueSub);
        this.queueSub = null;
      }
    }, this.queueSub);
  }

  /** Close the connection for good: sends still waiting for their RECEIPT are rejected. */
  async close(): Promise<void> {
    this.closed = true;
    this.clearRefresh();
    if (this.retryWait) {
      clearTimeout(this.retryWait.timer);
      this.retryWait.done();
    }
    for (const w of [...this.watches]) w.stop();
    const pending = this.outbox.splice(0);
    for (const o of pending) o.reject(new ChatdClosedError());
    await this.stomp.deactivate();
    // stompjs 7 leaves the timer of a connection attempt that never got
    // CONNECTED running (it would keep Node alive for connectTimeout).
    const attempt = (this.stomp as any)._connectionWatcher;
    if (attempt) clearTimeout(attempt);
  }

  // --- internal: used by ChatRoom -----------------------------------------

  /** SEND with a receipt, retried on every new connection until the server
   * confirms it (the caller's headers make a retry harmless: `client-id`).
   * Resolves with the RECEIPT's `seq` (a room message's), if it has one. */
  sendReliably(destination: string, body: string, headers: Record<string, string>): Promise<number | undefined> {
    if (this.closed) return Promise.reject(new ChatdClosedError());
    return new Promise((resolve, reject) => {
      const o: Outgoing = { destination, body, headers, resolve, reject, receipt: null };
      this.outbox.push(o);
      if (this.connected) this.transmit(o);
    });
  }

  /** SEND without a receipt, dropped when offline (typing). */
  sendEphemeral(destination: string, body: string, headers: Record<string, string> = {}): void {
    if (!this.connected) return;
    try {
      this.stomp.publish({ destination, body, headers });
    } catch {
      /* the connection went meanwhile */
    }
  }

  /** How many sends wait for their RECEIPT (sent or not yet). */
  get pendingSends(): number {
    return this.outbox.length;
  }

  watch(roomId: string, sinceSeq: number, handlers: import("./types.js").RoomHandlers,
        onError?: (e: ChatdError) => void, sinceRev?: number): RoomWatch {
    const w = new RoomWatch(this, roomId, sinceSeq, handlers, onError, sinceRev);
    this.watches.add(w);
    w.subscribe();
    return w;
  }

  subscribe(destination: string, onFrame: (m: IMessage) => void, headers: Record<string, string>,
            onReceipt: () => void, onError: (e: ChatdError) => void): StompSubscription | null {
    const receipt = this.nextReceipt("sub");
    try {
      this.stomp.watchForReceipt(receipt, () => {
        this.errorReceipts.delete(receipt);
        onReceipt();
      });
      this.errorReceipts.set(receipt, onError);
      return this.stomp.subscribe(destination, onFrame, { ...headers, receipt });
    } catch {
      this.errorReceipts.delete(receipt);
      return null; // not connected after all: subscribed again on connect
    }
  }

  forget(w: RoomWatch): void {
    this.watches.delete(w);
  }

  // --- internal --------------------------------------------------------------

  private emit<K extends keyof ClientEvents>(event: K, e: ClientEvents[K]): void {
    const set = this.listeners.get(event);
    if (set) for (const cb of [...set]) cb(e);
  }

  private nextReceipt(kind: string): string {
    return `${kind}-${this.connects}-${++this.receipts}`;
  }

  private transmit(o: Outgoing): void {
    const receipt = this.nextReceipt("send");
    o.receipt = receipt;
    try {
      this.stomp.watchForReceipt(receipt, (frame) => {
        this.errorReceipts.delete(receipt);
        const i = this.outbox.indexOf(o);
        if (i >= 0) this.outbox.splice(i, 1);
        const seq = Number(frame.headers.seq);
        o.resolve(seq > 0 ? seq : undefined);
      });
      this.errorReceipts.set(receipt, (e) => {
        if (!FINAL_SEND_ERRORS.has(e.code)) return; // sent again after reconnecting
        const i = this.outbox.indexOf(o);
        if (i >= 0) this.outbox.splice(i, 1);
        o.reject(e);
      });
      this.stomp.publish({ destination: o.destination, body: o.body, headers: { ...o.headers, receipt } });
    } catch {
      this.errorReceipts.delete(receipt);
      o.receipt = null; // sent on the next connection
    }
  }

  private userSubscribe(destination: string, onFrame: (m: IMessage) => void,
                        headers: () => Record<string, string> = () => ({}), onLive: () => void = () => {}): UserSub {
    const u: UserSub = { destination, onFrame, sub: null, headers, onLive };
    this.userSubs.add(u);
    if (this.connected) this.resubscribe(u);
    return u;
  }

  private resubscribe(u: UserSub): void {
    u.sub = this.subscribe(u.destination, u.onFrame, u.headers(), () => u.onLive(), (e) => this.emit("error", e));
  }

  /** A stop function with `ready`: resolves at the first RECEIPT of `u`'s subscription after now (or of a
   * subscription already in place). */
  private stopper(stop: () => void, u: UserSub | null): Listening {
    let resolve!: () => void;
    const ready = new Promise<void>((r) => (resolve = r));
    if (u) {
      if (u.sub && u.live) resolve();
      const before = u.onLive;
      u.onLive = () => {
        u.live = true;
        before();
        resolve();
      };
    }
    const f = (() => stop()) as Listening;
    f.stop = stop;
    f.ready = ready;
    return f;
  }

  private userUnsubscribe(u: UserSub): void {
    this.userSubs.delete(u);
    if (u.sub && this.connected) {
      try {
        u.sub.unsubscribe();
      } catch {
        /* gone meanwhile */
      }
    }
  }

  private async connectHeaders(): Promise<Record<string, string>> {
    if (this.token !== null || this.opts.getToken) {
      const token = await this.currentToken().catch(() => this.token ?? "");
      return { Authorization: "Bearer " + token };
    }
    return { login: this.opts.login ?? "", passcode: this.opts.passcode ?? "" };
  }

  /** The token, fetched anew first when there is none or it runs out within the refresh margin. */
  private async currentToken(): Promise<string> {
    if (this.token !== null) {
      const exp = tokenExpiry(this.token);
      if (!this.opts.getToken || exp === null || exp - Date.now() > 1000) return this.token;
    }
    if (!this.opts.getToken) throw new Error("no token and no getToken()");
    return this.freshToken();
  }

  /** getToken(), one call at a time. */
  private freshToken(): Promise<string> {
    if (!this.tokenPending) {
      const get = this.opts.getToken;
      if (!get) return Promise.reject(new Error("no getToken()"));
      this.tokenPending = Promise.resolve()
        .then(() => get())
        .then((t) => {
          this.token = t;
          return t;
        })
        .finally(() => {
          this.tokenPending = null;
        });
    }
    return this.tokenPending;
  }

  /** The wait before the next attempt: `nextRetry`, set when the last one ended. */
  private backOff(): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        this.retryWait = null;
        resolve();
      };
      this.retryWait = { timer: setTimeout(done, this.nextRetry), done };
    });
  }

  private onConnected(f: IFrame): void {
    this.failures = 0;
    const reconnected = this.connects > 0;
    this.connects++;
    this.user = f.headers["user-name"] ?? this.user;
    this.session = f.headers.session ?? "";
    this.errorReceipts.clear();
    // Subscriptions first, so that the watches see the messages replayed below.
    for (const w of [...this.watches]) w.subscribe();
    for (const u of this.userSubs) this.resubscribe(u);
    for (const o of [...this.outbox]) this.transmit(o);
    this.scheduleRefresh();
    this.emit("connect", { reconnected, session: this.session });
  }

  private onClosed(reason: string): void {
    this.clearRefresh();
    for (const w of this.watches) w.dropped();
    for (const u of this.userSubs) {
      u.sub = null;
      u.live = false;
    }
    for (const o of this.outbox) o.receipt = null;
    const base = this.opts.reconnectDelay ?? 1000;
    let retryIn: number | null = null;
    if (!this.closed && base > 0) {
      this.failures++;
      retryIn = this.nextRetry = backoffDelay(this.failures, base, this.opts.maxReconnectDelay ?? 30000);
    }
    this.emit("disconnect", { reason, retryIn });
  }

  private onStompError(f: IFrame): void {
    const code = f.headers.message ?? "error";
    const e = new ChatdError(f.body ? `${code}: ${f.body}` : code, 0, code, f.body ?? "");
    const rid = f.headers["receipt-id"];
    const cb = rid ? this.errorReceipts.get(rid) : undefined;
    if (rid) this.errorReceipts.delete(rid);
    cb?.(e);
    this.emit("error", e);
  }

  private clearRefresh(): void {
    if (this.refreshTimer) clearTimeout(this.refreshTimer);
    this.refreshTimer = null;
  }

  /** Before the token's exp, a new one goes to /app/session/refresh: the
   * session lives on without reconnecting (docs/protocol.md, "Long-lived sessions"). */
  private scheduleRefresh(): void {
    this.clearRefresh();
    if (!this.opts.getToken || this.token === null || this.closed) return;
    const exp = tokenExpiry(this.token);
    if (exp === null) return;
    const left = exp - Date.now();
    const margin = Math.min(this.opts.refreshBeforeExpiry ?? 60000, left / 2);
    this.refreshTimer = setTimeout(() => void this.refresh(), Math.max(0, left - margin));
  }

  private async refresh(): Promise<void> {
    this.refreshTimer = null;
    let token: string;
    try {
      token = await this.freshToken();
    } catch (err) {
      this.emit("error", new ChatdError("getToken() failed: " + String(err), 0, "token refresh failed"));
      return; // the session ends at exp; reconnecting asks getToken() again
    }
    if (!this.connected || this.closed) return;
    const receipt = this.nextReceipt("refresh");
    try {
      this.stomp.watchForReceipt(receipt, () => {
        this.errorReceipts.delete(receipt);
        this.emit("token-refreshed", { expiresAt: tokenExpiry(token) });
        this.scheduleRefresh();
      });
      this.errorReceipts.set(receipt, () => {}); // reported as `error`; the connection closes and comes back
      this.stomp.publish({ destination: "/app/session/refresh", body: token, headers: { receipt } });
    } catch {
      /* gone meanwhile: the next CONNECT carries the new token */
    }
  }
}

/** Connect to chatd: resolves once the first STOMP session is up, trying
 * again every `reconnectDelay` while the server cannot be reached (with
 * `reconnectDelay: 0`, rejects when the first attempt fails); rejects when
 * the server refuses the credentials. The client then reconnects by itself
 * until close(). */
export async function connect(opts: ConnectOptions): Promise<ChatClient> {
  if (opts.token === undefined && !opts.getToken && opts.login === undefined)
    throw new Error("connect() needs token, getToken or login/passcode");
  const loc = (globalThis as any).location;
  const base = (opts.url ?? (loc ? loc.origin : "")).replace(/\/+$/, "");
  if (!base && !opts.wsUrl && !opts.webSocketFactory) throw new Error("connect() needs url");
  const wsUrl = opts.wsUrl ?? base.replace(/^http/, "ws") + "/ws";
  const factory = await resolveSocketFactory(wsUrl, opts.webSocketFactory, opts.WebSocket);
  const client = new ChatClient(opts, base, factory);
  await new Promise<void>((resolve, reject) => {
    const done = () => {
      offC();
      offE();
      offD();
    };
    const fail = (e: Error) => {
      done();
      void client.close();
      reject(e);
    };
    const offC = client.on("connect", () => {
      done();
      resolve();
    });
    const offE = client.on("error", fail);
    // Without reconnecting, a first socket that closes before CONNECTED is the end.
    const offD = client.on("disconnect", ({ reason }) => {
      if (opts.reconnectDelay === 0) fail(new ChatdError("connection failed: " + reason, 0, "connection failed"));
    });
    client.stomp.activate();
  });
  return client;
}
