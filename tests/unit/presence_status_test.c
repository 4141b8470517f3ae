/* The presence book (core/rooms/presence_status.c) without sockets or
 * clocks: what is told, by whom and when, for changes and graces given
 * with their times. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "rooms/presence_status.h"

#define MINJI "민지"
#define CAT "고양이😺"
#define GRACE 5000

/* What the cluster says now, per user, and what expiry told. */
static enum user_status live_minji, live_cat;
static char told[8][64];
static size_t ntold;

static enum user_status live(void *ctx, const char *user)
{
    (void)ctx;
    return strcmp(user, MINJI) == 0 ? live_minji : live_cat;
}

static void tell(void *ctx, const char *user, int64_t last_seen)
{
    (void)ctx;
    if (ntold < 8)
        snprintf(told[ntold++], sizeof told[0], "%s %lld", user, (long long)last_seen);
}

static void reset(void)
{
    live_minji = live_cat = USER_OFFLINE;
    ntold = 0;
}

static void names(void **state)
{
    (void)state;
    assert_string_equal(user_status_name(USER_ONLINE), "online");
    assert_string_equal(user_status_name(USER_AWAY), "away");
    assert_string_equal(user_status_name(USER_OFFLINE), "offline");
}

static void online_away_offline_told_by_who_caused_them(void **state)
{
    (void)state;
    reset();
    struct status_book *b = status_book_new();
    enum user_status t = USER_OFFLINE;
    /* Never seen, offline: nothing. */
    assert_false(status_book_change(b, MINJI, USER_OFFLINE, true, 0, GRACE, &t));
    /* Her first session, here: told here. */
    assert_true(status_book_change(b, MINJI, USER_ONLINE, true, 10, GRACE, &t));
    assert_int_equal(t, USER_ONLINE);
    assert_int_equal(status_book_told(b, MINJI), USER_ONLINE);
    /* A second session changes nothing. */
    assert_false(status_book_change(b, MINJI, USER_ONLINE, true, 20, GRACE, &t));
    /* Away, chosen on another instance: kept, not told here. */
    assert_false(status_book_change(b, MINJI, USER_AWAY, false, 30, GRACE, &t));
    assert_int_equal(status_book_told(b, MINJI), USER_AWAY);
    /* Back, chosen here. */
    assert_true(status_book_change(b, MINJI, USER_ONLINE, true, 40, GRACE, &t));
    assert_int_equal(t, USER_ONLINE);
    /* Her last session ends here: nothing yet, the grace runs. */
    status_book_seen(b, MINJI, 1700000000000);
    assert_false(status_book_change(b, MINJI, USER_OFFLINE, true, 100, GRACE, &t));
    assert_int_equal(status_book_told(b, MINJI), USER_ONLINE);
    assert_true(status_book_in_grace(b, MINJI));
    assert_int_equal(status_book_next_deadline(b), 100 + GRACE);
    /* Not before its end... */
    status_book_expire(b, 100 + GRACE - 1, live, tell, NULL);
    assert_int_equal(ntold, 0);
    /* ...then offline, with when she was last seen. */
    status_book_expire(b, 100 + GRACE, live, tell, NULL);
    assert_int_equal(ntold, 1);
    assert_string_equal(told[0], MINJI " 1700000000000");
    assert_int_equal(status_book_told(b, MINJI), USER_OFFLINE);
    assert_false(status_book_in_grace(b, MINJI));
    assert_int_equal(status_book_next_deadline(b), -1);
    assert_int_equal(status_book_last_seen(b, MINJI), 1700000000000);
    status_book_free(b);
}

static void reconnect_within_grace_tells_nobody(void **state)
{
    (void)state;
    reset();
    struct status_book *b = status_book_new();
    enum user_status t;
    assert_true(status_book_change(b, CAT, USER_ONLINE, true, 0, GRACE, &t));
    /* Gone here, back on another instance within the grace. */
    assert_false(status_book_change(b, CAT, USER_OFFLINE, true, 1000, GRACE, &t));
    live_cat = USER_ONLINE;
    assert_false(status_book_change(b, CAT, USER_ONLINE, false, 1200, GRACE, &t));
    assert_false(status_book_in_grace(b, CAT));
    status_book_expire(b, 1000 + GRACE, live, tell, NULL);
    assert_int_equal(ntold, 0);
    assert_int_equal(status_book_told(b, CAT), USER_ONLINE);
    /* Later the other instance loses it: this one does not tell, though it
     * once started a grace for the cat. */
    live_cat = USER_OFFLINE;
    assert_false(status_book_change(b, CAT, USER_OFFLINE, false, 9000, GRACE, &t));
    status_book_expire(b, 9000 + GRACE, live, tell, NULL);
    assert_int_equal(ntold, 0);
    assert_int_equal(status_book_told(b, CAT), USER_OFFLINE);
    status_book_free(b);
}

