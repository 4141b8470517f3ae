/* A member edits or deletes a message of a room (docs/protocol.md,
 * "Edits and deletes"). Who may: the sender, within [rooms] edit_window of
 * sending (an edit_window of 0: nobody edits, the sender deletes nothing);
 * besides, a group's owner and admins, and an agent in a support room,
 * delete any message. The change takes the room's next revision (rev) in
 * the storage, which is told as a `message-edited` / `message-deleted`
 * event and replayed to a client resuming with since-rev. */
#ifndef CHATD_MESSAGE_EDITS_H
#define CHATD_MESSAGE_EDITS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rooms/rooms.h"

/* What the caller asks; every pointer borrowed for message_change. */
struct message_change_request {
    const char *room_id;
    const char *user;
    uint32_t roles;               /* the caller's CHATD_ROLE_* bits */
    uint64_t seq;                 /* the message's */
    chatd_message_edit_kind what; /* EDIT or DELETE */
    const char *body;             /* EDIT: the new body */
    size_t body_len;
    const char *content_type;     /* EDIT: its type; NULL: as its body reads */
    const char *trace;            /* follows the change into logs and events; may be NULL */
    uint64_t origin;              /* the caller's side's id for it, handed to the events port */
};

/* m: the message as stored now (OK; CONFLICT with the message as it is). */
typedef void (*message_change_cb)(void *ctx, const struct room_answer *a, const struct chatd_message *m);

/* Answers, the first that applies: BAD_REQUEST (seq 0, an edit's body no
 * room message: why says which rule); NOT_FOUND "no such room" when the
 * caller is no member; CONFLICT for a read-only room; NOT_FOUND "no such
 * message" for a seq the room has not; CONFLICT when the message is
 * deleted or erased; FORBIDDEN when the caller may not (not theirs, or the
 * edit window is over: why says which); NOT_SUPPORTED when the storage
 * keeps no changes; OK once the change is stored, after its event went
 * out. */
void message_change(struct rooms *r, const struct message_change_request *req, message_change_cb cb, void *ctx);

/* Whether `user` (roles) may delete any message of `room`: a group's
 * owner and admins, an agent in a support room. */
bool message_manager(const struct chatd_room *room, const char *user, uint32_t roles);
/* The rule alone: whether `user` (a `manager` of the room or not) may make
 * `what` to `m` at now_ms, the window being edit_window_ms (0: no edits);
 * NULL when allowed, else the sentence that refuses it. */
const char *message_change_refusal(const struct chatd_message *m, const char *user, bool manager,
                                   chatd_message_edit_kind what, int64_t now_ms, long long edit_window_ms);

/* msgs[0..n), the changed messages after `after_rev` in rev order; more:
 * a full page, the next may have more. */
typedef void (*revisions_answer_cb)(void *ctx, const struct room_answer *a, const struct chatd_message *msgs,
                                    size_t n, bool more);
/* Up to REPLAY_PAGE (history.h) changed messages with rev > after_rev
 * (a storage without changes: none). */
void message_revisions_page(struct rooms *r, const char *room_id, uint64_t after_rev, revisions_answer_cb cb,
                            void *ctx);

#endif
