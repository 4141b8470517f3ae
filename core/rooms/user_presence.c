#include "rooms/user_presence.h"

#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "metrics.h"
#include "plugins/storage_port.h"
#include "rooms/room_rules.h"
#include "strmap.h"

static const struct room_answer nomem = {ROOM_NOMEM, "out of memory"};

static enum user_status status_of(const struct rooms *r, const char *user, int64_t *last_seen)
{
    *last_seen = 0;
    return r->presence.status ? r->presence.status(r->presence.ctx, user, last_seen) : USER_OFFLINE;
}

/* ------------------------------------------------------------- telling */

struct tell_op {
    struct rooms *r;
    char *user;
    enum user_status status;
    int64_t last_seen;
};

static void tell_rooms_cb(void *ctx, chatd_status st, const struct chatd_room *rooms, size_t n)
{
    struct tell_op *op = ctx;
    struct rooms *r = op->r;
    struct strmap told;
    strmap_init(&told);
    /* The user's own other sessions hear it too (away chosen elsewhere). */
    strmap_put(&told, op->user, (void *)1);
    if (st != CHATD_OK) /* the user's own sessions still hear it */
        log_warn("presence of %s not told to their rooms: %s", op->user, chatd_strerror(st));
    size_t sent = 0;
    if (r->presence.online(r->presence.ctx, op->user)) {
        r->events.presence(r->events.ctx, op->user, op->user, op->status, op->last_seen);
        sent++;
    }
    for (size_t k = 0; st == CHATD_OK && k < n; k++) {
        struct chatd_room room = storage_room(r->storage, rooms, k);
        for (size_t i = 0; i < room.nmembers; i++) {
            const char *m = room.members[i];
            if (!m || !*m || strmap_get(&told, m) || strmap_put(&told, m, (void *)1) < 0)
                continue;
            if (r->presence.online(r->presence.ctx, m)) {
                r->events.presence(r->events.ctx, m, op->user, op->status, op->last_seen);
                sent++;
            }
        }
    }
    strmap_free(&told);
    if (r->metrics) {
        r->metrics->presence_changes++;
        r->metrics->presence_events += sent;
    }
    free(op->user);
    free(op);
}

void user_presence_tell(struct rooms *r, const char *user, enum user_status status, int64_t last_seen_ms)
{
    struct tell_op *op = calloc(1, sizeof *op);
    if (!op || !(op->user = strdup(user))) {
        free(op);
        return;
    }
    op->r = r;
    op->status = status;
    op->last_seen = last_seen_ms;
    struct chatd_room_filter f = {.member = op->user};
    void *state;
    storage_ops(r->storage, &state)->room_list(state, &f, tell_rooms_cb, op);
}

/* -------------------------------------------------------- a room's view */

struct view_op {
    struct rooms *r;
    char *caller;
    uint32_t roles;
    presence_answer_cb cb;
    void *ctx;
    char **users; /* user_presence_users: the names asked, copied */
    size_t nusers;
};

static void view_free(struct view_op *op)
{
    for (size_t i = 0; i < op->nusers; i++)
        free(op->users[i]);
    free(op->users);
    free(op->caller);
    free(op);
}

static void room_cb(void *ctx, const struct room_answer *a, const struct chatd_room *room)
{
    struct view_op *op = ctx;
    if (a->status != ROOM_OK || !room_can_see(room, op->caller, op->roles)) {
        struct room_answer no = {ROOM_NOT_FOUND, "no such room"};
        op->cb(op->ctx, a->status == ROOM_OK ? &no : a, NULL, 0);
        view_free(op);
        return;
    }
    struct presence_entry *e = calloc(room->nmembers ? room->nmembers : 1, sizeof *e);
    if (!e) {
        op->cb(op->ctx, &nomem, NULL, 0);
        view_free(op);
        return;
    }
    size_t n = 0;
    for (size_t i = 0; i < room->nmembers; i++) {
        if (!room->members[i] || !*room->members[i])
            continue;
        e[n].user = room->members[i];
        e[n].status = status_of(op->r, e[n].user, &e[n].last_seen_ms);
        n++;
    }
    op->cb(op->ctx, &(struct room_answer){ROOM_OK, NULL}, e, n);
    free(e);
    view_free(op);
}

static struct view_op *view_new(struct rooms *r, const char *caller, presence_answer_cb cb, void *ctx)
{
    struct view_op *op = calloc(1, sizeof *op);
    if (!op || !(op->caller = strdup(caller))) {
        free(op);
        cb(ctx, &nomem, NULL, 0);
        return NULL;
    }
    op->r = r;
    op->cb = cb;
    op->ctx = ctx;
    return op;
}

