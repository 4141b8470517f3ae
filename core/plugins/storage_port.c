#include "plugins/storage_port.h"

#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "plugins/loader.h"
#include "plugins/sdk1.h"

/* The port stands between the core and the plugin on every call:
 * - what the core hands over goes out with `size` set (the core's structs
 *   are this SDK's; a 1.x plugin gets the 1.x layout);
 * - what the plugin answers is read at its own stride and size into this
 *   SDK's structs (missing members zero) before the core's callback sees
 *   it, so the core indexes arrays as C arrays;
 * - a completion the plugin gives before its call returned is a plugin bug:
 *   logged, and turned into CHATD_ERR_INTERNAL after the call returned, so
 *   the core's callers never run their callback inside their own call; the
 *   same for an answer given inside any other call to the plugin. */

/* The sizes of SDK 2.0's answers: a 2.x plugin fills at least these. */
#define ROOM_SIZE_2_0 (offsetof(struct chatd_room, closed_ms) + sizeof(int64_t))
#define MESSAGE_SIZE_2_0 (offsetof(struct chatd_message, body_len) + sizeof(size_t))
#define ERASE_SIZE_2_0 (offsetof(struct chatd_erase_result, memberships_removed) + sizeof(uint64_t))

_Static_assert(offsetof(struct chatd_room, id) == SDK1_SKIP, "1.x room body follows size");
_Static_assert(offsetof(struct chatd_message, room) == SDK1_SKIP, "1.x message body follows size");
_Static_assert(offsetof(struct chatd_room_filter, member) == SDK1_SKIP, "1.x filter body follows size");
_Static_assert(offsetof(struct chatd_erase_result, rooms_deleted) == SDK1_SKIP, "1.x erase body follows size");

enum answer {
    ANSWER_ROOM,
    ANSWER_ROOMS,
    ANSWER_MESSAGE,
    ANSWER_MESSAGES,
    ANSWER_DONE,
    ANSWER_COUNT,
    ANSWER_ERASE,
    ANSWER_REACTIONS,
    ANSWER_CANNED,
    ANSWER_IDS,
    ANSWER_ROOM_PAGE,
};

struct call {
    struct call *prev, *next; /* the plugin's operations not answered yet */
    struct plugin *p;
    const char *op;
    enum answer answer;
    void *cb;
    void *ctx;
    bool returned; /* the plugin's call has returned */
    bool early;    /* the plugin answered before that */
    chatd_status fail;
};

static void calls_drop(struct plugin *p);

static struct call *call_new(struct plugin *p, const char *op, enum answer answer, void *cb, void *ctx)
{
    struct call *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    *c = (struct call){.p = p, .op = op, .answer = answer, .cb = cb, .ctx = ctx, .next = p->calls};
    if (p->calls)
        p->calls->prev = c;
    p->calls = c;
    p->calls_drop = calls_drop;
    return c;
}

/* c is answered (or given up): it leaves its plugin's list. */
static void call_free(struct call *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else if (c->p->calls == c)
        c->p->calls = c->next;
    if (c->next)
        c->next->prev = c->prev;
    free(c);
}

/* After the plugin's fini: the operations it never answered (a plugin may
 * drop what is in flight when it stops) are freed, their callers gone. */
static void calls_drop(struct plugin *p)
{
    size_t n = 0;
    while (p->calls) {
        call_free(p->calls);
        n++;
    }
    if (n)
        log_msg(CHATD_LOG_DEBUG, p->section, 0, "%zu storage operations unanswered at unload", n);
}

/* Complete c with st and no data; c stays. */
static void call_answer_failure(const struct call *c, chatd_status st)
{
    switch (c->answer) {
    case ANSWER_ROOM: ((chatd_room_cb)c->cb)(c->ctx, st, NULL); break;
    case ANSWER_ROOMS: ((chatd_rooms_cb)c->cb)(c->ctx, st, NULL, 0); break;
    case ANSWER_MESSAGE: ((chatd_message_cb)c->cb)(c->ctx, st, NULL); break;
    case ANSWER_MESSAGES: ((chatd_messages_cb)c->cb)(c->ctx, st, NULL, 0); break;
    case ANSWER_DONE: ((chatd_done_cb)c->cb)(c->ctx, st); break;
    case ANSWER_COUNT: ((chatd_count_cb)c->cb)(c->ctx, st, 0); break;
    case ANSWER_ERASE: ((chatd_erase_cb)c->cb)(c->ctx, st, NULL); break;
    case ANSWER_REACTIONS: ((chatd_reactions_cb)c->cb)(c->ctx, st, NULL, 0); break;
    case ANSWER_CANNED: ((chatd_canned_cb)c->cb)(c->ctx, st, NULL, 0); break;
    case ANSWER_IDS: ((chatd_ids_cb)c->cb)(c->ctx, st, NULL, 0); break;
    case ANSWER_ROOM_PAGE: ((chatd_room_page_cb)c->cb)(c->ctx, st, NULL, NULL, 0); break;
    }
}

