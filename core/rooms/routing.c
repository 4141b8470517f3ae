#include "rooms/routing.h"

#include <event2/event.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "log.h"
#include "metrics.h"
#include "plugins/storage_port.h"
#include "rooms/first_response.h"
#include "rooms/queue_position.h"
#include "strmap.h"
#include "rooms/room_rules.h"
#include "rooms/topic_wait.h"
#include "support_skills.h"

#define SWEEP_MS 1000

static bool available(const struct agent_view *a, size_t max_open)
{
    return a->status == AGENT_ONLINE && (max_open == 0 || a->open < max_open);
}

long routing_pick(enum support_assign mode, const struct agent_view *agents, size_t n, size_t max_open,
                  const char *last, const bool *eligible)
{
    if (mode == SUPPORT_ASSIGN_MANUAL || n == 0)
        return -1;
    /* Start after `last`: the first name greater than it (sorted order). */
    size_t start = 0;
    if (last)
        while (start < n && strcmp(agents[start].name, last) <= 0)
            start++;
    long best = -1;
    for (size_t k = 0; k < n; k++) {
        size_t i = (start + k) % n;
        if (!available(&agents[i], max_open) || (eligible && !eligible[i]))
            continue;
        if (mode == SUPPORT_ASSIGN_ROUND_ROBIN)
            return (long)i;
        if (best < 0 || agents[i].open < agents[best].open)
            best = (long)i;
    }
    return best;
}

long routing_pick_room(enum support_assign mode, const struct agent_view *agents, size_t n, size_t max_open,
                       const char *last, const bool *eligible, bool open_to_all)
{
    long pick = routing_pick(mode, agents, n, max_open, last, eligible);
    if (pick < 0 && eligible && open_to_all)
        pick = routing_pick(mode, agents, n, max_open, last, NULL);
    return pick;
}

struct routing {
    struct rooms *r;
    enum support_assign mode;
    bool (*is_leader)(const void *ctx);
    const void *leader_ctx;
    void (*ask)(void *ctx); /* a kick here, where this instance does not route */
    void *ask_ctx;
    struct event *kick; /* end of this loop turn */
    struct event *sweep;
    struct event *due; /* the next topic room whose [support] topic_wait ends */
    bool running, again, kicked, closing;
    char last[USER_NAME_MAX + 1]; /* the agent the previous room went to */
    size_t passes, assigned;
    struct queue_position *positions;
    struct topic_wait *waits; /* when each room in the queue entered it */
    /* The pass under way. */
    struct agent_view *agents;
    char **names;
    bool *eligible; /* for the room at hand: the agents its topic lets in */
    size_t nagents;
    char (*queue)[ROOM_ID_MAX];
    char **owners;
    char **topics; /* NULL: none */
    int64_t *since; /* when each entered the queue (topic_wait_listed) */
    int64_t now_ms; /* the pass's clock, for every room of it */
    bool *gone;    /* assigned (or claimed, closed) during this pass */
    size_t nqueue, next;
    long claimant;
};

static void pass_run(struct routing *rt);

/* The start of the room's first-response wait where one is kept (this
 * instance's or a copy of another's): since_ms is left alone otherwise. */
static bool wait_began(const struct rooms *r, const char *room_id, int64_t *since_ms)
{
    int64_t since;
    bool flagged;
    if (!r->first_response || !first_response_of(r->first_response, room_id, &since, &flagged) || since <= 0)
        return false;
    *since_ms = since;
    return true;
}

int64_t routing_queued_since(const struct rooms *r, const char *room_id, int64_t fallback_ms)
{
    int64_t since = fallback_ms;
    if (!wait_began(r, room_id, &since) && r->routing)
        (void)topic_wait_since(r->routing->waits, room_id, &since);
    return since;
}

/* What is left of the queue, oldest first, told to its customers: each
 * one's place is counted in its own line, the room's topic when some agent
 * has that skill, else the one line of every other room (""). */
static void tell_positions(struct routing *rt)
{
    struct queued_room *left = calloc(rt->nqueue ? rt->nqueue : 1, sizeof *left);
    struct strmap lines; /* line -> (uintptr_t) rooms in it so far */
    strmap_init(&lines);
    size_t n = 0;
    for (size_t i = 0; left && i < rt->nqueue; i++) {
        if (rt->gone[i])
            continue;
        const char *t = rt->topics[i], *line = t && support_skills_known(rt->r->skills, t) ? t : "";
        uintptr_t position = (uintptr_t)strmap_get(&lines, line) + 1;
        if (strmap_put(&lines, line, (void *)position) < 0)
            break; /* out of memory: the rest hears nothing this pass */
        left[n++] = (struct queued_room){rt->queue[i], rt->owners[i], position};
    }
    strmap_free(&lines);
    if (!left)
        return;
    queue_position_update(rt->positions, rt->r, left, n);
    if (rt->r->metrics)
        rt->r->metrics->support_queue = n;
    free(left);
}

