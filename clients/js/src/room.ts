import type { ChatClient, Listening } from "./client.js";
import { roomNotesEvent } from "./events.js";
import { newClientId } from "./ids.js";
import type { ChatdError } from "./errors.js";
import type { GroupRole, Message, MessagesPage, NotesEvent, Reaction, Room, RoomHandlers, RoomScope } from "./types.js";
import type { RoomWatch } from "./watch.js";

const enc = encodeURIComponent;

export interface SendOptions {
  /** Makes retries idempotent: the server stores one message per sender, room and client-id. Generated when absent. */
  clientId?: string;
  /** Make it a reply to the room's message with this seq (docs/protocol.md: `reply-to`). */
  replyTo?: number;
}

export interface SendResult {
  /** The message's client-id: its live `message` event and REST history carry it as `client_id`. */
  clientId: string;
  /** Where the message is stored (the RECEIPT's `seq`): its live event and history carry the same. */
  seq: number;
}

export interface WatchOptions {
  /** Deliver the messages after this seq first (0: the whole history). By default the room's
   * newest seq when the watch starts: only what comes next. */
  sinceSeq?: number;
  /** Deliver the edits and deletes after this revision of the messages up to `sinceSeq` too
   * (the highest `rev` the caller has seen). By default none: only changes from now on. */
  sinceRev?: number;
  /** The watch could not (re)subscribe (`no such room`: the user is not a member). */
  onError?: (e: ChatdError) => void;
}

export interface PageOptions {
  /** Messages per request, 1–100 (default 20). */
  limit?: number;
  /** Start below this seq (default: from the newest). */
  before?: number;
}

/** A room: its REST calls, its messages, its live events. */
export class ChatRoom {
  /** The room as last fetched (null for a handle made from an id alone). */
  info: Room | null;

  constructor(private readonly client: ChatClient, readonly id: string, info: Room | null = null) {
    this.info = info;
  }

  private get path(): string {
    return "/api/rooms/" + enc(this.id);
  }

  /** GET the room (and keep it in `info`). */
  async get(): Promise<Room> {
    this.info = await this.client.rest.request<Room>("GET", this.path);
    return this.info;
  }

  /** Every message, newest first, paged through GET …/messages as the loop asks for more. */
  async *messages(opts: PageOptions = {}): AsyncGenerator<Message, void, undefined> {
    let before = opts.before;
    for (;;) {
      const page = await this.page({ before, limit: opts.limit });
      for (const m of page.messages) yield m;
      if (page.next_before === undefined || page.next_before === null || !page.messages.length) return;
      before = page.next_before;
    }
  }

  /** One page: newest first (`before`), or oldest first after a seq (`after`, catch-up). */
  page(opts: { before?: number; after?: number; limit?: number } = {}): Promise<MessagesPage> {
    const q = new URLSearchParams();
    if (opts.before !== undefined) q.set("before", String(opts.before));
    if (opts.after !== undefined) q.set("after", String(opts.after));
    if (opts.limit !== undefined) q.set("limit", String(opts.limit));
    const qs = q.toString();
    return this.client.rest.request<MessagesPage>("GET", this.path + "/messages" + (qs ? "?" + qs : ""));
  }

  /**
   * Post a message: a string is sent as text/plain, an object (with a string `text`) as JSON.
   * Resolves when the server's RECEIPT says it is stored. Offline, or when the
   * connection drops before the RECEIPT, it is sent again on the next connection
   * with the same client-id, so it is stored once.
   */
  async send(body: string | { text: string; [k: string]: unknown }, opts: SendOptions = {}): Promise<SendResult> {
    const clientId = opts.clientId ?? newClientId();
    const json = typeof body !== "string";
    const headers: Record<string, string> = {
      "client-id": clientId,
      "content-type": json ? "application/json" : "text/plain",
    };
    if (opts.replyTo !== undefined) headers["reply-to"] = String(opts.replyTo);
    const seq = await this.client.sendReliably("/app/rooms/" + this.id + "/send", json ? JSON.stringify(body) : body,
                                               headers);
    return { clientId, seq: seq ?? 0 };
  }

  /**
   * Attach a file (docs/files.md): its bytes go up (POST …/files), then a `file` message naming the
   * upload, with `caption` as its text (the file's name by default). Resolves once the message is
   * stored; rejects with the server's refusal (too large, a type not allowed, the quota).
   */
  async sendFile(file: Blob, opts: { name?: string; caption?: string; clientId?: string } = {}): Promise<SendResult> {
    const name = opts.name ?? (file as { name?: string }).name ?? "file";
    const up = await this.client.rest.upload<{ id: string }>(this.path + "/files?name=" + enc(name), file,
                                                               file.type || "application/octet-stream");
    const clientId = opts.clientId ?? newClientId();
    const body: { file: string; text?: string } = { file: up.id };
    if (opts.caption !== undefined) body.text = opts.caption;
    const seq = await this.client.sendReliably("/app/rooms/" + this.id + "/send", JSON.stringify(body), {
      "client-id": clientId, kind: "file", "content-type": "application/json",
    });
    return { clientId, seq: seq ?? 0 };
  }

