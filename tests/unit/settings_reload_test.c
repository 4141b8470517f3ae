/* A reload's two questions of the settings: which changed keys need a
 * restart (each named, with defaults and spellings that mean the same
 * thing left alone), and which members a live reload takes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "settings.h"

#define BASE "[auth]\nplugin = static\n[storage]\nplugin = memory\n[broker]\nplugin = simple\n"

static void load(struct settings *s, const char *extra)
{
    char text[2048], err[512] = "";
    snprintf(text, sizeof text, BASE "%s", extra);
    struct config *c;
    if (config_load_string(&c, "t.ini", text, err, sizeof err) < 0 || settings_load(s, c, err, sizeof err) < 0)
        fail_msg("unexpected error: %s", err);
    config_free(c);
}

/* The restart keys changed from `a` to `b`, joined with ", ". */
static void expect_changes(const char *a, const char *b, const char *expected)
{
    struct settings x, y;
    load(&x, a);
    load(&y, b);
    const char *keys[32];
    size_t n = settings_restart_changes(&x, &y, keys, 32);
    char got[1024] = "";
    for (size_t i = 0; i < n; i++)
        snprintf(got + strlen(got), sizeof got - strlen(got), "%s%s", i ? ", " : "", keys[i]);
    assert_string_equal(got, expected);
    settings_free(&x);
    settings_free(&y);
}

static void restart_keys_are_named(void **state)
{
    (void)state;
    expect_changes("", "[server]\nlisten = 127.0.0.1:9\n", "[server] listen");
    expect_changes("", "[server]\nstomp_listen = 127.0.0.1:61613\n", "[server] stomp_listen");
    expect_changes("", "[server]\nplugin_dir = /x\nweb_root = /w\nallowed_origins = http://a\n",
                   "[server] plugin_dir, [server] web_root, [server] allowed_origins");
    expect_changes("", "[server]\nwebsocket_paths = /ws /stomp\n", "[server] websocket_paths");
    expect_changes("", "[server]\nsockjs = off\n", "[server] sockjs");
    expect_changes("", "[server]\npresence_interval = 3s\n", "[server] presence_interval");
    expect_changes("", "[stomp]\nws_rx_buffer = 4K\n", "[stomp] ws_rx_buffer");
    expect_changes("", "[stomp]\napplication_prefix = /app, /pub\nuser_prefix = /me\n",
                   "[stomp] application_prefix, [stomp] user_prefix");
    expect_changes("", "[rooms]\nretention = 30d\n", "[rooms] retention");
}

static void same_meaning_is_no_change(void **state)
{
    (void)state;
    /* Defaults written out, another spelling of the same duration. */
    expect_changes("", "[server]\nlisten = 127.0.0.1:8080\nwebsocket_paths = /ws\nsockjs = on\n"
                       "presence_interval = 10000ms\n[stomp]\ntopic_prefix = /topic\n", "");
    /* Live keys are not restart keys. */
    expect_changes("", "[server]\nlog_level = debug\nmax_connections_per_ip = 3\n[stomp]\nmax_frame_size = 1K\n"
                       "allow.x = send /topic/x user\n[notify]\npreview_length = 5\n[support]\nassign = least_busy\n"
                       "[presence]\noffline_grace = 1s\n",
                   "");
}

static void live_members_are_taken_and_the_old_acl_returned(void **state)
{
    (void)state;
    struct settings s, next;
    load(&s, "[stomp]\nallow.a = send /topic/a user\n");
    load(&next, "[server]\nlog_level = warn\n[stomp]\nmax_subscriptions = 7\nmax_frame_size = 1K\n"
                "allow.b = subscribe /topic/b agent\nallow.c = send /topic/c user\n"
                "[notify]\ncoalesce = 0\n[support]\nassign = round_robin\nmax_chats_per_agent = 4\n"
                "skills = alice:billing,tech; bob:tech\n"
                "[presence]\noffline_grace = 250ms\n");
    char *listen = s.listen_host;
    settings_take_live(&s, &next);
    assert_int_equal(s.log_level, CHATD_LOG_WARN);
    assert_int_equal(s.max_subscriptions, 7);
    assert_int_equal(s.limits.max_frame_size, 1024);
    assert_int_equal(s.notify_coalesce_ms, 0);
    assert_int_equal(s.support_assign, SUPPORT_ASSIGN_ROUND_ROBIN);
    assert_int_equal(s.max_chats_per_agent, 4);
    assert_int_equal(s.offline_grace_ms, 250);
    assert_int_equal(s.skills.n, 2);
    assert_string_equal(s.skills.v[1].agent, "bob");
    assert_int_equal(s.acl.n, 2);
    assert_string_equal(s.acl.rules[0].key, "allow.b");
    assert_int_equal(next.acl.n, 1); /* the old rules, for the caller to free */
    assert_string_equal(next.acl.rules[0].key, "allow.a");
    assert_ptr_equal(s.listen_host, listen); /* restart-only: untouched */
    settings_free(&s);
    settings_free(&next);
}

/* [support] skills: an error names the file, the section, the key and the
 * entry at fault. */
static void bad_skills_are_named(void **state)
{
    (void)state;
    const char *bad[][2] = {{"alice:Billing", "topic 'Billing'"}, {"alice", "expected AGENT:TOPIC"},
                            {"alice:tech; alice:vip", "named twice"}};
    for (size_t i = 0; i < 3; i++) {
        char text[512], err[512] = "";
        snprintf(text, sizeof text, BASE "[support]\nskills = %s\n", bad[i][0]);
        struct config *c;
        struct settings s;
        assert_int_equal(config_load_string(&c, "t.ini", text, err, sizeof err), 0);
        assert_int_equal(settings_load(&s, c, err, sizeof err), -1);
        if (!strstr(err, "t.ini") || !strstr(err, "[support]") || !strstr(err, "skills") || !strstr(err, bad[i][1]))
            fail_msg("'%s': %s", bad[i][0], err);
        settings_free(&s);
        config_free(c);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(restart_keys_are_named),
        cmocka_unit_test(same_meaning_is_no_change),
        cmocka_unit_test(live_members_are_taken_and_the_old_acl_returned),
        cmocka_unit_test(bad_skills_are_named),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
