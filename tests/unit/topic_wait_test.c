/* [support] topic_wait: when a room with a topic may go to any agent, the
 * routing instance's record of when each room entered the queue, and the
 * pick that prefers the skilled. Times are given, nothing sleeps. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "rooms/routing.h"
#include "rooms/topic_wait.h"

#define T0 1780000000000LL /* some Unix ms */

static void over(void **state)
{
    (void)state;
    /* 0: for ever, however long it waited */
    assert_false(topic_wait_over(0, T0, T0));
    assert_false(topic_wait_over(0, T0, T0 + 3650LL * 86400000));
    /* 2m: not a millisecond before, from the moment it ends */
    assert_false(topic_wait_over(120000, T0, T0));
    assert_false(topic_wait_over(120000, T0, T0 + 119999));
    assert_true(topic_wait_over(120000, T0, T0 + 120000));
    assert_true(topic_wait_over(120000, T0, T0 + 86400000));
    /* a clock that went back since: not over */
    assert_false(topic_wait_over(1000, T0, T0 - 5000));
    /* a reload that shortens the wait applies to a room waiting already */
    assert_false(topic_wait_over(600000, T0, T0 + 90000));
    assert_true(topic_wait_over(60000, T0, T0 + 90000));
}

static void listed(void **state)
{
    (void)state;
    struct topic_wait *tw = topic_wait_new();
    assert_non_null(tw);
    int64_t since[3];
    /* First pass: each room waits from now. */
    const char *q1[] = {"r-빌링", "r-tech😀"};
    assert_int_equal(topic_wait_listed(tw, q1, 2, T0, since), 0);
    assert_int_equal(since[0], T0);
    assert_int_equal(since[1], T0);
    int64_t at = 0;
    assert_true(topic_wait_since(tw, "r-빌링", &at));
    assert_int_equal(at, T0);
    assert_false(topic_wait_since(tw, "r-new", &at));
    /* Later passes keep them; a room new to the queue waits from then. */
    const char *q2[] = {"r-빌링", "r-tech😀", "r-new"};
    assert_int_equal(topic_wait_listed(tw, q2, 3, T0 + 1000, since), 0);
    assert_int_equal(since[0], T0);
    assert_int_equal(since[1], T0);
    assert_int_equal(since[2], T0 + 1000);
    assert_int_equal(topic_wait_count(tw), 3);
    /* r-tech😀 taken: forgotten; sent back later, it waits afresh. */
    const char *q3[] = {"r-빌링", "r-new"};
    assert_int_equal(topic_wait_listed(tw, q3, 2, T0 + 2000, since), 0);
    assert_int_equal(topic_wait_count(tw), 2);
    assert_int_equal(topic_wait_listed(tw, q2, 3, T0 + 3000, since), 0);
    assert_int_equal(since[0], T0);
    assert_int_equal(since[1], T0 + 3000);
    /* Taken and sent back between two passes: the transfer restarts it. */
    topic_wait_restart(tw, "r-빌링");
    topic_wait_restart(tw, "never-listed");
    assert_false(topic_wait_since(tw, "r-빌링", &at));
    assert_true(topic_wait_since(tw, "r-new", &at));
    assert_int_equal(at, T0 + 1000);
    assert_int_equal(topic_wait_listed(tw, q2, 3, T0 + 4000, since), 0);
    assert_int_equal(since[0], T0 + 4000);
    assert_int_equal(since[1], T0 + 3000);
    assert_int_equal(since[2], T0 + 1000);
    /* An empty queue (or another instance routing now): nothing kept. */
    assert_int_equal(topic_wait_listed(tw, NULL, 0, 0, NULL), 0);
    assert_int_equal(topic_wait_count(tw), 0);
    assert_false(topic_wait_since(tw, "r-new", &at));
    assert_false(topic_wait_since(NULL, "r-new", &at));
    topic_wait_free(tw);
    topic_wait_free(NULL);
    topic_wait_restart(NULL, "r");
}

/* The pass's decision for one billing room: alice has billing, bob and
 * carol only tech. */
static void picks(void **state)
{
    (void)state;
    struct agent_view a[] = {{"alice", AGENT_OFFLINE, 0}, {"bob", AGENT_ONLINE, 1}, {"carol", AGENT_AWAY, 0}};
    const bool billing[] = {true, false, false};
    int64_t since = T0;
    long long wait = 1000;
    /* Before the wait ends it waits for alice. */
    bool open = topic_wait_over(wait, since, T0 + 999);
    assert_int_equal(routing_pick_room(SUPPORT_ASSIGN_ROUND_ROBIN, a, 3, 0, NULL, billing, open), -1);
    /* After it, bob (the only one available) takes it. */
    open = topic_wait_over(wait, since, T0 + 1000);
    assert_int_equal(routing_pick_room(SUPPORT_ASSIGN_ROUND_ROBIN, a, 3, 0, NULL, billing, open), 1);
    assert_int_equal(routing_pick_room(SUPPORT_ASSIGN_LEAST_BUSY, a, 3, 0, NULL, billing, open), 1);
    /* ... unless he is full too: it waits for whoever frees up. */
    assert_int_equal(routing_pick_room(SUPPORT_ASSIGN_LEAST_BUSY, a, 3, 1, NULL, billing, open), -1);
    /* alice back in the same pass: she gets it first, though bob is next
     * in turn and has as few chats as she has. */
    a[0].status = AGENT_ONLINE, a[0].open = 1;
    assert_int_equal(routing_pick_room(SUPPORT_ASSIGN_ROUND_ROBIN, a, 3, 0, "alice", billing, open), 0);
    assert_int_equal(routing_pick_room(SUPPORT_ASSIGN_LEAST_BUSY, a, 3, 0, "alice", billing, open), 0);
    /* With the wait at 0 (for ever) and alice gone, nobody. */
    a[0].status = AGENT_OFFLINE;
    open = topic_wait_over(0, since, T0 + 86400000);
    assert_int_equal(routing_pick_room(SUPPORT_ASSIGN_ROUND_ROBIN, a, 3, 0, NULL, billing, open), -1);
    /* A room anyone may take (no eligible list): as routing_pick. */
    assert_int_equal(routing_pick_room(SUPPORT_ASSIGN_ROUND_ROBIN, a, 3, 0, NULL, NULL, false), 1);
    /* Manual never picks. */
    assert_int_equal(routing_pick_room(SUPPORT_ASSIGN_MANUAL, a, 3, 0, NULL, billing, true), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(over),
        cmocka_unit_test(listed),
        cmocka_unit_test(picks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