/* Complete c with st and no data, and free it. */
static void call_fail_now(struct call *c, chatd_status st)
{
    call_answer_failure(c, st);
    call_free(c);
}

static void call_fail_task(void *arg)
{
    struct call *c = arg;
    call_fail_now(c, c->fail);
}

/* Complete c with st later, on the core thread, after the current call. */
static void call_fail_later(struct call *c, chatd_status st)
{
    c->fail = st;
    const struct chatd_host *h = &c->p->host;
    if (h->post(h, call_fail_task, c) != CHATD_OK) {
        log_msg(CHATD_LOG_ERROR, c->p->section, 0, "storage %s: dropped: %s", c->op, chatd_strerror(st));
        call_free(c);
    }
}

/* After the plugin's call returned: an answer it gave inside is void. */
static void call_returned(struct call *c)
{
    c->p->storage_calls--;
    if (!c->early) {
        c->returned = true;
        return;
    }
    log_msg(CHATD_LOG_ERROR, c->p->section, 0,
            "storage plugin %s answered %s before the call returned (a plugin bug: answer later, "
            "e.g. with host->post); the request fails",
            c->p->desc->name, c->op);
    call_fail_later(c, CHATD_ERR_INTERNAL);
}

/* In a completion: whether it came inside a call of the plugin's, its own
 * (then call_returned fails it) or another's (failed here, later): the
 * core's callbacks never run inside a call of theirs to the port. */
static bool call_early(struct call *c)
{
    if (!c->returned) {
        c->early = true;
        return true;
    }
    if (!c->p->storage_calls)
        return false;
    log_msg(CHATD_LOG_ERROR, c->p->section, 0,
            "storage plugin %s answered %s inside another of its operations (a plugin bug: answer from the "
            "loop, e.g. with host->post); the request fails",
            c->p->desc->name, c->op);
    call_fail_later(c, CHATD_ERR_INTERNAL);
    return true;
}

static chatd_status call_bad_answer(struct call *c, const char *what, size_t size, size_t want)
{
    log_msg(CHATD_LOG_ERROR, c->p->section, 0, "storage plugin %s answered %s with a %s of %zu bytes, below SDK 2.0's %zu",
            c->p->desc->name, c->op, what, size, want);
    return CHATD_ERR_INTERNAL;
}

/* ------------------------------------------------- reading the plugin's answers */

static size_t message_stride(const struct plugin *p, const struct chatd_message *m)
{
    return plugin_sdk1(p) ? SDK1_MESSAGE_SIZE : m->size;
}

static size_t room_stride(const struct plugin *p, const struct chatd_room *r)
{
    return plugin_sdk1(p) ? sdk1_room_size(p->desc->abi_minor) : r->size;
}

/* The plugin's message m as this SDK's; false when it is too short. */
static bool message_read(struct call *c, const struct chatd_message *m, struct chatd_message *out)
{
    memset(out, 0, sizeof *out);
    if (plugin_sdk1(c->p)) {
        memcpy(SDK1_BODY(out), m, SDK1_MESSAGE_SIZE);
    } else if (m->size < MESSAGE_SIZE_2_0) {
        call_bad_answer(c, "message", m->size, MESSAGE_SIZE_2_0);
        return false;
    } else {
        memcpy(out, m, m->size < sizeof *out ? m->size : sizeof *out);
    }
    out->size = sizeof *out;
    return true;
}

/* The plugin's room r as this SDK's, its last message in *last. */
static bool room_read(struct call *c, const struct chatd_room *r, struct chatd_room *out, struct chatd_message *last)
{
    memset(out, 0, sizeof *out);
    if (plugin_sdk1(c->p)) {
        memcpy(SDK1_BODY(out), r, sdk1_room_size(c->p->desc->abi_minor));
    } else if (r->size < ROOM_SIZE_2_0) {
        call_bad_answer(c, "room", r->size, ROOM_SIZE_2_0);
        return false;
    } else {
        memcpy(out, r, r->size < sizeof *out ? r->size : sizeof *out);
    }
    out->size = sizeof *out;
    if (out->last_message) {
        if (!message_read(c, out->last_message, last))
            return false;
        out->last_message = last;
    }
    return true;
}

static void on_room(void *ctx, chatd_status st, const struct chatd_room *room)
{
    struct call *c = ctx;
    if (call_early(c))
        return;
    struct chatd_room r;
    struct chatd_message last;
    if (room && !room_read(c, room, &r, &last))
        return call_fail_now(c, CHATD_ERR_INTERNAL);
    ((chatd_room_cb)c->cb)(c->ctx, st, room ? &r : NULL);
    call_free(c);
}

