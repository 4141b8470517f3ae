/* Search's plain rules: what a query may be, its JSON form, the text rule
 * and the cursor. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "rooms/search_query.h"

static void queries(void **state)
{
    (void)state;
    char out[SEARCH_QUERY_MAX_BYTES], why[160];
    assert_string_equal(search_query_check("  반갑 \t", out, sizeof out, why, sizeof why), "반갑");
    assert_string_equal(search_query_check("ab", out, sizeof out, why, sizeof why), "ab");
    assert_string_equal(search_query_check("😀😀", out, sizeof out, why, sizeof why), "😀😀");
    assert_string_equal(search_query_check("a b", out, sizeof out, why, sizeof why), "a b");
    const char *bad[] = {NULL, "", "   ", "a", " 가 ", "😀", "a\x01", "a\x7f", "\xff\xfe", "\xed\xa0\x80x"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        why[0] = '\0';
        assert_null(search_query_check(bad[i], out, sizeof out, why, sizeof why));
        assert_true(why[0]);
    }
    char longest[4 * SEARCH_QUERY_MAX_CHARS + 1] = "";
    for (int i = 0; i < SEARCH_QUERY_MAX_CHARS; i++)
        strcat(longest, "가");
    assert_non_null(search_query_check(longest, out, sizeof out, why, sizeof why));
    strcat(longest, "x");
    assert_null(search_query_check(longest, out, sizeof out, why, sizeof why));
    assert_null(search_query_check("abc", out, 3, why, sizeof why)); /* no room for it */
}

static void json_forms(void **state)
{
    (void)state;
    char out[256];
    assert_null(search_query_json("plain ascii", out, sizeof out));
    assert_string_equal(search_query_json("반갑", out, sizeof out), "\\ubc18\\uac11");
    assert_string_equal(search_query_json("a \"b\" \\", out, sizeof out), "a \\\"b\\\" \\\\");
    assert_string_equal(search_query_json("🎉!", out, sizeof out), "\\ud83c\\udf89!");
    assert_string_equal(search_query_json("é", out, sizeof out), "\\u00e9");
    assert_null(search_query_json("반갑", out, 12)); /* too long for out */
}

static void text_rule(void **state)
{
    (void)state;
    const char *t = "Hello 안녕하세요 반갑습니다 🎉🎊";
    assert_true(search_text_holds(t, strlen(t), "hELLO"));
    assert_true(search_text_holds(t, strlen(t), "반갑"));
    assert_true(search_text_holds(t, strlen(t), "요 반"));
    assert_true(search_text_holds(t, strlen(t), "🎉🎊"));
    assert_false(search_text_holds(t, strlen(t), "🎊🎉"));
    assert_false(search_text_holds(t, 3, "Hello"));
    assert_false(search_text_holds("É", 2, "é")); /* only A-Z fold */
    assert_true(search_text_holds("x", 1, ""));
}

static void cursors(void **state)
{
    (void)state;
    struct search_cursor c = {.ts_ms = 1733390000123, .seq = 42};
    strcpy(c.room, "r0a1b2-c_3");
    char text[SEARCH_CURSOR_MAX];
    search_cursor_format(&c, text);
    assert_string_equal(text, "1733390000123.42.r0a1b2-c_3");
    struct search_cursor back;
    assert_true(search_cursor_parse(text, &back));
    assert_int_equal(back.ts_ms, c.ts_ms);
    assert_int_equal(back.seq, 42);
    assert_string_equal(back.room, c.room);
    const char *bad[] = {"", "1", "1.2", "1.2.", ".2.r", "1..r", "1.0.r", "x.2.r", "1.2.R", "1.2.r/x",
                         "-1.2.r", "99999999999999999999.2.r", "9223372036854775808.2.r", "1.2.r.3"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        assert_false(search_cursor_parse(bad[i], &back));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(queries),
        cmocka_unit_test(json_forms),
        cmocka_unit_test(text_rule),
        cmocka_unit_test(cursors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
