/* The JSON text writer: what it writes parses back (with jansson) to what
 * was written; control characters are escaped; bytes that are not UTF-8
 * become U+FFFD; numbers at their limits. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <jansson.h>

#include "wire/jsonw.h"

/* Writes s as a one-element array and returns the element parsed back. */
static json_t *round_trip(const char *s, size_t n)
{
    struct jsonw w = {0};
    jsonw_raw(&w, "[", 1);
    jsonw_str(&w, s, n);
    jsonw_raw(&w, "]", 1);
    size_t len;
    char *text = jsonw_take(&w, &len);
    assert_non_null(text);
    assert_int_equal(strlen(text), len);
    json_error_t err;
    json_t *a = json_loadb(text, len, JSON_ALLOW_NUL, &err);
    free(text);
    assert_non_null(a);
    json_t *v = json_incref(json_array_get(a, 0));
    json_decref(a);
    return v;
}

static void strings_round_trip(void **state)
{
    (void)state;
    const char *cases[] = {"", "plain", "quote \" backslash \\ slash /", "tab\tnew\nline\rcr\bbs\fff",
                           "\x01\x1f\x7f", "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        json_t *v = round_trip(cases[i], strlen(cases[i]));
        assert_true(json_is_string(v));
        assert_int_equal(json_string_length(v), strlen(cases[i]));
        assert_memory_equal(json_string_value(v), cases[i], strlen(cases[i]));
        json_decref(v);
    }
    /* An embedded NUL survives as \u0000. */
    json_t *v = round_trip("a\0b", 3);
    assert_int_equal(json_string_length(v), 3);
    assert_memory_equal(json_string_value(v), "a\0b", 3);
    json_decref(v);
}

static void invalid_utf8_replaced(void **state)
{
    (void)state;
    /* stray continuation, truncated sequence, overlong '/', surrogate, above U+10FFFF */
    const char *bad[] = {"a\x80z", "a\xe2\x82", "\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xff"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        json_t *v = round_trip(bad[i], strlen(bad[i]));
        assert_true(json_is_string(v));
        assert_non_null(strstr(json_string_value(v), "\xef\xbf\xbd"));
        json_decref(v);
    }
    json_t *v = round_trip("a\x80z", 3);
    assert_string_equal(json_string_value(v), "a\xef\xbf\xbdz");
    json_decref(v);
}

static void random_bytes_always_valid(void **state)
{
    (void)state;
    srand(7);
    unsigned char b[64];
    for (int round = 0; round < 2000; round++) {
        size_t n = (size_t)(rand() % (int)sizeof b);
        for (size_t i = 0; i < n; i++)
            b[i] = (unsigned char)rand();
        json_t *v = round_trip((const char *)b, n);
        assert_true(json_is_string(v));
        json_decref(v);
    }
}

/* Each byte below 0x80 at each place of a long plain string (the writer
 * copies plain text a word at a time): it comes back as it was. */
static void every_ascii_byte_everywhere(void **state)
{
    (void)state;
    char s[24];
    for (int c = 0; c < 0x80; c++)
        for (size_t at = 0; at < sizeof s; at++) {
            memset(s, 'a', sizeof s);
            s[at] = (char)c;
            json_t *v = round_trip(s, sizeof s);
            assert_int_equal(json_string_length(v), sizeof s);
            assert_memory_equal(json_string_value(v), s, sizeof s);
            json_decref(v);
        }
}

static char *numbers_text(int64_t i, uint64_t u)
{
    struct jsonw w = {0};
    jsonw_i64(&w, i);
    jsonw_raw(&w, " ", 1);
    jsonw_u64(&w, u);
    size_t len;
    return jsonw_take(&w, &len);
}

static void numbers_exact(void **state)
{
    (void)state;
    const struct {
        int64_t i;
        uint64_t u;
        const char *text;
    } cases[] = {{0, 0, "0 0"},
                 {-1, 1, "-1 1"},
                 {1764646464646, 10, "1764646464646 10"},
                 {INT64_MIN, UINT64_MAX, "-9223372036854775808 18446744073709551615"},
                 {INT64_MAX, 9, "9223372036854775807 9"}};
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        char *t = numbers_text(cases[k].i, cases[k].u);
        assert_string_equal(t, cases[k].text);
        free(t);
    }
}

static void objects_and_numbers(void **state)
{
    (void)state;
    struct jsonw w = {0};
    jsonw_raw(&w, "{", 1);
    jsonw_key(&w, "max", true);
    jsonw_u64(&w, UINT64_MAX >> 1);
    jsonw_key(&w, "min", false);
    jsonw_i64(&w, INT64_MIN);
    jsonw_key(&w, "none", false);
    jsonw_cstr(&w, NULL);
    jsonw_raw(&w, "}", 1);
    size_t len;
    char *text = jsonw_take(&w, &len);
    json_t *j = json_loads(text, 0, NULL);
    assert_non_null(j);
    assert_true(json_integer_value(json_object_get(j, "max")) == (json_int_t)(UINT64_MAX >> 1));
    assert_true(json_integer_value(json_object_get(j, "min")) == (json_int_t)INT64_MIN);
    assert_true(json_is_null(json_object_get(j, "none")));
    json_decref(j);
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(strings_round_trip), cmocka_unit_test(invalid_utf8_replaced),
                                       cmocka_unit_test(random_bytes_always_valid),
                                       cmocka_unit_test(every_ascii_byte_everywhere),
                                       cmocka_unit_test(numbers_exact), cmocka_unit_test(objects_and_numbers)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
