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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(both_encodings_agree),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
