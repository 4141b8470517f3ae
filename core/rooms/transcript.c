#include "rooms/transcript.h"

#include <stdio.h>
#include <stdlib.h>

#include "plugins/storage_port.h"
#include "rooms/room_rules.h"

struct transcript_op {
    struct rooms *r;
    struct transcript_reader reader;
    uint32_t roles;
    size_t count;   /* messages handed over so far */
    uint64_t after; /* the seq of the last one */
    bool probing;   /* at the bound: is there one more? */
    char room[ROOM_ID_MAX];
    char user[USER_NAME_MAX + 1];
};

bool transcript_allowed(const struct chatd_room *r, const char *user, uint32_t roles)
{
    return room_can_see(r, user, roles) || ((roles & CHATD_ROLE_ADMIN) && r->kind == CHATD_ROOM_SUPPORT);
}

static void finish(struct transcript_op *op, const struct room_answer *a, bool truncated)
{
    op->reader.done(op->reader.ctx, a, truncated);
    free(op);
}

static void next_page(struct transcript_op *op);

static void page_cb(void *ctx, chatd_status st, const struct chatd_message *msgs, size_t n)
{
    struct transcript_op *op = ctx;
    if (st != CHATD_OK) {
        struct room_answer a = room_answer_of(st, "no such room");
        finish(op, &a, false);
        return;
    }
    if (op->probing) { /* the one message past the bound, if any */
        finish(op, &(struct room_answer){ROOM_OK, NULL}, n > 0);
        return;
    }
    size_t take = n < TRANSCRIPT_MAX_MESSAGES - op->count ? n : TRANSCRIPT_MAX_MESSAGES - op->count;
    if (take) {
        op->reader.messages(op->reader.ctx, msgs, take);
        op->after = msgs[take - 1].seq;
    }
    op->count += take;
    if (take < n) {
        finish(op, &(struct room_answer){ROOM_OK, NULL}, true);
    } else if (n < TRANSCRIPT_PAGE) {
        finish(op, &(struct room_answer){ROOM_OK, NULL}, false);
    } else if (op->count == TRANSCRIPT_MAX_MESSAGES) {
        op->probing = true;
        void *state;
        storage_ops(op->r->storage, &state)->message_list(state, op->room, 0, op->after, 1, page_cb, op);
    } else {
        next_page(op);
    }
}

static void next_page(struct transcript_op *op)
{
    void *state;
    storage_ops(op->r->storage, &state)->message_list(state, op->room, 0, op->after, TRANSCRIPT_PAGE, page_cb, op);
}

static void room_cb(void *ctx, const struct room_answer *a, const struct chatd_room *room)
{
    struct transcript_op *op = ctx;
    if (a->status != ROOM_OK) {
        finish(op, a, false);
        return;
    }
    if (!transcript_allowed(room, op->user, op->roles)) {
        finish(op, &(struct room_answer){ROOM_NOT_FOUND, "no such room"}, false);
        return;
    }
    if (room->kind != CHATD_ROOM_SUPPORT) {
        finish(op, &(struct room_answer){ROOM_BAD_REQUEST, "only support rooms have transcripts"}, false);
        return;
    }
    op->reader.room(op->reader.ctx, room);
    next_page(op);
}

void transcript_read(struct rooms *r, const char *room_id, const char *user, uint32_t roles,
                     const struct transcript_reader *reader)
{
    struct transcript_op *op = calloc(1, sizeof *op);
    if (!op) {
        reader->done(reader->ctx, &(struct room_answer){ROOM_NOMEM, "out of memory"}, false);
        return;
    }
    op->r = r;
    op->reader = *reader;
    op->roles = roles;
    snprintf(op->room, sizeof op->room, "%s", room_id);
    snprintf(op->user, sizeof op->user, "%s", user ? user : "");
    rooms_look_up(r, op->room, NULL, room_cb, op);
}