  /**
   * Edit message `seq` (the caller's own, within the server's edit window): a string as
   * text/plain, an object (with a string `text`) as JSON. Resolves with the message as it now is.
   */
  editMessage(seq: number, body: string | { text: string; [k: string]: unknown }): Promise<Message> {
    const json = typeof body !== "string";
    return this.client.rest.request<Message>("PATCH", this.path + "/messages/" + seq, {
      body: json ? JSON.stringify(body) : body,
      content_type: json ? "application/json" : "text/plain",
    });
  }

  /** Delete message `seq` (one's own within the edit window; a group's owner or admin, or a
   * support room's agent, any): resolves with the tombstone. */
  deleteMessage(seq: number): Promise<Message> {
    return this.client.rest.request<Message>("DELETE", this.path + "/messages/" + seq);
  }

  /** React to message `seq` with `emoji` (docs/protocol.md, "Reactions"): resolves with the message's
   * reactions once stored (`me` for the caller); adding one held already changes nothing. */
  async react(seq: number, emoji: string): Promise<Reaction[]> {
    const r = await this.client.rest.request<{ reactions: Reaction[] }>(
      "PUT", this.path + "/messages/" + seq + "/reactions/" + encodeURIComponent(emoji));
    return r.reactions;
  }

  /** Take the caller's reaction `emoji` to message `seq` back: resolves with the message's reactions. */
  async unreact(seq: number, emoji: string): Promise<Reaction[]> {
    const r = await this.client.rest.request<{ reactions: Reaction[] }>(
      "DELETE", this.path + "/messages/" + seq + "/reactions/" + encodeURIComponent(emoji));
    return r.reactions;
  }

  /** Messages of this room that hold `q` anywhere in their text, newest first (docs/rest-api.md,
   * "Search"); pass `next_cursor` back as `cursor` for the next page (null: the last). */
  search(q: string, opts: { cursor?: string; limit?: number } = {}): Promise<{ messages: Message[]; next_cursor: string | null }> {
    const p = new URLSearchParams({ q });
    if (opts.cursor) p.set("cursor", opts.cursor);
    if (opts.limit !== undefined) p.set("limit", String(opts.limit));
    return this.client.rest.request("GET", this.path + "/search?" + p.toString());
  }

  /** Move the caller's read mark up to seq (never down); resolves on the RECEIPT, retried like send(). */
  async read(seq: number): Promise<void> {
    await this.client.sendReliably("/app/rooms/" + this.id + "/read", JSON.stringify({ seq }), {
      "content-type": "application/json",
    });
  }

  /** A typing signal to the room (not stored; dropped while offline). */
  typing(): void {
    this.client.sendEphemeral("/app/rooms/" + this.id + "/typing", "");
  }

  /**
   * Live events of the room, kept across reconnects with since-seq: every
   * message is delivered once, none is missed. Resolves when the first
   * subscription is live (after the catch-up from `sinceSeq`).
   */
  async watch(handlers: RoomHandlers, opts: WatchOptions = {}): Promise<RoomWatch> {
    let since = opts.sinceSeq;
    if (since === undefined) since = (await this.get()).last_seq;
    const w = this.client.watch(this.id, since, handlers, opts.onError, opts.sinceRev);
    if (this.client.connected) await w.ready;
    return w;
  }

  /** A support room's internal notes (agents and supervisors): newest first (`before`), or oldest first
   * after a seq (`after`); a note is a message of kind `note`, its seq counting the room's notes. */
  notes(opts: { before?: number; after?: number; limit?: number } = {}): Promise<{ notes: Message[]; next_before?: number }> {
    const q = new URLSearchParams();
    if (opts.before !== undefined) q.set("before", String(opts.before));
    if (opts.after !== undefined) q.set("after", String(opts.after));
    if (opts.limit !== undefined) q.set("limit", String(opts.limit));
    const qs = q.toString();
    return this.client.rest.request("GET", this.path + "/notes" + (qs ? "?" + qs : ""));
  }

  /** Write an internal note (the customer never sees it): resolves with it once stored; `clientId`
   * makes a retry store it once. */
  addNote(body: string, opts: { clientId?: string } = {}): Promise<Message> {
    return this.client.rest.request<Message>("POST", this.path + "/notes",
                                             { body, client_id: opts.clientId ?? newClientId() });
  }

  /**
   * The room's new notes live, each once, kept across reconnects: every SUBSCRIBE asks for the notes
   * after the newest delivered (`since-seq`), from `sinceSeq` on (default 0: every note first).
   * `onTransferred` hears the room handed on (the channel's `transferred` event).
   * Returns a function that stops it, with `ready`.
   */
  watchNotes(onNote: (note: Message) => void,
             opts: { sinceSeq?: number; onTransferred?: (e: NotesEvent & { type: "transferred" }) => void } = {}): Listening {
    const seen = new Set<number>();
    let last = opts.sinceSeq ?? 0;
    return this.client.listen("/topic/rooms/" + this.id + "/notes", (frame) => {
      const e = roomNotesEvent(frame);
      if (e?.type === "transferred") opts.onTransferred?.(e);
      if (e?.type !== "note") return;
      const note = e.note;
      if (note.seq <= (opts.sinceSeq ?? 0) || seen.has(note.seq)) return;
      seen.add(note.seq);
      while (seen.has(last + 1)) last++;
      onNote(note);
    }, { headers: () => ({ "since-seq": String(last) }) });
  }

