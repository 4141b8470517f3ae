/* Range request headers (RFC 9110, 14.2) as the file download reads them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "http/http_range.h"

static void range(const char *h, uint64_t length, enum http_range want, uint64_t first, uint64_t last)
{
    uint64_t a = 99, b = 99;
    assert_int_equal(http_range_parse(h, length, &a, &b), want);
    if (want == HTTP_RANGE_OK) {
        assert_int_equal(a, first);
        assert_int_equal(b, last);
    }
}

static void ranges(void **state)
{
    (void)state;
    range("bytes=0-99", 1000, HTTP_RANGE_OK, 0, 99);
    range("bytes=100-", 1000, HTTP_RANGE_OK, 100, 999);
    range("bytes=-100", 1000, HTTP_RANGE_OK, 900, 999);
    range("bytes=-5000", 1000, HTTP_RANGE_OK, 0, 999);
    range("bytes=990-5000", 1000, HTTP_RANGE_OK, 990, 999);
    range("bytes=999-999", 1000, HTTP_RANGE_OK, 999, 999);
    range("Bytes = 5 - 9 ", 1000, HTTP_RANGE_OK, 5, 9);
    /* Unsatisfiable: 416. */
    range("bytes=1000-", 1000, HTTP_RANGE_UNSATISFIABLE, 0, 0);
    range("bytes=1000-2000", 1000, HTTP_RANGE_UNSATISFIABLE, 0, 0);
    range("bytes=-0", 1000, HTTP_RANGE_UNSATISFIABLE, 0, 0);
    range("bytes=0-", 0, HTTP_RANGE_UNSATISFIABLE, 0, 0);
    range("bytes=-1", 0, HTTP_RANGE_UNSATISFIABLE, 0, 0);
    /* Ignored: the whole file. */
    range(NULL, 1000, HTTP_RANGE_NONE, 0, 0);
    range("", 1000, HTTP_RANGE_NONE, 0, 0);
    range("bytes=", 1000, HTTP_RANGE_NONE, 0, 0);
    range("bytes=-", 1000, HTTP_RANGE_NONE, 0, 0);
    range("bytes=9-5", 1000, HTTP_RANGE_NONE, 0, 0);
    range("bytes=0-1,5-6", 1000, HTTP_RANGE_NONE, 0, 0);
    range("items=0-1", 1000, HTTP_RANGE_NONE, 0, 0);
    range("bytes=a-b", 1000, HTTP_RANGE_NONE, 0, 0);
    range("bytes=+1-2", 1000, HTTP_RANGE_NONE, 0, 0);
    range("bytes=99999999999999999999-", 1000, HTTP_RANGE_NONE, 0, 0);
    range("bytes=0-99999999999999999999", 1000, HTTP_RANGE_NONE, 0, 0);
    range("bytes 0-1", 1000, HTTP_RANGE_NONE, 0, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(ranges)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
