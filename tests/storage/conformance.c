/* Storage conformance: drives any storage plugin through the SDK alone.
 *
 *   storage_conformance PLUGIN.so [key=value ...]
 *
 * A real host (libevent loop, thread-safe post) loads the plugin and checks
 * the contract of plugin.h: seq strictly increasing under concurrent
 * appends, client-id idempotency, one winner in a claim race, paging edges,
 * read marks, unread inputs, deletion, what one room's reads see of writes
 * called in the same go, appends to one room stored in call order, group
 * roles (the optional group_change: conditions decided with the change, one
 * winner of concurrent changes, ownership passed on), transcripts (the
 * optional room_close, room_purge, user_erase), and that no operation completes
 * before its call returned. Every room, message and erase result it
 * answers carries a `size` covering the struct as these headers declare it,
 * and arrays are read stepping by that size, as chatd reads them. Exit 0
 * when every check holds. */
#include <chatd/plugin.h>
#include <dlfcn.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int failures;
#define CHECK(cond, ...)                                                   \
    do {                                                                   \
        if (!(cond)) {                                                     \
            failures++;                                                    \
            fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);           \
            fprintf(stderr, __VA_ARGS__);                                  \
            fprintf(stderr, "\n");                                         \
        }                                                                  \
    } while (0)

/* ------------------------------------------------------------- the host */

struct task {
    chatd_task_fn fn;
    void *arg;
};

static struct {
    struct event_base *base;
    struct event *wake;
    pthread_mutex_t mu;
    struct task *tasks;
    size_t n, cap;
    char **keys, **values;
    size_t nkv;
    bool *used;
    bool in_call;      /* an operation's call is on the stack */
    int early;         /* completions seen while in_call */
    int unsized;       /* answered structs whose size is below these headers' */
} H;

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
        if (strcmp(H.keys[i], key) == 0) {
            H.used[i] = true;
            return H.values[i];
        }
    return NULL;
}
static size_t host_config_count(const struct chatd_host *h) { (void)h; return H.nkv; }
static const char *host_config_key(const struct chatd_host *h, size_t i) { (void)h; return i < H.nkv ? H.keys[i] : NULL; }
static const char *host_config_value(const struct chatd_host *h, size_t i)
{
    (void)h;
    if (i >= H.nkv)
        return NULL;
    H.used[i] = true;
    return H.values[i];
}
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
static void host_deliver(const struct chatd_host *h, const char *c, const void *d, size_t n) { (void)h, (void)c, (void)d, (void)n; }
static void host_set_ready(const struct chatd_host *h, bool r, const char *why) { (void)h, (void)r, (void)why; }

/* -------------------------------------------------------- waiting for ops */

struct result {
    int done;
    chatd_status st;
    char id[128], agent[128];
    uint64_t seq, last_seq, read_seq;
    size_t n;
    uint64_t seqs[256];
    char ids[16][128];
    bool has_last;
    /* rooms: owner, title, members and admins, comma-joined */
    char owner[64], title[128], members[512], admins[512];
    chatd_room_state state;
    int64_t closed_ms;
    int64_t any_closed_ms, assigned_ms; /* closed_ms whatever the state */
    /* the first 16 messages of a page: sender, body, whether a client id */
    char senders[16][64];
    char bodies[16][64];
    char rooms[16][64];
    size_t body_lens[16];
    bool has_cid[16];
    struct chatd_erase_result erased;
    uint64_t count;
    /* SDK 2.6: a room's rating */
    uint32_t rating;
    uint32_t ratings[16]; /* rooms_cb: each room's */
    bool has_comment;
    char comment[1200];
    int64_t rated_ms;
    /* SDK 2.12: a support room's topic ("-" for none) */
    char topic[64];
    char topics[16][64]; /* rooms_cb: each room's */
};

/* A room's topic as the result keeps it: "-" for none, and for a struct of
 * a plugin older than SDK 2.12. */
static void topic_of(char *out, size_t len, const struct chatd_room *r)
{
    bool has = r->size >= offsetof(struct chatd_room, topic) + sizeof r->topic && r->topic;
    snprintf(out, len, "%s", has ? r->topic : "-");
}

static void join_names(char *out, size_t len, const char *const *v, size_t n)
{
    size_t w = 0;
    out[0] = '\0';
    for (size_t i = 0; i < n && w < len; i++)
        w += (size_t)snprintf(out + w, len - w, "%s%s", i ? "," : "", v[i]);
}

static void note_early(void)
{
    if (H.in_call)
        H.early++;
}

/* An answered struct's size must cover the struct as declared here. */
#define NOTE_SIZE(s)                  \
    do {                              \
        if ((s)->size < sizeof *(s)) \
            H.unsized++;              \
    } while (0)

/* Element i of an array a plugin answered: its elements' size is the stride. */
#define AT(first, i) ((__typeof__(first))(const void *)((const char *)(first) + (i) * (first)->size))

static void room_cb(void *ctx, chatd_status st, const struct chatd_room *r)
{
    note_early();
    struct result *res = ctx;
    res->st = st;
    if (r) {
        NOTE_SIZE(r);
        if (r->last_message)
            NOTE_SIZE(r->last_message);
        snprintf(res->id, sizeof res->id, "%s", r->id);
        snprintf(res->agent, sizeof res->agent, "%s", r->agent ? r->agent : "");
        res->last_seq = r->last_seq;
        res->read_seq = r->read_seq;
        res->has_last = r->last_message != NULL;
        res->n = r->nmembers;
        snprintf(res->owner, sizeof res->owner, "%s", r->owner ? r->owner : "");
        snprintf(res->title, sizeof res->title, "%s", r->title ? r->title : "");
        join_names(res->members, sizeof res->members, r->members, r->nmembers);
        join_names(res->admins, sizeof res->admins, r->admins, r->nadmins);
        res->state = r->state;
        res->closed_ms = r->state == CHATD_ROOM_CLOSED ? r->closed_ms : 0;
        res->any_closed_ms = r->closed_ms;
        res->assigned_ms = r->assigned_ms;
        topic_of(res->topic, sizeof res->topic, r);
        if (r->size >= offsetof(struct chatd_room, rated_ms) + sizeof r->rated_ms) {
            res->rating = r->rating;
            res->has_comment = r->rating_comment != NULL;
            snprintf(res->comment, sizeof res->comment, "%s", r->rating_comment ? r->rating_comment : "");
            res->rated_ms = r->rated_ms;
        }
    }
    res->done++;
}

static void rooms_cb(void *ctx, chatd_status st, const struct chatd_room *rooms, size_t n)
{
    note_early();
    struct result *res = ctx;
    res->st = st;
    res->n = n;
    for (size_t i = 0; i < n; i++)
        NOTE_SIZE(AT(rooms, i));
    for (size_t i = 0; i < n && i < 16; i++) {
        snprintf(res->ids[i], sizeof res->ids[i], "%s", AT(rooms, i)->id);
        const struct chatd_room *ri = AT(rooms, i);
        res->ratings[i] = ri->size >= offsetof(struct chatd_room, rated_ms) + sizeof ri->rated_ms ? ri->rating : 0;
        topic_of(res->topics[i], sizeof res->topics[i], ri);
    }
    res->done++;
}

static void message_cb(void *ctx, chatd_status st, const struct chatd_message *m)
{
    note_early();
    struct result *res = ctx;
    res->st = st;
    res->seq = m ? m->seq : 0;
    if (m) {
        NOTE_SIZE(m);
        snprintf(res->id, sizeof res->id, "%s", m->id);
    }
    res->done++;
}

static void messages_cb(void *ctx, chatd_status st, const struct chatd_message *m, size_t n)
{
    note_early();
    struct result *res = ctx;
    res->st = st;
    res->n = n;
    for (size_t i = 0; i < n; i++)
        NOTE_SIZE(AT(m, i));
    for (size_t i = 0; i < n && i < 256; i++)
        res->seqs[i] = AT(m, i)->seq;
    for (size_t i = 0; i < n && i < 16; i++) {
        const struct chatd_message *e = AT(m, i);
        snprintf(res->senders[i], sizeof res->senders[i], "%s", e->sender ? e->sender : "(null)");
        snprintf(res->rooms[i], sizeof res->rooms[i], "%s", e->room ? e->room : "(null)");
        snprintf(res->bodies[i], sizeof res->bodies[i], "%.*s", (int)(e->body_len < 63 ? e->body_len : 63),
                 e->body ? e->body : "");
        res->body_lens[i] = e->body_len;
        res->has_cid[i] = e->client_id != NULL;
    }
    res->done++;
}

/* SDK 2.11: the rooms room_purge_ids named, in r->ids (the first 16). */
static void ids_cb(void *ctx, chatd_status st, const char *const *ids, size_t n)
{
    note_early();
    struct result *res = ctx;
    res->st = st;
    res->n = n;
    for (size_t i = 0; i < n && i < 16; i++)
        snprintf(res->ids[i], sizeof res->ids[i], "%s", ids[i]);
    res->done++;
}

static void count_cb(void *ctx, chatd_status st, uint64_t n)
{
    note_early();
    struct result *res = ctx;
    res->st = st;
    res->count = n;
    res->done++;
}

static void erase_cb(void *ctx, chatd_status st, const struct chatd_erase_result *e)
{
    note_early();
    struct result *res = ctx;
    res->st = st;
    if (e) {
        NOTE_SIZE(e);
        res->erased = *e;
    }
    res->has_last = e != NULL;
    res->done++;
}

/* A page oldest first whose message i (seq i + 1) should be the i-th append
 * of the call-order check; res->seq counts those in their place. */
static void ordered_bodies_cb(void *ctx, chatd_status st, const struct chatd_message *m, size_t n)
{
    note_early();
    struct result *res = ctx;
    res->st = st;
    res->n = n;
    for (size_t i = 0; i < n; i++) {
        char want[64];
        snprintf(want, sizeof want, "{\"text\":\"안녕 😀 %zu\"}", i);
        const struct chatd_message *e = AT(m, i);
        NOTE_SIZE(e);
        res->seq += e->seq == i + 1 && e->body_len == strlen(want) && memcmp(e->body, want, e->body_len) == 0 &&
                    strcmp(e->sender, i % 2 ? "bob" : "alice") == 0;
    }
    res->done++;
}

static void done_cb(void *ctx, chatd_status st)
{
    note_early();
    struct result *res = ctx;
    res->st = st;
    res->done++;
}

static void wait_all(struct result *r, size_t n)
{
    for (;;) {
        size_t done = 0;
        for (size_t i = 0; i < n; i++)
            done += r[i].done > 0;
        if (done == n)
            return;
        event_base_loop(H.base, EVLOOP_ONCE);
    }
}

#define CALL(expr)         \
    do {                   \
        H.in_call = true;  \
        expr;              \
        H.in_call = false; \
    } while (0)

/* One group change; what/user/role/actor as named, the condition an
 * admin's (ADMIN, outranking) unless `min` says otherwise. */
static void change(const struct chatd_storage_ops *ops, void *state, const char *room, chatd_group_change_kind what,
                   const char *user, chatd_member_role role, const char *actor, chatd_member_role min, bool outrank,
                   struct result *r)
{
    struct chatd_group_change ch = {.size = sizeof ch, .room_id = room, .what = what, .user = user, .role = role,
                                    .title = what == CHATD_GROUP_RENAME ? user : NULL, .actor = actor,
                                    .actor_min = min, .outrank = outrank};
    if (what == CHATD_GROUP_RENAME)
        ch.user = NULL;
    CALL(ops->group_change(state, &ch, room_cb, r));
}

static struct result get_room(const struct chatd_storage_ops *ops, void *state, const char *room)
{
    struct result r;
    memset(&r, 0, sizeof r);
    CALL(ops->room_get(state, room, NULL, room_cb, &r));
    wait_all(&r, 1);
    return r;
}

#define ADMIN CHATD_MEMBER_ADMIN
#define OWNER CHATD_MEMBER_OWNER
#define PLAIN CHATD_MEMBER_PLAIN

/* Bad input stored as given: what a message of every byte value, a 1 MiB
 * body, 4-byte UTF-8 names and ids of the longest size look like after a
 * round trip. */
struct exact {
    struct result r;
    const char *body, *sender, *client_id;
    size_t body_len;
    bool same;
};

static void exact_cb(void *ctx, chatd_status st, const struct chatd_message *m, size_t n)
{
    note_early();
    struct exact *e = ctx;
    e->r.st = st;
    e->r.n = n;
    e->same = n == 1 && m[0].body_len == e->body_len && memcmp(m[0].body, e->body, e->body_len) == 0 &&
              strcmp(m[0].sender, e->sender) == 0 && m[0].client_id && strcmp(m[0].client_id, e->client_id) == 0;
    e->r.done++;
}

static void exact_one_cb(void *ctx, chatd_status st, const struct chatd_message *m)
{
    note_early();
    struct exact *e = ctx;
    e->r.st = st;
    e->same = m && m->body_len == e->body_len && memcmp(m->body, e->body, e->body_len) == 0 &&
              strcmp(m->sender, e->sender) == 0;
    e->r.done++;
}

static void wait_exact(struct exact *e)
{
    while (e->r.done == 0)
        event_base_loop(H.base, EVLOOP_ONCE);
}

static void bad_input(const struct chatd_storage_ops *ops, void *state)
{
    /* a user name of 255 bytes, 4-byte characters but the last three */
    char longname[256];
    size_t w = 0;
    while (w + 4 <= 252) {
        memcpy(longname + w, "\xF0\x9F\x98\x80", 4);
        w += 4;
    }
    memcpy(longname + w, "abc", 4);
    char rid[64];
    memset(rid, 'b', sizeof rid - 1);
    memcpy(rid, "rbad", 4);
    rid[63] = 0;
    const char *members[] = {longname, "안녕하세요 😀"};
    struct chatd_room room = {.size = sizeof(struct chatd_room), .id = rid, .kind = CHATD_ROOM_GROUP, .state = CHATD_ROOM_OPEN,
                              .title = "제목 😀🎉 \"quoted\" 'single' \\ back", .owner = longname,
                              .created_ms = 7000, .members = members, .nmembers = 2};
    struct result r[2];
    memset(r, 0, sizeof r);
    CALL(ops->room_create(state, &room, NULL, room_cb, &r[0]));
    wait_all(r, 1);
    CHECK(r[0].st == CHATD_OK, "create a room of long 4-byte names: %s", chatd_strerror(r[0].st));
    memset(r, 0, sizeof r);
    CALL(ops->room_get(state, rid, NULL, room_cb, &r[0]));
    wait_all(r, 1);
    CHECK(r[0].st == CHATD_OK && strcmp(r[0].title, room.title) == 0 && r[0].n == 2,
          "title and members as given: %s '%s' %zu", chatd_strerror(r[0].st), r[0].title, r[0].n);

    char every[512];
    for (size_t i = 0; i < sizeof every; i++)
        every[i] = (char)(i & 255);
    size_t big_len = 1u << 20;
    char *big = malloc(big_len);
    for (size_t i = 0; big && i < big_len; i++)
        big[i] = (char)((i * 7 + 3) & 255);
    const char *cid = "재시도-😀-'\"\\";
    struct {
        const char *body;
        size_t len;
        const char *cid;
    } cases[] = {{every, sizeof every, cid}, {"", 0, "empty 😀"}, {big, big ? big_len : 0, "big"}};
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        struct chatd_message m = {.size = sizeof(struct chatd_message), .room = rid, .sender = longname, .client_id = cases[k].cid, .ts_ms = 7001,
                                  .body = cases[k].body, .body_len = cases[k].len};
        struct exact e = {.body = cases[k].body, .body_len = cases[k].len, .sender = longname,
                          .client_id = cases[k].cid};
        CALL(ops->message_append(state, &m, exact_one_cb, &e));
        wait_exact(&e);
        CHECK(e.r.st == CHATD_OK && e.same, "append case %zu: %s", k, chatd_strerror(e.r.st));
        /* the retry answers with the stored bytes */
        memset(&e.r, 0, sizeof e.r);
        e.same = false;
        CALL(ops->message_append(state, &m, exact_one_cb, &e));
        wait_exact(&e);
        CHECK(e.r.st == CHATD_ERR_EXISTS && e.same, "retry of case %zu: %s", k, chatd_strerror(e.r.st));
        memset(&e.r, 0, sizeof e.r);
        e.same = false;
        CALL(ops->message_list(state, rid, 0, k, 1, exact_cb, &e));
        wait_exact(&e);
        CHECK(e.r.st == CHATD_OK && e.same, "case %zu read back byte for byte: %s n=%zu", k,
              chatd_strerror(e.r.st), e.r.n);
    }
    free(big);
}

/* A room of many members with long names (over a MiB of names in all):
 * room_get answers every one of them, once each, with and without a
 * reader, however the plugin carries a member list that long. */
#define MANY_MEMBERS 5000
#define MEMBER_NAME 210

struct many {
    size_t done, n, bad;
    chatd_status st;
    bool has_last;
};

static void many_cb(void *ctx, chatd_status st, const struct chatd_room *r)
{
    note_early();
    struct many *m = ctx;
    m->st = st;
    if (r) {
        m->n = r->nmembers;
        m->has_last = r->last_message != NULL;
        bool *seen = calloc(MANY_MEMBERS, sizeof *seen);
        for (size_t i = 0; seen && i < r->nmembers; i++) {
            /* "회원🎉-<index>-x…x" */
            const char *dash = strchr(r->members[i], '-');
            char *end = NULL;
            unsigned long k = dash ? strtoul(dash + 1, &end, 10) : MANY_MEMBERS;
            if (k >= MANY_MEMBERS || seen[k] || strlen(r->members[i]) != MEMBER_NAME)
                m->bad++;
            else
                seen[k] = true;
        }
        m->bad += !seen;
        free(seen);
    }
    m->done++;
}

static void many_members(const struct chatd_storage_ops *ops, void *state)
{
    char(*names)[MEMBER_NAME + 1] = calloc(MANY_MEMBERS, sizeof *names);
    const char **members = calloc(MANY_MEMBERS, sizeof *members);
    if (!names || !members) {
        CHECK(false, "many members: out of memory");
        free(names);
        free(members);
        return;
    }
    for (size_t i = 0; i < MANY_MEMBERS; i++) {
        int n = snprintf(names[i], sizeof names[i], "회원🎉-%zu-", i);
        memset(names[i] + n, 'x', MEMBER_NAME - (size_t)n);
        members[i] = names[i];
    }
    struct chatd_room g = {.size = sizeof(struct chatd_room), .id = "rmany1", .kind = CHATD_ROOM_GROUP,
                           .state = CHATD_ROOM_OPEN, .title = "많은 회원 🎉", .owner = names[0], .created_ms = 4100,
                           .members = members, .nmembers = MANY_MEMBERS};
    struct result r[1];
    memset(r, 0, sizeof r);
    CALL(ops->room_create(state, &g, NULL, room_cb, &r[0]));
    wait_all(r, 1);
    CHECK(r[0].st == CHATD_OK, "many members: create: %s", chatd_strerror(r[0].st));
    struct many m[2];
    memset(m, 0, sizeof m);
    CALL(ops->room_get(state, "rmany1", NULL, many_cb, &m[0]));
    CALL(ops->room_get(state, "rmany1", names[7], many_cb, &m[1]));
    while (!m[0].done || !m[1].done)
        event_base_loop(H.base, EVLOOP_ONCE);
    for (size_t i = 0; i < 2; i++)
        CHECK(m[i].st == CHATD_OK && m[i].n == MANY_MEMBERS && !m[i].bad && !m[i].has_last,
              "many members (reader %zu): %s n=%zu wrong=%zu", i, chatd_strerror(m[i].st), m[i].n, m[i].bad);
    free(names);
    free(members);
}

