/* SockJS framing for chat-bench: JSON strings out, 'a' arrays in. */
#include "sockjs_frames.h"

#include <event2/buffer.h>
#include <stdint.h>
#include <string.h>

int sj_append_string(struct evbuffer *out, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    struct evbuffer_iovec v;
    /* Worst case: every byte a six-byte \u00XX escape, plus the quotes. */
    if (evbuffer_reserve_space(out, (ev_ssize_t)(n * 6 + 2), &v, 1) < 1)
        return -1;
    char *p = v.iov_base, *start = p;
    *p++ = '"';
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            *p++ = '\\';
            *p++ = (char)c;
        } else if (c == '\n') {
            *p++ = '\\';
            *p++ = 'n';
        } else if (c < 0x20) {
            memcpy(p, "\\u00", 4);
            p[4] = hex[c >> 4];
            p[5] = hex[c & 15];
            p += 6;
        } else {
            *p++ = (char)c;
        }
    }
    *p++ = '"';
    v.iov_len = (size_t)(p - start);
    return evbuffer_commit_space(out, &v, 1);
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static int utf8(uint32_t cp, char *o)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xc0 | cp >> 6);
        o[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xe0 | cp >> 12);
        o[1] = (char)(0x80 | (cp >> 6 & 0x3f));
        o[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    o[0] = (char)(0xf0 | cp >> 18);
    o[1] = (char)(0x80 | (cp >> 12 & 0x3f));
    o[2] = (char)(0x80 | (cp >> 6 & 0x3f));
    o[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

/* Reads \uXXXX at p (after the backslash-u); -1 when malformed. */
static long hex4(const char *p, const char *end)
{
    if (end - p < 4)
        return -1;
    long v = 0;
    for (int i = 0; i < 4; i++) {
        int h = hexval(p[i]);
        if (h < 0)
            return -1;
        v = v << 4 | h;
    }
    return v;
}

int sj_decode_array(const char *p, size_t n, struct evbuffer *out)
{
    const char *end = p + n;
    if (p == end || *p++ != '[')
        return -1;
    for (;;) {
        while (p < end && (*p == ' ' || *p == ','))
            p++;
        if (p == end)
            return -1;
        if (*p == ']')
            return 0;
        if (*p++ != '"')
            return -1;
        const char *run = p;
        for (;;) {
            if (p == end)
                return -1;
            if (*p == '"')
                break;
            if (*p != '\\') {
                p++;
                continue;
            }
            evbuffer_add(out, run, (size_t)(p - run));
            if (++p == end)
                return -1;
            char o[8];
            int ol = 1;
            switch (*p++) {
            case 'n': o[0] = '\n'; break;
            case 'r': o[0] = '\r'; break;
            case 't': o[0] = '\t'; break;
            case 'b': o[0] = '\b'; break;
            case 'f': o[0] = '\f'; break;
            case '/': o[0] = '/'; break;
            case '\\': o[0] = '\\'; break;
            case '"': o[0] = '"'; break;
            case 'u': {
                long cp = hex4(p, end);
                if (cp < 0)
                    return -1;
                p += 4;
                if (cp >= 0xd800 && cp < 0xdc00 && end - p >= 6 && p[0] == '\\' && p[1] == 'u') {
                    long lo = hex4(p + 2, end);
                    if (lo >= 0xdc00 && lo < 0xe000) {
                        cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                        p += 6;
                    }
                }
                ol = utf8((uint32_t)cp, o);
                break;
            }
            default:
                return -1;
            }
            evbuffer_add(out, o, (size_t)ol);
            run = p;
        }
        evbuffer_add(out, run, (size_t)(p - run));
        p++; /* the closing quote */
    }
}
