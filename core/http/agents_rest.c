#include "http/agents_rest.h"

#include <jansson.h>

#include "http/rest_call.h"
#include "rooms/availability.h"
#include "server.h"
#include "wire/agent_json.h"

static void listed(void *ctx, const struct room_answer *a, const struct agent_view *agents, size_t n, size_t limit)
{
    struct rest_call *c = ctx;
    if (a->status != ROOM_OK) {
        rest_room_error(c, a);
        return;
    }
    json_t *list = json_array();
    for (size_t i = 0; list && i < n; i++)
        json_array_append_new(list, agent_json(&agents[i], c->srv->rooms->skills));
    json_t *body = list ? json_pack("{s:o, s:I}", "agents", list, "max_chats_per_agent", (json_int_t)limit) : NULL;
    if (!body) {
        rest_error(c, 500, "internal", "out of memory");
        return;
    }
    rest_respond(c, 200, body);
}

static void status_set(void *ctx, const struct room_answer *a)
{
    struct rest_call *c = ctx;
    if (a->status != ROOM_OK) {
        rest_room_error(c, a);
        return;
    }
    rest_respond(c, 200, json_pack("{s:s, s:s}", "user", c->user,
                                   "status", agent_status_name(agent_status_of(c->srv->rooms, c->user))));
}

void agents_rest(struct rest_call *c, enum agents_request what)
{
    if (what == AGENTS_LIST) {
        agents_list(c->srv->rooms, c->roles, listed, c);
        return;
    }
    const char *status = json_string_value(json_object_get(c->body, "status"));
    agents_set_status(c->srv->rooms, c->user, c->roles, status, status_set, c);
}