static void check_group_roles(const struct chatd_storage_ops *ops, void *state)
{
    const char *five[] = {"alice", "bob", "carol", "dave", "eve"};
    struct chatd_room g = {.size = sizeof(struct chatd_room), .id = "rgroup1", .kind = CHATD_ROOM_GROUP, .state = CHATD_ROOM_OPEN, .title = "팀 🎉",
                           .owner = "alice", .created_ms = 4000, .members = five, .nmembers = 5};
    struct result r[16];
    memset(r, 0, sizeof r);
    CALL(ops->room_create(state, &g, NULL, room_cb, &r[0]));
    wait_all(r, 1);
    CHECK(r[0].st == CHATD_OK && strcmp(r[0].admins, "") == 0, "group create: %s admins '%s'",
          chatd_strerror(r[0].st), r[0].admins);

    /* The condition: a plain member is refused, with the room; the owner
     * makes bob an admin, and room_get shows it. */
    memset(r, 0, sizeof r);
    change(ops, state, "rgroup1", CHATD_GROUP_ADD, "zed", 0, "carol", ADMIN, false, &r[0]);
    change(ops, state, "rgroup1", CHATD_GROUP_ROLE, "bob", ADMIN, "alice", ADMIN, true, &r[1]);
    change(ops, state, "rgroup1", CHATD_GROUP_ROLE, "bob", ADMIN, "alice", ADMIN, true, &r[2]);
    change(ops, state, "rgroup1", CHATD_GROUP_ROLE, "nobody", ADMIN, "alice", ADMIN, true, &r[3]);
    change(ops, state, "rgroup1", CHATD_GROUP_ROLE, "alice", ADMIN, NULL, 0, false, &r[4]);
    change(ops, state, "rgroup1", CHATD_GROUP_REMOVE, "alice", 0, "bob", ADMIN, true, &r[5]);
    change(ops, state, "rgroup1", CHATD_GROUP_ADD, "bob", 0, "alice", ADMIN, false, &r[6]);
    wait_all(r, 7);
    CHECK(r[0].st == CHATD_ERR_DENIED && strstr(r[0].members, "zed") == NULL, "plain member adds: %s",
          chatd_strerror(r[0].st));
    CHECK(r[1].st == CHATD_OK && strcmp(r[1].admins, "bob") == 0, "promote: %s admins '%s'", chatd_strerror(r[1].st),
          r[1].admins);
    CHECK(r[2].st == CHATD_ERR_EXISTS, "promote again: %s", chatd_strerror(r[2].st));
    CHECK(r[3].st == CHATD_ERR_CONFLICT, "role of a non-member: %s", chatd_strerror(r[3].st));
    CHECK(r[4].st == CHATD_ERR_CONFLICT, "the owner demoted: %s", chatd_strerror(r[4].st));
    CHECK(r[5].st == CHATD_ERR_DENIED && strcmp(r[5].owner, "alice") == 0, "an admin removes the owner: %s",
          chatd_strerror(r[5].st));
    CHECK(r[6].st == CHATD_ERR_EXISTS, "add a member: %s", chatd_strerror(r[6].st));
    struct result v = get_room(ops, state, "rgroup1");
    CHECK(strcmp(v.admins, "bob") == 0 && strcmp(v.owner, "alice") == 0 && v.n == 5,
          "room_get shows roles: owner %s admins '%s' n=%zu", v.owner, v.admins, v.n);

    /* Changes called in one go are decided in call order, each condition
     * against what the one before left: demoted first, bob's removal of
     * carol is refused; carol promoted and removed, no role is left. */
    memset(r, 0, sizeof r);
    change(ops, state, "rgroup1", CHATD_GROUP_ROLE, "bob", PLAIN, "alice", ADMIN, true, &r[0]);
    change(ops, state, "rgroup1", CHATD_GROUP_REMOVE, "carol", 0, "bob", ADMIN, true, &r[1]);
    change(ops, state, "rgroup1", CHATD_GROUP_ROLE, "carol", ADMIN, "alice", ADMIN, true, &r[2]);
    change(ops, state, "rgroup1", CHATD_GROUP_REMOVE, "carol", 0, "alice", ADMIN, true, &r[3]);
    change(ops, state, "rgroup1", CHATD_GROUP_ROLE, "carol", ADMIN, "alice", ADMIN, true, &r[4]);
    change(ops, state, "rgroup1", CHATD_GROUP_ADD, "carol", 0, "alice", ADMIN, false, &r[5]);
    wait_all(r, 6);
    CHECK(r[0].st == CHATD_OK && r[1].st == CHATD_ERR_DENIED, "demoted, then removing: %s %s",
          chatd_strerror(r[0].st), chatd_strerror(r[1].st));
    CHECK(r[2].st == CHATD_OK && r[3].st == CHATD_OK && r[4].st == CHATD_ERR_CONFLICT && r[5].st == CHATD_OK,
          "promote, remove, promote, re-add: %s %s %s %s", chatd_strerror(r[2].st), chatd_strerror(r[3].st),
          chatd_strerror(r[4].st), chatd_strerror(r[5].st));
    v = get_room(ops, state, "rgroup1");
    CHECK(strcmp(v.admins, "") == 0 && strstr(v.members, "carol"), "a removed admin comes back a member: '%s'",
          v.admins);
    /* member_remove drops the role too. */
    memset(r, 0, sizeof r);
    change(ops, state, "rgroup1", CHATD_GROUP_ROLE, "dave", ADMIN, NULL, 0, false, &r[0]);
    CALL(ops->member_remove(state, "rgroup1", "dave", done_cb, &r[1]));
    CALL(ops->member_add(state, "rgroup1", "dave", done_cb, &r[2]));
    wait_all(r, 3);
    v = get_room(ops, state, "rgroup1");
    CHECK(r[0].st == CHATD_OK && r[1].st == CHATD_OK && r[2].st == CHATD_OK && strcmp(v.admins, "") == 0,
          "member_remove drops the role: %s admins '%s'", chatd_strerror(r[0].st), v.admins);

    /* Ten hand-overs at once from alice: one wins, the rest find alice no
     * longer the owner. */
    const char *to[] = {"bob", "carol", "dave", "eve"};
    memset(r, 0, sizeof r);
    for (int i = 0; i < 8; i++)
        change(ops, state, "rgroup1", CHATD_GROUP_ROLE, to[i % 4], OWNER, "alice", OWNER, false, &r[i]);
    wait_all(r, 8);
    int won = 0;
    char winner[64] = "";
    for (int i = 0; i < 8; i++) {
        if (r[i].st == CHATD_OK) {
            won++;
            snprintf(winner, sizeof winner, "%s", to[i % 4]);
        }
        CHECK(r[i].st == CHATD_OK || r[i].st == CHATD_ERR_DENIED || r[i].st == CHATD_ERR_EXISTS,
              "hand-over %d: %s", i, chatd_strerror(r[i].st));
    }
    v = get_room(ops, state, "rgroup1");
    CHECK(won == 1 && strcmp(v.owner, winner) == 0 && strcmp(v.admins, "alice") == 0,
          "hand-over race: %d winners, owner %s, admins '%s'", won, v.owner, v.admins);

    /* The owner leaves: the admin who joined first takes over; then, with
     * no admin left, the member who joined first. */
    memset(r, 0, sizeof r);
    change(ops, state, "rgroup1", CHATD_GROUP_ROLE, "eve", ADMIN, winner, ADMIN, true, &r[0]);
    wait_all(r, 1);
    struct result a = get_room(ops, state, "rgroup1");
    /* alice joined first of the admins (she was the first member) */
    memset(r, 0, sizeof r);
    change(ops, state, "rgroup1", CHATD_GROUP_REMOVE, winner, 0, NULL, 0, false, &r[0]);
    wait_all(r, 1);
    CHECK(r[0].st == CHATD_OK && strcmp(r[0].owner, "alice") == 0 && strcmp(r[0].admins, "eve") == 0,
          "owner %s left (admins were '%s'): owner %s, admins '%s'", winner, a.admins, r[0].owner, r[0].admins);
    memset(r, 0, sizeof r);
    change(ops, state, "rgroup1", CHATD_GROUP_ROLE, "eve", PLAIN, "alice", ADMIN, true, &r[0]);
    change(ops, state, "rgroup1", CHATD_GROUP_REMOVE, "alice", 0, "alice", PLAIN, false, &r[1]);
    wait_all(r, 2);
    v = get_room(ops, state, "rgroup1");
    /* left in join order: eve, then carol and dave, who left and came back */
    CHECK(r[0].st == CHATD_OK && r[1].st == CHATD_OK && strcmp(v.owner, "eve") == 0 && strcmp(v.admins, "") == 0,
          "no admin: the first-joined member owns it: owner %s members %s", v.owner, v.members);

    /* Rename, delete (answered with the room as it was), and rooms that
     * are not groups. */
    memset(r, 0, sizeof r);
    change(ops, state, "rgroup1", CHATD_GROUP_RENAME, "새 이름 🚀", 0, NULL, 0, false, &r[0]);
    change(ops, state, "rconf2", CHATD_GROUP_ADD, "zed", 0, NULL, 0, false, &r[1]);
    change(ops, state, "rnothere", CHATD_GROUP_ADD, "zed", 0, NULL, 0, false, &r[2]);
    change(ops, state, "rgroup1", CHATD_GROUP_DELETE, NULL, 0, "zed", ADMIN, false, &r[3]);
    change(ops, state, "rgroup1", CHATD_GROUP_DELETE, NULL, 0, v.owner, ADMIN, false, &r[4]);
    CALL(ops->room_get(state, "rgroup1", NULL, room_cb, &r[5]));
    CALL(ops->message_list(state, "rgroup1", UINT64_MAX, 0, 20, messages_cb, &r[6]));
    wait_all(r, 7);
    CHECK(r[0].st == CHATD_OK && strcmp(r[0].title, "새 이름 🚀") == 0, "rename: %s '%s'", chatd_strerror(r[0].st),
          r[0].title);
    CHECK(r[1].st == CHATD_ERR_INVALID && r[2].st == CHATD_ERR_NOT_FOUND, "not a group: %s, no room: %s",
          chatd_strerror(r[1].st), chatd_strerror(r[2].st));
    CHECK(r[3].st == CHATD_ERR_DENIED, "a non-member deletes: %s", chatd_strerror(r[3].st));
    CHECK(r[4].st == CHATD_OK && strcmp(r[4].title, "새 이름 🚀") == 0 && r[4].n >= 1, "delete: %s '%s' n=%zu",
          chatd_strerror(r[4].st), r[4].title, r[4].n);
    CHECK(r[5].st == CHATD_ERR_NOT_FOUND && r[6].st == CHATD_ERR_NOT_FOUND, "deleted group: %s %s",
          chatd_strerror(r[5].st), chatd_strerror(r[6].st));
}

static bool listed(const struct result *r, const char *id)
{
    for (size_t i = 0; i < r->n && i < 16; i++)
        if (strcmp(r->ids[i], id) == 0)
            return true;
    return false;
}

static chatd_status append_as(const struct chatd_storage_ops *ops, void *state, const char *room, const char *sender,
                              const char *client_id, const char *body)
{
    struct result r = {0};
    struct chatd_message m = {.size = sizeof(struct chatd_message), .room = room, .sender = sender, .client_id = client_id, .ts_ms = 9,
                              .body = body, .body_len = strlen(body)};
    CALL(ops->message_append(state, &m, message_cb, &r));
    wait_all(&r, 1);
    return r.st;
}

static chatd_status create(const struct chatd_storage_ops *ops, void *state, const char *id, chatd_room_kind kind,
                           const char *owner, const char *other, const char *key, int64_t created)
{
    const char *members[] = {owner, other};
    struct chatd_room room = {.size = sizeof(struct chatd_room), .id = id, .kind = kind, .state = CHATD_ROOM_OPEN, .owner = owner,
                              .title = kind == CHATD_ROOM_GROUP ? "t" : NULL, .created_ms = created,
                              .members = members, .nmembers = other ? 2 : 1};
    struct result r = {0};
    CALL(ops->room_create(state, &room, key, room_cb, &r));
    wait_all(&r, 1);
    return r.st;
}

/* SDK 2.1: a message's content_type, kind and reply_to come back as appended, Korean and
 * emoji in the body intact. Storing it is optional (the host derives a
 * missing one from the body): a plugin that answers NULL passes unless the
 * environment's CONFORMANCE_STORES names content_type; one that answers a
 * content_type must answer the one appended. */
struct ctypes {
    int done;
    chatd_status st;
    size_t n, stored;
    char types[2][48];
    char bodies[2][64];
    chatd_message_kind kinds[2];
    uint64_t replies[2];
};

static void ctypes_cb(void *ctx, chatd_status st, const struct chatd_message *m, size_t n)
{
    note_early();
    struct ctypes *c = ctx;
    c->st = st;
    c->n = n;
    for (size_t i = 0; i < n && i < 2; i++) {
        const struct chatd_message *e = AT(m, i);
        NOTE_SIZE(e);
        if (CHATD_HAS(e, content_type) && e->content_type) {
            c->stored++;
            snprintf(c->types[i], sizeof c->types[i], "%s", e->content_type);
        }
        c->kinds[i] = CHATD_HAS(e, kind) ? e->kind : CHATD_MESSAGE_TEXT;
        c->replies[i] = CHATD_HAS(e, reply_to) ? e->reply_to : 0;
        snprintf(c->bodies[i], sizeof c->bodies[i], "%.*s", (int)(e->body_len < 63 ? e->body_len : 63), e->body);
    }
    c->done++;
}

static void content_types(const struct chatd_storage_ops *ops, void *state, const char *plugin)
{
    static const char *const type[] = {"text/plain;charset=utf-8", "application/json"};
    static const char *const body[] = {"\xec\x95\x88\xeb\x85\x95\xed\x95\x98\xec\x84\xb8\xec\x9a\x94 \xf0\x9f\x98\x80",
                                       "{\"text\":\"\xf0\x9f\x98\x80\"}"};
    CHECK(create(ops, state, "rctype", CHATD_ROOM_GROUP, "ct1", "ct2", NULL, 1) == CHATD_OK, "create rctype");
    for (int i = 0; i < 2; i++) {
        struct result r = {0};
        struct chatd_message m = {.size = sizeof m, .room = "rctype", .sender = "ct1", .ts_ms = 9, .body = body[i],
                                  .body_len = strlen(body[i]), .content_type = type[i],
                                  .kind = i ? CHATD_MESSAGE_SYSTEM : CHATD_MESSAGE_TEXT, .reply_to = (uint64_t)i};
        CALL(ops->message_append(state, &m, message_cb, &r));
        wait_all(&r, 1);
        CHECK(r.st == CHATD_OK, "append with content_type: %s", chatd_strerror(r.st));
    }
    struct ctypes c = {0};
    CALL(ops->message_list(state, "rctype", 0, 0, 10, ctypes_cb, &c));
    while (!c.done)
        event_base_loop(H.base, EVLOOP_ONCE);
    CHECK(c.st == CHATD_OK && c.n == 2, "list rctype: %s, %zu", chatd_strerror(c.st), c.n);
    for (int i = 0; i < 2 && c.n == 2; i++)
        CHECK(strcmp(c.bodies[i], body[i]) == 0, "body %d: '%s'", i, c.bodies[i]);
    const char *must = getenv("CONFORMANCE_STORES");
    if (!c.stored && !(must && strstr(must, "content_type"))) {
        printf("%s: content_type not stored (optional)\n", plugin);
        return;
    }
    CHECK(c.stored == 2, "content_type: %zu of 2 messages have one", c.stored);
    CHECK(c.kinds[0] == CHATD_MESSAGE_TEXT && c.kinds[1] == CHATD_MESSAGE_SYSTEM, "kinds %d %d", (int)c.kinds[0],
          (int)c.kinds[1]);
    CHECK(c.replies[0] == 0 && c.replies[1] == 1, "reply_to %llu %llu", (unsigned long long)c.replies[0],
          (unsigned long long)c.replies[1]);
    for (int i = 0; i < 2 && c.stored == 2; i++)
            CHECK(strcmp(c.types[i], type[i]) == 0, "content_type %d: '%s', want '%s'", i, c.types[i], type[i]);
}

#define OPS_HAS_ERASE(o) \
    ((o)->size >= offsetof(struct chatd_storage_ops, user_erase) + sizeof(o)->user_erase && (o)->user_erase)

/* SDK 2.2: edits and deletes. A change takes the room's next rev (apart
 * from seq: seqs stay dense, last_seq stays), the message keeps its seq
 * with the latest body, a delete leaves a tombstone, and message_revisions
 * lists the changed messages in rev order. Who may change what is the
 * host's decision: the plugin changes any message it is asked to. */
struct edited {
    int done;
    chatd_status st;
    size_t n;
    uint64_t seq[8], rev[8];
    int64_t edited_ms[8];
    bool deleted[8];
    char sender[8][32], body[8][96], ctype[8][48];
    size_t body_len[8];
};

static void edited_note(struct edited *e, size_t i, const struct chatd_message *m)
{
    NOTE_SIZE(m);
    e->seq[i] = m->seq;
    e->rev[i] = CHATD_HAS(m, rev) ? m->rev : 0;
    e->edited_ms[i] = CHATD_HAS(m, edited_ms) ? m->edited_ms : 0;
    e->deleted[i] = CHATD_HAS(m, deleted) && m->deleted;
    snprintf(e->sender[i], sizeof e->sender[i], "%s", m->sender ? m->sender : "");
    snprintf(e->body[i], sizeof e->body[i], "%.*s", (int)(m->body_len < 95 ? m->body_len : 95), m->body ? m->body : "");
    e->body_len[i] = m->body_len;
    snprintf(e->ctype[i], sizeof e->ctype[i], "%s", m->content_type ? m->content_type : "");
}

static void edited_one_cb(void *ctx, chatd_status st, const struct chatd_message *m)
{
    note_early();
    struct edited *e = ctx;
    e->st = st;
    e->n = m ? 1 : 0;
    if (m)
        edited_note(e, 0, m);
    e->done++;
}

static void edited_many_cb(void *ctx, chatd_status st, const struct chatd_message *m, size_t n)
{
    note_early();
    struct edited *e = ctx;
    e->st = st;
    e->n = n;
    for (size_t i = 0; i < n && i < 8; i++)
        edited_note(e, i, AT(m, i));
    e->done++;
}

static void wait_edited(struct edited *e, size_t n)
{
    for (;;) {
        size_t done = 0;
        for (size_t i = 0; i < n; i++)
            done += e[i].done > 0;
        if (done == n)
            return;
        event_base_loop(H.base, EVLOOP_ONCE);
    }
}

static struct edited edit_one(const struct chatd_storage_ops *ops, void *state, const char *room, uint64_t seq,
                              chatd_message_edit_kind what, const char *body, int64_t now)
{
    struct edited e = {0};
    struct chatd_message_edit ed = {.size = sizeof ed, .room_id = room, .seq = seq, .what = what, .body = body,
                                    .body_len = body ? strlen(body) : 0,
                                    .content_type = body ? "text/plain;charset=utf-8" : NULL, .now_ms = now};
    CALL(ops->message_edit(state, &ed, edited_one_cb, &e));
    wait_edited(&e, 1);
    return e;
}

static void edits(const struct chatd_storage_ops *ops, void *state)
{
    static const char korean[] = "\xec\x88\x98\xec\xa0\x95\xeb\x90\xa8 \xf0\x9f\x98\x80"; /* 수정됨 😀 */
    CHECK(create(ops, state, "redit", CHATD_ROOM_GROUP, "ed1", "ed2", NULL, 1) == CHATD_OK, "create redit");
    for (int i = 0; i < 4; i++)
        CHECK(append_as(ops, state, "redit", i % 2 ? "ed2" : "ed1", NULL, i == 3 ? "last" : "first") == CHATD_OK,
              "append %d", i);
    /* Nothing changed yet. */
    struct edited e = {0};
    CALL(ops->message_revisions(state, "redit", 0, 10, edited_many_cb, &e));
    wait_edited(&e, 1);
    CHECK(e.st == CHATD_OK && e.n == 0, "no revisions yet: %s %zu", chatd_strerror(e.st), e.n);

    /* An edit: the body changes, seq stays, rev 1. */
    e = edit_one(ops, state, "redit", 1, CHATD_MESSAGE_EDIT, korean, 7000);
    CHECK(e.st == CHATD_OK && e.n == 1 && e.seq[0] == 1 && e.rev[0] == 1 && e.edited_ms[0] == 7000 &&
              !e.deleted[0] && strcmp(e.body[0], korean) == 0 && strcmp(e.sender[0], "ed1") == 0 &&
              (!e.ctype[0][0] || strcmp(e.ctype[0], "text/plain;charset=utf-8") == 0), /* when stored */
          "edit: %s seq %llu rev %llu body '%s'", chatd_strerror(e.st), (unsigned long long)e.seq[0],
          (unsigned long long)e.rev[0], e.body[0]);
    /* A delete: a tombstone at its seq, rev 2. */
    e = edit_one(ops, state, "redit", 2, CHATD_MESSAGE_DELETE, NULL, 7100);
    CHECK(e.st == CHATD_OK && e.seq[0] == 2 && e.rev[0] == 2 && e.deleted[0] && e.body_len[0] == 0 &&
              strcmp(e.sender[0], "ed2") == 0,
          "delete: %s rev %llu deleted %d len %zu", chatd_strerror(e.st), (unsigned long long)e.rev[0],
          (int)e.deleted[0], e.body_len[0]);
    /* The same message edited again: rev 3, the latest text wins. */
    e = edit_one(ops, state, "redit", 1, CHATD_MESSAGE_EDIT, "again", 7200);
    CHECK(e.st == CHATD_OK && e.rev[0] == 3 && strcmp(e.body[0], "again") == 0, "edit again: %s rev %llu",
          chatd_strerror(e.st), (unsigned long long)e.rev[0]);
    /* A tombstone takes no change; no message, no room: not found. */
    e = edit_one(ops, state, "redit", 2, CHATD_MESSAGE_EDIT, "zombie", 7300);
    CHECK(e.st == CHATD_ERR_CONFLICT && e.n == 1 && e.deleted[0], "edit of a deleted message: %s",
          chatd_strerror(e.st));
    e = edit_one(ops, state, "redit", 2, CHATD_MESSAGE_DELETE, NULL, 7300);
    CHECK(e.st == CHATD_ERR_CONFLICT, "delete twice: %s", chatd_strerror(e.st));
    e = edit_one(ops, state, "redit", 99, CHATD_MESSAGE_EDIT, "x", 7300);
    CHECK(e.st == CHATD_ERR_NOT_FOUND && e.n == 0, "edit of no message: %s", chatd_strerror(e.st));
    e = edit_one(ops, state, "rnoroom", 1, CHATD_MESSAGE_DELETE, NULL, 7300);
    CHECK(e.st == CHATD_ERR_NOT_FOUND, "edit in no room: %s", chatd_strerror(e.st));

    /* History keeps the seqs, with the latest text and the tombstone; the
     * room's last_seq is still its last message's. */
    e = (struct edited){0};
    CALL(ops->message_list(state, "redit", 0, 0, 10, edited_many_cb, &e));
    wait_edited(&e, 1);
    CHECK(e.st == CHATD_OK && e.n == 4 && e.seq[0] == 1 && e.seq[3] == 4 && strcmp(e.body[0], "again") == 0 &&
              e.rev[0] == 3 && e.deleted[1] && e.body_len[1] == 0 && e.rev[2] == 0 && e.edited_ms[2] == 0 &&
              strcmp(e.body[3], "last") == 0,
          "history after changes: n=%zu body0 '%s' rev0 %llu", e.n, e.body[0], (unsigned long long)e.rev[0]);
    struct result g = get_room(ops, state, "redit");
    CHECK(g.st == CHATD_OK && g.last_seq == 4, "last_seq stays 4: %llu", (unsigned long long)g.last_seq);
    CHECK(append_as(ops, state, "redit", "ed1", NULL, "fifth") == CHATD_OK, "append after edits");
    g = get_room(ops, state, "redit");
    CHECK(g.last_seq == 5, "seqs stay dense: %llu", (unsigned long long)g.last_seq);

    /* Revisions in rev order after a cursor: message 2 (rev 2), then 1 (rev 3). */
    e = (struct edited){0};
    CALL(ops->message_revisions(state, "redit", 1, 10, edited_many_cb, &e));
    wait_edited(&e, 1);
    CHECK(e.st == CHATD_OK && e.n == 2 && e.seq[0] == 2 && e.rev[0] == 2 && e.seq[1] == 1 && e.rev[1] == 3,
          "revisions after 1: %s n=%zu", chatd_strerror(e.st), e.n);
    e = (struct edited){0};
    CALL(ops->message_revisions(state, "redit", 0, 1, edited_many_cb, &e));
    wait_edited(&e, 1);
    CHECK(e.st == CHATD_OK && e.n == 1 && e.seq[0] == 2, "revisions limit 1: n=%zu seq %llu", e.n,
          (unsigned long long)e.seq[0]);
    e = (struct edited){0};
    CALL(ops->message_revisions(state, "redit", 3, 10, edited_many_cb, &e));
    wait_edited(&e, 1);
    CHECK(e.st == CHATD_OK && e.n == 0, "revisions after the last: n=%zu", e.n);

    /* Concurrent edits of one message: each its own rev, the highest wins. */
    struct edited c[6];
    memset(c, 0, sizeof c);
    char bodies[6][32];
    for (int i = 0; i < 6; i++) {
        snprintf(bodies[i], sizeof bodies[i], "race %d \xf0\x9f\x8f\x81", i);
        struct chatd_message_edit ed = {.size = sizeof ed, .room_id = "redit", .seq = 4, .what = CHATD_MESSAGE_EDIT,
                                        .body = bodies[i], .body_len = strlen(bodies[i]),
                                        .content_type = "text/plain;charset=utf-8", .now_ms = 8000 + i};
        CALL(ops->message_edit(state, &ed, edited_one_cb, &c[i]));
    }
    wait_edited(c, 6);
    bool revs[10] = {false};
    int top = -1;
    for (int i = 0; i < 6; i++) {
        CHECK(c[i].st == CHATD_OK && c[i].rev[0] >= 4 && c[i].rev[0] <= 9 && !revs[c[i].rev[0]],
              "concurrent edit %d: %s rev %llu", i, chatd_strerror(c[i].st), (unsigned long long)c[i].rev[0]);
        if (c[i].rev[0] >= 4 && c[i].rev[0] <= 9)
            revs[c[i].rev[0]] = true;
        if (c[i].rev[0] == 9)
            top = i;
    }
    e = (struct edited){0};
    CALL(ops->message_list(state, "redit", 5, 0, 1, edited_many_cb, &e));
    wait_edited(&e, 1);
    CHECK(e.n == 1 && e.seq[0] == 4 && e.rev[0] == 9 && top >= 0 && strcmp(e.body[0], bodies[top]) == 0,
          "the highest rev's text stays: '%s' rev %llu", e.body[0], (unsigned long long)e.rev[0]);
    /* An erased sender's message (a tombstone of user_erase) takes no change. */
    if (OPS_HAS_ERASE(ops)) {
        struct result er = {0};
        CALL(ops->user_erase(state, "ed2", erase_cb, &er));
        wait_all(&er, 1);
        e = (struct edited){0};
        struct edited x = edit_one(ops, state, "redit", 2, CHATD_MESSAGE_DELETE, NULL, 9000);
        CHECK(x.st == CHATD_ERR_CONFLICT, "delete of an erased message: %s", chatd_strerror(x.st));
    }
}

