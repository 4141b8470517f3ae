/*
 * The conformance suite of files plugins (SDK 2.10), through the SDK alone:
 *     files_conformance PLUGIN.so [key=value ...]
 * A real host (libevent loop, thread-safe post) loads the plugin and checks
 * every operation: a streamed upload and its metadata (a Korean and emoji
 * name kept as given), reads by range, uploads under way unreadable,
 * aborts, the usage per owner, the removals by id, room and owner, ids
 * that try to leave the store, answers never inside their own call, and a
 * second instance over the same backend (a restart) that reads what the
 * first finished. FILES_SHARED=1: a backend that instances share keeps an
 * unfinished upload across a restart (it may be another instance's).
 */
#include <chatd/plugin.h>

#include <dlfcn.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct {
    struct event_base *base;
    struct event *wake;
    pthread_mutex_t mu;
    struct task {
        chatd_task_fn fn;
        void *arg;
    } *tasks;
    size_t n, cap;
    char **keys, **values;
    size_t nkv;
    bool in_call;
    int early;
    int failures;
} H;

#define CHECK(cond, ...)                                          \
    do {                                                          \
        if (!(cond)) {                                            \
            fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);  \
            fprintf(stderr, __VA_ARGS__);                         \
            fputc('\n', stderr);                                  \
            H.failures++;                                         \
        }                                                         \
    } while (0)

static void run_tasks(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what, (void)arg;
    pthread_mutex_lock(&H.mu);
    struct task *batch = H.tasks;
    size_t n = H.n;
    H.tasks = NULL;
    H.n = H.cap = 0;
    pthread_mutex_unlock(&H.mu);
    for (size_t i = 0; i < n; i++)
        batch[i].fn(batch[i].arg);
    free(batch);
}

static chatd_status host_post(const struct chatd_host *h, chatd_task_fn fn, void *arg)
{
    (void)h;
    pthread_mutex_lock(&H.mu);
    if (H.n == H.cap) {
        H.cap = H.cap ? H.cap * 2 : 64;
        H.tasks = realloc(H.tasks, H.cap * sizeof *H.tasks);
    }
    H.tasks[H.n++] = (struct task){fn, arg};
    pthread_mutex_unlock(&H.mu);
    event_active(H.wake, 0, 0);
    return CHATD_OK;
}

static void host_log(const struct chatd_host *h, chatd_log_level l, const char *fmt, ...)
{
    (void)h;
    if (l > CHATD_LOG_WARN)
        return;
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

static const char *host_config_get(const struct chatd_host *h, const char *key)
{
    (void)h;
    for (size_t i = 0; i < H.nkv; i++)
        if (strcmp(H.keys[i], key) == 0)
            return H.values[i];
    return NULL;
}
static size_t host_config_count(const struct chatd_host *h) { (void)h; return H.nkv; }
static const char *host_config_key(const struct chatd_host *h, size_t i) { (void)h; return i < H.nkv ? H.keys[i] : NULL; }
static const char *host_config_value(const struct chatd_host *h, size_t i) { (void)h; return i < H.nkv ? H.values[i] : NULL; }
static void host_config_error(const struct chatd_host *h, const char *key, const char *fmt, ...)
{
    (void)h;
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "config error [%s]: ", key ? key : "-");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}
static void host_set_ready(const struct chatd_host *h, bool r, const char *why) { (void)h, (void)r, (void)why; }

/* ------------------------------------------------------------ the answers */

struct result {
    bool done;
    chatd_status st;
    char id[80], room[64], owner[64], name[256], type[64];
    uint64_t length, removed, bytes, files;
    uint32_t width, height;
    int64_t created_ms;
    char data[4096];
    size_t len;
};

static void note(struct result *r, chatd_status st)
{
    if (H.in_call)
        H.early++;
    r->done = true;
    r->st = st;
}

static void file_cb(void *ctx, chatd_status st, const struct chatd_file *f)
{
    struct result *r = ctx;
    note(r, st);
    if (st == CHATD_OK && f) {
        snprintf(r->id, sizeof r->id, "%s", f->id);
        snprintf(r->room, sizeof r->room, "%s", f->room ? f->room : "");
        snprintf(r->owner, sizeof r->owner, "%s", f->owner ? f->owner : "");
        snprintf(r->name, sizeof r->name, "%s", f->name ? f->name : "");
        snprintf(r->type, sizeof r->type, "%s", f->content_type ? f->content_type : "");
        r->length = f->length;
        r->width = f->width;
        r->height = f->height;
        r->created_ms = f->created_ms;
    }
}

