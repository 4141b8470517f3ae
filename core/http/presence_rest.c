#include "http/presence_rest.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "http/rest_call.h"
#include "rooms/room_rules.h"
#include "rooms/user_presence.h"
#include "server.h"

/* {"user":U,"status":S,"last_seen":MS|null} */
static json_t *entry_json(const struct presence_entry *e)
{
    json_t *j = json_pack("{s:s, s:s}", "user", e->user, "status", user_status_name(e->status));
    if (j)
        json_object_set_new(j, "last_seen", e->last_seen_ms ? json_integer(e->last_seen_ms) : json_null());
    return j;
}

static void answered(void *ctx, const struct room_answer *a, const struct presence_entry *e, size_t n)
{
    struct rest_call *c = ctx;
    if (a->status != ROOM_OK) {
        rest_room_error(c, a);
        return;
    }
    json_t *list = json_array();
    for (size_t i = 0; list && i < n; i++)
        if (json_array_append_new(list, entry_json(&e[i])) < 0) {
            json_decref(list);
            list = NULL;
        }
    json_t *body = list ? json_pack("{s:o}", "presence", list) : NULL;
    if (!body) {
        rest_error(c, 500, "internal", "out of memory");
        return;
    }
    rest_respond(c, 200, body);
}

/* users=a,b,c: the names split at commas, in place. */
static void users_asked(struct rest_call *c)
{
    /* A bound a little past what the domain accepts, so that it says why. */
    size_t cap = (PRESENCE_USERS_MAX + 1) * (USER_NAME_MAX + 1);
    char *buf = malloc(cap + 1);
    const char **users = calloc(PRESENCE_USERS_MAX + 1, sizeof *users);
    const char *q = buf && users ? rest_query(c, "users", buf, cap + 1) : NULL;
    if (!buf || !users) {
        free(buf);
        free(users);
        rest_error(c, 500, "internal", "out of memory");
        return;
    }
    if (!q || !*q) {
        free(buf);
        free(users);
        rest_error(c, 400, "bad_request", "name the users: ?users=a,b");
        return;
    }
    size_t n = 0;
    bool too_many = false;
    for (char *p = buf, *comma;; p = comma + 1) {
        comma = strchr(p, ',');
        if (comma)
            *comma = '\0';
        if (n == PRESENCE_USERS_MAX + 1) {
            too_many = true;
            break;
        }
        users[n++] = p;
        if (!comma)
            break;
    }
    if (too_many || strlen(q) >= cap) {
        free(buf);
        free(users);
        rest_error(c, 400, "bad_request", "at most %d users at a time", PRESENCE_USERS_MAX);
        return;
    }
    user_presence_users(c->srv->rooms, c->user, users, n, answered, c); /* copies the names */
    free(buf);
    free(users);
}

static void chosen(void *ctx, const struct room_answer *a)
{
    struct rest_call *c = ctx;
    if (a->status != ROOM_OK) {
        rest_room_error(c, a);
        return;
    }
    int64_t last_seen = 0;
    enum user_status st = c->srv->rooms->presence.status
                              ? c->srv->rooms->presence.status(c->srv->rooms->presence.ctx, c->user, &last_seen)
                              : USER_OFFLINE;
    rest_respond(c, 200, json_pack("{s:s, s:s}", "user", c->user, "status", user_status_name(st)));
}

void presence_rest(struct rest_call *c, enum presence_request what, const char *room)
{
    if (what == PRESENCE_ROOM) {
        user_presence_room(c->srv->rooms, room, c->user, c->roles, answered, c);
        return;
    }
    if (what == PRESENCE_USERS) {
        users_asked(c);
        return;
    }
    user_presence_choose(c->srv->rooms, c->user, json_string_value(json_object_get(c->body, "status")), chosen, c);
}