static void on_rooms(void *ctx, chatd_status st, const struct chatd_room *rooms, size_t n)
{
    struct call *c = ctx;
    if (call_early(c))
        return;
    if (!rooms || !n) {
        ((chatd_rooms_cb)c->cb)(c->ctx, st, NULL, 0);
        call_free(c);
        return;
    }
    struct chatd_room *out = calloc(n, sizeof *out);
    struct chatd_message *last = calloc(n, sizeof *last);
    if (!out || !last) {
        free(out);
        free(last);
        return call_fail_now(c, CHATD_ERR_NOMEM);
    }
    size_t stride = room_stride(c->p, rooms);
    for (size_t i = 0; i < n; i++) {
        if (!room_read(c, (const void *)((const char *)rooms + i * stride), &out[i], &last[i])) {
            free(out);
            free(last);
            return call_fail_now(c, CHATD_ERR_INTERNAL);
        }
    }
    ((chatd_rooms_cb)c->cb)(c->ctx, st, out, n);
    free(out);
    free(last);
    call_free(c);
}

static void on_message(void *ctx, chatd_status st, const struct chatd_message *msg)
{
    struct call *c = ctx;
    if (call_early(c))
        return;
    struct chatd_message m;
    if (msg && !message_read(c, msg, &m))
        return call_fail_now(c, CHATD_ERR_INTERNAL);
    ((chatd_message_cb)c->cb)(c->ctx, st, msg ? &m : NULL);
    call_free(c);
}

/* The plugin's messages msgs[0..n) as this SDK's, in *out (NULL for
 * none); false when c failed (answered). */
static bool messages_read(struct call *c, const struct chatd_message *msgs, size_t n, struct chatd_message **out)
{
    *out = NULL;
    if (!msgs || !n)
        return true;
    if (!(*out = calloc(n, sizeof **out))) {
        call_fail_now(c, CHATD_ERR_NOMEM);
        return false;
    }
    size_t stride = message_stride(c->p, msgs);
    for (size_t i = 0; i < n; i++) {
        if (!message_read(c, (const void *)((const char *)msgs + i * stride), &(*out)[i])) {
            free(*out);
            call_fail_now(c, CHATD_ERR_INTERNAL);
            return false;
        }
    }
    return true;
}

static void on_messages(void *ctx, chatd_status st, const struct chatd_message *msgs, size_t n)
{
    struct call *c = ctx;
    if (call_early(c))
        return;
    struct chatd_message *out;
    if (!messages_read(c, msgs, n, &out))
        return;
    ((chatd_messages_cb)c->cb)(c->ctx, st, out, out ? n : 0);
    free(out);
    call_free(c);
}

static void on_room_page(void *ctx, chatd_status st, const struct chatd_room *room, const struct chatd_message *msgs,
                         size_t n)
{
    struct call *c = ctx;
    if (call_early(c))
        return;
    struct chatd_room r;
    struct chatd_message last, *out;
    if (room && !room_read(c, room, &r, &last))
        return call_fail_now(c, CHATD_ERR_INTERNAL);
    if (!messages_read(c, room ? msgs : NULL, n, &out))
        return;
    ((chatd_room_page_cb)c->cb)(c->ctx, st, room ? &r : NULL, out, out ? n : 0);
    free(out);
    call_free(c);
}

static void on_done(void *ctx, chatd_status st)
{
    struct call *c = ctx;
    if (call_early(c))
        return;
    ((chatd_done_cb)c->cb)(c->ctx, st);
    call_free(c);
}

static void on_count(void *ctx, chatd_status st, uint64_t n)
{
    struct call *c = ctx;
    if (call_early(c))
        return;
    ((chatd_count_cb)c->cb)(c->ctx, st, n);
    call_free(c);
}

static void on_ids(void *ctx, chatd_status st, const char *const *ids, size_t n)
{
    struct call *c = ctx;
    if (call_early(c))
        return;
    if (st == CHATD_OK && n && !ids) {
        log_msg(CHATD_LOG_ERROR, c->p->section, 0, "storage %s: %zu ids answered without them (a plugin bug)", c->op,
                n);
        st = CHATD_ERR_INTERNAL, n = 0;
    }
    ((chatd_ids_cb)c->cb)(c->ctx, st, st == CHATD_OK ? ids : NULL, st == CHATD_OK ? n : 0);
    call_free(c);
}

static void on_erase(void *ctx, chatd_status st, const struct chatd_erase_result *res)
{
    struct call *c = ctx;
    if (call_early(c))
        return;
    struct chatd_erase_result e;
    memset(&e, 0, sizeof e);
    if (res && plugin_sdk1(c->p)) {
        memcpy(SDK1_BODY(&e), res, SDK1_SIZE(chatd_erase_result));
    } else if (res && res->size < ERASE_SIZE_2_0) {
        return call_fail_now(c, call_bad_answer(c, "result", res->size, ERASE_SIZE_2_0));
    } else if (res) {
        memcpy(&e, res, res->size < sizeof e ? res->size : sizeof e);
    }
    e.size = sizeof e;
    ((chatd_erase_cb)c->cb)(c->ctx, st, res ? &e : NULL);
    call_free(c);
}

/* The reaction counts of SDK 2.5, read at the plugin's stride. */
#define REACTION_COUNT_SIZE_2_5 (offsetof(struct chatd_reaction_count, me) + sizeof(bool))

