#include "rooms/read_marks.h"

#include <stdio.h>
#include <stdlib.h>

#include "plugins/storage_port.h"
#include "rooms/room_rules.h"

static const struct room_answer not_found = {ROOM_NOT_FOUND, "no such room"};

struct mark_op {
    struct rooms *r;
    read_mark_answer_cb cb;
    void *ctx;
    uint64_t seq;
    uint64_t last_seq; /* the room's when looked up */
    char room[ROOM_ID_MAX];
    char user[USER_NAME_MAX + 1];
};

/* Only now the answer and the `read` event (with the reader's unread count
 * for their own sessions), so that a client told its mark is stored finds
 * its unread count updated. */
static void marked_cb(void *ctx, chatd_status st)
{
    struct mark_op *op = ctx;
    struct room_answer a = room_answer_of(st, "no such room");
    if (a.status == ROOM_OK)
        op->r->events.read(op->r->events.ctx, op->room, op->user, op->seq,
                           op->last_seq > op->seq ? op->last_seq - op->seq : 0);
    op->cb(op->ctx, &a, op->seq);
    free(op);
}

static void room_cb(void *ctx, const struct room_answer *a, const struct chatd_room *room)
{
    struct mark_op *op = ctx;
    if (a->status == ROOM_OK && !room_is_member(room, op->user))
        a = &not_found;
    if (a->status != ROOM_OK) {
        op->cb(op->ctx, a, 0);
        free(op);
        return;
    }
    if (op->seq > room->last_seq)
        op->seq = room->last_seq;
    /* a mark is never lowered: one below the stored mark leaves it */
    if (op->seq < room->read_seq)
        op->seq = room->read_seq;
    op->last_seq = room->last_seq;
    void *state;
    storage_ops(op->r->storage, &state)->read_mark(state, op->room, op->user, op->seq, marked_cb, op);
}

void read_mark_set(struct rooms *r, const char *room_id, const char *user, uint64_t seq, read_mark_answer_cb cb,
                   void *ctx)
{
    struct mark_op *op = calloc(1, sizeof *op);
    if (!op) {
        cb(ctx, &(struct room_answer){ROOM_NOMEM, "out of memory"}, 0);
        return;
    }
    *op = (struct mark_op){.r = r, .cb = cb, .ctx = ctx, .seq = seq};
    snprintf(op->room, sizeof op->room, "%s", room_id);
    snprintf(op->user, sizeof op->user, "%s", user);
    rooms_look_up(r, op->room, op->user, room_cb, op);
}
