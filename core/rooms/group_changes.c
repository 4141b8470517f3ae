#include "rooms/files.h"
#include "rooms/group_changes.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plugins/storage_port.h"
#include "rooms/group_roles.h"
#include "rooms/membership.h"
#include "rooms/room_rules.h"
#include "visitor_token.h"

struct group_op {
    struct rooms *r;
    room_answer_cb cb;
    void *ctx;
    uint32_t roles;
    struct chatd_group_change change;
    char room[ROOM_ID_MAX];
    char actor[USER_NAME_MAX + 1];
    char user[USER_NAME_MAX + 1];
    char title[GROUP_TITLE_MAX + 1];
    char owner_before[USER_NAME_MAX + 1]; /* the owner the change was checked against */
    char why[USER_NAME_MAX + 200];
};

static const struct room_answer nomem = {ROOM_NOMEM, "out of memory"};

static struct group_op *op_new(struct rooms *r, const char *room_id, const char *actor,
                               const struct group_request *req, room_answer_cb cb, void *ctx)
{
    struct group_op *op = calloc(1, sizeof *op);
    if (!op)
        return NULL;
    *op = (struct group_op){.r = r, .cb = cb, .ctx = ctx};
    snprintf(op->room, sizeof op->room, "%s", room_id);
    snprintf(op->actor, sizeof op->actor, "%s", actor);
    snprintf(op->user, sizeof op->user, "%s", req->user ? req->user : "");
    snprintf(op->title, sizeof op->title, "%s", req->title ? req->title : "");
    struct chatd_group_change *ch = &op->change;
    ch->size = sizeof *ch;
    ch->room_id = op->room;
    ch->what = req->what;
    ch->user = op->user[0] ? op->user : NULL;
    ch->role = req->role;
    ch->title = op->title;
    return op;
}

static void answer(struct group_op *op, struct room_answer a, const struct chatd_room *room)
{
    op->cb(op->ctx, &a, room);
    free(op);
}

/* The events of a change that took effect (after: the room as the storage
 * left it, or NULL when it keeps no roles), then the answer. */
static void changed(struct group_op *op, const struct chatd_room *after)
{
    const struct room_events_port *ev = &op->r->events;
    const struct chatd_group_change *ch = &op->change;
    switch (ch->what) {
    case CHATD_GROUP_ADD:
        ev->member_joined(ev->ctx, op->room, ch->user, op->actor);
        ev->added(ev->ctx, ch->user, op->room, after);
        break;
    case CHATD_GROUP_REMOVE:
        /* `by` only when someone else removed them */
        ev->member_left(ev->ctx, op->room, ch->user, strcmp(op->actor, ch->user) != 0 ? op->actor : NULL, false);
        /* The owner left: ownership passed on (SDK 1.2 storage). */
        if (after && after->owner && strcmp(op->owner_before, ch->user) == 0 && strcmp(after->owner, ch->user) != 0)
            ev->role_changed(ev->ctx, op->room, after->owner, CHATD_MEMBER_OWNER, op->actor);
        break;
    case CHATD_GROUP_ROLE:
        ev->role_changed(ev->ctx, op->room, ch->user, ch->role, op->actor);
        if (ch->role == CHATD_MEMBER_OWNER) /* the previous owner is an admin now */
            ev->role_changed(ev->ctx, op->room, op->actor, CHATD_MEMBER_ADMIN, op->actor);
        break;
    case CHATD_GROUP_RENAME:
        ev->renamed(ev->ctx, op->room, ch->title, op->actor);
        break;
    case CHATD_GROUP_DELETE:
        ev->deleted(ev->ctx, op->room, op->actor, false);
        files_forget_room(op->r, op->room);
        break;
    }
    answer(op, (struct room_answer){ROOM_OK, NULL}, after);
}

/* A refused change: the status, with the rule. */
static void refused(struct group_op *op, enum group_verdict v, const char *why)
{
    switch (v) {
    case GROUP_FORBIDDEN:
        answer(op, (struct room_answer){ROOM_FORBIDDEN, why}, NULL);
        break;
    case GROUP_NOT_MEMBER:
        snprintf(op->why, sizeof op->why, "%s is %s", op->change.user ? op->change.user : "that user", why);
        answer(op, (struct room_answer){ROOM_NOT_FOUND, op->why}, NULL);
        break;
    case GROUP_OWNER_ROLE:
        answer(op, (struct room_answer){ROOM_CONFLICT, why}, NULL);
        break;
    default:
        answer(op, (struct room_answer){ROOM_CONFLICT, "the group changed meanwhile; try again"}, NULL);
    }
}

