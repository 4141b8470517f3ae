/* Access rules: pattern matching and role/action checks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>

#include <chatd/plugin.h>

#include "stomp/acl.h"
#include "config.h"

static void patterns(void **state)
{
    (void)state;
    assert_true(acl_match("/topic/chat.*", "/topic/chat.lobby"));
    assert_false(acl_match("/topic/chat.*", "/topic/chat.lobby.x"));
    assert_false(acl_match("/topic/chat.*", "/topic/chat/x"));
    assert_true(acl_match("/topic/chat.*", "/topic/chat."));
    assert_true(acl_match("/queue/**", "/queue/a/b.c"));
    assert_true(acl_match("/user/*/queue/**", "/user/alice/queue/inbox"));
    assert_false(acl_match("/user/*/queue/**", "/user/a/b/queue/inbox"));
    assert_true(acl_match("/topic/**.end", "/topic/a.b.end"));
    assert_false(acl_match("/topic/x", "/topic/xy"));
    assert_true(acl_match("/topic/v*.*", "/topic/v1.2"));
}

static void rules_from_config(void **state)
{
    (void)state;
    struct config *c;
    char err[256];
    assert_int_equal(config_load_string(&c, "t.ini",
                                        "[stomp]\nallow.a = send,subscribe /topic/chat.* user,agent\n"
                                        "allow.b = subscribe /queue/jobs.** agent\nother = 1\n",
                                        err, sizeof err), 0);
    struct acl acl;
    assert_int_equal(acl_load(&acl, c, config_find(c, "stomp"), err, sizeof err), 0);
    assert_true(acl_allows(&acl, ACL_SEND, "/topic/chat.x", CHATD_ROLE_USER));
    assert_false(acl_allows(&acl, ACL_SUBSCRIBE, "/queue/jobs.x", CHATD_ROLE_USER));
    assert_true(acl_allows(&acl, ACL_SUBSCRIBE, "/queue/jobs.x", CHATD_ROLE_AGENT));
    assert_false(acl_allows(&acl, ACL_SEND, "/queue/jobs.x", CHATD_ROLE_AGENT));
    assert_false(acl_allows(&acl, ACL_SEND, "/topic/other", CHATD_ROLE_AGENT));
    assert_string_equal(config_first_unused(config_find(c, "stomp")), "other");
    acl_free(&acl);
    config_free(c);

    assert_int_equal(config_load_string(&c, "t.ini", "[stomp]\nallow.x = publish /topic/a user\n", err, sizeof err), 0);
    assert_int_equal(acl_load(&acl, c, config_find(c, "stomp"), err, sizeof err), -1);
    assert_string_equal(err, "t.ini: [stomp] allow.x: expected 'ACTIONS PATTERN ROLES', e.g. "
                             "'send,subscribe /topic/chat.* user,agent'");
    acl_free(&acl);
    config_free(c);
}

/* Whether some destination matches both patterns. */
static void overlaps(void **state)
{
    (void)state;
    assert_true(acl_patterns_overlap("/topic/**", "/topic/rooms/**"));
    assert_true(acl_patterns_overlap("/**", "/topic/support/queue"));
    assert_true(acl_patterns_overlap("/topic/*/queue", "/topic/support/queue"));
    assert_true(acl_patterns_overlap("/topic/*/queue", "/topic/rooms/**")); /* a room named "queue" */
    assert_true(acl_patterns_overlap("/topic/r*/**", "/topic/rooms/**"));
    assert_true(acl_patterns_overlap("/user/*/queue/**", "/user/**/queue/notifications"));
    assert_true(acl_patterns_overlap("/user/bot/queue/*", "/user/**/queue/notifications"));
    assert_true(acl_patterns_overlap("/topic/rooms/**", "/topic/rooms/**"));
    assert_true(acl_patterns_overlap("/topic/x", "/topic/x"));
    assert_true(acl_patterns_overlap("/topic/*.end", "/topic/**"));
    assert_false(acl_patterns_overlap("/topic/*.end", "/topic/a*"));
    assert_false(acl_patterns_overlap("/topic/chat.*", "/topic/rooms/**"));
    assert_false(acl_patterns_overlap("/topic/chat.*", "/topic/support/queue"));
    assert_false(acl_patterns_overlap("/topic/rooms.*", "/topic/rooms/**")); /* '*' stops at '/' */
    assert_false(acl_patterns_overlap("/topic/*", "/topic/rooms/**"));
    assert_false(acl_patterns_overlap("/topic/*", "/topic/support/queue"));
    assert_false(acl_patterns_overlap("/user/*/queue/inbox", "/user/**/queue/notifications"));
    assert_false(acl_patterns_overlap("/queue/**", "/topic/**"));
    assert_false(acl_patterns_overlap("/topic/x", "/topic/xy"));
    assert_false(acl_patterns_overlap("/topic/a*b", "/topic/a.b"));
    /* Symmetric. */
    assert_true(acl_patterns_overlap("/topic/support/queue", "/topic/*/queue"));
    assert_false(acl_patterns_overlap("/topic/rooms/**", "/topic/*"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(patterns), cmocka_unit_test(rules_from_config),
                                       cmocka_unit_test(overlaps)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
