#include "rooms/rating.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "plugins/storage_port.h"
#include "rooms/room_rules.h"
#include "utf8.h"

struct rating_op {
    struct rooms *r;
    room_answer_cb cb;
    void *ctx;
    uint32_t roles;
    uint32_t rating;
    char *comment; /* NULL: none */
    char room[ROOM_ID_MAX];
    char user[USER_NAME_MAX + 1];
};

static void finish(struct rating_op *op, const struct room_answer *a, const struct chatd_room *room)
{
    op->cb(op->ctx, a, room);
    free(op->comment);
    free(op);
}

static bool finished_state(const struct chatd_room *room)
{
    return room->state == CHATD_ROOM_COMPLETED || room->state == CHATD_ROOM_CLOSED;
}

static void rated_cb(void *ctx, chatd_status st, const struct chatd_room *room)
{
    struct rating_op *op = ctx;
    if (st == CHATD_ERR_CONFLICT && room && room->rating) {
        finish(op, &(struct room_answer){ROOM_CONFLICT, "the room is rated already"}, room);
        return;
    }
    if (st == CHATD_ERR_CONFLICT) {
        finish(op, &(struct room_answer){ROOM_CONFLICT, "a room is rated once it is completed"}, room);
        return;
    }
    if (st == CHATD_ERR_UNSUPPORTED) {
        finish(op, &(struct room_answer){ROOM_NOT_SUPPORTED, "the storage keeps no ratings"}, NULL);
        return;
    }
    struct room_answer a = room_answer_of(st, "no such room");
    if (a.status == ROOM_OK && room)
        op->r->events.rated(op->r->events.ctx, room);
    finish(op, &a, st == CHATD_OK ? room : NULL);
}

static void room_cb(void *ctx, const struct room_answer *a, const struct chatd_room *room)
{
    struct rating_op *op = ctx;
    if (a->status != ROOM_OK) {
        finish(op, a, NULL);
        return;
    }
    if (!room_can_see(room, op->user, op->roles)) {
        finish(op, &(struct room_answer){ROOM_NOT_FOUND, "no such room"}, NULL);
        return;
    }
    if (room->kind != CHATD_ROOM_SUPPORT) {
        finish(op, &(struct room_answer){ROOM_BAD_REQUEST, "only support rooms are rated"}, NULL);
        return;
    }
    if (!room->owner || strcmp(room->owner, op->user) != 0) {
        finish(op, &(struct room_answer){ROOM_FORBIDDEN, "only the room's customer rates it"}, NULL);
        return;
    }
    if (room->rating) {
        finish(op, &(struct room_answer){ROOM_CONFLICT, "the room is rated already"}, room);
        return;
    }
    if (!finished_state(room)) {
        finish(op, &(struct room_answer){ROOM_CONFLICT, "a room is rated once it is completed"}, room);
        return;
    }
    struct chatd_room_rating rt = {.size = sizeof rt, .room_id = op->room, .rating = op->rating,
                                   .comment = op->comment, .now_ms = clock_wall_ms()};
    void *state;
    storage_ops(op->r->storage, &state)->room_rate(state, &rt, rated_cb, op);
}

void support_rate(struct rooms *r, const struct rating_request *req, room_answer_cb cb, void *ctx)
{
    char why[96];
    if (req->rating < RATING_MIN || req->rating > RATING_MAX) {
        snprintf(why, sizeof why, "a rating is a whole number from %d to %d", RATING_MIN, RATING_MAX);
        cb(ctx, &(struct room_answer){ROOM_BAD_REQUEST, why}, NULL);
        return;
    }
    if (req->comment && (req->comment_len > RATING_COMMENT_MAX ||
                         memchr(req->comment, '\0', req->comment_len) ||
                         !utf8_valid((const unsigned char *)req->comment, req->comment_len))) {
        snprintf(why, sizeof why, "a comment is UTF-8 text of at most %d bytes", RATING_COMMENT_MAX);
        cb(ctx, &(struct room_answer){ROOM_BAD_REQUEST, why}, NULL);
        return;
    }
    if (!storage_has_rate(r->storage)) {
        cb(ctx, &(struct room_answer){ROOM_NOT_SUPPORTED, "the storage keeps no ratings"}, NULL);
        return;
    }
    struct rating_op *op = calloc(1, sizeof *op);
    if (!op || (req->comment && req->comment_len && !(op->comment = strndup(req->comment, req->comment_len)))) {
        free(op);
        cb(ctx, &(struct room_answer){ROOM_NOMEM, "out of memory"}, NULL);
        return;
    }
    op->r = r;
    op->cb = cb;
    op->ctx = ctx;
    op->roles = req->roles;
    op->rating = (uint32_t)req->rating;
    snprintf(op->room, sizeof op->room, "%s", req->room_id);
    snprintf(op->user, sizeof op->user, "%s", req->user ? req->user : "");
    rooms_look_up(r, op->room, NULL, room_cb, op);
}
