#include "rooms/typing.h"

#include <stdio.h>
#include <stdlib.h>

#include "rooms/room_rules.h"

static const struct room_answer not_found = {ROOM_NOT_FOUND, "no such room"};

struct typing_op {
    struct rooms *r;
    done_answer_cb cb;
    void *ctx;
    char user[USER_NAME_MAX + 1];
};

static void room_cb(void *ctx, const struct room_answer *a, const struct chatd_room *room)
{
    struct typing_op *op = ctx;
    if (a->status == ROOM_OK && !room_is_member(room, op->user))
        a = &not_found;
    if (a->status == ROOM_OK)
        op->r->events.typing(op->r->events.ctx, room->id, op->user);
    op->cb(op->ctx, a);
    free(op);
}

void typing_signal(struct rooms *r, const char *room_id, const char *user, done_answer_cb cb, void *ctx)
{
    struct typing_op *op = calloc(1, sizeof *op);
    if (!op) {
        cb(ctx, &(struct room_answer){ROOM_NOMEM, "out of memory"});
        return;
    }
    *op = (struct typing_op){.r = r, .cb = cb, .ctx = ctx};
    snprintf(op->user, sizeof op->user, "%s", user);
    rooms_look_up(r, room_id, NULL, room_cb, op);
}
