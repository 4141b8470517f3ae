#include "http/support_overview_rest.h"

#include <stdlib.h>

#include <jansson.h>

#include "http/rest_call.h"
#include "rooms/availability.h"
#include "rooms/first_response.h"
#include "rooms/support.h"
#include "server.h"
#include "wire/agent_json.h"
#include "wire/room_json.h"

/* The answer as it is gathered: the queue, then the assigned rooms, then
 * the agents (three reads, one after the other). */
struct overview {
    struct rest_call *c;
    json_t *body;
};

static void overview_fail(struct overview *o, const struct room_answer *a)
{
    rest_room_error(o->c, a);
    json_decref(o->body);
    free(o);
}

/* Each room as agents' lists show it, with the wait this instance keeps
 * (waiting_since, sla_breached: docs/support-desk.md, "Service levels"). */
static json_t *rooms_json(struct rest_call *c, const struct chatd_room *rooms, size_t n)
{
    json_t *list = json_array();
    for (size_t i = 0; list && i < n; i++) {
        json_t *j = room_json(&rooms[i], NULL);
        int64_t since;
        bool breached;
        if (j && first_response_of(c->srv->rooms->first_response, rooms[i].id, &since, &breached)) {
            json_object_set_new(j, "waiting_since", json_integer(since));
            json_object_set_new(j, "sla_breached", json_boolean(breached));
        }
        if (!j || json_array_append_new(list, j) != 0) {
            json_decref(list);
            return NULL;
        }
    }
    return list;
}

static void agents_listed(void *ctx, const struct room_answer *a, const struct agent_view *agents, size_t n,
                          size_t limit)
{
    struct overview *o = ctx;
    if (a->status != ROOM_OK) {
        overview_fail(o, a);
        return;
    }
    json_t *list = json_array();
    for (size_t i = 0; list && i < n; i++)
        json_array_append_new(list, agent_json(&agents[i], o->c->srv->rooms->skills));
    if (!list || json_object_set_new(o->body, "agents", list) != 0 ||
        json_object_set_new(o->body, "max_chats_per_agent", json_integer((json_int_t)limit)) != 0) {
        overview_fail(o, &(struct room_answer){ROOM_NOMEM, "out of memory"});
        return;
    }
    rest_respond(o->c, 200, o->body);
    free(o);
}

static void assigned_listed(void *ctx, const struct room_answer *a, const struct chatd_room *rooms, size_t n)
{
    struct overview *o = ctx;
    json_t *list = a->status == ROOM_OK ? rooms_json(o->c, rooms, n) : NULL;
    if (a->status != ROOM_OK || !list || json_object_set_new(o->body, "assigned", list) != 0) {
        overview_fail(o, a->status != ROOM_OK ? a : &(struct room_answer){ROOM_NOMEM, "out of memory"});
        return;
    }
    agents_list(o->c->srv->rooms, o->c->roles, agents_listed, o);
}

static void queue_listed(void *ctx, const struct room_answer *a, const struct chatd_room *rooms, size_t n)
{
    struct overview *o = ctx;
    json_t *list = a->status == ROOM_OK ? rooms_json(o->c, rooms, n) : NULL;
    if (a->status != ROOM_OK || !list || json_object_set_new(o->body, "queue", list) != 0) {
        overview_fail(o, a->status != ROOM_OK ? a : &(struct room_answer){ROOM_NOMEM, "out of memory"});
        return;
    }
    support_rooms_in(o->c->srv->rooms, o->c->roles, CHATD_ROOM_ASSIGNED, assigned_listed, o);
}

void support_overview_rest(struct rest_call *c)
{
    struct overview *o = calloc(1, sizeof *o);
    if (!o || !(o->body = json_object())) {
        free(o);
        rest_error(c, 500, "internal", "out of memory");
        return;
    }
    o->c = c;
    support_rooms_in(c->srv->rooms, c->roles, CHATD_ROOM_OPEN, queue_listed, o);
}
