#include "http/user_erase.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plugins/loader.h"
#include "log.h"
#include "http/rest_call.h"
#include "rooms/room_rules.h"
#include "stomp/room_events.h"
#include "server.h"
#include "plugins/storage_port.h"


struct erase_op {
    struct rest_call *c;
    storage_erase_fn erase;
    char user[USER_NAME_MAX + 1];
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

static void storage_failed(struct erase_op *op, chatd_status st)
{
    struct rest_call *c = op->c;
    log_warn("erasing user %s (asked by %s) failed: %s", op->user, c->user, chatd_strerror(st));
    op_free(op);
    rest_storage_error(c, st, "no such user");
}

static void erased_cb(void *ctx, chatd_status st, const struct chatd_erase_result *res)
{
    struct erase_op *op = ctx;
    struct rest_call *c = op->c;
    if (st != CHATD_OK || !res) {
        storage_failed(op, st == CHATD_OK ? CHATD_ERR_INTERNAL : st);
        return;
    }
    struct server *srv = c->srv;
    srv->metrics.users_erased++;
    /* The rooms the user lost end their subscriptions, as leaving would. */
    for (size_t i = 0; i < op->nrooms; i++) {
        if (op->gone[i])
            rooms_erased_room_deleted(srv, op->rooms[i]);
        else
            rooms_erased_member_left(srv, op->rooms[i], op->user);
    }
    /* The audit trail: who asked, and what went. */
    log_info("user %s erased at the request of %s: %llu support rooms deleted, %llu messages erased, "
             "%llu memberships removed", op->user, c->user, (unsigned long long)res->rooms_deleted,
             (unsigned long long)res->messages_erased, (unsigned long long)res->memberships_removed);
    rest_respond(c, 200, json_pack("{s:s, s:I, s:I, s:I}", "user", op->user, "rooms_deleted",
                                   (json_int_t)res->rooms_deleted, "messages_erased", (json_int_t)res->messages_erased,
                                   "memberships_removed", (json_int_t)res->memberships_removed));
    op_free(op);
}

static void listed_cb(void *ctx, chatd_status st, const struct chatd_room *rooms, size_t n)
{
    struct erase_op *op = ctx;
    if (st != CHATD_OK) {
        storage_failed(op, st);
        return;
    }
    struct plugin *storage = op->c->srv->storage;
    op->rooms = calloc(n ? n : 1, sizeof *op->rooms);
    op->gone = calloc(n ? n : 1, sizeof *op->gone);
    for (size_t i = 0; op->rooms && op->gone && i < n; i++) {
        struct chatd_room r = storage_room(storage, rooms, i);
        if (!(op->rooms[op->nrooms] = strdup(r.id)))
            break;
        op->gone[op->nrooms++] = r.kind == CHATD_ROOM_SUPPORT && r.owner && strcmp(r.owner, op->user) == 0;
    }
    if (op->nrooms != n) {
        struct rest_call *c = op->c;
        op_free(op);
        rest_error(c, 500, "internal", "out of memory");
        return;
    }
    op->erase(storage->state, op->user, erased_cb, op);
}

void user_erase_rest(struct rest_call *c, const char *user)
{
    size_t len = strlen(user);
    if (!len || len > USER_NAME_MAX) {
        rest_error(c, 404, "not_found", "no such user");
        return;
    }
    if (!(c->roles & CHATD_ROLE_ADMIN)) {
        rest_error(c, 403, "forbidden", "only admins erase users");
        return;
    }
    struct plugin *storage = c->srv->storage;
    storage_erase_fn erase = storage_user_erase(storage);
    if (!erase) {
        rest_error(c, 501, "not_supported", "the storage plugin '%s' (SDK %u.%u) cannot erase users",
                   storage->desc->name, storage->desc->abi_major, storage->desc->abi_minor);
        return;
    }
    struct erase_op *op = calloc(1, sizeof *op);
    if (!op) {
        rest_error(c, 500, "internal", "out of memory");
        return;
    }
    op->c = c;
    op->erase = erase;
    memcpy(op->user, user, len + 1);
    /* The rooms first (the erase answers counts only), then the erase. */
    struct chatd_room_filter f = {.member = op->user};
    void *state;
    storage_ops(storage, &state)->room_list(state, &f, listed_cb, op);
}
