// STOMP MESSAGE frames of chatd's own destinations turned into typed events.
//
// Each channel's events are parsed through a table keyed by the event names
// of docs/events.schema.json (src/events.gen.ts, generated from it by
// scripts/gen-events.mjs at build time), and each parser reads the body
// through the schema's type of it: an event the schema adds, renames or
// reshapes stops the build until the client types and parses it, and the
// client types no event the schema does not have.
import type { IMessage } from "@stomp/stompjs";

import type {
  NotificationsBodies, NotificationsEventName, PresenceBodies, PresenceEventName, RoomNotesBodies, RoomNotesEventName,
  RoomTopicBodies, RoomTopicEventName, SchemaRoom, SchemaRoomId, SupportAgentsBodies, SupportAgentsEventName,
  SupportQueueBodies, SupportQueueEventName,
} from "./events.gen.js";
import type {
  AgentStatusEvent, Message, NotesEvent, Notification, NotificationMap, PresenceEvent, Room, RoomEvent, RoomEventMap, SupportDeskEvent,
  SupportTransferEvent,
} from "./types.js";

function json(frame: IMessage): any {
  try {
    return JSON.parse(frame.body);
  } catch {
    return {};
  }
}

/** A, when A and B are the same set of names; otherwise never, and a table keyed by it fails to compile. */
type Same<A extends string, B extends string> = [A] extends [B] ? ([B] extends [A] ? A : never) : never;

/** The parser for an event of a table, or undefined for a name it does not have. */
function parserOf<T extends object>(table: T, name: string | undefined): ((f: IMessage, b: any) => any) | undefined {
  return name !== undefined && Object.prototype.hasOwnProperty.call(table, name)
    ? (table as Record<string, (f: IMessage, b: any) => any>)[name]
    : undefined;
}

/** The `message` event's message, from its headers and body. */
export function frameMessage(frame: IMessage): Message {
  const h = frame.headers;
  const m: Message = {
    id: h["message-id"],
    room: h.room,
    seq: Number(h.seq),
    sender: h.sender ?? "",
    client_id: h["client-id"] ?? null,
    timestamp: Number(h.timestamp),
    body: frame.body,
  };
  if (m.sender === "") m.erased = true;
  if (h.rev) {
    m.rev = Number(h.rev);
    m.edited_at = Number(h["edited-at"]);
  }
  if (h.deleted === "true") m.deleted = true;
  if (h.kind === "system" || h.kind === "file" || h.kind === "note") m.kind = h.kind;
  if (h["reply-to"]) m.reply_to = Number(h["reply-to"]);
  return m;
}

// A compile error in one of these tables means the client and
// docs/events.schema.json disagree: an event name one has and the other
// has not (the table's key type is then never: every entry is an error),
// or a body member a parser reads that the schema no longer has.