/* A closed support room keeps its transcript and frees its unique
 * key; purge takes closed rooms before a cutoff only; erase removes a
 * user's support rooms and leaves tombstones of their messages elsewhere. */
/* SDK 2.4: search. Matches newest first by (ts_ms, room, seq), from a
 * cursor, only in the rooms named; Korean and emoji found by a part of a
 * word, ASCII letters regardless of case, LIKE's wildcards taken literally,
 * deleted messages never, edited ones by their text now. */
struct found {
    int done;
    chatd_status st;
    size_t n;
    char room[8][32];
    uint64_t seq[8];
    int64_t ts[8];
};

static void found_cb(void *ctx, chatd_status st, const struct chatd_message *m, size_t n)
{
    note_early();
    struct found *f = ctx;
    f->st = st;
    f->n = n;
    for (size_t i = 0; i < n && i < 8; i++) {
        const struct chatd_message *e = AT(m, i);
        NOTE_SIZE(e);
        snprintf(f->room[i], sizeof f->room[i], "%s", e->room ? e->room : "");
        f->seq[i] = e->seq;
        f->ts[i] = e->ts_ms;
    }
    f->done++;
}

static struct found find_json(const struct chatd_storage_ops *ops, void *state, const char *query,
                              const char *query_json, const char *rooms, size_t limit, int64_t ts, const char *room,
                              uint64_t seq)
{
    const char *names[4];
    char buf[128];
    size_t n = 0;
    snprintf(buf, sizeof buf, "%s", rooms);
    for (char *save, *t = strtok_r(buf, ",", &save); t && n < 4; t = strtok_r(NULL, ",", &save))
        names[n++] = t;
    struct chatd_message_search q = {.size = sizeof q, .query = query, .query_json = query_json, .rooms = names,
                                     .nrooms = n,
                                     .before_ts_ms = ts, .before_room = room, .before_seq = seq, .limit = limit};
    struct found f = {0};
    CALL(ops->message_search(state, &q, found_cb, &f));
    while (!f.done)
        event_base_loop(H.base, EVLOOP_ONCE);
    return f;
}

static struct found find(const struct chatd_storage_ops *ops, void *state, const char *query, const char *rooms,
                         size_t limit, int64_t ts, const char *room, uint64_t seq)
{
    return find_json(ops, state, query, NULL, rooms, limit, ts, room, seq);
}

static void append_at(const struct chatd_storage_ops *ops, void *state, const char *room, int64_t ts,
                      const char *body)
{
    struct result r = {0};
    struct chatd_message m = {.size = sizeof m, .room = room, .sender = "finder", .ts_ms = ts, .body = body,
                              .body_len = strlen(body), .content_type = "text/plain;charset=utf-8"};
    CALL(ops->message_append(state, &m, message_cb, &r));
    wait_all(&r, 1);
    CHECK(r.st == CHATD_OK, "append to %s: %s", room, chatd_strerror(r.st));
}

/* found f is exactly the (room, seq) pairs in want ("rs2:2,rs1:1"). */
static bool found_is(const struct found *f, const char *want)
{
    char got[256] = "";
    size_t w = 0;
    for (size_t i = 0; i < f->n && i < 8; i++)
        w += (size_t)snprintf(got + w, sizeof got - w, "%s%s:%llu", i ? "," : "", f->room[i],
                              (unsigned long long)f->seq[i]);
    return f->st == CHATD_OK && strcmp(got, want) == 0;
}

#define CHECK_FOUND(f, want, what)                                                                  \
    CHECK(found_is(&(f), want), "search %s: %s, %zu found (%s:%llu first), want %s", what,          \
          chatd_strerror((f).st), (f).n, (f).n ? (f).room[0] : "-", (unsigned long long)(f).seq[0], want)

static void search(const struct chatd_storage_ops *ops, void *state)
{
    CHECK(create(ops, state, "rs1", CHATD_ROOM_GROUP, "finder", "other", NULL, 1) == CHATD_OK, "create rs1");
    CHECK(create(ops, state, "rs2", CHATD_ROOM_GROUP, "finder", NULL, NULL, 1) == CHATD_OK, "create rs2");
    CHECK(create(ops, state, "rs3", CHATD_ROOM_GROUP, "stranger", NULL, NULL, 1) == CHATD_OK, "create rs3");
    append_at(ops, state, "rs1", 1000, "Hello World");                       /* rs1:1 */
    append_at(ops, state, "rs1", 1001, "안녕하세요 반갑습니다");             /* rs1:2 */
    append_at(ops, state, "rs1", 1002, "party \xf0\x9f\x8e\x89\xf0\x9f\x8e\x8a time"); /* rs1:3 🎉🎊 */
    append_at(ops, state, "rs1", 1003, "hello, to be deleted");              /* rs1:4 */
    append_at(ops, state, "rs1", 1004, "original words");                    /* rs1:5 */
    append_at(ops, state, "rs1", 1005, "100% sure_thing");                   /* rs1:6 */
    append_at(ops, state, "rs2", 1000, "HELLO again");                       /* rs2:1 */
    append_at(ops, state, "rs2", 1010, "say hello from two");                /* rs2:2 */
    append_at(ops, state, "rs3", 2000, "hello from a room not asked");       /* rs3:1 */
    if (ops->message_edit) {
        edit_one(ops, state, "rs1", 4, CHATD_MESSAGE_DELETE, NULL, 3000);
        edit_one(ops, state, "rs1", 5, CHATD_MESSAGE_EDIT, "changed wording", 3001);
    }

    struct found f = find(ops, state, "반갑", "rs1", 10, 0, NULL, 0);
    CHECK_FOUND(f, "rs1:2", "Korean, a part of a word");
    f = find(ops, state, "세요 반", "rs1", 10, 0, NULL, 0);
    CHECK_FOUND(f, "rs1:2", "Korean across a space");
    f = find(ops, state, "\xf0\x9f\x8e\x89\xf0\x9f\x8e\x8a", "rs1,rs2", 10, 0, NULL, 0);
    CHECK_FOUND(f, "rs1:3", "emoji");
    f = find(ops, state, "\xf0\x9f\x8e\x8a\xf0\x9f\x8e\x89", "rs1,rs2", 10, 0, NULL, 0);
    CHECK_FOUND(f, "", "emoji in another order");
    /* Newest first across rooms; a tie of ts_ms goes by room, descending. */
    const char *all = ops->message_edit ? "rs2:2,rs2:1,rs1:1" : "rs2:2,rs1:4,rs2:1,rs1:1";
    f = find(ops, state, "hello", "rs1,rs2", 10, 0, NULL, 0);
    CHECK_FOUND(f, all, "ASCII across two rooms");
    f = find(ops, state, "hElLo", "rs2,rs1", 10, 0, NULL, 0);
    CHECK_FOUND(f, all, "ASCII in another case");
    f = find(ops, state, "hello", "rs2", 10, 0, NULL, 0);
    CHECK_FOUND(f, "rs2:2,rs2:1", "one room");
    f = find(ops, state, "hello", "rs3", 10, 0, NULL, 0);
    CHECK_FOUND(f, "rs3:1", "the other room alone");
    f = find(ops, state, "hello", "rnowhere", 10, 0, NULL, 0);
    CHECK_FOUND(f, "", "a room that is not there");
    f = find(ops, state, "lo", "rs1", 10, 0, NULL, 0);
    CHECK_FOUND(f, ops->message_edit ? "rs1:1" : "rs1:4,rs1:1", "two letters");
    /* Pages: the cursor is the last one's (ts_ms, room, seq). */
    f = find(ops, state, "hello", "rs1,rs2", 2, 0, NULL, 0);
    CHECK(f.n == 2 && f.ts[0] == 1010, "page 1: %zu, ts %lld", f.n, (long long)f.ts[0]);
    if (f.n == 2) {
        struct found g = find(ops, state, "hello", "rs1,rs2", 2, f.ts[1], f.room[1], f.seq[1]);
        CHECK_FOUND(g, ops->message_edit ? "rs1:1" : "rs2:1,rs1:1", "page 2");
        if (g.n) {
            g = find(ops, state, "hello", "rs1,rs2", 2, g.ts[g.n - 1], g.room[g.n - 1], g.seq[g.n - 1]);
            CHECK_FOUND(g, "", "after the last page");
        }
    }
    f = find(ops, state, "hello", "rs1,rs2", 10, 1000, "rs2", 1);
    CHECK_FOUND(f, "rs1:1", "cursor at a tie of ts_ms");
    /* Wildcards of LIKE are plain characters. */
    f = find(ops, state, "0% s", "rs1", 10, 0, NULL, 0);
    CHECK_FOUND(f, "rs1:6", "a literal %");
    f = find(ops, state, "e_t", "rs1", 10, 0, NULL, 0);
    CHECK_FOUND(f, "rs1:6", "a literal _");
    f = find(ops, state, "0%_s", "rs1", 10, 0, NULL, 0);
    CHECK_FOUND(f, "", "% and _ are no wildcards");
    f = find(ops, state, "h%o", "rs1,rs2", 10, 0, NULL, 0);
    CHECK_FOUND(f, "", "% is no wildcard");
    if (ops->message_edit) {
        f = find(ops, state, "wording", "rs1", 10, 0, NULL, 0);
        CHECK_FOUND(f, "rs1:5", "an edited message by its new text");
        f = find(ops, state, "original", "rs1", 10, 0, NULL, 0);
        CHECK_FOUND(f, "", "an edited message by its old text");
        f = find(ops, state, "deleted", "rs1", 10, 0, NULL, 0);
        CHECK_FOUND(f, "", "a deleted message");
    }
    /* JSON bodies that escape what lies beyond ASCII are found through
     * query_json, its hex digits in either case. */
    CHECK(create(ops, state, "rs4", CHATD_ROOM_GROUP, "finder", NULL, NULL, 1) == CHATD_OK, "create rs4");
    append_at(ops, state, "rs4", 1000, "{\"text\":\"\\uc548\\ub155 \\ubc18\\uac11\\uc2b5\\ub2c8\\ub2e4\"}");
    append_at(ops, state, "rs4", 1001, "{\"text\":\"\\uBC18\\uAC11 \\uD83C\\uDF89\"}");
    append_at(ops, state, "rs4", 1002, "{\"text\":\"반갑 plain\"}");
    f = find_json(ops, state, "반갑", "\\ubc18\\uac11", "rs4", 10, 0, NULL, 0);
    CHECK_FOUND(f, "rs4:3,rs4:2,rs4:1", "escaped Korean in JSON bodies");
    f = find_json(ops, state, "갑 \xf0\x9f\x8e\x89", "\\uac11 \\ud83c\\udf89", "rs4", 10, 0, NULL, 0);
    CHECK_FOUND(f, "rs4:2", "an escaped emoji");
    f = find(ops, state, "반갑", "rs4", 10, 0, NULL, 0);
    CHECK_FOUND(f, "rs4:3", "without query_json: the body as it is");

    /* A room deleted takes its matches with it. */
    struct result r = {0};
    CALL(ops->room_delete(state, "rs2", done_cb, &r));
    wait_all(&r, 1);
    f = find(ops, state, "hello", "rs2", 10, 0, NULL, 0);
    CHECK_FOUND(f, "", "a deleted room");
}

static void transcripts(const struct chatd_storage_ops *ops, void *state)
{
    struct result r[16];
    static const char hangul[] = "\xec\x83\x81\xeb\x8b\xb4 \xec\xa2\x85\xeb\xa3\x8c \xf0\x9f\x99\x8f"; /* 상담 종료 🙏 */

    /* Close: an assigned room and an unclaimed one. */
    CHECK(create(ops, state, "rtr1", CHATD_ROOM_SUPPORT, "carol", NULL, "support:carol", 4000) == CHATD_OK, "create rtr1");
    CHECK(create(ops, state, "rtr2", CHATD_ROOM_SUPPORT, "dave", NULL, "support:dave", 4100) == CHATD_OK, "create rtr2");
    CHECK(create(ops, state, "rtrg", CHATD_ROOM_GROUP, "carol", NULL, NULL, 4200) == CHATD_OK, "create rtrg");
    memset(r, 0, sizeof r);
    CALL(ops->room_claim(state, "rtr1", "agentx", 4500, room_cb, &r[0]));
    wait_all(r, 1);
    CHECK(append_as(ops, state, "rtr1", "carol", "c1", hangul) == CHATD_OK, "append to rtr1");
    CHECK(append_as(ops, state, "rtr1", "agentx", NULL, "bye") == CHATD_OK, "append to rtr1");
    memset(r, 0, sizeof r);
    CALL(ops->room_close(state, "rtr1", 5000, room_cb, &r[0]));
    CALL(ops->room_close(state, "rtr1", 5100, room_cb, &r[1]));
    CALL(ops->room_close(state, "rtrg", 5100, room_cb, &r[2]));
    CALL(ops->room_close(state, "rnothere", 5100, room_cb, &r[3]));
    CALL(ops->room_close(state, "rtr2", 6000, room_cb, &r[4]));
    wait_all(r, 5);
    CHECK(r[0].st == CHATD_OK && r[0].state == CHATD_ROOM_CLOSED && r[0].closed_ms == 5000 && r[0].n == 2 &&
              strcmp(r[0].agent, "agentx") == 0, "close: %s state %d closed_ms %lld members %zu",
          chatd_strerror(r[0].st), (int)r[0].state, (long long)r[0].closed_ms, r[0].n);
    CHECK(r[1].st == CHATD_ERR_CONFLICT && r[1].closed_ms == 5000, "close twice: %s, closed_ms %lld",
          chatd_strerror(r[1].st), (long long)r[1].closed_ms);
    CHECK(r[2].st == CHATD_ERR_CONFLICT, "close a group: %s", chatd_strerror(r[2].st));
    CHECK(r[3].st == CHATD_ERR_NOT_FOUND, "close no room: %s", chatd_strerror(r[3].st));
    CHECK(r[4].st == CHATD_OK && r[4].state == CHATD_ROOM_CLOSED, "close unclaimed: %s", chatd_strerror(r[4].st));

    /* The transcript stays, readable; the key is free; the queue and the
     * agent's list no longer have them; the customer's rooms still do. */
    struct chatd_room_filter queue = {.size = sizeof(struct chatd_room_filter), .kind = CHATD_ROOM_SUPPORT, .state = CHATD_ROOM_OPEN};
    struct chatd_room_filter assigned = {.size = sizeof(struct chatd_room_filter), .agent = "agentx", .state = CHATD_ROOM_ASSIGNED};
    struct chatd_room_filter mine = {.size = sizeof(struct chatd_room_filter), .member = "carol", .for_user = "carol"};
    memset(r, 0, sizeof r);
    CALL(ops->message_list(state, "rtr1", UINT64_MAX, 0, 20, messages_cb, &r[0]));
    CALL(ops->room_get(state, "rtr1", "carol", room_cb, &r[1]));
    CALL(ops->room_list(state, &queue, rooms_cb, &r[2]));
    CALL(ops->room_list(state, &assigned, rooms_cb, &r[3]));
    CALL(ops->room_list(state, &mine, rooms_cb, &r[4]));
    wait_all(r, 5);
    CHECK(r[0].st == CHATD_OK && r[0].n == 2 && strcmp(r[0].bodies[1], hangul) == 0 &&
              strcmp(r[0].senders[0], "agentx") == 0, "closed room's history: %s n=%zu", chatd_strerror(r[0].st),
          r[0].n);
    CHECK(r[1].st == CHATD_OK && r[1].state == CHATD_ROOM_CLOSED && r[1].closed_ms == 5000 && r[1].last_seq == 2 &&
              r[1].has_last, "closed room: %s state %d", chatd_strerror(r[1].st), (int)r[1].state);
    CHECK(r[2].st == CHATD_OK && !listed(&r[2], "rtr1") && !listed(&r[2], "rtr2"), "closed rooms left the queue");
    CHECK(r[3].st == CHATD_OK && !listed(&r[3], "rtr1"), "closed room left the agent's rooms: n=%zu", r[3].n);
    CHECK(r[4].st == CHATD_OK && listed(&r[4], "rtr1") && listed(&r[4], "rtrg"), "the customer's rooms: n=%zu", r[4].n);
    CHECK(create(ops, state, "rtr1b", CHATD_ROOM_SUPPORT, "carol", NULL, "support:carol", 7000) == CHATD_OK,
          "a new support room right after closing");

    /* Purge: only rooms closed before the cutoff, oldest first, bounded.
     * A purge names no room, so its effects are looked at after it. */
    CHECK(create(ops, state, "rtr3", CHATD_ROOM_SUPPORT, "erin", NULL, "support:erin", 4300) == CHATD_OK, "create rtr3");
    memset(r, 0, sizeof r);
    CALL(ops->room_close(state, "rtr3", 9000, room_cb, &r[0]));
    wait_all(r, 1);
    CALL(ops->room_purge(state, 6000, 10, count_cb, &r[1]));
    wait_all(r, 2);
    CALL(ops->room_get(state, "rtr1", NULL, room_cb, &r[2]));
    CALL(ops->message_list(state, "rtr1", UINT64_MAX, 0, 20, messages_cb, &r[3]));
    CALL(ops->room_get(state, "rtr2", NULL, room_cb, &r[4]));
    wait_all(r, 5);
    CHECK(r[1].st == CHATD_OK && r[1].count == 1, "purge before 6000: %s %llu", chatd_strerror(r[1].st),
          (unsigned long long)r[1].count);
    CHECK(r[2].st == CHATD_ERR_NOT_FOUND && r[3].st == CHATD_ERR_NOT_FOUND, "purged room: %s %s",
          chatd_strerror(r[2].st), chatd_strerror(r[3].st));
    CHECK(r[4].st == CHATD_OK, "closed at the cutoff is kept: %s", chatd_strerror(r[4].st));
    memset(r, 0, sizeof r);
    CALL(ops->room_purge(state, 100000, 1, count_cb, &r[0]));
    wait_all(r, 1);
    CALL(ops->room_get(state, "rtr2", NULL, room_cb, &r[1]));
    CALL(ops->room_get(state, "rtr3", NULL, room_cb, &r[2]));
    wait_all(r, 3);
    CALL(ops->room_purge(state, 100000, 10, count_cb, &r[3]));
    wait_all(r, 4);
    CALL(ops->room_purge(state, 100000, 10, count_cb, &r[4]));
    wait_all(r, 5);
    CALL(ops->room_get(state, "rtr1b", NULL, room_cb, &r[5]));
    CALL(ops->room_get(state, "rtrg", NULL, room_cb, &r[6]));
    CALL(ops->room_get(state, "rconf1b", NULL, room_cb, &r[7]));
    wait_all(r, 8);
    CHECK(r[0].count == 1 && r[1].st == CHATD_ERR_NOT_FOUND && r[2].st == CHATD_OK, "purge limit 1 takes the oldest");
    CHECK(r[3].count == 1 && r[4].st == CHATD_OK && r[4].count == 0, "purge the rest: %llu, then %llu",
          (unsigned long long)r[3].count, (unsigned long long)r[4].count);
    CHECK(r[5].st == CHATD_OK && r[6].st == CHATD_OK && r[7].st == CHATD_OK, "open rooms are not purged");

    /* Erase: frank's support room goes; elsewhere his messages become
     * tombstones, his mark and membership go, a direct room's key is free,
     * a group he owned passes on (as his leaving it would). */
    CHECK(create(ops, state, "rer1", CHATD_ROOM_SUPPORT, "frank", NULL, "support:frank", 8000) == CHATD_OK, "rer1");
    CHECK(create(ops, state, "rer2", CHATD_ROOM_GROUP, "gina", "frank", NULL, 8100) == CHATD_OK, "rer2");
    CHECK(create(ops, state, "rer3", CHATD_ROOM_DIRECT, "frank", "gina", "direct:5:frank|gina", 8200) == CHATD_OK,
          "rer3");
    CHECK(create(ops, state, "rer4", CHATD_ROOM_GROUP, "frank", "gina", NULL, 8250) == CHATD_OK, "rer4");
    CHECK(append_as(ops, state, "rer1", "frank", "f0", hangul) == CHATD_OK, "append");
    CHECK(append_as(ops, state, "rer2", "gina", NULL, "hi") == CHATD_OK, "append");
    CHECK(append_as(ops, state, "rer2", "frank", "fk1", hangul) == CHATD_OK, "append");
    CHECK(append_as(ops, state, "rer2", "gina", NULL, "bye") == CHATD_OK, "append");
    CHECK(append_as(ops, state, "rer3", "frank", NULL, "psst") == CHATD_OK, "append");
    memset(r, 0, sizeof r);
    CALL(ops->read_mark(state, "rer2", "frank", 3, done_cb, &r[0]));
    wait_all(r, 1);
    CALL(ops->user_erase(state, "frank", erase_cb, &r[1]));
    wait_all(r, 2);
    CALL(ops->user_erase(state, "frank", erase_cb, &r[2]));
    wait_all(r, 3);
    CALL(ops->user_erase(state, "nobody-at-all", erase_cb, &r[3]));
    wait_all(r, 4);
    CHECK(r[1].st == CHATD_OK && r[1].has_last && r[1].erased.rooms_deleted == 1 && r[1].erased.messages_erased == 2 &&
              r[1].erased.memberships_removed == 3, "erase: %s %llu rooms, %llu messages, %llu memberships",
          chatd_strerror(r[1].st), (unsigned long long)r[1].erased.rooms_deleted,
          (unsigned long long)r[1].erased.messages_erased, (unsigned long long)r[1].erased.memberships_removed);
    CHECK(r[2].st == CHATD_OK && r[2].erased.rooms_deleted == 0 && r[2].erased.messages_erased == 0 &&
              r[2].erased.memberships_removed == 0, "erase again: %s, all zero", chatd_strerror(r[2].st));
    CHECK(r[3].st == CHATD_OK && r[3].erased.memberships_removed == 0, "erase an unknown user: %s",
          chatd_strerror(r[3].st));
    struct chatd_room_filter franks = {.size = sizeof(struct chatd_room_filter), .member = "frank"};
    memset(r, 0, sizeof r);
    CALL(ops->room_get(state, "rer1", NULL, room_cb, &r[0]));
    CALL(ops->message_list(state, "rer2", 0, 0, 20, messages_cb, &r[1]));
    CALL(ops->room_get(state, "rer2", "frank", room_cb, &r[2]));
    CALL(ops->room_list(state, &franks, rooms_cb, &r[3]));
    CALL(ops->message_list(state, "rer3", 0, 0, 20, messages_cb, &r[4]));
    CALL(ops->room_get(state, "rer4", NULL, room_cb, &r[5]));
    wait_all(r, 6);
    CHECK(r[0].st == CHATD_ERR_NOT_FOUND, "frank's support room is gone: %s", chatd_strerror(r[0].st));
    CHECK(r[1].st == CHATD_OK && r[1].n == 3 && r[1].seqs[0] == 1 && r[1].seqs[1] == 2 && r[1].seqs[2] == 3 &&
              strcmp(r[1].bodies[0], "hi") == 0 && strcmp(r[1].bodies[2], "bye") == 0 &&
              strcmp(r[1].senders[0], "gina") == 0,
          "others' messages stay, gap-free: n=%zu", r[1].n);
    CHECK(strcmp(r[1].senders[1], "") == 0 && r[1].body_lens[1] == 0 && !r[1].has_cid[1],
          "a tombstone: sender '%s', %zu bytes, client id %d", r[1].senders[1], r[1].body_lens[1], r[1].has_cid[1]);
    CHECK(r[2].st == CHATD_OK && r[2].n == 1 && strcmp(r[2].members, "gina") == 0 && r[2].read_seq == 0,
          "membership and read mark gone: %zu members, read %llu", r[2].n, (unsigned long long)r[2].read_seq);
    CHECK(r[3].st == CHATD_OK && r[3].n == 0, "frank's rooms: n=%zu", r[3].n);
    CHECK(r[4].st == CHATD_OK && r[4].n == 1 && r[4].body_lens[0] == 0 && strcmp(r[4].senders[0], "") == 0,
          "direct room tombstone: n=%zu", r[4].n);
    CHECK(r[5].st == CHATD_OK && strcmp(r[5].owner, "gina") == 0 && strcmp(r[5].members, "gina") == 0,
          "a group frank owned passes on: owner '%s', members '%s'", r[5].owner, r[5].members);
    CHECK(create(ops, state, "rer3b", CHATD_ROOM_DIRECT, "gina", "frank", "direct:5:frank|gina", 8300) == CHATD_OK,
          "a new direct room of the pair after the erase");
    /* The client id is forgotten with the message: a retry stores anew. */
    CHECK(append_as(ops, state, "rer2", "frank", "fk1", "again") == CHATD_OK, "client id after erase");
}


