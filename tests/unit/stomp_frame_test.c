/* The STOMP frame codec: parsing in any chunking, escaping per version,
 * limits and every error, and encode/parse round trips. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/stomp_frame.h"

/* Feed `in` in chunks of `chunk` bytes; collect up to 8 frames. Returns the
 * number of frames, or -1 on a parse error (*err set). */
static int parse_chunked(const char *in, size_t len, size_t chunk, const struct stomp_limits *lim,
                         struct stomp_frame **frames, const char **err)
{
    struct stomp_parser *p = stomp_parser_new(lim);
    int n = 0;
    for (size_t off = 0; off < len;) {
        size_t take = len - off < chunk ? len - off : chunk;
        size_t pos = 0;
        while (pos < take) {
            size_t used = 0;
            struct stomp_frame *f;
            enum stomp_parse_status st = stomp_parser_feed(p, in + off + pos, take - pos, &used, &f);
            if (st == STOMP_PARSE_ERROR) {
                static char buf[128];
                strncpy(buf, stomp_parser_error(p), sizeof buf - 1);
                *err = buf;
                for (int i = 0; i < n; i++)
                    stomp_frame_free(frames[i]);
                stomp_parser_free(p);
                return -1;
            }
            if (st == STOMP_PARSE_FRAME)
                frames[n++] = f;
            pos += used;
            if (st == STOMP_PARSE_MORE)
                break;
        }
        off += take;
    }
    assert_int_equal(stomp_parser_buffered(p), 0);
    stomp_parser_free(p);
    return n;
}

static int parse_all(const char *in, size_t len, struct stomp_frame **frames, const char **err)
{
    return parse_chunked(in, len, len ? len : 1, NULL, frames, err);
}

static void free_frames(struct stomp_frame **f, int n)
{
    for (int i = 0; i < n; i++)
        stomp_frame_free(f[i]);
}

static void every_command_parses(void **state)
{
    (void)state;
    for (int c = STOMP_CMD_CONNECT; c <= STOMP_CMD_ERROR; c++) {
        char in[64];
        int len = snprintf(in, sizeof in, "%s\n\n", stomp_command_name(c));
        struct stomp_frame *f[8];
        const char *err = NULL;
        assert_int_equal(parse_all(in, (size_t)len + 1, f, &err), 1);
        assert_int_equal(f[0]->command, c);
        free_frames(f, 1);
    }
}

static const char sample[] =
    "\n\r\n"
    "CONNECT\r\naccept-version:1.2\r\nhost:x\r\n\r\n\0"
    "SEND\ndestination:/topic/a\nk:one\\ctwo\nk:second\ncontent-length:5\n\na\0b\nc\0\n"
    "SUBSCRIBE\nid:1\ndestination:/topic/a\n\n\0";

static void chunking_does_not_matter(void **state)
{
    (void)state;
    size_t len = sizeof sample - 1;
    for (size_t chunk = 1; chunk <= len; chunk++) {
        struct stomp_frame *f[8];
        const char *err = NULL;
        int n = parse_chunked(sample, len, chunk, NULL, f, &err);
        assert_int_equal(n, 3);
        assert_int_equal(f[0]->command, STOMP_CMD_CONNECT);
        assert_string_equal(stomp_frame_header(f[0], "host"), "x");
        assert_int_equal(f[1]->command, STOMP_CMD_SEND);
        assert_string_equal(stomp_frame_header(f[1], "k"), "one:two"); /* first wins, unescaped */
        assert_int_equal(f[1]->nheaders, 4);
        assert_int_equal(f[1]->body_len, 5);
        assert_memory_equal(f[1]->body, "a\0b\nc", 5);
        assert_int_equal(f[2]->command, STOMP_CMD_SUBSCRIBE);
        assert_string_equal(stomp_frame_header(f[2], "id"), "1");
        free_frames(f, n);
    }
}

static void heartbeats_are_counted(void **state)
{
    (void)state;
    struct stomp_parser *p = stomp_parser_new(NULL);
    size_t used;
    struct stomp_frame *f;
    assert_int_equal(stomp_parser_feed(p, "\n\r\n\n", 4, &used, &f), STOMP_PARSE_MORE);
    assert_int_equal(stomp_parser_heartbeats(p), 3);
    assert_int_equal(stomp_parser_buffered(p), 0);
    stomp_parser_free(p);
}