void user_presence_room(struct rooms *r, const char *room_id, const char *caller, uint32_t roles,
                        presence_answer_cb cb, void *ctx)
{
    struct view_op *op = view_new(r, caller, cb, ctx);
    if (!op)
        return;
    op->roles = roles;
    rooms_look_up(r, room_id, NULL, room_cb, op);
}

/* ----------------------------------------------------- named users' view */

static void shared_cb(void *ctx, chatd_status st, const struct chatd_room *rooms, size_t n)
{
    struct view_op *op = ctx;
    struct rooms *r = op->r;
    if (st != CHATD_OK) {
        struct room_answer a = room_answer_of(st, "no such room");
        op->cb(op->ctx, &a, NULL, 0);
        view_free(op);
        return;
    }
    /* Everyone sharing a room with the caller, the caller included. */
    struct strmap seen, asked;
    strmap_init(&seen);
    strmap_init(&asked);
    bool ok = strmap_put(&seen, op->caller, (void *)1) == 0;
    for (size_t k = 0; ok && k < n; k++) {
        struct chatd_room room = storage_room(r->storage, rooms, k);
        for (size_t i = 0; ok && i < room.nmembers; i++)
            if (room.members[i])
                ok = strmap_put(&seen, room.members[i], (void *)1) == 0;
    }
    struct presence_entry *e = ok ? calloc(op->nusers, sizeof *e) : NULL;
    size_t m = 0;
    for (size_t i = 0; e && i < op->nusers; i++) {
        const char *u = op->users[i];
        if (!strmap_get(&seen, u) || strmap_get(&asked, u))
            continue;
        if (strmap_put(&asked, u, (void *)1) < 0)
            break;
        e[m].user = u;
        e[m].status = status_of(r, u, &e[m].last_seen_ms);
        m++;
    }
    if (e)
        op->cb(op->ctx, &(struct room_answer){ROOM_OK, NULL}, e, m);
    else
        op->cb(op->ctx, &nomem, NULL, 0);
    free(e);
    strmap_free(&seen);
    strmap_free(&asked);
    view_free(op);
}

void user_presence_users(struct rooms *r, const char *caller, const char *const *users, size_t n,
                         presence_answer_cb cb, void *ctx)
{
    if (n == 0 || n > PRESENCE_USERS_MAX) {
        cb(ctx,
           &(struct room_answer){ROOM_BAD_REQUEST, n ? "at most 100 users at a time" : "name at least one user"},
           NULL, 0);
        return;
    }
    for (size_t i = 0; i < n; i++)
        if (!users[i] || !*users[i] || strlen(users[i]) > USER_NAME_MAX) {
            cb(ctx, &(struct room_answer){ROOM_BAD_REQUEST, "a user name is empty or too long"}, NULL, 0);
            return;
        }
    struct view_op *op = view_new(r, caller, cb, ctx);
    if (!op)
        return;
    if (!(op->users = calloc(n, sizeof *op->users))) {
        cb(ctx, &nomem, NULL, 0);
        view_free(op);
        return;
    }
    for (; op->nusers < n; op->nusers++)
        if (!(op->users[op->nusers] = strdup(users[op->nusers]))) {
            cb(ctx, &nomem, NULL, 0);
            view_free(op);
            return;
        }
    struct chatd_room_filter f = {.member = op->caller};
    void *state;
    storage_ops(r->storage, &state)->room_list(state, &f, shared_cb, op);
}

/* -------------------------------------------------------- one's choice */

void user_presence_choose(struct rooms *r, const char *user, const char *status, done_answer_cb cb, void *ctx)
{
    bool away;
    if (status && strcmp(status, "away") == 0)
        away = true;
    else if (status && strcmp(status, "online") == 0)
        away = false;
    else {
        cb(ctx, &(struct room_answer){ROOM_BAD_REQUEST, "status must be \"away\" or \"online\""});
        return;
    }
    if (!r->presence.set_user_away) {
        cb(ctx, &(struct room_answer){ROOM_NOT_SUPPORTED, "presence is not kept here"});
        return;
    }
    if (!r->presence.online(r->presence.ctx, user)) {
        cb(ctx, &(struct room_answer){ROOM_CONFLICT, "no session of yours is connected: connect first"});
        return;
    }
    r->presence.set_user_away(r->presence.ctx, user, away);
    cb(ctx, &(struct room_answer){ROOM_OK, NULL});
}
