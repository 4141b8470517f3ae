/* A session's room messages in send order: appends and publications wait
 * for every earlier SEND of the session, whatever order the room look-ups
 * and stores finish in; a SEND that fails never holds the others up. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "stomp/send_order.h"

/* What ran, in order: 'a' or 'p' and the SEND's number. */
static char log_buf[256];
static size_t log_len;

struct fake_send {
    int n;
    struct send_ticket *t;
    /* What the step does besides logging: leave the line in its place, or
     * add a SEND to the same line. */
    bool fail_on_append;
    struct send_order *enter_on_publish;
    struct send_ticket **entered;
};

static void note(char what, int n)
{
    log_buf[log_len++] = what;
    log_buf[log_len++] = (char)('0' + n);
    log_buf[log_len] = '\0';
}

static void appended(void *arg)
{
    struct fake_send *f = arg;
    note('a', f->n);
    if (f->fail_on_append)
        send_order_leave(f->t);
}

static void published(void *arg)
{
    struct fake_send *f = arg;
    note('p', f->n);
    if (f->enter_on_publish)
        *f->entered = send_order_enter(f->enter_on_publish, 7);
}

static void reset_log(void)
{
    log_len = 0;
    log_buf[0] = '\0';
}

static void appends_wait_for_earlier_lookups(void **state)
{
    (void)state;
    reset_log();
    struct send_order *o = send_order_new();
    struct fake_send f[4];
    for (int i = 1; i <= 3; i++) {
        f[i] = (struct fake_send){.n = i};
        f[i].t = send_order_enter(o, 7);
        assert_non_null(f[i].t);
    }
    send_order_append(f[3].t, appended, &f[3]);
    send_order_append(f[2].t, appended, &f[2]);
    assert_string_equal(log_buf, "");
    send_order_append(f[1].t, appended, &f[1]);
    assert_string_equal(log_buf, "a1a2a3");
    /* Stored in another order: published in line order all the same. */
    send_order_publish(f[2].t, published, &f[2]);
    send_order_publish(f[3].t, published, &f[3]);
    assert_string_equal(log_buf, "a1a2a3");
    send_order_publish(f[1].t, published, &f[1]);
    assert_string_equal(log_buf, "a1a2a3p1p2p3");
    assert_int_equal(send_order_lines(o), 0);
    send_order_free(o);
}

static void a_failure_releases_the_line(void **state)
{
    (void)state;
    reset_log();
    struct send_order *o = send_order_new();
    struct fake_send f[5];
    for (int i = 1; i <= 4; i++) {
        f[i] = (struct fake_send){.n = i};
        f[i].t = send_order_enter(o, 7);
    }
    /* 1's look-up fails after 2 is ready; 3 fails in its append step; 4 is
     * stored before 2 and waits for it. */
    f[3].fail_on_append = true;
    send_order_append(f[2].t, appended, &f[2]);
    send_order_append(f[3].t, appended, &f[3]);
    send_order_append(f[4].t, appended, &f[4]);
    assert_string_equal(log_buf, "");
    send_order_leave(f[1].t);
    assert_string_equal(log_buf, "a2a3a4");
    send_order_publish(f[4].t, published, &f[4]);
    assert_string_equal(log_buf, "a2a3a4");
    send_order_publish(f[2].t, published, &f[2]);
    assert_string_equal(log_buf, "a2a3a4p2p4");
    assert_int_equal(send_order_lines(o), 0);
    send_order_free(o);
}

static void sessions_do_not_wait_for_each_other(void **state)
{
    (void)state;
    reset_log();
    struct send_order *o = send_order_new();
    struct fake_send a = {.n = 1}, b = {.n = 2};
    a.t = send_order_enter(o, 7);
    b.t = send_order_enter(o, 8);
    assert_int_equal(send_order_lines(o), 2);
    send_order_append(b.t, appended, &b);
    send_order_publish(b.t, published, &b);
    assert_string_equal(log_buf, "a2p2");
    assert_int_equal(send_order_lines(o), 1);
    send_order_leave(a.t);
    assert_int_equal(send_order_lines(o), 0);
    send_order_free(o);
}

static void a_step_may_add_to_its_own_line(void **state)
{
    (void)state;
    reset_log();
    struct send_order *o = send_order_new();
    struct send_ticket *later = NULL;
    struct fake_send f = {.n = 1, .enter_on_publish = o, .entered = &later};
    f.t = send_order_enter(o, 7);
    send_order_append(f.t, appended, &f);
    send_order_publish(f.t, published, &f);
    assert_string_equal(log_buf, "a1p1");
    assert_non_null(later);
    assert_int_equal(send_order_lines(o), 1); /* the line outlived its front */
    struct fake_send g = {.n = 2, .t = later};
    send_order_append(g.t, appended, &g);
    assert_string_equal(log_buf, "a1p1a2");
    /* Freed with a ticket still waiting: nothing leaks. */
    send_order_free(o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(appends_wait_for_earlier_lookups),
        cmocka_unit_test(a_failure_releases_the_line),
        cmocka_unit_test(sessions_do_not_wait_for_each_other),
        cmocka_unit_test(a_step_may_add_to_its_own_line),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
