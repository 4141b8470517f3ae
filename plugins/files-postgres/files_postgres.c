/*
 * files-postgres: attachments in PostgreSQL (SDK 2.10, kind files), shared
 * by every instance that names the same database: a file uploaded through
 * one instance is read through any other.
 *
 * Tables (created if missing):
 *   chatd_files        one row a file: id, room, owner, name, content_type,
 *                      length (the bytes written so far while unfinished),
 *                      width, height, created_ms, finished
 *   chatd_file_chunks  its bytes: (id, off, data bytea), one row a write,
 *                      removed with their file (ON DELETE CASCADE)
 * A write appends its chunk at `off = length` and raises `length` in one
 * statement; put_finish sets finished once `length` is what the host says,
 * and commits before it answers: a file is readable exactly when its upload
 * was answered. A read fetches the chunks that overlap the range.
 *
 * libpq's blocking calls run on one worker thread of the plugin, with one
 * connection (re-established on failure before the next operation); answers
 * reach the core through host->post, so the event loop never waits on the
 * database (docs/files.md). Unfinished uploads older than a day are swept
 * when an instance starts (another instance's upload under way is younger).
 */
#include <chatd/plugin.h>

#include <libpq-fe.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "plugin_conf.h"

enum job_kind { J_BEGIN, J_WRITE, J_FINISH, J_ABORT, J_READ, J_REMOVE, J_REMOVE_ROOM, J_REMOVE_OWNER, J_USAGE };

struct job {
    struct job *next;
    enum job_kind kind;
    void *cb, *ctx;
    char id[72];
    char *key;
    char *room, *owner, *name, *type;
    uint64_t length, offset;
    uint32_t width, height;
    int64_t created_ms;
    char *data;
    size_t len, max;
    chatd_status st_out;
    uint64_t count, bytes;
};

struct pgfiles {
    const struct chatd_host *host;
    char *conninfo;
    PGconn *pg;
    bool schema_ok;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct job *head, *tail;
    bool stopping;
};

static const char SCHEMA[] =
    "CREATE TABLE IF NOT EXISTS chatd_files (id text PRIMARY KEY, room text NOT NULL, owner text NOT NULL,"
    " name text NOT NULL, content_type text NOT NULL, length bigint NOT NULL DEFAULT 0,"
    " width integer NOT NULL DEFAULT 0, height integer NOT NULL DEFAULT 0, created_ms bigint NOT NULL,"
    " finished boolean NOT NULL DEFAULT false);"
    "CREATE INDEX IF NOT EXISTS chatd_files_room ON chatd_files (room);"
    "CREATE INDEX IF NOT EXISTS chatd_files_owner ON chatd_files (owner);"
    "CREATE TABLE IF NOT EXISTS chatd_file_chunks (id text NOT NULL REFERENCES chatd_files (id) ON DELETE CASCADE,"
    " off bigint NOT NULL, data bytea NOT NULL, PRIMARY KEY (id, off));";

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ------------------------------------------------ the worker's database */

/* A usable connection with the schema, or false (logged). */
static bool connected(struct pgfiles *st)
{
    if (st->pg && PQstatus(st->pg) == CONNECTION_OK && st->schema_ok)
        return true;
    if (st->pg && PQstatus(st->pg) != CONNECTION_OK)
        PQreset(st->pg);
    else if (!st->pg)
        st->pg = PQconnectdb(st->conninfo);
    if (!st->pg || PQstatus(st->pg) != CONNECTION_OK) {
        st->host->log(st->host, CHATD_LOG_WARN, "cannot connect: %s",
                      st->pg ? PQerrorMessage(st->pg) : "out of memory");
        return false;
    }
    PGresult *r = PQexec(st->pg, SCHEMA);
    st->schema_ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    if (!st->schema_ok)
        st->host->log(st->host, CHATD_LOG_ERROR, "cannot create the tables: %s", PQerrorMessage(st->pg));
    PQclear(r);
    if (st->schema_ok) {
        char cutoff[24];
        snprintf(cutoff, sizeof cutoff, "%lld", (long long)(now_ms() - 86400000LL));
        const char *v[] = {cutoff};
        PQclear(PQexecParams(st->pg, "DELETE FROM chatd_files WHERE NOT finished AND created_ms < $1", 1, NULL, v,
                             NULL, NULL, 0));
    }
    return st->schema_ok;
}

