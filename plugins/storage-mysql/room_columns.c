#include "room_columns.h"

bool room_member_next(const char **p, const char *end, int64_t *role, const char **u, size_t *n)
{
    const char *q = *p;
    int64_t v[2] = {0, 0};
    for (int i = 0; i < 2; i++) {
        if (q == end || *q < '0' || *q > '9')
            return false;
        while (q < end && *q >= '0' && *q <= '9' && v[i] < INT32_MAX)
            v[i] = 10 * v[i] + (*q++ - '0');
        if (q == end || *q++ != ':')
            return false;
    }
    if ((size_t)(end - q) < (size_t)v[1])
        return false;
    *role = v[0];
    *u = q;
    *n = (size_t)v[1];
    *p = q + v[1];
    return true;
}

bool room_value_nums(const char *s, size_t len, uint64_t v[ROOM_VALUE_NUMS], const char **rest)
{
    const char *p = s, *end = s + len;
    for (int i = 0; i < ROOM_VALUE_NUMS; i++) {
        bool neg = p < end && *p == '-';
        p += neg;
        if (p == end || *p < '0' || *p > '9')
            return false;
        uint64_t x = 0;
        while (p < end && *p >= '0' && *p <= '9')
            x = 10 * x + (uint64_t)(*p++ - '0');
        if (p == end || *p++ != ',')
            return false;
        v[i] = neg ? 0 - x : x;
    }
    *rest = p;
    return true;
}

bool room_value_str(const char **p, const char *end, const char **s, size_t *n)
{
    const char *q = *p;
    *s = NULL;
    *n = 0;
    if (q < end && *q == '-') {
        if (q + 1 >= end || q[1] != ',')
            return false;
        *p = q + 2;
        return true;
    }
    size_t len = 0;
    if (q == end || *q < '0' || *q > '9')
        return false;
    while (q < end && *q >= '0' && *q <= '9' && len < SIZE_MAX / 16)
        len = 10 * len + (size_t)(*q++ - '0');
    if (q == end || *q++ != ':' || (size_t)(end - q) <= len || q[len] != ',')
        return false;
    *s = q;
    *n = len;
    *p = q + len + 1;
    return true;
}
