#include "rooms/notes.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "log.h"
#include "plugins/storage_port.h"
#include "rooms/message_body.h"
#include "rooms/room_rules.h"

static const struct room_answer nomem = {ROOM_NOMEM, "out of memory"};
static const struct room_answer not_found = {ROOM_NOT_FOUND, "no such room"};
static const struct room_answer forbidden = {ROOM_FORBIDDEN, "only agents and supervisors read and write internal notes"};

bool notes_room_of(const char *room_id, char *out, size_t outlen)
{
    size_t n = strlen(room_id);
    if (n + strlen(NOTES_ROOM_SUFFIX) >= ROOM_ID_MAX || n + strlen(NOTES_ROOM_SUFFIX) >= outlen)
        return false;
    snprintf(out, outlen, "%s" NOTES_ROOM_SUFFIX, room_id);
    return true;
}

/* No context to free: a deletion still in flight when the server stops
 * is dropped with nothing held. */
static void notes_deleted_cb(void *ctx, chatd_status st)
{
    (void)ctx;
    if (st != CHATD_OK && st != CHATD_ERR_NOT_FOUND)
        log_warn("the internal notes of a removed support room were not deleted: %s", chatd_strerror(st));
}

void notes_forget_room(struct rooms *r, const char *room_id)
{
    char id[ROOM_ID_MAX];
    if (!notes_room_of(room_id, id, sizeof id))
        return;
    log_debug("deleting the internal notes %s", id);
    void *state;
    storage_ops(r->storage, &state)->room_delete(state, id, notes_deleted_cb, NULL);
}

bool notes_allowed(const struct chatd_room *r, const char *user, uint32_t roles)
{
    if (r->kind != CHATD_ROOM_SUPPORT || !(roles & DESK_READERS) || (r->owner && strcmp(r->owner, user) == 0))
        return false;
    return room_can_see(r, user, roles);
}

/* One notes operation: the support room looked up and the caller let in,
 * then what the operation does with the companion room. */
struct notes_op {
    struct rooms *r;
    note_answer_cb post_cb;
    notes_page_cb page_cb;
    notes_watch_cb watch_cb;
    replay_answer_cb replay_cb;
    void *ctx;
    uint32_t roles;
    struct history_cursor cur;
    char room[ROOM_ID_MAX];
    char notes[ROOM_ID_MAX];
    char user[USER_NAME_MAX + 1];
    /* note_post: the note on its way */
    char *body, *content_type, *client_id, *trace;
    size_t body_len;
    uint64_t origin;
};

static void op_free(struct notes_op *op)
{
    free(op->body);
    free(op->content_type);
    free(op->client_id);
    free(op->trace);
    free(op);
}

static struct notes_op *op_new(struct rooms *r, const char *room_id, const char *user, uint32_t roles, void *ctx)
{
    struct notes_op *op = calloc(1, sizeof *op);
    if (!op)
        return NULL;
    op->r = r;
    op->ctx = ctx;
    op->roles = roles;
    snprintf(op->room, sizeof op->room, "%s", room_id);
    snprintf(op->user, sizeof op->user, "%s", user ? user : "");
    if (!notes_room_of(op->room, op->notes, sizeof op->notes))
        op->notes[0] = '\0';
    return op;
}

/* The answer every refusal before the support room was looked up, or after
 * it refused the caller, goes through. */
static void op_refuse(struct notes_op *op, const struct room_answer *a)
{
    if (op->post_cb)
        op->post_cb(op->ctx, a, NULL);
    else if (op->page_cb)
        op->page_cb(op->ctx, a, NULL, 0, 0);
    else if (op->watch_cb)
        op->watch_cb(op->ctx, a, 0);
    op_free(op);
}

/* Copies of msgs[0..n) named after the support room; NULL when out of
 * memory (n == 0 gives a valid empty array). */
static struct chatd_message *renamed(const struct chatd_message *msgs, size_t n, const char *room)
{
    struct chatd_message *out = calloc(n ? n : 1, sizeof *out);
    for (size_t i = 0; out && i < n; i++) {
        out[i] = msgs[i];
        out[i].size = sizeof out[i];
        out[i].room = room;
    }
    return out;
}

/* ------------------------------------------------------------- post */

static void note_stored_cb(void *ctx, chatd_status st, const struct chatd_message *m)
{
    struct notes_op *op = ctx;
    struct room_answer a = room_answer_of(st, "no such room");
    if (st == CHATD_OK && m) {
        struct chatd_message note = {.size = sizeof note, .room = op->room, .seq = m->seq, .id = m->id,
                                     .sender = op->user, .client_id = op->client_id, .ts_ms = m->ts_ms,
                                     .body = op->body, .body_len = op->body_len, .content_type = op->content_type,
                                     .kind = CHATD_MESSAGE_TEXT};
        op->r->events.note(op->r->events.ctx, &note, op->trace, op->origin);
        op->post_cb(op->ctx, &a, &note);
    } else if (st == CHATD_ERR_EXISTS && m) {
        /* A retry of a stored client-id: the note stored first. */
        struct chatd_message first = {.size = sizeof first, .room = op->room, .seq = m->seq, .id = m->id,
                                      .sender = op->user, .client_id = op->client_id, .ts_ms = m->ts_ms};
        op->post_cb(op->ctx, &a, &first);
    } else {
        if (st == CHATD_OK) /* stored, but nothing to say of it */
            a = (struct room_answer){ROOM_EXISTS, NULL};
        op->post_cb(op->ctx, &a, NULL);
    }
    op_free(op);
}

