/* Visitor tokens (visitor_token.h), the per-address rate of their issue
 * (addr_rate.h) and the origin rules they and CORS follow (origins.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "addr_rate.h"
#include "origins.h"
#include "visitor_token.h"

static const char *const key = "0123456789abcdef0123456789abcdef";
static const int64_t now = 1780000000000; /* ms */

static void mint_and_verify(void **state)
{
    (void)state;
    char user[VISITOR_USER_MAX], token[VISITOR_TOKEN_MAX], back[VISITOR_USER_MAX];
    int64_t exp, exp2;
    assert_int_equal(visitor_token_mint(key, NULL, now, 3600000, user, token, &exp), 0);
    assert_true(user_is_visitor(user));
    assert_int_equal(strlen(user), strlen("visitor:") + 22);
    assert_true(visitor_token_like(token));
    assert_int_equal(exp, now + 3600000);
    assert_int_equal(visitor_token_verify(key, token, now, back, &exp2), VISITOR_VALID);
    assert_string_equal(back, user);
    assert_int_equal(exp2, exp);
    /* A second visitor is another one. */
    char user2[VISITOR_USER_MAX], token2[VISITOR_TOKEN_MAX];
    assert_int_equal(visitor_token_mint(key, NULL, now, 3600000, user2, token2, &exp), 0);
    assert_string_not_equal(user, user2);
    /* Renewal keeps the identity and moves the expiry. */
    assert_int_equal(visitor_token_mint(key, user, now + 60000, 3600000, user2, token2, &exp), 0);
    assert_string_equal(user2, user);
    assert_int_equal(exp, now + 60000 + 3600000);
    /* Only a visitor's name renews. */
    assert_int_equal(visitor_token_mint(key, "alice", now, 3600000, user2, token2, &exp), -1);
    assert_int_equal(visitor_token_mint(key, "visitor:short", now, 3600000, user2, token2, &exp), -1);
}

static void refused(void **state)
{
    (void)state;
    char user[VISITOR_USER_MAX], token[VISITOR_TOKEN_MAX], back[VISITOR_USER_MAX], bad[VISITOR_TOKEN_MAX + 8];
    int64_t exp;
    assert_int_equal(visitor_token_mint(key, NULL, now, 3600000, user, token, &exp), 0);
    /* Expired: at and after the second it names. */
    assert_int_equal(visitor_token_verify(key, token, now + 3600000, back, &exp), VISITOR_EXPIRED);
    /* Another key. */
    assert_int_equal(visitor_token_verify("another key, also 32 bytes long!", token, now, back, &exp), VISITOR_FORGED);
    /* Any byte changed: the id (another visitor), the expiry (a longer life), the MAC. */
    size_t positions[] = {4, 10, 27, strlen(token) - 1, strlen(token) - 20};
    for (size_t i = 0; i < sizeof positions / sizeof *positions; i++) {
        snprintf(bad, sizeof bad, "%s", token);
        char *ch = &bad[positions[i]];
        *ch = *ch == 'A' ? 'B' : *ch == '9' ? '8' : (*ch >= '0' && *ch <= '8') ? (char)(*ch + 1) : 'A';
        enum visitor_verdict v = visitor_token_verify(key, bad, now, back, &exp);
        assert_true(v == VISITOR_FORGED || v == VISITOR_MALFORMED);
    }
    /* Shapes. */
    static const char *const shapes[] = {"", "cv1.", "cv1.abc.1.x", "cv2.AAAAAAAAAAAAAAAAAAAAAA.1.x",
                                         "cv1.AAAAAAAAAAAAAAAAAAAAAA..AAAA", "cv1.AAAAAAAAAAAAAAAAAAAAA!.1.AAAA",
                                         "cv1.한국어한국어한국어한국어.1.🙂"};
    for (size_t i = 0; i < sizeof shapes / sizeof *shapes; i++)
        assert_int_equal(visitor_token_verify(key, shapes[i], now, back, &exp), VISITOR_MALFORMED);
    /* A token with something appended is not the token. */
    snprintf(bad, sizeof bad, "%sA", token);
    assert_int_equal(visitor_token_verify(key, bad, now, back, &exp), VISITOR_MALFORMED);
    assert_false(visitor_token_like("eyJhbGciOi"));
    assert_false(visitor_token_like(NULL));
    assert_false(user_is_visitor("visitor"));
    assert_false(user_is_visitor(NULL));
}

static void rate(void **state)
{
    (void)state;
    struct addr_rate r;
    addr_rate_init(&r);
    int64_t retry = 0;
    for (int i = 0; i < 3; i++)
        assert_true(addr_rate_take(&r, "192.0.2.1", 3, now, &retry));
    assert_false(addr_rate_take(&r, "192.0.2.1", 3, now, &retry));
    /* One more after a third of the hour, not before. */
    assert_in_range(retry, 1199000, 1201000);
    assert_false(addr_rate_take(&r, "192.0.2.1", 3, now + 1000000, &retry));
    assert_true(addr_rate_take(&r, "192.0.2.1", 3, now + 1200001, &retry));
    /* Other addresses have their own. */
    assert_true(addr_rate_take(&r, "2001:db8::1", 3, now, &retry));
    /* 0: unlimited, remembers nothing. */
    for (int i = 0; i < 100; i++)
        assert_true(addr_rate_take(&r, "198.51.100.7", 0, now, &retry));
    assert_int_equal(addr_rate_count(&r), 2);
    /* Addresses whose bucket is full again are forgotten once the map grows. */
    char addr[64];
    for (int i = 0; i < 3000; i++) {
        snprintf(addr, sizeof addr, "10.0.%d.%d", i / 256, i % 256);
        assert_true(addr_rate_take(&r, addr, 3, now + (int64_t)i * 3600000, &retry));
    }
    assert_in_range(addr_rate_count(&r), 1, 2100);
    addr_rate_free(&r);
}

static void origins(void **state)
{
    (void)state;
    char *none[] = {NULL};
    char *some[] = {"https://shop.example", "http://127.0.0.1:8081", NULL};
    char *any[] = {"*", NULL};
    assert_true(origin_allowed(none, "https://evil.example"));
    assert_true(origin_allowed(NULL, "https://evil.example"));
    assert_true(origin_allowed(some, NULL));
    assert_true(origin_allowed(some, ""));
    assert_true(origin_allowed(some, "HTTPS://SHOP.EXAMPLE"));
    assert_false(origin_allowed(some, "https://evil.example"));
    assert_false(origin_cors_allowed(none, "https://shop.example"));
    assert_false(origin_cors_allowed(some, NULL));
    assert_true(origin_cors_allowed(some, "http://127.0.0.1:8081"));
    assert_false(origin_cors_allowed(some, "http://127.0.0.1:8082"));
    assert_true(origin_cors_allowed(any, "https://evil.example"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(mint_and_verify),
        cmocka_unit_test(refused),
        cmocka_unit_test(rate),
        cmocka_unit_test(origins),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
