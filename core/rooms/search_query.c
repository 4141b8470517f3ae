#include "rooms/search_query.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <chatd/plugin.h>

#include "rooms/room_rules.h"
#include "utf8.h"

static bool is_space(unsigned char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\f' || ch == '\v';
}

const char *search_query_check(const char *q, char *out, size_t len, char *why, size_t whylen)
{
    if (!q)
        q = "";
    size_t n = strlen(q);
    while (n && is_space((unsigned char)*q))
        q++, n--;
    while (n && is_space((unsigned char)q[n - 1]))
        n--;
    if (!utf8_valid((const unsigned char *)q, n)) {
        snprintf(why, whylen, "q is not UTF-8");
        return NULL;
    }
    size_t chars = 0;
    for (size_t i = 0; i < n; chars++) {
        unsigned char ch = (unsigned char)q[i];
        if (ch < 0x20 || ch == 0x7f) {
            snprintf(why, whylen, "q holds a control character");
            return NULL;
        }
        i += utf8_seq((const unsigned char *)q + i, n - i);
    }
    if (chars < CHATD_SEARCH_MIN_CHARS || chars > SEARCH_QUERY_MAX_CHARS || n >= len) {
        snprintf(why, whylen, "q is %d to %d characters, not counting white space at either end",
                 CHATD_SEARCH_MIN_CHARS, SEARCH_QUERY_MAX_CHARS);
        return NULL;
    }
    memcpy(out, q, n);
    out[n] = '\0';
    return out;
}

/* The code point of the valid UTF-8 sequence at s, n bytes long. */
static uint32_t code_point(const unsigned char *s, size_t n)
{
    if (n == 1)
        return s[0];
    uint32_t cp = s[0] & (0x7f >> n);
    for (size_t i = 1; i < n; i++)
        cp = (cp << 6) | (s[i] & 0x3f);
    return cp;
}

const char *search_query_json(const char *query, char *out, size_t len)
{
    const unsigned char *q = (const unsigned char *)query;
    size_t n = strlen(query), w = 0;
    bool same = true;
    for (size_t i = 0; i < n;) {
        size_t k = utf8_seq(q + i, n - i);
        if (!k)
            return NULL;
        uint32_t cp = code_point(q + i, k);
        char buf[16];
        size_t m;
        if (cp == '"' || cp == '\\')
            m = (size_t)snprintf(buf, sizeof buf, "\\%c", (char)cp);
        else if (cp < 0x80)
            m = (size_t)snprintf(buf, sizeof buf, "%c", (char)cp);
        else if (cp < 0x10000)
            m = (size_t)snprintf(buf, sizeof buf, "\\u%04x", (unsigned)cp);
        else
            m = (size_t)snprintf(buf, sizeof buf, "\\u%04x\\u%04x", (unsigned)(0xd800 + ((cp - 0x10000) >> 10)),
                                 (unsigned)(0xdc00 + ((cp - 0x10000) & 0x3ff)));
        same &= cp < 0x80 && cp != '"' && cp != '\\';
        if (w + m >= len)
            return NULL;
        memcpy(out + w, buf, m);
        w += m;
        i += k;
    }
    out[w] = '\0';
    return same ? NULL : out;
}

static unsigned char ascii_lower(unsigned char ch)
{
    return ch >= 'A' && ch <= 'Z' ? (unsigned char)(ch - 'A' + 'a') : ch;
}

bool search_text_holds(const char *text, size_t len, const char *query)
{
    size_t qlen = strlen(query);
    for (size_t i = 0; qlen <= len && i <= len - qlen; i++) {
        size_t k = 0;
        while (k < qlen && ascii_lower((unsigned char)text[i + k]) == ascii_lower((unsigned char)query[k]))
            k++;
        if (k == qlen)
            return true;
    }
    return false;
}

static bool digits(const char *s, size_t n, uint64_t *out)
{
    uint64_t v = 0;
    if (n == 0 || n > 19)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    *out = v;
    return true;
}

bool search_cursor_parse(const char *s, struct search_cursor *c)
{
    const char *dot1 = strchr(s, '.');
    const char *dot2 = dot1 ? strchr(dot1 + 1, '.') : NULL;
    uint64_t ts, seq;
    if (!dot2 || !digits(s, (size_t)(dot1 - s), &ts) || ts > INT64_MAX ||
        !digits(dot1 + 1, (size_t)(dot2 - dot1 - 1), &seq) || seq == 0 || !room_valid_id(dot2 + 1, strlen(dot2 + 1)))
        return false;
    c->ts_ms = (int64_t)ts;
    c->seq = seq;
    snprintf(c->room, sizeof c->room, "%s", dot2 + 1);
    return true;
}

void search_cursor_format(const struct search_cursor *c, char out[SEARCH_CURSOR_MAX])
{
    snprintf(out, SEARCH_CURSOR_MAX, "%" PRId64 ".%" PRIu64 ".%s", c->ts_ms, c->seq, c->room);
}
