/* The REST route table's matcher: literal and {} segments, 404 against 405,
 * parameters handed over as they are (Korean user names too). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "http/http_routes.h"

static const struct route table[] = {
    {"*", "/healthz", 1, 0},
    {"GET", "/api/rooms", 2, 1},
    {"POST", "/api/rooms", 2, 2},
    {"GET", "/api/rooms/{}", 2, 3},
    {"DELETE", "/api/rooms/{}/members/{}", 2, 4},
    {"PUT", "/api/rooms/{}/members/{}/role", 2, 5},
};
#define N (sizeof table / sizeof *table)

static enum route_result match(const char *method, const char *path, size_t *i, struct route_params *p, char *allow)
{
    return route_match(table, N, method, path, i, p, allow, 64);
}

static void literal_and_any_method(void **state)
{
    (void)state;
    size_t i;
    struct route_params p;
    char allow[64];
    assert_int_equal(match("HEAD", "/healthz", &i, &p, allow), ROUTE_FOUND);
    assert_int_equal(i, 0);
    assert_int_equal(p.n, 0);
    assert_int_equal(match("POST", "/api/rooms", &i, &p, allow), ROUTE_FOUND);
    assert_int_equal(table[i].request, 2);
}

static void parameters(void **state)
{
    (void)state;
    size_t i;
    struct route_params p;
    char allow[64];
    const char *path = "/api/rooms/r1f/members/김민지/role";
    assert_int_equal(match("PUT", path, &i, &p, allow), ROUTE_FOUND);
    assert_int_equal(table[i].request, 5);
    assert_int_equal(p.n, 2);
    assert_int_equal(p.len[0], 3);
    assert_memory_equal(p.v[0], "r1f", 3);
    assert_int_equal(p.len[1], strlen("김민지"));
    assert_memory_equal(p.v[1], "김민지", strlen("김민지"));
}

static void not_found_and_not_allowed(void **state)
{
    (void)state;
    size_t i;
    struct route_params p;
    char allow[64];
    assert_int_equal(match("GET", "/api/nothing", &i, &p, allow), ROUTE_NO_PATH);
    assert_int_equal(match("GET", "/api/rooms/", &i, &p, allow), ROUTE_NO_PATH);   /* {} is never empty */
    assert_int_equal(match("GET", "/api/rooms//x", &i, &p, allow), ROUTE_NO_PATH);
    assert_int_equal(match("GET", "/api/roomsx", &i, &p, allow), ROUTE_NO_PATH);
    assert_int_equal(match("GET", "/api/rooms/r1/members/a/b", &i, &p, allow), ROUTE_NO_PATH);
    assert_int_equal(match("GET", "", &i, &p, allow), ROUTE_NO_PATH);
    assert_int_equal(match("DELETE", "/api/rooms", &i, &p, allow), ROUTE_NO_METHOD);
    assert_string_equal(allow, "GET, POST");
    assert_int_equal(match("GET", "/api/rooms/r1/members/bob", &i, &p, allow), ROUTE_NO_METHOD);
    assert_string_equal(allow, "DELETE");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(literal_and_any_method),
        cmocka_unit_test(parameters),
        cmocka_unit_test(not_found_and_not_allowed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