static void on_reactions(void *ctx, chatd_status st, const struct chatd_reaction_count *counts, size_t n)
{
    struct call *c = ctx;
    if (call_early(c))
        return;
    if (!counts || !n) {
        ((chatd_reactions_cb)c->cb)(c->ctx, st, NULL, 0);
        call_free(c);
        return;
    }
    if (counts->size < REACTION_COUNT_SIZE_2_5)
        return call_fail_now(c, call_bad_answer(c, "reaction count", counts->size, REACTION_COUNT_SIZE_2_5));
    struct chatd_reaction_count *out = calloc(n, sizeof *out);
    if (!out)
        return call_fail_now(c, CHATD_ERR_NOMEM);
    size_t stride = counts->size;
    for (size_t i = 0; i < n; i++) {
        const struct chatd_reaction_count *in = (const void *)((const char *)counts + i * stride);
        memcpy(&out[i], in, stride < sizeof out[i] ? stride : sizeof out[i]);
        out[i].size = sizeof out[i];
        if (!out[i].emoji) {
            free(out);
            log_msg(CHATD_LOG_ERROR, c->p->section, 0, "storage plugin %s answered %s with a count without emoji",
                    c->p->desc->name, c->op);
            return call_fail_now(c, CHATD_ERR_INTERNAL);
        }
    }
    ((chatd_reactions_cb)c->cb)(c->ctx, st, out, n);
    free(out);
    call_free(c);
}

/* The canned replies of SDK 2.8, read at the plugin's stride. */
#define CANNED_SIZE_2_8 (offsetof(struct chatd_canned_reply, updated_ms) + sizeof(int64_t))

static void on_canned(void *ctx, chatd_status st, const struct chatd_canned_reply *replies, size_t n)
{
    struct call *c = ctx;
    if (call_early(c))
        return;
    if (!replies || !n) {
        ((chatd_canned_cb)c->cb)(c->ctx, st, NULL, 0);
        call_free(c);
        return;
    }
    if (replies->size < CANNED_SIZE_2_8)
        return call_fail_now(c, call_bad_answer(c, "canned reply", replies->size, CANNED_SIZE_2_8));
    struct chatd_canned_reply *out = calloc(n, sizeof *out);
    if (!out)
        return call_fail_now(c, CHATD_ERR_NOMEM);
    size_t stride = replies->size;
    for (size_t i = 0; i < n; i++) {
        const struct chatd_canned_reply *in = (const void *)((const char *)replies + i * stride);
        memcpy(&out[i], in, stride < sizeof out[i] ? stride : sizeof out[i]);
        out[i].size = sizeof out[i];
        if (!out[i].desk || !out[i].shortcut || !out[i].title || !out[i].body || !out[i].updated_by) {
            free(out);
            log_msg(CHATD_LOG_ERROR, c->p->section, 0, "storage plugin %s answered %s with a reply missing a member",
                    c->p->desc->name, c->op);
            return call_fail_now(c, CHATD_ERR_INTERNAL);
        }
    }
    ((chatd_canned_cb)c->cb)(c->ctx, st, out, n);
    free(out);
    call_free(c);
}

/* ---------------------------------------------------- the core's side */

static const struct chatd_storage_ops *plugin_ops(const struct plugin *p)
{
    return p->desc->ops.storage;
}

/* Start a call: NULL when out of memory (then cb has run with NOMEM, the
 * one case where it runs before the core's call returns). */
static struct call *call_start(struct plugin *p, const char *op, enum answer answer, void *cb, void *ctx)
{
    struct call *c = call_new(p, op, answer, cb, ctx);
    if (!c) {
        struct call stack = {.p = p, .op = op, .answer = answer, .cb = cb, .ctx = ctx};
        call_answer_failure(&stack, CHATD_ERR_NOMEM);
        return NULL;
    }
    p->storage_calls++;
    return c;
}

/* The room the core hands over, in the plugin's layout, in *buf. */
static const struct chatd_room *room_out(const struct plugin *p, const struct chatd_room *room, struct chatd_room *buf)
{
    struct chatd_room r = *room;
    r.size = sizeof r;
    r.last_message = NULL; /* ignored by room_create */
    memset(buf, 0, sizeof *buf);
    if (plugin_sdk1(p))
        memcpy(buf, SDK1_CBODY(&r), sdk1_room_size(p->desc->abi_minor));
    else
        *buf = r;
    return buf;
}

static void port_room_create(void *state, const struct chatd_room *room, const char *unique_key, chatd_room_cb cb,
                             void *ctx)
{
    struct plugin *p = state;
    struct call *c = call_start(p, "room_create", ANSWER_ROOM, (void *)cb, ctx);
    if (!c)
        return;
    struct chatd_room buf;
    plugin_ops(p)->room_create(p->state, room_out(p, room, &buf), unique_key, on_room, c);
    call_returned(c);
}