static void escaping_depends_on_version(void **state)
{
    (void)state;
    /* CONNECT is never unescaped; after it, the negotiated version rules. */
    const char v10[] = "CONNECT\naccept-version:1.0\nx:a\\cb\n\n\0SEND\nk:a\\cb\n\n\0";
    const char v11[] = "CONNECT\naccept-version:1.1\n\n\0SEND\nk:a\\cb\\n\n\n\0";
    const char v11r[] = "CONNECT\naccept-version:1.1\n\n\0SEND\nk:a\\r\n\n\0";
    const char v12r[] = "CONNECT\naccept-version:1.1,1.2\n\n\0SEND\nk:a\\r\n\n\0";
    struct stomp_frame *f[8];
    const char *err = NULL;
    assert_int_equal(parse_all(v10, sizeof v10 - 1, f, &err), 2);
    assert_string_equal(stomp_frame_header(f[0], "x"), "a\\cb");
    assert_string_equal(stomp_frame_header(f[1], "k"), "a\\cb");
    free_frames(f, 2);
    assert_int_equal(parse_all(v11, sizeof v11 - 1, f, &err), 2);
    assert_string_equal(stomp_frame_header(f[1], "k"), "a:b\n");
    free_frames(f, 2);
    assert_int_equal(parse_all(v11r, sizeof v11r - 1, f, &err), -1);
    assert_string_equal(err, "undefined escape sequence");
    assert_int_equal(parse_all(v12r, sizeof v12r - 1, f, &err), 2);
    assert_string_equal(stomp_frame_header(f[1], "k"), "a\r");
    free_frames(f, 2);
}

struct bad_case {
    const char *in;
    size_t len;
    const char *error;
};

#define BAD(s, e) {s, sizeof s - 1, e}

static void each_error_is_named(void **state)
{
    (void)state;
    static const struct bad_case cases[] = {
        BAD("HELLO\n\n\0", "unknown command"),
        BAD("SENDSENDSENDSENDSENDSENDSENDSENDSEND\n", "unknown command"),
        BAD("SEND\nnocolon\n\n\0", "header without colon"),
        BAD("SEND\n:v\n\n\0", "empty header name"),
        BAD("SEND\nk:a\\tb\n\n\0", "undefined escape sequence"),
        BAD("SEND\nk:a\\\n\n\0", "undefined escape sequence"),
        BAD("SEND\nk:a\rb\n\n\0", "CR inside header"),
        BAD("SEND\ncontent-length:-1\n\n\0", "invalid content-length"),
        BAD("SEND\ncontent-length:abc\n\n\0", "invalid content-length"),
        BAD("SEND\ncontent-length: 1\n\nx\0", "invalid content-length"),
        BAD("SEND\ncontent-length:99999999999999999999999\n\n\0", "body too large"),
        BAD("SEND\ncontent-length:2\n\nabc\0", "missing NUL after body"),
        BAD("\rX", "CR inside header"),
        BAD("SEND\n\0", "NUL inside header"),
        BAD("SEND\nk:v\0x\n\n\0", "NUL inside header"),
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        struct stomp_frame *f[8];
        const char *err = NULL;
        for (size_t chunk = 1; chunk <= cases[i].len; chunk += cases[i].len - 1) {
            assert_int_equal(parse_chunked(cases[i].in, cases[i].len, chunk, NULL, f, &err), -1);
            assert_string_equal(err, cases[i].error);
        }
    }
}

static void limits_are_enforced(void **state)
{
    (void)state;
    struct stomp_limits lim;
    stomp_limits_default(&lim);
    lim.max_headers = 2;
    lim.max_header_length = 16;
    lim.max_body_size = 8;
    lim.max_frame_size = 64;
    struct stomp_frame *f[8];
    const char *err = NULL;
    const char many[] = "SEND\na:1\nb:2\nc:3\n\n\0";
    assert_int_equal(parse_chunked(many, sizeof many - 1, 1, &lim, f, &err), -1);
    assert_string_equal(err, "too many headers");
    const char longh[] = "SEND\nabcdefghij:klmnopqrstuvwxyz\n\n\0";
    assert_int_equal(parse_chunked(longh, sizeof longh - 1, 3, &lim, f, &err), -1);
    assert_string_equal(err, "header too long");
    const char body[] = "SEND\n\n123456789\0";
    assert_int_equal(parse_chunked(body, sizeof body - 1, 2, &lim, f, &err), -1);
    assert_string_equal(err, "body too large");
    const char cl[] = "SEND\ncontent-length:9\n\n123456789\0";
    assert_int_equal(parse_chunked(cl, sizeof cl - 1, 100, &lim, f, &err), -1);
    assert_string_equal(err, "body too large");
    lim.max_header_length = 1000;
    lim.max_headers = 100;
    char big[200];
    int n = snprintf(big, sizeof big, "SEND\n");
    for (int i = 0; i < 10; i++)
        n += snprintf(big + n, sizeof big - (size_t)n, "h%d:vvvvvvvv\n", i);
    assert_int_equal(parse_chunked(big, (size_t)n, 7, &lim, f, &err), -1);
    assert_string_equal(err, "frame too large");
    /* After an error the parser stays failed. */
    struct stomp_parser *p = stomp_parser_new(&lim);
    size_t used;
    struct stomp_frame *fr;
    assert_int_equal(stomp_parser_feed(p, "NOPE\n", 5, &used, &fr), STOMP_PARSE_ERROR);
    assert_int_equal(stomp_parser_feed(p, "SEND\n\n\0", 7, &used, &fr), STOMP_PARSE_ERROR);
    stomp_parser_free(p);
}