/* ------------------------------------------------------ the support desk */

static bool has_name(const char *joined, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = joined; *p;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len == n && memcmp(p, name, n) == 0)
            return true;
        if (!end)
            break;
        p = end + 1;
    }
    return false;
}

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void claim_limited(const struct chatd_storage_ops *ops, void *state, const char *room, const char *agent,
                          size_t max_open, struct result *r)
{
    CALL(ops->room_claim_limited(state, room, agent, max_open, 40000, room_cb, r));
}

static void transfer(const struct chatd_storage_ops *ops, void *state, const char *room, const char *from,
                     const char *to, int64_t now, struct result *r)
{
    struct chatd_room_transfer t = {.size = sizeof t, .room_id = room, .from = from, .to = to, .now_ms = now};
    CALL(ops->room_transfer(state, &t, room_cb, r));
}

static void reopen(const struct chatd_storage_ops *ops, void *state, const char *room, const char *key,
                   int64_t after, const char *agent, size_t max_open, struct result *r)
{
    struct chatd_room_reopen ro = {.size = sizeof ro, .room_id = room, .unique_key = key, .completed_after_ms = after,
                                   .agent = agent, .max_open = max_open, .now_ms = 50000};
    CALL(ops->room_reopen(state, &ro, room_cb, r));
}

static void rate(const struct chatd_storage_ops *ops, void *state, const char *room, uint32_t rating,
                 const char *comment, int64_t now, struct result *r)
{
    struct chatd_room_rating rt = {.size = sizeof rt, .room_id = room, .rating = rating, .comment = comment,
                                   .now_ms = now};
    CALL(ops->room_rate(state, &rt, room_cb, r));
}

/* SDK 2.6: a customer's rating, once per completed or closed support
 * room, kept with the room (Korean and emoji intact), gone with it. */
/* SDK 2.12: a support room keeps the topic it was created with, and
 * every answer with the room carries it: get, list, claim, complete,
 * close, and the EXISTS of a second create under the same key. Keeping it
 * is optional (a room without one goes to any agent): a plugin that
 * answers none passes unless the environment's CONFORMANCE_STORES names
 * topics; one that answers a topic must answer the one created. */
static void topics(const struct chatd_storage_ops *ops, void *state, const char *plugin)
{
    const char *owner = "주제고객😀", *members[] = {owner};
    const char *longest = "abcdefghijklmnopqrstuvwxyz-01_23"; /* CHATD_TOPIC_MAX bytes */
    struct { const char *id, *key, *topic; } rooms[] = {
        {"rtopic1", "support:topic1", "billing"}, {"rtopic2", "support:topic2", NULL},
        {"rtopic3", "support:topic3", longest}};
    struct result r[8];
    memset(r, 0, sizeof r);
    for (size_t i = 0; i < 3; i++) {
        struct chatd_room room = {.size = sizeof room, .id = rooms[i].id, .kind = CHATD_ROOM_SUPPORT,
                                  .state = CHATD_ROOM_OPEN, .owner = owner, .created_ms = 80000 + (int64_t)i,
                                  .members = members, .nmembers = 1, .topic = rooms[i].topic};
        CALL(ops->room_create(state, &room, rooms[i].key, room_cb, &r[i]));
    }
    wait_all(r, 3);
    bool required = getenv("CONFORMANCE_STORES") && strstr(getenv("CONFORMANCE_STORES"), "topics");
    if (!required && r[0].st == CHATD_OK && strcmp(r[0].topic, "-") == 0) {
        printf("%s: keeps no topics (SDK 2.12, optional)\n", plugin);
        return;
    }
    for (size_t i = 0; i < 3; i++)
        CHECK(r[i].st == CHATD_OK && strcmp(r[i].topic, rooms[i].topic ? rooms[i].topic : "-") == 0,
              "create %s: %s, topic %s", rooms[i].id, chatd_strerror(r[i].st), r[i].topic);

    memset(r, 0, sizeof r);
    for (size_t i = 0; i < 3; i++)
        CALL(ops->room_get(state, rooms[i].id, NULL, room_cb, &r[i]));
    struct chatd_room_filter f = {.size = sizeof f, .member = owner, .kind = CHATD_ROOM_SUPPORT};
    CALL(ops->room_list(state, &f, rooms_cb, &r[3]));
    /* Another create under a key in use: the room there, with its topic. */
    struct chatd_room again = {.size = sizeof again, .id = "rtopic1b", .kind = CHATD_ROOM_SUPPORT,
                               .state = CHATD_ROOM_OPEN, .owner = owner, .created_ms = 80010, .members = members,
                               .nmembers = 1, .topic = "tech"};
    CALL(ops->room_create(state, &again, "support:topic1", room_cb, &r[4]));
    wait_all(r, 5);
    for (size_t i = 0; i < 3; i++)
        CHECK(r[i].st == CHATD_OK && strcmp(r[i].topic, rooms[i].topic ? rooms[i].topic : "-") == 0,
              "get %s: %s, topic %s", rooms[i].id, chatd_strerror(r[i].st), r[i].topic);
    CHECK(r[3].st == CHATD_OK && r[3].n == 3, "list by member: %s, %zu rooms", chatd_strerror(r[3].st), r[3].n);
    for (size_t i = 0; i < 3 && i < r[3].n; i++)
        CHECK(strcmp(r[3].ids[i], rooms[i].id) == 0 &&
                  strcmp(r[3].topics[i], rooms[i].topic ? rooms[i].topic : "-") == 0,
              "listed %zu: %s topic %s", i, r[3].ids[i], r[3].topics[i]);
    CHECK(r[4].st == CHATD_ERR_EXISTS && strcmp(r[4].id, "rtopic1") == 0 && strcmp(r[4].topic, "billing") == 0,
          "create again: %s %s topic %s", chatd_strerror(r[4].st), r[4].id, r[4].topic);

    /* The room's life keeps it. */
    memset(r, 0, sizeof r);
    CALL(ops->room_claim(state, "rtopic1", "주제상담원", 81000, room_cb, &r[0]));
    wait_all(r, 1);
    CALL(ops->room_complete(state, "rtopic1", "주제상담원", room_cb, &r[1]));
    wait_all(r, 2);
    CHECK(r[0].st == CHATD_OK && strcmp(r[0].topic, "billing") == 0, "claim: %s topic %s",
          chatd_strerror(r[0].st), r[0].topic);
    CHECK(r[1].st == CHATD_OK && strcmp(r[1].topic, "billing") == 0, "complete: %s topic %s",
          chatd_strerror(r[1].st), r[1].topic);
    if (ops->room_close) {
        CALL(ops->room_close(state, "rtopic3", 82000, room_cb, &r[2]));
        wait_all(r, 3);
        CHECK(r[2].st == CHATD_OK && strcmp(r[2].topic, longest) == 0, "close: %s topic %s",
              chatd_strerror(r[2].st), r[2].topic);
    }
    memset(r, 0, sizeof r);
    CALL(ops->room_get(state, "rtopic3", NULL, room_cb, &r[0]));
    wait_all(r, 1);
    CHECK(r[0].st == CHATD_OK && strcmp(r[0].topic, longest) == 0, "get after close: %s topic %s",
          chatd_strerror(r[0].st), r[0].topic);
}

static void ratings(const struct chatd_storage_ops *ops, void *state)
{
    const char *owner = "평가고객😀";
    CHECK(create(ops, state, "rrate1", CHATD_ROOM_SUPPORT, owner, NULL, "support:rate1", 70000) == CHATD_OK &&
              create(ops, state, "rrate2", CHATD_ROOM_SUPPORT, "rater2", NULL, "support:rate2", 70001) == CHATD_OK &&
              create(ops, state, "rrate3", CHATD_ROOM_SUPPORT, "rater3", NULL, "support:rate3", 70002) == CHATD_OK &&
              create(ops, state, "rrateg", CHATD_ROOM_GROUP, owner, "rater2", NULL, 70003) == CHATD_OK,
          "rating rooms created");
    struct result r[8];
    memset(r, 0, sizeof r);
    CALL(ops->room_claim(state, "rrate1", "rateagent", 71000, room_cb, &r[0]));
    CALL(ops->room_claim(state, "rrate2", "rateagent", 71000, room_cb, &r[1]));
    wait_all(r, 2);
    /* Not before completion, not a group, not a room that is not there. */
    memset(r, 0, sizeof r);
    rate(ops, state, "rrate1", 5, "early", 72000, &r[0]);
    rate(ops, state, "rrateg", 5, NULL, 72000, &r[1]);
    rate(ops, state, "rratenone", 5, NULL, 72000, &r[2]);
    rate(ops, state, "rrate3", 4, NULL, 72000, &r[3]); /* waiting in the queue */
    wait_all(r, 4);
    CHECK(r[0].st == CHATD_ERR_CONFLICT && r[0].state == CHATD_ROOM_ASSIGNED && r[0].rating == 0,
          "rate an assigned room: %s rating %u", chatd_strerror(r[0].st), r[0].rating);
    CHECK(r[1].st == CHATD_ERR_CONFLICT, "rate a group: %s", chatd_strerror(r[1].st));
    CHECK(r[2].st == CHATD_ERR_NOT_FOUND, "rate no room: %s", chatd_strerror(r[2].st));
    CHECK(r[3].st == CHATD_ERR_CONFLICT && r[3].rating == 0, "rate a waiting room: %s", chatd_strerror(r[3].st));

    /* Completed: rated once, a second rating refused with the first. */
    char comment[CHATD_RATING_COMMENT_MAX + 1];
    size_t w = 0;
    while (w + strlen("친절해요😀") <= CHATD_RATING_COMMENT_MAX)
        w += (size_t)snprintf(comment + w, sizeof comment - w, "%s", "친절해요😀");
    memset(r, 0, sizeof r);
    CALL(ops->room_complete(state, "rrate1", "rateagent", room_cb, &r[0]));
    wait_all(r, 1);
    rate(ops, state, "rrate1", 5, comment, 73000, &r[1]);
    wait_all(r, 2);
    rate(ops, state, "rrate1", 1, "again", 74000, &r[2]);
    CALL(ops->room_get(state, "rrate1", NULL, room_cb, &r[3]));
    wait_all(r, 4);
    CHECK(r[1].st == CHATD_OK && r[1].rating == 5 && strcmp(r[1].comment, comment) == 0 && r[1].rated_ms == 73000 &&
              r[1].state == CHATD_ROOM_COMPLETED,
          "rate a completed room: %s rating %u rated_ms %lld comment %zu bytes", chatd_strerror(r[1].st),
          r[1].rating, (long long)r[1].rated_ms, strlen(r[1].comment));
    CHECK(r[2].st == CHATD_ERR_CONFLICT && r[2].rating == 5 && strcmp(r[2].comment, comment) == 0,
          "a second rating: %s rating %u", chatd_strerror(r[2].st), r[2].rating);
    CHECK(r[3].st == CHATD_OK && r[3].rating == 5 && strcmp(r[3].comment, comment) == 0 && r[3].rated_ms == 73000,
          "the rating kept with the room: rating %u comment %zu bytes", r[3].rating, strlen(r[3].comment));
    /* Listed rooms carry it too. */
    struct chatd_room_filter of_owner = {.size = sizeof of_owner, .member = owner};
    memset(r, 0, sizeof r);
    struct result listed = {0};
    CALL(ops->room_list(state, &of_owner, rooms_cb, &listed));
    wait_all(&listed, 1);
    bool listed_rating = false;
    for (size_t i = 0; i < listed.n && i < 16; i++)
        listed_rating |= strcmp(listed.ids[i], "rrate1") == 0 && listed.ratings[i] == 5;
    CHECK(listed.st == CHATD_OK && listed_rating, "the customer's rooms list the rating: %s n=%zu",
          chatd_strerror(listed.st), listed.n);

    /* Two ratings at once: exactly one is stored. */
    memset(r, 0, sizeof r);
    CALL(ops->room_complete(state, "rrate2", "rateagent", room_cb, &r[0]));
    wait_all(r, 1);
    rate(ops, state, "rrate2", 3, "셋 🙂", 75000, &r[1]);
    rate(ops, state, "rrate2", 4, NULL, 75001, &r[2]);
    wait_all(r, 3);
    CALL(ops->room_get(state, "rrate2", NULL, room_cb, &r[3]));
    wait_all(r, 4);
    CHECK((r[1].st == CHATD_OK) + (r[2].st == CHATD_OK) == 1, "two ratings at once: %s %s",
          chatd_strerror(r[1].st), chatd_strerror(r[2].st));
    bool first = r[1].st == CHATD_OK;
    CHECK(r[3].rating == (first ? 3u : 4u) && r[3].has_comment == first &&
              (!first || strcmp(r[3].comment, "셋 🙂") == 0),
          "the winner's rating kept: %u '%s'", r[3].rating, r[3].comment);

    /* Closed (never claimed): rated, without a comment. */
    memset(r, 0, sizeof r);
    CALL(ops->room_close(state, "rrate3", 76000, room_cb, &r[0]));
    wait_all(r, 1);
    rate(ops, state, "rrate3", 1, NULL, 77000, &r[1]);
    wait_all(r, 2);
    CHECK(r[1].st == CHATD_OK && r[1].rating == 1 && !r[1].has_comment && r[1].state == CHATD_ROOM_CLOSED,
          "rate a closed room: %s rating %u comment %s", chatd_strerror(r[1].st), r[1].rating,
          r[1].has_comment ? "set" : "none");

    /* Gone with the room. */
    memset(r, 0, sizeof r);
    CALL(ops->room_delete(state, "rrate1", done_cb, &r[0]));
    wait_all(r, 1);
    rate(ops, state, "rrate1", 2, NULL, 78000, &r[1]);
    wait_all(r, 2);
    CHECK(r[1].st == CHATD_ERR_NOT_FOUND, "rate a deleted room: %s", chatd_strerror(r[1].st));
    memset(r, 0, sizeof r);
    CHECK(create(ops, state, "rrate1", CHATD_ROOM_SUPPORT, owner, NULL, "support:rate1", 79000) == CHATD_OK,
          "a room of the same id again");
    CALL(ops->room_get(state, "rrate1", NULL, room_cb, &r[0]));
    wait_all(r, 1);
    CHECK(r[0].st == CHATD_OK && r[0].rating == 0 && !r[0].has_comment && r[0].rated_ms == 0,
          "a new room of the same id has no rating: %u", r[0].rating);
    memset(r, 0, sizeof r);
    CALL(ops->room_delete(state, "rrate1", done_cb, &r[0]));
    CALL(ops->room_delete(state, "rrate2", done_cb, &r[1]));
    CALL(ops->room_delete(state, "rrate3", done_cb, &r[2]));
    CALL(ops->room_delete(state, "rrateg", done_cb, &r[3]));
    wait_all(r, 4);
}

/* SDK 2.3: claims under an agent's limit (also when they race), hand-overs
 * to another agent and back to the queue, completed rooms opened again. */
