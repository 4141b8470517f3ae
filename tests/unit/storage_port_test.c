/* The storage port between the core and plugins of every SDK it loads:
 * optional operations found only in plugins that have them; rooms and
 * messages read at the plugin's own stride and size (SDK 1.1, 2.0, and a
 * later minor with larger structs) into plain arrays of this SDK's structs;
 * what the core hands over stamped with its size, in the 1.x layout for an
 * SDK 1 plugin; and an answer given before the plugin's call returned
 * refused, later. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include <chatd/plugin.h>

#include "plugins/loader.h"
#include "plugins/storage_port.h"
#include "rooms/retention.h"

/* struct chatd_room exactly as SDK 1.1 declared it. */
struct room_1_1 {
    const char *id;
    chatd_room_kind kind;
    chatd_room_state state;
    const char *title, *owner, *agent;
    int64_t created_ms, assigned_ms;
    uint64_t last_seq;
    const char *const *members;
    size_t nmembers;
    uint64_t read_seq;
    const void *last_message;
};

/* struct chatd_message exactly as SDK 1.x declared it. */
struct message_1 {
    const char *room;
    uint64_t seq;
    const char *id, *sender, *client_id;
    int64_t ts_ms;
    const char *body;
    size_t body_len;
};

/* A room and a message as a plugin of a later minor may build them. */
struct room_later {
    struct chatd_room r;
    uint64_t added_later;
};
struct message_later {
    struct chatd_message m;
    uint64_t added_later[3];
};

/* The fake plugin: each operation keeps its callback for the test to call
 * after the port's call returned (or, `at_once`, answers inside it). */
static struct {
    void *cb, *ctx;
    const void *arg; /* a copy of what the operation was handed */
    unsigned char arg_bytes[sizeof(struct chatd_room)];
    bool at_once;
    chatd_task_fn task;
    void *task_arg;
} F;

static void fake_room_list(void *state, const struct chatd_room_filter *f, chatd_rooms_cb cb, void *ctx)
{
    (void)state;
    memcpy(F.arg_bytes, f, sizeof *f);
    F.cb = (void *)cb, F.ctx = ctx;
}

static void fake_room_create(void *state, const struct chatd_room *room, const char *key, chatd_room_cb cb, void *ctx)
{
    (void)state, (void)key;
    memcpy(F.arg_bytes, room, sizeof *room);
    F.cb = (void *)cb, F.ctx = ctx;
    if (F.at_once)
        cb(ctx, CHATD_OK, room);
}

/* Answers the room_list kept in F (its cb, ctx) from inside this call. */
static void fake_room_get(void *state, const char *room_id, const char *for_user, chatd_room_cb cb, void *ctx)
{
    (void)state, (void)room_id, (void)for_user;
    ((chatd_rooms_cb)F.cb)(F.ctx, CHATD_OK, NULL, 0);
    F.cb = (void *)cb, F.ctx = ctx;
}

static void fake_message_list(void *state, const char *room, uint64_t before, uint64_t after, size_t limit,
                              chatd_messages_cb cb, void *ctx)
{
    (void)state, (void)room, (void)before, (void)after, (void)limit;
    F.cb = (void *)cb, F.ctx = ctx;
}

static void close_op(void *state, const char *room_id, int64_t now_ms, chatd_room_cb cb, void *ctx)
{
    (void)state, (void)room_id, (void)now_ms, (void)cb, (void)ctx;
}

static void fake_canned_list(void *state, const char *desk, size_t limit, chatd_canned_cb cb, void *ctx)
{
    (void)state, (void)limit;
    F.cb = (void *)cb, F.ctx = ctx;
    snprintf((char *)F.arg_bytes, sizeof F.arg_bytes, "%s", desk);
}

static void canned_put_op(void *state, const struct chatd_canned_reply *r, size_t max, chatd_count_cb cb, void *ctx)
{
    (void)state, (void)r, (void)max, (void)cb, (void)ctx;
}

static void canned_delete_op(void *state, const char *desk, const char *sc, chatd_done_cb cb, void *ctx)
{
    (void)state, (void)desk, (void)sc, (void)cb, (void)ctx;
}

static chatd_status fake_post(const struct chatd_host *h, chatd_task_fn fn, void *arg)
{
    (void)h;
    F.task = fn, F.task_arg = arg;
    return CHATD_OK;
}

