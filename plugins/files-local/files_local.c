/*
 * files-local: attachments in a directory of this machine (SDK 2.10, kind
 * files). The embedded default: one instance, or several on one host
 * sharing the directory.
 *
 * Layout of [files] dir, for a file ID (32 hex digits):
 *   ID.upload  an upload under way: its room, owner, name, type (key=value)
 *   ID.part    its bytes so far
 *   ID.meta    a finished file: the same keys plus length, width, height
 *   ID.data    its bytes
 * put_finish writes ID.data and ID.meta (each through a temporary name and
 * rename, after fsync) before answering, so a file is readable exactly when
 * ID.meta exists. Uploads left by a stopped server are removed at start.
 *
 * Every file system call runs on one worker thread of the plugin; answers
 * reach the core through host->post. The removals by room or owner and the
 * usage read every ID.meta and ID.upload of the directory: fine for a
 * directory of some ten thousand files; a larger deployment uses a shared
 * backend with an index.
 */
#include <chatd/plugin.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "plugin_conf.h"

enum job_kind { J_BEGIN, J_WRITE, J_FINISH, J_ABORT, J_READ, J_REMOVE, J_REMOVE_ROOM, J_REMOVE_OWNER, J_USAGE };

/* What a file's .meta or .upload says. */
struct meta {
    char room[256], owner[256], name[1024], type[256];
    uint64_t length;
    uint32_t width, height;
    int64_t created_ms;
};

struct job {
    struct job *next;
    struct local *st;
    enum job_kind kind;
    void *cb, *ctx;
    char id[72];
    char *key; /* room or owner of the removals and usage */
    struct meta m;
    char *data; /* write: the bytes; read: the bytes read */
    size_t len;
    uint64_t offset;
    size_t max;
    /* the answer */
    chatd_status st_out;
    uint64_t count, bytes;
};

struct local {
    const struct chatd_host *host;
    char *dir;
    int dir_fd;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct job *head, *tail;
    bool stopping;
};

/* ------------------------------------------------------------ the files */

static bool id_ok(const char *id)
{
    size_t n = strlen(id);
    if (!n || n > 64)
        return false;
    for (const char *p = id; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || *p == '-' ||
              *p == '_'))
            return false;
    return true;
}

static void path_of(char *out, size_t len, const char *id, const char *ext)
{
    snprintf(out, len, "%s.%s", id, ext);
}

/* A value on one line: '%', control bytes and DEL as %XX. */
static void put_value(FILE *f, const char *key, const char *v)
{
    fprintf(f, "%s=", key);
    for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
        if (*p < 0x20 || *p == 0x7f || *p == '%')
            fprintf(f, "%%%02X", *p);
        else
            fputc(*p, f);
    }
    fputc('\n', f);
}

static void get_value(char *out, size_t len, const char *v)
{
    size_t o = 0;
    for (const char *p = v; *p && *p != '\n' && o + 1 < len; p++) {
        unsigned x;
        if (*p == '%' && sscanf(p + 1, "%2x", &x) == 1) {
            out[o++] = (char)x;
            p += 2;
        } else {
            out[o++] = *p;
        }
    }
    out[o] = '\0';
}