static void negotiation(void **state)
{
    (void)state;
    assert_int_equal(stomp_negotiate_version("1.0,1.1,1.2"), 12);
    assert_int_equal(stomp_negotiate_version("1.1"), 11);
    assert_int_equal(stomp_negotiate_version(NULL), 10);
    assert_int_equal(stomp_negotiate_version(""), 10);
    assert_int_equal(stomp_negotiate_version("2.0"), 0);
    assert_int_equal(stomp_negotiate_version("1.2,1.0"), 12);
    assert_int_equal(stomp_negotiate_version("1.0, 1.1"), 11);
}

static void round_trip(void **state)
{
    (void)state;
    static const char *const values[] = {"plain", "a:b", "line\nbreak", "back\\slash", "cr\rhere", ""};
    for (int v = STOMP_V1_0; v <= STOMP_V1_2; v++) {
        for (size_t i = 0; i < sizeof values / sizeof *values; i++) {
            if (v == STOMP_V1_0 && strpbrk(values[i], ":\n\r"))
                continue; /* 1.0 cannot carry these in a value */
            if (v == STOMP_V1_1 && strchr(values[i], '\r'))
                continue; /* nor 1.1 a CR */
            struct stomp_buf b = {0};
            char connect[64];
            int cl = snprintf(connect, sizeof connect, "CONNECT\naccept-version:%d.%d\n\n", v / 10, v % 10);
            assert_int_equal(stomp_buf_append(&b, connect, (size_t)cl + 1), 0);
            assert_int_equal(stomp_encode_command(&b, STOMP_CMD_SEND), 0);
            assert_int_equal(stomp_encode_header(&b, v, STOMP_CMD_SEND, "key", values[i]), 0);
            assert_int_equal(stomp_encode_body(&b, "x\0y", 3, true), 0);
            struct stomp_frame *f[8];
            const char *err = NULL;
            assert_int_equal(parse_all(b.data, b.len, f, &err), 2);
            assert_string_equal(stomp_frame_header(f[1], "key"), values[i]);
            assert_int_equal(f[1]->body_len, 3);
            assert_memory_equal(f[1]->body, "x\0y", 3);
            free_frames(f, 2);
            stomp_buf_free(&b);
        }
    }
}

/* Where nothing is escaped (1.0, CONNECTED), a header with a line end in
 * it would read as headers of its author's choosing: it is left out. */
static void unescapable_headers_are_left_out(void **state)
{
    (void)state;
    struct stomp_buf b = {0};
    assert_int_equal(stomp_encode_command(&b, STOMP_CMD_MESSAGE), 0);
    assert_int_equal(stomp_encode_header(&b, STOMP_V1_0, STOMP_CMD_MESSAGE, "sender", "alice"), 0);
    assert_int_equal(stomp_encode_header(&b, STOMP_V1_0, STOMP_CMD_MESSAGE, "note", "a\nsender:agent1"), 0);
    assert_int_equal(stomp_encode_header(&b, STOMP_V1_0, STOMP_CMD_MESSAGE, "cr", "a\rb"), 0);
    assert_int_equal(stomp_encode_header(&b, STOMP_V1_0, STOMP_CMD_MESSAGE, "na:me", "v"), 0);
    assert_int_equal(stomp_encode_header(&b, STOMP_V1_0, STOMP_CMD_MESSAGE, "ok", "a:b \xec\x95\x88\xf0\x9f\x98\x80"), 0);
    assert_int_equal(stomp_encode_body(&b, NULL, 0, false), 0);
    assert_int_equal(b.len, strlen("MESSAGE\nsender:alice\nok:a:b \xec\x95\x88\xf0\x9f\x98\x80\n\n") + 1);
    assert_memory_equal(b.data, "MESSAGE\nsender:alice\nok:a:b \xec\x95\x88\xf0\x9f\x98\x80\n\n", b.len);
    stomp_buf_free(&b);

    assert_int_equal(stomp_encode_command(&b, STOMP_CMD_CONNECTED), 0);
    assert_int_equal(stomp_encode_header(&b, STOMP_V1_2, STOMP_CMD_CONNECTED, "user-name", "x\nserver:y"), 0);
    assert_int_equal(b.len, strlen("CONNECTED\n"));
    stomp_buf_free(&b);

    /* 1.2 escapes it: one header. */
    assert_int_equal(stomp_encode_command(&b, STOMP_CMD_MESSAGE), 0);
    assert_int_equal(stomp_encode_header(&b, STOMP_V1_2, STOMP_CMD_MESSAGE, "note", "a\nsender:agent1"), 0);
    assert_int_equal(b.len, strlen("MESSAGE\nnote:a\\nsender\\cagent1\n"));
    assert_memory_equal(b.data, "MESSAGE\nnote:a\\nsender\\cagent1\n", b.len);
    stomp_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_command_parses),
        cmocka_unit_test(chunking_does_not_matter),
        cmocka_unit_test(heartbeats_are_counted),
        cmocka_unit_test(escaping_depends_on_version),
        cmocka_unit_test(each_error_is_named),
        cmocka_unit_test(limits_are_enforced),
        cmocka_unit_test(negotiation),
        cmocka_unit_test(round_trip),
        cmocka_unit_test(unescapable_headers_are_left_out),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