static void support_desk(const struct chatd_storage_ops *ops, void *state)
{
    enum { N = 10 };
    char ids[N][32], owners[N][32], keys[N][48];
    for (int i = 0; i < N; i++) {
        snprintf(ids[i], sizeof ids[i], "rdesk%d", i);
        snprintf(owners[i], sizeof owners[i], "고객%d😀", i);
        snprintf(keys[i], sizeof keys[i], "support:%s", owners[i]);
        CHECK(create(ops, state, ids[i], CHATD_ROOM_SUPPORT, owners[i], NULL, keys[i], 20000 + i) == CHATD_OK,
              "desk room %d", i);
    }
    /* Ten claims at once, by one agent with a limit of 1: one room is theirs. */
    struct result r[N + 4];
    memset(r, 0, sizeof r);
    for (int i = 0; i < N; i++)
        claim_limited(ops, state, ids[i], "dagent", 1, &r[i]);
    wait_all(r, N);
    int won = -1, wins = 0, limited = 0;
    for (int i = 0; i < N; i++) {
        if (r[i].st == CHATD_OK) {
            wins++;
            won = i;
            CHECK(r[i].state == CHATD_ROOM_ASSIGNED && strcmp(r[i].agent, "dagent") == 0 &&
                      r[i].assigned_ms == 40000 && has_name(r[i].members, "dagent"),
                  "the claim under the limit: state %d agent '%s'", r[i].state, r[i].agent);
        } else if (r[i].st == CHATD_ERR_LIMIT) {
            limited++;
            CHECK(strcmp(r[i].id, ids[i]) == 0 && r[i].state == CHATD_ROOM_OPEN && r[i].agent[0] == '\0',
                  "a claim over the limit leaves the room open: '%s' state %d", r[i].id, r[i].state);
        }
    }
    CHECK(wins == 1 && limited == N - 1, "claims racing under a limit of 1: %d won, %d over the limit", wins,
          limited);
    if (won < 0)
        return;
    int open_ids[N - 1], nopen = 0; /* the rooms still open */
    for (int i = 0; i < N; i++)
        if (i != won)
            open_ids[nopen++] = i;
    int a = open_ids[0], b = open_ids[1], c = open_ids[2], d = open_ids[3];
    /* Taken already, gone, no limit, a limit of 2. */
    memset(r, 0, sizeof r);
    claim_limited(ops, state, ids[won], "dother", 5, &r[0]);
    claim_limited(ops, state, "rnothere", "dother", 5, &r[1]);
    wait_all(r, 2);
    CHECK(r[0].st == CHATD_ERR_CONFLICT && strcmp(r[0].agent, "dagent") == 0, "claiming a taken room: %s",
          chatd_strerror(r[0].st));
    CHECK(r[1].st == CHATD_ERR_NOT_FOUND, "claiming no room: %s", chatd_strerror(r[1].st));
    memset(r, 0, sizeof r);
    claim_limited(ops, state, ids[a], "dtwo", 0, &r[0]);
    wait_all(r, 1);
    claim_limited(ops, state, ids[b], "dtwo", 1, &r[1]);
    wait_all(r, 2);
    CHECK(r[0].st == CHATD_OK && r[1].st == CHATD_ERR_LIMIT && r[1].state == CHATD_ROOM_OPEN,
          "0 is no limit; then a limit of 1 with one room held: %s %s", chatd_strerror(r[0].st),
          chatd_strerror(r[1].st));
    /* A room assigned by hand counts against the limit too. */
    memset(r, 0, sizeof r);
    CALL(ops->room_claim(state, ids[b], "dthree", 40000, room_cb, &r[0]));
    wait_all(r, 1);
    CHECK(r[0].st == CHATD_OK, "a claim by hand: %s", chatd_strerror(r[0].st));
    memset(r, 0, sizeof r);
    claim_limited(ops, state, ids[c], "dthree", 1, &r[0]);
    wait_all(r, 1);
    CHECK(r[0].st == CHATD_ERR_LIMIT, "a room claimed by hand counts against the limit: %s",
          chatd_strerror(r[0].st));

    /* Transfers: only from the assigned agent, to an agent or the queue. */
    const char *to = "상담원😀";
    memset(r, 0, sizeof r);
    transfer(ops, state, ids[won], "nobody", to, 41000, &r[0]);
    transfer(ops, state, ids[c], "dagent", to, 41000, &r[1]);
    transfer(ops, state, "rnothere", "dagent", to, 41000, &r[2]);
    wait_all(r, 3);
    CHECK(r[0].st == CHATD_ERR_CONFLICT && strcmp(r[0].agent, "dagent") == 0, "transfer by a non-assignee: %s",
          chatd_strerror(r[0].st));
    CHECK(r[1].st == CHATD_ERR_CONFLICT && r[1].state == CHATD_ROOM_OPEN, "transfer of a queued room: %s",
          chatd_strerror(r[1].st));
    CHECK(r[2].st == CHATD_ERR_NOT_FOUND, "transfer of no room: %s", chatd_strerror(r[2].st));
    /* Two hand-overs of one room at once: one wins, the other finds it gone. */
    memset(r, 0, sizeof r);
    transfer(ops, state, ids[won], "dagent", to, 41000, &r[0]);
    transfer(ops, state, ids[won], "dagent", "dother", 41000, &r[1]);
    wait_all(r, 2);
    CHECK((r[0].st == CHATD_OK) + (r[1].st == CHATD_OK) == 1 &&
              (r[0].st == CHATD_ERR_CONFLICT) + (r[1].st == CHATD_ERR_CONFLICT) == 1,
          "two transfers at once: %s %s", chatd_strerror(r[0].st), chatd_strerror(r[1].st));
    struct result *ok = r[0].st == CHATD_OK ? &r[0] : &r[1];
    const char *holder = ok == &r[0] ? to : "dother";
    CHECK(ok->state == CHATD_ROOM_ASSIGNED && strcmp(ok->agent, holder) == 0 && ok->assigned_ms == 41000 &&
              has_name(ok->members, holder) && !has_name(ok->members, "dagent") &&
              has_name(ok->members, owners[won]),
          "transferred: agent '%s', members '%s'", ok->agent, ok->members);
    /* The agent who handed it on holds nothing now: a claim under 1 works. */
    memset(r, 0, sizeof r);
    claim_limited(ops, state, ids[c], "dagent", 1, &r[0]);
    struct chatd_room_filter held = {.size = sizeof held, .agent = holder, .state = CHATD_ROOM_ASSIGNED};
    CALL(ops->room_list(state, &held, rooms_cb, &r[1]));
    wait_all(r, 2);
    CHECK(r[0].st == CHATD_OK, "the limit follows the transfer: %s", chatd_strerror(r[0].st));
    CHECK(r[1].n == 1 && strcmp(r[1].ids[0], ids[won]) == 0, "the new agent's rooms: %zu", r[1].n);
    /* Back to the queue: open, nobody's, in its place by creation. */
    memset(r, 0, sizeof r);
    transfer(ops, state, ids[won], holder, NULL, 42000, &r[0]);
    wait_all(r, 1);
    CHECK(r[0].st == CHATD_OK && r[0].state == CHATD_ROOM_OPEN && r[0].agent[0] == '\0' && r[0].assigned_ms == 0 &&
              !has_name(r[0].members, holder) && has_name(r[0].members, owners[won]),
          "back to the queue: %s state %d agent '%s' members '%s'", chatd_strerror(r[0].st), r[0].state,
          r[0].agent, r[0].members);
    struct chatd_room_filter queue = {.size = sizeof queue, .kind = CHATD_ROOM_SUPPORT, .state = CHATD_ROOM_OPEN};
    memset(r, 0, sizeof r);
    CALL(ops->room_list(state, &queue, rooms_cb, &r[0]));
    wait_all(r, 1);
    bool queued = false;
    for (size_t i = 0; i < r[0].n && i < 16; i++)
        queued |= strcmp(r[0].ids[i], ids[won]) == 0;
    CHECK(queued, "the queue has the room handed back (%zu rooms)", r[0].n);
    /* ... and a claim takes it again. */
    memset(r, 0, sizeof r);
    claim_limited(ops, state, ids[won], "dother", 1, &r[0]);
    wait_all(r, 1);
    CHECK(r[0].st == CHATD_OK && strcmp(r[0].agent, "dother") == 0, "claimed from the queue again: %s",
          chatd_strerror(r[0].st));

    /* Reopen: complete, and the customer comes back. */
    int64_t t0 = wall_ms();
    memset(r, 0, sizeof r);
    CALL(ops->room_complete(state, ids[won], "dother", room_cb, &r[0]));
    wait_all(r, 1);
    int64_t t1 = wall_ms();
    CHECK(r[0].st == CHATD_OK && r[0].any_closed_ms >= t0 - 1000 && r[0].any_closed_ms <= t1 + 1000,
          "completion time recorded: %lld in [%lld, %lld]", (long long)r[0].any_closed_ms, (long long)t0,
          (long long)t1);
    memset(r, 0, sizeof r);
    reopen(ops, state, ids[won], keys[won], t1 + 60000, "dother", 1, &r[0]);
    reopen(ops, state, ids[c], keys[c], 0, "dother", 1, &r[1]);
    reopen(ops, state, "rnothere", "support:nobody", 0, NULL, 0, &r[2]);
    wait_all(r, 3);
    CHECK(r[0].st == CHATD_ERR_CONFLICT && r[0].state == CHATD_ROOM_COMPLETED, "reopen after the window: %s",
          chatd_strerror(r[0].st));
    CHECK(r[1].st == CHATD_ERR_CONFLICT && r[1].state == CHATD_ROOM_ASSIGNED, "reopen of an assigned room: %s",
          chatd_strerror(r[1].st));
    CHECK(r[2].st == CHATD_ERR_NOT_FOUND, "reopen of no room: %s", chatd_strerror(r[2].st));
    /* Two at once: one reopens it, to the same agent. */
    memset(r, 0, sizeof r);
    reopen(ops, state, ids[won], keys[won], t0 - 60000, "dother", 1, &r[0]);
    reopen(ops, state, ids[won], keys[won], t0 - 60000, "dother", 1, &r[1]);
    wait_all(r, 2);
    CHECK((r[0].st == CHATD_OK) + (r[1].st == CHATD_OK) == 1, "two reopens at once: %s %s",
          chatd_strerror(r[0].st), chatd_strerror(r[1].st));
    ok = r[0].st == CHATD_OK ? &r[0] : &r[1];
    CHECK(ok->state == CHATD_ROOM_ASSIGNED && strcmp(ok->agent, "dother") == 0 && ok->assigned_ms == 50000 &&
              ok->any_closed_ms == 0 && has_name(ok->members, "dother"),
          "reopened with its agent: state %d agent '%s' closed_ms %lld", ok->state, ok->agent,
          (long long)ok->any_closed_ms);
    /* The key is the room's again: the customer's one open support room. */
    memset(r, 0, sizeof r);
    struct chatd_room fresh = {.size = sizeof fresh, .id = "rdesknew", .kind = CHATD_ROOM_SUPPORT,
                               .state = CHATD_ROOM_OPEN, .owner = owners[won], .created_ms = 30000,
                               .members = (const char *const[]){owners[won]}, .nmembers = 1};
    CALL(ops->room_create(state, &fresh, keys[won], room_cb, &r[0]));
    wait_all(r, 1);
    CHECK(r[0].st == CHATD_ERR_EXISTS && strcmp(r[0].id, ids[won]) == 0, "the key taken again: %s '%s'",
          chatd_strerror(r[0].st), r[0].id);
    /* Completed again; the customer opened another room meanwhile: no reopen. */
    memset(r, 0, sizeof r);
    CALL(ops->room_complete(state, ids[won], "dother", room_cb, &r[0]));
    wait_all(r, 1);
    CALL(ops->room_create(state, &fresh, keys[won], room_cb, &r[1]));
    wait_all(r, 2);
    reopen(ops, state, ids[won], keys[won], t0 - 60000, "dother", 1, &r[2]);
    wait_all(r, 3);
    CHECK(r[1].st == CHATD_OK, "a new room after the second completion: %s", chatd_strerror(r[1].st));
    CHECK(r[2].st == CHATD_ERR_EXISTS && strcmp(r[2].id, "rdesknew") == 0,
          "no reopen while the customer has another room: %s '%s'", chatd_strerror(r[2].st), r[2].id);
    /* That one closed, the agent at their limit: the room waits in the queue. */
    memset(r, 0, sizeof r);
    CALL(ops->room_close(state, "rdesknew", 45000, room_cb, &r[0]));
    claim_limited(ops, state, ids[d], "dother", 0, &r[1]);
    wait_all(r, 2);
    reopen(ops, state, ids[won], keys[won], t0 - 60000, "dother", 1, &r[2]);
    wait_all(r, 3);
    CHECK(r[1].st == CHATD_OK, "dother takes another room: %s", chatd_strerror(r[1].st));
    CHECK(r[2].st == CHATD_OK && r[2].state == CHATD_ROOM_OPEN && r[2].agent[0] == '\0' && r[2].assigned_ms == 0,
          "reopened into the queue when the agent is at the limit: %s state %d agent '%s'",
          chatd_strerror(r[2].st), r[2].state, r[2].agent);
    /* Queued with no agent asked for, it is claimable. */
    memset(r, 0, sizeof r);
    claim_limited(ops, state, ids[won], "dfour", 1, &r[0]);
    wait_all(r, 1);
    CHECK(r[0].st == CHATD_OK, "a reopened room is claimed from the queue: %s", chatd_strerror(r[0].st));
}


/* Three instances of the plugin on one backend, as three chatd would have:
 * nine claims under a limit of 2 for one agent, three at a time from each,
 * give the agent two rooms; three claims of one room, one from each, give
 * it once. */
static void desk_race_instances(const struct chatd_plugin *d, const struct chatd_host *host, void *state0)
{
    const struct chatd_storage_ops *ops = d->ops.storage;
    void *states[3] = {state0, NULL, NULL};
    for (int k = 1; k < 3; k++)
        if (d->init(host, &states[k]) != CHATD_OK) {
            CHECK(false, "a second instance of the plugin: init failed");
            for (int j = 1; j < k; j++)
                d->fini(states[j]);
            return;
        }
    enum { N = 9 };
    char ids[N][32], owners[N][32], keys[N][48];
    for (int i = 0; i < N; i++) {
        snprintf(ids[i], sizeof ids[i], "rrace%d", i);
        snprintf(owners[i], sizeof owners[i], "경주%d", i);
        snprintf(keys[i], sizeof keys[i], "support:%s", owners[i]);
        CHECK(create(ops, states[i % 3], ids[i], CHATD_ROOM_SUPPORT, owners[i], NULL, keys[i], 60000 + i) == CHATD_OK,
              "race room %d", i);
    }
    struct result r[N];
    memset(r, 0, sizeof r);
    for (int i = 0; i < N; i++)
        CALL(ops->room_claim_limited(states[i % 3], ids[i], "경주agent", 2, 61000, room_cb, &r[i]));
    wait_all(r, N);
    int wins = 0, limited = 0;
    for (int i = 0; i < N; i++) {
        wins += r[i].st == CHATD_OK;
        limited += r[i].st == CHATD_ERR_LIMIT;
    }
    CHECK(wins == 2 && limited == N - 2, "nine claims from three instances under a limit of 2: %d won, %d limited",
          wins, limited);
    /* One room, three instances, no limit: one winner. */
    int open_one = -1;
    for (int i = 0; i < N && open_one < 0; i++)
        if (r[i].st == CHATD_ERR_LIMIT)
            open_one = i;
    if (open_one >= 0) {
        memset(r, 0, sizeof r);
        for (int k = 0; k < 3; k++) {
            char agent[32];
            snprintf(agent, sizeof agent, "racer%d", k);
            CALL(ops->room_claim_limited(states[k], ids[open_one], agent, 0, 61000, room_cb, &r[k]));
        }
        wait_all(r, 3);
        wins = (r[0].st == CHATD_OK) + (r[1].st == CHATD_OK) + (r[2].st == CHATD_OK);
        int lost = (r[0].st == CHATD_ERR_CONFLICT) + (r[1].st == CHATD_ERR_CONFLICT) + (r[2].st == CHATD_ERR_CONFLICT);
        CHECK(wins == 1 && lost == 2, "one room claimed from three instances: %d won, %d conflicts", wins, lost);
    }
    for (int k = 1; k < 3; k++)
        d->fini(states[k]);
}

/* ------------------------------------------------------------ canned replies */

/* SDK 2.8 answers: up to 8 replies, as the plugin ordered them. */
struct canned_seen {
    int done;
    chatd_status st;
    size_t n;
    char desk[8][80], shortcut[8][140], title[8][220], by[8][80];
    char body[8][CHATD_CANNED_BODY_MAX + 1];
    int64_t ms[8];
};

static void canned_cb(void *ctx, chatd_status st, const struct chatd_canned_reply *c, size_t n)
{
    note_early();
    struct canned_seen *r = ctx;
    r->st = st;
    r->n = n;
    for (size_t i = 0; i < n; i++) {
        const struct chatd_canned_reply *e = AT(c, i);
        NOTE_SIZE(e);
        if (i >= 8)
            continue;
        snprintf(r->desk[i], sizeof r->desk[i], "%s", e->desk);
        snprintf(r->shortcut[i], sizeof r->shortcut[i], "%s", e->shortcut);
        snprintf(r->title[i], sizeof r->title[i], "%s", e->title);
        snprintf(r->body[i], sizeof r->body[i], "%s", e->body);
        snprintf(r->by[i], sizeof r->by[i], "%s", e->updated_by);
        r->ms[i] = e->updated_ms;
    }
    r->done++;
}

static void canned_put(const struct chatd_storage_ops *ops, void *state, const char *desk, const char *shortcut,
                       const char *title, const char *body, const char *by, int64_t ms, size_t max,
                       struct result *r)
{
    struct chatd_canned_reply c = {.size = sizeof c, .desk = desk, .shortcut = shortcut, .title = title,
                                   .body = body, .updated_by = by, .updated_ms = ms};
    CALL(ops->canned_put(state, &c, max, count_cb, r));
}

static struct canned_seen canned_of(const struct chatd_storage_ops *ops, void *state, const char *desk, size_t limit)
{
    struct canned_seen c;
    memset(&c, 0, sizeof c);
    CALL(ops->canned_list(state, desk, limit, canned_cb, &c));
    while (!c.done)
        event_base_loop(H.base, EVLOOP_ONCE);
    return c;
}

/* SDK 2.8: a desk's saved replies by shortcut: Korean and emoji intact,
 * replaced whole, deleted, listed by shortcut byte for byte, bounded. */
