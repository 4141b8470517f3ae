/* A support room's internal notes over REST: POST and GET
 * /api/rooms/{room}/notes, read into rooms/notes.h, answered as JSON.
 * docs/rest-api.md, docs/support-desk.md ("Internal notes"). */
#ifndef CHATD_NOTES_REST_H
#define CHATD_NOTES_REST_H

#include <stdbool.h>

struct rest_call;

/* post: write a note (body {"body": TEXT, "content_type": T?, "client_id":
 * K?}), else a page of them (?before=, ?after=, ?limit= as history has).
 * Answers the call itself. */
void notes_rest(struct rest_call *c, const char *room, bool post);

#endif
