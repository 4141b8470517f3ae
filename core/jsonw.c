#include "jsonw.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* Length of the UTF-8 sequence at s (at most n bytes), 0 if it is not one
 * (overlong forms, surrogates and code points above U+10FFFF are not). */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    size_t len;
    uint32_t cp;
    if (c < 0x80)
        return 1;
    if ((c & 0xE0) == 0xC0) {
        len = 2;
        cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
        len = 3;
        cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
        len = 4;
        cp = c & 0x07;
    } else {
        return 0;
    }
    if (len > n)
        return 0;
    for (size_t k = 1; k < len; k++) {
        if ((s[k] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[k] & 0x3F);
    }
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10FFFF ||
        (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return len;
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
