#include "jsonw.h"

#include <stdio.h>
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
        unsigned char c = s[i];
        if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
            *o++ = (char)c;
            i++;
            continue;
        }
        if (c < 0x80) {
            *o++ = '\\';
            switch (c) {
            case '"': *o++ = '"'; break;
            case '\\': *o++ = '\\'; break;
            case '\n': *o++ = 'n'; break;
            case '\r': *o++ = 'r'; break;
            case '\t': *o++ = 't'; break;
            case '\b': *o++ = 'b'; break;
            case '\f': *o++ = 'f'; break;
            default: o += sprintf(o, "u%04x", c); break;
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

void jsonw_i64(struct jsonw *w, int64_t v)
{
    char b[24];
    int n = snprintf(b, sizeof b, "%lld", (long long)v);
    jsonw_raw(w, b, (size_t)n);
}

void jsonw_u64(struct jsonw *w, uint64_t v)
{
    char b[24];
    int n = snprintf(b, sizeof b, "%llu", (unsigned long long)v);
    jsonw_raw(w, b, (size_t)n);
}

void jsonw_key(struct jsonw *w, const char *key, bool first)
{
    if (!first)
        jsonw_raw(w, ",", 1);
    jsonw_cstr(w, key);
    jsonw_raw(w, ":", 1);
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
