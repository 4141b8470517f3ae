/* Destinations: what a client's SEND and SUBSCRIBE mean, which ones the
 * server owns, and which allow patterns reach them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "dest_prefixes.h"
#include "rooms/room_rules.h"
#include "settings.h"
#include "stomp/destinations.h"

static void send_routes(void **state)
{
    (void)state;
    assert_int_equal(destination_route("/app/rooms/r1/send", ACL_SEND), DEST_APP);
    assert_int_equal(destination_route("/app/session/refresh", ACL_SEND), DEST_APP);
    assert_int_equal(destination_route("/topic/rooms/r1", ACL_SEND), DEST_SERVER_ONLY);
    assert_int_equal(destination_route("/topic/rooms/", ACL_SEND), DEST_SERVER_ONLY);
    assert_int_equal(destination_route("/topic/rooms/r1/extra", ACL_SEND), DEST_SERVER_ONLY);
    assert_int_equal(destination_route("/topic/support/queue", ACL_SEND), DEST_SERVER_ONLY);
    assert_int_equal(destination_route("/topic/support/agents", ACL_SEND), DEST_SERVER_ONLY);
    assert_int_equal(destination_route("/user/agent1/queue/notifications", ACL_SEND), DEST_SERVER_ONLY);
    assert_int_equal(destination_route("/user/john.doe/queue/notifications", ACL_SEND), DEST_SERVER_ONLY);
    assert_int_equal(destination_route("/user/\xec\x95\x88\xf0\x9f\x98\x80/queue/notifications", ACL_SEND),
                     DEST_SERVER_ONLY);
    /* Near misses are generic. */
    assert_int_equal(destination_route("/topic/rooms", ACL_SEND), DEST_GENERIC);
    assert_int_equal(destination_route("/topic/rooms.r1", ACL_SEND), DEST_GENERIC);
    assert_int_equal(destination_route("/topic/support/queue.x", ACL_SEND), DEST_GENERIC);
    assert_int_equal(destination_route("/user/agent1/queue/notifications.x", ACL_SEND), DEST_GENERIC);
    assert_int_equal(destination_route("/user/agent1/queue/inbox", ACL_SEND), DEST_GENERIC);
    assert_int_equal(destination_route("/topic/\xec\x95\x88", ACL_SEND), DEST_GENERIC);
    assert_int_equal(destination_route("/queue/jobs", ACL_SEND), DEST_GENERIC);
    /* No known shape. */
    assert_int_equal(destination_route("/topic/", ACL_SEND), DEST_UNKNOWN);
    assert_int_equal(destination_route("/user/queue/inbox", ACL_SEND), DEST_UNKNOWN);
    assert_int_equal(destination_route("/user/a/b/queue/inbox", ACL_SEND), DEST_UNKNOWN);
    assert_int_equal(destination_route("/exchange/x", ACL_SEND), DEST_UNKNOWN);
}

static void subscribe_routes(void **state)
{
    (void)state;
    assert_int_equal(destination_route("/topic/rooms/r1", ACL_SUBSCRIBE), DEST_ROOMS);
    assert_int_equal(destination_route("/topic/support/queue", ACL_SUBSCRIBE), DEST_ROOMS);
    assert_int_equal(destination_route("/topic/support/agents", ACL_SUBSCRIBE), DEST_ROOMS);
    assert_int_equal(destination_route("/user/queue/notifications", ACL_SUBSCRIBE), DEST_ROOMS);
    assert_int_equal(destination_route("/user/queue/presence", ACL_SUBSCRIBE), DEST_ROOMS);
    assert_int_equal(destination_route("/user/bob/queue/presence", ACL_SUBSCRIBE), DEST_UNKNOWN);
    assert_int_equal(destination_route("/user/\xeb\xaf\xbc/queue/presence", ACL_SEND), DEST_SERVER_ONLY);
    assert_int_equal(destination_route("/app/presence", ACL_SEND), DEST_APP);
    assert_int_equal(destination_route("/user/queue/inbox", ACL_SUBSCRIBE), DEST_GENERIC);
    assert_int_equal(destination_route("/topic/chat.x", ACL_SUBSCRIBE), DEST_GENERIC);
    assert_int_equal(destination_route("/queue/jobs", ACL_SUBSCRIBE), DEST_GENERIC);
    assert_int_equal(destination_route("/user/bob/queue/inbox", ACL_SUBSCRIBE), DEST_UNKNOWN);
    assert_int_equal(destination_route("/user/bob/queue/notifications", ACL_SUBSCRIBE), DEST_UNKNOWN);
    assert_int_equal(destination_route("/app/rooms/r1/send", ACL_SUBSCRIBE), DEST_UNKNOWN);
    assert_int_equal(destination_route("/user/queue/", ACL_SUBSCRIBE), DEST_UNKNOWN);
}