/** Room topic events: every event name of the schema's room-topic channel, each with its RoomEventMap type. */
const roomEvents: {
  [K in Same<keyof RoomEventMap, RoomTopicEventName>]: (frame: IMessage, body: RoomTopicBodies[K]) => RoomEventMap[K];
} = {
  message(frame) {
    const h = frame.headers;
    const e: RoomEventMap["message"] = { type: "message", room: h.room, message: frameMessage(frame),
                                         replay: h.replay === "true" };
    if (h["trace-id"]) e.traceId = h["trace-id"];
    return e;
  },
  "message-edited": (frame) => messageChange("message-edited", frame),
  "message-deleted": (frame) => messageChange("message-deleted", frame),
  reaction: (f, b) => ({ type: "reaction", room: f.headers.room, seq: Number(b.seq), emoji: b.emoji, user: b.user,
                          action: b.action, reactions: Array.isArray(b.reactions) ? b.reactions : [] }),
  read: (f, b) => ({ type: "read", room: f.headers.room, user: b.user, seq: Number(b.seq) }),
  typing: (f, b) => ({ type: "typing", room: f.headers.room, user: b.user }),
  assigned: (f, b) => ({ type: "assigned", room: f.headers.room, agent: b.agent }),
  completed: (f, b) => ({ type: "completed", room: f.headers.room, agent: b.agent }),
  closed: (f, b) => ({ type: "closed", room: f.headers.room, by: b.by }),
  "member-joined": (f, b) => ({ type: "member-joined", room: f.headers.room, user: b.user, by: b.by }),
  "member-left"(f, b) {
    const e: RoomEventMap["member-left"] = { type: "member-left", room: f.headers.room, user: b.user ?? f.headers.user,
                                             subscriptionEnded: f.headers["subscription-ended"] === "true" };
    if ("by" in b && b.by !== undefined) e.by = b.by;
    if ("erased" in b && b.erased) e.erased = true;
    return e;
  },
  "role-changed": (f, b) => ({ type: "role-changed", room: f.headers.room, user: b.user, role: b.role, by: b.by }),
  renamed: (f, b) => ({ type: "renamed", room: f.headers.room, title: b.title, by: b.by }),
  deleted(f, b) {
    const e: RoomEventMap["deleted"] = { type: "deleted", room: f.headers.room,
                                         subscriptionEnded: f.headers["subscription-ended"] === "true" };
    if ("by" in b && b.by !== undefined) e.by = b.by;
    if ("erased" in b && b.erased) e.erased = true;
    return e;
  },
  transferred: (f, b) => ({ type: "transferred", room: f.headers.room, from: b.from, to: b.to ?? null, by: b.by,
                            subscriptionEnded: f.headers["subscription-ended"] === "true" }),
  reopened: (f, b) => ({ type: "reopened", room: f.headers.room, agent: b.agent ?? null, state: b.state }),
};

function messageChange(type: "message-edited" | "message-deleted", frame: IMessage): RoomEventMap["message-edited"] {
  const h = frame.headers;
  const message = frameMessage(frame);
  const e: RoomEventMap["message-edited"] = { type, room: h.room, message, rev: message.rev ?? 0,
                                              replay: h.replay === "true" };
  if (h.by) e.by = h.by;
  return e;
}

/** A room topic's event, or null for an event this client does not know. */
export function roomEvent(frame: IMessage): RoomEvent | null {
  const parse = parserOf(roomEvents, frame.headers.event);
  return parse ? parse(frame, json(frame)) : null;
}

/** A room in an event's body as the client's Room (every room the schema admits is one), or null for
 * a body with only the room's id. */
function roomOrNull(b: SchemaRoom | { room: SchemaRoomId }): Room | null {
  return b && "id" in b && typeof b.id === "string" && typeof b.kind === "string" ? b : null;
}

/** /user/queue/notifications: every event name of the schema's notifications channel, each with its NotificationMap type. */
const notifications: {
  [K in Same<keyof NotificationMap, NotificationsEventName>]:
    (frame: IMessage, body: NotificationsBodies[K]) => NotificationMap[K];
} = {
  message: (f, b) => ({ type: "message", room: b.room ?? f.headers.room, room_kind: b.room_kind, seq: Number(b.seq),
                        message_id: b.message_id, sender: b.sender, preview: b.preview }),
  assigned: (f, b) => ({ type: "assigned", roomId: f.headers.room, room: roomOrNull(b) }),
  closed: (f, b) => ({ type: "closed", roomId: f.headers.room, room: roomOrNull(b) }),
  "room-added": (f, b) => ({ type: "room-added", roomId: f.headers.room, room: roomOrNull(b) }),
  "queue-position"(f, b) {
    const n: NotificationMap["queue-position"] = { type: "queue-position", roomId: b.room ?? f.headers.room,
                                                   position: Number(b.position) };
    if (typeof b.estimated_wait_ms === "number") n.estimatedWaitMs = b.estimated_wait_ms;
    return n;
  },
  unread: (f, b) => ({ type: "unread", roomId: b.room ?? f.headers.room, readSeq: Number(b.read_seq),
                       unread: Number(b.unread) }),
  transferred(f, b) {
    const n: NotificationMap["transferred"] = { type: "transferred", roomId: f.headers.room, from: b.from,
                                                to: b.to ?? null, by: b.by };
    if (typeof b.note === "string") n.note = b.note;
    return n;
  },
};

