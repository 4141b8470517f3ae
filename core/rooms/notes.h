/* Internal notes of a support room: what its agents and supervisors write
 * for each other about the chat, never shown to its customer
 * (docs/support-desk.md, "Internal notes").
 *
 * The notes are the messages of a companion room the storage keeps beside
 * the support room: a group room named after it (ROOM-notes), created on
 * the first note, with no members and no owner. Nothing a customer reads
 * (the room's messages, seqs, unread counts, last message, search, the
 * transcript, notifications) is computed over it, so no path that serves
 * the customer has to filter notes out; only the paths here read it, and
 * they let in the readers of the support desk alone. */
#ifndef CHATD_NOTES_H
#define CHATD_NOTES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rooms/history.h"
#include "rooms/rooms.h"

#define NOTES_ROOM_SUFFIX "-notes"

/* The companion room's id of support room `room_id` into out; false when
 * room_id is too long for one. */
bool notes_room_of(const char *room_id, char *out, size_t outlen);

/* Support room room_id is gone (an erase, a purge): its notes go too, in
 * the background (a failure is logged; nobody waits for it). */
void notes_forget_room(struct rooms *r, const char *room_id);

/* Whether user (roles) reads and writes the notes of support room r: a
 * supervisor any support room's; an agent those of a room they see (the
 * queue, their own chats); never the room's customer. */
bool notes_allowed(const struct chatd_room *r, const char *user, uint32_t roles);

/* What the author sends; every pointer borrowed for note_post. */
struct note_draft {
    const char *room_id; /* the support room */
    const char *author;
    uint32_t roles;
    const char *body;
    size_t body_len;
    const char *content_type; /* may be NULL: text/plain */
    const char *client_id;    /* the author's idempotency key; may be NULL */
    const char *trace;        /* may be NULL */
    uint64_t origin;          /* the author's side's id for it, handed to the events port */
};

/* note: as stored, its room the support room's id (not the companion's),
 * or NULL. */
typedef void (*note_answer_cb)(void *ctx, const struct room_answer *a, const struct chatd_message *note);
/* Store a note and tell it to the watchers of the room's notes (the
 * events port's `note`): OK with it; EXISTS with the note stored first
 * under the same client_id (told before); FORBIDDEN for a caller who is
 * no agent or supervisor; NOT_FOUND for a room they may not see, or one
 * that is no support room; BAD_REQUEST for an empty body or one that is
 * no message (message_body.h, why in the answer). */
void note_post(struct rooms *r, const struct note_draft *d, note_answer_cb cb, void *ctx);

/* A page of the room's notes, as history_page has pages (cursor, order,
 * next_before), each note's room the support room's id; an empty page
 * while there are none. Refusals as note_post's. */
typedef void (*notes_page_cb)(void *ctx, const struct room_answer *a, const struct chatd_message *notes, size_t n,
                              uint64_t next_before);
void notes_page(struct rooms *r, const char *room_id, const char *user, uint32_t roles,
                const struct history_cursor *cur, notes_page_cb cb, void *ctx);

/* May user (roles) watch the room's notes (a SUBSCRIBE): OK with the seq
 * of the newest note (0: none yet; where live notes start). Refusals as
 * note_post's. */
typedef void (*notes_watch_cb)(void *ctx, const struct room_answer *a, uint64_t last_seq);
void notes_watch(struct rooms *r, const char *room_id, const char *user, uint32_t roles, notes_watch_cb cb,
                 void *ctx);

/* Up to REPLAY_PAGE notes of the room with seq > after, oldest first, each
 * note's room the support room's id (a since-seq replay; no access check:
 * the caller watched first). */
void notes_replay_page(struct rooms *r, const char *room_id, uint64_t after, replay_answer_cb cb, void *ctx);

#endif