static void port_room_get(void *state, const char *room_id, const char *for_user, chatd_room_cb cb, void *ctx)
{
    struct plugin *p = state;
    struct call *c = call_start(p, "room_get", ANSWER_ROOM, (void *)cb, ctx);
    if (!c)
        return;
    plugin_ops(p)->room_get(p->state, room_id, for_user, on_room, c);
    call_returned(c);
}

static void port_room_list(void *state, const struct chatd_room_filter *filter, chatd_rooms_cb cb, void *ctx)
{
    struct plugin *p = state;
    struct call *c = call_start(p, "room_list", ANSWER_ROOMS, (void *)cb, ctx);
    if (!c)
        return;
    struct chatd_room_filter f = *filter, buf;
    f.size = sizeof f;
    memset(&buf, 0, sizeof buf);
    if (plugin_sdk1(p))
        memcpy(&buf, SDK1_CBODY(&f), SDK1_SIZE(chatd_room_filter));
    else
        buf = f;
    plugin_ops(p)->room_list(p->state, &buf, on_rooms, c);
    call_returned(c);
}

static void port_room_claim(void *state, const char *room_id, const char *agent, int64_t now_ms, chatd_room_cb cb,
                            void *ctx)
{
    struct plugin *p = state;
    struct call *c = call_start(p, "room_claim", ANSWER_ROOM, (void *)cb, ctx);
    if (!c)
        return;
    plugin_ops(p)->room_claim(p->state, room_id, agent, now_ms, on_room, c);
    call_returned(c);
}

static void port_room_complete(void *state, const char *room_id, const char *agent, chatd_room_cb cb, void *ctx)
{
    struct plugin *p = state;
    struct call *c = call_start(p, "room_complete", ANSWER_ROOM, (void *)cb, ctx);
    if (!c)
        return;
    plugin_ops(p)->room_complete(p->state, room_id, agent, on_room, c);
    call_returned(c);
}

static void port_room_delete(void *state, const char *room_id, chatd_done_cb cb, void *ctx)
{
    struct plugin *p = state;
    struct call *c = call_start(p, "room_delete", ANSWER_DONE, (void *)cb, ctx);
    if (!c)
        return;
    plugin_ops(p)->room_delete(p->state, room_id, on_done, c);
    call_returned(c);
}

static void port_member_add(void *state, const char *room_id, const char *user, chatd_done_cb cb, void *ctx)
{
    struct plugin *p = state;
    struct call *c = call_start(p, "member_add", ANSWER_DONE, (void *)cb, ctx);
    if (!c)
        return;
    plugin_ops(p)->member_add(p->state, room_id, user, on_done, c);
    call_returned(c);
}

static void port_member_remove(void *state, const char *room_id, const char *user, chatd_done_cb cb, void *ctx)
{
    struct plugin *p = state;
    struct call *c = call_start(p, "member_remove", ANSWER_DONE, (void *)cb, ctx);
    if (!c)
        return;
    plugin_ops(p)->member_remove(p->state, room_id, user, on_done, c);
    call_returned(c);
}

static void port_message_append(void *state, const struct chatd_message *msg, chatd_message_cb cb, void *ctx)
{
    struct plugin *p = state;
    struct call *c = call_start(p, "message_append", ANSWER_MESSAGE, (void *)cb, ctx);
    if (!c)
        return;
    struct chatd_message m = *msg, buf;
    m.size = sizeof m;
    memset(&buf, 0, sizeof buf);
    if (plugin_sdk1(p))
        memcpy(&buf, SDK1_CBODY(&m), SDK1_MESSAGE_SIZE);
    else
        buf = m;
    plugin_ops(p)->message_append(p->state, &buf, on_message, c);
    call_returned(c);
}

static void port_message_list(void *state, const char *room_id, uint64_t before, uint64_t after, size_t limit,
                              chatd_messages_cb cb, void *ctx)
{
    struct plugin *p = state;
    struct call *c = call_start(p, "message_list", ANSWER_MESSAGES, (void *)cb, ctx);
    if (!c)
        return;
    plugin_ops(p)->message_list(p->state, room_id, before, after, limit, on_messages, c);
    call_returned(c);
}

static void port_read_mark(void *state, const char *room_id, const char *user, uint64_t seq, chatd_done_cb cb,
                           void *ctx)
{
    struct plugin *p = state;
    struct call *c = call_start(p, "read_mark", ANSWER_DONE, (void *)cb, ctx);
    if (!c)
        return;
    plugin_ops(p)->read_mark(p->state, room_id, user, seq, on_done, c);
    call_returned(c);
}

/* Optional operations the plugin lacks answer CHATD_ERR_UNSUPPORTED, later. */
static bool port_lacks(struct call *c, bool has)
{
    if (has)
        return false;
    c->p->storage_calls--;
    c->returned = true;
    call_fail_later(c, CHATD_ERR_UNSUPPORTED);
    return true;
}

