#include "rooms/files.h"
#include "rooms/erase.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "metrics.h"
#include "plugins/loader.h"
#include "plugins/storage_port.h"
#include "rooms/notes.h"
#include "rooms/room_rules.h"

struct erase_op {
    struct rooms *r;
    erase_answer_cb cb;
    void *ctx;
    storage_erase_fn erase;
    char user[USER_NAME_MAX + 1];
    char admin[USER_NAME_MAX + 1];
    /* The user's rooms as listed just before the erase, for their last
     * events: gone[i] when the erase removes rooms[i] (their support room). */
    char **rooms;
    bool *gone;
    size_t nrooms;
};

static void op_free(struct erase_op *op)
{
    for (size_t i = 0; i < op->nrooms; i++)
        free(op->rooms[i]);
    free(op->rooms);
    free(op->gone);
    free(op);
}

static void answer(struct erase_op *op, struct room_answer a, const struct chatd_erase_result *res)
{
    op->cb(op->ctx, &a, res);
    op_free(op);
}

static void storage_failed(struct erase_op *op, chatd_status st)
{
    log_warn("erasing user %s (asked by %s) failed: %s", op->user, op->admin, chatd_strerror(st));
    answer(op, room_answer_of(st, "no such user"), NULL);
}

static void erased_cb(void *ctx, chatd_status st, const struct chatd_erase_result *res)
{
    struct erase_op *op = ctx;
    struct rooms *r = op->r;
    if (st != CHATD_OK || !res) {
        storage_failed(op, st == CHATD_OK ? CHATD_ERR_INTERNAL : st);
        return;
    }
    r->metrics->users_erased++;
    files_forget_owner(r, op->user); /* what they uploaded, in every room */
    /* The rooms the user lost end their subscriptions, as leaving would. */
    for (size_t i = 0; i < op->nrooms; i++) {
        if (op->gone[i]) {
            r->events.deleted(r->events.ctx, op->rooms[i], NULL, true);
            notes_forget_room(r, op->rooms[i]); /* the answer does not wait for it */
            files_forget_room(r, op->rooms[i]);
        } else
            r->events.member_left(r->events.ctx, op->rooms[i], op->user, NULL, true);
    }
    /* The audit trail: who asked, and what went. */
    log_info("user %s erased at the request of %s: %llu support rooms deleted, %llu messages erased, "
             "%llu memberships removed", op->user, op->admin, (unsigned long long)res->rooms_deleted,
             (unsigned long long)res->messages_erased, (unsigned long long)res->memberships_removed);
    answer(op, (struct room_answer){ROOM_OK, NULL}, res);
}

static void listed_cb(void *ctx, chatd_status st, const struct chatd_room *rooms, size_t n)
{
    struct erase_op *op = ctx;
    if (st != CHATD_OK) {
        storage_failed(op, st);
        return;
    }
    struct plugin *storage = op->r->storage;
    op->rooms = calloc(n ? n : 1, sizeof *op->rooms);
    op->gone = calloc(n ? n : 1, sizeof *op->gone);
    for (size_t i = 0; op->rooms && op->gone && i < n; i++) {
        struct chatd_room room = storage_room(storage, rooms, i);
        if (!(op->rooms[op->nrooms] = strdup(room.id)))
            break;
        op->gone[op->nrooms++] = room.kind == CHATD_ROOM_SUPPORT && room.owner && strcmp(room.owner, op->user) == 0;
    }
    if (op->nrooms != n) {
        answer(op, (struct room_answer){ROOM_NOMEM, "out of memory"}, NULL);
        return;
    }
    void *state;
    storage_ops(storage, &state);
    op->erase(state, op->user, erased_cb, op);
}

void erase_user(struct rooms *r, const char *user, const char *admin, uint32_t roles, erase_answer_cb cb, void *ctx)
{
    size_t len = strlen(user);
    if (!len || len > USER_NAME_MAX) {
        cb(ctx, &(struct room_answer){ROOM_NOT_FOUND, "no such user"}, NULL);
        return;
    }
    if (!(roles & CHATD_ROLE_ADMIN)) {
        cb(ctx, &(struct room_answer){ROOM_FORBIDDEN, "only admins erase users"}, NULL);
        return;
    }
    storage_erase_fn erase = storage_user_erase(r->storage);
    if (!erase) {
        char why[300];
        const struct chatd_plugin *d = r->storage->desc;
        snprintf(why, sizeof why, "the storage plugin '%s' (SDK %u.%u) cannot erase users", d->name, d->abi_major,
                 d->abi_minor);
        cb(ctx, &(struct room_answer){ROOM_NOT_SUPPORTED, why}, NULL);
        return;
    }
    struct erase_op *op = calloc(1, sizeof *op);
    if (!op) {
        cb(ctx, &(struct room_answer){ROOM_NOMEM, "out of memory"}, NULL);
        return;
    }
    *op = (struct erase_op){.r = r, .cb = cb, .ctx = ctx, .erase = erase};
    memcpy(op->user, user, len + 1);
    snprintf(op->admin, sizeof op->admin, "%s", admin);
    /* The rooms first (the erase answers counts only), then the erase. */
    struct chatd_room_filter f = {.member = op->user};
    void *state;
    storage_ops(r->storage, &state)->room_list(state, &f, listed_cb, op);
}
