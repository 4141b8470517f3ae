#include "http/http_range.h"

#include <ctype.h>
#include <stdbool.h>
#include <string.h>
#include <strings.h>

/* Decimal digits at *p into *v (no sign, no overflow); false if none. */
static bool number(const char **p, uint64_t *v)
{
    const char *s = *p;
    uint64_t n = 0;
    if (!isdigit((unsigned char)*s))
        return false;
    for (; isdigit((unsigned char)*s); s++) {
        unsigned d = (unsigned)(*s - '0');
        if (n > (UINT64_MAX - d) / 10)
            return false;
        n = n * 10 + d;
    }
    *v = n;
    *p = s;
    return true;
}

static const char *blanks(const char *p)
{
    while (*p == ' ' || *p == '\t')
        p++;
    return p;
}

enum http_range http_range_parse(const char *header, uint64_t length, uint64_t *first, uint64_t *last)
{
    if (!header)
        return HTTP_RANGE_NONE;
    const char *p = blanks(header);
    if (strncasecmp(p, "bytes", 5) != 0)
        return HTTP_RANGE_NONE;
    p = blanks(p + 5);
    if (*p++ != '=')
        return HTTP_RANGE_NONE;
    p = blanks(p);
    uint64_t a = 0, b = 0;
    bool has_a = number(&p, &a);
    p = blanks(p);
    if (*p++ != '-')
        return HTTP_RANGE_NONE;
    p = blanks(p);
    bool has_b = number(&p, &b);
    if (*blanks(p) != '\0') /* several ranges, or trailing junk */
        return HTTP_RANGE_NONE;
    if (!has_a && !has_b)
        return HTTP_RANGE_NONE;
    if (!has_a) { /* the last b bytes */
        if (b == 0 || length == 0)
            return HTTP_RANGE_UNSATISFIABLE;
        *first = b >= length ? 0 : length - b;
        *last = length - 1;
        return HTTP_RANGE_OK;
    }
    if (has_b && b < a)
        return HTTP_RANGE_NONE; /* invalid: ignored */
    if (a >= length)
        return HTTP_RANGE_UNSATISFIABLE;
    *first = a;
    *last = !has_b || b >= length ? length - 1 : b;
    return HTTP_RANGE_OK;
}
