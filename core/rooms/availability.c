#include "rooms/availability.h"

#include <stdlib.h>
#include <string.h>

#include "plugins/storage_port.h"
#include "rooms/room_rules.h"
#include "strmap.h"

struct availability {
    struct strmap told; /* agent -> (uintptr_t) 1 + the status last told */
};

struct availability *availability_new(void)
{
    struct availability *av = calloc(1, sizeof *av);
    if (av)
        strmap_init(&av->told);
    return av;
}

void availability_free(struct availability *av)
{
    if (!av)
        return;
    strmap_free(&av->told);
    free(av);
}

static void tell_if_changed(void *ctx, const char *agent)
{
    struct rooms *r = ctx;
    enum agent_status now = agent_status_of(r, agent);
    uintptr_t before = (uintptr_t)strmap_get(&r->availability->told, agent);
    /* Never told: as if offline, so a first connection is told. */
    if ((before ? (enum agent_status)(before - 1) : AGENT_OFFLINE) == now)
        return;
    if (strmap_put(&r->availability->told, agent, (void *)(uintptr_t)(now + 1)) == 0)
        r->events.agent_status(r->events.ctx, agent, agent_status_name(now));
}

void availability_changed(struct rooms *r)
{
    if (r->availability && r->presence.each_agent)
        r->presence.each_agent(r->presence.ctx, tell_if_changed, r);
}

const char *agent_status_name(enum agent_status s)
{
    switch (s) {
    case AGENT_ONLINE: return "online";
    case AGENT_AWAY: return "away";
    default: return "offline";
    }
}

enum agent_status agent_status_of(const struct rooms *r, const char *agent)
{
    const struct room_presence_port *p = &r->presence;
    if (!p->online(p->ctx, agent))
        return AGENT_OFFLINE;
    return p->away && p->away(p->ctx, agent) ? AGENT_AWAY : AGENT_ONLINE;
}

struct gather {
    struct rooms *r;
    agents_answer_cb cb;
    void *ctx;
    char **names;
    size_t n, cap;
    bool nomem;
};

static void add_name(void *ctx, const char *agent)
{
    struct gather *g = ctx;
    if (g->nomem)
        return;
    if (g->n == g->cap) {
        size_t cap = g->cap ? 2 * g->cap : 16;
        char **names = realloc(g->names, cap * sizeof *names);
        if (!names) {
            g->nomem = true;
            return;
        }
        g->names = names;
        g->cap = cap;
    }
    if (!(g->names[g->n] = strdup(agent)))
        g->nomem = true;
    else
        g->n++;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(((const struct agent_view *)a)->name, ((const struct agent_view *)b)->name);
}

static void gather_free(struct gather *g)
{
    for (size_t i = 0; i < g->n; i++)
        free(g->names[i]);
    free(g->names);
    free(g);
}

static void assigned_cb(void *ctx, chatd_status st, const struct chatd_room *rooms, size_t n)
{
    struct gather *g = ctx;
    struct rooms *r = g->r;
    struct room_answer a = room_answer_of(st, "no such room");
    struct agent_view *views = calloc(g->n ? g->n : 1, sizeof *views);
    if (!views)
        a = (struct room_answer){ROOM_NOMEM, "out of memory"};
    for (size_t i = 0; views && i < g->n; i++)
        views[i] = (struct agent_view){.name = g->names[i], .status = agent_status_of(r, g->names[i])};
    for (size_t k = 0; views && a.status == ROOM_OK && k < n; k++) {
        struct chatd_room room = storage_room(r->storage, rooms, k);
        for (size_t i = 0; room.agent && i < g->n; i++)
            if (strcmp(views[i].name, room.agent) == 0)
                views[i].open++;
    }
    if (views)
        qsort(views, g->n, sizeof *views, by_name);
    g->cb(g->ctx, &a, a.status == ROOM_OK ? views : NULL, a.status == ROOM_OK ? g->n : 0, r->max_chats_per_agent);
    free(views);
    gather_free(g);
}

void agents_gather(struct rooms *r, agents_answer_cb cb, void *ctx)
{
    struct gather *g = calloc(1, sizeof *g);
    if (!g) {
        cb(ctx, &(struct room_answer){ROOM_NOMEM, "out of memory"}, NULL, 0, 0);
        return;
    }
    *g = (struct gather){.r = r, .cb = cb, .ctx = ctx};
    if (r->presence.each_agent)
        r->presence.each_agent(r->presence.ctx, add_name, g);
    if (g->nomem) {
        cb(ctx, &(struct room_answer){ROOM_NOMEM, "out of memory"}, NULL, 0, 0);
        gather_free(g);
        return;
    }
    /* One list of every assigned support room counts every agent's load. */
    struct chatd_room_filter f = {.kind = CHATD_ROOM_SUPPORT, .state = CHATD_ROOM_ASSIGNED};
    void *state;
    storage_ops(r->storage, &state)->room_list(state, &f, assigned_cb, g);
}

void agents_list(struct rooms *r, uint32_t roles, agents_answer_cb cb, void *ctx)
{
    if (!(roles & (DESK_READERS | CHATD_ROLE_ADMIN))) {
        cb(ctx, &(struct room_answer){ROOM_FORBIDDEN, "only agents, supervisors and admins see the agents"}, NULL, 0,
           0);
        return;
    }
    agents_gather(r, cb, ctx);
}

void agents_set_status(struct rooms *r, const char *agent, uint32_t roles, const char *status, done_answer_cb cb,
                       void *ctx)
{
    if (!(roles & CHATD_ROLE_AGENT)) {
        cb(ctx, &(struct room_answer){ROOM_FORBIDDEN, "only agents have a status"});
        return;
    }
    bool away;
    if (status && strcmp(status, "away") == 0)
        away = true;
    else if (status && strcmp(status, "online") == 0)
        away = false;
    else {
        cb(ctx, &(struct room_answer){ROOM_BAD_REQUEST, "status must be \"away\" or \"online\""});
        return;
    }
    if (!r->presence.set_away) {
        cb(ctx, &(struct room_answer){ROOM_NOT_SUPPORTED, "agent status is not kept here"});
        return;
    }
    r->presence.set_away(r->presence.ctx, agent, away);
    cb(ctx, &(struct room_answer){ROOM_OK, NULL});
}
