/* Fuzz the MariaDB plugin's packed room columns
 * (plugins/storage-mysql/room_columns.h): a page read's room value and a
 * room look-up's members. Every pointer answered lies inside the input
 * (ASan sees the input as a copy of exactly its size), every step moves
 * forward, and a value the plugin would write reads back as written:
 * numbers, "-" and "LENGTH:bytes" strings (bytes with ',' and ':' in
 * them, Korean and emoji too), then members. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "room_columns.h"

static void walk(const char *s, size_t len)
{
    const char *end = s + len, *p;
    uint64_t v[ROOM_VALUE_NUMS];
    if (room_value_nums(s, len, v, &p)) {
        if (p < s || p > end)
            abort();
        for (int i = 0; i < 5; i++) {
            const char *str, *before = p;
            size_t n;
            if (!room_value_str(&p, end, &str, &n))
                break;
            if (p <= before || p > end || (str && (str < s || str + n > end)))
                abort();
        }
        s = p;
    }
    p = s;
    int64_t role;
    const char *u;
    size_t n;
    while (p < end) {
        const char *before = p;
        if (!room_member_next(&p, end, &role, &u, &n))
            break;
        if (p <= before || p > end || u < s || u + n > end)
            abort();
    }
}

/* A value as the plugin's SQL writes it, from the fuzzer's bytes. */
static void round_trip(const uint8_t *data, size_t size)
{
    const char *strs[5] = {NULL, "안녕 😀", ",:,", "", NULL};
    size_t half = size / 2;
    char *buf = malloc(256 + 2 * size);
    if (!buf)
        return;
    int w = snprintf(buf, 256, "%llu,%d,1,2,-5,6,7,3,9,", (unsigned long long)size * 1000003u, (int)(size & 1));
    strs[4] = (const char *)data; /* its first `half` bytes, whatever they are */
    for (int i = 0; i < 5; i++) {
        size_t n = i == 4 ? half : strs[i] ? strlen(strs[i]) : 0;
        if (!strs[i]) {
            memcpy(buf + w, "-,", 2);
            w += 2;
            continue;
        }
        w += sprintf(buf + w, "%zu:", n);
        memcpy(buf + w, strs[i], n);
        w += (int)n;
        buf[w++] = ',';
    }
    /* one member: role 2, the rest of the bytes as the user id */
    w += sprintf(buf + w, "2:%zu:", size - half);
    memcpy(buf + w, data + half, size - half);
    w += (int)(size - half);
    const char *end = buf + w, *p;
    uint64_t v[ROOM_VALUE_NUMS];
    if (!room_value_nums(buf, (size_t)w, v, &p) || v[0] != (uint64_t)size * 1000003u || v[4] != (uint64_t)-5)
        abort();
    for (int i = 0; i < 5; i++) {
        const char *s;
        size_t n;
        if (!room_value_str(&p, end, &s, &n))
            abort();
        size_t want = i == 4 ? half : strs[i] ? strlen(strs[i]) : 0;
        if ((strs[i] == NULL) != (s == NULL) || n != want || (s && memcmp(s, strs[i], n) != 0))
            abort();
    }
    int64_t role;
    const char *u;
    size_t n;
    if (!room_member_next(&p, end, &role, &u, &n) || role != 2 || n != size - half || memcmp(u, data + half, n) != 0 ||
        p != end)
        abort();
    free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *copy = malloc(size ? size : 1);
    if (!copy)
        return 0;
    memcpy(copy, data, size);
    walk(copy, size);
    free(copy);
    round_trip(data, size);
    return 0;
}