/* A topic room left waiting for its skill gets a pass of its own the
 * moment its [support] topic_wait ends, rather than at the next sweep. */
static void arm_due(struct routing *rt)
{
    long long wait_ms = rt->r->topic_wait_ms;
    if (wait_ms <= 0)
        return;
    int64_t first = INT64_MAX;
    for (size_t i = 0; i < rt->nqueue; i++) {
        const char *t = rt->topics[i];
        if (rt->gone[i] || !t || !support_skills_known(rt->r->skills, t) ||
            topic_wait_over(wait_ms, rt->since[i], rt->now_ms))
            continue;
        if (rt->since[i] + wait_ms < first)
            first = rt->since[i] + wait_ms;
    }
    if (first == INT64_MAX)
        return;
    int64_t in_ms = first - clock_wall_ms();
    if (in_ms < 0)
        in_ms = 0;
    struct timeval tv = {in_ms / 1000, (in_ms % 1000) * 1000};
    event_add(rt->due, &tv);
}

static void pass_free(struct routing *rt)
{
    for (size_t i = 0; i < rt->nagents; i++)
        free(rt->names[i]);
    for (size_t i = 0; rt->owners && i < rt->nqueue; i++)
        free(rt->owners[i]);
    for (size_t i = 0; rt->topics && i < rt->nqueue; i++)
        free(rt->topics[i]);
    free(rt->owners);
    free(rt->topics);
    free(rt->since);
    rt->since = NULL;
    free(rt->gone);
    free(rt->eligible);
    rt->owners = rt->topics = NULL;
    rt->gone = rt->eligible = NULL;
    free(rt->names);
    free(rt->agents);
    free(rt->queue);
    rt->names = NULL;
    rt->agents = NULL;
    rt->queue = NULL;
    rt->nagents = rt->nqueue = rt->next = 0;
}

static void pass_end(struct routing *rt)
{
    if (rt->closing) {
        pass_free(rt);
        rt->running = false;
        return;
    }
    if (rt->queue && rt->owners && rt->topics && rt->gone)
        tell_positions(rt);
    if (rt->queue && rt->topics && rt->gone && rt->since)
        arm_due(rt);
    pass_free(rt);
    rt->running = false;
    if (rt->again) {
        rt->again = false;
        routing_kick(rt);
    }
}

static void claim_next(struct routing *rt);

static void claimed_cb(void *ctx, chatd_status st, const struct chatd_room *answer)
{
    struct routing *rt = ctx;
    struct rooms *r = rt->r;
    if (rt->closing) {
        pass_end(rt);
        return;
    }
    if (st == CHATD_OK && answer) {
        struct chatd_room room = storage_room(r->storage, answer, 0);
        struct agent_view *a = &rt->agents[rt->claimant];
        a->open++;
        snprintf(rt->last, sizeof rt->last, "%s", a->name);
        rt->assigned++;
        /* From its latest entry into the queue, the time topic_wait
         * counted from in this pass, not from its opening. */
        int64_t waited = room.assigned_ms - rt->since[rt->next];
        queue_position_assigned(rt->positions, waited);
        if (r->metrics) {
            metrics_observe_wait(r->metrics->assign_wait, &r->metrics->assign_wait_sum, waited);
            metrics_observe_wait(r->metrics->support_wait, &r->metrics->support_wait_sum, waited);
        }
        r->events.claimed(r->events.ctx, &room);
        /* The agent did not ask: they hear of their new room. */
        r->events.added(r->events.ctx, a->name, room.id, &room);
    } else if (st == CHATD_ERR_LIMIT) {
        /* The storage counted more open rooms than this pass knew of (a
         * claim by hand, another instance routing): the agent is full, the
         * same room goes to the next pick. */
        rt->agents[rt->claimant].open = r->max_chats_per_agent;
        claim_next(rt);
        return;
    } else if (st != CHATD_ERR_CONFLICT && st != CHATD_ERR_NOT_FOUND) {
        log_warn("support routing: room %s not assigned: %s", rt->queue[rt->next], chatd_strerror(st));
    }
    /* CONFLICT: claimed by hand meanwhile, or closed; the next room. */
    rt->gone[rt->next++] = true;
    claim_next(rt);
}

