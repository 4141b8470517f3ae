/* A customer's rating of their support room once it is completed (or
 * closed): 1 to 5 and an optional comment, stored with the room by the
 * storage (room_rate, SDK 2.6), once per room: a second rating is refused.
 * Agents hear of it (`rated` on the support queue topic).
 * docs/support-desk.md, "Ratings". */
#ifndef CHATD_RATING_H
#define CHATD_RATING_H

#include <stddef.h>
#include <stdint.h>

#include "rooms/rooms.h"

#define RATING_MIN 1
#define RATING_MAX 5
/* Bytes of a rating's comment. */
#define RATING_COMMENT_MAX CHATD_RATING_COMMENT_MAX

/* Every pointer borrowed for the call. */
struct rating_request {
    const char *room_id;
    const char *user; /* the caller */
    uint32_t roles;   /* the caller's */
    long long rating; /* RATING_MIN..RATING_MAX */
    const char *comment; /* UTF-8 without NUL, at most RATING_COMMENT_MAX bytes; may be NULL */
    size_t comment_len;
};

/* OK with the room as it now is (its rating set). BAD_REQUEST: a rating
 * out of 1..5, a comment too long, not UTF-8 or with a NUL, a room that is
 * no support room; NOT_FOUND: no such room (or one the caller may not
 * see); FORBIDDEN: the caller is not the room's customer; CONFLICT: the
 * room is not completed or closed, or rated already; NOT_SUPPORTED: the
 * storage plugin lacks room_rate. An empty comment is none. */
void support_rate(struct rooms *r, const struct rating_request *req, room_answer_cb cb, void *ctx);

#endif