/* One statement; NULL (and *st set) when it failed. Texts and binary
 * parameters as libpq takes them. */
static PGresult *run(struct pgfiles *st, const char *sql, int n, const char *const *v, const int *len,
                     const int *fmt, int result_fmt, chatd_status *s)
{
    PGresult *r = PQexecParams(st->pg, sql, n, NULL, v, len, fmt, result_fmt);
    ExecStatusType es = PQresultStatus(r);
    if (es == PGRES_COMMAND_OK || es == PGRES_TUPLES_OK)
        return r;
    st->host->log(st->host, CHATD_LOG_WARN, "query failed: %s", PQerrorMessage(st->pg));
    *s = PQstatus(st->pg) == CONNECTION_OK ? CHATD_ERR_INTERNAL : CHATD_ERR_UNAVAILABLE;
    PQclear(r);
    return NULL;
}

static chatd_status run_begin(struct pgfiles *st, struct job *j)
{
    unsigned char rnd[16];
    if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd)
        return CHATD_ERR_INTERNAL;
    for (size_t i = 0; i < sizeof rnd; i++)
        snprintf(j->id + 2 * i, 3, "%02x", rnd[i]);
    j->created_ms = now_ms();
    char created[24];
    snprintf(created, sizeof created, "%lld", (long long)j->created_ms);
    const char *v[] = {j->id, j->room, j->owner, j->name, j->type, created};
    chatd_status s = CHATD_OK;
    PGresult *r = run(st,
                      "INSERT INTO chatd_files (id, room, owner, name, content_type, created_ms)"
                      " VALUES ($1, $2, $3, $4, $5, $6)",
                      6, v, NULL, NULL, 0, &s);
    PQclear(r);
    return s;
}

static chatd_status run_write(struct pgfiles *st, struct job *j)
{
    char len[24];
    snprintf(len, sizeof len, "%zu", j->len);
    const char *v[] = {j->id, j->data, len};
    int lens[] = {0, (int)j->len, 0};
    int fmts[] = {0, 1, 0};
    chatd_status s = CHATD_OK;
    PGresult *r = run(st,
                      "WITH f AS (SELECT id, length FROM chatd_files WHERE id = $1 AND NOT finished FOR UPDATE),"
                      " c AS (INSERT INTO chatd_file_chunks (id, off, data) SELECT id, length, $2::bytea FROM f)"
                      " UPDATE chatd_files SET length = chatd_files.length + $3::bigint"
                      " FROM f WHERE chatd_files.id = f.id RETURNING 1",
                      3, v, lens, fmts, 0, &s);
    if (!r)
        return s;
    s = PQntuples(r) == 1 ? CHATD_OK : CHATD_ERR_NOT_FOUND;
    PQclear(r);
    return s;
}

/* The row's columns 0..7 (room, owner, name, content_type, length, width,
 * height, created_ms) into j. */
static chatd_status file_of(struct job *j, PGresult *r)
{
    free(j->room);
    free(j->owner);
    free(j->name);
    free(j->type);
    j->room = strdup(PQgetvalue(r, 0, 0));
    j->owner = strdup(PQgetvalue(r, 0, 1));
    j->name = strdup(PQgetvalue(r, 0, 2));
    j->type = strdup(PQgetvalue(r, 0, 3));
    j->length = strtoull(PQgetvalue(r, 0, 4), NULL, 10);
    j->width = (uint32_t)strtoul(PQgetvalue(r, 0, 5), NULL, 10);
    j->height = (uint32_t)strtoul(PQgetvalue(r, 0, 6), NULL, 10);
    j->created_ms = strtoll(PQgetvalue(r, 0, 7), NULL, 10);
    return j->room && j->owner && j->name && j->type ? CHATD_OK : CHATD_ERR_NOMEM;
}

#define FILE_COLUMNS "room, owner, name, content_type, length, width, height, created_ms"