static void canned(const struct chatd_storage_ops *ops, void *state)
{
    struct canned_seen l = canned_of(ops, state, "default", 50);
    CHECK(l.st == CHATD_OK && l.n == 0, "no canned replies at first: %s n=%zu", chatd_strerror(l.st), l.n);

    const char *body_ko = "안녕하세요 😀\n환불은 3–5일 걸립니다. \"영수증\"을 보내 주세요 \\ 감사합니다";
    struct result r[8];
    memset(r, 0, sizeof r);
    canned_put(ops, state, "default", "환불", "환불 안내", body_ko, "관리자", 81000, 0, &r[0]);
    canned_put(ops, state, "default", "refund", "Refunds", "Refunds take 3-5 days.", "admin", 81001, 0, &r[1]);
    canned_put(ops, state, "default", "😀hi", "인사 🙂", "Hello! 👋", "admin", 81002, 0, &r[2]);
    canned_put(ops, state, "default", "ref", "Short", "a prefix sorts first", "admin", 81003, 0, &r[3]);
    canned_put(ops, state, "billing", "refund", "Billing refunds", "Another desk's", "billing-admin", 81004, 0, &r[4]);
    wait_all(r, 5);
    for (int i = 0; i < 5; i++)
        CHECK(r[i].st == CHATD_OK && r[i].count == 1, "canned put %d new: %s n=%llu", i, chatd_strerror(r[i].st),
              (unsigned long long)r[i].count);

    /* Ordered by shortcut byte for byte: ASCII, Hangul (ED..), emoji (F0..). */
    l = canned_of(ops, state, "default", 50);
    CHECK(l.st == CHATD_OK && l.n == 4, "default desk: %s n=%zu", chatd_strerror(l.st), l.n);
    if (l.n == 4) {
        CHECK(strcmp(l.shortcut[0], "ref") == 0 && strcmp(l.shortcut[1], "refund") == 0 &&
                  strcmp(l.shortcut[2], "환불") == 0 && strcmp(l.shortcut[3], "😀hi") == 0,
              "canned order: %s %s %s %s", l.shortcut[0], l.shortcut[1], l.shortcut[2], l.shortcut[3]);
        CHECK(strcmp(l.desk[2], "default") == 0 && strcmp(l.title[2], "환불 안내") == 0 &&
                  strcmp(l.body[2], body_ko) == 0 && strcmp(l.by[2], "관리자") == 0 && l.ms[2] == 81000,
              "a Korean reply as stored: '%s' '%s' '%s' %lld", l.title[2], l.body[2], l.by[2], (long long)l.ms[2]);
        CHECK(strcmp(l.title[3], "인사 🙂") == 0 && strcmp(l.body[3], "Hello! 👋") == 0, "an emoji reply: '%s' '%s'",
              l.title[3], l.body[3]);
        CHECK(strcmp(l.body[1], "Refunds take 3-5 days.") == 0, "the default desk's own refund: '%s'", l.body[1]);
    }
    l = canned_of(ops, state, "billing", 50);
    CHECK(l.st == CHATD_OK && l.n == 1 && strcmp(l.body[0], "Another desk's") == 0, "billing desk: n=%zu", l.n);
    l = canned_of(ops, state, "nodesk", 50);
    CHECK(l.st == CHATD_OK && l.n == 0, "a desk without replies: %s n=%zu", chatd_strerror(l.st), l.n);
    /* The list's limit takes the first ones. */
    l = canned_of(ops, state, "default", 2);
    CHECK(l.st == CHATD_OK && l.n == 2 && strcmp(l.shortcut[0], "ref") == 0 && strcmp(l.shortcut[1], "refund") == 0,
          "a list of 2: n=%zu %s %s", l.n, l.shortcut[0], l.shortcut[1]);

    /* Replaced whole, by another writer. */
    memset(r, 0, sizeof r);
    canned_put(ops, state, "default", "환불", "환불 (새)", "새 본문 🎉", "agent1", 82000, 0, &r[0]);
    wait_all(r, 1);
    CHECK(r[0].st == CHATD_OK && r[0].count == 0, "canned replace: %s n=%llu", chatd_strerror(r[0].st),
          (unsigned long long)r[0].count);
    l = canned_of(ops, state, "default", 50);
    CHECK(l.n == 4 && strcmp(l.shortcut[2], "환불") == 0 && strcmp(l.title[2], "환불 (새)") == 0 &&
              strcmp(l.body[2], "새 본문 🎉") == 0 && strcmp(l.by[2], "agent1") == 0 && l.ms[2] == 82000,
          "replaced: n=%zu '%s' '%s' '%s' %lld", l.n, l.title[2], l.body[2], l.by[2], (long long)l.ms[2]);

    /* The largest body, Korean to the last byte that fits. */
    static char big[CHATD_CANNED_BODY_MAX + 1];
    size_t w = 0;
    while (w + strlen("가") <= CHATD_CANNED_BODY_MAX)
        w += (size_t)snprintf(big + w, sizeof big - w, "%s", "가");
    while (w < CHATD_CANNED_BODY_MAX)
        big[w++] = '!';
    big[w] = '\0';
    char title[CHATD_CANNED_TITLE_MAX + 1];
    memset(title, 'T', CHATD_CANNED_TITLE_MAX);
    title[CHATD_CANNED_TITLE_MAX] = '\0';
    memset(r, 0, sizeof r);
    canned_put(ops, state, "default", "긴답변", title, big, "admin", 83000, 0, &r[0]);
    wait_all(r, 1);
    l = canned_of(ops, state, "default", 50);
    /* 긴 is EA B8 B4, before 환 (ED 99 98). */
    CHECK(r[0].st == CHATD_OK && l.n == 5 && strcmp(l.shortcut[2], "긴답변") == 0 &&
              strlen(l.body[2]) == CHATD_CANNED_BODY_MAX && strcmp(l.body[2], big) == 0 &&
              strcmp(l.title[2], title) == 0 && strcmp(l.shortcut[3], "환불") == 0,
          "the largest reply: %s n=%zu body %zu bytes", chatd_strerror(r[0].st), l.n, strlen(l.body[2]));

    /* A desk's bound: a new shortcut refused at it, a replacement not. */
    memset(r, 0, sizeof r);
    canned_put(ops, state, "small", "a", "A", "a", "admin", 84000, 2, &r[0]);
    canned_put(ops, state, "small", "b", "B", "b", "admin", 84001, 2, &r[1]);
    wait_all(r, 2);
    canned_put(ops, state, "small", "c", "C", "c", "admin", 84002, 2, &r[2]);
    canned_put(ops, state, "small", "a", "A2", "a2", "admin", 84003, 2, &r[3]);
    wait_all(r, 4);
    CHECK(r[0].st == CHATD_OK && r[1].st == CHATD_OK, "under the bound: %s %s", chatd_strerror(r[0].st),
          chatd_strerror(r[1].st));
    CHECK(r[2].st == CHATD_ERR_LIMIT, "a new shortcut at the bound: %s", chatd_strerror(r[2].st));
    CHECK(r[3].st == CHATD_OK && r[3].count == 0, "a replacement at the bound: %s", chatd_strerror(r[3].st));
    l = canned_of(ops, state, "small", 50);
    CHECK(l.n == 2 && strcmp(l.shortcut[0], "a") == 0 && strcmp(l.body[0], "a2") == 0 &&
              strcmp(l.shortcut[1], "b") == 0,
          "the bounded desk: n=%zu", l.n);

    /* Deleted once; the other desk keeps its own. */
    memset(r, 0, sizeof r);
    CALL(ops->canned_delete(state, "default", "refund", done_cb, &r[0]));
    wait_all(r, 1);
    CALL(ops->canned_delete(state, "default", "refund", done_cb, &r[1]));
    CALL(ops->canned_delete(state, "default", "없음", done_cb, &r[2]));
    wait_all(r, 3);
    CHECK(r[0].st == CHATD_OK, "canned delete: %s", chatd_strerror(r[0].st));
    CHECK(r[1].st == CHATD_ERR_NOT_FOUND && r[2].st == CHATD_ERR_NOT_FOUND, "delete what is not there: %s %s",
          chatd_strerror(r[1].st), chatd_strerror(r[2].st));
    l = canned_of(ops, state, "default", 50);
    CHECK(l.n == 4 && strcmp(l.shortcut[0], "ref") == 0 && strcmp(l.shortcut[1], "긴답변") == 0 &&
              strcmp(l.shortcut[2], "환불") == 0,
          "after the delete: n=%zu %s %s %s", l.n, l.shortcut[0], l.shortcut[1], l.shortcut[2]);
    l = canned_of(ops, state, "billing", 50);
    CHECK(l.n == 1, "the other desk's refund stays: n=%zu", l.n);
    /* Gone and put again: new. */
    memset(r, 0, sizeof r);
    canned_put(ops, state, "default", "refund", "Refunds", "again", "admin", 85000, 0, &r[0]);
    wait_all(r, 1);
    CHECK(r[0].st == CHATD_OK && r[0].count == 1, "put after delete: %s n=%llu", chatd_strerror(r[0].st),
          (unsigned long long)r[0].count);
}

/* Two writers of one new shortcut at once (on separate instances where
 * they share a backend): both succeed, one of them created it, and the
 * reply is one writer's whole. A desk one below its bound, three new
 * shortcuts at once: exactly one gets in. */
static void canned_race(const struct chatd_storage_ops *ops, void *s1, void *s2, void *s3)
{
    struct result r[3];
    memset(r, 0, sizeof r);
    canned_put(ops, s1, "race", "같이😀", "첫째", "첫째의 본문 😀", "agent1", 86000, 0, &r[0]);
    canned_put(ops, s2, "race", "같이😀", "둘째", "둘째의 본문 🙂", "agent2", 86001, 0, &r[1]);
    wait_all(r, 2);
    CHECK(r[0].st == CHATD_OK && r[1].st == CHATD_OK && r[0].count + r[1].count == 1,
          "two puts of one shortcut: %s n=%llu, %s n=%llu", chatd_strerror(r[0].st), (unsigned long long)r[0].count,
          chatd_strerror(r[1].st), (unsigned long long)r[1].count);
    struct canned_seen l = canned_of(ops, s3, "race", 50);
    bool first = l.n == 1 && strcmp(l.title[0], "첫째") == 0 && strcmp(l.body[0], "첫째의 본문 😀") == 0 &&
                 strcmp(l.by[0], "agent1") == 0 && l.ms[0] == 86000;
    bool second = l.n == 1 && strcmp(l.title[0], "둘째") == 0 && strcmp(l.body[0], "둘째의 본문 🙂") == 0 &&
                  strcmp(l.by[0], "agent2") == 0 && l.ms[0] == 86001;
    CHECK(first || second, "one writer's reply, whole: n=%zu '%s' '%s' '%s'", l.n, l.title[0], l.body[0], l.by[0]);

    memset(r, 0, sizeof r);
    canned_put(ops, s1, "race", "x", "X", "x", "agent1", 87000, 2, &r[0]);
    canned_put(ops, s2, "race", "y", "Y", "y", "agent2", 87000, 2, &r[1]);
    canned_put(ops, s3, "race", "z", "Z", "z", "agent3", 87000, 2, &r[2]);
    wait_all(r, 3);
    int ok = (r[0].st == CHATD_OK) + (r[1].st == CHATD_OK) + (r[2].st == CHATD_OK);
    int limited = (r[0].st == CHATD_ERR_LIMIT) + (r[1].st == CHATD_ERR_LIMIT) + (r[2].st == CHATD_ERR_LIMIT);
    CHECK(ok == 1 && limited == 2, "three new shortcuts one below the bound: %d stored, %d limited", ok, limited);
    l = canned_of(ops, s1, "race", 50);
    CHECK(l.n == 2, "the raced desk holds its bound: n=%zu", l.n);
}

/* canned_race on three instances of a plugin that shares a backend. */
static void canned_race_instances(const struct chatd_plugin *d, const struct chatd_host *host, void *state0)
{
    void *states[3] = {state0, NULL, NULL};
    for (int k = 1; k < 3; k++)
        if (d->init(host, &states[k]) != CHATD_OK) {
            CHECK(false, "a second instance of the plugin: init failed");
            for (int j = 1; j < k; j++)
                d->fini(states[j]);
            return;
        }
    canned_race(d->ops.storage, states[0], states[1], states[2]);
    for (int k = 1; k < 3; k++)
        d->fini(states[k]);
}

/* ------------------------------------------------------------ reactions */

/* SDK 2.5 answers: up to 16 counts, as the plugin ordered them. */
struct reacted {
    int done;
    chatd_status st;
    size_t n;
    uint64_t seq[16], count[16];
    bool me[16];
    char emoji[16][40];
};

static void reacted_cb(void *ctx, chatd_status st, const struct chatd_reaction_count *c, size_t n)
{
    note_early();
    struct reacted *r = ctx;
    r->st = st;
    r->n = n;
    for (size_t i = 0; i < n; i++)
        NOTE_SIZE(AT(c, i));
    for (size_t i = 0; i < n && i < 16; i++) {
        const struct chatd_reaction_count *e = AT(c, i);
        r->seq[i] = e->seq;
        r->count[i] = e->count;
        r->me[i] = e->me;
        snprintf(r->emoji[i], sizeof r->emoji[i], "%s", e->emoji ? e->emoji : "(null)");
    }
    r->done++;
}

static void wait_reacted(struct reacted *r, size_t n)
{
    for (;;) {
        size_t done = 0;
        for (size_t i = 0; i < n; i++)
            done += r[i].done > 0;
        if (done == n)
            return;
        event_base_loop(H.base, EVLOOP_ONCE);
    }
}

static void react_call(const struct chatd_storage_ops *ops, void *state, const char *room, uint64_t seq,
                       const char *user, const char *emoji, bool add, size_t max, struct reacted *out)
{
    struct chatd_reaction_change rc = {.size = sizeof rc, .room_id = room, .seq = seq, .user = user, .emoji = emoji,
                                       .add = add, .max_distinct = max};
    CALL(ops->reaction_change(state, &rc, reacted_cb, out));
}

static struct reacted react(const struct chatd_storage_ops *ops, void *state, const char *room, uint64_t seq,
                            const char *user, const char *emoji, bool add, size_t max)
{
    struct reacted r = {0};
    react_call(ops, state, room, seq, user, emoji, add, max, &r);
    wait_reacted(&r, 1);
    return r;
}

static struct reacted reactions_of(const struct chatd_storage_ops *ops, void *state, const char *room,
                                   const uint64_t *seqs, size_t n, const char *user)
{
    struct reacted r = {0};
    CALL(ops->reaction_list(state, room, seqs, n, user, reacted_cb, &r));
    wait_reacted(&r, 1);
    return r;
}

/* Index of (seq, emoji) in an answer, or -1. */
static int reacted_at(const struct reacted *r, uint64_t seq, const char *emoji)
{
    for (size_t i = 0; i < r->n && i < 16; i++)
        if (r->seq[i] == seq && strcmp(r->emoji[i], emoji) == 0)
            return (int)i;
    return -1;
}

static void reactions(const struct chatd_storage_ops *ops, void *state)
{
    static const char thumbs[] = "\xf0\x9f\x91\x8d\xf0\x9f\x8f\xbd";                               /* 👍🏽 */
    static const char family[] = "\xf0\x9f\x91\xa8\xe2\x80\x8d\xf0\x9f\x91\xa9\xe2\x80\x8d\xf0\x9f\x91\xa7"; /* 👨‍👩‍👧 */
    static const char heart[] = "\xe2\x9d\xa4\xef\xb8\x8f";                                         /* ❤️ */
    static const char korean[] = "\xed\x95\x9c";                                                    /* 한 */
    /* 32 bytes, the SDK's bound: eight 😀 */
    static const char longest[] = "\xf0\x9f\x98\x80\xf0\x9f\x98\x80\xf0\x9f\x98\x80\xf0\x9f\x98\x80"
                                  "\xf0\x9f\x98\x80\xf0\x9f\x98\x80\xf0\x9f\x98\x80\xf0\x9f\x98\x80";
    _Static_assert(sizeof longest - 1 == CHATD_REACTION_EMOJI_MAX, "the longest emoji");
    const char *members[] = {"rx1", "rx2", "rx3", "rx4", "rx5", "rx6"};
    struct chatd_room room = {.size = sizeof room, .id = "rreact", .kind = CHATD_ROOM_GROUP, .state = CHATD_ROOM_OPEN,
                              .owner = "rx1", .title = "reactions", .created_ms = 1, .members = members,
                              .nmembers = 6};
    struct result cr = {0};
    CALL(ops->room_create(state, &room, NULL, room_cb, &cr));
    wait_all(&cr, 1);
    CHECK(cr.st == CHATD_OK, "create rreact: %s", chatd_strerror(cr.st));
    for (int i = 0; i < 3; i++)
        CHECK(append_as(ops, state, "rreact", "rx1", NULL, "react to me") == CHATD_OK, "append %d", i);
    struct edited del = edit_one(ops, state, "rreact", 3, CHATD_MESSAGE_DELETE, NULL, 100);
    CHECK(del.st == CHATD_OK, "delete message 3: %s", chatd_strerror(del.st));

    uint64_t both[] = {2, 1};
    struct reacted r = reactions_of(ops, state, "rreact", both, 2, "rx1");
    CHECK(r.st == CHATD_OK && r.n == 0, "no reactions yet: %s %zu", chatd_strerror(r.st), r.n);

    /* Added: counted, `me` for whoever reacted; twice is once. */
    r = react(ops, state, "rreact", 1, "rx1", thumbs, true, 20);
    CHECK(r.st == CHATD_OK && r.n == 1 && r.seq[0] == 1 && strcmp(r.emoji[0], thumbs) == 0 && r.count[0] == 1 &&
              r.me[0], "add: %s n %zu count %llu me %d '%s'", chatd_strerror(r.st), r.n,
          (unsigned long long)r.count[0], (int)r.me[0], r.emoji[0]);
    r = react(ops, state, "rreact", 1, "rx1", thumbs, true, 20);
    CHECK(r.st == CHATD_ERR_EXISTS && r.n == 1 && r.count[0] == 1 && r.me[0], "add twice: %s count %llu",
          chatd_strerror(r.st), (unsigned long long)r.count[0]);
    r = react(ops, state, "rreact", 1, "rx2", thumbs, true, 20);
    CHECK(r.st == CHATD_OK && r.n == 1 && r.count[0] == 2 && r.me[0], "a second member: %s count %llu",
          chatd_strerror(r.st), (unsigned long long)r.count[0]);
    r = react(ops, state, "rreact", 1, "rx1", family, true, 20);
    CHECK(r.st == CHATD_OK && r.n == 2, "a ZWJ sequence: %s n %zu", chatd_strerror(r.st), r.n);
    r = react(ops, state, "rreact", 2, "rx2", heart, true, 20);
    CHECK(r.st == CHATD_OK && r.n == 1 && strcmp(r.emoji[0], heart) == 0, "a heart: %s", chatd_strerror(r.st));
    r = react(ops, state, "rreact", 2, "rx3", korean, true, 20);
    CHECK(r.st == CHATD_OK && r.n == 2, "Korean text as a reaction: %s", chatd_strerror(r.st));
    r = react(ops, state, "rreact", 2, "rx3", longest, true, 20);
    CHECK(r.st == CHATD_OK && r.n == 3 && reacted_at(&r, 2, longest) >= 0, "the longest emoji kept whole: %s",
          chatd_strerror(r.st));

    /* A page's counts: ordered by seq, then emoji byte for byte; me per user. */
    r = reactions_of(ops, state, "rreact", both, 2, "rx1");
    CHECK(r.st == CHATD_OK && r.n == 5, "page: %s n %zu", chatd_strerror(r.st), r.n);
    bool ordered = r.n == 5;
    for (size_t i = 1; i < r.n && i < 16; i++)
        ordered = ordered && (r.seq[i - 1] < r.seq[i] ||
                              (r.seq[i - 1] == r.seq[i] && memcmp(r.emoji[i - 1], r.emoji[i],
                                                                  strlen(r.emoji[i]) + 1) < 0));
    CHECK(ordered, "page ordered by seq then emoji bytes");
    int t = reacted_at(&r, 1, thumbs), f = reacted_at(&r, 1, family), h = reacted_at(&r, 2, heart);
    CHECK(t >= 0 && r.count[t] == 2 && r.me[t] && f >= 0 && r.count[f] == 1 && r.me[f] && h >= 0 &&
              r.count[h] == 1 && !r.me[h], "page counts and me for rx1");
    r = reactions_of(ops, state, "rreact", both, 2, NULL);
    bool none_mine = r.n == 5;
    for (size_t i = 0; i < r.n && i < 16; i++)
        none_mine = none_mine && !r.me[i];
    CHECK(none_mine, "no for_user: me false everywhere (n %zu)", r.n);
    uint64_t only2[] = {2};
    r = reactions_of(ops, state, "rreact", only2, 1, "rx3");
    CHECK(r.st == CHATD_OK && r.n == 3 && r.seq[0] == 2 && r.seq[2] == 2, "one message's: n %zu", r.n);

    /* Lists of one room asked at once (a plugin may read them together):
     * each answer holds its own messages' counts only, `me` for its own
     * reader. */
    {
        uint64_t one1[] = {1}, none[] = {7};
        struct reacted at[5] = {{0}};
        CALL(ops->reaction_list(state, "rreact", both, 2, "rx1", reacted_cb, &at[0]));
        CALL(ops->reaction_list(state, "rreact", only2, 1, "rx1", reacted_cb, &at[1]));
        CALL(ops->reaction_list(state, "rreact", one1, 1, "rx1", reacted_cb, &at[2]));
        CALL(ops->reaction_list(state, "rreact", one1, 1, "rx2", reacted_cb, &at[3]));
        CALL(ops->reaction_list(state, "rreact", none, 1, "rx1", reacted_cb, &at[4]));
        wait_reacted(at, 5);
        CHECK(at[0].st == CHATD_OK && at[0].n == 5, "at once, both messages: %s n %zu", chatd_strerror(at[0].st),
              at[0].n);
        CHECK(at[1].st == CHATD_OK && at[1].n == 3 && at[1].seq[0] == 2 && at[1].seq[2] == 2,
              "at once, message 2: n %zu", at[1].n);
        int a2 = reacted_at(&at[2], 1, thumbs), a3 = reacted_at(&at[3], 1, thumbs),
            f3 = reacted_at(&at[3], 1, family);
        CHECK(at[2].st == CHATD_OK && at[2].n == 2 && at[2].seq[0] == 1 && at[2].seq[1] == 1 && a2 >= 0 &&
                  at[2].me[a2], "at once, message 1 for rx1: n %zu", at[2].n);
        CHECK(at[3].st == CHATD_OK && at[3].n == 2 && a3 >= 0 && at[3].me[a3] && f3 >= 0 && !at[3].me[f3],
              "at once, message 1 for rx2: n %zu", at[3].n);
        CHECK(at[4].st == CHATD_OK && at[4].n == 0, "at once, no such message: n %zu", at[4].n);
    }

    /* Taken back: the count drops, an emoji nobody holds goes; twice is nothing. */
    r = react(ops, state, "rreact", 1, "rx1", thumbs, false, 0);
    t = reacted_at(&r, 1, thumbs);
    CHECK(r.st == CHATD_OK && t >= 0 && r.count[t] == 1 && !r.me[t], "remove: %s", chatd_strerror(r.st));
    r = react(ops, state, "rreact", 1, "rx1", thumbs, false, 0);
    CHECK(r.st == CHATD_ERR_EXISTS && reacted_at(&r, 1, thumbs) >= 0, "remove twice: %s", chatd_strerror(r.st));
    r = react(ops, state, "rreact", 1, "rx1", family, false, 0);
    CHECK(r.st == CHATD_OK && reacted_at(&r, 1, family) < 0 && r.n == 1, "the last holder goes: %s n %zu",
          chatd_strerror(r.st), r.n);

    /* The bound on distinct emoji: a new one refused, a held one still joins. */
    r = react(ops, state, "rreact", 2, "rx4", thumbs, true, 3);
    CHECK(r.st == CHATD_ERR_LIMIT && r.n == 3 && reacted_at(&r, 2, thumbs) < 0, "a 4th distinct emoji: %s n %zu",
          chatd_strerror(r.st), r.n);
    r = react(ops, state, "rreact", 2, "rx4", heart, true, 3);
    h = reacted_at(&r, 2, heart);
    CHECK(r.st == CHATD_OK && h >= 0 && r.count[h] == 2, "a held emoji at the bound: %s", chatd_strerror(r.st));

    /* A tombstone takes none; no message, no room: not found. */
    r = react(ops, state, "rreact", 3, "rx1", thumbs, true, 20);
    CHECK(r.st == CHATD_ERR_CONFLICT, "a deleted message: %s", chatd_strerror(r.st));
    r = react(ops, state, "rreact", 99, "rx1", thumbs, true, 20);
    CHECK(r.st == CHATD_ERR_NOT_FOUND, "no such message: %s", chatd_strerror(r.st));
    r = react(ops, state, "rnoreact", 1, "rx1", thumbs, true, 20);
    CHECK(r.st == CHATD_ERR_NOT_FOUND, "no such room: %s", chatd_strerror(r.st));
    r = reactions_of(ops, state, "rnoreact", both, 2, "rx1");
    CHECK(r.st == CHATD_OK && r.n == 0, "no such room's list: %s", chatd_strerror(r.st));

    /* Concurrent: one member's same reaction five times is one; five
     * members at once are five; five new emoji at a bound of 3 + 2 leave
     * exactly two in. */
    struct reacted c[5] = {{0}};
    for (int i = 0; i < 5; i++)
        react_call(ops, state, "rreact", 1, "rx5", heart, true, 20, &c[i]);
    wait_reacted(c, 5);
    int ok = 0, exists = 0;
    for (int i = 0; i < 5; i++) {
        ok += c[i].st == CHATD_OK;
        exists += c[i].st == CHATD_ERR_EXISTS;
    }
    CHECK(ok == 1 && exists == 4, "one member's concurrent adds: %d OK, %d EXISTS", ok, exists);
    memset(c, 0, sizeof c);
    static const char *const five[] = {"\xf0\x9f\x8e\x89", "\xf0\x9f\x8e\x88", "\xf0\x9f\x8e\x81",
                                       "\xf0\x9f\x8e\x82", "\xf0\x9f\x8e\x83"}; /* 🎉 🎈 🎁 🎂 🎃 */
    for (int i = 0; i < 5; i++)
        react_call(ops, state, "rreact", 1, members[i], five[i], true, 4, &c[i]);
    wait_reacted(c, 5);
    ok = 0;
    int limited = 0;
    for (int i = 0; i < 5; i++) {
        ok += c[i].st == CHATD_OK;
        limited += c[i].st == CHATD_ERR_LIMIT;
    }
    uint64_t one[] = {1};
    r = reactions_of(ops, state, "rreact", one, 1, NULL);
    /* message 1 held thumbs and heart: two more fit under 4 */
    CHECK(ok == 2 && limited == 3 && r.n == 4, "concurrent new emoji at a bound: %d OK, %d LIMIT, %zu held", ok,
          limited, r.n);

    /* A member's reactions go with user_erase; a room's with the room. */
    if (ops->user_erase) {
        struct result er = {0};
        CALL(ops->user_erase(state, "rx3", erase_cb, &er));
        wait_all(&er, 1);
        r = reactions_of(ops, state, "rreact", only2, 1, NULL);
        CHECK(er.st == CHATD_OK && reacted_at(&r, 2, korean) < 0 && reacted_at(&r, 2, longest) < 0 &&
                  reacted_at(&r, 2, heart) >= 0, "erased user's reactions gone: %s n %zu", chatd_strerror(er.st),
              r.n);
    }
    struct result dr = {0};
    CALL(ops->room_delete(state, "rreact", done_cb, &dr));
    wait_all(&dr, 1);
    CHECK(dr.st == CHATD_OK, "delete rreact: %s", chatd_strerror(dr.st));
    cr = (struct result){0};
    CALL(ops->room_create(state, &room, NULL, room_cb, &cr));
    wait_all(&cr, 1);
    CHECK(append_as(ops, state, "rreact", "rx1", NULL, "anew") == CHATD_OK, "append to the room anew");
    r = reactions_of(ops, state, "rreact", both, 2, "rx1");
    CHECK(cr.st == CHATD_OK && r.st == CHATD_OK && r.n == 0, "a room made anew with the id has no reactions: n %zu",
          r.n);
    dr = (struct result){0};
    CALL(ops->room_delete(state, "rreact", done_cb, &dr));
    wait_all(&dr, 1);
}

