#include "rooms/membership.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "plugins/storage_port.h"
#include "rooms/group_changes.h"
#include "rooms/room_rules.h"
#include "rooms/support.h"
#include "visitor_token.h"

static const struct room_answer nomem = {ROOM_NOMEM, "out of memory"};
static const struct room_answer not_found = {ROOM_NOT_FOUND, "no such room"};
static const struct room_answer visitors_support_only = {ROOM_FORBIDDEN, VISITORS_SUPPORT_ONLY};

void membership_create_direct(struct rooms *r, const char *user, const char *with, room_answer_cb cb, void *ctx)
{
    if (!with || !*with || strlen(with) > USER_NAME_MAX || strcmp(with, user) == 0) {
        cb(ctx, &(struct room_answer){ROOM_BAD_REQUEST, "\"with\" must name another user"}, NULL);
        return;
    }
    if (user_is_visitor(user) || user_is_visitor(with)) {
        cb(ctx, &visitors_support_only, NULL);
        return;
    }
    char id[40], key[600];
    room_new_id(id);
    const char *members[] = {user, with};
    struct chatd_room room = {.id = id, .kind = CHATD_ROOM_DIRECT, .owner = user, .created_ms = clock_wall_ms(),
                              .state = CHATD_ROOM_OPEN, .members = members, .nmembers = 2};
    /* One room per pair, whoever asks first: the key orders the pair. */
    const char *a = strcmp(user, with) < 0 ? user : with, *b = a == user ? with : user;
    snprintf(key, sizeof key, "direct:%zu:%s|%s", strlen(a), a, b);
    rooms_create(r, &room, key, cb, ctx);
}

void membership_create_group(struct rooms *r, const char *user, const char *title, const char *const *members,
                             size_t n, room_answer_cb cb, void *ctx)
{
    if (!title || !*title || strlen(title) > GROUP_TITLE_MAX) {
        cb(ctx, &(struct room_answer){ROOM_BAD_REQUEST, "a group needs a \"title\" (1 to 200 bytes)"}, NULL);
        return;
    }
    if (user_is_visitor(user)) {
        cb(ctx, &visitors_support_only, NULL);
        return;
    }
    if (n > GROUP_MEMBERS_MAX) {
        cb(ctx, &(struct room_answer){ROOM_BAD_REQUEST, "\"members\" must be an array of at most 256 user names"},
           NULL);
        return;
    }
    const char *all[GROUP_MEMBERS_MAX + 1];
    size_t k = 0;
    all[k++] = user;
    for (size_t i = 0; i < n; i++) {
        const char *m = members[i];
        if (!m || !*m || strlen(m) > USER_NAME_MAX) {
            cb(ctx, &(struct room_answer){ROOM_BAD_REQUEST, "\"members\" must be an array of user names"}, NULL);
            return;
        }
        if (user_is_visitor(m)) {
            cb(ctx, &visitors_support_only, NULL);
            return;
        }
        bool dup = false;
        for (size_t j = 0; j < k; j++)
            dup |= strcmp(all[j], m) == 0;
        if (!dup)
            all[k++] = m;
    }
    char id[40];
    room_new_id(id);
    struct chatd_room room = {.id = id, .kind = CHATD_ROOM_GROUP, .title = title, .owner = user,
                              .created_ms = clock_wall_ms(), .state = CHATD_ROOM_OPEN, .members = all, .nmembers = k};
    rooms_create(r, &room, NULL, cb, ctx);
}

struct member_op {
    struct rooms *r;
    room_answer_cb cb;
    rooms_answer_cb list_cb;
    leave_answer_cb leave_cb;
    void *ctx;
    uint32_t roles;
    char user[USER_NAME_MAX + 1];
};

static struct member_op *op_new(struct rooms *r, const char *user, uint32_t roles, void *ctx)
{
    struct member_op *op = calloc(1, sizeof *op);
    if (!op)
        return NULL;
    op->r = r;
    op->ctx = ctx;
    op->roles = roles;
    snprintf(op->user, sizeof op->user, "%s", user);
    return op;
}

static void listed_cb(void *ctx, chatd_status st, const struct chatd_room *rooms, size_t n)
{
    struct member_op *op = ctx;
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

void membership_rooms_of(struct rooms *r, const char *user, rooms_answer_cb cb, void *ctx)
{
    struct member_op *op = op_new(r, user, 0, ctx);
    if (!op) {
        cb(ctx, &nomem, NULL, 0);
        return;
    }
    op->list_cb = cb;
    struct chatd_room_filter f = {.member = op->user, .for_user = op->user, .limit = 500};
    void *state;
    storage_ops(r->storage, &state)->room_list(state, &f, listed_cb, op);
}

static void shown_cb(void *ctx, const struct room_answer *a, const struct chatd_room *room)
{
    struct member_op *op = ctx;
    if (a->status == ROOM_OK && !room_can_see(room, op->user, op->roles))
        op->cb(op->ctx, &(struct room_answer){ROOM_NOT_FOUND, "no such room"}, NULL);
    else
        op->cb(op->ctx, a, room);
    free(op);
}

void membership_show(struct rooms *r, const char *room_id, const char *user, uint32_t roles, room_answer_cb cb,
                     void *ctx)
{
    struct member_op *op = op_new(r, user, roles, ctx);
    if (!op) {
        cb(ctx, &nomem, NULL);
        return;
    }
    op->cb = cb;
    rooms_look_up(r, room_id, op->user, shown_cb, op);
}

static void left_group_cb(void *ctx, const struct room_answer *a, const struct chatd_room *room)
{
    (void)room;
    struct member_op *op = ctx;
    op->leave_cb(op->ctx, a, ROOM_LEFT_GROUP);
    free(op);
}

static void leaving_cb(void *ctx, const struct room_answer *a, const struct chatd_room *room)
{
    struct member_op *op = ctx;
    if (a->status == ROOM_OK && !room_can_see(room, op->user, op->roles))
        a = &not_found;
    if (a->status != ROOM_OK) {
        op->leave_cb(op->ctx, a, ROOM_LEFT_GROUP);
        free(op);
        return;
    }
    if (room->kind == CHATD_ROOM_SUPPORT && strcmp(room->owner, op->user) == 0) {
        support_close(op->r, room->id, op->user, op->leave_cb, op->ctx);
        free(op);
    } else if (room->kind == CHATD_ROOM_GROUP && room_is_member(room, op->user)) {
        struct group_request req = {.what = CHATD_GROUP_REMOVE, .user = op->user};
        group_change_on(op->r, room, op->user, &req, left_group_cb, op);
    } else {
        op->leave_cb(op->ctx,
                     &(struct room_answer){ROOM_FORBIDDEN,
                                           "only the customer closes a support room; members leave groups"},
                     ROOM_LEFT_GROUP);
        free(op);
    }
}

void membership_leave(struct rooms *r, const char *room_id, const char *user, uint32_t roles, leave_answer_cb cb,
                      void *ctx)
{
    struct member_op *op = op_new(r, user, roles, ctx);
    if (!op) {
        cb(ctx, &nomem, ROOM_LEFT_GROUP);
        return;
    }
    op->leave_cb = cb;
    rooms_look_up(r, room_id, op->user, leaving_cb, op);
}
