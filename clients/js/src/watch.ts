// One room's events, kept across reconnects: every SUBSCRIBE after the
// first asks for `since-seq`, so the server replays what was missed.
//
// With several chatd instances, messages may arrive out of seq order (7
// before 6). `lastSeq` is therefore the highest seq below which every
// message has arrived, and the seqs above it that did arrive are remembered:
// a replay from `lastSeq` then brings the missing ones and skips the rest.
//
// Edits and deletes: `lastRev` is the highest revision seen (a change's
// event, or a message that carries one); a resubscription asks for
// `since-rev` too, so the changes missed meanwhile come after the missed
// messages. A change of a message is delivered once per revision: one that
// comes twice (replayed, then live) or older than one already delivered is
// skipped. (With several instances a change may overtake another; a
// resumption from the highest revision could then miss the slower one.)
import type { IMessage, StompSubscription } from "@stomp/stompjs";

import { ChatdError } from "./errors.js";
import { roomEvent } from "./events.js";
import type { RoomEvent, RoomHandlers } from "./types.js";

/** What a watch needs from its client. */
export interface WatchHost {
  readonly connected: boolean;
  subscribe(destination: string, onFrame: (m: IMessage) => void, headers: Record<string, string>,
            onReceipt: () => void, onError: (e: ChatdError) => void): StompSubscription | null;
  forget(w: RoomWatch): void;
}

/** Refusals that no new SUBSCRIBE would change; anything else (storage
 * down, catch-up too long) ends only the connection, and the watch
 * subscribes again from where it was on the next one. */
const FINAL_SUBSCRIBE_ERRORS = new Set(["no such room", "invalid since-seq header", "invalid since-rev header",
  "unknown destination", "destination not allowed"]);

export class RoomWatch {
  readonly roomId: string;
  /** Every message up to this seq has been delivered. */
  lastSeq: number;
  /** The highest revision (edit or delete) delivered; undefined: none asked for yet. */
  lastRev: number | undefined;
  /** Ended by the server (`member-left` for us or `deleted`) or by stop(). */
  ended = false;
  /** Resolves once the first subscription is live (after its catch-up). */
  readonly ready: Promise<void>;

  private readonly above = new Set<number>();
  /** seq -> the revision of that message delivered last. */
  private readonly revs = new Map<number, number>();
  private sub: StompSubscription | null = null;
  private resolveReady!: () => void;
  private rejectReady!: (e: Error) => void;
  private isReady = false;

  constructor(private readonly host: WatchHost, roomId: string, sinceSeq: number,
              private readonly handlers: RoomHandlers, private readonly onError?: (e: ChatdError) => void,
              sinceRev?: number) {
    this.roomId = roomId;
    this.lastSeq = sinceSeq;
    this.lastRev = sinceRev;
    this.ready = new Promise((resolve, reject) => {
      this.resolveReady = resolve;
      this.rejectReady = reject;
    });
    this.ready.catch(() => {}); // also reported through onError
  }

  /** (Re)subscribe on a live connection. */
  subscribe(): void {
    if (this.ended || !this.host.connected) return;
    const headers: Record<string, string> = { "since-seq": String(this.lastSeq) };
    if (this.lastRev !== undefined) headers["since-rev"] = String(this.lastRev);
    this.sub = this.host.subscribe("/topic/rooms/" + this.roomId, (m) => this.onFrame(m), headers,
      () => {
        if (this.lastRev === undefined) this.lastRev = 0; // from now on every change is seen
        if (!this.isReady) {
          this.isReady = true;
          this.resolveReady();
        } else {
          this.handlers.resumed?.();
        }
      },
      (e) => {
        this.onError?.(e);
        if (!FINAL_SUBSCRIBE_ERRORS.has(e.code)) return;
        this.end();
        if (!this.isReady) this.rejectReady(e);
      });
  }

  /** The connection is gone: its subscription with it. */
  dropped(): void {
    this.sub = null;
  }

  /** Stop watching (UNSUBSCRIBE when connected). */
  stop(): void {
    const sub = this.sub;
    this.end();
    if (sub && this.host.connected) {
      try {
        sub.unsubscribe();
      } catch {
        /* the connection went meanwhile */
      }
    }
  }

  private end(): void {
    this.ended = true;
    this.sub = null;
    this.host.forget(this);
  }

  private seenRev(seq: number, rev: number): void {
    this.revs.set(seq, rev);
    if (this.lastRev === undefined || rev > this.lastRev) this.lastRev = rev;
  }

  private onFrame(m: IMessage): void {
    if (this.ended) return;
    const e = roomEvent(m);
    if (e && e.type === "message") {
      const seq = e.message.seq;
      if (!(seq > this.lastSeq) || this.above.has(seq)) return;
      this.above.add(seq);
      while (this.above.has(this.lastSeq + 1)) this.above.delete(++this.lastSeq);
      if (e.message.rev) this.seenRev(seq, e.message.rev);
    } else if (e && (e.type === "message-edited" || e.type === "message-deleted")) {
      const known = this.revs.get(e.message.seq);
      if (known !== undefined && e.rev <= known) return;
      this.seenRev(e.message.seq, e.rev);
    }
    if (m.headers["subscription-ended"] === "true") this.end();
    if (!e) return;
    const h = this.handlers[e.type] as ((ev: RoomEvent) => void) | undefined;
    h?.(e);
    this.handlers.event?.(e);
  }
}
