/* Rooms and messages as clients see them: the message written as text for
 * history pages is the same JSON as the jansson object of every other
 * answer and event, whatever the message holds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include <chatd/plugin.h>

#include "wire/jsonw.h"
#include "wire/notification_json.h"
#include "wire/room_json.h"

static void same_json(const struct chatd_message *m)
{
    struct jsonw w = {0};
    room_message_jsonw(&w, m);
    size_t len;
    char *text = jsonw_take(&w, &len);
    assert_non_null(text);
    json_error_t err;
    json_t *written = json_loadb(text, len, JSON_ALLOW_NUL, &err);
    assert_non_null(written);
    json_t *tree = room_message_json(m);
    assert_non_null(tree);
    if (!json_equal(written, tree)) {
        char *t = json_dumps(tree, 0);
        print_error("text %s\ntree %s\n", text, t);
        free(t);
        fail();
    }
    json_decref(written);
    json_decref(tree);
    free(text);
}

static void both_encodings_agree(void **state)
{
    (void)state;
    const char korean[] = "안녕하세요 😀 \"따옴표\" \\ 줄\n바꿈";
    struct chatd_message m = {.id = "r1-7", .room = "r1", .seq = 7, .sender = "김민지", .client_id = "c-1",
                              .ts_ms = 1733300000123, .body = korean, .body_len = sizeof korean - 1};
    same_json(&m);
    m.client_id = NULL; /* null, not "" */
    same_json(&m);
    m.sender = ""; /* erased: "erased": true */
    m.body = "";
    m.body_len = 0;
    same_json(&m);
    static const char nul[] = {'a', '\0', 'b'};
    m.body = nul; /* a NUL inside the body stays a character */
    m.body_len = sizeof nul;
    m.seq = UINT64_C(18446744073709551615) >> 11; /* large, still exact in JSON numbers */
    same_json(&m);
}

/* An offline notification's JSON: every documented member, in order, the
 * text as UTF-8, reply_to null or the seq replied to. */
static void notification_object(void **state)
{
    (void)state;
    struct notification_event e = {.recipient = "민지", .room = "r1", .room_kind = CHATD_ROOM_SUPPORT,
                                   .message_id = "m9", .seq = 9, .sender = "상담원😀", .preview = "안녕하세요 😀",
                                   .content_type = "text/plain", .kind = CHATD_MESSAGE_FILE, .reply_to = 4,
                                   .unread = 3, .messages = 2};
    char *json = notification_json(&e);
    assert_non_null(json);
    assert_string_equal(json, "{\"event\":\"message\",\"recipient\":\"민지\",\"room\":\"r1\",\"room_kind\":\"support\","
                              "\"message_id\":\"m9\",\"seq\":9,\"sender\":\"상담원😀\",\"preview\":\"안녕하세요 😀\","
                              "\"content_type\":\"text/plain\",\"kind\":\"file\",\"reply_to\":4,\"unread\":3,"
                              "\"messages\":2}");
    free(json);
    e.reply_to = 0;
    e.kind = CHATD_MESSAGE_TEXT;
    e.room_kind = CHATD_ROOM_GROUP;
    json = notification_json(&e);
    assert_non_null(strstr(json, "\"room_kind\":\"group\""));
    assert_non_null(strstr(json, "\"kind\":\"text\",\"reply_to\":null,"));
    free(json);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(both_encodings_agree),
        cmocka_unit_test(notification_object),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