/* SDK 2.11: a purge that names the rooms it removed, so the host removes
 * what it keeps beside them (attachments, internal notes). Runs last: it
 * first purges every closed room the other checks left. */
/* SDK 2.13: room_page answers what room_get (for_user NULL) and then
 * message_list would, in one call. A message's reactions hint, where a
 * plugin gives one, is true at the read: NONE only for a message without
 * reactions, SOME only for one with; a reaction called before the read is
 * seen by it. */
struct paged {
    int done;
    chatd_status st;
    bool has_room;
    struct result room, page;
    chatd_reactions_hint hints[64];
};

static chatd_reactions_hint hint_of(const struct chatd_message *m)
{
    return m->size >= offsetof(struct chatd_message, reactions) + sizeof m->reactions ? m->reactions
                                                                                      : CHATD_REACTIONS_UNKNOWN;
}

static void paged_cb(void *ctx, chatd_status st, const struct chatd_room *room, const struct chatd_message *m,
                     size_t n)
{
    struct paged *p = ctx;
    p->st = st;
    p->has_room = room != NULL;
    if (room)
        room_cb(&p->room, st, room);
    else
        note_early();
    messages_cb(&p->page, st, m, n);
    for (size_t i = 0; i < n && i < 64; i++)
        p->hints[i] = hint_of(AT(m, i));
    p->done++;
}

static void hinted_cb(void *ctx, chatd_status st, const struct chatd_message *m, size_t n)
{
    struct paged *p = ctx;
    messages_cb(&p->page, st, m, n);
    for (size_t i = 0; i < n && i < 64; i++)
        p->hints[i] = hint_of(AT(m, i));
    p->st = st;
    p->done++;
}

static void wait_paged(struct paged *p, size_t n)
{
    for (;;) {
        size_t done = 0;
        for (size_t i = 0; i < n; i++)
            done += p[i].done > 0;
        if (done == n)
            return;
        event_base_loop(H.base, EVLOOP_ONCE);
    }
}

/* Every hint of a page is true of the room's reactions now (nothing
 * changes them while this runs). */
static void hints_true(const struct chatd_storage_ops *ops, void *state, const char *room, const struct paged *p,
                       const char *what)
{
    for (size_t i = 0; i < p->page.n && i < 64; i++) {
        uint64_t seq = p->page.seqs[i];
        struct reacted r = reactions_of(ops, state, room, &seq, 1, NULL);
        CHECK(r.st == CHATD_OK, "%s: reactions of %llu: %s", what, (unsigned long long)seq, chatd_strerror(r.st));
        CHECK(p->hints[i] != CHATD_REACTIONS_NONE || r.n == 0, "%s: message %llu has reactions, hinted none", what,
              (unsigned long long)seq);
        CHECK(p->hints[i] != CHATD_REACTIONS_SOME || r.n > 0, "%s: message %llu has none, hinted some", what,
              (unsigned long long)seq);
    }
}

static void room_pages(const struct chatd_storage_ops *ops, void *state, bool reactions)
{
    static const char owner[] = "\xea\xb9\x80\xeb\xaf\xbc\xec\x88\x98"; /* 김민수 */
    static const char other[] = "\xf0\x9f\x98\x80user";                  /* 😀user */
    CHECK(create(ops, state, "rpage", CHATD_ROOM_GROUP, owner, other, NULL, 5) == CHATD_OK, "create rpage");
    CHECK(create(ops, state, "rpage-empty", CHATD_ROOM_GROUP, owner, NULL, NULL, 6) == CHATD_OK,
          "create rpage-empty");
    for (int i = 1; i <= 25; i++) {
        char body[64];
        snprintf(body, sizeof body, "\xec\x95\x88\xeb\x85\x95 %d \xf0\x9f\x91\x8b", i); /* 안녕 i 👋 */
        CHECK(append_as(ops, state, "rpage", i % 2 ? owner : other, NULL, body) == CHATD_OK, "append %d", i);
    }
    struct result room = get_room(ops, state, "rpage");
    /* the cursors of history: newest, oldest, before, after, past the end */
    const struct { uint64_t before, after; size_t limit; } cur[] = {
        {UINT64_MAX, 0, 10}, {0, 0, 10}, {5, 0, 10}, {0, 20, 10}, {0, 25, 10}, {100, 0, 3}, {1, 0, 5}, {26, 0, 25},
    };
    for (size_t c = 0; c < sizeof cur / sizeof cur[0]; c++) {
        struct paged p = {0};
        struct result l = {0};
        CALL(ops->room_page(state, "rpage", cur[c].before, cur[c].after, cur[c].limit, paged_cb, &p));
        CALL(ops->message_list(state, "rpage", cur[c].before, cur[c].after, cur[c].limit, messages_cb, &l));
        wait_paged(&p, 1);
        wait_all(&l, 1);
        CHECK(p.st == CHATD_OK && p.has_room, "room_page %zu: %s", c, chatd_strerror(p.st));
        CHECK(strcmp(p.room.id, "rpage") == 0 && strcmp(p.room.members, room.members) == 0 &&
                  strcmp(p.room.owner, owner) == 0 && p.room.last_seq == 25 &&
                  strcmp(p.room.title, room.title) == 0,
              "room_page %zu: room %s members %s last_seq %llu", c, p.room.id, p.room.members,
              (unsigned long long)p.room.last_seq);
        CHECK(p.page.n == l.n, "room_page %zu: %zu messages, message_list %zu", c, p.page.n, l.n);
        for (size_t i = 0; i < p.page.n && i < l.n && i < 16; i++)
            CHECK(p.page.seqs[i] == l.seqs[i] && strcmp(p.page.bodies[i], l.bodies[i]) == 0 &&
                      strcmp(p.page.senders[i], l.senders[i]) == 0 && strcmp(p.page.rooms[i], "rpage") == 0,
                  "room_page %zu: message %zu is %llu '%s', message_list's %llu '%s'", c, i,
                  (unsigned long long)p.page.seqs[i], p.page.bodies[i], (unsigned long long)l.seqs[i], l.bodies[i]);
    }
    /* Pages of one room called together, a member added between them:
     * each answers its own page, and those called after the add see the
     * new member (those before may too). */
    struct paged many[4] = {{0}};
    struct result added = {0};
    CALL(ops->room_page(state, "rpage", UINT64_MAX, 0, 5, paged_cb, &many[0]));
    CALL(ops->room_page(state, "rpage", 10, 0, 5, paged_cb, &many[1]));
    CALL(ops->member_add(state, "rpage", "\xec\x83\x88\xeb\xa9\xa4\xeb\xb2\x84", done_cb, &added)); /* 새멤버 */
    CALL(ops->room_page(state, "rpage", 0, 3, 5, paged_cb, &many[2]));
    CALL(ops->room_page(state, "rpage", 0, 20, 5, paged_cb, &many[3]));
    wait_paged(many, 4);
    wait_all(&added, 1);
    const uint64_t firsts[4] = {25, 9, 4, 21};
    for (int i = 0; i < 4; i++) {
        CHECK(many[i].st == CHATD_OK && many[i].page.n == 5 && many[i].page.seqs[0] == firsts[i] &&
                  many[i].page.seqs[4] == (i < 2 ? firsts[i] - 4 : firsts[i] + 4),
              "room_page %d of four: %s n %zu first %llu", i, chatd_strerror(many[i].st), many[i].page.n,
              (unsigned long long)many[i].page.seqs[0]);
        CHECK(i < 2 || strstr(many[i].room.members, "\xec\x83\x88\xeb\xa9\xa4\xeb\xb2\x84"),
              "room_page %d of four, called after the member was added: members %s", i, many[i].room.members);
    }
    CHECK(added.st == CHATD_OK, "member_add between pages: %s", chatd_strerror(added.st));
    struct paged none = {0}, empty = {0};
    CALL(ops->room_page(state, "rpage-none", UINT64_MAX, 0, 10, paged_cb, &none));
    CALL(ops->room_page(state, "rpage-empty", UINT64_MAX, 0, 10, paged_cb, &empty));
    wait_paged(&none, 1);
    wait_paged(&empty, 1);
    CHECK(none.st == CHATD_ERR_NOT_FOUND && !none.has_room && none.page.n == 0, "room_page of no room: %s",
          chatd_strerror(none.st));
    CHECK(empty.st == CHATD_OK && empty.has_room && empty.page.n == 0 && strcmp(empty.room.members, owner) == 0,
          "room_page of an empty room: %s n %zu", chatd_strerror(empty.st), empty.page.n);
    if (!reactions)
        return;

    /* A reaction called before the read is seen by it, in room_page and
     * message_list alike; taken back, the same. */
    static const char thumbs[] = "\xf0\x9f\x91\x8d"; /* 👍 */
    for (int add = 1; add >= 0; add--) {
        struct reacted rc = {0};
        struct paged p = {0}, l = {0};
        react_call(ops, state, "rpage", 7, other, thumbs, add, 20, &rc);
        CALL(ops->room_page(state, "rpage", 0, 0, 10, paged_cb, &p));
        CALL(ops->message_list(state, "rpage", 0, 0, 10, hinted_cb, &l));
        wait_reacted(&rc, 1);
        wait_paged(&p, 1);
        wait_paged(&l, 1);
        CHECK(rc.st == CHATD_OK, "react %d: %s", add, chatd_strerror(rc.st));
        CHECK(p.st == CHATD_OK && p.page.n == 10 && l.page.n == 10, "pages after react %d", add);
        hints_true(ops, state, "rpage", &p, add ? "room_page after an add" : "room_page after a take-back");
        hints_true(ops, state, "rpage", &l, add ? "message_list after an add" : "message_list after a take-back");
    }
}