static void read_cb(void *ctx, chatd_status st, const struct chatd_file *f, const void *data, size_t len)
{
    struct result *r = ctx;
    file_cb(ctx, st, f);
    if (st == CHATD_OK && len <= sizeof r->data) {
        if (len)
            memcpy(r->data, data, len);
        r->len = len;
    }
}

static void done_cb(void *ctx, chatd_status st, uint64_t removed)
{
    struct result *r = ctx;
    note(r, st);
    r->removed = removed;
}

static void usage_cb(void *ctx, chatd_status st, uint64_t bytes, uint64_t files)
{
    struct result *r = ctx;
    note(r, st);
    r->bytes = bytes;
    r->files = files;
}

static void wait_for(struct result *r)
{
    while (!r->done)
        event_base_loop(H.base, EVLOOP_ONCE);
}

#define CALL(expr)          \
    do {                    \
        H.in_call = true;   \
        expr;               \
        H.in_call = false;  \
    } while (0)

static const struct chatd_files_ops *O;
static void *S;

static struct result begin(const char *room, const char *owner, const char *name, const char *type)
{
    struct chatd_file f = {.size = sizeof f, .room = room, .owner = owner, .name = name, .content_type = type};
    struct result r = {0};
    CALL(O->put_begin(S, &f, file_cb, &r));
    wait_for(&r);
    return r;
}

static chatd_status write_bytes(const char *id, const void *data, size_t len)
{
    struct result r = {0};
    CALL(O->put_write(S, id, data, len, done_cb, &r));
    wait_for(&r);
    return r.st;
}

static struct result finish(const char *id, const char *name, const char *type, uint64_t length, uint32_t w,
                            uint32_t h)
{
    struct chatd_file f = {.size = sizeof f, .id = id, .name = name, .content_type = type, .length = length,
                           .width = w, .height = h};
    struct result r = {0};
    CALL(O->put_finish(S, &f, file_cb, &r));
    wait_for(&r);
    return r;
}

static struct result read_at(const char *id, uint64_t offset, size_t max)
{
    struct result r = {0};
    CALL(O->read(S, id, offset, max, read_cb, &r));
    wait_for(&r);
    return r;
}

/* A read into a buffer of the caller's (reads larger than result.data). */
struct big_read {
    struct result r; /* first: file_cb and wait_for take it */
    unsigned char *out;
    size_t cap;
};

static void big_read_cb(void *ctx, chatd_status st, const struct chatd_file *f, const void *data, size_t len)
{
    struct big_read *b = ctx;
    file_cb(&b->r, st, f);
    if (st == CHATD_OK) {
        if (len && len <= b->cap)
            memcpy(b->out, data, len);
        b->r.len = len;
    }
}

static struct result read_into(const char *id, uint64_t offset, size_t max, unsigned char *out, size_t cap)
{
    struct big_read b = {.out = out, .cap = cap};
    CALL(O->read(S, id, offset, max, big_read_cb, &b));
    wait_for(&b.r);
    return b.r;
}

static struct result usage(const char *owner)
{
    struct result r = {0};
    CALL(O->usage(S, owner, usage_cb, &r));
    wait_for(&r);
    return r;
}

static struct result removal(void (*op)(void *, const char *, chatd_files_done_cb, void *), const char *key)
{
    struct result r = {0};
    CALL(op(S, key, done_cb, &r));
    wait_for(&r);
    return r;
}

