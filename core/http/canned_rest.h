/* The support desk's canned replies over REST: GET /api/support/canned,
 * GET, PUT and DELETE /api/support/canned/{shortcut}, read into
 * rooms/canned_replies.h, answered as JSON. docs/rest-api.md,
 * docs/support-desk.md. */
#ifndef CHATD_CANNED_REST_H
#define CHATD_CANNED_REST_H

struct rest_call;

enum canned_request_kind {
    CANNED_LIST = 1, /* GET /api/support/canned */
    CANNED_GET,      /* GET /api/support/canned/{shortcut} */
    CANNED_PUT,      /* PUT /api/support/canned/{shortcut} */
    CANNED_DELETE,   /* DELETE /api/support/canned/{shortcut} */
};
/* One of them for an authenticated call (shortcut: the path's, percent-
 * decoded; NULL for the list); answers the call itself. */
void canned_rest(struct rest_call *c, enum canned_request_kind what, const char *shortcut);

#endif