/* The storage decided (SDK 1.2 group_change). */
static void group_change_cb(void *ctx, chatd_status st, const struct chatd_room *answer_room)
{
    struct group_op *op = ctx;
    struct chatd_room after = {0};
    if (answer_room)
        after = storage_room(op->r->storage, answer_room, 0);
    if (st == CHATD_OK && answer_room) {
        changed(op, &after);
    } else if (st == CHATD_ERR_EXISTS && answer_room) {
        answer(op, (struct room_answer){ROOM_EXISTS, NULL}, &after); /* already so: nothing to announce */
    } else if ((st == CHATD_ERR_DENIED || st == CHATD_ERR_CONFLICT) && answer_room) {
        /* Someone changed the group since it was checked: say which rule
         * holds now. */
        const char *why;
        struct chatd_group_change again = op->change;
        refused(op, group_check(&after, op->actor, &again, &why), why);
    } else if (st == CHATD_ERR_NOT_FOUND || st == CHATD_ERR_INVALID) {
        answer(op, (struct room_answer){ROOM_NOT_FOUND, "no such room"}, NULL);
    } else {
        answer(op, room_answer_of(st, "no such room"), NULL);
    }
}

/* Without group_change (a storage plugin built for SDK 1.1): membership
 * and deletion through the 1.0 operations, decided on the room as read. */
static void group_done_cb(void *ctx, chatd_status st)
{
    struct group_op *op = ctx;
    if (st == CHATD_OK)
        changed(op, NULL);
    else
        answer(op, room_answer_of(st, "no such room"), NULL);
}

static void start(struct group_op *op, const struct chatd_room *room)
{
    struct chatd_group_change *ch = &op->change;
    snprintf(op->owner_before, sizeof op->owner_before, "%s", room->owner ? room->owner : "");
    const char *why;
    if (ch->what == CHATD_GROUP_ADD && user_is_visitor(ch->user)) {
        answer(op, (struct room_answer){ROOM_FORBIDDEN, VISITORS_SUPPORT_ONLY}, NULL);
        return;
    }
    enum group_verdict v = group_check(room, op->actor, ch, &why);
    if (v == GROUP_UNCHANGED) {
        answer(op, (struct room_answer){ROOM_EXISTS, NULL}, room);
        return;
    }
    if (v != GROUP_ALLOWED) {
        refused(op, v, why);
        return;
    }
    struct rooms *r = op->r;
    void *state;
    const struct chatd_storage_ops *ops = storage_ops(r->storage, &state);
    if (storage_has_group_change(r->storage)) {
        ops->group_change(state, ch, group_change_cb, op);
        return;
    }
    switch (ch->what) {
    case CHATD_GROUP_ADD:
        ops->member_add(state, op->room, ch->user, group_done_cb, op);
        return;
    case CHATD_GROUP_REMOVE:
        ops->member_remove(state, op->room, ch->user, group_done_cb, op);
        return;
    case CHATD_GROUP_DELETE:
        ops->room_delete(state, op->room, group_done_cb, op);
        return;
    default:
        answer(op, (struct room_answer){ROOM_NOT_SUPPORTED, ch->what == CHATD_GROUP_ROLE
                                                                ? "the storage plugin does not store group roles"
                                                                : "the storage plugin cannot rename a group"},
               NULL);
    }
}

void group_change_on(struct rooms *r, const struct chatd_room *room, const char *actor,
                     const struct group_request *req, room_answer_cb cb, void *ctx)
{
    struct group_op *op = op_new(r, room->id, actor, req, cb, ctx);
    if (!op) {
        cb(ctx, &nomem, NULL);
        return;
    }
    start(op, room);
}

static void looked_up_cb(void *ctx, const struct room_answer *a, const struct chatd_room *room)
{
    struct group_op *op = ctx;
    if (a->status != ROOM_OK) {
        answer(op, *a, NULL);
        return;
    }
    if (!room_can_see(room, op->actor, op->roles)) {
        answer(op, (struct room_answer){ROOM_NOT_FOUND, "no such room"}, NULL);
        return;
    }
    if (room->kind == CHATD_ROOM_GROUP && room_is_member(room, op->actor)) {
        start(op, room);
        return;
    }
    if (op->change.what == CHATD_GROUP_DELETE && room->kind == CHATD_ROOM_SUPPORT)
        answer(op, (struct room_answer){ROOM_BAD_REQUEST, "for=everyone deletes a group; a support room's "
                                                          "customer closes it with a plain DELETE"}, NULL);
    else
        answer(op, (struct room_answer){ROOM_FORBIDDEN, room->kind == CHATD_ROOM_DIRECT
                                                            ? "a direct room has exactly its two members: no "
                                                              "member, role or title changes, and it is not deleted"
                                                            : "members, roles and titles belong to group rooms"},
               NULL);
}

void group_change(struct rooms *r, const char *room_id, const char *actor, uint32_t roles,
                  const struct group_request *req, room_answer_cb cb, void *ctx)
{
    struct group_op *op = op_new(r, room_id, actor, req, cb, ctx);
    if (!op) {
        cb(ctx, &nomem, NULL);
        return;
    }
    op->roles = roles;
    rooms_look_up(r, op->room, op->actor, looked_up_cb, op);
}