  /** The customer rates their completed or closed support room, once (1 to 5, a comment optional):
   * resolves with the room and its `rating`. */
  async rate(score: number, comment?: string): Promise<Room & { rating?: { score: number; comment?: string } }> {
    const body: { rating: number; comment?: string } = { rating: score };
    if (comment) body.comment = comment;
    this.info = await this.client.rest.request<Room>("POST", this.path + "/rating", body);
    return this.info;
  }

  /** A support room's transcript as UTF-8 text, one line per message (its customer, agents, admins). */
  transcript(): Promise<Blob> {
    return this.client.rest.blob(this.path + "/transcript?format=text");
  }

  /** Agents: take an unassigned support room (409 when another agent was first). */
  async claim(): Promise<Room> {
    this.info = await this.client.rest.request<Room>("POST", this.path + "/claim");
    return this.info;
  }

  /**
   * The room's agent (or an admin) hands the support room to another agent
   * who is online, or (to null) back to the unassigned queue; the note
   * reaches agents only. The customer reads a system message in the room.
   */
  async transfer(to: string | null, note?: string): Promise<Room> {
    const body: { to: string | null; note?: string } = { to };
    if (note !== undefined) body.note = note;
    this.info = await this.client.rest.request<Room>("POST", this.path + "/transfer", body);
    return this.info;
  }

  /** The assigned agent finishes the support room. */
  complete(): Promise<unknown> {
    return this.client.rest.request("POST", this.path + "/complete");
  }

  /** The support room's customer closes it (a transcript stays); a group member leaves the group. */
  leave(): Promise<{ room: string; result?: string; removed?: string; history?: string }> {
    return this.client.rest.request("DELETE", this.path);
  }

  /** Same as leave(): a support room's customer closes it. */
  close(): Promise<{ room: string; result?: string; history?: string }> {
    return this.leave();
  }

  /** The group's owner or an admin deletes it for everyone. */
  deleteForEveryone(): Promise<{ room: string; result: string }> {
    return this.client.rest.request("DELETE", this.path + "?for=everyone");
  }

  /** The group's owner or an admin renames it. */
  async rename(title: string): Promise<Room> {
    this.info = await this.client.rest.request<Room>("PATCH", this.path, { title });
    return this.info;
  }

  addMember(user: string): Promise<{ room: string; added: string }> {
    return this.client.rest.request("POST", this.path + "/members", { user });
  }

  removeMember(user: string): Promise<{ room: string; removed: string }> {
    return this.client.rest.request("DELETE", this.path + "/members/" + enc(user));
  }

  async setRole(user: string, role: GroupRole): Promise<Room> {
    this.info = await this.client.rest.request<Room>("PUT", this.path + "/members/" + enc(user) + "/role", { role });
    return this.info;
  }

  /** Read mark over REST (same effect as read()). */
  markRead(seq: number): Promise<unknown> {
    return this.client.rest.request("POST", this.path + "/read", { seq });
  }
}

/** Opening, listing and fetching rooms. */
export class Rooms {
  constructor(private readonly client: ChatClient) {}

  private wrap(r: Room): ChatRoom {
    return new ChatRoom(this.client, r.id, r);
  }

  /** The caller's open support room, created when there is none; `topic`
   * (1 to 32 of a-z, 0-9, -, _) routes a new one to the agents with that
   * skill. The open one is returned as it was opened. */
  async openSupport(topic?: string): Promise<ChatRoom> {
    const body = topic === undefined ? { kind: "support" } : { kind: "support", topic };
    return this.wrap(await this.client.rest.request<Room>("POST", "/api/rooms", body));
  }

  /** The 1:1 room with `user`, created once. */
  async openDirect(user: string): Promise<ChatRoom> {
    return this.wrap(await this.client.rest.request<Room>("POST", "/api/rooms", { kind: "direct", with: user }));
  }

  /** A new group room; the caller is its owner. */
  async createGroup(title: string, members: string[] = []): Promise<ChatRoom> {
    return this.wrap(await this.client.rest.request<Room>("POST", "/api/rooms", { kind: "group", title, members }));
  }

  /** The caller's rooms (`mine`), or agents' `unassigned` / `assigned` support rooms. */
  async list(scope: RoomScope = "mine"): Promise<ChatRoom[]> {
    const res = await this.client.rest.request<{ rooms: Room[] }>("GET", "/api/rooms?scope=" + scope);
    return res.rooms.map((r) => this.wrap(r));
  }

  async get(id: string): Promise<ChatRoom> {
    const r = new ChatRoom(this.client, id);
    await r.get();
    return r;
  }
}
