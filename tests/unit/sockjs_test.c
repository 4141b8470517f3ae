/* The SockJS protocol without sockets: URLs, frames, and the reader of
 * clients' JSON arrays of strings (in pieces too, Korean and emoji). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "net/sockjs.h"

static void routes(void **state)
{
    (void)state;
    char sid[SOCKJS_ID_MAX + 1];
    assert_int_equal(sockjs_route("", sid), SOCKJS_GREETING);
    assert_int_equal(sockjs_route("/", sid), SOCKJS_GREETING);
    assert_int_equal(sockjs_route("/info", sid), SOCKJS_INFO);
    assert_int_equal(sockjs_route("/000/abc_12-Z/websocket", sid), SOCKJS_WEBSOCKET);
    assert_string_equal(sid, "abc_12-Z");
    assert_int_equal(sockjs_route("/1/s/xhr", sid), SOCKJS_XHR);
    assert_int_equal(sockjs_route("/1/s/xhr_send", sid), SOCKJS_XHR_SEND);
    assert_int_equal(sockjs_route("/1/s/xhr_streaming", sid), SOCKJS_XHR_STREAMING);
    assert_int_equal(sockjs_route("/1/s/eventsource", sid), SOCKJS_EVENTSOURCE);
    /* Transports chatd does not serve, and malformed ids. */
    assert_int_equal(sockjs_route("/1/s/jsonp", sid), SOCKJS_NOT_FOUND);
    assert_int_equal(sockjs_route("/1/s/htmlfile", sid), SOCKJS_NOT_FOUND);
    assert_int_equal(sockjs_route("/iframe.html", sid), SOCKJS_NOT_FOUND);
    assert_int_equal(sockjs_route("/1/s.x/xhr", sid), SOCKJS_NOT_FOUND);
    assert_int_equal(sockjs_route("//s/xhr", sid), SOCKJS_NOT_FOUND);
    assert_int_equal(sockjs_route("/1//xhr", sid), SOCKJS_NOT_FOUND);
    assert_int_equal(sockjs_route("/1/s/xhr/", sid), SOCKJS_NOT_FOUND);
    assert_int_equal(sockjs_route("x/1/s/xhr", sid), SOCKJS_NOT_FOUND);
    char long_id[200] = "/1/";
    memset(long_id + 3, 'a', SOCKJS_ID_MAX + 1);
    strcpy(long_id + 3 + SOCKJS_ID_MAX + 1, "/xhr");
    assert_int_equal(sockjs_route(long_id, sid), SOCKJS_NOT_FOUND);
    long_id[3 + SOCKJS_ID_MAX] = '/';
    strcpy(long_id + 3 + SOCKJS_ID_MAX + 1, "xhr");
    assert_int_equal(sockjs_route(long_id, sid), SOCKJS_XHR);
    assert_int_equal((int)strlen(sid), SOCKJS_ID_MAX);
}

static char *escaped(const char *s, size_t n)
{
    struct stomp_buf b = {0};
    assert_int_equal(sockjs_json_escape(&b, s, n), 0);
    assert_int_equal(stomp_buf_append(&b, "", 1), 0);
    return b.data;
}

static void escape(void **state)
{
    (void)state;
    static const char frame[] = "MESSAGE\nk:\"v\"\\\n\n안녕하세요 😀";
    char *e = escaped(frame, sizeof frame); /* with its NUL */
    assert_string_equal(e, "MESSAGE\\nk:\\\"v\\\"\\\\\\n\\n안녕하세요 😀\\u0000");
    free(e);
    /* What browsers mangle goes escaped; bytes that are not UTF-8 become U+FFFD. */
    e = escaped("a\xE2\x80\xA8" "b\x7F" "c\xEF\xBF\xBF" "d\xFF" "e\xC3", 14);
    assert_string_equal(e, "a\\u2028b\\u007fc\\uffffd\xEF\xBF\xBD" "e\xEF\xBF\xBD");
    free(e);
}