static void port_group_change(void *state, const struct chatd_group_change *ch, chatd_room_cb cb, void *ctx)
{
    struct plugin *p = state;
    struct call *c = call_start(p, "group_change", ANSWER_ROOM, (void *)cb, ctx);
    if (!c || port_lacks(c, storage_has_group_change(p)))
        return;
    /* Laid out alike in 1.2 and 2.0: only its size is the host's to set. */
    struct chatd_group_change g = *ch;
    g.size = sizeof g;
    plugin_ops(p)->group_change(p->state, &g, on_room, c);
    call_returned(c);
}

static const struct chatd_storage_ops *ops_of_minor(const struct plugin *p, uint32_t minor)
{
    return plugin_has_minor(p, minor) ? plugin_ops(p) : NULL;
}

static void port_room_close(void *state, const char *room_id, int64_t now_ms, chatd_room_cb cb, void *ctx)
{
    struct plugin *p = state;
    const struct chatd_storage_ops *o = ops_of_minor(p, 2);
    struct call *c = call_start(p, "room_close", ANSWER_ROOM, (void *)cb, ctx);
    if (!c || port_lacks(c, o && OPS_HAS(o, room_close)))
        return;
    o->room_close(p->state, room_id, now_ms, on_room, c);
    call_returned(c);
}

static void port_room_purge(void *state, int64_t closed_before_ms, size_t limit, chatd_count_cb cb, void *ctx)
{
    struct plugin *p = state;
    const struct chatd_storage_ops *o = ops_of_minor(p, 2);
    struct call *c = call_start(p, "room_purge", ANSWER_COUNT, (void *)cb, ctx);
    if (!c || port_lacks(c, o && OPS_HAS(o, room_purge)))
        return;
    o->room_purge(p->state, closed_before_ms, limit, on_count, c);
    call_returned(c);
}

static void port_room_purge_ids(void *state, int64_t closed_before_ms, size_t limit, chatd_ids_cb cb, void *ctx)
{
    struct plugin *p = state;
    const struct chatd_storage_ops *o = ops_of_minor(p, 2);
    struct call *c = call_start(p, "room_purge_ids", ANSWER_IDS, (void *)cb, ctx);
    if (!c || port_lacks(c, o && OPS_HAS(o, room_purge_ids)))
        return;
    o->room_purge_ids(p->state, closed_before_ms, limit, on_ids, c);
    call_returned(c);
}

static void port_room_page(void *state, const char *room_id, uint64_t before, uint64_t after, size_t limit,
                           chatd_room_page_cb cb, void *ctx)
{
    struct plugin *p = state;
    const struct chatd_storage_ops *o = ops_of_minor(p, 2);
    struct call *c = call_start(p, "room_page", ANSWER_ROOM_PAGE, (void *)cb, ctx);
    if (!c || port_lacks(c, o && OPS_HAS(o, room_page)))
        return;
    o->room_page(p->state, room_id, before, after, limit, on_room_page, c);
    call_returned(c);
}

static void port_user_erase(void *state, const char *user, chatd_erase_cb cb, void *ctx)
{
    struct plugin *p = state;
    const struct chatd_storage_ops *o = ops_of_minor(p, 2);
    struct call *c = call_start(p, "user_erase", ANSWER_ERASE, (void *)cb, ctx);
    if (!c || port_lacks(c, o && OPS_HAS(o, user_erase)))
        return;
    o->user_erase(p->state, user, on_erase, c);
    call_returned(c);
}

static void port_message_edit(void *state, const struct chatd_message_edit *ed, chatd_message_cb cb, void *ctx)
{
    struct plugin *p = state;
    const struct chatd_storage_ops *o = ops_of_minor(p, 2);
    struct call *c = call_start(p, "message_edit", ANSWER_MESSAGE, (void *)cb, ctx);
    if (!c || port_lacks(c, o && OPS_HAS(o, message_edit)))
        return;
    struct chatd_message_edit e = *ed;
    e.size = sizeof e;
    o->message_edit(p->state, &e, on_message, c);
    call_returned(c);
}

static void port_message_revisions(void *state, const char *room_id, uint64_t after_rev, size_t limit,
                                   chatd_messages_cb cb, void *ctx)
{
    struct plugin *p = state;
    const struct chatd_storage_ops *o = ops_of_minor(p, 2);
    struct call *c = call_start(p, "message_revisions", ANSWER_MESSAGES, (void *)cb, ctx);
    if (!c || port_lacks(c, o && OPS_HAS(o, message_revisions)))
        return;
    o->message_revisions(p->state, room_id, after_rev, limit, on_messages, c);
    call_returned(c);
}

static void port_room_claim_limited(void *state, const char *room_id, const char *agent, size_t max_open,
                                    int64_t now_ms, chatd_room_cb cb, void *ctx)
{
    struct plugin *p = state;
    const struct chatd_storage_ops *o = ops_of_minor(p, 2);
    struct call *c = call_start(p, "room_claim_limited", ANSWER_ROOM, (void *)cb, ctx);
    if (!c || port_lacks(c, o && OPS_HAS(o, room_claim_limited)))
        return;
    o->room_claim_limited(p->state, room_id, agent, max_open, now_ms, on_room, c);
    call_returned(c);
}

