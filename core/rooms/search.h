/* Search of messages by a part of their text: in one room, or across every
 * room the caller may read (GET /api/search, GET /api/rooms/{room}/search).
 * Who may read which room is room_can_see's rule; the storage plugin finds
 * candidates (SDK 2.4 message_search) and the text rule of
 * rooms/search_query.h has the last word, so every plugin answers alike. */
#ifndef CHATD_SEARCH_H
#define CHATD_SEARCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rooms/rooms.h"
#include "rooms/search_query.h"

#define SEARCH_PAGE_DEFAULT 20
#define SEARCH_PAGE_MAX 100
/* The rooms one search across a caller's rooms looks in at most: the
 * rooms they belong to (oldest first), then, for agents, the unassigned
 * queue. */
#define SEARCH_ROOMS_MAX 1000

struct search_request {
    const char *query;   /* as the caller sent it */
    const char *room_id; /* one room; NULL: every room the caller may read */
    const char *user;
    uint32_t roles;
    const char *cursor;  /* NULL: from the newest */
    bool limit_set, limit_malformed;
    uint64_t limit;
};

/* msgs[0..n), newest first; next: the cursor of the page after it, NULL
 * when there is none. A page may hold fewer than its limit and still have
 * a next one (candidates of the storage that the text rule refused). */
typedef void (*search_answer_cb)(void *ctx, const struct room_answer *a, const struct chatd_message *msgs, size_t n,
                                 const char *next);
/* BAD_REQUEST for a query, cursor or limit that is none; NOT_SUPPORTED when
 * the storage plugin does not search; for one room NOT_FOUND when the
 * caller may not see it. */
void search_messages(struct rooms *r, const struct search_request *req, search_answer_cb cb, void *ctx);

#endif