static void claim_next(struct routing *rt)
{
    const char *last = rt->last[0] ? rt->last : NULL;
    size_t max_open = rt->r->max_chats_per_agent;
    /* Each agent's skills, looked up once for the rooms below (only within
     * this call: a reload between two storage answers replaces them). */
    const struct agent_skills **skills = calloc(rt->nagents ? rt->nagents : 1, sizeof *skills);
    if (!skills) {
        pass_end(rt);
        return;
    }
    for (size_t i = 0; i < rt->nagents; i++)
        skills[i] = support_skills_find(rt->r->skills, rt->agents[i].name);
    for (rt->claimant = -1; rt->next < rt->nqueue; rt->next++) {
        /* Nobody to give any room to: the rest waits. */
        if (routing_pick(rt->mode, rt->agents, rt->nagents, max_open, last, NULL) < 0)
            break;
        const char *topic = rt->topics[rt->next];
        bool routed = topic && support_skills_known(rt->r->skills, topic);
        for (size_t i = 0; i < rt->nagents; i++)
            rt->eligible[i] = !routed || support_agent_has(skills[i], topic);
        /* A skilled agent first; after [support] topic_wait, any agent
         * (the sweep and the due timer bring the pass). */
        bool open_to_all = routed && topic_wait_over(rt->r->topic_wait_ms, rt->since[rt->next], rt->now_ms);
        rt->claimant =
            routing_pick_room(rt->mode, rt->agents, rt->nagents, max_open, last, rt->eligible, open_to_all);
        if (rt->claimant >= 0)
            break;
        /* Nobody with its skill is free: it waits, and the rooms behind it
         * of other topics are not held up by it. */
    }
    free(skills);
    if (rt->claimant < 0) {
        pass_end(rt);
        return;
    }
    void *state;
    const struct chatd_storage_ops *ops = storage_ops(rt->r->storage, &state);
    const char *room = rt->queue[rt->next], *agent = rt->agents[rt->claimant].name;
    /* The limit is the storage's to decide, in the step that claims: two
     * instances routing at once never give an agent more than it. */
    if (rt->r->max_chats_per_agent && storage_has_claim_limited(rt->r->storage))
        ops->room_claim_limited(state, room, agent, rt->r->max_chats_per_agent, clock_wall_ms(), claimed_cb, rt);
    else
        ops->room_claim(state, room, agent, clock_wall_ms(), claimed_cb, rt);
}

static void queue_cb(void *ctx, chatd_status st, const struct chatd_room *rooms, size_t n)
{
    struct routing *rt = ctx;
    if (rt->closing || st != CHATD_OK) {
        if (!rt->closing)
            log_warn("support routing: queue not listed: %s", chatd_strerror(st));
        pass_free(rt);
        pass_end(rt);
        return;
    }
    if (!(rt->queue = calloc(n ? n : 1, sizeof *rt->queue)) || !(rt->owners = calloc(n ? n : 1, sizeof *rt->owners)) ||
        !(rt->topics = calloc(n ? n : 1, sizeof *rt->topics)) || !(rt->gone = calloc(n ? n : 1, sizeof *rt->gone)) ||
        !(rt->since = calloc(n ? n : 1, sizeof *rt->since))) {
        pass_free(rt);
        pass_end(rt);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        struct chatd_room room = storage_room(rt->r->storage, rooms, i);
        snprintf(rt->queue[i], ROOM_ID_MAX, "%s", room.id);
        rt->owners[i] = strdup(room.owner ? room.owner : "");
        rt->topics[i] = room.topic ? strdup(room.topic) : NULL;
        rt->nqueue = i + 1;
        if (!rt->owners[i] || (room.topic && !rt->topics[i])) {
            pass_free(rt);
            pass_end(rt);
            return;
        }
    }
    const char **ids = calloc(n ? n : 1, sizeof *ids);
    if (!ids) {
        pass_free(rt);
        pass_end(rt);
        return;
    }
    for (size_t i = 0; i < n; i++)
        ids[i] = rt->queue[i];
    rt->now_ms = clock_wall_ms();
    /* Out of memory: the rooms it did not hold wait from now (longer). */
    (void)topic_wait_listed(rt->waits, ids, n, rt->now_ms, rt->since);
    free(ids);
    /* A customer's first-response wait began when the room entered the
     * queue (opened, sent back, reopened), on whichever instance, which
     * shares it: where this instance keeps it or a copy, that time wins
     * over its own count. */
    for (size_t i = 0; i < n; i++)
        (void)wait_began(rt->r, rt->queue[i], &rt->since[i]);
    claim_next(rt);
}

