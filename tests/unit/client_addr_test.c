/* Trusted proxies: CIDR lists and the client's address read from
 * Forwarded / X-Forwarded-For. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "cidr.h"
#include "net/client_addr.h"

static struct cidr_list trusted(const char *text)
{
    struct cidr_list l;
    char why[160];
    assert_int_equal(cidr_list_parse(text, &l, why, sizeof why), 0);
    return l;
}

static void assert_client(const char *list, const char *peer, const char *fwd, const char *xff, const char *want)
{
    struct cidr_list l = trusted(list);
    char out[64];
    client_addr_resolve(&l, peer, fwd, xff, out, sizeof out);
    assert_string_equal(out, want);
    cidr_list_free(&l);
}

static void ranges(void **state)
{
    (void)state;
    struct cidr_list l = trusted("10.0.0.0/8, 192.168.1.10 2001:db8::/32 ::ffff:172.16.0.0/108");
    assert_int_equal(l.n, 4);
    static const struct {
        const char *addr;
        bool in;
    } cases[] = {
        {"10.255.0.1", true}, {"11.0.0.1", false}, {"192.168.1.10", true}, {"192.168.1.11", false},
        {"2001:db8:1::5", true}, {"2001:db9::1", false}, {"::ffff:10.1.1.1", true}, {"172.16.3.4", true},
        {"172.32.0.1", false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        unsigned char a[16];
        int family;
        assert_true(cidr_addr_parse(cases[i].addr, a, &family));
        assert_int_equal(cidr_list_has(&l, a, family), cases[i].in);
    }
    struct cidr_list same = trusted("10.1.2.3/8 192.168.1.10/32, 2001:db8:ffff::/32 ::ffff:172.16.0.0/108");
    assert_true(cidr_list_equal(&l, &same)); /* host bits are masked off */
    cidr_list_free(&same);
    cidr_list_free(&l);

    char why[160];
    struct cidr_list bad;
    assert_int_equal(cidr_list_parse("10.0.0.0/33", &bad, why, sizeof why), -1);
    assert_non_null(strstr(why, "0 to 32"));
    assert_int_equal(cidr_list_parse("10.0.0.0/", &bad, why, sizeof why), -1);
    assert_int_equal(cidr_list_parse("::ffff:1.2.3.4/95", &bad, why, sizeof why), -1);
    assert_int_equal(cidr_list_parse("example.com", &bad, why, sizeof why), -1);
    assert_int_equal(bad.n, 0);
    assert_int_equal(cidr_list_parse("  ", &bad, why, sizeof why), 0);
    assert_int_equal(bad.n, 0);
}

static void resolving(void **state)
{
    (void)state;
    /* No list, or a peer that is not trusted: the peer. */
    assert_client("", "127.0.0.1", NULL, "198.51.100.7", "127.0.0.1");
    assert_client("10.0.0.0/8", "127.0.0.1", NULL, "198.51.100.7", "127.0.0.1");
    /* Trusted: the first untrusted hop from the right. */
    assert_client("127.0.0.1", "127.0.0.1", NULL, "198.51.100.7", "198.51.100.7");
    assert_client("127.0.0.1 10.0.0.0/8", "127.0.0.1", NULL, "1.1.1.1, 198.51.100.7 , 10.0.0.5", "198.51.100.7");
    assert_client("127.0.0.1", "::ffff:127.0.0.1", "", "198.51.100.7", "198.51.100.7");
    /* Every hop trusted: the left-most. */
    assert_client("127.0.0.1 10.0.0.0/8", "127.0.0.1", NULL, "10.0.0.9, 10.0.0.5", "10.0.0.9");
    /* A hop that is no address: the proxy that added it. */
    assert_client("127.0.0.1 10.0.0.0/8", "127.0.0.1", NULL, "unknown, 10.0.0.5", "10.0.0.5");
    assert_client("127.0.0.1", "127.0.0.1", NULL, "garbage", "127.0.0.1");
    assert_client("127.0.0.1", "127.0.0.1", NULL, ",", "127.0.0.1");
    /* Ports, brackets, quotes; Forwarded wins and is read by for=. */
    assert_client("127.0.0.1", "127.0.0.1", NULL, "198.51.100.7:5555", "198.51.100.7");
    assert_client("127.0.0.1", "127.0.0.1", "proto=https;For=\"[2001:DB8::17]:4711\";by=x", "9.9.9.9",
                  "2001:db8::17");
    assert_client("127.0.0.1", "127.0.0.1", "for=192.0.2.60;proto=http, for=198.51.100.17", NULL, "198.51.100.17");
    assert_client("127.0.0.1", "127.0.0.1", "for=_hidden", "9.9.9.9", "127.0.0.1");
    assert_client("127.0.0.1", "127.0.0.1", "proto=https", "9.9.9.9", "127.0.0.1");
    assert_client("127.0.0.1", "127.0.0.1", NULL, "2001:db8::1", "2001:db8::1");
    assert_client("127.0.0.1", "127.0.0.1", NULL, "[2001:db8::1]:80", "2001:db8::1");
    assert_client("127.0.0.1", "127.0.0.1", NULL, "[2001:db8::1]x", "127.0.0.1");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(ranges),
        cmocka_unit_test(resolving),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
