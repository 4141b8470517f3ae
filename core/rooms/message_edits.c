#include "rooms/message_edits.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "log.h"
#include "plugins/storage_port.h"
#include "rooms/group_roles.h"
#include "rooms/history.h"
#include "rooms/message_body.h"
#include "rooms/room_rules.h"

struct change_op {
    struct rooms *r;
    message_change_cb cb;
    void *ctx;
    char room[ROOM_ID_MAX];
    char user[USER_NAME_MAX + 1];
    uint32_t roles;
    uint64_t seq;
    chatd_message_edit_kind what;
    char *body, *content_type, *trace;
    size_t body_len;
    uint64_t origin;
    bool manager; /* may delete any message of the room */
};

static void op_free(struct change_op *op)
{
    free(op->body);
    free(op->content_type);
    free(op->trace);
    free(op);
}

static void op_answer(struct change_op *op, enum room_status st, const char *why, const struct chatd_message *m)
{
    op->cb(op->ctx, &(struct room_answer){st, why}, m);
    op_free(op);
}

bool message_manager(const struct chatd_room *room, const char *user, uint32_t roles)
{
    if (room->kind == CHATD_ROOM_GROUP)
        return group_role_of(room, user) >= CHATD_MEMBER_ADMIN;
    return room->kind == CHATD_ROOM_SUPPORT && (roles & CHATD_ROLE_AGENT);
}

const char *message_change_refusal(const struct chatd_message *m, const char *user, bool manager,
                                   chatd_message_edit_kind what, int64_t now_ms, long long edit_window_ms)
{
    if (what == CHATD_MESSAGE_DELETE && manager)
        return NULL;
    bool own = m->sender && *m->sender && strcmp(m->sender, user) == 0;
    if (!own)
        return what == CHATD_MESSAGE_EDIT ? "Only its sender edits a message."
                                          : "Only its sender, a group's owner or admins, or an agent in a support "
                                            "room deletes a message.";
    if (edit_window_ms <= 0)
        return "Messages are not edited or deleted here ([rooms] edit_window is 0).";
    if (now_ms - m->ts_ms > edit_window_ms)
        return "The edit window of this message is over.";
    return NULL;
}

static void changed_cb(void *ctx, chatd_status st, const struct chatd_message *m)
{
    struct change_op *op = ctx;
    if (st == CHATD_OK && m) {
        struct chatd_message told = *m;
        told.room = op->room;
        op->r->events.message_changed(op->r->events.ctx, &told, op->user, op->trace, op->origin);
        log_msg(CHATD_LOG_DEBUG, "rooms", 0, "room %s: message %llu %s by %s (rev %llu)", op->room,
                (unsigned long long)m->seq, m->deleted ? "deleted" : "edited", op->user, (unsigned long long)m->rev);
        op_answer(op, ROOM_OK, NULL, &told);
        return;
    }
    if (st == CHATD_ERR_CONFLICT) {
        op_answer(op, ROOM_CONFLICT, "The message is deleted.", m);
        return;
    }
    if (st == CHATD_ERR_UNSUPPORTED) {
        op_answer(op, ROOM_NOT_SUPPORTED, "The storage plugin keeps no edits or deletes.", NULL);
        return;
    }
    struct room_answer a = room_answer_of(st, "no such message");
    if (a.status == ROOM_OK) /* OK without a message: the plugin's fault */
        a = (struct room_answer){ROOM_UNAVAILABLE, chatd_strerror(CHATD_ERR_INTERNAL)};
    op_answer(op, a.status, a.why, NULL);
}

static void message_cb(void *ctx, chatd_status st, const struct chatd_message *msgs, size_t n);

static void room_cb(void *ctx, const struct room_answer *a, const struct chatd_room *room)
{
    struct change_op *op = ctx;
    if (a->status != ROOM_OK) {
        op_answer(op, a->status, a->why, NULL);
        return;
    }
    if (!room_is_member(room, op->user)) {
        op_answer(op, ROOM_NOT_FOUND, "no such room", NULL);
        return;
    }
    if (room_read_only(room)) {
        op_answer(op, ROOM_CONFLICT, "The room is read-only: its messages stay as they are.", NULL);
        return;
    }
    op->manager = message_manager(room, op->user, op->roles);
    void *state;
    storage_ops(op->r->storage, &state)->message_list(state, op->room, op->seq + 1, 0, 1, message_cb, op);
}