static chatd_status run_finish(struct pgfiles *st, struct job *j)
{
    char len[24], w[16], h[16];
    snprintf(len, sizeof len, "%llu", (unsigned long long)j->length);
    snprintf(w, sizeof w, "%u", j->width);
    snprintf(h, sizeof h, "%u", j->height);
    const char *v[] = {j->id, j->name, j->type, w, h, len};
    chatd_status s = CHATD_OK;
    PGresult *r = run(st,
                      "UPDATE chatd_files SET name = $2, content_type = $3, width = $4, height = $5, finished = true"
                      " WHERE id = $1 AND NOT finished AND length = $6 RETURNING " FILE_COLUMNS,
                      6, v, NULL, NULL, 0, &s);
    if (!r)
        return s;
    if (PQntuples(r) == 1) {
        s = file_of(j, r);
        PQclear(r);
        return s;
    }
    PQclear(r);
    const char *v1[] = {j->id};
    r = run(st, "SELECT 1 FROM chatd_files WHERE id = $1 AND NOT finished", 1, v1, NULL, NULL, 0, &s);
    if (!r)
        return s;
    s = PQntuples(r) ? CHATD_ERR_INVALID : CHATD_ERR_NOT_FOUND;
    PQclear(r);
    return s;
}

static chatd_status run_read(struct pgfiles *st, struct job *j)
{
    const char *v[] = {j->id};
    chatd_status s = CHATD_OK;
    PGresult *r = run(st, "SELECT " FILE_COLUMNS " FROM chatd_files WHERE id = $1 AND finished", 1, v, NULL, NULL,
                      0, &s);
    if (!r)
        return s;
    if (PQntuples(r) != 1) {
        PQclear(r);
        return CHATD_ERR_NOT_FOUND;
    }
    s = file_of(j, r);
    PQclear(r);
    if (s != CHATD_OK)
        return s;
    if (j->offset > j->length)
        return CHATD_ERR_INVALID;
    uint64_t left = j->length - j->offset;
    size_t want = left < j->max ? (size_t)left : j->max;
    if (!want)
        return CHATD_OK;
    if (!(j->data = malloc(want)))
        return CHATD_ERR_NOMEM;
    char from[24], to[24];
    snprintf(from, sizeof from, "%llu", (unsigned long long)j->offset);
    snprintf(to, sizeof to, "%llu", (unsigned long long)(j->offset + want));
    const char *v2[] = {j->id, from, to};
    r = run(st,
            "SELECT off, data FROM chatd_file_chunks WHERE id = $1 AND off < $3::bigint"
            " AND off + length(data) > $2::bigint ORDER BY off",
            3, v2, NULL, NULL, 1, &s);
    if (!r)
        return s;
    for (int i = 0; i < PQntuples(r); i++) {
        uint64_t off = 0;
        const unsigned char *o = (const unsigned char *)PQgetvalue(r, i, 0); /* int8, network order */
        for (int k = 0; k < 8; k++)
            off = off << 8 | o[k];
        const char *data = PQgetvalue(r, i, 1);
        uint64_t n = (uint64_t)PQgetlength(r, i, 1);
        uint64_t a = off > j->offset ? off : j->offset, b = off + n < j->offset + want ? off + n : j->offset + want;
        if (a < b)
            memcpy(j->data + (a - j->offset), data + (a - off), (size_t)(b - a));
        if (b > j->offset + j->len)
            j->len = (size_t)(b - j->offset);
    }
    PQclear(r);
    return j->len == want ? CHATD_OK : CHATD_ERR_INTERNAL;
}

static chatd_status run_delete(struct pgfiles *st, struct job *j, const char *sql, const char *arg)
{
    const char *v[] = {arg};
    chatd_status s = CHATD_OK;
    PGresult *r = run(st, sql, 1, v, NULL, NULL, 0, &s);
    if (!r)
        return s;
    j->count = strtoull(PQcmdTuples(r), NULL, 10);
    PQclear(r);
    return CHATD_OK;
}