static struct chatd_storage_ops fake_ops = {
    .size = sizeof fake_ops,
    .room_create = fake_room_create,
    .room_list = fake_room_list,
    .room_get = fake_room_get,
    .message_list = fake_message_list,
    .canned_list = fake_canned_list,
};

static struct plugin *fake_plugin(uint32_t major, uint32_t minor)
{
    static struct chatd_plugin d;
    static struct plugin p;
    memset(&F, 0, sizeof F);
    d = (struct chatd_plugin){.abi_major = major, .abi_minor = minor, .size = sizeof d,
                              .kind = CHATD_PLUGIN_STORAGE, .name = "fake", .ops.storage = &fake_ops};
    memset(&p, 0, sizeof p);
    p.desc = &d;
    p.section = "storage";
    p.host.post = fake_post;
    return &p;
}

/* What the core's callbacks saw. */
static struct {
    int calls;
    chatd_status st;
    size_t n;
    struct chatd_room rooms[4];
    struct chatd_message last[4];
    struct chatd_message msgs[4];
} seen;

static void core_rooms_cb(void *ctx, chatd_status st, const struct chatd_room *rooms, size_t n)
{
    (void)ctx;
    seen.calls++;
    seen.st = st;
    seen.n = n;
    for (size_t i = 0; i < n && i < 4; i++) {
        seen.rooms[i] = rooms[i]; /* a plain C array */
        if (rooms[i].last_message)
            seen.last[i] = *rooms[i].last_message;
    }
}

static void core_room_cb(void *ctx, chatd_status st, const struct chatd_room *room)
{
    (void)ctx;
    seen.calls++;
    seen.st = st;
    seen.n = room != NULL;
}

static void core_messages_cb(void *ctx, chatd_status st, const struct chatd_message *msgs, size_t n)
{
    (void)ctx;
    seen.calls++;
    seen.st = st;
    seen.n = n;
    for (size_t i = 0; i < n && i < 4; i++)
        seen.msgs[i] = msgs[i];
}

static void rooms_of_an_sdk_1_1_plugin(void **state)
{
    (void)state;
    struct plugin *p = fake_plugin(1, 1);
    memset(&seen, 0, sizeof seen);
    void *st;
    struct chatd_room_filter f = {.member = "bob", .limit = 7};
    storage_ops(p, &st)->room_list(st, &f, core_rooms_cb, NULL);
    /* The plugin got the 1.x filter: no size in front. */
    const struct chatd_room_filter *got = (const void *)F.arg_bytes;
    assert_string_equal(*(const char *const *)got, "bob");
    assert_int_equal(seen.calls, 0);

    struct message_1 last = {.room = "r2", .seq = 2, .id = "m2", .body = "안녕 😀", .body_len = 10};
    struct room_1_1 old[3] = {
        {.id = "r1", .state = CHATD_ROOM_OPEN, .last_seq = 1, .read_seq = 1},
        {.id = "r2", .state = CHATD_ROOM_ASSIGNED, .last_seq = 2, .read_seq = 2, .last_message = &last},
        {.id = "r3", .state = CHATD_ROOM_COMPLETED, .last_seq = 3, .read_seq = 3},
    };
    ((chatd_rooms_cb)F.cb)(F.ctx, CHATD_OK, (const void *)old, 3);
    assert_int_equal(seen.calls, 1);
    assert_int_equal(seen.n, 3);
    for (size_t i = 0; i < 3; i++) {
        struct chatd_room r = storage_room(p, seen.rooms, i);
        assert_int_equal(r.size, sizeof r);
        assert_string_equal(r.id, old[i].id);
        assert_int_equal(r.state, old[i].state);
        assert_int_equal(r.last_seq, i + 1);
        assert_int_equal(r.read_seq, i + 1);
        assert_null(r.admins); /* not the next room's first bytes */
        assert_int_equal(r.closed_ms, 0);
    }
    assert_string_equal(seen.last[1].id, "m2");
    assert_int_equal(seen.last[1].body_len, 10);
    assert_true(plugin_sdk1(p));
    assert_true(plugin_has_minor(p, 1));
    assert_false(plugin_has_minor(p, 2));
}