static void port_room_transfer(void *state, const struct chatd_room_transfer *t, chatd_room_cb cb, void *ctx)
{
    struct plugin *p = state;
    const struct chatd_storage_ops *o = ops_of_minor(p, 2);
    struct call *c = call_start(p, "room_transfer", ANSWER_ROOM, (void *)cb, ctx);
    if (!c || port_lacks(c, o && OPS_HAS(o, room_transfer)))
        return;
    struct chatd_room_transfer tr = *t;
    tr.size = sizeof tr;
    o->room_transfer(p->state, &tr, on_room, c);
    call_returned(c);
}

static void port_room_reopen(void *state, const struct chatd_room_reopen *ro, chatd_room_cb cb, void *ctx)
{
    struct plugin *p = state;
    const struct chatd_storage_ops *o = ops_of_minor(p, 2);
    struct call *c = call_start(p, "room_reopen", ANSWER_ROOM, (void *)cb, ctx);
    if (!c || port_lacks(c, o && OPS_HAS(o, room_reopen)))
        return;
    struct chatd_room_reopen r = *ro;
    r.size = sizeof r;
    o->room_reopen(p->state, &r, on_room, c);
    call_returned(c);
}

static void port_reaction_change(void *state, const struct chatd_reaction_change *rc, chatd_reactions_cb cb,
                                 void *ctx)
{
    struct plugin *p = state;
    const struct chatd_storage_ops *o = ops_of_minor(p, 2);
    struct call *c = call_start(p, "reaction_change", ANSWER_REACTIONS, (void *)cb, ctx);
    if (!c || port_lacks(c, o && OPS_HAS(o, reaction_change)))
        return;
    struct chatd_reaction_change r = *rc;
    r.size = sizeof r;
    o->reaction_change(p->state, &r, on_reactions, c);
    call_returned(c);
}

static void port_reaction_list(void *state, const char *room_id, const uint64_t *seqs, size_t nseqs,
                               const char *for_user, chatd_reactions_cb cb, void *ctx)
{
    struct plugin *p = state;
    const struct chatd_storage_ops *o = ops_of_minor(p, 2);
    struct call *c = call_start(p, "reaction_list", ANSWER_REACTIONS, (void *)cb, ctx);
    if (!c || port_lacks(c, o && OPS_HAS(o, reaction_list)))
        return;
    o->reaction_list(p->state, room_id, seqs, nseqs, for_user, on_reactions, c);
    call_returned(c);
}

static void port_room_rate(void *state, const struct chatd_room_rating *rt, chatd_room_cb cb, void *ctx)
{
    struct plugin *p = state;
    const struct chatd_storage_ops *o = ops_of_minor(p, 2);
    struct call *c = call_start(p, "room_rate", ANSWER_ROOM, (void *)cb, ctx);
    if (!c || port_lacks(c, o && OPS_HAS(o, room_rate)))
        return;
    struct chatd_room_rating r = *rt;
    r.size = sizeof r;
    o->room_rate(p->state, &r, on_room, c);
    call_returned(c);
}

static void port_message_search(void *state, const struct chatd_message_search *q, chatd_messages_cb cb, void *ctx)
{
    struct plugin *p = state;
    const struct chatd_storage_ops *o = ops_of_minor(p, 2);
    struct call *c = call_start(p, "message_search", ANSWER_MESSAGES, (void *)cb, ctx);
    if (!c || port_lacks(c, o && OPS_HAS(o, message_search)))
        return;
    struct chatd_message_search s = *q;
    s.size = sizeof s;
    o->message_search(p->state, &s, on_messages, c);
    call_returned(c);
}

static void port_canned_put(void *state, const struct chatd_canned_reply *reply, size_t max_per_desk,
                            chatd_count_cb cb, void *ctx)
{
    struct plugin *p = state;
    const struct chatd_storage_ops *o = ops_of_minor(p, 2);
    struct call *c = call_start(p, "canned_put", ANSWER_COUNT, (void *)cb, ctx);
    if (!c || port_lacks(c, o && OPS_HAS(o, canned_put)))
        return;
    struct chatd_canned_reply r = *reply;
    r.size = sizeof r;
    o->canned_put(p->state, &r, max_per_desk, on_count, c);
    call_returned(c);
}

static void port_canned_delete(void *state, const char *desk, const char *shortcut, chatd_done_cb cb, void *ctx)
{
    struct plugin *p = state;
    const struct chatd_storage_ops *o = ops_of_minor(p, 2);
    struct call *c = call_start(p, "canned_delete", ANSWER_DONE, (void *)cb, ctx);
    if (!c || port_lacks(c, o && OPS_HAS(o, canned_delete)))
        return;
    o->canned_delete(p->state, desk, shortcut, on_done, c);
    call_returned(c);
}