static void grace_ending_while_online_elsewhere(void **state)
{
    (void)state;
    reset();
    struct status_book *b = status_book_new();
    enum user_status t;
    assert_true(status_book_change(b, MINJI, USER_ONLINE, true, 0, GRACE, &t));
    assert_false(status_book_change(b, MINJI, USER_OFFLINE, true, 10, GRACE, &t));
    /* The change that brought her back was missed; live says it. */
    live_minji = USER_ONLINE;
    status_book_expire(b, 10 + GRACE, live, tell, NULL);
    assert_int_equal(ntold, 0);
    assert_int_equal(status_book_told(b, MINJI), USER_ONLINE);
    status_book_free(b);
}

static void no_grace_tells_at_once(void **state)
{
    (void)state;
    reset();
    struct status_book *b = status_book_new();
    enum user_status t;
    assert_true(status_book_change(b, MINJI, USER_AWAY, true, 0, 0, &t));
    assert_int_equal(t, USER_AWAY);
    assert_true(status_book_change(b, MINJI, USER_OFFLINE, true, 1, 0, &t));
    assert_int_equal(t, USER_OFFLINE);
    assert_false(status_book_in_grace(b, MINJI));
    /* Told offline once. */
    assert_false(status_book_change(b, MINJI, USER_OFFLINE, true, 2, 0, &t));
    status_book_free(b);
}

static void last_seen_keeps_the_latest(void **state)
{
    (void)state;
    struct status_book *b = status_book_new();
    assert_int_equal(status_book_last_seen(b, CAT), 0);
    status_book_seen(b, CAT, 2000);
    status_book_seen(b, CAT, 1000); /* an older end, heard late */
    assert_int_equal(status_book_last_seen(b, CAT), 2000);
    status_book_seen(b, CAT, 3000);
    assert_int_equal(status_book_last_seen(b, CAT), 3000);
    status_book_free(b);
}

static void oldest_offline_forgotten_past_the_limit(void **state)
{
    (void)state;
    struct status_book *b = status_book_new();
    status_book_set_limit(b, 10);
    enum user_status t;
    /* Online the whole time: never forgotten, however old. */
    assert_true(status_book_change(b, MINJI, USER_ONLINE, true, 0, 0, &t));
    char user[32];
    for (int i = 1; i <= 10; i++) {
        snprintf(user, sizeof user, "손님-%02d-🙂", i);
        status_book_seen(b, user, 1000 + i);
    }
    /* 11 kept: a tenth past 10, so nothing forgotten yet. */
    assert_int_equal(status_book_count(b), 11);
    status_book_seen(b, CAT, 5000);
    /* 12: the oldest offline users go, down to 10; the newest is kept
     * though it had no last_seen yet when it came. */
    assert_int_equal(status_book_count(b), 10);
    assert_int_equal(status_book_told(b, MINJI), USER_ONLINE);
    assert_int_equal(status_book_last_seen(b, CAT), 5000);
    assert_int_equal(status_book_last_seen(b, "손님-01-🙂"), 0);
    assert_int_equal(status_book_last_seen(b, "손님-02-🙂"), 0);
    assert_int_equal(status_book_last_seen(b, "손님-03-🙂"), 1003);
    assert_int_equal(status_book_last_seen(b, "손님-10-🙂"), 1010);
    /* 0: no limit. */
    status_book_set_limit(b, 0);
    for (int i = 0; i < 50; i++) {
        snprintf(user, sizeof user, "u%d", i);
        status_book_seen(b, user, 9000 + i);
    }
    assert_int_equal(status_book_count(b), 60);
    status_book_free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(names),
        cmocka_unit_test(online_away_offline_told_by_who_caused_them),
        cmocka_unit_test(reconnect_within_grace_tells_nobody),
        cmocka_unit_test(grace_ending_while_online_elsewhere),
        cmocka_unit_test(no_grace_tells_at_once),
        cmocka_unit_test(last_seen_keeps_the_latest),
        cmocka_unit_test(oldest_offline_forgotten_past_the_limit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