static void message_cb(void *ctx, chatd_status st, const struct chatd_message *msgs, size_t n)
{
    struct change_op *op = ctx;
    if (st != CHATD_OK) {
        struct room_answer a = room_answer_of(st, "no such room");
        op_answer(op, a.status, a.why, NULL);
        return;
    }
    if (!n || msgs[0].seq != op->seq) {
        op_answer(op, ROOM_NOT_FOUND, "no such message", NULL);
        return;
    }
    const struct chatd_message *m = &msgs[0];
    if (m->deleted || message_erased(m)) {
        op_answer(op, ROOM_CONFLICT, "The message is deleted.", m);
        return;
    }
    const char *why = message_change_refusal(m, op->user, op->manager, op->what, clock_wall_ms(),
                                             op->r->edit_window_ms);
    if (why) {
        op_answer(op, ROOM_FORBIDDEN, why, NULL);
        return;
    }
    struct chatd_message_edit ed = {.room_id = op->room, .seq = op->seq, .what = op->what, .now_ms = clock_wall_ms()};
    if (op->what == CHATD_MESSAGE_EDIT) {
        ed.body = op->body;
        ed.body_len = op->body_len;
        ed.content_type = op->content_type;
    }
    void *state;
    storage_ops(op->r->storage, &state)->message_edit(state, &ed, changed_cb, op);
}

void message_change(struct rooms *r, const struct message_change_request *req, message_change_cb cb, void *ctx)
{
    char why[160];
    if (!req->seq) {
        cb(ctx, &(struct room_answer){ROOM_BAD_REQUEST, "A message's seq is a number from 1."}, NULL);
        return;
    }
    if (req->what == CHATD_MESSAGE_EDIT &&
        r->bodies->check(req->content_type, req->body, req->body_len, why, sizeof why) != 0) {
        cb(ctx, &(struct room_answer){ROOM_BAD_REQUEST, why}, NULL);
        return;
    }
    if (!storage_has_message_edit(r->storage)) {
        cb(ctx, &(struct room_answer){ROOM_NOT_SUPPORTED, "The storage plugin keeps no edits or deletes."}, NULL);
        return;
    }
    struct change_op *op = calloc(1, sizeof *op);
    bool edit = req->what == CHATD_MESSAGE_EDIT;
    if (!op || (edit && !(op->body = malloc(req->body_len + 1))) ||
        (edit && !(op->content_type = strdup(message_content_type(req->content_type, req->body, req->body_len)))) ||
        (req->trace && !(op->trace = strdup(req->trace)))) {
        if (op)
            op_free(op);
        cb(ctx, &(struct room_answer){ROOM_NOMEM, "out of memory"}, NULL);
        return;
    }
    op->r = r;
    op->cb = cb;
    op->ctx = ctx;
    snprintf(op->room, sizeof op->room, "%s", req->room_id);
    snprintf(op->user, sizeof op->user, "%s", req->user);
    op->roles = req->roles;
    op->seq = req->seq;
    op->what = req->what;
    op->origin = req->origin;
    if (edit) {
        memcpy(op->body, req->body, req->body_len);
        op->body[req->body_len] = '\0';
        op->body_len = req->body_len;
    }
    rooms_look_up(r, op->room, NULL, room_cb, op);
}

struct revisions_op {
    revisions_answer_cb cb;
    void *ctx;
};

static void revisions_cb(void *ctx, chatd_status st, const struct chatd_message *msgs, size_t n)
{
    struct revisions_op *op = ctx;
    if (st == CHATD_ERR_UNSUPPORTED || st == CHATD_ERR_NOT_FOUND) {
        st = CHATD_OK; /* no changes kept, or the room went: nothing to replay */
        n = 0;
    }
    struct room_answer a = room_answer_of(st, chatd_strerror(st));
    if (st != CHATD_OK)
        n = 0;
    op->cb(op->ctx, &a, n ? msgs : NULL, n, n == REPLAY_PAGE);
    free(op);
}

void message_revisions_page(struct rooms *r, const char *room_id, uint64_t after_rev, revisions_answer_cb cb,
                            void *ctx)
{
    struct revisions_op *op = malloc(sizeof *op);
    if (!op) {
        cb(ctx, &(struct room_answer){ROOM_NOMEM, "out of memory"}, NULL, 0, false);
        return;
    }
    *op = (struct revisions_op){cb, ctx};
    void *state;
    storage_ops(r->storage, &state)->message_revisions(state, room_id, after_rev, REPLAY_PAGE, revisions_cb, op);
}
