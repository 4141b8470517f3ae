/* Members react to messages with emoji (docs/protocol.md, "Reactions").
 * Who may: a member of a group or direct room; in a support room its
 * customer and its assigned agent; nobody in a completed or closed room,
 * nor to a deleted message. A reaction is state, not history: it takes no
 * seq and no revision; its change is told as a `reaction` event carrying
 * the message's counts, and history pages carry every message's counts. */
#ifndef CHATD_REACTIONS_H
#define CHATD_REACTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rooms/reaction_emoji.h"
#include "rooms/rooms.h"

/* Distinct emoji one message holds at most. */
#define REACTIONS_PER_MESSAGE 20

/* What the caller asks; every pointer borrowed for reaction_change. */
struct reaction_request {
    const char *room_id;
    const char *user;
    uint64_t seq;      /* the message's */
    const char *emoji; /* not necessarily NUL-terminated */
    size_t emoji_len;
    bool add;          /* false: take it back */
    const char *trace; /* follows the change into logs; may be NULL */
};

/* counts[0..n): the message's counts after the request (`me` for the
 * caller), ordered by emoji byte for byte; valid during the call. */
typedef void (*reaction_answer_cb)(void *ctx, const struct room_answer *a, const struct chatd_reaction_count *counts,
                                   size_t n);

/* Answers, the first that applies: BAD_REQUEST (seq 0, an emoji that is
 * none: why says which rule); NOT_SUPPORTED when the storage keeps no
 * reactions; NOT_FOUND "no such room" when the caller is no member;
 * CONFLICT for a read-only room; FORBIDDEN for a support room's member
 * who is neither its customer nor its agent; NOT_FOUND "no such message"
 * for a seq the room has not; CONFLICT "The message is deleted."; LIMIT
 * when the message holds REACTIONS_PER_MESSAGE other emoji; OK with the
 * counts once stored, after the `reaction` event went out. Adding a
 * reaction the caller holds, or taking back one they do not, is OK with
 * the counts and tells no event. */
void reaction_change(struct rooms *r, const struct reaction_request *req, reaction_answer_cb cb, void *ctx);

/* The rule alone (the emoji's: rooms/reaction_emoji.h): NULL when `user`
 * may react in `room`, else why not (and whether it is a
 * state of the room: CONFLICT, rather than the user's right: FORBIDDEN). */
const char *reaction_refusal(const struct chatd_room *room, const char *user, bool *room_state);

/* The counts of a page of messages, for its history answer. */
struct reaction_page {
    bool kept;                                 /* the storage keeps reactions */
    const struct chatd_reaction_count *counts; /* ordered by seq, then emoji */
    size_t n;
};

/* msgs[0..n) as they were handed to reactions_of_page, valid during the call. */
typedef void (*reaction_page_cb)(void *ctx, const struct room_answer *a, const struct chatd_message *msgs, size_t n,
                                 const struct reaction_page *rx);
/* The counts of msgs[0..n) of room_id, `me` for user: cb gets the messages
 * (copied, so msgs need only live during this call) with them, or, with a
 * storage without reactions or no messages, at once with kept false /
 * none. A failed read answers its status and no messages. */
void reactions_of_page(struct rooms *r, const char *room_id, const char *user, const struct chatd_message *msgs,
                       size_t n, reaction_page_cb cb, void *ctx);

/* The counts of message `seq` in rx: *first and the count of them. */
const struct chatd_reaction_count *reaction_page_of(const struct reaction_page *rx, uint64_t seq, size_t *n);

#endif
