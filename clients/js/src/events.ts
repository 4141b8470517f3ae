// STOMP MESSAGE frames of chatd's own destinations turned into typed events.
import type { IMessage } from "@stomp/stompjs";

import type { Message, Notification, Room, RoomEvent, SupportDeskEvent, SupportTransferEvent } from "./types.js";

function json(frame: IMessage): any {
  try {
    return JSON.parse(frame.body);
  } catch {
    return {};
  }
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

/** A room topic's event, or null for an event this client does not know. */
export function roomEvent(frame: IMessage): RoomEvent | null {
  const h = frame.headers;
  const room = h.room;
  const ended = h["subscription-ended"] === "true";
  if (h.event === "message") {
    const e: RoomEvent = { type: "message", room, message: frameMessage(frame), replay: h.replay === "true" };
    if (h["trace-id"]) e.traceId = h["trace-id"];
    return e;
  }
  if (h.event === "message-edited" || h.event === "message-deleted") {
    const message = frameMessage(frame);
    const e: RoomEvent = { type: h.event, room, message, rev: message.rev ?? 0, replay: h.replay === "true" };
    if (h.by) e.by = h.by;
    return e;
  }
  const b = json(frame);
  switch (h.event) {
    case "reaction":
      return { type: "reaction", room, seq: Number(b.seq), emoji: b.emoji, user: b.user, action: b.action,
               reactions: Array.isArray(b.reactions) ? b.reactions : [] };
    case "read":
      return { type: "read", room, user: b.user, seq: Number(b.seq) };
    case "typing":
      return { type: "typing", room, user: b.user };
    case "assigned":
    case "completed":
      return { type: h.event, room, agent: b.agent };
    case "closed":
      return { type: "closed", room, by: b.by };
    case "member-joined":
      return { type: "member-joined", room, user: b.user, by: b.by };
    case "member-left": {
      const e: RoomEvent = { type: "member-left", room, user: b.user ?? h.user, subscriptionEnded: ended };
      if (b.by !== undefined) e.by = b.by;
      if (b.erased) e.erased = true;
      return e;
    }
    case "role-changed":
      return { type: "role-changed", room, user: b.user, role: b.role, by: b.by };
    case "renamed":
      return { type: "renamed", room, title: b.title, by: b.by };
    case "deleted": {
      const e: RoomEvent = { type: "deleted", room, subscriptionEnded: ended };
      if (b.by !== undefined) e.by = b.by;
      if (b.erased) e.erased = true;
      return e;
    }
    case "transferred":
      return { type: "transferred", room, from: b.from, to: b.to ?? null, by: b.by, subscriptionEnded: ended };
    case "reopened":
      return { type: "reopened", room, agent: b.agent ?? null, state: b.state };
    default:
      return null;
  }
}

function roomOrNull(b: any): Room | null {
  return b && typeof b.id === "string" && typeof b.kind === "string" ? (b as Room) : null;
}

/** A /user/queue/notifications event, or null for one this client does not know. */
export function notification(frame: IMessage): Notification | null {
  const b = json(frame);
  const roomId = frame.headers.room;
  switch (frame.headers.event) {
    case "message":
      return { type: "message", room: b.room ?? roomId, room_kind: b.room_kind, seq: Number(b.seq),
               message_id: b.message_id, sender: b.sender, preview: b.preview };
    case "assigned":
    case "closed":
    case "room-added":
      return { type: frame.headers.event, roomId, room: roomOrNull(b) };
    case "queue-position": {
      const n: Notification = { type: "queue-position", roomId: b.room ?? roomId, position: Number(b.position) };
      if (typeof b.estimated_wait_ms === "number") n.estimatedWaitMs = b.estimated_wait_ms;
      return n;
    }
    case "unread":
      return { type: "unread", roomId: b.room ?? roomId, readSeq: Number(b.read_seq), unread: Number(b.unread) };
    case "transferred": {
      const n: Notification = { type: "transferred", roomId, from: b.from, to: b.to ?? null, by: b.by };
      if (typeof b.note === "string") n.note = b.note;
      return n;
    }
    default:
      return null;
  }
}

/** A /topic/support/queue event, or null. */
export function supportQueueEvent(frame: IMessage): SupportDeskEvent | null {
  const t = frame.headers.event;
  if (t === "rated") return { type: "rated", room: json(frame) };
  if (t === "sla-breached") {
    const b = json(frame);
    return { type: "sla-breached", roomId: b.room ?? frame.headers.room, customer: b.customer,
             waitingSince: Number(b.waiting_since), targetMs: Number(b.target_ms) };
  }
  if (t === "transferred") {
    const b = json(frame);
    const e: SupportTransferEvent = { type: "transferred", roomId: frame.headers.room, from: b.from,
                                      to: b.to ?? null, by: b.by };
    if (typeof b.note === "string") e.note = b.note;
    return e;
  }
  if (t !== "opened" && t !== "claimed" && t !== "closed" && t !== "reopened") return null;
  return { type: t, room: json(frame) as Room };
}
