/* The rooms' plain rules: who sees a room, which rooms take messages,
 * room ids, erased messages. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include <chatd/plugin.h>

#include "rooms/room_rules.h"

static const char *const pair[] = {"김민지", "agent1"};

static struct chatd_room support(chatd_room_state state)
{
    return (struct chatd_room){.id = "r1", .kind = CHATD_ROOM_SUPPORT, .state = state, .owner = "김민지",
                               .members = pair, .nmembers = state == CHATD_ROOM_OPEN ? 1 : 2};
}

static void who_sees_a_room(void **state)
{
    (void)state;
    struct chatd_room open = support(CHATD_ROOM_OPEN), assigned = support(CHATD_ROOM_ASSIGNED);
    assert_true(room_can_see(&open, "김민지", CHATD_ROLE_USER));
    assert_true(room_can_see(&open, "agent2", CHATD_ROLE_AGENT)); /* the queue */
    assert_false(room_can_see(&open, "bob", CHATD_ROLE_USER));
    assert_true(room_can_see(&assigned, "agent1", CHATD_ROLE_AGENT));
    assert_false(room_can_see(&assigned, "agent2", CHATD_ROLE_AGENT)); /* claimed by another */
    struct chatd_room group = {.id = "g", .kind = CHATD_ROOM_GROUP, .state = CHATD_ROOM_OPEN, .members = pair,
                               .nmembers = 2};
    assert_false(room_can_see(&group, "agent2", CHATD_ROLE_AGENT)); /* agents see only the support queue */
    /* A supervisor sees and watches every support room, no other room. */
    struct chatd_room closed = support(CHATD_ROOM_CLOSED);
    assert_true(room_can_see(&assigned, "sup", CHATD_ROLE_SUPERVISOR));
    assert_true(room_can_see(&closed, "sup", CHATD_ROLE_SUPERVISOR));
    assert_false(room_can_see(&group, "sup", CHATD_ROLE_SUPERVISOR));
    assert_true(room_can_watch(&assigned, "sup", CHATD_ROLE_SUPERVISOR));
    assert_false(room_can_watch(&group, "sup", CHATD_ROLE_SUPERVISOR));
    assert_false(room_can_watch(&open, "agent2", CHATD_ROLE_AGENT)); /* the queue is listed, not watched */
    assert_true(room_can_watch(&assigned, "agent1", CHATD_ROLE_AGENT));
    assert_true(room_is_member(&group, "김민지"));
    assert_false(room_is_member(&group, "김민"));
}

static void which_rooms_take_messages(void **state)
{
    (void)state;
    struct chatd_room r = support(CHATD_ROOM_OPEN);
    assert_false(room_read_only(&r));
    r = support(CHATD_ROOM_ASSIGNED);
    assert_false(room_read_only(&r));
    r = support(CHATD_ROOM_COMPLETED);
    assert_true(room_read_only(&r));
    r = support(CHATD_ROOM_CLOSED);
    r.closed_ms = 1700000000000;
    assert_true(room_read_only(&r));
    assert_int_equal(room_closed_ms(&r), 1700000000000);
    r.state = CHATD_ROOM_ASSIGNED; /* closed_ms means nothing in other states */
    assert_int_equal(room_closed_ms(&r), 0);
}

static void room_ids(void **state)
{
    (void)state;
    char a[40], b[40];
    room_new_id(a);
    room_new_id(b);
    assert_int_equal(strlen(a), 25);
    assert_true(room_valid_id(a, strlen(a)));
    assert_string_not_equal(a, b);
    assert_true(room_valid_id("r-1_x", 5));
    assert_false(room_valid_id("", 0));
    assert_false(room_valid_id("R1", 2));           /* lower case only */
    assert_false(room_valid_id("r/1", 3));          /* never a path */
    assert_false(room_valid_id("방", strlen("방"))); /* ASCII only */
    char longest[ROOM_ID_MAX + 1];
    memset(longest, 'a', sizeof longest);
    assert_true(room_valid_id(longest, ROOM_ID_MAX - 1));
    assert_false(room_valid_id(longest, ROOM_ID_MAX));
}

static void erased_messages(void **state)
{
    (void)state;
    struct chatd_message m = {.sender = "김민지"};
    assert_false(message_erased(&m));
    m.sender = "";
    assert_true(message_erased(&m));
    m.sender = NULL;
    assert_true(message_erased(&m));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(who_sees_a_room),
        cmocka_unit_test(which_rooms_take_messages),
        cmocka_unit_test(room_ids),
        cmocka_unit_test(erased_messages),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
