#include "plugins/files_port.h"

#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "plugins/loader.h"

enum files_answer { ANSWER_FILE, ANSWER_READ, ANSWER_DONE, ANSWER_USAGE };

struct files_call {
    struct files_call *prev, *next; /* the plugin's operations not answered yet */
    struct plugin *p;
    const char *op;
    enum files_answer answer;
    void *cb;
    void *ctx;
    bool returned; /* the plugin's call has returned */
    bool early;    /* the plugin answered before that */
};

static void files_calls_drop(struct plugin *p);

static struct files_call *call_new(struct plugin *p, const char *op, enum files_answer answer, void *cb, void *ctx)
{
    struct files_call *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    *c = (struct files_call){.p = p, .op = op, .answer = answer, .cb = cb, .ctx = ctx, .next = p->files_calls};
    if (p->files_calls)
        p->files_calls->prev = c;
    p->files_calls = c;
    p->calls_drop = files_calls_drop;
    return c;
}

static void call_free(struct files_call *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else if (c->p->files_calls == c)
        c->p->files_calls = c->next;
    if (c->next)
        c->next->prev = c->prev;
    free(c);
}

static void files_calls_drop(struct plugin *p)
{
    size_t n = 0;
    for (; p->files_calls; n++)
        call_free(p->files_calls);
    if (n)
        log_msg(CHATD_LOG_DEBUG, p->section, 0, "%zu files operations unanswered at unload", n);
}

/* Answer c's caller with st and no data. */
static void call_fail(const struct files_call *c, chatd_status st)
{
    switch (c->answer) {
    case ANSWER_FILE: ((chatd_file_cb)c->cb)(c->ctx, st, NULL); break;
    case ANSWER_READ: ((chatd_file_read_cb)c->cb)(c->ctx, st, NULL, NULL, 0); break;
    case ANSWER_DONE: ((chatd_files_done_cb)c->cb)(c->ctx, st, 0); break;
    case ANSWER_USAGE: ((chatd_file_usage_cb)c->cb)(c->ctx, st, 0, 0); break;
    }
}

static void call_fail_task(void *arg)
{
    struct files_call *c = arg;
    call_fail(c, CHATD_ERR_INTERNAL);
    call_free(c);
}

/* The plugin's call returned: an answer it gave inside becomes a failure,
 * delivered now that the caller's own call is off the stack. */
static void call_returned(struct files_call *c)
{
    c->returned = true;
    if (!c->early)
        return;
    log_msg(CHATD_LOG_ERROR, c->p->section, 0, "files %s answered inside its own call (a plugin bug)", c->op);
    const struct chatd_host *h = &c->p->host;
    if (h->post(h, call_fail_task, c) != CHATD_OK)
        call_free(c);
}

/* Whether the plugin's answer may reach the caller now; otherwise it is
 * noted (early) and c is kept for call_returned. */
static bool call_answer_ok(struct files_call *c)
{
    if (c->returned)
        return true;
    c->early = true;
    return false;
}

static void on_file(void *ctx, chatd_status st, const struct chatd_file *f)
{
    struct files_call *c = ctx;
    if (!call_answer_ok(c))
        return;
    struct chatd_file in = {0};
    if (st == CHATD_OK && f) {
        size_t n = f->size < sizeof in ? f->size : sizeof in;
        memcpy(&in, f, n);
        in.size = sizeof in;
    }
    ((chatd_file_cb)c->cb)(c->ctx, st, st == CHATD_OK && f ? &in : NULL);
    call_free(c);
}

static void on_read(void *ctx, chatd_status st, const struct chatd_file *f, const void *data, size_t len)
{
    struct files_call *c = ctx;
    if (!call_answer_ok(c))
        return;
    struct chatd_file in = {0};
    if (st == CHATD_OK && f) {
        size_t n = f->size < sizeof in ? f->size : sizeof in;
        memcpy(&in, f, n);
        in.size = sizeof in;
    }
    ((chatd_file_read_cb)c->cb)(c->ctx, st, st == CHATD_OK && f ? &in : NULL, st == CHATD_OK ? data : NULL,
                                st == CHATD_OK ? len : 0);
    call_free(c);
}

static void on_done(void *ctx, chatd_status st, uint64_t removed)
{
    struct files_call *c = ctx;
    if (!call_answer_ok(c))
        return;
    ((chatd_files_done_cb)c->cb)(c->ctx, st, removed);
    call_free(c);
}

static void on_usage(void *ctx, chatd_status st, uint64_t bytes, uint64_t files)
{
    struct files_call *c = ctx;
    if (!call_answer_ok(c))
        return;
    ((chatd_file_usage_cb)c->cb)(c->ctx, st, bytes, files);
    call_free(c);
}