static void append_note(struct notes_op *op)
{
    struct chatd_message m = {.room = op->notes, .sender = op->user, .client_id = op->client_id,
                              .ts_ms = clock_wall_ms(), .body = op->body, .body_len = op->body_len,
                              .content_type = op->content_type, .kind = CHATD_MESSAGE_TEXT};
    void *state;
    storage_ops(op->r->storage, &state)->message_append(state, &m, note_stored_cb, op);
}

/* The companion room is there (made now, or before: EXISTS with it). */
static void notes_room_made_cb(void *ctx, chatd_status st, const struct chatd_room *room)
{
    struct notes_op *op = ctx;
    if (st == CHATD_ERR_EXISTS && room && (room->kind != CHATD_ROOM_GROUP || room->nmembers)) {
        /* Not a room this file made: never write notes where anyone reads. */
        op_refuse(op, &(struct room_answer){ROOM_CONFLICT, "the notes of this room cannot be kept"});
        return;
    }
    if (st != CHATD_OK && st != CHATD_ERR_EXISTS) {
        struct room_answer a = room_answer_of(st, "no such room");
        op_refuse(op, &a);
        return;
    }
    append_note(op);
}

static void post_room_cb(void *ctx, const struct room_answer *a, const struct chatd_room *room)
{
    struct notes_op *op = ctx;
    if (a->status != ROOM_OK) {
        op_refuse(op, a);
        return;
    }
    if (!notes_allowed(room, op->user, op->roles) || !op->notes[0]) {
        op_refuse(op, &not_found);
        return;
    }
    /* Made with the first note; at most one per support room, whichever
     * instance writes the first two notes at once (the unique key). */
    char key[ROOM_ID_MAX + 8];
    snprintf(key, sizeof key, "notes:%s", op->room);
    struct chatd_room notes = {.size = sizeof notes, .id = op->notes, .kind = CHATD_ROOM_GROUP,
                               .state = CHATD_ROOM_OPEN, .created_ms = clock_wall_ms()};
    void *state;
    storage_ops(op->r->storage, &state)->room_create(state, &notes, key, notes_room_made_cb, op);
}

static bool dup_opt(char **out, const char *s)
{
    return !s || (*out = strdup(s));
}

void note_post(struct rooms *r, const struct note_draft *d, note_answer_cb cb, void *ctx)
{
    if (!(d->roles & DESK_READERS)) {
        cb(ctx, &forbidden, NULL);
        return;
    }
    char why[256];
    if (d->body_len == 0) {
        cb(ctx, &(struct room_answer){ROOM_BAD_REQUEST, "a note is not empty"}, NULL);
        return;
    }
    if (r->bodies->check(d->content_type, d->body, d->body_len, why, sizeof why) != 0) {
        cb(ctx, &(struct room_answer){ROOM_BAD_REQUEST, why}, NULL);
        return;
    }
    struct notes_op *op = op_new(r, d->room_id, d->author, d->roles, ctx);
    if (!op || !(op->body = malloc(d->body_len + 1)) ||
        !(op->content_type = strdup(message_content_type(d->content_type, d->body, d->body_len))) ||
        !dup_opt(&op->client_id, d->client_id) || !dup_opt(&op->trace, d->trace)) {
        if (op)
            op_free(op);
        cb(ctx, &nomem, NULL);
        return;
    }
    memcpy(op->body, d->body, d->body_len);
    op->body[d->body_len] = '\0';
    op->body_len = d->body_len;
    op->origin = d->origin;
    op->post_cb = cb;
    rooms_look_up(r, op->room, NULL, post_room_cb, op);
}

/* ------------------------------------------------------------- pages */

static void page_listed_cb(void *ctx, chatd_status st, const struct chatd_message *msgs, size_t n)
{
    struct notes_op *op = ctx;
    if (st == CHATD_ERR_NOT_FOUND) /* no note yet: no companion room */
        st = CHATD_OK, n = 0;
    if (st != CHATD_OK) {
        struct room_answer a = room_answer_of(st, "no such room");
        op_refuse(op, &a);
        return;
    }
    struct chatd_message *notes = renamed(msgs, n, op->room);
    if (!notes) {
        op_refuse(op, &nomem);
        return;
    }
    uint64_t next = !op->cur.after_set && n && notes[n - 1].seq > 1 ? notes[n - 1].seq : 0;
    op->page_cb(op->ctx, &(struct room_answer){ROOM_OK, NULL}, notes, n, next);
    free(notes);
    op_free(op);
}

