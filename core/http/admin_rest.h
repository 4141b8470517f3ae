/* Operators' requests over REST, for the admin role: POST
 * /api/admin/reload reads chat.ini again (server_reload, as SIGHUP does)
 * and answers with its outcome. docs/rest-api.md, docs/operations.md. */
#ifndef CHATD_ADMIN_REST_H
#define CHATD_ADMIN_REST_H

struct rest_call;

/* For an authenticated call; answers the call itself. */
void admin_reload_rest(struct rest_call *c);

#endif