static void names(void **state)
{
    (void)state;
    char buf[128];
    destination_room_topic(buf, sizeof buf, "r1");
    assert_string_equal(buf, "/topic/rooms/r1");
    assert_true(destination_server_owned(buf));
    destination_notifications_of(buf, sizeof buf, "bob");
    assert_string_equal(buf, "/user/bob/queue/notifications");
    destination_presence_of(buf, sizeof buf, "민지");
    assert_string_equal(buf, "/user/민지/queue/presence");
    assert_true(destination_server_owned(buf));
    assert_true(destination_server_owned(DEST_SUPPORT_QUEUE));
    assert_false(destination_server_owned(DEST_MY_NOTIFICATIONS)); /* as subscribed, not as published */

    char *r = destination_resolve("/user/queue/inbox", ACL_SUBSCRIBE, "\xec\x95\x88");
    assert_string_equal(r, "/user/\xec\x95\x88/queue/inbox");
    free(r);
    r = destination_resolve("/user/bob/queue/inbox", ACL_SEND, "alice");
    assert_string_equal(r, "/user/bob/queue/inbox");
    free(r);
    r = destination_resolve("/topic/x", ACL_SUBSCRIBE, "alice");
    assert_string_equal(r, "/topic/x");
    free(r);
}

/* The room a room destination names, and what follows it. */
static void rooms_named(void **state)
{
    (void)state;
    char room[ROOM_ID_MAX];
    const char *rest = NULL;
    assert_true(destination_room_of("/app/rooms/r1/send", "/app/rooms/", room, sizeof room, &rest));
    assert_string_equal(room, "r1");
    assert_string_equal(rest, "send");
    assert_true(destination_room_of("/topic/rooms/abc_9-x", DEST_ROOM_TOPIC, room, sizeof room, &rest));
    assert_string_equal(room, "abc_9-x");
    assert_string_equal(rest, "");
    assert_true(destination_room_of("/topic/rooms/r1/extra", DEST_ROOM_TOPIC, room, sizeof room, &rest));
    assert_string_equal(rest, "extra");
    assert_false(destination_room_of("/topic/rooms/", DEST_ROOM_TOPIC, room, sizeof room, &rest));
    assert_false(destination_room_of("/topic/rooms/R1", DEST_ROOM_TOPIC, room, sizeof room, &rest));
    assert_false(destination_room_of("/topic/rooms/방", DEST_ROOM_TOPIC, room, sizeof room, &rest));
    assert_false(destination_room_of("/topic/other/r1", DEST_ROOM_TOPIC, room, sizeof room, &rest));
    char longer[200] = "/topic/rooms/";
    memset(longer + 13, 'a', ROOM_ID_MAX);
    assert_false(destination_room_of(longer, DEST_ROOM_TOPIC, room, sizeof room, &rest));
}

static void patterns_reaching_owned(void **state)
{
    (void)state;
    char buf[256];
    assert_int_equal(destination_owned_reached("/**", buf, sizeof buf), 5);
    assert_string_equal(buf, "/topic/rooms/{room}, /topic/support/queue, /topic/support/agents, "
                             "/user/{user}/queue/notifications, /user/{user}/queue/presence");
    assert_int_equal(destination_owned_reached("/topic/**", buf, sizeof buf), 3);
    assert_string_equal(buf, "/topic/rooms/{room}, /topic/support/queue, /topic/support/agents");
    assert_int_equal(destination_owned_reached("/user/*/queue/**", buf, sizeof buf), 2);
    assert_string_equal(buf, "/user/{user}/queue/notifications, /user/{user}/queue/presence");
    assert_int_equal(destination_owned_reached("/user/*/queue/presence", buf, sizeof buf), 1);
    assert_int_equal(destination_owned_reached("/topic/support/*", buf, sizeof buf), 2);
    assert_string_equal(buf, "/topic/support/queue, /topic/support/agents");
    assert_int_equal(destination_owned_reached("/topic/support/agents", buf, sizeof buf), 1);
    assert_string_equal(buf, "/topic/support/agents");
    assert_int_equal(destination_owned_reached("/topic/chat.*", buf, sizeof buf), 0);
    assert_string_equal(buf, "");
    assert_int_equal(destination_owned_reached("/queue/**", buf, sizeof buf), 0);
    assert_int_equal(destination_owned_reached("/user/*/queue/inbox", buf, sizeof buf), 0);
    /* A short buffer truncates the names, not the count. */
    assert_int_equal(destination_owned_reached("/**", buf, 8), 5);
    assert_string_equal(buf, "/topic/");
}

