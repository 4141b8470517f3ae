#include "rooms/search.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plugins/storage_port.h"
#include "rooms/message_body.h"
#include "rooms/room_rules.h"

struct search_op {
    struct rooms *r;
    search_answer_cb cb;
    void *ctx;
    char query[SEARCH_QUERY_MAX_BYTES];
    char query_json[6 * SEARCH_QUERY_MAX_BYTES]; /* \uXXXX per 3 bytes, or a pair per 4 */
    char user[USER_NAME_MAX + 1];
    uint32_t roles;
    bool from_cursor;
    struct search_cursor cur;
    size_t limit;
    char **rooms;
    size_t nrooms;
};

static void op_free(struct search_op *op)
{
    for (size_t i = 0; i < op->nrooms; i++)
        free(op->rooms[i]);
    free(op->rooms);
    free(op);
}

static void op_fail(struct search_op *op, enum room_status st, const char *why)
{
    op->cb(op->ctx, &(struct room_answer){st, why}, NULL, 0, NULL);
    op_free(op);
}

static bool op_add_room(struct search_op *op, const char *id)
{
    for (size_t i = 0; i < op->nrooms; i++)
        if (strcmp(op->rooms[i], id) == 0)
            return true;
    return (op->rooms[op->nrooms] = strdup(id)) && ++op->nrooms;
}

/* Whether the message's text, as the body rule reads it, holds the query:
 * the storage matched the body as stored, JSON and all. */
static bool text_holds(const struct rooms *r, const struct chatd_message *m, const char *query)
{
    if (m->deleted || message_erased(m) || !m->body)
        return false;
    size_t len = 0;
    char *text = r->bodies->text(m->content_type, m->body, m->body_len, &len);
    bool holds = text ? search_text_holds(text, len, query) : search_text_holds(m->body, m->body_len, query);
    free(text);
    return holds;
}

static void found_cb(void *ctx, chatd_status st, const struct chatd_message *msgs, size_t n)
{
    struct search_op *op = ctx;
    if (st != CHATD_OK) {
        struct room_answer a = room_answer_of(st, "no such room");
        if (st == CHATD_ERR_UNSUPPORTED)
            a = (struct room_answer){ROOM_NOT_SUPPORTED, "The storage plugin does not search messages."};
        op_fail(op, a.status, a.why);
        return;
    }
    struct chatd_message *kept = n ? calloc(n, sizeof *kept) : NULL;
    if (n && !kept) {
        op_fail(op, ROOM_NOMEM, "out of memory");
        return;
    }
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (text_holds(op->r, &msgs[i], op->query))
            kept[k++] = msgs[i];
    char next[SEARCH_CURSOR_MAX];
    bool more = n >= op->limit && n;
    if (more) {
        struct search_cursor c = {.ts_ms = msgs[n - 1].ts_ms, .seq = msgs[n - 1].seq};
        snprintf(c.room, sizeof c.room, "%s", msgs[n - 1].room ? msgs[n - 1].room : "");
        search_cursor_format(&c, next);
    }
    op->cb(op->ctx, &(struct room_answer){ROOM_OK, NULL}, kept, k, more ? next : NULL);
    free(kept);
    op_free(op);
}

static void search_rooms(struct search_op *op)
{
    if (!op->nrooms) {
        op->cb(op->ctx, &(struct room_answer){ROOM_OK, NULL}, NULL, 0, NULL);
        op_free(op);
        return;
    }
    struct chatd_message_search q = {.query = op->query,
                                     .query_json = search_query_json(op->query, op->query_json, sizeof op->query_json),
                                     .rooms = (const char *const *)op->rooms,
                                     .nrooms = op->nrooms, .limit = op->limit};
    if (op->from_cursor) {
        q.before_ts_ms = op->cur.ts_ms;
        q.before_room = op->cur.room;
        q.before_seq = op->cur.seq;
    }
    void *state;
    storage_ops(op->r->storage, &state)->message_search(state, &q, found_cb, op);
}

