#include "rooms/history.h"

#include <stdio.h>
#include <stdlib.h>

#include "plugins/storage_port.h"
#include "rooms/room_rules.h"

struct history_op {
    struct rooms *r;
    history_answer_cb page_cb;
    room_answer_cb watch_cb;
    replay_answer_cb replay_cb;
    void *ctx;
    uint32_t roles;
    struct history_cursor cur;
    char room[ROOM_ID_MAX];
    char user[USER_NAME_MAX + 1];
};

static const struct room_answer nomem = {ROOM_NOMEM, "out of memory"};

static struct history_op *op_new(struct rooms *r, const char *room_id, const char *user, void *ctx)
{
    struct history_op *op = calloc(1, sizeof *op);
    if (!op)
        return NULL;
    op->r = r;
    op->ctx = ctx;
    snprintf(op->room, sizeof op->room, "%s", room_id);
    snprintf(op->user, sizeof op->user, "%s", user ? user : "");
    return op;
}

static void page_reacted_cb(void *ctx, const struct room_answer *a, const struct chatd_message *msgs, size_t n,
                            const struct reaction_page *rx)
{
    struct history_op *op = ctx;
    /* A page in "before" mode may have older messages behind it. */
    uint64_t next = a->status == ROOM_OK && !op->cur.after_set && n && msgs[n - 1].seq > 1 ? msgs[n - 1].seq : 0;
    op->page_cb(op->ctx, a, a->status == ROOM_OK ? msgs : NULL, a->status == ROOM_OK ? n : 0, next, rx);
    free(op);
}

static void page_cb(void *ctx, chatd_status st, const struct chatd_message *msgs, size_t n)
{
    struct history_op *op = ctx;
    if (st != CHATD_OK) {
        struct room_answer a = room_answer_of(st, "no such room");
        op->page_cb(op->ctx, &a, NULL, 0, 0, &(struct reaction_page){0});
        free(op);
        return;
    }
    reactions_of_page(op->r, op->room, op->user, msgs, n, page_reacted_cb, op);
}

static bool cursor_bad(const struct history_cursor *c)
{
    return c->malformed || (c->before_set && c->before == 0) ||
           (c->limit_set && (c->limit < 1 || c->limit > HISTORY_PAGE_MAX)) || (c->before_set && c->after_set);
}

/* The page a cursor asks for, as message_list takes it. */
static void cursor_page(const struct history_cursor *c, uint64_t *before, uint64_t *after, size_t *limit)
{
    *before = c->before_set ? c->before : c->after_set ? 0 : UINT64_MAX; /* newest first from the top */
    *after = c->after_set ? c->after : 0;
    *limit = c->limit_set ? (size_t)c->limit : HISTORY_PAGE_DEFAULT;
}

/* Whether the reader may see the page of room; if not, op is answered and
 * freed. A stranger learns nothing, not even that the cursor is bad. */
static bool page_allowed(struct history_op *op, const struct room_answer *a, const struct chatd_room *room)
{
    struct room_answer refused = *a;
    if (a->status == ROOM_OK && !room_can_see(room, op->user, op->roles))
        refused = (struct room_answer){ROOM_NOT_FOUND, "no such room"};
    else if (a->status == ROOM_OK && cursor_bad(&op->cur))
        refused = (struct room_answer){ROOM_BAD_REQUEST, "before (>= 1) or after, and limit 1..100"};
    if (refused.status == ROOM_OK)
        return true;
    op->page_cb(op->ctx, &refused, NULL, 0, 0, &(struct reaction_page){0});
    free(op);
    return false;
}

static void page_room_cb(void *ctx, const struct room_answer *a, const struct chatd_room *room)
{
    struct history_op *op = ctx;
    if (!page_allowed(op, a, room))
        return;
    uint64_t before, after;
    size_t limit;
    cursor_page(&op->cur, &before, &after, &limit);
    void *state;
    storage_ops(op->r->storage, &state)->message_list(state, op->room, before, after, limit, page_cb, op);
}

/* The room and its page in one storage call (SDK 2.13 room_page). */
static void room_page_cb(void *ctx, chatd_status st, const struct chatd_room *room, const struct chatd_message *msgs,
                         size_t n)
{
    struct history_op *op = ctx;
    struct room_answer a = room_answer_of(st, "no such room");
    if (st == CHATD_OK && !room)
        a = room_answer_of(CHATD_ERR_INTERNAL, NULL);
    if (!page_allowed(op, &a, room))
        return;
    reactions_of_page(op->r, op->room, op->user, msgs, n, page_reacted_cb, op);
}

void history_page(struct rooms *r, const char *room_id, const char *user, uint32_t roles,
                  const struct history_cursor *cur, history_answer_cb cb, void *ctx)
{
    struct history_op *op = op_new(r, room_id, user, ctx);
    if (!op) {
        cb(ctx, &nomem, NULL, 0, 0, &(struct reaction_page){0});
        return;
    }
    op->page_cb = cb;
    op->roles = roles;
    op->cur = *cur;
    storage_room_page_fn room_page = storage_room_page(r->storage);
    if (room_page && !cursor_bad(cur)) {
        uint64_t before, after;
        size_t limit;
        cursor_page(cur, &before, &after, &limit);
        void *state;
        storage_ops(r->storage, &state);
        room_page(state, op->room, before, after, limit, room_page_cb, op);
        return;
    }
    /* the rights need the members only, not the reader's mark */
    rooms_look_up(r, op->room, NULL, page_room_cb, op);
}

static void watch_room_cb(void *ctx, const struct room_answer *a, const struct chatd_room *room)
{
    struct history_op *op = ctx;
    if (a->status == ROOM_OK && !room_can_watch(room, op->user, op->roles))
        op->watch_cb(op->ctx, &(struct room_answer){ROOM_NOT_FOUND, "no such room"}, NULL);
    else
        op->watch_cb(op->ctx, a, room);
    free(op);
}

void history_watch(struct rooms *r, const char *room_id, const char *user, uint32_t roles, room_answer_cb cb,
                   void *ctx)
{
    struct history_op *op = op_new(r, room_id, user, ctx);
    if (!op) {
        cb(ctx, &nomem, NULL);
        return;
    }
    op->roles = roles;
    op->watch_cb = cb;
    rooms_look_up(r, op->room, NULL, watch_room_cb, op);
}

static void replayed_cb(void *ctx, chatd_status st, const struct chatd_message *msgs, size_t n)
{
    struct history_op *op = ctx;
    struct room_answer a = room_answer_of(st, chatd_strerror(st));
    if (st != CHATD_OK)
        n = 0;
    op->replay_cb(op->ctx, &a, st == CHATD_OK ? msgs : NULL, n, n == REPLAY_PAGE);
    free(op);
}

void history_replay_page(struct rooms *r, const char *room_id, uint64_t after, replay_answer_cb cb, void *ctx)
{
    struct history_op *op = op_new(r, room_id, NULL, ctx);
    if (!op) {
        cb(ctx, &nomem, NULL, 0, false);
        return;
    }
    op->replay_cb = cb;
    void *state;
    storage_ops(r->storage, &state)->message_list(state, op->room, 0, after, REPLAY_PAGE, replayed_cb, op);
}
