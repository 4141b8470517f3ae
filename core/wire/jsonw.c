#include "wire/jsonw.h"

#include <stdlib.h>
#include <string.h>

#include "utf8.h"

static bool reserve(struct jsonw *w, size_t n)
{
    if (w->failed)
        return false;
    if (w->len + n + 1 <= w->cap)
        return true;
    size_t cap = w->cap ? w->cap : 256;
    while (cap < w->len + n + 1)
        cap *= 2;
    char *b = realloc(w->buf, cap);
    if (!b) {
        w->failed = true;
        return false;
    }
    w->buf = b;
    w->cap = cap;
    return true;
}

void jsonw_raw(struct jsonw *w, const char *s, size_t n)
{
    if (!reserve(w, n))
        return;
    memcpy(w->buf + w->len, s, n);
    w->len += n;
    w->buf[w->len] = '\0';
}

/* Whether a byte stands for itself inside a JSON string (ASCII but the
 * controls, '"' and '\\'). */
static inline bool plain_byte(unsigned char c)
{
    return c >= 0x20 && c < 0x80 && c != '"' && c != '\\';
}

/* Whether none of 8 bytes needs more than a copy: the classic tests for a
 * byte below a bound or equal to a value, on a whole word ("any" is exact). */
static inline bool word_plain(uint64_t x)
{
    const uint64_t ones = 0x0101010101010101u, high = 0x8080808080808080u;
    uint64_t q = x ^ (ones * '"'), b = x ^ (ones * '\\');
    uint64_t special = ((x - ones * 0x20) & ~x) | ((q - ones) & ~q) | ((b - ones) & ~b) | x;
    return (special & high) == 0;
}

static size_t plain_run(const unsigned char *s, size_t i, size_t n)
{
    uint64_t x;
    while (i + 8 <= n && (memcpy(&x, s + i, 8), word_plain(x)))
        i += 8;
    while (i < n && plain_byte(s[i]))
        i++;
    return i;
}

void jsonw_str(struct jsonw *w, const char *str, size_t n)
{
    if (!str) {
        jsonw_raw(w, "null", 4);
        return;
    }
    const unsigned char *s = (const unsigned char *)str;
    /* Worst case: every byte an escape of 6 (or U+FFFD's 3). */
    if (!reserve(w, 6 * n + 2))
        return;
    char *o = w->buf + w->len;
    *o++ = '"';
    size_t i = 0;
    while (i < n) {
        /* Most text is runs of plain bytes: copy each run at once. */
        size_t run = plain_run(s, i, n);
        if (run > i) {
            memcpy(o, s + i, run - i);
            o += run - i;
            i = run;
            if (i == n)
                break;
        }
        unsigned char c = s[i];
        if (c < 0x80) {
            static const char hex[] = "0123456789abcdef";
            *o++ = '\\';
            switch (c) {
            case '"': *o++ = '"'; break;
            case '\\': *o++ = '\\'; break;
            case '\n': *o++ = 'n'; break;
            case '\r': *o++ = 'r'; break;
            case '\t': *o++ = 't'; break;
            case '\b': *o++ = 'b'; break;
            case '\f': *o++ = 'f'; break;
            default:
                memcpy(o, "u00", 3);
                o[3] = hex[c >> 4];
                o[4] = hex[c & 15];
                o += 5;
                break;
            }
            i++;
            continue;
        }
        size_t len = utf8_seq(s + i, n - i);
        if (len) {
            memcpy(o, s + i, len);
            o += len;
            i += len;
        } else {
            memcpy(o, "\xEF\xBF\xBD", 3); /* U+FFFD for one stray byte */
            o += 3;
            i++;
        }
    }
    *o++ = '"';
    w->len = (size_t)(o - w->buf);
    w->buf[w->len] = '\0';
}

void jsonw_cstr(struct jsonw *w, const char *s)
{
    jsonw_str(w, s, s ? strlen(s) : 0);
}

/* Decimal digits of v, written backwards ending at end; returns the first. */
static char *u64_digits(uint64_t v, char *end)
{
    do {
        *--end = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    return end;
}

void jsonw_i64(struct jsonw *w, int64_t v)
{
    char b[24], *end = b + sizeof b;
    /* The magnitude as unsigned: -INT64_MIN does not fit an int64_t. */
    char *p = u64_digits(v < 0 ? 0 - (uint64_t)v : (uint64_t)v, end);
    if (v < 0)
        *--p = '-';
    jsonw_raw(w, p, (size_t)(end - p));
}

void jsonw_u64(struct jsonw *w, uint64_t v)
{
    char b[24], *end = b + sizeof b;
    char *p = u64_digits(v, end);
    jsonw_raw(w, p, (size_t)(end - p));
}

void jsonw_key(struct jsonw *w, const char *key, bool first)
{
    size_t n = strlen(key);
    if (!reserve(w, n + 4))
        return;
    char *o = w->buf + w->len;
    if (!first)
        *o++ = ',';
    *o++ = '"';
    memcpy(o, key, n);
    o += n;
    *o++ = '"';
    *o++ = ':';
    w->len = (size_t)(o - w->buf);
    w->buf[w->len] = '\0';
}

char *jsonw_take(struct jsonw *w, size_t *len)
{
    if (w->failed || !reserve(w, 0)) {
        jsonw_free(w);
        return NULL;
    }
    char *b = w->buf;
    *len = w->len;
    *w = (struct jsonw){0};
    return b;
}

void jsonw_free(struct jsonw *w)
{
    free(w->buf);
    *w = (struct jsonw){0};
}
