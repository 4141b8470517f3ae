/* Search over REST: GET /api/search (every room the caller may read) and
 * GET /api/rooms/{room}/search (one room), read into rooms/search.h and
 * answered as a page of messages with a cursor. docs/rest-api.md. */
#ifndef CHATD_SEARCH_REST_H
#define CHATD_SEARCH_REST_H

struct rest_call;

/* One search for an authenticated call; room NULL: across the caller's
 * rooms. Answers the call itself. */
void search_rest(struct rest_call *c, const char *room);

#endif
