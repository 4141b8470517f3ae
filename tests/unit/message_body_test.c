/* What a room message body may be, and its text (docs/protocol.md,
 * "Message bodies"). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "wire/message_body_json.h"

struct body_case {
    const char *content_type; /* NULL: no header */
    const char *body;
    size_t len;               /* 0: strlen(body) */
    const char *text;         /* accepted: the text; refused: NULL */
    const char *why;          /* refused: a part of the reason */
};

#define B(s) s, sizeof s - 1

static const struct body_case cases[] = {
    /* Text: the body itself. */
    {"text/plain", B("안녕하세요 😀"), "안녕하세요 😀", NULL},
    {NULL, B("hello"), "hello", NULL},
    {NULL, B(""), "", NULL},
    {"text/plain; charset=UTF-8", B("caf\xc3\xa9"), "caf\xc3\xa9", NULL},
    {"text/plain;charset=\"utf8\"", B("x"), "x", NULL},
    {"text/plain", B("{not json}"), "{not json}", NULL},
    {"text/markdown", B("*hi* \xf0\x9f\x98\x80"), "*hi* \xf0\x9f\x98\x80", NULL},
    {"", B("plain"), "plain", NULL},
    /* JSON: its "text". */
    {"application/json", B("{\"text\":\"\xec\x95\x88\xeb\x85\x95\"}"), "\xec\x95\x88\xeb\x85\x95", NULL},
    {NULL, B("{\"text\":\"caf\\u00e9 \\ud83d\\ude00\",\"lang\":\"fr\"}"), "caf\xc3\xa9 \xf0\x9f\x98\x80", NULL},
    {"Application/JSON ; charset=utf-8", B("{\"text\":\"\"}"), "", NULL},
    {NULL, B(" \r\n\t{\"text\":\"x\"}"), "x", NULL},
    /* Refused. */
    {"text/plain", B("caf\xe9"), NULL, "not valid UTF-8 (byte 3)"},
    {NULL, B("\xc0\xaf"), NULL, "not valid UTF-8 (byte 0)"},          /* overlong '/' */
    {NULL, B("ab\xed\xa0\x80"), NULL, "not valid UTF-8 (byte 2)"},     /* surrogate */
    {NULL, B("\xec\x95\x88\xeb\x85"), NULL, "not valid UTF-8 (byte 3)"}, /* truncated */
    {"text/plain", B("a\0b"), NULL, "U+0000 (byte 1)"},
    {"text/plain; charset=iso-8859-1", B("caf\xe9"), NULL, "charset iso-8859-1"},
    {"application/octet-stream", B("\x89PNG\r\n\x1a\n"), NULL, "not valid UTF-8"},
    {"application/json", B("hello"), NULL, "not a JSON object"},
    {"application/json", B("[\"text\"]"), NULL, "not a JSON object"},
    {"application/json", B("{\"text\":5}"), NULL, "no string \"text\""},
    {"application/json", B("{\"body\":\"hi\"}"), NULL, "no string \"text\""},
    {"application/json", B("{\"text\":\"caf\xe9\"}"), NULL, "not valid UTF-8"},
    {"application/json", B("{\"text\":\"a\\u0000b\"}"), NULL, "U+0000"},
    {NULL, B("{\"text\": \"unterminated"), NULL, "not a JSON object"},
    {NULL, B("{\"text\":\"x\"} trailing"), NULL, "not a JSON object"},
};

static void bodies(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        const struct body_case *c = &cases[i];
        char why[256] = "";
        int rc = message_body_check(c->content_type, c->body, c->len, why, sizeof why);
        size_t tl = 99;
        char *text = message_body_text(c->content_type, c->body, c->len, &tl);
        if (c->text) {
            if (rc != 0)
                fail_msg("case %zu refused: %s", i, why);
            assert_non_null(text);
            assert_int_equal(tl, strlen(c->text));
            assert_memory_equal(text, c->text, tl);
            assert_int_equal(text[tl], '\0');
        } else {
            if (rc != -1)
                fail_msg("case %zu accepted", i);
            if (!strstr(why, c->why))
                fail_msg("case %zu: \"%s\" does not say \"%s\"", i, why, c->why);
            assert_null(text);
        }
        free(text);
    }
}

static void why_is_bounded(void **state)
{
    (void)state;
    char why[16];
    assert_int_equal(message_body_check("application/json", "{\"body\":1}", 10, why, sizeof why), -1);
    assert_int_equal(strlen(why), sizeof why - 1);
    char longcs[200] = "text/plain; charset=";
    memset(longcs + strlen(longcs), 'x', 150);
    char w2[256];
    assert_int_equal(message_body_check(longcs, "x", 1, w2, sizeof w2), -1);
    assert_non_null(strstr(w2, "charset xxx"));
}

/* The content type a message carries: the SEND's own, else the one its
 * body is taken for. */
static void content_types(void **state)
{
    (void)state;
    const char *korean = "\xec\x95\x88\xeb\x85\x95 \xf0\x9f\x98\x80";
    assert_string_equal(message_content_type(NULL, korean, strlen(korean)), "text/plain;charset=utf-8");
    assert_string_equal(message_content_type("", korean, strlen(korean)), "text/plain;charset=utf-8");
    assert_string_equal(message_content_type(NULL, " \r\n{\"text\":\"x\"}", 15), "application/json");
    assert_string_equal(message_content_type(NULL, "", 0), "text/plain;charset=utf-8");
    assert_string_equal(message_content_type("text/plain; charset=UTF-8", "{\"text\":\"x\"}", 12),
                        "text/plain; charset=UTF-8");
    assert_string_equal(message_content_type("Application/JSON", "{}", 2), "Application/JSON");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(bodies),
        cmocka_unit_test(why_is_bounded),
        cmocka_unit_test(content_types),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
