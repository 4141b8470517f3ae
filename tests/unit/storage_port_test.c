/* The storage port across SDK minors: optional operations found only in
 * plugins that have them, and arrays of rooms from an older plugin read at
 * that plugin's stride. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include <chatd/plugin.h>

#include "plugins/loader.h"
#include "rooms/retention.h"
#include "plugins/storage_port.h"

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
    const struct chatd_message *last_message;
};

static void close_op(void *state, const char *room_id, int64_t now_ms, chatd_room_cb cb, void *ctx)
{
    (void)state, (void)room_id, (void)now_ms, (void)cb, (void)ctx;
}

static void rooms_of_an_older_plugin(void **state)
{
    (void)state;
    struct chatd_plugin d = {.abi_major = CHATD_ABI_MAJOR, .abi_minor = 1, .kind = CHATD_PLUGIN_STORAGE};
    struct plugin p = {.desc = &d};
    struct room_1_1 old[3] = {
        {.id = "r1", .state = CHATD_ROOM_OPEN, .last_seq = 1, .read_seq = 1},
        {.id = "r2", .state = CHATD_ROOM_ASSIGNED, .last_seq = 2, .read_seq = 2},
        {.id = "r3", .state = CHATD_ROOM_COMPLETED, .last_seq = 3, .read_seq = 3},
    };
    for (size_t i = 0; i < 3; i++) {
        struct chatd_room r = storage_room(&p, (const struct chatd_room *)(const void *)old, i);
        assert_string_equal(r.id, old[i].id);
        assert_int_equal(r.state, old[i].state);
        assert_int_equal(r.last_seq, i + 1);
        assert_int_equal(r.read_seq, i + 1);
        assert_null(r.last_message);
        assert_null(r.admins); /* not the next room's first bytes */
        assert_int_equal(r.closed_ms, 0);
    }
    assert_true(plugin_has_minor(&p, 1));
    assert_false(plugin_has_minor(&p, 2));
}

static void rooms_of_a_current_plugin(void **state)
{
    (void)state;
    struct chatd_plugin d = {.abi_major = CHATD_ABI_MAJOR, .abi_minor = 2, .kind = CHATD_PLUGIN_STORAGE};
    struct plugin p = {.desc = &d};
    struct chatd_room rooms[2] = {{.id = "a", .state = CHATD_ROOM_CLOSED, .closed_ms = 77}, {.id = "b"}};
    struct chatd_room r = storage_room(&p, rooms, 1);
    assert_string_equal(r.id, "b");
    r = storage_room(&p, rooms, 0);
    assert_int_equal(r.closed_ms, 77);
}

static void optional_operations(void **state)
{
    (void)state;
    struct chatd_storage_ops ops = {.size = sizeof ops, .room_close = close_op};
    struct chatd_plugin d = {.abi_major = CHATD_ABI_MAJOR, .abi_minor = 2, .kind = CHATD_PLUGIN_STORAGE,
                             .ops.storage = &ops};
    struct plugin p = {.desc = &d};
    assert_ptr_equal(storage_room_close(&p), close_op);
    assert_null(storage_room_purge(&p)); /* left out */
    assert_null(storage_user_erase(&p));
    /* An ops table built for 1.1 ends at read_mark: what lies beyond is not its. */
    ops.size = offsetof(struct chatd_storage_ops, read_mark) + sizeof ops.read_mark;
    assert_null(storage_room_close(&p));
    /* Nor is anything called on a plugin that says it is older. */
    ops.size = sizeof ops;
    d.abi_minor = 1;
    assert_null(storage_room_close(&p));
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
        cmocka_unit_test(rooms_of_an_older_plugin),
        cmocka_unit_test(rooms_of_a_current_plugin),
        cmocka_unit_test(optional_operations),
        cmocka_unit_test(retention_period),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