static void rooms_of_a_later_minor(void **state)
{
    (void)state;
    struct plugin *p = fake_plugin(CHATD_ABI_MAJOR, CHATD_ABI_MINOR + 1);
    memset(&seen, 0, sizeof seen);
    void *st;
    struct chatd_room_filter f = {.member = "bob"};
    storage_ops(p, &st)->room_list(st, &f, core_rooms_cb, NULL);
    const struct chatd_room_filter *got = (const void *)F.arg_bytes;
    assert_int_equal(got->size, sizeof *got); /* stamped by the port */
    assert_string_equal(got->member, "bob");

    struct message_later last = {.m = {.size = sizeof last, .room = "b", .seq = 9, .id = "m9"}};
    struct room_later rooms[2] = {
        {.r = {.size = sizeof rooms[0], .id = "a", .state = CHATD_ROOM_CLOSED, .closed_ms = 77}, .added_later = 1},
        {.r = {.size = sizeof rooms[0], .id = "b", .last_seq = 9, .last_message = &last.m}, .added_later = 2},
    };
    ((chatd_rooms_cb)F.cb)(F.ctx, CHATD_OK, &rooms[0].r, 2);
    assert_int_equal(seen.n, 2);
    assert_string_equal(seen.rooms[0].id, "a");
    assert_int_equal(seen.rooms[0].closed_ms, 77);
    assert_int_equal(seen.rooms[0].size, sizeof(struct chatd_room));
    assert_string_equal(seen.rooms[1].id, "b");
    assert_string_equal(seen.last[1].id, "m9");
    assert_false(plugin_sdk1(p));
    assert_true(plugin_has_minor(p, 2));
}

static void messages_of_every_sdk(void **state)
{
    (void)state;
    void *st;
    /* SDK 1: no size, 1.x stride. */
    struct plugin *p = fake_plugin(1, 2);
    memset(&seen, 0, sizeof seen);
    storage_ops(p, &st)->message_list(st, "r", 0, 0, 10, core_messages_cb, NULL);
    struct message_1 old[2] = {{.room = "r", .seq = 1, .id = "m1"}, {.room = "r", .seq = 2, .id = "m2"}};
    ((chatd_messages_cb)F.cb)(F.ctx, CHATD_OK, (const void *)old, 2);
    assert_int_equal(seen.n, 2);
    assert_string_equal(seen.msgs[1].id, "m2");
    assert_int_equal(seen.msgs[1].size, sizeof(struct chatd_message));
    /* A later minor: larger elements, stepped by their size. */
    p = fake_plugin(CHATD_ABI_MAJOR, CHATD_ABI_MINOR + 3);
    memset(&seen, 0, sizeof seen);
    storage_ops(p, &st)->message_list(st, "r", 0, 0, 10, core_messages_cb, NULL);
    struct message_later later[2] = {{.m = {.size = sizeof later[0], .seq = 1, .id = "x1"}},
                                     {.m = {.size = sizeof later[0], .seq = 2, .id = "x2"}}};
    ((chatd_messages_cb)F.cb)(F.ctx, CHATD_OK, &later[0].m, 2);
    assert_int_equal(seen.n, 2);
    assert_string_equal(seen.msgs[1].id, "x2");
    assert_int_equal(seen.msgs[1].seq, 2);
    /* A 2.0 plugin's messages (no content_type): read at their size, the
     * member added by 2.1 NULL. */
    p = fake_plugin(CHATD_ABI_MAJOR, 0);
    memset(&seen, 0, sizeof seen);
    storage_ops(p, &st)->message_list(st, "r", 0, 0, 10, core_messages_cb, NULL);
    /* Two elements packed at 2.0's stride, with more bytes after them: the
     * port reads neither the next element nor those as content_type. */
    size_t s20 = offsetof(struct chatd_message, body_len) + sizeof(size_t);
    char *elems = malloc(2 * s20 + sizeof(struct chatd_message));
    memset(elems, 0xa5, 2 * s20 + sizeof(struct chatd_message));
    for (int i = 0; i < 2; i++) {
        struct chatd_message m = {.size = s20, .room = "r", .seq = (uint64_t)i + 1, .id = i ? "y2" : "y1"};
        memcpy(elems + (size_t)i * s20, &m, s20);
    }
    ((chatd_messages_cb)F.cb)(F.ctx, CHATD_OK, (const void *)elems, 2);
    free(elems);
    assert_int_equal(seen.n, 2);
    assert_string_equal(seen.msgs[1].id, "y2");
    assert_null(seen.msgs[0].content_type);
    assert_null(seen.msgs[1].content_type);
    /* Shorter than 2.0's struct: the answer is refused, not misread. */
    p = fake_plugin(CHATD_ABI_MAJOR, 0);
    memset(&seen, 0, sizeof seen);
    storage_ops(p, &st)->message_list(st, "r", 0, 0, 10, core_messages_cb, NULL);
    struct chatd_message unsized[1] = {{.seq = 1, .id = "u"}};
    ((chatd_messages_cb)F.cb)(F.ctx, CHATD_OK, unsized, 1);
    assert_int_equal(seen.calls, 1);
    assert_int_equal(seen.st, CHATD_ERR_INTERNAL);
    assert_int_equal(seen.n, 0);
}