/* [stomp] with the given lines: settings_load's answer, its error in err. */
static int load_stomp(const char *lines, struct settings *st, char *err, size_t errlen)
{
    char text[2048];
    snprintf(text, sizeof text,
             "[stomp]\n%s\n[auth]\nplugin = static\n[storage]\nplugin = memory\n[broker]\nplugin = simple\n", lines);
    struct config *cfg = NULL;
    assert_int_equal(config_load_string(&cfg, "chat.ini", text, err, errlen), 0);
    int rc = settings_load(st, cfg, err, errlen);
    config_free(cfg);
    return rc;
}

/* /pub + /sub beside today's names, as a migration runs them. */
static void spring_prefixes(struct dest_prefixes *p)
{
    char why[256];
    dest_prefixes_default(p);
    assert_int_equal(dest_prefixes_add(p, PREFIX_APP, "/pub", why, sizeof why), 0);
    assert_int_equal(dest_prefixes_add(p, PREFIX_TOPIC, "/sub", why, sizeof why), 0);
    assert_int_equal(dest_prefixes_add(p, PREFIX_USER, "/me/personal", why, sizeof why), 0);
}

static void canonical_of(const struct dest_prefixes *p, const char *client, const char *canonical,
                         enum dest_prefix_kind kind, unsigned index)
{
    struct dest_alias as = {0};
    bool nomem = true;
    char *c = destination_canonical(p, client, &as, &nomem);
    assert_non_null(c);
    assert_false(nomem);
    assert_string_equal(c, canonical);
    assert_int_equal(as.kind, kind);
    assert_int_equal(as.index, index);
    /* and back, as that client writes it */
    char *back = destination_client(p, c, as.index);
    assert_string_equal(back, client);
    free(back);
    free(c);
}

static void unknown_to(const struct dest_prefixes *p, const char *client)
{
    struct dest_alias as;
    bool nomem = true;
    assert_null(destination_canonical(p, client, &as, &nomem));
    assert_false(nomem);
}

static void default_prefixes_are_the_canonical_names(void **state)
{
    (void)state;
    struct dest_prefixes p;
    dest_prefixes_default(&p);
    canonical_of(&p, "/app/rooms/r1/send", "/app/rooms/r1/send", PREFIX_APP, 0);
    canonical_of(&p, "/topic/rooms/r1", "/topic/rooms/r1", PREFIX_TOPIC, 0);
    canonical_of(&p, "/queue/jobs", "/queue/jobs", PREFIX_QUEUE, 0);
    canonical_of(&p, "/user/queue/notifications", "/user/queue/notifications", PREFIX_USER, 0);
    unknown_to(&p, "/sub/rooms/r1");
    unknown_to(&p, "/topic");        /* a prefix alone names nothing */
    unknown_to(&p, "/topics/x");     /* prefixes end at a '/' */
    unknown_to(&p, "/exchange/x");
    unknown_to(&p, "topic/x");
    assert_true(destination_client_is_canonical(&p, "/topic/rooms/r1", 0));
}

