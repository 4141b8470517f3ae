/* What every operation of the rooms domain shares: the answer for a
 * storage status, the look-up most start with, and creating a room. */
#include "rooms/rooms.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plugins/storage_port.h"
#include "rooms/room_rules.h"
#include "rooms/first_response.h"
#include "rooms/routing.h"

struct room_answer room_answer_of(chatd_status st, const char *not_found)
{
    switch (st) {
    case CHATD_OK: return (struct room_answer){ROOM_OK, NULL};
    case CHATD_ERR_EXISTS: return (struct room_answer){ROOM_EXISTS, NULL};
    case CHATD_ERR_NOT_FOUND: return (struct room_answer){ROOM_NOT_FOUND, not_found};
    case CHATD_ERR_LIMIT: return (struct room_answer){ROOM_LIMIT, chatd_strerror(st)};
    default: return (struct room_answer){ROOM_UNAVAILABLE, chatd_strerror(st)};
    }
}

struct look_up {
    struct rooms *r;
    room_answer_cb cb;
    void *ctx;
};

static void looked_up_cb(void *ctx, chatd_status st, const struct chatd_room *answer)
{
    struct look_up *op = ctx;
    struct room_answer a = room_answer_of(st == CHATD_OK && !answer ? CHATD_ERR_NOT_FOUND : st, "no such room");
    struct chatd_room view = {0};
    if (answer)
        view = storage_room(op->r->storage, answer, 0);
    op->cb(op->ctx, &a, a.status == ROOM_OK ? &view : NULL);
    free(op);
}

void rooms_look_up(struct rooms *r, const char *room_id, const char *for_user, room_answer_cb cb, void *ctx)
{
    struct look_up *op = malloc(sizeof *op);
    if (!op) {
        cb(ctx, &(struct room_answer){ROOM_NOMEM, "out of memory"}, NULL);
        return;
    }
    *op = (struct look_up){r, cb, ctx};
    void *state;
    storage_ops(r->storage, &state)->room_get(state, room_id, for_user, looked_up_cb, op);
}

struct create {
    struct rooms *r;
    room_answer_cb cb;
    void *ctx;
    char creator[USER_NAME_MAX + 1];
};

static void created_cb(void *ctx, chatd_status st, const struct chatd_room *answer)
{
    struct create *op = ctx;
    struct rooms *r = op->r;
    if ((st != CHATD_OK && st != CHATD_ERR_EXISTS) || !answer) {
        struct room_answer a = room_answer_of(st == CHATD_OK ? CHATD_ERR_INTERNAL : st, "no such room");
        op->cb(op->ctx, &a, NULL);
        free(op);
        return;
    }
    struct chatd_room room = storage_room(r->storage, answer, 0);
    if (st == CHATD_OK && room.kind == CHATD_ROOM_SUPPORT) {
        r->events.opened(r->events.ctx, &room);
        first_response_wait(r->first_response, room.id, room.owner, room.created_ms, 0, true);
        routing_kick(r->routing); /* an agent may take it at once */
    }
    /* Everyone in a new room but its creator hears of it. */
    if (st == CHATD_OK)
        for (size_t i = 0; i < room.nmembers; i++)
            if (strcmp(room.members[i], op->creator) != 0)
                r->events.added(r->events.ctx, room.members[i], room.id, &room);
    struct room_answer a = room_answer_of(st, NULL);
    op->cb(op->ctx, &a, &room);
    free(op);
}

void rooms_create(struct rooms *r, const struct chatd_room *room, const char *unique_key, room_answer_cb cb,
                  void *ctx)
{
    struct create *op = malloc(sizeof *op);
    if (!op) {
        cb(ctx, &(struct room_answer){ROOM_NOMEM, "out of memory"}, NULL);
        return;
    }
    *op = (struct create){.r = r, .cb = cb, .ctx = ctx};
    snprintf(op->creator, sizeof op->creator, "%s", room->owner ? room->owner : "");
    void *state;
    storage_ops(r->storage, &state)->room_create(state, room, unique_key, created_cb, op);
}