/* Out of memory before the plugin was called: answered later, still. */
struct nomem_answer {
    enum files_answer answer;
    void *cb, *ctx;
};

static void nomem_task(void *arg)
{
    struct nomem_answer *a = arg;
    struct files_call c = {.answer = a->answer, .cb = a->cb, .ctx = a->ctx};
    call_fail(&c, CHATD_ERR_NOMEM);
    free(a);
}

static struct files_call *call_start(struct plugin *p, const char *op, enum files_answer answer, void *cb, void *ctx)
{
    struct files_call *c = call_new(p, op, answer, cb, ctx);
    if (c)
        return c;
    struct nomem_answer *a = malloc(sizeof *a);
    if (a) {
        *a = (struct nomem_answer){answer, cb, ctx};
        if (p->host.post(&p->host, nomem_task, a) == CHATD_OK)
            return NULL;
        free(a);
    }
    log_msg(CHATD_LOG_ERROR, p->section, 0, "files %s: out of memory, request dropped", op);
    return NULL;
}

static const struct chatd_files_ops *ops(const struct plugin *p)
{
    return p->desc->ops.files;
}

/* f as this SDK declares it, its size set. */
static struct chatd_file file_in(const struct chatd_file *f)
{
    struct chatd_file in = *f;
    in.size = sizeof in;
    return in;
}

void files_port_put_begin(struct plugin *p, const struct chatd_file *f, chatd_file_cb cb, void *ctx)
{
    struct files_call *c = call_start(p, "put_begin", ANSWER_FILE, (void *)cb, ctx);
    if (!c)
        return;
    struct chatd_file in = file_in(f);
    ops(p)->put_begin(p->state, &in, on_file, c);
    call_returned(c);
}

void files_port_put_write(struct plugin *p, const char *id, const void *data, size_t len, chatd_files_done_cb cb,
                          void *ctx)
{
    struct files_call *c = call_start(p, "put_write", ANSWER_DONE, (void *)cb, ctx);
    if (!c)
        return;
    ops(p)->put_write(p->state, id, data, len, on_done, c);
    call_returned(c);
}

void files_port_put_finish(struct plugin *p, const struct chatd_file *f, chatd_file_cb cb, void *ctx)
{
    struct files_call *c = call_start(p, "put_finish", ANSWER_FILE, (void *)cb, ctx);
    if (!c)
        return;
    struct chatd_file in = file_in(f);
    ops(p)->put_finish(p->state, &in, on_file, c);
    call_returned(c);
}

void files_port_put_abort(struct plugin *p, const char *id, chatd_files_done_cb cb, void *ctx)
{
    struct files_call *c = call_start(p, "put_abort", ANSWER_DONE, (void *)cb, ctx);
    if (!c)
        return;
    ops(p)->put_abort(p->state, id, on_done, c);
    call_returned(c);
}

void files_port_read(struct plugin *p, const char *id, uint64_t offset, size_t max, chatd_file_read_cb cb,
                     void *ctx)
{
    struct files_call *c = call_start(p, "read", ANSWER_READ, (void *)cb, ctx);
    if (!c)
        return;
    ops(p)->read(p->state, id, offset, max, on_read, c);
    call_returned(c);
}

void files_port_remove(struct plugin *p, const char *id, chatd_files_done_cb cb, void *ctx)
{
    struct files_call *c = call_start(p, "remove", ANSWER_DONE, (void *)cb, ctx);
    if (!c)
        return;
    ops(p)->remove(p->state, id, on_done, c);
    call_returned(c);
}

void files_port_remove_room(struct plugin *p, const char *room, chatd_files_done_cb cb, void *ctx)
{
    struct files_call *c = call_start(p, "remove_room", ANSWER_DONE, (void *)cb, ctx);
    if (!c)
        return;
    ops(p)->remove_room(p->state, room, on_done, c);
    call_returned(c);
}

void files_port_remove_owner(struct plugin *p, const char *owner, chatd_files_done_cb cb, void *ctx)
{
    struct files_call *c = call_start(p, "remove_owner", ANSWER_DONE, (void *)cb, ctx);
    if (!c)
        return;
    ops(p)->remove_owner(p->state, owner, on_done, c);
    call_returned(c);
}

void files_port_usage(struct plugin *p, const char *owner, chatd_file_usage_cb cb, void *ctx)
{
    struct files_call *c = call_start(p, "usage", ANSWER_USAGE, (void *)cb, ctx);
    if (!c)
        return;
    ops(p)->usage(p->state, owner, on_usage, c);
    call_returned(c);
}