static void what_the_core_hands_over(void **state)
{
    (void)state;
    void *st;
    const char *members[] = {"alice"};
    struct chatd_room room = {.id = "new", .kind = CHATD_ROOM_GROUP, .owner = "alice", .members = members,
                              .nmembers = 1};
    /* SDK 2: the struct as is, with its size set by the port. */
    struct plugin *p = fake_plugin(CHATD_ABI_MAJOR, 0);
    storage_ops(p, &st)->room_create(st, &room, NULL, core_room_cb, NULL);
    const struct chatd_room *got = (const void *)F.arg_bytes;
    assert_int_equal(got->size, sizeof *got);
    assert_string_equal(got->id, "new");
    assert_string_equal(got->owner, "alice");
    ((chatd_room_cb)F.cb)(F.ctx, CHATD_ERR_UNAVAILABLE, NULL); /* the call ends */
    /* SDK 1.1: the 1.1 layout. */
    p = fake_plugin(1, 1);
    storage_ops(p, &st)->room_create(st, &room, NULL, core_room_cb, NULL);
    const struct room_1_1 *old = (const void *)F.arg_bytes;
    assert_string_equal(old->id, "new");
    assert_int_equal(old->kind, CHATD_ROOM_GROUP);
    assert_string_equal(old->owner, "alice");
    assert_int_equal(old->nmembers, 1);
    ((chatd_room_cb)F.cb)(F.ctx, CHATD_ERR_UNAVAILABLE, NULL);
}

static void an_answer_inside_the_call_is_refused(void **state)
{
    (void)state;
    void *st;
    struct plugin *p = fake_plugin(CHATD_ABI_MAJOR, 0);
    F.at_once = true;
    memset(&seen, 0, sizeof seen);
    struct chatd_room room = {.id = "now"};
    storage_ops(p, &st)->room_create(st, &room, NULL, core_room_cb, NULL);
    /* Not inside the core's own call... */
    assert_int_equal(seen.calls, 0);
    assert_non_null(F.task);
    /* ...but later, from the loop, as a failure. */
    F.task(F.task_arg);
    assert_int_equal(seen.calls, 1);
    assert_int_equal(seen.st, CHATD_ERR_INTERNAL);
    assert_int_equal(seen.n, 0);
}

static void an_answer_inside_another_call_is_refused(void **state)
{
    (void)state;
    void *st;
    struct plugin *p = fake_plugin(CHATD_ABI_MAJOR, 0);
    memset(&seen, 0, sizeof seen);
    struct chatd_room_filter f = {.member = "bob"};
    storage_ops(p, &st)->room_list(st, &f, core_rooms_cb, NULL);
    /* room_get answers that room_list from inside its own call. */
    storage_ops(p, &st)->room_get(st, "r", NULL, core_room_cb, NULL);
    assert_int_equal(seen.calls, 0);
    assert_non_null(F.task);
    F.task(F.task_arg);
    assert_int_equal(seen.calls, 1);
    assert_int_equal(seen.st, CHATD_ERR_INTERNAL);
    /* room_get's own answer, from the loop, goes through. */
    ((chatd_room_cb)F.cb)(F.ctx, CHATD_ERR_NOT_FOUND, NULL);
    assert_int_equal(seen.calls, 2);
    assert_int_equal(seen.st, CHATD_ERR_NOT_FOUND);
    assert_int_equal(p->storage_calls, 0);
}

