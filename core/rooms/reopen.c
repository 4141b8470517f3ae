#include "rooms/reopen.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "plugins/storage_port.h"
#include "rooms/first_response.h"
#include "rooms/room_rules.h"
#include "rooms/routing.h"
#include "rooms/support.h"

bool support_reopenable(const struct rooms *r, const struct chatd_room *room, const char *sender)
{
    /* closed_ms of a COMPLETED room is when it was completed, from a plugin
     * with room_reopen (0 from one without, or a room completed before). */
    return r->reopen_window_ms > 0 && room->kind == CHATD_ROOM_SUPPORT && room->state == CHATD_ROOM_COMPLETED &&
           room->owner && strcmp(room->owner, sender) == 0 && room->closed_ms > 0 &&
           clock_wall_ms() - room->closed_ms <= r->reopen_window_ms && storage_has_reopen(r->storage);
}

struct reopen_op {
    struct rooms *r;
    room_answer_cb cb;
    void *ctx;
};

static void reopened_cb(void *ctx, chatd_status st, const struct chatd_room *answer)
{
    struct reopen_op *op = ctx;
    struct rooms *r = op->r;
    struct chatd_room room = {0};
    if (answer)
        room = storage_room(r->storage, answer, 0);
    struct room_answer a;
    if (st == CHATD_OK && answer) {
        a = (struct room_answer){ROOM_OK, NULL};
        r->events.reopened(r->events.ctx, &room);
        /* The customer's message that reopened it comes after last_seq. */
        first_response_wait(r->first_response, room.id, room.owner, clock_wall_ms(), room.last_seq, false);
        if (room.state == CHATD_ROOM_ASSIGNED && room.agent)
            r->events.added(r->events.ctx, room.agent, room.id, &room);
        else {
            routing_requeued(r->routing, room.id);
            routing_kick(r->routing); /* it waits in the queue */
        }
    } else if (st == CHATD_ERR_EXISTS && answer) {
        a = (struct room_answer){ROOM_EXISTS, "the customer has another open support room"};
    } else if (st == CHATD_ERR_CONFLICT) {
        a = (struct room_answer){ROOM_CONFLICT, "the room is no longer completed"};
    } else {
        a = room_answer_of(st == CHATD_OK ? CHATD_ERR_INTERNAL : st, "no such room");
    }
    op->cb(op->ctx, &a, answer ? &room : NULL);
    free(op);
}

void support_reopen(struct rooms *r, const struct chatd_room *room, room_answer_cb cb, void *ctx)
{
    struct reopen_op *op = calloc(1, sizeof *op);
    if (!op) {
        cb(ctx, &(struct room_answer){ROOM_NOMEM, "out of memory"}, NULL);
        return;
    }
    *op = (struct reopen_op){r, cb, ctx};
    /* The agent who completed it, if they can take it now: the storage
     * checks their limit in the step that reopens. */
    const char *agent = room->agent;
    const struct room_presence_port *p = &r->presence;
    if (agent && (!p->online(p->ctx, agent) || (p->away && p->away(p->ctx, agent))))
        agent = NULL;
    char key[600];
    support_unique_key(key, sizeof key, room->owner);
    struct chatd_room_reopen ro = {.size = sizeof ro, .room_id = room->id, .unique_key = key,
                                   .completed_after_ms = clock_wall_ms() - r->reopen_window_ms, .agent = agent,
                                   .max_open = r->max_chats_per_agent, .now_ms = clock_wall_ms()};
    void *state;
    storage_ops(r->storage, &state)->room_reopen(state, &ro, reopened_cb, op);
}
