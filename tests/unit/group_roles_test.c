/* Group roles: who may change what in a group, and the condition handed
 * to the storage. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include <chatd/plugin.h>

#include "rooms/group_roles.h"

static const char *const members[] = {"owner", "admin", "admin2", "plain", "plain2"};
static const char *const admins[] = {"admin", "admin2"};
static const struct chatd_room group = {.id = "g", .kind = CHATD_ROOM_GROUP, .owner = "owner", .members = members,
                                        .nmembers = 5, .admins = admins, .nadmins = 2};

static enum group_verdict check(const char *actor, chatd_group_change_kind what, const char *user,
                                chatd_member_role role, struct chatd_group_change *out)
{
    struct chatd_group_change ch = {.size = sizeof ch, .room_id = "g", .what = what, .user = user, .role = role};
    const char *why;
    enum group_verdict v = group_check(&group, actor, &ch, &why);
    assert_true((v == GROUP_ALLOWED) == (why == NULL));
    if (out)
        *out = ch;
    return v;
}

static void roles(void **state)
{
    (void)state;
    assert_int_equal(group_role_of(&group, "owner"), CHATD_MEMBER_OWNER);
    assert_int_equal(group_role_of(&group, "admin2"), CHATD_MEMBER_ADMIN);
    assert_int_equal(group_role_of(&group, "plain"), CHATD_MEMBER_PLAIN);
    assert_int_equal(group_role_of(&group, "stranger"), CHATD_MEMBER_NONE);
    assert_int_equal(group_role_of(&group, NULL), CHATD_MEMBER_NONE);
    /* an owner who left is no one's owner */
    struct chatd_room left = group;
    left.owner = "gone";
    assert_int_equal(group_role_of(&left, "gone"), CHATD_MEMBER_NONE);
    chatd_member_role r;
    assert_true(group_role_parse("admin", &r) && r == CHATD_MEMBER_ADMIN);
    assert_true(group_role_parse("member", &r) && r == CHATD_MEMBER_PLAIN);
    assert_true(group_role_parse("owner", &r) && r == CHATD_MEMBER_OWNER);
    assert_false(group_role_parse("Admin", &r));
    assert_false(group_role_parse(NULL, &r));
    assert_string_equal(group_role_name(CHATD_MEMBER_PLAIN), "member");
    assert_null(group_role_name(CHATD_MEMBER_NONE));
}

static void membership(void **state)
{
    (void)state;
    struct chatd_group_change ch;
    assert_int_equal(check("plain", CHATD_GROUP_ADD, "new", 0, NULL), GROUP_FORBIDDEN);
    assert_int_equal(check("admin", CHATD_GROUP_ADD, "new", 0, &ch), GROUP_ALLOWED);
    assert_string_equal(ch.actor, "admin");
    assert_int_equal(ch.actor_min, CHATD_MEMBER_ADMIN);
    assert_false(ch.outrank);
    assert_int_equal(check("admin", CHATD_GROUP_ADD, "plain", 0, NULL), GROUP_UNCHANGED);
    /* removing */
    assert_int_equal(check("plain", CHATD_GROUP_REMOVE, "plain2", 0, NULL), GROUP_FORBIDDEN);
    assert_int_equal(check("admin", CHATD_GROUP_REMOVE, "plain", 0, &ch), GROUP_ALLOWED);
    assert_true(ch.outrank);
    assert_int_equal(check("admin", CHATD_GROUP_REMOVE, "admin2", 0, NULL), GROUP_FORBIDDEN);
    assert_int_equal(check("admin", CHATD_GROUP_REMOVE, "owner", 0, NULL), GROUP_FORBIDDEN);
    assert_int_equal(check("owner", CHATD_GROUP_REMOVE, "admin", 0, NULL), GROUP_ALLOWED);
    assert_int_equal(check("owner", CHATD_GROUP_REMOVE, "stranger", 0, NULL), GROUP_NOT_MEMBER);
    /* leaving: anyone, the owner too, without a condition */
    assert_int_equal(check("plain", CHATD_GROUP_REMOVE, "plain", 0, &ch), GROUP_ALLOWED);
    assert_null(ch.actor);
    assert_int_equal(check("owner", CHATD_GROUP_REMOVE, "owner", 0, &ch), GROUP_ALLOWED);
    assert_null(ch.actor);
}

static void role_changes(void **state)
{
    (void)state;
    struct chatd_group_change ch;
    assert_int_equal(check("plain", CHATD_GROUP_ROLE, "plain", CHATD_MEMBER_ADMIN, NULL), GROUP_FORBIDDEN);
    assert_int_equal(check("admin", CHATD_GROUP_ROLE, "plain", CHATD_MEMBER_ADMIN, &ch), GROUP_ALLOWED);
    assert_true(ch.outrank && ch.actor_min == CHATD_MEMBER_ADMIN);
    assert_int_equal(check("admin", CHATD_GROUP_ROLE, "admin2", CHATD_MEMBER_PLAIN, NULL), GROUP_FORBIDDEN);
    assert_int_equal(check("admin", CHATD_GROUP_ROLE, "admin", CHATD_MEMBER_PLAIN, NULL), GROUP_FORBIDDEN);
    assert_int_equal(check("owner", CHATD_GROUP_ROLE, "admin2", CHATD_MEMBER_PLAIN, NULL), GROUP_ALLOWED);
    assert_int_equal(check("admin", CHATD_GROUP_ROLE, "admin2", CHATD_MEMBER_ADMIN, NULL), GROUP_UNCHANGED);
    assert_int_equal(check("admin", CHATD_GROUP_ROLE, "owner", CHATD_MEMBER_PLAIN, NULL), GROUP_OWNER_ROLE);
    assert_int_equal(check("plain", CHATD_GROUP_ROLE, "owner", CHATD_MEMBER_PLAIN, NULL), GROUP_FORBIDDEN);
    assert_int_equal(check("owner", CHATD_GROUP_ROLE, "stranger", CHATD_MEMBER_ADMIN, NULL), GROUP_NOT_MEMBER);
    /* handing ownership over: the owner only */
    assert_int_equal(check("admin", CHATD_GROUP_ROLE, "plain", CHATD_MEMBER_OWNER, NULL), GROUP_FORBIDDEN);
    assert_int_equal(check("owner", CHATD_GROUP_ROLE, "plain", CHATD_MEMBER_OWNER, &ch), GROUP_ALLOWED);
    assert_int_equal(ch.actor_min, CHATD_MEMBER_OWNER);
    assert_false(ch.outrank);
    assert_int_equal(check("owner", CHATD_GROUP_ROLE, "owner", CHATD_MEMBER_OWNER, NULL), GROUP_UNCHANGED);
}

static void title_and_deletion(void **state)
{
    (void)state;
    assert_int_equal(check("plain", CHATD_GROUP_RENAME, NULL, 0, NULL), GROUP_FORBIDDEN);
    assert_int_equal(check("admin", CHATD_GROUP_RENAME, NULL, 0, NULL), GROUP_ALLOWED);
    assert_int_equal(check("plain", CHATD_GROUP_DELETE, NULL, 0, NULL), GROUP_FORBIDDEN);
    assert_int_equal(check("admin2", CHATD_GROUP_DELETE, NULL, 0, NULL), GROUP_ALLOWED);
    assert_int_equal(check("stranger", CHATD_GROUP_DELETE, NULL, 0, NULL), GROUP_FORBIDDEN);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(roles),
        cmocka_unit_test(membership),
        cmocka_unit_test(role_changes),
        cmocka_unit_test(title_and_deletion),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