static void agents_cb(void *ctx, const struct room_answer *a, const struct agent_view *agents, size_t n, size_t limit)
{
    (void)limit;
    struct routing *rt = ctx;
    if (rt->closing || a->status != ROOM_OK) {
        pass_end(rt);
        return;
    }
    /* With nobody available the queue is listed all the same: its
     * customers hear their places. */
    rt->agents = calloc(n ? n : 1, sizeof *rt->agents);
    rt->names = calloc(n ? n : 1, sizeof *rt->names);
    rt->eligible = calloc(n ? n : 1, sizeof *rt->eligible);
    if (!rt->agents || !rt->names || !rt->eligible) {
        pass_end(rt);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        rt->agents[i] = agents[i];
        if (!(rt->names[i] = strdup(agents[i].name))) {
            rt->nagents = i;
            pass_end(rt);
            return;
        }
        rt->agents[i].name = rt->names[i];
    }
    rt->nagents = n;
    struct chatd_room_filter f = {.kind = CHATD_ROOM_SUPPORT, .state = CHATD_ROOM_OPEN};
    void *state;
    storage_ops(rt->r->storage, &state)->room_list(state, &f, queue_cb, rt);
}

static void pass_run(struct routing *rt)
{
    if (rt->closing)
        return;
    if (rt->running) {
        rt->again = true;
        return;
    }
    if (rt->mode == SUPPORT_ASSIGN_MANUAL || (rt->is_leader && !rt->is_leader(rt->leader_ctx))) {
        /* Another instance counts the waits now: should this one route
         * again, it starts them afresh rather than from times gone stale. */
        topic_wait_listed(rt->waits, NULL, 0, 0, NULL);
        return;
    }
    rt->running = true;
    rt->passes++;
    agents_gather(rt->r, agents_cb, rt);
}

static void on_kick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    struct routing *rt = arg;
    rt->kicked = false;
    pass_run(rt);
}

static void on_due(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    pass_run(arg);
}

struct routing *routing_new(struct rooms *r, struct event_base *base, enum support_assign mode,
                            bool (*is_leader)(const void *ctx), const void *leader_ctx)
{
    struct routing *rt = calloc(1, sizeof *rt);
    if (!rt)
        return NULL;
    *rt = (struct routing){.r = r, .mode = mode, .is_leader = is_leader, .leader_ctx = leader_ctx};
    rt->kick = event_new(base, -1, 0, on_kick, rt);
    rt->sweep = event_new(base, -1, EV_PERSIST, on_kick, rt);
    rt->due = evtimer_new(base, on_due, rt);
    rt->positions = queue_position_new();
    rt->waits = topic_wait_new();
    if (!rt->kick || !rt->sweep || !rt->due || !rt->positions || !rt->waits) {
        routing_free(rt);
        return NULL;
    }
    struct timeval tv = {SWEEP_MS / 1000, (SWEEP_MS % 1000) * 1000};
    if (mode != SUPPORT_ASSIGN_MANUAL)
        event_add(rt->sweep, &tv);
    return rt;
}

void routing_set_mode(struct routing *rt, enum support_assign mode)
{
    if (!rt || rt->closing || rt->mode == mode)
        return;
    rt->mode = mode;
    if (mode == SUPPORT_ASSIGN_MANUAL) {
        event_del(rt->sweep);
        event_del(rt->due);
        topic_wait_listed(rt->waits, NULL, 0, 0, NULL);
        return;
    }
    struct timeval tv = {SWEEP_MS / 1000, (SWEEP_MS % 1000) * 1000};
    event_add(rt->sweep, &tv);
    routing_kick(rt);
}

void routing_close(struct routing *rt)
{
    if (!rt)
        return;
    rt->closing = true;
    event_del(rt->sweep);
    event_del(rt->due);
}

void routing_free(struct routing *rt)
{
    if (!rt)
        return;
    if (rt->kick)
        event_free(rt->kick);
    if (rt->sweep)
        event_free(rt->sweep);
    if (rt->due)
        event_free(rt->due);
    pass_free(rt);
    queue_position_free(rt->positions);
    topic_wait_free(rt->waits);
    free(rt);
}

void routing_heard(struct routing *rt)
{
    if (!rt)
        return;
    rt->kicked = true;
    event_active(rt->kick, 0, 0);
}

void routing_kick(struct routing *rt)
{
    if (!rt)
        return;
    if (rt->ask && rt->mode != SUPPORT_ASSIGN_MANUAL && !rt->closing && rt->is_leader &&
        !rt->is_leader(rt->leader_ctx)) {
        rt->ask(rt->ask_ctx);
        return;
    }
    routing_heard(rt);
}

void routing_requeued(struct routing *rt, const char *room_id)
{
    if (rt)
        topic_wait_restart(rt->waits, room_id);
}

void routing_on_elsewhere(struct routing *rt, void (*ask)(void *ctx), void *ctx)
{
    if (!rt)
        return;
    rt->ask = ask;
    rt->ask_ctx = ctx;
}

bool routing_busy(const struct routing *rt)
{
    return rt && (rt->running || rt->kicked || rt->again);
}

size_t routing_passes(const struct routing *rt) { return rt ? rt->passes : 0; }
size_t routing_assigned(const struct routing *rt) { return rt ? rt->assigned : 0; }