static void optional_operations(void **state)
{
    (void)state;
    struct chatd_storage_ops ops = {.size = sizeof ops, .room_close = close_op};
    struct chatd_plugin d = {.abi_major = CHATD_ABI_MAJOR, .abi_minor = 0, .kind = CHATD_PLUGIN_STORAGE,
                             .ops.storage = &ops};
    struct plugin p = {.desc = &d};
    assert_non_null(storage_room_close(&p));
    assert_null(storage_room_purge(&p)); /* left out */
    assert_null(storage_user_erase(&p));
    assert_false(storage_has_group_change(&p));
    /* An ops table that ends at read_mark: what lies beyond is not its. */
    ops.size = offsetof(struct chatd_storage_ops, read_mark) + sizeof ops.read_mark;
    assert_null(storage_room_close(&p));
    /* Nor is anything called on an SDK 1 plugin older than 1.2. */
    ops.size = sizeof ops;
    d.abi_major = 1;
    d.abi_minor = 1;
    assert_null(storage_room_close(&p));
    d.abi_minor = 2;
    assert_non_null(storage_room_close(&p));
}

static void desk_op(void *state, const struct chatd_room_transfer *t, chatd_room_cb cb, void *ctx)
{
    (void)state, (void)t, (void)cb, (void)ctx;
}

/* SDK 2.3's desk operations: offered only when the ops table reaches
 * them; the port refuses them (UNSUPPORTED, from the loop) otherwise. */
static void desk_operations(void **state)
{
    (void)state;
    struct chatd_storage_ops ops = {.size = sizeof ops, .room_transfer = desk_op};
    struct chatd_plugin d = {.abi_major = CHATD_ABI_MAJOR, .abi_minor = 3, .kind = CHATD_PLUGIN_STORAGE,
                             .ops.storage = &ops};
    struct plugin p = {.desc = &d};
    assert_true(storage_has_transfer(&p));
    assert_false(storage_has_claim_limited(&p)); /* left out */
    assert_false(storage_has_reopen(&p));
    /* A 2.2 plugin's table ends before them. */
    ops.size = offsetof(struct chatd_storage_ops, message_revisions) + sizeof ops.message_revisions;
    assert_false(storage_has_transfer(&p));

    void *st;
    struct plugin *fake = fake_plugin(CHATD_ABI_MAJOR, 2);
    memset(&seen, 0, sizeof seen);
    struct chatd_room_transfer t = {.size = sizeof t, .room_id = "r1", .from = "a", .to = NULL};
    storage_ops(fake, &st)->room_transfer(st, &t, core_room_cb, NULL);
    assert_int_equal(seen.calls, 0); /* never inside the call */
    assert_non_null(F.task);
    F.task(F.task_arg);
    assert_int_equal(seen.calls, 1);
    assert_int_equal(seen.st, CHATD_ERR_UNSUPPORTED);
}

/* What the core's canned_list callback saw. */
static struct {
    int calls;
    chatd_status st;
    size_t n;
    char shortcut[2][64], body[2][64];
    size_t size;
} canned_seen;

static void core_canned_cb(void *ctx, chatd_status st, const struct chatd_canned_reply *r, size_t n)
{
    (void)ctx;
    canned_seen.calls++;
    canned_seen.st = st;
    canned_seen.n = n;
    for (size_t i = 0; i < n && i < 2; i++) {
        snprintf(canned_seen.shortcut[i], sizeof canned_seen.shortcut[i], "%s", r[i].shortcut);
        snprintf(canned_seen.body[i], sizeof canned_seen.body[i], "%s", r[i].body);
        canned_seen.size = r[i].size;
    }
}

/* A reply as a plugin of a later minor may build it. */
struct canned_later {
    struct chatd_canned_reply c;
    uint64_t added_later[2];
};

/* SDK 2.8's canned replies: offered only when the table has all three;
 * answers read at the plugin's stride; a reply missing a member or shorter
 * than 2.8's is a plugin bug, refused. */
