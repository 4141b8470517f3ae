#include "rooms/files.h"
#include "rooms/support.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "metrics.h"
#include "plugins/storage_port.h"
#include "rooms/first_response.h"
#include "rooms/room_rules.h"
#include "rooms/routing.h"
#include "support_skills.h"

/* One support operation waiting for storage. */
struct support_op {
    struct rooms *r;
    room_answer_cb cb;
    rooms_answer_cb list_cb;
    leave_answer_cb leave_cb;
    void *ctx;
    bool claim; /* claim, else complete */
    int64_t assigned_ms; /* complete: when the room was assigned, as looked up */
    uint32_t roles;
    char room[ROOM_ID_MAX];
    char user[USER_NAME_MAX + 1];
};

static struct support_op *op_new(struct rooms *r, const char *room_id, const char *user, void *ctx)
{
    struct support_op *op = calloc(1, sizeof *op);
    if (!op)
        return NULL;
    op->r = r;
    op->ctx = ctx;
    snprintf(op->room, sizeof op->room, "%s", room_id ? room_id : "");
    snprintf(op->user, sizeof op->user, "%s", user ? user : "");
    return op;
}

static const struct room_answer nomem = {ROOM_NOMEM, "out of memory"};

/* One open support room per customer. */
void support_unique_key(char *out, size_t len, const char *customer)
{
    snprintf(out, len, "support:%s", customer);
}

void support_open(struct rooms *r, const char *customer, const char *topic, room_answer_cb cb, void *ctx)
{
    const char *why = NULL;
    if (topic && !support_topic_valid(topic, strlen(topic), &why)) {
        cb(ctx, &(struct room_answer){ROOM_BAD_REQUEST, why}, NULL);
        return;
    }
    char id[40], key[600];
    room_new_id(id);
    const char *members[] = {customer};
    struct chatd_room room = {.id = id, .kind = CHATD_ROOM_SUPPORT, .owner = customer, .created_ms = clock_wall_ms(),
                              .state = CHATD_ROOM_OPEN, .members = members, .nmembers = 1, .topic = topic};
    support_unique_key(key, sizeof key, customer);
    rooms_create(r, &room, key, cb, ctx);
}

static void listed_cb(void *ctx, chatd_status st, const struct chatd_room *rooms, size_t n)
{
    struct support_op *op = ctx;
    struct room_answer a = room_answer_of(st, "no such room");
    struct chatd_room *views = st == CHATD_OK ? calloc(n ? n : 1, sizeof *views) : NULL;
    if (st == CHATD_OK && !views)
        a = nomem;
    for (size_t i = 0; views && i < n; i++)
        views[i] = storage_room(op->r->storage, rooms, i);
    op->list_cb(op->ctx, &a, views, views ? n : 0);
    free(views);
    free(op);
}

void support_queue(struct rooms *r, const char *agent, uint32_t roles, bool assigned, rooms_answer_cb cb, void *ctx)
{
    if (!(roles & DESK_READERS)) {
        cb(ctx, &(struct room_answer){ROOM_FORBIDDEN, "only agents and supervisors see the support queue"}, NULL, 0);
        return;
    }
    struct support_op *op = op_new(r, NULL, agent, ctx);
    if (!op) {
        cb(ctx, &nomem, NULL, 0);
        return;
    }
    op->list_cb = cb;
    struct chatd_room_filter f = {.for_user = op->user, .limit = 500, .kind = CHATD_ROOM_SUPPORT,
                                  .state = assigned ? CHATD_ROOM_ASSIGNED : CHATD_ROOM_OPEN,
                                  .agent = assigned ? op->user : NULL};
    void *state;
    storage_ops(r->storage, &state)->room_list(state, &f, listed_cb, op);
}

void support_rooms_in(struct rooms *r, uint32_t roles, chatd_room_state in, rooms_answer_cb cb, void *ctx)
{
    if (!(roles & CHATD_ROLE_SUPERVISOR)) {
        cb(ctx, &(struct room_answer){ROOM_FORBIDDEN, "only supervisors see every support room"}, NULL, 0);
        return;
    }
    struct support_op *op = op_new(r, NULL, NULL, ctx);
    if (!op) {
        cb(ctx, &nomem, NULL, 0);
        return;
    }
    op->list_cb = cb;
    struct chatd_room_filter f = {.limit = 500, .kind = CHATD_ROOM_SUPPORT, .state = in};
    void *state;
    storage_ops(r->storage, &state)->room_list(state, &f, listed_cb, op);
}

static void decided_cb(void *ctx, chatd_status st, const struct chatd_room *answer)
{
    struct support_op *op = ctx;
    struct rooms *r = op->r;
    struct chatd_room room = {0};
    if (answer)
        room = storage_room(r->storage, answer, 0);
    struct room_answer a;
    if (st == CHATD_ERR_CONFLICT)
        a = (struct room_answer){ROOM_CONFLICT, answer && room.state == CHATD_ROOM_CLOSED ? "the room is closed"
                                                : op->claim ? "the room is already assigned"
                                                            : "the room is not assigned to you"};
    else if (st != CHATD_OK || !answer)
        a = room_answer_of(st == CHATD_OK ? CHATD_ERR_INTERNAL : st, "no such room");
    else
        a = (struct room_answer){ROOM_OK, NULL};
    if (a.status == ROOM_OK && op->claim) {
        if (r->metrics)
            metrics_observe_wait(r->metrics->support_wait, &r->metrics->support_wait_sum,
                                 room.assigned_ms - routing_queued_since(r, room.id, room.created_ms));
        r->events.claimed(r->events.ctx, &room);
    } else if (a.status == ROOM_OK) {
        /* When the agent took it is in the room as the storage answers
         * before completing; this instance's clock ends it. */
        if (r->metrics && op->assigned_ms > 0)
            metrics_observe_handle(r->metrics->handle_time, &r->metrics->handle_time_sum,
                                   clock_wall_ms() - op->assigned_ms);
        first_response_forget(r->first_response, room.id);
        r->events.completed(r->events.ctx, &room);
        routing_kick(r->routing); /* the agent has room for another */
    }
    op->cb(op->ctx, &a, a.status == ROOM_OK ? &room : NULL);
    free(op);
}

