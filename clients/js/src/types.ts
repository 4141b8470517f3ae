// What chatd sends, as JSON (docs/rest-api.md) and as STOMP events
// (docs/protocol.md, "Rooms").

export type RoomKind = "support" | "direct" | "group";
export type RoomState = "unassigned" | "assigned" | "completed" | "closed" | "open";
export type GroupRole = "owner" | "admin" | "member";

/** A stored message, as the REST API returns it; live events are turned into the same shape. */
export interface Message {
  id: string;
  room: string;
  seq: number;
  /** "" for a message whose sender's data was erased. */
  sender: string;
  client_id: string | null;
  /** Unix ms. */
  timestamp: number;
  /** The message as sent: UTF-8 text, or a JSON object's text when sent as JSON. */
  body: string;
  /** true for a tombstone left by erasing its sender's data. */
  erased?: boolean;
  /** The room's revision when the message was last edited or deleted (absent: never). */
  rev?: number;
  /** Unix ms of that change. */
  edited_at?: number;
  /** true for a deleted message: a tombstone at its seq, body "". */
  deleted?: boolean;
  /** "text" (a member's), "system" (the server's: a transfer, say), "file" (an attachment), or "note"
   * (a support room's internal note: agents and supervisors only). */
  kind?: "text" | "system" | "file" | "note";
  /** The seq of the room's message this one replies to (absent or null: not a reply). */
  reply_to?: number | null;
  /** History pages only (a storage that keeps reactions): every emoji with its count, `me` for the reader. */
  reactions?: Reaction[];
}

/** Members' reactions to a message with one emoji. */
export interface Reaction {
  emoji: string;
  count: number;
  /** Whether the reader is one of them (history and REST answers; absent in events). */
  me?: boolean;
}

export interface Room {
  id: string;
  kind: RoomKind;
  state: RoomState;
  title: string | null;
  owner: string | null;
  agent: string | null;
  /** Support rooms only: what the customer opened it about (null: nothing in particular). */
  topic?: string | null;
  members: string[];
  /** Groups only. */
  admins?: string[];
  created_at: number;
  assigned_at?: number;
  closed_at?: number;
  /** Unassigned support rooms only. */
  waiting_ms?: number;
  last_seq: number;
  /** The caller's view (absent in events that carry a room). */
  read_seq?: number;
  unread?: number;
  last_message?: Message | null;
}

export type RoomScope = "mine" | "unassigned" | "assigned";

export interface MessagesPage {
  messages: Message[];
  next_before?: number;
}

/** A `message` event on a room topic. */
export interface MessageEvent {
  type: "message";
  room: string;
  message: Message;
  /** true when it came from the since-seq catch-up, not live. */
  replay: boolean;
  /** The server's id of the message in its logs (live events only). */
  traceId?: string;
}
/** `message-edited` / `message-deleted`: a message changed; `message` is it as it now is. */
export interface MessageChangedEvent {
  type: "message-edited" | "message-deleted";
  room: string;
  message: Message;
  /** The room's revision of this change (message.rev). */
  rev: number;
  /** Who changed it (live events only). */
  by?: string;
  /** true when it came from the since-rev catch-up, not live. */
  replay: boolean;
}
/** `reaction`: `user` added or took back `emoji` on message `seq`; `reactions` are the message's now (no `me`). */
export interface ReactionEvent {
  type: "reaction";
  room: string;
  seq: number;
  emoji: string;
  user: string;
  action: "added" | "removed";
  reactions: Reaction[];
}
export interface ReadEvent { type: "read"; room: string; user: string; seq: number }
export interface TypingEvent { type: "typing"; room: string; user: string }
export interface AssignedEvent { type: "assigned"; room: string; agent: string }
export interface CompletedEvent { type: "completed"; room: string; agent: string }
export interface ClosedEvent { type: "closed"; room: string; by: string }
export interface MemberJoinedEvent { type: "member-joined"; room: string; user: string; by: string }
export interface MemberLeftEvent {
  type: "member-left"; room: string; user: string;
  /** Set when someone else removed the user. */
  by?: string;
  erased?: boolean;
  /** true on the last frame of this user's subscription (they left or were removed). */
  subscriptionEnded: boolean;
}
export interface RoleChangedEvent { type: "role-changed"; room: string; user: string; role: GroupRole; by: string }
export interface RenamedEvent { type: "renamed"; room: string; title: string; by: string }
export interface DeletedEvent { type: "deleted"; room: string; by?: string; erased?: boolean; subscriptionEnded: boolean }
/** The support room was handed on by `by` from agent `from` to `to` (null: back to the queue). */
export interface TransferredEvent {
  type: "transferred"; room: string; from: string; to: string | null; by: string;
  /** true on the last frame of the previous agent's subscription (they left the room). */
  subscriptionEnded: boolean;
}
/** The customer wrote into the completed support room and it is open again: with `agent`, or (null) queued. */
export interface ReopenedEvent { type: "reopened"; room: string; agent: string | null; state: "assigned" | "open" }

