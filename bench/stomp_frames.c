#include "stomp_frames.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

static void header_copy(char *dst, size_t size, const char *v, size_t n)
{
    if (dst[0])
        return; /* STOMP: the first of repeated headers counts */
    n = n < size - 1 ? n : size - 1;
    memcpy(dst, v, n);
    dst[n] = '\0';
}

static bool is_header(const char *name, size_t len, const char *want)
{
    return strlen(want) == len && memcmp(name, want, len) == 0;
}

/* v[0..n) as a number into *out: false when it is none. */
static bool number(const char *v, size_t n, bool integer, double *out)
{
    char num[32];
    if (n == 0 || n >= sizeof num)
        return false;
    memcpy(num, v, n);
    num[n] = '\0';
    char *e;
    *out = integer ? (double)strtol(num, &e, 10) : strtod(num, &e);
    return *e == '\0';
}

long sframe_head(const char *d, size_t len, long max_body, struct sframe *f)
{
    size_t pos = 0;
    bool first = true;
    memset(f, 0, sizeof *f);
    f->content_length = -1;
    for (;;) {
        const char *nl = memchr(d + pos, '\n', len - pos);
        if (!nl)
            return len > SF_MAX_HEAD ? -1 : 0;
        const char *line = d + pos;
        size_t ll = (size_t)(nl - line);
        if (ll && line[ll - 1] == '\r')
            ll--;
        pos = (size_t)(nl - d) + 1;
        if (pos > SF_MAX_HEAD)
            return -1;
        if (first) {
            header_copy(f->command, sizeof f->command, line, ll);
            first = false;
            continue;
        }
        if (ll == 0)
            return (long)pos;
        const char *colon = memchr(line, ':', ll);
        if (!colon)
            return -1;
        size_t nlen = (size_t)(colon - line), vlen = ll - nlen - 1;
        const char *v = colon + 1;
        double x;
        if (is_header(line, nlen, "event"))
            header_copy(f->event, sizeof f->event, v, vlen);
        else if (is_header(line, nlen, "room"))
            header_copy(f->room, sizeof f->room, v, vlen);
        else if (is_header(line, nlen, "sender"))
            header_copy(f->sender, sizeof f->sender, v, vlen);
        else if (is_header(line, nlen, "message"))
            header_copy(f->message, sizeof f->message, v, vlen);
        else if (is_header(line, nlen, "receipt-id"))
            header_copy(f->receipt, sizeof f->receipt, v, vlen);
        else if (is_header(line, nlen, "retry-after") && f->retry_after == 0 && number(v, vlen, false, &x) &&
                 x > 0 && x < 86400)
            f->retry_after = x;
        else if (is_header(line, nlen, "content-length") && f->content_length < 0) {
            if (!number(v, vlen, true, &x) || x < 0 || x > (double)max_body)
                return -1;
            f->content_length = (long)x;
        }
    }
}

int sframe_next(struct evbuffer *b, long max_body, struct sframe *f, size_t *head, size_t *body)
{
    size_t len = evbuffer_get_length(b);
    while (len) { /* heart-beats */
        unsigned char ch;
        evbuffer_copyout(b, &ch, 1);
        if (ch != '\n' && ch != '\r')
            break;
        evbuffer_drain(b, 1);
        len--;
    }
    if (!len)
        return 0;
    size_t want = len < 4096 ? len : 4096;
    long hl;
    for (;;) {
        hl = sframe_head((const char *)evbuffer_pullup(b, (ev_ssize_t)want), want, max_body, f);
        if (hl != 0 || want == len)
            break;
        want = want * 2 < len ? want * 2 : len;
    }
    if (hl <= 0)
        return (int)hl;
    if (f->content_length >= 0) {
        if (len < (size_t)hl + (size_t)f->content_length + 1)
            return 0;
        char nul;
        struct evbuffer_ptr at;
        evbuffer_ptr_set(b, &at, (size_t)hl + (size_t)f->content_length, EVBUFFER_PTR_SET);
        evbuffer_copyout_from(b, &at, &nul, 1);
        if (nul != '\0')
            return -1;
        *head = (size_t)hl;
        *body = (size_t)f->content_length;
        return 1;
    }
    struct evbuffer_ptr start;
    evbuffer_ptr_set(b, &start, (size_t)hl, EVBUFFER_PTR_SET);
    struct evbuffer_ptr z = evbuffer_search(b, "", 1, &start);
    if (z.pos < 0)
        return len - (size_t)hl > (size_t)max_body ? -1 : 0;
    if ((size_t)z.pos - (size_t)hl > (size_t)max_body)
        return -1;
    *head = (size_t)hl;
    *body = (size_t)z.pos - (size_t)hl;
    return 1;
}