static chatd_status run_job(struct pgfiles *st, struct job *j)
{
    if (!connected(st))
        return CHATD_ERR_UNAVAILABLE;
    chatd_status s;
    switch (j->kind) {
    case J_BEGIN: return run_begin(st, j);
    case J_WRITE: return run_write(st, j);
    case J_FINISH: return run_finish(st, j);
    case J_ABORT:
        s = run_delete(st, j, "DELETE FROM chatd_files WHERE id = $1 AND NOT finished", j->id);
        return s == CHATD_OK && !j->count ? CHATD_ERR_NOT_FOUND : s;
    case J_READ: return run_read(st, j);
    case J_REMOVE:
        s = run_delete(st, j, "DELETE FROM chatd_files WHERE id = $1", j->id);
        return s == CHATD_OK && !j->count ? CHATD_ERR_NOT_FOUND : s;
    case J_REMOVE_ROOM: return run_delete(st, j, "DELETE FROM chatd_files WHERE room = $1", j->key);
    case J_REMOVE_OWNER: return run_delete(st, j, "DELETE FROM chatd_files WHERE owner = $1", j->key);
    case J_USAGE: {
        const char *v[] = {j->key};
        s = CHATD_OK;
        PGresult *r = run(st, "SELECT coalesce(sum(length), 0), count(*) FROM chatd_files WHERE owner = $1", 1, v,
                          NULL, NULL, 0, &s);
        if (!r)
            return s;
        j->bytes = strtoull(PQgetvalue(r, 0, 0), NULL, 10);
        j->count = strtoull(PQgetvalue(r, 0, 1), NULL, 10);
        PQclear(r);
        return CHATD_OK;
    }
    }
    return CHATD_ERR_INTERNAL;
}

/* ------------------------------------------------------------ the thread */

static void job_free(struct job *j)
{
    free(j->key);
    free(j->room);
    free(j->owner);
    free(j->name);
    free(j->type);
    free(j->data);
    free(j);
}

/* Core thread: the answer. */
static void job_answer(void *arg)
{
    struct job *j = arg;
    chatd_status s = j->st_out;
    struct chatd_file f = {.size = sizeof f, .id = j->id, .room = j->room, .owner = j->owner, .name = j->name,
                           .content_type = j->type, .length = j->kind == J_BEGIN ? 0 : j->length,
                           .width = j->width, .height = j->height, .created_ms = j->created_ms};
    switch (j->kind) {
    case J_BEGIN:
    case J_FINISH: ((chatd_file_cb)j->cb)(j->ctx, s, s == CHATD_OK ? &f : NULL); break;
    case J_READ: ((chatd_file_read_cb)j->cb)(j->ctx, s, s == CHATD_OK ? &f : NULL, j->data, s == CHATD_OK ? j->len : 0);
        break;
    case J_USAGE: ((chatd_file_usage_cb)j->cb)(j->ctx, s, j->bytes, j->count); break;
    default: ((chatd_files_done_cb)j->cb)(j->ctx, s, j->count); break;
    }
    job_free(j);
}

static void *worker(void *arg)
{
    struct pgfiles *st = arg;
    for (;;) {
        pthread_mutex_lock(&st->mu);
        while (!st->head && !st->stopping)
            pthread_cond_wait(&st->cv, &st->mu);
        struct job *j = st->head;
        if (!j) {
            pthread_mutex_unlock(&st->mu);
            return NULL;
        }
        st->head = j->next;
        if (!st->head)
            st->tail = NULL;
        pthread_mutex_unlock(&st->mu);
        j->next = NULL;
        j->st_out = run_job(st, j);
        if (j->kind == J_WRITE) { /* the bytes written are no answer */
            free(j->data);
            j->data = NULL;
            j->len = 0;
        }
        if (st->host->post(st->host, job_answer, j) != CHATD_OK)
            job_free(j);
    }
}

static void submit(struct pgfiles *st, struct job *j, chatd_status early)
{
    if (early != CHATD_OK) {
        j->st_out = early;
        if (st->host->post(st->host, job_answer, j) != CHATD_OK)
            job_free(j);
        return;
    }
    pthread_mutex_lock(&st->mu);
    if (st->tail)
        st->tail->next = j;
    else
        st->head = j;
    st->tail = j;
    pthread_cond_signal(&st->cv);
    pthread_mutex_unlock(&st->mu);
}

