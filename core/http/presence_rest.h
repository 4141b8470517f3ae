/* Presence over REST: GET /api/rooms/{room}/presence, GET /api/presence
 * and PUT /api/presence, read into rooms/user_presence.h, answered as
 * JSON. docs/rest-api.md. */
#ifndef CHATD_PRESENCE_REST_H
#define CHATD_PRESENCE_REST_H

struct rest_call;

enum presence_request {
    PRESENCE_ROOM = 1, /* GET /api/rooms/{room}/presence */
    PRESENCE_USERS,    /* GET /api/presence?users=a,b */
    PRESENCE_SET,      /* PUT /api/presence {"status": "away"|"online"} */
};
/* One of them for an authenticated call; answers the call itself. room:
 * the path's room for PRESENCE_ROOM. */
void presence_rest(struct rest_call *c, enum presence_request what, const char *room);

#endif