export interface RoomEventMap {
  message: MessageEvent;
  "message-edited": MessageChangedEvent;
  "message-deleted": MessageChangedEvent;
  reaction: ReactionEvent;
  read: ReadEvent;
  typing: TypingEvent;
  assigned: AssignedEvent;
  completed: CompletedEvent;
  closed: ClosedEvent;
  "member-joined": MemberJoinedEvent;
  "member-left": MemberLeftEvent;
  "role-changed": RoleChangedEvent;
  renamed: RenamedEvent;
  deleted: DeletedEvent;
  transferred: TransferredEvent;
  reopened: ReopenedEvent;
}
export type RoomEvent = RoomEventMap[keyof RoomEventMap];

/** Callbacks for room events, by event name; `event` gets every one. */
export type RoomHandlers = { [K in keyof RoomEventMap]?: (e: RoomEventMap[K]) => void } & {
  event?: (e: RoomEvent) => void;
  /** Live again after a reconnect, the missed messages replayed. Other events
   * of the gap (read, renamed, assigned, …) are not replayed by the server:
   * re-read the room (`room.get()`) when its state matters. */
  resumed?: () => void;
};

/** /user/queue/notifications: a message in a room of the user's they do not watch. */
export interface MessageNotification {
  type: "message";
  room: string;
  room_kind: RoomKind;
  seq: number;
  message_id: string;
  sender: string;
  /** The start of the message's text (see docs/protocol.md, "Notifications"). */
  preview: string;
}
/** Their support room was claimed; `room` is the room as it is then. */
export interface AssignedNotification { type: "assigned"; roomId: string; room: Room | null }
/** The customer of a support room the agent handled closed it. */
export interface ClosedNotification { type: "closed"; roomId: string; room: Room | null }
/** Someone created a room with the user or added them to one (`room` null when the server sent only its id). */
export interface RoomAddedNotification { type: "room-added"; roomId: string; room: Room | null }
/** Agents: a support room was handed to them by `by` from `from`, with the note (agents only) when there was one. */
export interface TransferredNotification {
  type: "transferred"; roomId: string; from: string; to: string | null; by: string; note?: string;
}

/** Automatic assignment: the user's waiting support room's place in the queue changed. */
export interface QueuePositionNotification {
  type: "queue-position"; roomId: string; position: number;
  /** The server's estimate of the wait, ms (absent until it has one). */
  estimatedWaitMs?: number;
}

/** The user's read mark in a room moved (on any of their sessions or devices): the mark and what is left unread. */
export interface UnreadNotification { type: "unread"; roomId: string; readSeq: number; unread: number }

export interface NotificationMap {
  message: MessageNotification;
  unread: UnreadNotification;
  "queue-position": QueuePositionNotification;
  assigned: AssignedNotification;
  closed: ClosedNotification;
  "room-added": RoomAddedNotification;
  transferred: TransferredNotification;
}
export type Notification = NotificationMap[keyof NotificationMap];
export type NotificationHandlers = { [K in keyof NotificationMap]?: (n: NotificationMap[K]) => void } & {
  notification?: (n: Notification) => void;
};

/** /topic/support/queue (agents): the unassigned queue changed. */
export interface SupportQueueEvent {
  type: "opened" | "claimed" | "closed" | "reopened";
  room: Room;
}
/** /topic/support/queue: a customer rated their chat (`room` with its `rating`). */
export interface SupportRatedEvent {
  type: "rated";
  room: Room & { rating?: { score: number; comment?: string; rated_at?: number } };
}
/** /topic/support/queue: a customer waited for an agent's answer past the desk's first-response target. */
export interface SupportSlaBreachedEvent {
  type: "sla-breached"; roomId: string; customer: string; waitingSince: number; targetMs: number;
}
/** Everything /topic/support/queue tells. */
export type SupportDeskEvent = SupportQueueEvent | SupportTransferEvent | SupportRatedEvent | SupportSlaBreachedEvent;

/** /user/queue/presence: a person the user shares a room with changed status. */
/** /topic/support/agents: an agent's availability changed. */
export interface AgentStatusEvent {
  type: "agent-status";
  user: string;
  status: "online" | "away" | "offline";
}

/** /topic/rooms/{room}/notes: a new internal note, or the room handed on (agents and supervisors). */
export type NotesEvent =
  | { type: "note"; note: Message }
  | { type: "transferred"; room: string; from: string; to: string | null; by: string };

export interface PresenceEvent {
  user: string;
  status: "online" | "away" | "offline";
  /** Unix ms, when they went offline (null when unknown). */
  last_seen?: number | null;
}

/** /topic/support/queue: a room was handed on (to null: back to the queue), with the note when there was one. */
export interface SupportTransferEvent {
  type: "transferred"; roomId: string; from: string; to: string | null; by: string; note?: string;
}