/* A job, or NULL when out of memory (answered through post if possible). */
struct nomem {
    enum job_kind kind;
    void *cb, *ctx;
};

static void nomem_answer(void *arg)
{
    struct nomem *n = arg;
    struct job *j = calloc(1, sizeof *j);
    if (j) {
        *j = (struct job){.kind = n->kind, .cb = n->cb, .ctx = n->ctx, .st_out = CHATD_ERR_NOMEM};
        job_answer(j);
    }
    free(n);
}

static struct job *job_new(struct pgfiles *st, enum job_kind kind, void *cb, void *ctx)
{
    struct job *j = calloc(1, sizeof *j);
    if (j) {
        j->kind = kind;
        j->cb = cb;
        j->ctx = ctx;
        return j;
    }
    struct nomem *n = malloc(sizeof *n);
    if (n) {
        *n = (struct nomem){kind, cb, ctx};
        if (st->host->post(st->host, nomem_answer, n) != CHATD_OK)
            free(n);
    }
    return NULL;
}

static chatd_status job_id(struct job *j, const char *id)
{
    if (!id || !*id || strlen(id) >= sizeof j->id)
        return CHATD_ERR_NOT_FOUND;
    snprintf(j->id, sizeof j->id, "%s", id);
    return CHATD_OK;
}

static char *dup_or_empty(const char *s, bool *oom)
{
    char *d = strdup(s ? s : "");
    if (!d)
        *oom = true;
    return d;
}

/* ------------------------------------------------------------- the ops */

static void p_put_begin(void *state, const struct chatd_file *f, chatd_file_cb cb, void *ctx)
{
    struct pgfiles *st = state;
    struct job *j = job_new(st, J_BEGIN, (void *)cb, ctx);
    if (!j)
        return;
    bool oom = false;
    j->room = dup_or_empty(f->room, &oom);
    j->owner = dup_or_empty(f->owner, &oom);
    j->name = dup_or_empty(f->name, &oom);
    j->type = dup_or_empty(f->content_type, &oom);
    submit(st, j, oom ? CHATD_ERR_NOMEM : f->room && f->owner ? CHATD_OK : CHATD_ERR_INVALID);
}

static void p_put_write(void *state, const char *id, const void *data, size_t len, chatd_files_done_cb cb, void *ctx)
{
    struct pgfiles *st = state;
    struct job *j = job_new(st, J_WRITE, (void *)cb, ctx);
    if (!j)
        return;
    chatd_status s = job_id(j, id);
    if (s == CHATD_OK && len > 0x3fffffff)
        s = CHATD_ERR_LIMIT;
    if (s == CHATD_OK && !(j->data = malloc(len ? len : 1)))
        s = CHATD_ERR_NOMEM;
    if (s == CHATD_OK && len)
        memcpy(j->data, data, len);
    j->len = len;
    submit(st, j, s);
}

static void p_put_finish(void *state, const struct chatd_file *f, chatd_file_cb cb, void *ctx)
{
    struct pgfiles *st = state;
    struct job *j = job_new(st, J_FINISH, (void *)cb, ctx);
    if (!j)
        return;
    bool oom = false;
    chatd_status s = job_id(j, f->id);
    j->name = dup_or_empty(f->name, &oom);
    j->type = dup_or_empty(f->content_type, &oom);
    j->length = f->length;
    j->width = f->width;
    j->height = f->height;
    submit(st, j, oom ? CHATD_ERR_NOMEM : s);
}

static void by_id(struct pgfiles *st, enum job_kind kind, const char *id, void *cb, void *ctx)
{
    struct job *j = job_new(st, kind, cb, ctx);
    if (j)
        submit(st, j, job_id(j, id));
}

static void p_put_abort(void *state, const char *id, chatd_files_done_cb cb, void *ctx)
{
    by_id(state, J_ABORT, id, (void *)cb, ctx);
}