/* Write m as ID.EXT through ID.EXT.tmp, fsync'd, renamed. */
static int meta_write(struct local *st, const char *id, const char *ext, const struct meta *m)
{
    char path[128], tmp[140];
    path_of(path, sizeof path, id, ext);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int fd = openat(st->dir_fd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    if (fd < 0)
        return -1;
    FILE *f = fdopen(fd, "w");
    if (!f) {
        close(fd);
        return -1;
    }
    put_value(f, "room", m->room);
    put_value(f, "owner", m->owner);
    put_value(f, "name", m->name);
    put_value(f, "type", m->type);
    fprintf(f, "length=%llu\nwidth=%u\nheight=%u\ncreated=%lld\n", (unsigned long long)m->length, m->width,
            m->height, (long long)m->created_ms);
    bool ok = fflush(f) == 0 && fsync(fd) == 0;
    ok = fclose(f) == 0 && ok;
    if (!ok || renameat(st->dir_fd, tmp, st->dir_fd, path) < 0) {
        unlinkat(st->dir_fd, tmp, 0);
        return -1;
    }
    return 0;
}

static int meta_read(struct local *st, const char *id, const char *ext, struct meta *m)
{
    char path[128];
    path_of(path, sizeof path, id, ext);
    int fd = openat(st->dir_fd, path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    FILE *f = fdopen(fd, "r");
    if (!f) {
        close(fd);
        return -1;
    }
    memset(m, 0, sizeof *m);
    char line[4096];
    while (fgets(line, sizeof line, f)) {
        char *eq = strchr(line, '=');
        if (!eq)
            continue;
        *eq++ = '\0';
        if (strcmp(line, "room") == 0)
            get_value(m->room, sizeof m->room, eq);
        else if (strcmp(line, "owner") == 0)
            get_value(m->owner, sizeof m->owner, eq);
        else if (strcmp(line, "name") == 0)
            get_value(m->name, sizeof m->name, eq);
        else if (strcmp(line, "type") == 0)
            get_value(m->type, sizeof m->type, eq);
        else if (strcmp(line, "length") == 0)
            m->length = strtoull(eq, NULL, 10);
        else if (strcmp(line, "width") == 0)
            m->width = (uint32_t)strtoul(eq, NULL, 10);
        else if (strcmp(line, "height") == 0)
            m->height = (uint32_t)strtoul(eq, NULL, 10);
        else if (strcmp(line, "created") == 0)
            m->created_ms = strtoll(eq, NULL, 10);
    }
    fclose(f);
    return 0;
}

static chatd_status errno_status(int e)
{
    switch (e) {
    case ENOENT: return CHATD_ERR_NOT_FOUND;
    case ENOSPC:
    case EDQUOT:
    case EFBIG: return CHATD_ERR_LIMIT;
    case ENOMEM: return CHATD_ERR_NOMEM;
    default: return CHATD_ERR_UNAVAILABLE;
    }
}

/* Remove every piece of ID; whether there was any. */
static bool remove_all(struct local *st, const char *id)
{
    static const char *const exts[] = {"meta", "data", "upload", "part"};
    bool any = false;
    for (size_t i = 0; i < 4; i++) {
        char path[128];
        path_of(path, sizeof path, id, exts[i]);
        if (unlinkat(st->dir_fd, path, 0) == 0)
            any = true;
    }
    return any;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static chatd_status run_begin(struct local *st, struct job *j)
{
    unsigned char rnd[16];
    if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd)
        return CHATD_ERR_INTERNAL;
    for (size_t i = 0; i < sizeof rnd; i++)
        snprintf(j->id + 2 * i, 3, "%02x", rnd[i]);
    j->m.created_ms = now_ms();
    char part[128];
    path_of(part, sizeof part, j->id, "part");
    int fd = openat(st->dir_fd, part, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
    if (fd < 0)
        return errno_status(errno);
    close(fd);
    if (meta_write(st, j->id, "upload", &j->m) < 0) {
        chatd_status s = errno_status(errno);
        remove_all(st, j->id);
        return s;
    }
    return CHATD_OK;
}

static chatd_status run_write(struct local *st, struct job *j)
{
    char part[128];
    path_of(part, sizeof part, j->id, "part");
    int fd = openat(st->dir_fd, part, O_WRONLY | O_APPEND | O_CLOEXEC);
    if (fd < 0)
        return errno_status(errno);
    for (size_t off = 0; off < j->len;) {
        ssize_t w = write(fd, j->data + off, j->len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            chatd_status s = errno_status(w < 0 ? errno : ENOSPC);
            close(fd);
            return s;
        }
        off += (size_t)w;
    }
    close(fd);
    return CHATD_OK;
}

static chatd_status run_finish(struct local *st, struct job *j)
{
    struct meta up;
    if (meta_read(st, j->id, "upload", &up) < 0)
        return errno_status(errno);
    char part[128], data[128];
    path_of(part, sizeof part, j->id, "part");
    path_of(data, sizeof data, j->id, "data");
    int fd = openat(st->dir_fd, part, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno_status(errno);
    struct stat sb;
    if (fstat(fd, &sb) < 0 || (uint64_t)sb.st_size != j->m.length) {
        close(fd);
        return CHATD_ERR_INVALID;
    }
    bool synced = fsync(fd) == 0;
    close(fd);
    if (!synced)
        return errno_status(errno);
    /* Room, owner and time as put_begin had them; the rest as now said. */
    struct meta m = j->m;
    memcpy(m.room, up.room, sizeof m.room);
    memcpy(m.owner, up.owner, sizeof m.owner);
    m.created_ms = up.created_ms;
    if (renameat(st->dir_fd, part, st->dir_fd, data) < 0 || meta_write(st, j->id, "meta", &m) < 0)
        return errno_status(errno);
    char upload[128];
    path_of(upload, sizeof upload, j->id, "upload");
    unlinkat(st->dir_fd, upload, 0);
    fsync(st->dir_fd);
    j->m = m;
    return CHATD_OK;
}

static chatd_status run_read(struct local *st, struct job *j)
{
    if (meta_read(st, j->id, "meta", &j->m) < 0)
        return errno_status(errno);
    if (j->offset > j->m.length)
        return CHATD_ERR_INVALID;
    uint64_t left = j->m.length - j->offset;
    size_t want = left < j->max ? (size_t)left : j->max;
    if (!want)
        return CHATD_OK;
    if (!(j->data = malloc(want)))
        return CHATD_ERR_NOMEM;
    char path[128];
    path_of(path, sizeof path, j->id, "data");
    int fd = openat(st->dir_fd, path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno_status(errno);
    while (j->len < want) {
        ssize_t r = pread(fd, j->data + j->len, want - j->len, (off_t)(j->offset + j->len));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        j->len += (size_t)r;
    }
    close(fd);
    return j->len == want ? CHATD_OK : CHATD_ERR_INTERNAL;
}

/* The removals by room or owner, and the usage: one pass over the
 * directory's .meta and .upload files. */
static chatd_status run_scan(struct local *st, struct job *j)
{
    int fd = openat(st->dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *d = fd < 0 ? NULL : fdopendir(fd);
    if (!d) {
        if (fd >= 0)
            close(fd);
        return errno_status(errno);
    }
    for (struct dirent *e; (e = readdir(d));) {
        char id[72];
        const char *dot = strrchr(e->d_name, '.');
        size_t n = dot ? (size_t)(dot - e->d_name) : 0;
        if (!dot || n >= sizeof id || (strcmp(dot, ".meta") != 0 && strcmp(dot, ".upload") != 0))
            continue;
        memcpy(id, e->d_name, n);
        id[n] = '\0';
        bool upload = strcmp(dot, ".upload") == 0;
        struct meta m;
        if (!id_ok(id) || meta_read(st, id, upload ? "upload" : "meta", &m) < 0)
            continue;
        const char *who = j->kind == J_REMOVE_ROOM ? m.room : m.owner;
        if (strcmp(who, j->key) != 0)
            continue;
        if (j->kind == J_USAGE) {
            if (upload) {
                char part[128];
                struct stat sb;
                path_of(part, sizeof part, id, "part");
                if (fstatat(st->dir_fd, part, &sb, 0) == 0)
                    j->bytes += (uint64_t)sb.st_size;
            } else {
                j->bytes += m.length;
            }
            j->count++;
        } else if (remove_all(st, id)) {
            j->count++;
        }
    }
    closedir(d);
    return CHATD_OK;
}

static chatd_status run_job(struct local *st, struct job *j)
{
    bool by_id = j->kind != J_BEGIN && j->kind != J_REMOVE_ROOM && j->kind != J_REMOVE_OWNER && j->kind != J_USAGE;
    if (by_id && !id_ok(j->id))
        return CHATD_ERR_NOT_FOUND; /* no path tricks: an id is a plain name */
    switch (j->kind) {
    case J_BEGIN: return run_begin(st, j);
    case J_WRITE: return run_write(st, j);
    case J_FINISH: return run_finish(st, j);
    case J_ABORT: {
        char upload[128];
        path_of(upload, sizeof upload, j->id, "upload");
        struct stat sb;
        if (fstatat(st->dir_fd, upload, &sb, 0) < 0)
            return CHATD_ERR_NOT_FOUND;
        remove_all(st, j->id);
        return CHATD_OK;
    }
    case J_READ: return run_read(st, j);
    case J_REMOVE: return remove_all(st, j->id) ? CHATD_OK : CHATD_ERR_NOT_FOUND;
    case J_REMOVE_ROOM:
    case J_REMOVE_OWNER:
    case J_USAGE: return run_scan(st, j);
    }
    return CHATD_ERR_INTERNAL;
}

/* ------------------------------------------------------------ the thread */

static void job_free(struct job *j)
{
    free(j->key);
    free(j->data);
    free(j);
}

/* Core thread: the answer. */
static void job_answer(void *arg)
{
    struct job *j = arg;
    chatd_status s = j->st_out;
    struct chatd_file f = {.size = sizeof f, .id = j->id, .room = j->m.room, .owner = j->m.owner,
                           .name = j->m.name, .content_type = j->m.type, .length = j->m.length,
                           .width = j->m.width, .height = j->m.height, .created_ms = j->m.created_ms};
    switch (j->kind) {
    case J_BEGIN:
    case J_FINISH: ((chatd_file_cb)j->cb)(j->ctx, s, s == CHATD_OK ? &f : NULL); break;
    case J_READ:
        ((chatd_file_read_cb)j->cb)(j->ctx, s, s == CHATD_OK ? &f : NULL, j->data, s == CHATD_OK ? j->len : 0);
        break;
    case J_USAGE: ((chatd_file_usage_cb)j->cb)(j->ctx, s, j->bytes, j->count); break;
    default: ((chatd_files_done_cb)j->cb)(j->ctx, s, j->count); break;
    }
    job_free(j);
}

static void *worker(void *arg)
{
    struct local *st = arg;
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
        if (j->kind == J_WRITE) {
            j->st_out = run_job(st, j);
            free(j->data); /* the bytes written are no answer */
            j->data = NULL;
            j->len = 0;
        } else {
            j->st_out = run_job(st, j);
        }
        if (st->host->post(st->host, job_answer, j) != CHATD_OK)
            job_free(j); /* shutting down: nobody waits for it */
    }
}

static struct job *job_new(struct local *st, enum job_kind kind, void *cb, void *ctx)
{
    struct job *j = calloc(1, sizeof *j);
    if (!j)
        return NULL;
    j->st = st;
    j->kind = kind;
    j->cb = cb;
    j->ctx = ctx;
    return j;
}

/* Queue j; NULL (out of memory) or a bad argument is answered through post
 * too, never inside the call. */
static void submit(struct local *st, struct job *j, chatd_status early)
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

static void copy_str(char *out, size_t len, const char *s)
{
    snprintf(out, len, "%s", s ? s : "");
}

/* A job for `id`; a too long id cannot name a file here. */
static chatd_status job_id(struct job *j, const char *id)
{
    if (!id || strlen(id) >= sizeof j->id)
        return CHATD_ERR_NOT_FOUND;
    copy_str(j->id, sizeof j->id, id);
    return CHATD_OK;
}

/* Answer NOMEM without a job: nothing to hand it through but the host. */
struct nomem {
    enum job_kind kind;
    void *cb, *ctx;
};

static void nomem_answer(void *arg)
{
    struct nomem *n = arg;
    struct job j = {.kind = n->kind, .cb = n->cb, .ctx = n->ctx, .st_out = CHATD_ERR_NOMEM};
    struct job *heap = malloc(sizeof *heap);
    if (heap) {
        *heap = j;
        job_answer(heap);
    }
    free(n);
}

static struct job *job_or_nomem(struct local *st, enum job_kind kind, void *cb, void *ctx)
{
    struct job *j = job_new(st, kind, cb, ctx);
    if (j)
        return j;
    struct nomem *n = malloc(sizeof *n);
    if (n) {
        *n = (struct nomem){kind, cb, ctx};
        if (st->host->post(st->host, nomem_answer, n) != CHATD_OK)
            free(n);
    }
    return NULL;
}

/* ------------------------------------------------------------- the ops */

static void l_put_begin(void *state, const struct chatd_file *f, chatd_file_cb cb, void *ctx)
{
    struct local *st = state;
    struct job *j = job_or_nomem(st, J_BEGIN, (void *)cb, ctx);
    if (!j)
        return;
    copy_str(j->m.room, sizeof j->m.room, f->room);
    copy_str(j->m.owner, sizeof j->m.owner, f->owner);
    copy_str(j->m.name, sizeof j->m.name, f->name);
    copy_str(j->m.type, sizeof j->m.type, f->content_type);
    submit(st, j, f->room && f->owner ? CHATD_OK : CHATD_ERR_INVALID);
}

static void l_put_write(void *state, const char *id, const void *data, size_t len, chatd_files_done_cb cb,
                        void *ctx)
{
    struct local *st = state;
    struct job *j = job_or_nomem(st, J_WRITE, (void *)cb, ctx);
    if (!j)
        return;
    chatd_status s = job_id(j, id);
    if (s == CHATD_OK && len) {
        if ((j->data = malloc(len))) {
            memcpy(j->data, data, len);
            j->len = len;
        } else {
            s = CHATD_ERR_NOMEM;
        }
    }
    submit(st, j, s);
}

static void l_put_finish(void *state, const struct chatd_file *f, chatd_file_cb cb, void *ctx)
{
    struct local *st = state;
    struct job *j = job_or_nomem(st, J_FINISH, (void *)cb, ctx);
    if (!j)
        return;
    chatd_status s = job_id(j, f->id);
    copy_str(j->m.name, sizeof j->m.name, f->name);
    copy_str(j->m.type, sizeof j->m.type, f->content_type);
    j->m.length = f->length;
    j->m.width = f->width;
    j->m.height = f->height;
    submit(st, j, s);
}

static void l_put_abort(void *state, const char *id, chatd_files_done_cb cb, void *ctx)
{
    struct local *st = state;
    struct job *j = job_or_nomem(st, J_ABORT, (void *)cb, ctx);
    if (j)
        submit(st, j, job_id(j, id));
}

static void l_read(void *state, const char *id, uint64_t offset, size_t max, chatd_file_read_cb cb, void *ctx)
{
    struct local *st = state;
    struct job *j = job_or_nomem(st, J_READ, (void *)cb, ctx);
    if (!j)
        return;
    j->offset = offset;
    j->max = max;
    submit(st, j, job_id(j, id));
}

static void l_remove(void *state, const char *id, chatd_files_done_cb cb, void *ctx)
{
    struct local *st = state;
    struct job *j = job_or_nomem(st, J_REMOVE, (void *)cb, ctx);
    if (j)
        submit(st, j, job_id(j, id));
}

static void keyed(struct local *st, enum job_kind kind, const char *key, void *cb, void *ctx)
{
    struct job *j = job_or_nomem(st, kind, cb, ctx);
    if (!j)
        return;
    chatd_status s = !key ? CHATD_ERR_INVALID : (j->key = strdup(key)) ? CHATD_OK : CHATD_ERR_NOMEM;
    submit(st, j, s);
}

static void l_remove_room(void *state, const char *room, chatd_files_done_cb cb, void *ctx)
{
    keyed(state, J_REMOVE_ROOM, room, (void *)cb, ctx);
}

static void l_remove_owner(void *state, const char *owner, chatd_files_done_cb cb, void *ctx)
{
    keyed(state, J_REMOVE_OWNER, owner, (void *)cb, ctx);
}

static void l_usage(void *state, const char *owner, chatd_file_usage_cb cb, void *ctx)
{
    keyed(state, J_USAGE, owner, (void *)cb, ctx);
}

/* -------------------------------------------------------------- lifecycle */

/* Uploads a stopped server left unfinished (and temporary names) go. */
static void sweep_unfinished(struct local *st)
{
    int fd = openat(st->dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *d = fd < 0 ? NULL : fdopendir(fd);
    if (!d) {
        if (fd >= 0)
            close(fd);
        return;
    }
    size_t n = 0;
    for (struct dirent *e; (e = readdir(d));) {
        const char *dot = strrchr(e->d_name, '.');
        if (dot && (strcmp(dot, ".part") == 0 || strcmp(dot, ".upload") == 0 || strcmp(dot, ".tmp") == 0) &&
            unlinkat(st->dir_fd, e->d_name, 0) == 0)
            n++;
    }
    closedir(d);
    if (n)
        st->host->log(st->host, CHATD_LOG_INFO, "removed %zu pieces of unfinished uploads from %s", n, st->dir);
}

static chatd_status local_init(const struct chatd_host *h, void **state)
{
    char *dir = NULL;
    if (conf_str(h, "dir", NULL, &dir) != CHATD_OK)
        return CHATD_ERR_INVALID;
    if (!dir || !*dir) {
        free(dir);
        h->config_error(h, "dir", "missing: the directory that keeps the files");
        return CHATD_ERR_INVALID;
    }
    if (mkdir(dir, 0750) < 0 && errno != EEXIST) {
        h->config_error(h, "dir", "cannot create '%s': %s", dir, strerror(errno));
        free(dir);
        return CHATD_ERR_INVALID;
    }
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 || faccessat(fd, ".", W_OK, 0) < 0) {
        h->config_error(h, "dir", "'%s' is not a writable directory: %s", dir, strerror(errno));
        if (fd >= 0)
            close(fd);
        free(dir);
        return CHATD_ERR_INVALID;
    }
    struct local *st = calloc(1, sizeof *st);
    if (!st) {
        close(fd);
        free(dir);
        return CHATD_ERR_NOMEM;
    }
    st->host = h;
    st->dir = dir;
    st->dir_fd = fd;
    sweep_unfinished(st);
    pthread_mutex_init(&st->mu, NULL);
    pthread_cond_init(&st->cv, NULL);
    if (pthread_create(&st->thread, NULL, worker, st) != 0) {
        h->config_error(h, NULL, "cannot start the file thread");
        close(fd);
        free(dir);
        free(st);
        return CHATD_ERR_INTERNAL;
    }
    *state = st;
    return CHATD_OK;
}

static void local_fini(void *state)
{
    struct local *st = state;
    pthread_mutex_lock(&st->mu);
    st->stopping = true;
    pthread_cond_signal(&st->cv);
    pthread_mutex_unlock(&st->mu);
    pthread_join(st->thread, NULL); /* runs what is queued first */
    pthread_mutex_destroy(&st->mu);
    pthread_cond_destroy(&st->cv);
    close(st->dir_fd);
    free(st->dir);
    free(st);
}

static const struct chatd_files_ops local_ops = {
    .size = sizeof local_ops,
    .put_begin = l_put_begin,
    .put_write = l_put_write,
    .put_finish = l_put_finish,
    .put_abort = l_put_abort,
    .read = l_read,
    .remove = l_remove,
    .remove_room = l_remove_room,
    .remove_owner = l_remove_owner,
    .usage = l_usage,
};

CHATD_PLUGIN_DEFINE(.kind = CHATD_PLUGIN_FILES, .name = "local", .version = "1.0",
                    .description = "attachments in a local directory", .init = local_init, .fini = local_fini,
                    .ops.files = &local_ops)
