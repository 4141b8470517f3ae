/* The PROXY protocol header: versions 1 and 2, read whole or a byte at a
 * time, and the headers refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "net/proxy_header.h"

#define V2_SIG "\r\n\r\n\0\r\nQUIT\n"

/* Parsed whole, then every prefix must ask for more. */
static struct proxy_header parse_done(const void *bytes, size_t n)
{
    struct proxy_header h;
    const char *why = NULL;
    assert_int_equal(proxy_header_parse(bytes, n, &h, &why), PROXY_DONE);
    for (size_t k = 0; k < h.len; k++) {
        struct proxy_header p;
        assert_int_equal(proxy_header_parse(bytes, k, &p, &why), PROXY_MORE);
    }
    return h;
}

static const char *parse_bad(const void *bytes, size_t n)
{
    struct proxy_header h;
    const char *why = NULL;
    assert_int_equal(proxy_header_parse(bytes, n, &h, &why), PROXY_BAD);
    assert_non_null(why);
    return why;
}

static void version_1(void **state)
{
    (void)state;
    const char tcp4[] = "PROXY TCP4 198.51.100.7 10.0.0.1 51000 61613\r\nCONNECT\n";
    struct proxy_header h = parse_done(tcp4, sizeof tcp4 - 1);
    assert_false(h.local);
    assert_string_equal(h.addr, "198.51.100.7");
    assert_int_equal(h.len, strlen("PROXY TCP4 198.51.100.7 10.0.0.1 51000 61613\r\n"));

    const char tcp6[] = "PROXY TCP6 2001:db8::17 2001:db8::1 4711 61613\r\n";
    h = parse_done(tcp6, sizeof tcp6 - 1);
    assert_string_equal(h.addr, "2001:db8::17");

    const char unknown[] = "PROXY UNKNOWN ffff:f...f:ffff 65535 65535\r\n";
    h = parse_done(unknown, sizeof unknown - 1);
    assert_true(h.local);
}

static void version_1_refused(void **state)
{
    (void)state;
    static const char *const lines[] = {
        "PROXY TCP4 198.51.100.7 10.0.0.1 51000\r\n",        /* a field missing */
        "PROXY TCP4 198.51.100.7  10.0.0.1 51000 61613\r\n", /* two spaces */
        "PROXY TCP4 2001:db8::1 10.0.0.1 51000 61613\r\n",   /* IPv6 as TCP4 */
        "PROXY TCP4 198.51.100.7 10.0.0.1 65536 61613\r\n",  /* port too big */
        "PROXY TCP4 198.51.100.7 10.0.0.1 0051 61613\r\n",   /* leading zero */
        "PROXY UDP4 198.51.100.7 10.0.0.1 51000 61613\r\n",  /* protocol */
        "PROXY TCP4 198.51.100.7 10.0.0.1 51000 61613\n",    /* LF alone */
        "CONNECT\naccept-version:1.2\n\n",                  /* no header at all */
    };
    for (size_t i = 0; i < sizeof lines / sizeof *lines; i++)
        parse_bad(lines[i], strlen(lines[i]));
    char longer[200];
    memset(longer, '1', sizeof longer);
    memcpy(longer, "PROXY TCP4 ", 11);
    assert_string_equal(parse_bad(longer, sizeof longer), "PROXY protocol version 1 line too long");
}

static void version_2(void **state)
{
    (void)state;
    /* PROXY over TCP/IPv4: 198.51.100.7:51000 -> 10.0.0.1:61613, then STOMP */
    const unsigned char inet[] = V2_SIG "\x21\x11\x00\x0c"
                                        "\xc6\x33\x64\x07"
                                        "\x0a\x00\x00\x01"
                                        "\xc7\x38\xef\x0d"
                                        "CONNECT\n";
    struct proxy_header h = parse_done(inet, sizeof inet - 1);
    assert_false(h.local);
    assert_string_equal(h.addr, "198.51.100.7");
    assert_int_equal(h.len, 28);

    /* IPv6 with a TLV after the addresses */
    unsigned char inet6[16 + 36 + 8];
    memcpy(inet6, V2_SIG "\x21\x21\x00\x2c", 16);
    memset(inet6 + 16, 0, 36);
    inet6[16] = 0x20, inet6[17] = 0x01, inet6[18] = 0x0d, inet6[19] = 0xb8, inet6[31] = 0x17;
    memcpy(inet6 + 52, "\x04\x00\x05hello", 8);
    h = parse_done(inet6, sizeof inet6);
    assert_string_equal(h.addr, "2001:db8::17");
    assert_int_equal(h.len, sizeof inet6);

    /* LOCAL (a health check) and UNSPEC: the proxy's own address counts */
    const unsigned char local[] = V2_SIG "\x20\x00\x00\x00";
    h = parse_done(local, sizeof local - 1);
    assert_true(h.local);
    const unsigned char unspec[] = V2_SIG "\x21\x00\x00\x00";
    h = parse_done(unspec, sizeof unspec - 1);
    assert_true(h.local);
}

static void version_2_refused(void **state)
{
    (void)state;
    const unsigned char v1[] = V2_SIG "\x11\x11\x00\x0c";
    parse_bad(v1, sizeof v1 - 1);
    const unsigned char command[] = V2_SIG "\x22\x11\x00\x0c";
    parse_bad(command, sizeof command - 1);
    const unsigned char family[] = V2_SIG "\x21\x41\x00\x00";
    parse_bad(family, sizeof family - 1);
    const unsigned char short4[] = V2_SIG "\x21\x11\x00\x04"
                                          "\xc6\x33\x64\x07";
    parse_bad(short4, sizeof short4 - 1);
    const unsigned char huge[] = V2_SIG "\x21\x11\xff\xff";
    assert_string_equal(parse_bad(huge, sizeof huge - 1), "PROXY protocol header too long");
    /* a signature that goes wrong half way */
    const unsigned char broken[] = "\r\n\r\n\0\r\nQUIX\n\x21\x11";
    parse_bad(broken, sizeof broken - 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(version_1),
        cmocka_unit_test(version_1_refused),
        cmocka_unit_test(version_2),
        cmocka_unit_test(version_2_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