static void p_read(void *state, const char *id, uint64_t offset, size_t max, chatd_file_read_cb cb, void *ctx)
{
    struct pgfiles *st = state;
    struct job *j = job_new(st, J_READ, (void *)cb, ctx);
    if (!j)
        return;
    j->offset = offset;
    j->max = max;
    submit(st, j, job_id(j, id));
}

static void p_remove(void *state, const char *id, chatd_files_done_cb cb, void *ctx)
{
    by_id(state, J_REMOVE, id, (void *)cb, ctx);
}

static void keyed(struct pgfiles *st, enum job_kind kind, const char *key, void *cb, void *ctx)
{
    struct job *j = job_new(st, kind, cb, ctx);
    if (!j)
        return;
    chatd_status s = !key ? CHATD_ERR_INVALID : (j->key = strdup(key)) ? CHATD_OK : CHATD_ERR_NOMEM;
    submit(st, j, s);
}

static void p_remove_room(void *state, const char *room, chatd_files_done_cb cb, void *ctx)
{
    keyed(state, J_REMOVE_ROOM, room, (void *)cb, ctx);
}

static void p_remove_owner(void *state, const char *owner, chatd_files_done_cb cb, void *ctx)
{
    keyed(state, J_REMOVE_OWNER, owner, (void *)cb, ctx);
}

static void p_usage(void *state, const char *owner, chatd_file_usage_cb cb, void *ctx)
{
    keyed(state, J_USAGE, owner, (void *)cb, ctx);
}

/* -------------------------------------------------------------- lifecycle */

static chatd_status pg_init(const struct chatd_host *h, void **state)
{
    char *conninfo = NULL;
    if (conf_str(h, "conninfo", NULL, &conninfo) != CHATD_OK)
        return CHATD_ERR_INVALID;
    if (!conninfo || !*conninfo) {
        free(conninfo);
        h->config_error(h, "conninfo", "missing: a libpq connection string (postgresql://user@host/db)");
        return CHATD_ERR_INVALID;
    }
    char *err = NULL;
    PQconninfoOption *opts = PQconninfoParse(conninfo, &err);
    if (!opts) {
        h->config_error(h, "conninfo", "not a libpq connection string: %s", err ? err : "out of memory");
        PQfreemem(err);
        free(conninfo);
        return CHATD_ERR_INVALID;
    }
    PQconninfoFree(opts);
    struct pgfiles *st = calloc(1, sizeof *st);
    if (!st) {
        free(conninfo);
        return CHATD_ERR_NOMEM;
    }
    st->host = h;
    st->conninfo = conninfo;
    pthread_mutex_init(&st->mu, NULL);
    pthread_cond_init(&st->cv, NULL);
    if (pthread_create(&st->thread, NULL, worker, st) != 0) {
        h->config_error(h, NULL, "cannot start the database thread");
        free(conninfo);
        free(st);
        return CHATD_ERR_INTERNAL;
    }
    *state = st;
    return CHATD_OK;
}

static void pg_fini(void *state)
{
    struct pgfiles *st = state;
    pthread_mutex_lock(&st->mu);
    st->stopping = true;
    pthread_cond_signal(&st->cv);
    pthread_mutex_unlock(&st->mu);
    pthread_join(st->thread, NULL); /* runs what is queued first */
    PQfinish(st->pg);
    pthread_mutex_destroy(&st->mu);
    pthread_cond_destroy(&st->cv);
    free(st->conninfo);
    free(st);
}

static const struct chatd_files_ops pg_ops = {
    .size = sizeof pg_ops,
    .put_begin = p_put_begin,
    .put_write = p_put_write,
    .put_finish = p_put_finish,
    .put_abort = p_put_abort,
    .read = p_read,
    .remove = p_remove,
    .remove_room = p_remove_room,
    .remove_owner = p_remove_owner,
    .usage = p_usage,
};

CHATD_PLUGIN_DEFINE(.kind = CHATD_PLUGIN_FILES, .name = "postgres", .version = "1.0",
                    .description = "attachments in PostgreSQL, shared by every instance", .init = pg_init,
                    .fini = pg_fini, .ops.files = &pg_ops)