static void aliases_map_both_ways(void **state)
{
    (void)state;
    struct dest_prefixes p;
    spring_prefixes(&p);
    canonical_of(&p, "/pub/rooms/r1/send", "/app/rooms/r1/send", PREFIX_APP, 1);
    canonical_of(&p, "/pub/session/refresh", "/app/session/refresh", PREFIX_APP, 1);
    canonical_of(&p, "/sub/rooms/r1", "/topic/rooms/r1", PREFIX_TOPIC, 1);
    canonical_of(&p, "/sub/support/queue", "/topic/support/queue", PREFIX_TOPIC, 1);
    canonical_of(&p, "/sub/chat.\xec\x95\x88\xf0\x9f\x98\x80", "/topic/chat.\xec\x95\x88\xf0\x9f\x98\x80",
                 PREFIX_TOPIC, 1);
    canonical_of(&p, "/me/personal/queue/notifications", "/user/queue/notifications", PREFIX_USER, 1);
    canonical_of(&p, "/me/personal/bob/queue/inbox", "/user/bob/queue/inbox", PREFIX_USER, 1);
    /* the old names still work beside the new ones */
    canonical_of(&p, "/topic/rooms/r1", "/topic/rooms/r1", PREFIX_TOPIC, 0);
    canonical_of(&p, "/app/rooms/r1/send", "/app/rooms/r1/send", PREFIX_APP, 0);
    unknown_to(&p, "/me/queue/x");   /* only the whole prefix counts */
    unknown_to(&p, "/subway/x");

    /* What the server publishes, as each subscriber reads it. */
    char *c = destination_client(&p, "/user/bob/queue/notifications", 1);
    assert_string_equal(c, "/me/personal/bob/queue/notifications");
    free(c);
    assert_false(destination_client_is_canonical(&p, "/topic/rooms/r1", 1));
    assert_true(destination_client_is_canonical(&p, "/topic/rooms/r1", 0));
    assert_true(destination_client_is_canonical(&p, "/queue/jobs", 0));
    c = destination_client(&p, "/topic/rooms/r1", 7); /* past the list: as it is */
    assert_string_equal(c, "/topic/rooms/r1");
    free(c);

    /* The routes are the canonical names' */
    struct dest_alias as;
    bool nomem;
    c = destination_canonical(&p, "/sub/rooms/r1", &as, &nomem);
    assert_int_equal(destination_route(c, ACL_SEND), DEST_SERVER_ONLY);
    assert_int_equal(destination_route(c, ACL_SUBSCRIBE), DEST_ROOMS);
    free(c);
    c = destination_canonical(&p, "/me/personal/someone/queue/notifications", &as, &nomem);
    assert_int_equal(destination_route(c, ACL_SEND), DEST_SERVER_ONLY);
    free(c);
}

static void only_the_listed_prefixes(void **state)
{
    (void)state;
    struct dest_prefixes p;
    char why[256];
    dest_prefixes_default(&p);
    dest_prefixes_clear(&p, PREFIX_TOPIC);
    assert_int_equal(dest_prefixes_add(&p, PREFIX_TOPIC, "/sub", why, sizeof why), 0);
    canonical_of(&p, "/sub/rooms/r1", "/topic/rooms/r1", PREFIX_TOPIC, 0);
    unknown_to(&p, "/topic/rooms/r1");
    char *c = destination_client(&p, "/topic/rooms/r1", 0);
    assert_string_equal(c, "/sub/rooms/r1");
    free(c);
}

static void add_refuses(const char *prefix, enum dest_prefix_kind kind, const char *expected)
{
    struct dest_prefixes p;
    char why[256];
    spring_prefixes(&p);
    assert_int_equal(dest_prefixes_add(&p, kind, prefix, why, sizeof why), -1);
    assert_non_null(strstr(why, expected));
}

static void prefix_shapes(void **state)
{
    (void)state;
    add_refuses("sub", PREFIX_TOPIC, "must start with '/'");
    add_refuses("/", PREFIX_TOPIC, "must not end with '/'");
    add_refuses("/x/", PREFIX_TOPIC, "must not end with '/'");
    add_refuses("/x/*", PREFIX_TOPIC, "wildcards");
    add_refuses("/x**", PREFIX_TOPIC, "wildcards");
    add_refuses("/a//b", PREFIX_TOPIC, "empty segment");
    add_refuses("/a b", PREFIX_TOPIC, "only letters");
    add_refuses("/\xec\x95\x88", PREFIX_TOPIC, "only letters");
    add_refuses("/0123456789012345678901234567890123456789012345678901234567890123", PREFIX_TOPIC, "64 bytes");
    add_refuses("/sub", PREFIX_TOPIC, "listed twice");
    add_refuses("/sub", PREFIX_QUEUE, "is also in topic_prefix");
    add_refuses("/app", PREFIX_TOPIC, "is also in application_prefix");
    add_refuses("/sub/x", PREFIX_QUEUE, "overlap");
    add_refuses("/me", PREFIX_QUEUE, "overlap"); /* /me/personal is a user prefix */
    add_refuses("/topic/q", PREFIX_QUEUE, "overlap");

    struct dest_prefixes p;
    char why[256], name[16];
    dest_prefixes_default(&p);
    for (int i = 1; i < PREFIX_ALIASES_MAX; i++) {
        snprintf(name, sizeof name, "/t%d", i);
        assert_int_equal(dest_prefixes_add(&p, PREFIX_TOPIC, name, why, sizeof why), 0);
    }
    assert_int_equal(dest_prefixes_add(&p, PREFIX_TOPIC, "/t-last", why, sizeof why), -1);
    assert_non_null(strstr(why, "at most 8"));
    /* Swapped names are two kinds, each with one reading. */
    dest_prefixes_default(&p);
    dest_prefixes_clear(&p, PREFIX_TOPIC);
    dest_prefixes_clear(&p, PREFIX_QUEUE);
    assert_int_equal(dest_prefixes_add(&p, PREFIX_TOPIC, "/queue", why, sizeof why), 0);
    assert_int_equal(dest_prefixes_add(&p, PREFIX_QUEUE, "/topic", why, sizeof why), 0);
    canonical_of(&p, "/queue/x", "/topic/x", PREFIX_TOPIC, 0);
    canonical_of(&p, "/topic/x", "/queue/x", PREFIX_QUEUE, 0);
    assert_int_equal(dest_prefixes_add(&p, PREFIX_TOPIC, "/a.b-c_d~e/F9", why, sizeof why), 0);
}