/* A finished file of `len` bytes: 'a', 'b', ... repeating. */
static struct result upload(const char *room, const char *owner, size_t len)
{
    struct result b = begin(room, owner, "n.txt", "text/plain");
    char buf[1000];
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = (char)('a' + i % 26);
    for (size_t off = 0; off < len; off += sizeof buf)
        write_bytes(b.id, buf, len - off < sizeof buf ? len - off : sizeof buf);
    return finish(b.id, "n.txt", "text/plain", len, 0, 0);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: files_conformance PLUGIN.so [key=value ...]\n");
        return 2;
    }
    evthread_use_pthreads();
    H.base = event_base_new();
    H.wake = event_new(H.base, -1, 0, run_tasks, NULL);
    pthread_mutex_init(&H.mu, NULL);
    H.nkv = (size_t)argc - 2;
    H.keys = calloc(H.nkv + 1, sizeof *H.keys);
    H.values = calloc(H.nkv + 1, sizeof *H.values);
    for (size_t i = 0; i < H.nkv; i++) {
        char *eq = strchr(argv[i + 2], '=');
        if (!eq) {
            fprintf(stderr, "argument '%s' is not key=value\n", argv[i + 2]);
            return 2;
        }
        H.keys[i] = strndup(argv[i + 2], (size_t)(eq - argv[i + 2]));
        H.values[i] = eq + 1;
    }
    void *dl = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    const struct chatd_plugin *(*entry)(void) = NULL;
    if (dl)
        *(void **)&entry = dlsym(dl, CHATD_PLUGIN_SYMBOL);
    const struct chatd_plugin *d = entry ? entry() : NULL;
    if (!d || d->kind != CHATD_PLUGIN_FILES || d->abi_major != CHATD_ABI_MAJOR) {
        fprintf(stderr, "%s: not a files plugin of this SDK (%s)\n", argv[1], dl ? "descriptor" : dlerror());
        return 2;
    }
    struct chatd_host host = {
        .size = sizeof host, .abi_major = CHATD_ABI_MAJOR, .abi_minor = CHATD_ABI_MINOR, .section = "files",
        .base = H.base, .log = host_log, .post = host_post, .config_get = host_config_get,
        .config_count = host_config_count, .config_key = host_config_key, .config_value = host_config_value,
        .config_error = host_config_error, .set_ready = host_set_ready,
    };
    if (d->init(&host, &S) != CHATD_OK) {
        fprintf(stderr, "%s: init failed\n", argv[1]);
        return 1;
    }
    O = d->ops.files;
    /* Rooms and owners of this run only: a shared backend may hold others. */
    char room1[64], room2[64], alice[64], bob[64];
    unsigned tag = (unsigned)getpid();
    snprintf(room1, sizeof room1, "fc-room1-%u", tag);
    snprintf(room2, sizeof room2, "fc-room2-%u", tag);
    snprintf(alice, sizeof alice, "fc-alice-%u", tag);
    snprintf(bob, sizeof bob, "fc-bob-%u", tag);

    /* A streamed upload, its metadata as given. */
    const char *korean = "보고서 최종 😀.png";
    struct result b = begin(room1, alice, korean, "image/png");
    CHECK(b.st == CHATD_OK, "put_begin: %s", chatd_strerror(b.st));
    CHECK(b.id[0] && b.length == 0, "put_begin answers a new id and length 0 (%s, %llu)", b.id,
          (unsigned long long)b.length);
    char id[80];
    snprintf(id, sizeof id, "%s", b.id);
    CHECK(strspn(id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_") == strlen(id) &&
              strlen(id) <= 64,
          "an id is letters, digits, '-' and '_': %s", id);
    struct result again = begin(room1, alice, "x", "text/plain");
    CHECK(again.st == CHATD_OK && strcmp(again.id, id) != 0, "two uploads get two ids");
    CHECK(read_at(id, 0, 10).st == CHATD_ERR_NOT_FOUND, "an upload under way is not readable");
    CHECK(write_bytes(id, "0123456789", 10) == CHATD_OK, "put_write 1");
    CHECK(write_bytes(id, "abcdefghij", 10) == CHATD_OK, "put_write 2");
    CHECK(write_bytes(id, "한글", strlen("한글")) == CHATD_OK, "put_write 3");
    size_t total = 20 + strlen("한글");
    struct result u = usage(alice);
    CHECK(u.st == CHATD_OK && u.bytes == total && u.files == 2, "usage counts uploads under way: %llu bytes %llu files",
          (unsigned long long)u.bytes, (unsigned long long)u.files);
    struct result bad = finish(id, korean, "image/png", total + 1, 0, 0);
    CHECK(bad.st == CHATD_ERR_INVALID, "put_finish with a wrong length: %s", chatd_strerror(bad.st));
    struct result fin = finish(id, korean, "image/png", total, 640, 480);
    CHECK(fin.st == CHATD_OK, "put_finish: %s", chatd_strerror(fin.st));
    CHECK(strcmp(fin.id, id) == 0 && strcmp(fin.room, room1) == 0 && strcmp(fin.owner, alice) == 0 &&
              strcmp(fin.name, korean) == 0 && strcmp(fin.type, "image/png") == 0 && fin.length == total &&
              fin.width == 640 && fin.height == 480 && fin.created_ms > 0,
          "put_finish answers the file as stored (%s %s %s '%s' %s %llu %ux%u)", fin.id, fin.room, fin.owner,
          fin.name, fin.type, (unsigned long long)fin.length, fin.width, fin.height);
    CHECK(write_bytes(id, "x", 1) == CHATD_ERR_NOT_FOUND, "no write after put_finish");

    /* Reads: metadata only, everything, a range, the end, beyond it. */
    struct result r = read_at(id, 0, 0);
    CHECK(r.st == CHATD_OK && r.len == 0 && strcmp(r.name, korean) == 0 && r.length == total && r.width == 640,
          "read max 0: the file only");
    r = read_at(id, 0, 4096);
    CHECK(r.st == CHATD_OK && r.len == total && memcmp(r.data, "0123456789abcdefghij한글", total) == 0,
          "read all: %zu bytes", r.len);
    r = read_at(id, 5, 10);
    CHECK(r.st == CHATD_OK && r.len == 10 && memcmp(r.data, "56789abcde", 10) == 0, "read a range");
    r = read_at(id, total - 2, 100);
    CHECK(r.st == CHATD_OK && r.len == 2, "read past the end answers what is there: %zu", r.len);
    r = read_at(id, total, 100);
    CHECK(r.st == CHATD_OK && r.len == 0, "read at the end: no bytes");
    r = read_at(id, total + 1, 100);
    CHECK(r.st == CHATD_ERR_INVALID, "read beyond the end: %s", chatd_strerror(r.st));
    CHECK(read_at("nosuchfile", 0, 10).st == CHATD_ERR_NOT_FOUND, "read of an unknown id");
    static const char *const tricks[] = {"../etc/passwd", "..", ".", "a/b", "a\\b", "", "x.meta"};
    for (size_t i = 0; i < sizeof tricks / sizeof *tricks; i++)
        CHECK(read_at(tricks[i], 0, 10).st == CHATD_ERR_NOT_FOUND, "an id that tries to leave the store: '%s'",
              tricks[i]);

    /* Abort. */
    CHECK(write_bytes(again.id, "abc", 3) == CHATD_OK, "write to the second upload");
    struct result ab = removal(O->put_abort, again.id);
    CHECK(ab.st == CHATD_OK, "put_abort: %s", chatd_strerror(ab.st));
    CHECK(write_bytes(again.id, "abc", 3) == CHATD_ERR_NOT_FOUND, "no write after put_abort");
    CHECK(removal(O->put_abort, again.id).st == CHATD_ERR_NOT_FOUND, "a second abort");
    CHECK(removal(O->put_abort, id).st == CHATD_ERR_NOT_FOUND, "abort of a finished file");
    u = usage(alice);
    CHECK(u.st == CHATD_OK && u.bytes == total && u.files == 1, "usage after an abort: %llu %llu",
          (unsigned long long)u.bytes, (unsigned long long)u.files);

    /* Removals. */
    struct result a2 = upload(room2, alice, 2500), b1 = upload(room1, bob, 1200), b2 = upload(room2, bob, 10);
    struct result up = begin(room2, bob, "under way", "text/plain");
    CHECK(a2.st == CHATD_OK && b1.st == CHATD_OK && b2.st == CHATD_OK && up.st == CHATD_OK, "more uploads");
    r = read_at(a2.id, 1000, 4096);
    CHECK(r.st == CHATD_OK && r.len == 1500 && r.data[0] == (char)('a' + 0), "a file written in chunks");
    u = usage(bob);
    CHECK(u.st == CHATD_OK && u.bytes == 1210 && u.files == 3, "usage of bob: %llu %llu",
          (unsigned long long)u.bytes, (unsigned long long)u.files);
    struct result rr = removal(O->remove_room, room2);
    CHECK(rr.st == CHATD_OK && rr.removed == 3, "remove_room: %s, %llu removed", chatd_strerror(rr.st),
          (unsigned long long)rr.removed);
    CHECK(read_at(a2.id, 0, 1).st == CHATD_ERR_NOT_FOUND && read_at(b2.id, 0, 1).st == CHATD_ERR_NOT_FOUND,
          "a removed room's files are gone");
    CHECK(write_bytes(up.id, "x", 1) == CHATD_ERR_NOT_FOUND, "a removed room's upload under way is gone");
    CHECK(read_at(b1.id, 0, 1).st == CHATD_OK && read_at(id, 0, 1).st == CHATD_OK, "other rooms keep theirs");
    rr = removal(O->remove_room, room2);
    CHECK(rr.st == CHATD_OK && rr.removed == 0, "remove_room of nothing");
    rr = removal(O->remove_owner, bob);
    CHECK(rr.st == CHATD_OK && rr.removed == 1, "remove_owner: %llu", (unsigned long long)rr.removed);
    CHECK(read_at(b1.id, 0, 1).st == CHATD_ERR_NOT_FOUND, "an erased owner's files are gone");
    u = usage(bob);
    CHECK(u.st == CHATD_OK && u.bytes == 0 && u.files == 0, "usage of an erased owner");
    CHECK(read_at(id, 0, 1).st == CHATD_OK, "another owner's file stays");

    /* A large file as chatd streams a download (docs/files.md): written in
     * writes of 256 KiB, read back in reads of 1 MiB from increasing
     * offsets, and from an offset inside a write. */
    size_t big = 3 * 1024 * 1024 + 12345, piece = 256 * 1024, chunk = 1024 * 1024;
    unsigned char *src = malloc(big), *dst = malloc(big);
    if (!src || !dst) {
        fprintf(stderr, "out of memory\n");
        return 1;
    }
    for (size_t i = 0; i < big; i++)
        src[i] = (unsigned char)((i * 2654435761u) >> 13);
    struct result lb = begin(room1, alice, "큰 파일 📦.bin", "application/pdf");
    CHECK(lb.st == CHATD_OK, "put_begin of a large file: %s", chatd_strerror(lb.st));
    for (size_t o = 0; o < big; o += piece)
        CHECK(write_bytes(lb.id, src + o, big - o < piece ? big - o : piece) == CHATD_OK, "put_write at %zu", o);
    CHECK(finish(lb.id, "큰 파일 📦.bin", "application/pdf", big, 0, 0).st == CHATD_OK, "put_finish of a large file");
    size_t got = 0;
    for (int reads = 0; got < big && reads < 16; reads++) {
        r = read_into(lb.id, got, chunk, dst + got, big - got);
        CHECK(r.st == CHATD_OK && r.len > 0 && r.len <= chunk && r.length == big,
              "read of %zu bytes at %zu: %s, %zu bytes", chunk, got, chatd_strerror(r.st), r.len);
        got += r.len;
    }
    CHECK(got == big && memcmp(src, dst, big) == 0, "a large file read back in reads of 1 MiB: %zu bytes", got);
    r = read_into(lb.id, 300000, chunk, dst, big);
    CHECK(r.st == CHATD_OK && r.len == chunk && memcmp(src + 300000, dst, chunk) == 0,
          "a read of 1 MiB across writes, from inside one");
    r = read_into(lb.id, big - 5, chunk, dst, big);
    CHECK(r.st == CHATD_OK && r.len == 5 && memcmp(src + big - 5, dst, 5) == 0, "the last bytes of a large file");
    CHECK(removal(O->remove, lb.id).st == CHATD_OK, "remove a large file");
    free(src);
    free(dst);

    /* Restart: a second instance over the same backend. */
    struct result left = begin(room1, alice, "left behind", "text/plain");
    d->fini(S);
    S = NULL;
    CHECK(d->init(&host, &S) == CHATD_OK, "init again");
    r = read_at(id, 0, 4096);
    CHECK(r.st == CHATD_OK && r.len == total && strcmp(r.name, korean) == 0, "a finished file outlives a restart");
    if (getenv("FILES_SHARED")) /* another instance's upload may be under way: kept */
        CHECK(removal(O->put_abort, left.id).st == CHATD_OK, "an unfinished upload is kept for its instance");
    else
        CHECK(write_bytes(left.id, "x", 1) == CHATD_ERR_NOT_FOUND, "an unfinished upload does not");
    struct result rm = removal(O->remove, id);
    CHECK(rm.st == CHATD_OK, "remove: %s", chatd_strerror(rm.st));
    CHECK(read_at(id, 0, 1).st == CHATD_ERR_NOT_FOUND, "a removed file is gone");
    CHECK(removal(O->remove, id).st == CHATD_ERR_NOT_FOUND, "a second remove");
    removal(O->remove_owner, alice);
    CHECK(H.early == 0, "%d answers came inside their own call", H.early);
    d->fini(S);
    while (H.n)
        run_tasks(-1, 0, NULL);
    event_free(H.wake);
    event_base_free(H.base);
    for (size_t i = 0; i < H.nkv; i++)
        free(H.keys[i]);
    free(H.keys);
    free(H.values);
    free(H.tasks);
    pthread_mutex_destroy(&H.mu);
#ifndef __SANITIZE_ADDRESS__
    dlclose(dl);
#endif
    if (H.failures) {
        fprintf(stderr, "%d failures\n", H.failures);
        return 1;
    }
    printf("files conformance: all passed\n");
    return 0;
}
