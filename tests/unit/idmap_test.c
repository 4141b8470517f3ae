/* The id map: insert, replace, delete with backward shift, iterate. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "idmap.h"

static void put_get_delete_many(void **state)
{
    (void)state;
    struct idmap m;
    idmap_init(&m);
    const uint64_t n = 20000;
    for (uint64_t i = 1; i <= n; i++)
        assert_int_equal(idmap_put(&m, i, (void *)(uintptr_t)(i * 2)), 0);
    assert_int_equal(m.count, n);
    for (uint64_t i = 1; i <= n; i += 2)
        assert_ptr_equal(idmap_del(&m, i), (void *)(uintptr_t)(i * 2));
    for (uint64_t i = 1; i <= n; i++)
        assert_ptr_equal(idmap_get(&m, i), i % 2 ? NULL : (void *)(uintptr_t)(i * 2));
    size_t pos = 0, seen = 0;
    uint64_t id;
    void *v;
    while (idmap_next(&m, &pos, &id, &v)) {
        assert_int_equal(id % 2, 0);
        seen++;
    }
    assert_int_equal(seen, n / 2);
    assert_null(idmap_del(&m, 1));
    assert_null(idmap_get(&m, 0));
    idmap_free(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(put_get_delete_many)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