static void canned_operations(void **state)
{
    (void)state;
    struct chatd_storage_ops ops = {.size = sizeof ops, .canned_list = fake_canned_list};
    struct chatd_plugin d = {.abi_major = CHATD_ABI_MAJOR, .abi_minor = 8, .kind = CHATD_PLUGIN_STORAGE,
                             .ops.storage = &ops};
    struct plugin p = {.desc = &d};
    assert_false(storage_has_canned(&p)); /* put and delete left out */
    ops.canned_put = canned_put_op;
    ops.canned_delete = canned_delete_op;
    assert_true(storage_has_canned(&p));
    ops.size = offsetof(struct chatd_storage_ops, message_search) + sizeof ops.message_search;
    assert_false(storage_has_canned(&p)); /* a 2.7 table ends before them */

    void *st;
    struct plugin *fake = fake_plugin(CHATD_ABI_MAJOR, CHATD_ABI_MINOR + 1);
    memset(&canned_seen, 0, sizeof canned_seen);
    storage_ops(fake, &st)->canned_list(st, "default", 10, core_canned_cb, NULL);
    assert_string_equal((const char *)F.arg_bytes, "default");
    struct canned_later later[2] = {
        {.c = {.size = sizeof later[0], .desk = "default", .shortcut = "refund", .title = "R", .body = "b1",
               .updated_by = "admin", .updated_ms = 1}, .added_later = {7, 7}},
        {.c = {.size = sizeof later[0], .desk = "default", .shortcut = "환불", .title = "환", .body = "본문 😀",
               .updated_by = "admin", .updated_ms = 2}, .added_later = {7, 7}},
    };
    ((chatd_canned_cb)F.cb)(F.ctx, CHATD_OK, &later[0].c, 2);
    assert_int_equal(canned_seen.calls, 1);
    assert_int_equal(canned_seen.n, 2);
    assert_string_equal(canned_seen.shortcut[1], "환불");
    assert_string_equal(canned_seen.body[1], "본문 😀");
    assert_int_equal(canned_seen.size, sizeof(struct chatd_canned_reply));

    /* A reply without its body. */
    memset(&canned_seen, 0, sizeof canned_seen);
    storage_ops(fake, &st)->canned_list(st, "default", 10, core_canned_cb, NULL);
    later[1].c.body = NULL;
    ((chatd_canned_cb)F.cb)(F.ctx, CHATD_OK, &later[0].c, 2);
    assert_int_equal(canned_seen.calls, 1);
    assert_int_equal(canned_seen.st, CHATD_ERR_INTERNAL);
    assert_int_equal(canned_seen.n, 0);
    /* A reply shorter than SDK 2.8's. */
    memset(&canned_seen, 0, sizeof canned_seen);
    storage_ops(fake, &st)->canned_list(st, "default", 10, core_canned_cb, NULL);
    later[0].c.size = offsetof(struct chatd_canned_reply, updated_by);
    ((chatd_canned_cb)F.cb)(F.ctx, CHATD_OK, &later[0].c, 1);
    assert_int_equal(canned_seen.st, CHATD_ERR_INTERNAL);

    /* A 2.7 plugin: refused from the loop, never inside the call. */
    fake = fake_plugin(CHATD_ABI_MAJOR, 7);
    memset(&canned_seen, 0, sizeof canned_seen);
    struct chatd_storage_ops narrow = fake_ops;
    narrow.size = offsetof(struct chatd_storage_ops, message_search) + sizeof narrow.message_search;
    ((struct chatd_plugin *)fake->desc)->ops.storage = &narrow;
    storage_ops(fake, &st)->canned_list(st, "default", 10, core_canned_cb, NULL);
    assert_int_equal(canned_seen.calls, 0);
    assert_non_null(F.task);
    F.task(F.task_arg);
    assert_int_equal(canned_seen.calls, 1);
    assert_int_equal(canned_seen.st, CHATD_ERR_UNSUPPORTED);
    ((struct chatd_plugin *)fake->desc)->ops.storage = &fake_ops;
}

static void retention_period(void **state)
{
    (void)state;
    assert_int_equal(retention_period_ms(1000), 100);
    assert_int_equal(retention_period_ms(20000), 2000);
    assert_int_equal(retention_period_ms(30LL * 86400000), 3600000);
    assert_int_equal(retention_period_ms(1), 100);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rooms_of_an_sdk_1_1_plugin),
        cmocka_unit_test(rooms_of_a_later_minor),
        cmocka_unit_test(messages_of_every_sdk),
        cmocka_unit_test(what_the_core_hands_over),
        cmocka_unit_test(an_answer_inside_the_call_is_refused),
        cmocka_unit_test(desk_operations),
        cmocka_unit_test(canned_operations),
        cmocka_unit_test(an_answer_inside_another_call_is_refused),
        cmocka_unit_test(optional_operations),
        cmocka_unit_test(retention_period),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