static void one_room_cb(void *ctx, const struct room_answer *a, const struct chatd_room *room)
{
    struct search_op *op = ctx;
    if (a->status != ROOM_OK || !room_can_see(room, op->user, op->roles)) {
        op_fail(op, a->status == ROOM_OK || a->status == ROOM_NOT_FOUND ? ROOM_NOT_FOUND : a->status,
                a->status == ROOM_OK || a->status == ROOM_NOT_FOUND ? "no such room" : a->why);
        return;
    }
    if (!op_add_room(op, room->id)) {
        op_fail(op, ROOM_NOMEM, "out of memory");
        return;
    }
    search_rooms(op);
}

static void queue_cb(void *ctx, chatd_status st, const struct chatd_room *rooms, size_t n)
{
    struct search_op *op = ctx;
    if (st != CHATD_OK) {
        struct room_answer a = room_answer_of(st, "no such room");
        op_fail(op, a.status, a.why);
        return;
    }
    for (size_t i = 0; i < n && op->nrooms < SEARCH_ROOMS_MAX; i++)
        if (!op_add_room(op, rooms[i].id)) {
            op_fail(op, ROOM_NOMEM, "out of memory");
            return;
        }
    search_rooms(op);
}

static void mine_cb(void *ctx, chatd_status st, const struct chatd_room *rooms, size_t n)
{
    struct search_op *op = ctx;
    if (st != CHATD_OK) {
        struct room_answer a = room_answer_of(st, "no such room");
        op_fail(op, a.status, a.why);
        return;
    }
    for (size_t i = 0; i < n && op->nrooms < SEARCH_ROOMS_MAX; i++)
        if (!op_add_room(op, rooms[i].id)) {
            op_fail(op, ROOM_NOMEM, "out of memory");
            return;
        }
    if ((op->roles & CHATD_ROLE_AGENT) && op->nrooms < SEARCH_ROOMS_MAX) {
        /* Agents read the unassigned queue too (room_can_see). */
        struct chatd_room_filter f = {.kind = CHATD_ROOM_SUPPORT, .state = CHATD_ROOM_OPEN,
                                      .limit = SEARCH_ROOMS_MAX - op->nrooms};
        void *state;
        storage_ops(op->r->storage, &state)->room_list(state, &f, queue_cb, op);
        return;
    }
    search_rooms(op);
}

void search_messages(struct rooms *r, const struct search_request *req, search_answer_cb cb, void *ctx)
{
    char why[160];
    struct search_op *op = calloc(1, sizeof *op);
    if (!op || !(op->rooms = calloc(SEARCH_ROOMS_MAX, sizeof *op->rooms))) {
        free(op);
        cb(ctx, &(struct room_answer){ROOM_NOMEM, "out of memory"}, NULL, 0, NULL);
        return;
    }
    op->r = r;
    op->cb = cb;
    op->ctx = ctx;
    op->roles = req->roles;
    snprintf(op->user, sizeof op->user, "%s", req->user ? req->user : "");
    if (!search_query_check(req->query, op->query, sizeof op->query, why, sizeof why)) {
        op_fail(op, ROOM_BAD_REQUEST, why);
        return;
    }
    if (req->cursor && !(op->from_cursor = search_cursor_parse(req->cursor, &op->cur))) {
        op_fail(op, ROOM_BAD_REQUEST, "cursor is none this search gave");
        return;
    }
    if (req->limit_malformed || (req->limit_set && (req->limit < 1 || req->limit > SEARCH_PAGE_MAX))) {
        op_fail(op, ROOM_BAD_REQUEST, "limit is 1..100");
        return;
    }
    op->limit = req->limit_set ? (size_t)req->limit : SEARCH_PAGE_DEFAULT;
    if (!storage_has_message_search(r->storage)) {
        op_fail(op, ROOM_NOT_SUPPORTED, "The storage plugin does not search messages.");
        return;
    }
    if (req->room_id) {
        if (!room_valid_id(req->room_id, strlen(req->room_id))) {
            op_fail(op, ROOM_NOT_FOUND, "no such room");
            return;
        }
        rooms_look_up(r, req->room_id, NULL, one_room_cb, op);
        return;
    }
    struct chatd_room_filter f = {.member = op->user, .limit = SEARCH_ROOMS_MAX};
    void *state;
    storage_ops(r->storage, &state)->room_list(state, &f, mine_cb, op);
}