static void purge_ids(const struct chatd_storage_ops *ops, void *state)
{
    struct result r[8];
    int drained = 0;
    do {
        memset(r, 0, sizeof r);
        CALL(ops->room_purge_ids(state, INT64_MAX, 1000, ids_cb, &r[0]));
        wait_all(r, 1);
        CHECK(r[0].st == CHATD_OK, "purge_ids, draining: %s", chatd_strerror(r[0].st));
    } while (r[0].st == CHATD_OK && r[0].n > 0 && ++drained < 100);

    static const char text[] = "\xec\xb2\xa8\xeb\xb6\x80 \xed\x8c\x8c\xec\x9d\xbc \xf0\x9f\x93\x8e"; /* 첨부 파일 📎 */
    CHECK(create(ops, state, "rpi1", CHATD_ROOM_SUPPORT, "pia", NULL, "support:pia", 10) == CHATD_OK, "create rpi1");
    CHECK(create(ops, state, "rpi2", CHATD_ROOM_SUPPORT, "pib", NULL, "support:pib", 11) == CHATD_OK, "create rpi2");
    CHECK(create(ops, state, "rpi3", CHATD_ROOM_SUPPORT, "pic", NULL, "support:pic", 12) == CHATD_OK, "create rpi3");
    CHECK(create(ops, state, "rpi4", CHATD_ROOM_SUPPORT, "pid", NULL, "support:pid", 13) == CHATD_OK, "create rpi4");
    CHECK(append_as(ops, state, "rpi1", "pia", NULL, text) == CHATD_OK, "a message in rpi1");
    memset(r, 0, sizeof r);
    CALL(ops->room_close(state, "rpi1", 100, room_cb, &r[0]));
    CALL(ops->room_close(state, "rpi2", 200, room_cb, &r[1]));
    CALL(ops->room_close(state, "rpi3", 300, room_cb, &r[2]));
    wait_all(r, 3);
    CHECK(r[0].st == CHATD_OK && r[1].st == CHATD_OK && r[2].st == CHATD_OK, "close rpi1..3");

    /* The oldest first, bounded, each named once; at the cutoff kept. */
    memset(r, 0, sizeof r);
    CALL(ops->room_purge_ids(state, 250, 1, ids_cb, &r[0]));
    wait_all(r, 1);
    CHECK(r[0].st == CHATD_OK && r[0].n == 1 && strcmp(r[0].ids[0], "rpi1") == 0, "purge_ids limit 1: %s n=%zu %s",
          chatd_strerror(r[0].st), r[0].n, r[0].n ? r[0].ids[0] : "-");
    CALL(ops->room_purge_ids(state, 250, 10, ids_cb, &r[1]));
    wait_all(r, 2);
    CHECK(r[1].st == CHATD_OK && r[1].n == 1 && strcmp(r[1].ids[0], "rpi2") == 0, "purge_ids the rest: %s n=%zu %s",
          chatd_strerror(r[1].st), r[1].n, r[1].n ? r[1].ids[0] : "-");
    CALL(ops->room_purge_ids(state, 250, 10, ids_cb, &r[2]));
    wait_all(r, 3);
    CHECK(r[2].st == CHATD_OK && r[2].n == 0, "purge_ids with none due: %s n=%zu", chatd_strerror(r[2].st), r[2].n);
    CALL(ops->room_get(state, "rpi1", NULL, room_cb, &r[3]));
    CALL(ops->message_list(state, "rpi1", UINT64_MAX, 0, 20, messages_cb, &r[4]));
    CALL(ops->room_get(state, "rpi3", NULL, room_cb, &r[5]));
    CALL(ops->room_get(state, "rpi4", NULL, room_cb, &r[6]));
    wait_all(r, 7);
    CHECK(r[3].st == CHATD_ERR_NOT_FOUND && r[4].st == CHATD_ERR_NOT_FOUND, "a named room is gone: %s %s",
          chatd_strerror(r[3].st), chatd_strerror(r[4].st));
    CHECK(r[5].st == CHATD_OK && r[6].st == CHATD_OK, "closed after the cutoff and open rooms stay: %s %s",
          chatd_strerror(r[5].st), chatd_strerror(r[6].st));
    memset(r, 0, sizeof r);
    CALL(ops->room_purge_ids(state, INT64_MAX, 10, ids_cb, &r[0]));
    wait_all(r, 1);
    CHECK(r[0].st == CHATD_OK && r[0].n == 1 && strcmp(r[0].ids[0], "rpi3") == 0, "purge_ids rpi3: %s n=%zu",
          chatd_strerror(r[0].st), r[0].n);
    /* The key of a purged room is free again. */
    CHECK(create(ops, state, "rpi1b", CHATD_ROOM_SUPPORT, "pia", NULL, "support:pia", 400) == CHATD_OK,
          "a new support room for a purged room's customer");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: storage_conformance PLUGIN.so [key=value ...]\n");
        return 2;
    }
    evthread_use_pthreads();
    H.base = event_base_new();
    H.wake = event_new(H.base, -1, 0, run_tasks, NULL);
    pthread_mutex_init(&H.mu, NULL);
    H.nkv = (size_t)argc - 2;
    H.keys = calloc(H.nkv + 1, sizeof *H.keys);
    H.values = calloc(H.nkv + 1, sizeof *H.values);
    H.used = calloc(H.nkv + 1, sizeof *H.used);
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
    if (!d || d->kind != CHATD_PLUGIN_STORAGE || d->abi_major != CHATD_ABI_MAJOR) {
        fprintf(stderr, "%s: not a storage plugin of this SDK (%s)\n", argv[1], dl ? "descriptor" : dlerror());
        return 2;
    }
    struct chatd_host host = {
        .size = sizeof host, .abi_major = CHATD_ABI_MAJOR, .abi_minor = CHATD_ABI_MINOR, .section = "storage",
        .base = H.base, .log = host_log, .post = host_post, .config_get = host_config_get,
        .config_count = host_config_count, .config_key = host_config_key, .config_value = host_config_value,
        .config_error = host_config_error, .deliver = host_deliver, .set_ready = host_set_ready,
    };
    void *state = NULL;
    if (d->init(&host, &state) != CHATD_OK) {
        fprintf(stderr, "%s: init failed\n", argv[1]);
        return 1;
    }
    const struct chatd_storage_ops *ops = d->ops.storage;

    /* Rooms and unique keys. */
    const char *alice_only[] = {"alice"};
    struct chatd_room room = {.size = sizeof(struct chatd_room), .id = "rconf1", .kind = CHATD_ROOM_SUPPORT, .state = CHATD_ROOM_OPEN,
                              .owner = "alice", .created_ms = 1000, .members = alice_only, .nmembers = 1};
    struct result r[64];
    memset(r, 0, sizeof r);
    CALL(ops->room_create(state, &room, "support:alice", room_cb, &r[0]));
    wait_all(r, 1);
    CHECK(r[0].st == CHATD_OK, "create: %s", chatd_strerror(r[0].st));
    struct chatd_room again = room;
    again.id = "rconf1b";
    memset(r, 0, sizeof r);
    CALL(ops->room_create(state, &again, "support:alice", room_cb, &r[0]));
    wait_all(r, 1);
    CHECK(r[0].st == CHATD_ERR_EXISTS && strcmp(r[0].id, "rconf1") == 0, "unique key: %s %s",
          chatd_strerror(r[0].st), r[0].id);
    memset(r, 0, sizeof r);
    CALL(ops->room_get(state, "rnothere", NULL, room_cb, &r[0]));
    wait_all(r, 1);
    CHECK(r[0].st == CHATD_ERR_NOT_FOUND, "get unknown: %s", chatd_strerror(r[0].st));

    /* Paging an empty room. */
    memset(r, 0, sizeof r);
    CALL(ops->message_list(state, "rconf1", UINT64_MAX, 0, 20, messages_cb, &r[0]));
    wait_all(r, 1);
    CHECK(r[0].st == CHATD_OK && r[0].n == 0, "empty room: %s n=%zu", chatd_strerror(r[0].st), r[0].n);

    /* 50 concurrent appends: seq 1..50, each once. */
    memset(r, 0, sizeof r);
    for (int i = 0; i < 50; i++) {
        char body[16];
        snprintf(body, sizeof body, "m%d", i);
        struct chatd_message m = {.size = sizeof(struct chatd_message), .room = "rconf1", .sender = "alice", .ts_ms = 5, .body = body, .body_len = strlen(body)};
        CALL(ops->message_append(state, &m, message_cb, &r[i]));
    }
    wait_all(r, 50);
    bool seen[51] = {false};
    for (int i = 0; i < 50; i++) {
        CHECK(r[i].st == CHATD_OK && r[i].seq >= 1 && r[i].seq <= 50 && !seen[r[i].seq], "append %d: %s seq %llu", i,
              chatd_strerror(r[i].st), (unsigned long long)r[i].seq);
        if (r[i].seq >= 1 && r[i].seq <= 50)
            seen[r[i].seq] = true;
    }
    /* Idempotency. */
    struct result ir[3];
    memset(ir, 0, sizeof ir);
    struct chatd_message once = {.size = sizeof(struct chatd_message), .room = "rconf1", .sender = "alice", .client_id = "k1", .body = "x", .body_len = 1};
    CALL(ops->message_append(state, &once, message_cb, &ir[0]));
    CALL(ops->message_append(state, &once, message_cb, &ir[1]));
    once.sender = "bob";
    CALL(ops->message_append(state, &once, message_cb, &ir[2]));
    wait_all(ir, 3);
    CHECK(ir[0].st == CHATD_OK && ir[1].st == CHATD_ERR_EXISTS && ir[1].seq == ir[0].seq &&
              strcmp(ir[0].id, ir[1].id) == 0, "client-id: %s/%s seq %llu/%llu", chatd_strerror(ir[0].st),
          chatd_strerror(ir[1].st), (unsigned long long)ir[0].seq, (unsigned long long)ir[1].seq);
    CHECK(ir[2].st == CHATD_OK && ir[2].seq == ir[0].seq + 1, "same client-id, other sender is new: %s",
          chatd_strerror(ir[2].st));

    /* Paging edges: 52 messages now. */
    memset(r, 0, sizeof r);
    CALL(ops->message_list(state, "rconf1", UINT64_MAX, 0, 20, messages_cb, &r[0]));
    CALL(ops->message_list(state, "rconf1", 1, 0, 20, messages_cb, &r[1]));
    CALL(ops->message_list(state, "rconf1", 0, 0, 5, messages_cb, &r[2]));
    CALL(ops->message_list(state, "rconf1", 21, 0, 20, messages_cb, &r[3]));
    CALL(ops->message_list(state, "rconf1", 0, 50, 20, messages_cb, &r[4]));
    wait_all(r, 5);
    CHECK(r[0].n == 20 && r[0].seqs[0] == 52 && r[0].seqs[19] == 33, "newest 20: n=%zu first=%llu", r[0].n,
          (unsigned long long)r[0].seqs[0]);
    CHECK(r[1].n == 0, "before=1 is empty: n=%zu", r[1].n);
    CHECK(r[2].n == 5 && r[2].seqs[0] == 1 && r[2].seqs[4] == 5, "after=0 oldest first");
    CHECK(r[3].n == 20 && r[3].seqs[0] == 20 && r[3].seqs[19] == 1, "exactly 20 before 21: n=%zu", r[3].n);
    CHECK(r[4].n == 2 && r[4].seqs[0] == 51 && r[4].seqs[1] == 52, "after=50: n=%zu", r[4].n);
    /* pages read at once each name their room (a plugin may read them together) */
    for (int k = 0; k < 5; k++)
        for (size_t i = 0; i < r[k].n && i < 16; i++)
            CHECK(strcmp(r[k].rooms[i], "rconf1") == 0, "page %d message %zu names room %s", k, i, r[k].rooms[i]);

    /* Read marks never go down; the room view shows them. */
    memset(r, 0, sizeof r);
    CALL(ops->read_mark(state, "rconf1", "bob", 10, done_cb, &r[0]));
    CALL(ops->read_mark(state, "rconf1", "bob", 4, done_cb, &r[1]));
    CALL(ops->room_get(state, "rconf1", "bob", room_cb, &r[2]));
    wait_all(r, 3);
    CHECK(r[2].st == CHATD_OK && r[2].read_seq == 10 && r[2].last_seq == 52 && r[2].has_last,
          "read mark: read=%llu last=%llu", (unsigned long long)r[2].read_seq, (unsigned long long)r[2].last_seq);

    /* A mark, a view for that user, a higher mark, in one go: the view sees
     * at least the first mark, a view after both the second. */
    memset(r, 0, sizeof r);
    CALL(ops->read_mark(state, "rconf1", "bob", 20, done_cb, &r[0]));
    CALL(ops->room_get(state, "rconf1", "bob", room_cb, &r[1]));
    CALL(ops->read_mark(state, "rconf1", "bob", 30, done_cb, &r[2]));
    CALL(ops->room_get(state, "rconf1", "bob", room_cb, &r[3]));
    CALL(ops->room_get(state, "rconf1", "carol", room_cb, &r[4]));
    wait_all(r, 5);
    CHECK(r[0].st == CHATD_OK && r[2].st == CHATD_OK && r[1].st == CHATD_OK && r[3].st == CHATD_OK,
          "marks and views: %s %s", chatd_strerror(r[0].st), chatd_strerror(r[2].st));
    CHECK(r[1].read_seq >= 20 && r[3].read_seq == 30 && r[4].read_seq == 0 && r[3].n == 1 && r[1].n == 1,
          "marks and views: read %llu, %llu, other user %llu", (unsigned long long)r[1].read_seq,
          (unsigned long long)r[3].read_seq, (unsigned long long)r[4].read_seq);

    /* Appends around a view: the view sees those called before it; appends
     * to a room that does not exist are not stored. */
    memset(r, 0, sizeof r);
    struct chatd_message plain = {.size = sizeof(struct chatd_message), .room = "rconf1", .sender = "alice", .ts_ms = 7, .body = "p", .body_len = 1};
    struct chatd_message nowhere = plain;
    nowhere.room = "rnothere";
    CALL(ops->message_append(state, &plain, message_cb, &r[0]));
    CALL(ops->message_append(state, &nowhere, message_cb, &r[1]));
    CALL(ops->message_append(state, &plain, message_cb, &r[2]));
    CALL(ops->room_get(state, "rconf1", NULL, room_cb, &r[3]));
    CALL(ops->message_append(state, &plain, message_cb, &r[4]));
    CALL(ops->message_append(state, &nowhere, message_cb, &r[5]));
    wait_all(r, 6);
    CHECK(r[0].st == CHATD_OK && r[2].st == CHATD_OK && r[4].st == CHATD_OK && r[0].seq == 53 && r[2].seq == 54 &&
              r[4].seq == 55 && strcmp(r[4].id, r[0].id) != 0,
          "appends in one go: %s %s %s, seq %llu %llu %llu", chatd_strerror(r[0].st), chatd_strerror(r[2].st),
          chatd_strerror(r[4].st), (unsigned long long)r[0].seq, (unsigned long long)r[2].seq,
          (unsigned long long)r[4].seq);
    CHECK(r[1].st == CHATD_ERR_NOT_FOUND && r[5].st == CHATD_ERR_NOT_FOUND, "appends to no room: %s %s",
          chatd_strerror(r[1].st), chatd_strerror(r[5].st));
    CHECK(r[3].st == CHATD_OK && r[3].last_seq >= 54, "a view after two appends: last_seq %llu",
          (unsigned long long)r[3].last_seq);

    /* Call order: appends to one room called back to back, among reads of
     * that room (room_get, history, read marks) and appends to another
     * room, are stored with seq increasing in call order, whatever order
     * their answers come in. */
    enum { ORDER_N = 40 };
    const char *pair[] = {"alice", "bob"};
    struct chatd_room g1 = {.size = sizeof(struct chatd_room), .id = "rconfo1", .kind = CHATD_ROOM_GROUP, .state = CHATD_ROOM_OPEN, .title = "순서 😀",
                            .owner = "alice", .created_ms = 1500, .members = pair, .nmembers = 2};
    struct chatd_room g2 = g1;
    g2.id = "rconfo2";
    memset(r, 0, sizeof r);
    CALL(ops->room_create(state, &g1, NULL, room_cb, &r[0]));
    CALL(ops->room_create(state, &g2, NULL, room_cb, &r[1]));
    wait_all(r, 2);
    CHECK(r[0].st == CHATD_OK && r[1].st == CHATD_OK, "order rooms: %s %s", chatd_strerror(r[0].st),
          chatd_strerror(r[1].st));
    struct result oa[ORDER_N], ob[ORDER_N], oread[ORDER_N];
    memset(oa, 0, sizeof oa);
    memset(ob, 0, sizeof ob);
    memset(oread, 0, sizeof oread);
    char obody[ORDER_N][64];
    for (int i = 0; i < ORDER_N; i++) {
        snprintf(obody[i], sizeof obody[i], "{\"text\":\"안녕 😀 %d\"}", i);
        struct chatd_message m = {.size = sizeof(struct chatd_message), .room = "rconfo1", .sender = i % 2 ? "bob" : "alice", .ts_ms = 9,
                                  .body = obody[i], .body_len = strlen(obody[i])};
        CALL(ops->message_append(state, &m, message_cb, &oa[i]));
        switch (i % 4) {
        case 0:
            CALL(ops->room_get(state, "rconfo1", NULL, room_cb, &oread[i]));
            break;
        case 1:
            CALL(ops->message_list(state, "rconfo1", UINT64_MAX, 0, 5, messages_cb, &oread[i]));
            break;
        case 2:
            CALL(ops->read_mark(state, "rconfo1", "bob", (uint64_t)i, done_cb, &oread[i]));
            break;
        default:
            CALL(ops->room_get(state, "rconfo1", "alice", room_cb, &oread[i]));
            break;
        }
        m.room = "rconfo2";
        CALL(ops->message_append(state, &m, message_cb, &ob[i]));
    }
    wait_all(oa, ORDER_N);
    wait_all(ob, ORDER_N);
    wait_all(oread, ORDER_N);
    for (int i = 0; i < ORDER_N; i++) {
        CHECK(oa[i].st == CHATD_OK && oa[i].seq == (uint64_t)i + 1, "append %d to one room in call order: %s seq %llu",
              i, chatd_strerror(oa[i].st), (unsigned long long)oa[i].seq);
        CHECK(ob[i].st == CHATD_OK && ob[i].seq == (uint64_t)i + 1,
              "append %d to the other room in call order: %s seq %llu", i, chatd_strerror(ob[i].st),
              (unsigned long long)ob[i].seq);
        CHECK(oread[i].st == CHATD_OK, "read %d among the appends: %s", i, chatd_strerror(oread[i].st));
    }
    /* The stored bodies are the calls' own, in call order. */
    memset(r, 0, sizeof r);
    CALL(ops->message_list(state, "rconfo1", 0, 0, ORDER_N, ordered_bodies_cb, &r[0]));
    CALL(ops->message_list(state, "rconfo2", 0, 0, ORDER_N, ordered_bodies_cb, &r[1]));
    wait_all(r, 2);
    for (int k = 0; k < 2; k++)
        CHECK(r[k].st == CHATD_OK && r[k].n == ORDER_N && r[k].seq == ORDER_N,
              "history of rconfo%d in call order: %s, %zu messages, %llu in place", k + 1, chatd_strerror(r[k].st),
              r[k].n, (unsigned long long)r[k].seq);

    if (strcmp(d->name, "postgres") == 0) {
        /* PostgreSQL takes text in the database's encoding only. One append
         * refused among others sent at once: only that one fails. */
        memset(r, 0, sizeof r);
        struct chatd_message bad = plain;
        bad.client_id = "\xff\xfe";
        CALL(ops->message_append(state, &plain, message_cb, &r[0]));
        CALL(ops->message_append(state, &bad, message_cb, &r[1]));
        CALL(ops->message_append(state, &plain, message_cb, &r[2]));
        wait_all(r, 3);
        CHECK(r[0].st == CHATD_OK && r[1].st == CHATD_ERR_INVALID && r[2].st == CHATD_OK && r[2].seq == r[0].seq + 1,
              "one bad append among three: %s %s %s", chatd_strerror(r[0].st), chatd_strerror(r[1].st),
              chatd_strerror(r[2].st));
    }

    /* The queue, oldest first; then a claim race with one winner. */
    struct chatd_room later = room;
    later.id = "rconf2";
    later.owner = "bob";
    const char *bob_only[] = {"bob"};
    later.members = bob_only;
    later.created_ms = 2000;
    memset(r, 0, sizeof r);
    CALL(ops->room_create(state, &later, "support:bob", room_cb, &r[0]));
    wait_all(r, 1);
    struct chatd_room_filter queue = {.size = sizeof(struct chatd_room_filter), .kind = CHATD_ROOM_SUPPORT, .state = CHATD_ROOM_OPEN};
    memset(r, 0, sizeof r);
    CALL(ops->room_list(state, &queue, rooms_cb, &r[0]));
    wait_all(r, 1);
    CHECK(r[0].n == 2 && strcmp(r[0].ids[0], "rconf1") == 0 && strcmp(r[0].ids[1], "rconf2") == 0,
          "queue oldest first: n=%zu", r[0].n);
    memset(r, 0, sizeof r);
    for (int i = 0; i < 10; i++) {
        char agent[16];
        snprintf(agent, sizeof agent, "agent%d", i);
        CALL(ops->room_claim(state, "rconf1", agent, 3000, room_cb, &r[i]));
    }
    wait_all(r, 10);
    int wins = 0, conflicts = 0;
    for (int i = 0; i < 10; i++) {
        wins += r[i].st == CHATD_OK;
        conflicts += r[i].st == CHATD_ERR_CONFLICT;
    }
    CHECK(wins == 1 && conflicts == 9, "claim race: %d winners, %d conflicts", wins, conflicts);
    char winner[128] = "";
    for (int i = 0; i < 10; i++)
        if (r[i].st == CHATD_OK)
            snprintf(winner, sizeof winner, "%s", r[i].agent);
    struct chatd_room_filter mine = {.size = sizeof(struct chatd_room_filter), .agent = winner, .state = CHATD_ROOM_ASSIGNED};
    memset(r, 0, sizeof r);
    /* A read may see writes called after it (the SDK's order rules): the
     * list is answered before the completes are called. */
    CALL(ops->room_list(state, &mine, rooms_cb, &r[0]));
    wait_all(r, 1);
    CALL(ops->room_complete(state, "rconf1", "nobody", room_cb, &r[1]));
    CALL(ops->room_complete(state, "rconf1", winner, room_cb, &r[2]));
    wait_all(r, 3);
    CHECK(r[0].n == 1, "agent's rooms: n=%zu", r[0].n);
    CHECK(r[1].st == CHATD_ERR_CONFLICT, "complete by another agent: %s", chatd_strerror(r[1].st));
    CHECK(r[2].st == CHATD_OK, "complete: %s", chatd_strerror(r[2].st));
    /* Completing released the unique key: alice may open a new room. */
    memset(r, 0, sizeof r);
    CALL(ops->room_create(state, &again, "support:alice", room_cb, &r[0]));
    wait_all(r, 1);
    CHECK(r[0].st == CHATD_OK && strcmp(r[0].id, "rconf1b") == 0, "new room after complete: %s",
          chatd_strerror(r[0].st));

    /* Members, then deletion of room, messages and marks. */
    memset(r, 0, sizeof r);
    CALL(ops->member_add(state, "rconf2", "carol", done_cb, &r[0]));
    CALL(ops->member_add(state, "rconf2", "carol", done_cb, &r[1]));
    CALL(ops->member_remove(state, "rconf2", "bob", done_cb, &r[2]));
    CALL(ops->room_get(state, "rconf2", NULL, room_cb, &r[3]));
    CALL(ops->room_delete(state, "rconf1", done_cb, &r[4]));
    CALL(ops->room_get(state, "rconf1", NULL, room_cb, &r[5]));
    CALL(ops->message_list(state, "rconf1", UINT64_MAX, 0, 20, messages_cb, &r[6]));
    CALL(ops->member_add(state, "rconf1", "x", done_cb, &r[7]));
    wait_all(r, 8);
    CHECK(r[0].st == CHATD_OK && r[1].st == CHATD_OK && r[2].st == CHATD_OK && r[3].n == 1,
          "members: %zu", r[3].n);
    CHECK(r[4].st == CHATD_OK && r[5].st == CHATD_ERR_NOT_FOUND && r[6].st == CHATD_ERR_NOT_FOUND &&
              r[7].st == CHATD_ERR_NOT_FOUND, "deleted room: %s %s %s", chatd_strerror(r[5].st),
          chatd_strerror(r[6].st), chatd_strerror(r[7].st));

    bad_input(ops, state);
    many_members(ops, state);

    if (ops->size >= offsetof(struct chatd_storage_ops, group_change) + sizeof ops->group_change && ops->group_change)
        check_group_roles(ops, state);
    else
        printf("%s: no group_change (SDK %u.%u): group roles not checked\n", argv[1], d->abi_major, d->abi_minor);
    if (ops->size >= offsetof(struct chatd_storage_ops, user_erase) + sizeof ops->user_erase &&
        ops->room_close && ops->room_purge && ops->user_erase)
        transcripts(ops, state);
    else
        printf("%s: no transcripts operations (SDK %u.%u): not checked\n", argv[1], d->abi_major, d->abi_minor);

    content_types(ops, state, argv[1]);
    if (ops->size >= offsetof(struct chatd_storage_ops, message_revisions) + sizeof ops->message_revisions &&
        ops->message_edit && ops->message_revisions)
        edits(ops, state);
    else if (getenv("CONFORMANCE_STORES") && strstr(getenv("CONFORMANCE_STORES"), "edits"))
        CHECK(false, "%s: no message_edit (SDK 2.2)", argv[1]);
    else
        printf("%s: no message_edit (SDK 2.2): not checked\n", argv[1]);

    if (ops->size >= offsetof(struct chatd_storage_ops, room_reopen) + sizeof ops->room_reopen &&
        ops->room_claim_limited && ops->room_transfer && ops->room_reopen) {
        support_desk(ops, state);
        /* A plugin whose instances share a backend (all but memory's). */
        if (strcmp(d->name, "memory") != 0)
            desk_race_instances(d, &host, state);
    } else if (getenv("CONFORMANCE_STORES") && strstr(getenv("CONFORMANCE_STORES"), "desk"))
        CHECK(false, "%s: no room_claim_limited, room_transfer, room_reopen (SDK 2.3)", argv[1]);
    else
        printf("%s: no support desk operations (SDK 2.3): not checked\n", argv[1]);
    if (ops->size >= offsetof(struct chatd_storage_ops, message_search) + sizeof ops->message_search &&
        ops->message_search)
        search(ops, state);
    else if (getenv("CONFORMANCE_STORES") && strstr(getenv("CONFORMANCE_STORES"), "search"))
        CHECK(false, "%s: no message_search (SDK 2.4)", argv[1]);
    else
        printf("%s: no message_search (SDK 2.4): not checked\n", argv[1]);

    if (ops->size >= offsetof(struct chatd_storage_ops, reaction_list) + sizeof ops->reaction_list &&
        ops->reaction_change && ops->reaction_list && ops->message_edit)
        reactions(ops, state);
    else if (getenv("CONFORMANCE_STORES") && strstr(getenv("CONFORMANCE_STORES"), "reactions"))
        CHECK(false, "%s: no reaction_change, reaction_list (SDK 2.5)", argv[1]);
    else
        printf("%s: no reactions (SDK 2.5): not checked\n", argv[1]);
    if (ops->size >= offsetof(struct chatd_storage_ops, room_rate) + sizeof ops->room_rate && ops->room_rate)
        ratings(ops, state);
    else if (getenv("CONFORMANCE_STORES") && strstr(getenv("CONFORMANCE_STORES"), "ratings"))
        CHECK(false, "%s: no room_rate (SDK 2.6)", argv[1]);
    else
        printf("%s: no room_rate (SDK 2.6): not checked\n", argv[1]);
    if (d->abi_major == CHATD_ABI_MAJOR && d->abi_minor >= 12)
        topics(ops, state, argv[1]);
    else if (getenv("CONFORMANCE_STORES") && strstr(getenv("CONFORMANCE_STORES"), "topics"))
        CHECK(false, "%s: no topics (SDK 2.12)", argv[1]);
    else
        printf("%s: no topics (SDK 2.12): not checked\n", argv[1]);
    if (ops->size >= offsetof(struct chatd_storage_ops, canned_list) + sizeof ops->canned_list && ops->canned_put &&
        ops->canned_delete && ops->canned_list) {
        canned(ops, state);
        if (strcmp(d->name, "memory") != 0)
            canned_race_instances(d, &host, state);
        else
            canned_race(ops, state, state, state);
    } else if (getenv("CONFORMANCE_STORES") && strstr(getenv("CONFORMANCE_STORES"), "canned"))
        CHECK(false, "%s: no canned_put, canned_delete, canned_list (SDK 2.8)", argv[1]);
    else
        printf("%s: no canned replies (SDK 2.8): not checked\n", argv[1]);
    if (ops->size >= offsetof(struct chatd_storage_ops, room_purge_ids) + sizeof ops->room_purge_ids &&
        ops->room_purge_ids && ops->room_close)
        purge_ids(ops, state);
    else if (getenv("CONFORMANCE_STORES") && strstr(getenv("CONFORMANCE_STORES"), "purge_ids"))
        CHECK(false, "%s: no room_purge_ids (SDK 2.11)", argv[1]);
    else
        printf("%s: no room_purge_ids (SDK 2.11): not checked\n", argv[1]);

    if (ops->size >= offsetof(struct chatd_storage_ops, room_page) + sizeof ops->room_page && ops->room_page)
        room_pages(ops, state,
                   ops->size >= offsetof(struct chatd_storage_ops, reaction_list) + sizeof ops->reaction_list &&
                       ops->reaction_change && ops->reaction_list);
    else if (getenv("CONFORMANCE_STORES") && strstr(getenv("CONFORMANCE_STORES"), "room_page"))
        CHECK(false, "%s: no room_page (SDK 2.13)", argv[1]);
    else
        printf("%s: no room_page (SDK 2.13): not checked\n", argv[1]);

    CHECK(H.early == 0, "%d completions ran before their call returned", H.early);
    CHECK(H.unsized == 0, "%d answered structs had a size below the SDK's", H.unsized);
    for (size_t i = 0; i < H.nkv; i++)
        CHECK(H.used[i], "the plugin did not read key '%s'", H.keys[i]);

    d->fini(state);
    run_tasks(-1, 0, NULL);
    event_free(H.wake);
    event_base_free(H.base);
    for (size_t i = 0; i < H.nkv; i++)
        free(H.keys[i]);
    free(H.keys);
    free(H.values);
    free(H.used);
    dlclose(dl);
    pthread_mutex_destroy(&H.mu);
    printf("%s: %s\n", argv[1], failures ? "FAILED" : "conforms");
    return failures ? 1 : 0;
}