static void port_canned_list(void *state, const char *desk, size_t limit, chatd_canned_cb cb, void *ctx)
{
    struct plugin *p = state;
    const struct chatd_storage_ops *o = ops_of_minor(p, 2);
    struct call *c = call_start(p, "canned_list", ANSWER_CANNED, (void *)cb, ctx);
    if (!c || port_lacks(c, o && OPS_HAS(o, canned_list)))
        return;
    o->canned_list(p->state, desk, limit, on_canned, c);
    call_returned(c);
}

static const struct chatd_storage_ops port_ops = {
    .size = sizeof port_ops,
    .room_create = port_room_create,
    .room_get = port_room_get,
    .room_list = port_room_list,
    .room_claim = port_room_claim,
    .room_complete = port_room_complete,
    .room_delete = port_room_delete,
    .member_add = port_member_add,
    .member_remove = port_member_remove,
    .message_append = port_message_append,
    .message_list = port_message_list,
    .read_mark = port_read_mark,
    .group_change = port_group_change,
    .room_close = port_room_close,
    .room_purge = port_room_purge,
    .user_erase = port_user_erase,
    .message_edit = port_message_edit,
    .message_revisions = port_message_revisions,
    .room_claim_limited = port_room_claim_limited,
    .room_transfer = port_room_transfer,
    .room_reopen = port_room_reopen,
    .reaction_change = port_reaction_change,
    .reaction_list = port_reaction_list,
    .room_rate = port_room_rate,
    .message_search = port_message_search,
    .canned_put = port_canned_put,
    .canned_delete = port_canned_delete,
    .canned_list = port_canned_list,
    .room_purge_ids = port_room_purge_ids,
    .room_page = port_room_page,
};

const struct chatd_storage_ops *storage_ops(const struct plugin *p, void **state)
{
    *state = (void *)p;
    return &port_ops;
}

struct chatd_room storage_room(const struct plugin *p, const struct chatd_room *rooms, size_t i)
{
    (void)p;
    return rooms[i];
}

bool storage_has_group_change(const struct plugin *p)
{
    return plugin_has_minor(p, 2) && OPS_HAS(plugin_ops(p), group_change);
}

storage_close_fn storage_room_close(const struct plugin *p)
{
    const struct chatd_storage_ops *o = ops_of_minor(p, 2);
    return o && OPS_HAS(o, room_close) ? port_room_close : NULL;
}

storage_purge_fn storage_room_purge(const struct plugin *p)
{
    const struct chatd_storage_ops *o = ops_of_minor(p, 2);
    return o && OPS_HAS(o, room_purge) ? port_room_purge : NULL;
}

storage_purge_ids_fn storage_room_purge_ids(const struct plugin *p)
{
    const struct chatd_storage_ops *o = ops_of_minor(p, 2);
    return o && OPS_HAS(o, room_purge_ids) ? port_room_purge_ids : NULL;
}

storage_room_page_fn storage_room_page(const struct plugin *p)
{
    const struct chatd_storage_ops *o = ops_of_minor(p, 2);
    return o && OPS_HAS(o, room_page) ? port_room_page : NULL;
}

storage_erase_fn storage_user_erase(const struct plugin *p)
{
    const struct chatd_storage_ops *o = ops_of_minor(p, 2);
    return o && OPS_HAS(o, user_erase) ? port_user_erase : NULL;
}

bool storage_has_message_edit(const struct plugin *p)
{
    const struct chatd_storage_ops *o = ops_of_minor(p, 2);
    return o && OPS_HAS(o, message_edit) && OPS_HAS(o, message_revisions);
}

bool storage_has_claim_limited(const struct plugin *p)
{
    const struct chatd_storage_ops *o = ops_of_minor(p, 2);
    return o && OPS_HAS(o, room_claim_limited);
}

bool storage_has_transfer(const struct plugin *p)
{
    const struct chatd_storage_ops *o = ops_of_minor(p, 2);
    return o && OPS_HAS(o, room_transfer);
}

bool storage_has_reopen(const struct plugin *p)
{
    const struct chatd_storage_ops *o = ops_of_minor(p, 2);
    return o && OPS_HAS(o, room_reopen);
}

bool storage_has_reactions(const struct plugin *p)
{
    const struct chatd_storage_ops *o = ops_of_minor(p, 2);
    return o && OPS_HAS(o, reaction_change) && OPS_HAS(o, reaction_list);
}

bool storage_has_rate(const struct plugin *p)
{
    const struct chatd_storage_ops *o = ops_of_minor(p, 2);
    return o && OPS_HAS(o, room_rate);
}

bool storage_has_message_search(const struct plugin *p)
{
    const struct chatd_storage_ops *o = ops_of_minor(p, 2);
    return o && OPS_HAS(o, message_search);
}

bool storage_has_canned(const struct plugin *p)
{
    const struct chatd_storage_ops *o = ops_of_minor(p, 2);
    return o && OPS_HAS(o, canned_put) && OPS_HAS(o, canned_delete) && OPS_HAS(o, canned_list);
}
