#include "http/admin_rest.h"

#include <jansson.h>

#include "http/rest_call.h"
#include "server.h"

void admin_reload_rest(struct rest_call *c)
{
    if (!(c->roles & CHATD_ROLE_ADMIN)) {
        rest_error(c, 403, "forbidden", "only the admin role may reload the configuration");
        return;
    }
    char msg[1536];
    if (server_reload(c->srv, msg, sizeof msg) < 0) {
        rest_error(c, 409, "reload_refused", "%s", msg);
        return;
    }
    rest_respond(c, 200, json_pack("{s:b, s:s}", "reloaded", 1, "message", msg));
}
