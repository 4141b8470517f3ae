/* An admin's erase of one user's data over REST: the request read into
 * rooms/erase.h, its answer written as JSON. docs/rest-api.md. */
#include "http/user_erase.h"

#include <jansson.h>

#include "http/rest_call.h"
#include "rooms/erase.h"
#include "server.h"

static void erased(void *ctx, const struct room_answer *a, const struct chatd_erase_result *res)
{
    struct rest_call *c = ctx;
    if (a->status != ROOM_OK) {
        rest_room_error(c, a);
        return;
    }
    rest_respond(c, 200, json_pack("{s:s, s:I, s:I, s:I}", "user", c->params[0], "rooms_deleted",
                                   (json_int_t)res->rooms_deleted, "messages_erased", (json_int_t)res->messages_erased,
                                   "memberships_removed", (json_int_t)res->memberships_removed));
}

void user_erase_rest(struct rest_call *c, const char *user)
{
    erase_user(c->srv->rooms, user, c->user, c->roles, erased, c);
}
