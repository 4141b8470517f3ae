/* The support desk's agents over REST: GET /api/agents and
 * PUT /api/agents/me/status, read into rooms/availability.h, answered as
 * JSON. docs/rest-api.md, docs/support-desk.md. */
#ifndef CHATD_AGENTS_REST_H
#define CHATD_AGENTS_REST_H

struct rest_call;

enum agents_request {
    AGENTS_LIST = 1, /* GET /api/agents */
    AGENTS_STATUS,   /* PUT /api/agents/me/status */
};
/* One of them for an authenticated call; answers the call itself. */
void agents_rest(struct rest_call *c, enum agents_request what);

#endif