static void settings_read_the_prefix_keys(void **state)
{
    (void)state;
    struct settings st;
    char err[512];
    assert_int_equal(load_stomp("", &st, err, sizeof err), 0);
    for (int k = 0; k < PREFIX_KINDS; k++) {
        assert_int_equal(st.prefixes.n[k], 1);
        assert_string_equal(st.prefixes.alias[k][0], dest_prefix_canonical(k));
    }
    settings_free(&st);

    assert_int_equal(load_stomp("application_prefix = /app, /pub\ntopic_prefix = /topic,/sub\nqueue_prefix = /q\n"
                                "user_prefix = /user /u\nallow.chat = send,subscribe /topic/chat.* user",
                                &st, err, sizeof err),
                     0);
    assert_int_equal(st.prefixes.n[PREFIX_APP], 2);
    assert_string_equal(st.prefixes.alias[PREFIX_APP][1], "/pub");
    assert_string_equal(st.prefixes.alias[PREFIX_TOPIC][1], "/sub");
    assert_int_equal(st.prefixes.n[PREFIX_QUEUE], 1);
    assert_string_equal(st.prefixes.alias[PREFIX_QUEUE][0], "/q");
    assert_string_equal(st.prefixes.alias[PREFIX_USER][1], "/u");
    settings_free(&st);

    static const struct {
        const char *lines, *error;
    } bad[] = {
        {"topic_prefix = /topic, /sub/", "chat.ini: [stomp] topic_prefix: '/sub/' must not end with '/'"},
        {"topic_prefix = /topic/*", "chat.ini: [stomp] topic_prefix: '/topic/*' must not hold wildcards"},
        {"topic_prefix = sub", "chat.ini: [stomp] topic_prefix: 'sub' must start with '/'"},
        {"topic_prefix = ", "chat.ini: [stomp] topic_prefix: expected a list of prefixes such as '/topic'"},
        {"queue_prefix = /queue, /app", "chat.ini: [stomp] queue_prefix: '/app' is also in application_prefix"},
        {"application_prefix = /pub\ntopic_prefix = /pub", "chat.ini: [stomp] topic_prefix: '/pub' is also in application_prefix"},
        {"user_prefix = /user, /user", "chat.ini: [stomp] user_prefix: '/user' is listed twice"},
        {"topic_prefix = /topic, /sub\nallow.chat = send /sub/chat.* user",
         "chat.ini: [stomp] allow.chat: pattern '/sub/chat.*' is written under the prefix /sub; allow rules are "
         "written in canonical form and apply under every prefix: use '/topic/chat.*'"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        assert_int_equal(load_stomp(bad[i].lines, &st, err, sizeof err), -1);
        if (strncmp(err, bad[i].error, strlen(bad[i].error)) != 0)
            fail_msg("%s: got '%s'", bad[i].lines, err);
        assert_null(strchr(err, '\n'));
        settings_free(&st);
    }
    /* A rule under a canonical name is fine even when that name is another
     * kind's alias too. */
    assert_int_equal(load_stomp("topic_prefix = /queue\nqueue_prefix = /q\nallow.x = send /queue/** user", &st, err,
                                sizeof err),
                     0);
    settings_free(&st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(send_routes),
        cmocka_unit_test(subscribe_routes),
        cmocka_unit_test(names),
        cmocka_unit_test(rooms_named),
        cmocka_unit_test(patterns_reaching_owned),
        cmocka_unit_test(default_prefixes_are_the_canonical_names),
        cmocka_unit_test(aliases_map_both_ways),
        cmocka_unit_test(only_the_listed_prefixes),
        cmocka_unit_test(prefix_shapes),
        cmocka_unit_test(settings_read_the_prefix_keys),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