/** A /user/queue/notifications event, or null for one this client does not know. */
export function notification(frame: IMessage): Notification | null {
  const parse = parserOf(notifications, frame.headers.event);
  return parse ? parse(frame, json(frame)) : null;
}

/** /topic/support/queue: every event name of the schema's support-queue channel, each a SupportDeskEvent. */
const supportQueue: {
  [K in Same<SupportDeskEvent["type"], SupportQueueEventName>]:
    (frame: IMessage, body: SupportQueueBodies[K]) => SupportDeskEvent & { type: K };
} = {
  opened: (_f, room) => ({ type: "opened", room }),
  claimed: (_f, room) => ({ type: "claimed", room }),
  closed: (_f, room) => ({ type: "closed", room }),
  reopened: (_f, room) => ({ type: "reopened", room }),
  rated: (_f, room) => ({ type: "rated", room }),
  "sla-breached": (f, b) => ({ type: "sla-breached", roomId: b.room ?? f.headers.room, customer: b.customer,
                               waitingSince: Number(b.waiting_since), targetMs: Number(b.target_ms) }),
  transferred(f, b) {
    const e: SupportTransferEvent = { type: "transferred", roomId: f.headers.room, from: b.from, to: b.to ?? null,
                                      by: b.by };
    if (typeof b.note === "string") e.note = b.note;
    return e;
  },
};

/** A /topic/support/queue event, or null. */
export function supportQueueEvent(frame: IMessage): SupportDeskEvent | null {
  const parse = parserOf(supportQueue, frame.headers.event);
  return parse ? parse(frame, json(frame)) : null;
}

/** /user/queue/presence: its one event, `presence`, as a PresenceEvent. */
const presence: { [K in Same<"presence", PresenceEventName>]: (frame: IMessage, body: PresenceBodies[K]) => PresenceEvent } = {
  presence: (_f, b) => ({ user: b.user, status: b.status, last_seen: b.last_seen }),
};

/** A /user/queue/presence event, or null. */
export function presenceEvent(frame: IMessage): PresenceEvent | null {
  const parse = parserOf(presence, frame.headers.event ?? "presence");
  return parse ? parse(frame, json(frame)) : null;
}

/** /topic/rooms/{room}/notes: every event name of the schema's room-notes channel, each a NotesEvent. */
const roomNotes: {
  [K in Same<NotesEvent["type"], RoomNotesEventName>]:
    (frame: IMessage, body: RoomNotesBodies[K]) => NotesEvent & { type: K };
} = {
  note: (frame) => ({ type: "note", note: frameMessage(frame) }),
  transferred: (f, b) => ({ type: "transferred", room: b.room ?? f.headers.room, from: b.from, to: b.to ?? null, by: b.by }),
};

/** A /topic/rooms/{room}/notes event, or null. A note's body is the note's text, not JSON. */
export function roomNotesEvent(frame: IMessage): NotesEvent | null {
  const parse = parserOf(roomNotes, frame.headers.event);
  return parse ? parse(frame, frame.headers.event === "note" ? frame.body : json(frame)) : null;
}

/** /topic/support/agents: its one event, `agent-status`, as an AgentStatusEvent. */
const supportAgents: {
  [K in Same<AgentStatusEvent["type"], SupportAgentsEventName>]:
    (frame: IMessage, body: SupportAgentsBodies[K]) => AgentStatusEvent;
} = {
  "agent-status": (_f, b) => ({ type: "agent-status", user: b.user, status: b.status }),
};

/** A /topic/support/agents event, or null. */
export function supportAgentsEvent(frame: IMessage): AgentStatusEvent | null {
  const parse = parserOf(supportAgents, frame.headers.event);
  return parse ? parse(frame, json(frame)) : null;
}
