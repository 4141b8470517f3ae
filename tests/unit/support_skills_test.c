/* [support] skills and support room topics (core/support_skills.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "support_skills.h"

static void topics(void **state)
{
    (void)state;
    const char *why = NULL;
    assert_true(support_topic_valid("billing", 7, &why));
    assert_true(support_topic_valid("tech-2_x", 8, &why));
    assert_true(support_topic_valid("abcdefghijklmnopqrstuvwxyz-01_23", 32, &why));
    const char *bad[] = {"", "Billing", "bill ing", "빌링", "billing😀", "a/b", "abcdefghijklmnopqrstuvwxyz-01_234"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        why = NULL;
        assert_false(support_topic_valid(bad[i], strlen(bad[i]), &why));
        assert_non_null(why);
    }
    why = NULL;
    assert_false(support_topic_valid("bil\0ling", 8, &why)); /* a NUL inside */
    assert_non_null(why);
}

static void parses(void **state)
{
    (void)state;
    struct support_skills s;
    char why[300] = "";
    assert_int_equal(support_skills_parse(" alice : billing , tech ;bob:tech; ;상담원😀:vip;", &s, why, sizeof why), 0);
    assert_int_equal(s.n, 3);
    size_t n;
    const char *const *t = support_skills_of(&s, "alice", &n);
    assert_int_equal(n, 2);
    assert_string_equal(t[0], "billing");
    assert_string_equal(t[1], "tech");
    t = support_skills_of(&s, "상담원😀", &n);
    assert_int_equal(n, 1);
    assert_string_equal(t[0], "vip");
    assert_null(support_skills_of(&s, "carol", &n));
    assert_int_equal(n, 0);
    support_skills_free(&s);
    assert_int_equal(support_skills_parse(NULL, &s, why, sizeof why), 0);
    assert_int_equal(s.n, 0);
    assert_int_equal(support_skills_parse("  ", &s, why, sizeof why), 0);
    assert_int_equal(s.n, 0);
}

static void refuses(void **state)
{
    (void)state;
    struct { const char *text, *says; } bad[] = {
        {"alice", "expected AGENT:TOPIC"},
        {":billing", "name is missing"},
        {"alice:", "a topic is missing"},
        {"alice:billing,", "a topic is missing"},
        {"alice:Billing", "lowercase"},
        {"alice:billing; alice:tech", "named twice"},
        {"alice:billing,billing", "'billing' is named twice"},
        {"al ice:billing", "white space"},
        {"alice:bill:ing", "lowercase"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        struct support_skills s;
        char why[300] = "";
        assert_int_equal(support_skills_parse(bad[i].text, &s, why, sizeof why), -1);
        if (!strstr(why, bad[i].says))
            fail_msg("'%s': '%s' does not say '%s'", bad[i].text, why, bad[i].says);
        assert_int_equal(s.n, 0);
        assert_null(s.v);
    }
}

static void matches(void **state)
{
    (void)state;
    struct support_skills s;
    char why[300];
    assert_int_equal(support_skills_parse("alice:billing,tech; bob:tech", &s, why, sizeof why), 0);
    /* a topic some agent has: only those agents */
    assert_true(support_skills_match(&s, "alice", "billing"));
    assert_false(support_skills_match(&s, "bob", "billing"));
    assert_false(support_skills_match(&s, "carol", "billing"));
    assert_true(support_skills_match(&s, "bob", "tech"));
    /* no topic, or one nobody has: anyone */
    assert_true(support_skills_match(&s, "carol", NULL));
    assert_true(support_skills_match(&s, "carol", ""));
    assert_true(support_skills_match(&s, "bob", "legal"));
    assert_true(support_skills_has(&s, "alice", "tech"));
    assert_false(support_skills_has(&s, "bob", "billing"));
    assert_false(support_skills_has(&s, "bob", NULL));
    assert_true(support_skills_known(&s, "tech"));
    assert_false(support_skills_known(&s, "legal"));
    /* no skills at all */
    assert_true(support_skills_match(NULL, "bob", "billing"));
    support_skills_free(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(topics),
        cmocka_unit_test(parses),
        cmocka_unit_test(refuses),
        cmocka_unit_test(matches),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
