/* Destinations: what a client's SEND and SUBSCRIBE mean, which ones the
 * server owns, and which allow patterns reach them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "rooms/room_rules.h"
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
    assert_int_equal(destination_route("/user/queue/notifications", ACL_SUBSCRIBE), DEST_ROOMS);
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
    assert_int_equal(destination_owned_reached("/**", buf, sizeof buf), 3);
    assert_string_equal(buf, "/topic/rooms/{room}, /topic/support/queue, /user/{user}/queue/notifications");
    assert_int_equal(destination_owned_reached("/topic/**", buf, sizeof buf), 2);
    assert_string_equal(buf, "/topic/rooms/{room}, /topic/support/queue");
    assert_int_equal(destination_owned_reached("/user/*/queue/**", buf, sizeof buf), 1);
    assert_string_equal(buf, "/user/{user}/queue/notifications");
    assert_int_equal(destination_owned_reached("/topic/support/*", buf, sizeof buf), 1);
    assert_string_equal(buf, "/topic/support/queue");
    assert_int_equal(destination_owned_reached("/topic/chat.*", buf, sizeof buf), 0);
    assert_string_equal(buf, "");
    assert_int_equal(destination_owned_reached("/queue/**", buf, sizeof buf), 0);
    assert_int_equal(destination_owned_reached("/user/*/queue/inbox", buf, sizeof buf), 0);
    /* A short buffer truncates the names, not the count. */
    assert_int_equal(destination_owned_reached("/**", buf, 8), 3);
    assert_string_equal(buf, "/topic/");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(send_routes),
        cmocka_unit_test(subscribe_routes),
        cmocka_unit_test(names),
        cmocka_unit_test(rooms_named),
        cmocka_unit_test(patterns_reaching_owned),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