static void frames(void **state)
{
    (void)state;
    struct stomp_buf b = {0};
    assert_int_equal(sockjs_close_frame(&b, SOCKJS_CLOSE_GO_AWAY, "Go away!"), 0);
    assert_int_equal(sockjs_info_json(&b, true, 42), 0);
    assert_int_equal(stomp_buf_append(&b, "", 1), 0);
    assert_string_equal(b.data, "c[3000,\"Go away!\"]{\"websocket\":true,\"cookie_needed\":false,"
                                "\"origins\":[\"*:*\"],\"entropy\":42}");
    stomp_buf_free(&b);
}

/* Read `in` in pieces of `step` bytes; the bytes out, or NULL if malformed. */
static char *read_all(const char *in, size_t step, size_t *out_len, bool *done)
{
    struct sockjs_reader r;
    sockjs_reader_init(&r);
    size_t len = strlen(in), o = 0;
    char *out = malloc(len + SOCKJS_READER_SLACK + 1);
    for (size_t i = 0; i < len; i += step) {
        size_t n = len - i < step ? len - i : step;
        long got = sockjs_reader_feed(&r, in + i, n, out + o);
        if (got < 0) {
            free(out);
            return NULL;
        }
        assert_true((size_t)got <= n + SOCKJS_READER_SLACK);
        o += (size_t)got;
    }
    out[o] = '\0';
    *out_len = o;
    *done = sockjs_reader_done(&r);
    return out;
}

static void reader(void **state)
{
    (void)state;
    static const struct {
        const char *in, *out;
        size_t out_len;
    } good[] = {
        {"[]", "", 0},
        {" [ \"a\" , \"b\" ] \r\n", "ab", 2},
        {"[\"SEND\\ndestination:/x\\n\\n\\u0000\"]", "SEND\ndestination:/x\n\n\0", 22},
        {"[\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"]", "\"\\/\b\f\n\r\t", 8},
        {"[\"안녕하세요 😀\"]", "안녕하세요 😀", 20},
        {"[\"\\uc548\\ub155 \\ud83d\\ude00\"]", "안녕 😀", 11},
        /* Lone surrogate halves become U+FFFD. */
        {"[\"\\ud83dx\"]", "\xEF\xBF\xBDx", 4},
        {"[\"\\ude00\"]", "\xEF\xBF\xBD", 3},
        {"[\"\\ud83d\\n\"]", "\xEF\xBF\xBD\n", 4},
        {"[\"\\ud83d\\u0041\"]", "\xEF\xBF\xBD" "A", 4},
        {"[\"\\ud83d\\ud83d\\ude00\"]", "\xEF\xBF\xBD\xF0\x9F\x98\x80", 7},
    };
    for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
        for (size_t step = 1; step <= strlen(good[i].in); step++) {
            size_t n;
            bool done;
            char *out = read_all(good[i].in, step, &n, &done);
            assert_non_null(out);
            assert_true(done);
            assert_int_equal(n, good[i].out_len);
            assert_memory_equal(out, good[i].out, n);
            free(out);
        }
    }
    static const char *const bad[] = {
        "x", "{}", "\"a\"", "[1]", "[\"a\",]", "[,\"a\"]", "[\"a\"\"b\"]", "[\"\\q\"]", "[\"\\u12g4\"]",
        "[\"a\x01\"]", "[\"a\"] x", "[\"a\"]]", "[[\"a\"]]", "[null]",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        size_t n;
        bool done;
        char *out = read_all(bad[i], 1, &n, &done);
        assert_null(out);
        out = read_all(bad[i], 64, &n, &done);
        assert_null(out);
    }
    /* Incomplete is not done; nothing but blanks is empty. */
    struct sockjs_reader r;
    char out[64];
    sockjs_reader_init(&r);
    assert_int_equal(sockjs_reader_feed(&r, " \n", 2, out), 0);
    assert_true(sockjs_reader_empty(&r));
    assert_int_equal(sockjs_reader_feed(&r, "[\"ab", 4, out), 2);
    assert_false(sockjs_reader_empty(&r));
    assert_false(sockjs_reader_done(&r));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(routes),
        cmocka_unit_test(escape),
        cmocka_unit_test(frames),
        cmocka_unit_test(reader),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
