#include "rooms/canned_replies.h"

#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "plugins/storage_port.h"

static const struct room_answer NOT_KEPT = {ROOM_NOT_SUPPORTED, "the storage keeps no canned replies"};

/* ------------------------------------------------------------------ list */

struct list_op {
    canned_list_cb cb;
    void *ctx;
};

static void listed(void *ctx, chatd_status st, const struct chatd_canned_reply *replies, size_t n)
{
    struct list_op *op = ctx;
    struct room_answer a = st == CHATD_ERR_UNSUPPORTED ? NOT_KEPT : room_answer_of(st, "no canned replies");
    op->cb(op->ctx, &a, a.status == ROOM_OK ? replies : NULL, a.status == ROOM_OK ? n : 0);
    free(op);
}

void canned_list(struct rooms *r, uint32_t roles, canned_list_cb cb, void *ctx)
{
    if (!canned_may_read(roles)) {
        cb(ctx, &(struct room_answer){ROOM_FORBIDDEN, "canned replies are for agents"}, NULL, 0);
        return;
    }
    if (!storage_has_canned(r->storage)) {
        cb(ctx, &NOT_KEPT, NULL, 0);
        return;
    }
    struct list_op *op = malloc(sizeof *op);
    if (!op) {
        cb(ctx, &(struct room_answer){ROOM_NOMEM, "out of memory"}, NULL, 0);
        return;
    }
    *op = (struct list_op){cb, ctx};
    void *state;
    storage_ops(r->storage, &state)->canned_list(state, CANNED_DESK, CANNED_PER_DESK, listed, op);
}

/* ----------------------------------------------------------- save, remove */

struct change_op {
    canned_saved_cb saved;
    done_answer_cb removed;
    void *ctx;
    struct chatd_canned_reply reply; /* its strings point into the op's own copies */
    char shortcut[CHATD_CANNED_SHORTCUT_MAX + 1];
    char *title, *body, *by;
};

static void change_free(struct change_op *op)
{
    free(op->title);
    free(op->body);
    free(op->by);
    free(op);
}

/* The request checked, as a new op; NULL with the refusal in *refused. */
static struct change_op *change_start(struct rooms *r, const struct canned_request *req, bool save,
                                      struct room_answer *refused)
{
    const char *why = NULL;
    if (!canned_may_write(req->roles, r->canned_agents_write)) {
        *refused = (struct room_answer){ROOM_FORBIDDEN, canned_may_read(req->roles)
                                                            ? "only admins change canned replies"
                                                            : "canned replies are for agents"};
        return NULL;
    }
    struct change_op *op = calloc(1, sizeof *op);
    if (!op) {
        *refused = (struct room_answer){ROOM_NOMEM, "out of memory"};
        return NULL;
    }
    if (!req->shortcut)
        why = "a shortcut is missing";
    else if (canned_shortcut_normal(req->shortcut, req->shortcut_len, op->shortcut, &why) && save) {
        if (!req->title)
            why = "a title is missing";
        else if (!req->body)
            why = "a body is missing";
        else if (canned_title_ok(req->title, req->title_len, &why))
            canned_body_ok(req->body, req->body_len, &why);
    }
    if (why)
        *refused = (struct room_answer){ROOM_BAD_REQUEST, why};
    else if (!storage_has_canned(r->storage))
        *refused = NOT_KEPT;
    else if (save && (!(op->title = strndup(req->title, req->title_len)) ||
                      !(op->body = strndup(req->body, req->body_len)) ||
                      !(op->by = strdup(req->user ? req->user : ""))))
        *refused = (struct room_answer){ROOM_NOMEM, "out of memory"};
    else
        return op;
    change_free(op);
    return NULL;
}

static void saved(void *ctx, chatd_status st, uint64_t n)
{
    struct change_op *op = ctx;
    struct room_answer a;
    if (st == CHATD_ERR_UNSUPPORTED)
        a = NOT_KEPT;
    else if (st == CHATD_ERR_LIMIT)
        a = (struct room_answer){ROOM_CONFLICT, "the desk holds 500 canned replies: delete one first"};
    else
        a = room_answer_of(st, "no such canned reply");
    op->saved(op->ctx, &a, a.status == ROOM_OK ? &op->reply : NULL, a.status == ROOM_OK && n == 1);
    change_free(op);
}

void canned_save(struct rooms *r, const struct canned_request *req, canned_saved_cb cb, void *ctx)
{
    struct room_answer refused;
    struct change_op *op = change_start(r, req, true, &refused);
    if (!op) {
        cb(ctx, &refused, NULL, false);
        return;
    }
    op->saved = cb;
    op->ctx = ctx;
    op->reply = (struct chatd_canned_reply){.size = sizeof op->reply, .desk = CANNED_DESK, .shortcut = op->shortcut,
                                            .title = op->title, .body = op->body, .updated_by = op->by,
                                            .updated_ms = clock_wall_ms()};
    void *state;
    storage_ops(r->storage, &state)->canned_put(state, &op->reply, CANNED_PER_DESK, saved, op);
}

static void removed(void *ctx, chatd_status st)
{
    struct change_op *op = ctx;
    struct room_answer a = st == CHATD_ERR_UNSUPPORTED ? NOT_KEPT : room_answer_of(st, "no such canned reply");
    op->removed(op->ctx, &a);
    change_free(op);
}

void canned_remove(struct rooms *r, const struct canned_request *req, done_answer_cb cb, void *ctx)
{
    struct room_answer refused;
    struct change_op *op = change_start(r, req, false, &refused);
    if (!op) {
        cb(ctx, &refused);
        return;
    }
    op->removed = cb;
    op->ctx = ctx;
    void *state;
    storage_ops(r->storage, &state)->canned_delete(state, CANNED_DESK, op->shortcut, removed, op);
}
