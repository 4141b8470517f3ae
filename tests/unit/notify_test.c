/* The pure parts of offline notifications: mentions and the policy
 * (previews: preview_test.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "rooms/notify.h"
#include "settings.h"

static void mentions_need_a_whole_name(void **state)
{
    (void)state;
    const char *yes[] = {"@bob", "hi @bob", "@bob: look", "(@bob)", "ping @bob!", "@bob\n"};
    const char *no[] = {"bob", "@bobby", "mail bob@example.org", "x@bob", "@bo", "@ bob", "@bob_2", "@bob.x"};
    for (size_t i = 0; i < sizeof yes / sizeof *yes; i++)
        assert_true(notify_mentions(yes[i], strlen(yes[i]), "bob"));
    for (size_t i = 0; i < sizeof no / sizeof *no; i++)
        assert_false(notify_mentions(no[i], strlen(no[i]), "bob"));
    assert_false(notify_mentions("@", 1, ""));
    /* Bodies are bytes, not strings: a mention before a NUL still counts. */
    assert_true(notify_mentions("@bob\0tail", 9, "bob"));
}

static void policy_words(void **state)
{
    (void)state;
    unsigned kinds;
    bool mentions;
    assert_int_equal(settings_parse_notify_policy("all", &kinds, &mentions), 0);
    assert_int_equal(kinds, 1u << CHATD_ROOM_SUPPORT | 1u << CHATD_ROOM_DIRECT | 1u << CHATD_ROOM_GROUP);
    assert_false(mentions);
    assert_int_equal(settings_parse_notify_policy("direct, mentions", &kinds, &mentions), 0);
    assert_int_equal(kinds, 1u << CHATD_ROOM_DIRECT);
    assert_true(mentions);
    assert_int_equal(settings_parse_notify_policy("support group", &kinds, &mentions), 0);
    assert_int_equal(kinds, 1u << CHATD_ROOM_SUPPORT | 1u << CHATD_ROOM_GROUP);
    assert_int_equal(settings_parse_notify_policy("everything", &kinds, &mentions), -1);
    assert_int_equal(settings_parse_notify_policy("", &kinds, &mentions), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(mentions_need_a_whole_name),
        cmocka_unit_test(policy_words),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