static void claim_room_cb(void *ctx, const struct room_answer *a, const struct chatd_room *room)
{
    struct support_op *op = ctx;
    bool agent = op->roles & CHATD_ROLE_AGENT;
    /* A claim that lost the race must hear CONFLICT, not NOT_FOUND: agents
     * address every support room when claiming. */
    bool claimable = op->claim && room && agent && room->kind == CHATD_ROOM_SUPPORT;
    struct room_answer refused = {0};
    if (a->status != ROOM_OK)
        refused = *a;
    else if (!(claimable || room_can_see(room, op->user, op->roles)))
        refused = (struct room_answer){ROOM_NOT_FOUND, "no such room"};
    else if (op->claim && !agent)
        refused = (struct room_answer){ROOM_FORBIDDEN, "only agents claim rooms"};
    else if (op->claim && room->kind != CHATD_ROOM_SUPPORT)
        refused = (struct room_answer){ROOM_BAD_REQUEST, "only support rooms are claimed"};
    else if (!op->claim && (!agent || room->kind != CHATD_ROOM_SUPPORT))
        refused = (struct room_answer){ROOM_FORBIDDEN, "only the assigned agent completes a support room"};
    if (refused.status != ROOM_OK) {
        op->cb(op->ctx, &refused, NULL);
        free(op);
        return;
    }
    op->assigned_ms = room->assigned_ms;
    void *state;
    const struct chatd_storage_ops *ops = storage_ops(op->r->storage, &state);
    if (op->claim)
        ops->room_claim(state, op->room, op->user, clock_wall_ms(), decided_cb, op);
    else
        ops->room_complete(state, op->room, op->user, decided_cb, op);
}

static void claim_or_complete(struct rooms *r, const char *room_id, const char *agent, uint32_t roles, bool claim,
                              room_answer_cb cb, void *ctx)
{
    struct support_op *op = op_new(r, room_id, agent, ctx);
    if (!op) {
        cb(ctx, &nomem, NULL);
        return;
    }
    op->cb = cb;
    op->claim = claim;
    op->roles = roles;
    rooms_look_up(r, op->room, op->user, claim_room_cb, op);
}

void support_claim(struct rooms *r, const char *room_id, const char *agent, uint32_t roles, room_answer_cb cb,
                   void *ctx)
{
    claim_or_complete(r, room_id, agent, roles, true, cb, ctx);
}

void support_complete(struct rooms *r, const char *room_id, const char *agent, uint32_t roles, room_answer_cb cb,
                      void *ctx)
{
    claim_or_complete(r, room_id, agent, roles, false, cb, ctx);
}

/* Closed: a read-only transcript now. */
static void closed_cb(void *ctx, chatd_status st, const struct chatd_room *answer)
{
    struct support_op *op = ctx;
    struct rooms *r = op->r;
    struct room_answer a = st == CHATD_ERR_CONFLICT ? (struct room_answer){ROOM_CONFLICT, "the room is closed already"}
                           : st != CHATD_OK || !answer
                               ? room_answer_of(st == CHATD_OK ? CHATD_ERR_INTERNAL : st, "no such room")
                               : (struct room_answer){ROOM_OK, NULL};
    if (a.status == ROOM_OK) {
        struct chatd_room room = storage_room(r->storage, answer, 0);
        first_response_forget(r->first_response, room.id);
        r->events.closed(r->events.ctx, room.id, op->user, &room);
        routing_kick(r->routing);
    }
    op->leave_cb(op->ctx, &a, ROOM_CLOSED_KEPT);
    free(op);
}

/* Without room_close (a storage plugin older than SDK 1.2) the room goes
 * with its history. */
static void deleted_cb(void *ctx, chatd_status st)
{
    struct support_op *op = ctx;
    struct room_answer a = room_answer_of(st, "no such room");
    if (a.status == ROOM_OK) {
        first_response_forget(op->r->first_response, op->room);
        op->r->events.closed(op->r->events.ctx, op->room, op->user, NULL);
        routing_kick(op->r->routing);
        files_forget_room(op->r, op->room);
    }
    op->leave_cb(op->ctx, &a, ROOM_CLOSED_DELETED);
    free(op);
}

void support_close(struct rooms *r, const char *room_id, const char *customer, leave_answer_cb cb, void *ctx)
{
    struct support_op *op = op_new(r, room_id, customer, ctx);
    if (!op) {
        cb(ctx, &nomem, ROOM_CLOSED_KEPT);
        return;
    }
    op->leave_cb = cb;
    void *state;
    const struct chatd_storage_ops *ops = storage_ops(r->storage, &state);
    storage_close_fn close_room = storage_room_close(r->storage);
    if (close_room)
        close_room(state, op->room, clock_wall_ms(), closed_cb, op);
    else
        ops->room_delete(state, op->room, deleted_cb, op);
}