static void page_room_cb(void *ctx, const struct room_answer *a, const struct chatd_room *room)
{
    struct notes_op *op = ctx;
    const struct history_cursor *c = &op->cur;
    if (a->status != ROOM_OK) {
        op_refuse(op, a);
        return;
    }
    if (!notes_allowed(room, op->user, op->roles) || !op->notes[0]) {
        op_refuse(op, &not_found);
        return;
    }
    if (c->malformed || (c->before_set && c->before == 0) ||
        (c->limit_set && (c->limit < 1 || c->limit > HISTORY_PAGE_MAX)) || (c->before_set && c->after_set)) {
        op_refuse(op, &(struct room_answer){ROOM_BAD_REQUEST, "before (>= 1) or after, and limit 1..100"});
        return;
    }
    uint64_t before = c->before_set ? c->before : c->after_set ? 0 : UINT64_MAX;
    size_t limit = c->limit_set ? (size_t)c->limit : HISTORY_PAGE_DEFAULT;
    void *state;
    storage_ops(op->r->storage, &state)->message_list(state, op->notes, before, c->after_set ? c->after : 0, limit,
                                                      page_listed_cb, op);
}

void notes_page(struct rooms *r, const char *room_id, const char *user, uint32_t roles,
                const struct history_cursor *cur, notes_page_cb cb, void *ctx)
{
    if (!(roles & DESK_READERS)) {
        cb(ctx, &forbidden, NULL, 0, 0);
        return;
    }
    struct notes_op *op = op_new(r, room_id, user, roles, ctx);
    if (!op) {
        cb(ctx, &nomem, NULL, 0, 0);
        return;
    }
    op->page_cb = cb;
    op->cur = *cur;
    rooms_look_up(r, op->room, NULL, page_room_cb, op);
}

/* ------------------------------------------------------------- watch */

static void watch_notes_cb(void *ctx, chatd_status st, const struct chatd_room *room)
{
    struct notes_op *op = ctx;
    if (st == CHATD_ERR_NOT_FOUND || (st == CHATD_OK && !room)) {
        op->watch_cb(op->ctx, &(struct room_answer){ROOM_OK, NULL}, 0);
    } else if (st != CHATD_OK) {
        struct room_answer a = room_answer_of(st, "no such room");
        op->watch_cb(op->ctx, &a, 0);
    } else {
        op->watch_cb(op->ctx, &(struct room_answer){ROOM_OK, NULL}, room->last_seq);
    }
    op_free(op);
}

static void watch_room_cb(void *ctx, const struct room_answer *a, const struct chatd_room *room)
{
    struct notes_op *op = ctx;
    if (a->status != ROOM_OK) {
        op_refuse(op, a);
        return;
    }
    if (!notes_allowed(room, op->user, op->roles) || !op->notes[0]) {
        op_refuse(op, &not_found);
        return;
    }
    void *state;
    storage_ops(op->r->storage, &state)->room_get(state, op->notes, NULL, watch_notes_cb, op);
}

void notes_watch(struct rooms *r, const char *room_id, const char *user, uint32_t roles, notes_watch_cb cb,
                 void *ctx)
{
    if (!(roles & DESK_READERS)) {
        cb(ctx, &forbidden, 0);
        return;
    }
    struct notes_op *op = op_new(r, room_id, user, roles, ctx);
    if (!op) {
        cb(ctx, &nomem, 0);
        return;
    }
    op->watch_cb = cb;
    rooms_look_up(r, op->room, NULL, watch_room_cb, op);
}

/* ------------------------------------------------------------- replay */

static void replayed_cb(void *ctx, chatd_status st, const struct chatd_message *msgs, size_t n)
{
    struct notes_op *op = ctx;
    if (st == CHATD_ERR_NOT_FOUND)
        st = CHATD_OK, n = 0;
    struct room_answer a = room_answer_of(st, chatd_strerror(st));
    struct chatd_message *notes = st == CHATD_OK ? renamed(msgs, n, op->room) : NULL;
    if (st == CHATD_OK && !notes)
        a = nomem;
    op->replay_cb(op->ctx, &a, notes, notes ? n : 0, notes && n == REPLAY_PAGE);
    free(notes);
    op_free(op);
}

void notes_replay_page(struct rooms *r, const char *room_id, uint64_t after, replay_answer_cb cb, void *ctx)
{
    struct notes_op *op = op_new(r, room_id, NULL, 0, ctx);
    if (!op) {
        cb(ctx, &nomem, NULL, 0, false);
        return;
    }
    if (!op->notes[0]) {
        op_free(op);
        cb(ctx, &not_found, NULL, 0, false);
        return;
    }
    op->replay_cb = cb;
    void *state;
    storage_ops(r->storage, &state)->message_list(state, op->notes, 0, after, REPLAY_PAGE, replayed_cb, op);
}
