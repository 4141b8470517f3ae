/* auth-static's cache of verified passwords: keys, TTL, the bound, and
 * that two caches (a reload's new instance) share nothing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "verify_cache.h"

static void key(const struct verify_cache *c, const char *user, const char *pass, unsigned char k[VERIFY_KEY_LEN])
{
    assert_int_equal(verify_cache_key(c, user, pass, k), 0);
}

static void hit_until_ttl(void **state)
{
    (void)state;
    struct verify_cache *c = verify_cache_new(8, 60000);
    assert_non_null(c);
    unsigned char k[VERIFY_KEY_LEN];
    key(c, "alice", "s3cret", k);
    assert_false(verify_cache_hit(c, k, 1000));
    verify_cache_put(c, k, 1000);
    assert_true(verify_cache_hit(c, k, 1000));
    assert_true(verify_cache_hit(c, k, 60999));
    assert_false(verify_cache_hit(c, k, 61000)); /* ttl_ms after the verification */
    /* A hit does not extend it; a new verification does. */
    verify_cache_put(c, k, 61000);
    assert_true(verify_cache_hit(c, k, 62000));
    assert_int_equal(verify_cache_count(c), 1);
    verify_cache_free(c);
}

static void keys_tell_user_and_password_apart(void **state)
{
    (void)state;
    struct verify_cache *c = verify_cache_new(8, 60000);
    unsigned char a[VERIFY_KEY_LEN], b[VERIFY_KEY_LEN], d[VERIFY_KEY_LEN], e[VERIFY_KEY_LEN], f[VERIFY_KEY_LEN];
    key(c, "ab", "c", a);
    key(c, "a", "bc", b); /* the NUL between them */
    key(c, "ab", "C", d);
    key(c, "민지", "비밀번호🔑", e);
    key(c, "민지", "비밀번호🔑", f);
    assert_memory_not_equal(a, b, VERIFY_KEY_LEN);
    assert_memory_not_equal(a, d, VERIFY_KEY_LEN);
    assert_memory_equal(e, f, VERIFY_KEY_LEN);
    verify_cache_put(c, a, 0);
    verify_cache_put(c, e, 0);
    assert_true(verify_cache_hit(c, a, 1));
    assert_false(verify_cache_hit(c, b, 1));
    assert_false(verify_cache_hit(c, d, 1));
    assert_true(verify_cache_hit(c, f, 1));
    verify_cache_free(c);
}

static void salt_differs_between_caches(void **state)
{
    (void)state;
    struct verify_cache *c1 = verify_cache_new(8, 60000), *c2 = verify_cache_new(8, 60000);
    unsigned char k1[VERIFY_KEY_LEN], k2[VERIFY_KEY_LEN];
    key(c1, "alice", "pw", k1);
    key(c2, "alice", "pw", k2);
    assert_memory_not_equal(k1, k2, VERIFY_KEY_LEN);
    verify_cache_put(c1, k1, 0);
    assert_false(verify_cache_hit(c2, k1, 1)); /* a reload's new cache knows nothing */
    verify_cache_free(c1);
    verify_cache_free(c2);
}

static void bounded_oldest_goes_first(void **state)
{
    (void)state;
    const size_t cap = 100;
    struct verify_cache *c = verify_cache_new(cap, 60000);
    unsigned char k[3 * 100][VERIFY_KEY_LEN];
    char user[32];
    for (size_t i = 0; i < 3 * cap; i++) {
        snprintf(user, sizeof user, "user%zu", i);
        key(c, user, "pw", k[i]);
        verify_cache_put(c, k[i], (int64_t)i);
        assert_true(verify_cache_count(c) <= cap);
    }
    assert_int_equal(verify_cache_count(c), cap);
    for (size_t i = 0; i < 2 * cap; i++)
        assert_false(verify_cache_hit(c, k[i], 300));
    for (size_t i = 2 * cap; i < 3 * cap; i++)
        assert_true(verify_cache_hit(c, k[i], 300));
    verify_cache_free(c);
}

static void disabled_never_hits(void **state)
{
    (void)state;
    struct verify_cache *none[] = {verify_cache_new(0, 60000), verify_cache_new(100, 0)};
    for (size_t i = 0; i < 2; i++) {
        assert_non_null(none[i]);
        unsigned char k[VERIFY_KEY_LEN];
        key(none[i], "alice", "pw", k);
        verify_cache_put(none[i], k, 0);
        assert_false(verify_cache_hit(none[i], k, 0));
        assert_int_equal(verify_cache_count(none[i]), 0);
        verify_cache_free(none[i]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(hit_until_ttl),
        cmocka_unit_test(keys_tell_user_and_password_apart),
        cmocka_unit_test(salt_differs_between_caches),
        cmocka_unit_test(bounded_oldest_goes_first),
        cmocka_unit_test(disabled_never_hits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
