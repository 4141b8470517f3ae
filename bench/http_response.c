/* chat-bench: reading an HTTP/1.1 response (see http_response.h). */
#include "http_response.h"

#include <string.h>
#include <strings.h>

/* The end of the line starting at p (the LF), or NULL. */
static const char *line_end(const char *p, const char *end)
{
    return memchr(p, '\n', (size_t)(end - p));
}

/* A line without its CR LF (or bare LF). */
static size_t line_len(const char *p, const char *nl)
{
    size_t n = (size_t)(nl - p);
    return n && p[n - 1] == '\r' ? n - 1 : n;
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t';
}

/* Decimal digits only, no sign, at most max: 0, or -1 when not that. */
static int parse_decimal(const char *p, size_t n, size_t max, size_t *out)
{
    size_t v = 0;
    if (n == 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return -1;
        v = v * 10 + (size_t)(p[i] - '0');
        if (v > max)
            return -1;
    }
    *out = v;
    return 0;
}

/* A chunk size line's hex number, up to ';' (extensions are ignored). */
static int parse_chunk_size(const char *p, size_t n, size_t *out)
{
    size_t v = 0, digits = 0;
    for (size_t i = 0; i < n; i++) {
        char c = p[i];
        int d;
        if (c >= '0' && c <= '9')
            d = c - '0';
        else if (c >= 'a' && c <= 'f')
            d = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            d = c - 'A' + 10;
        else if (c == ';' || is_space(c))
            break;
        else
            return -1;
        v = v * 16 + (size_t)d;
        if (v > HTTP_RESPONSE_MAX_BODY)
            return -1;
        digits++;
    }
    if (!digits)
        return -1;
    *out = v;
    return 0;
}

/* header value, trimmed */
static void trim(const char **v, size_t *n)
{
    while (*n && is_space(**v))
        (*v)++, (*n)--;
    while (*n && is_space((*v)[*n - 1]))
        (*n)--;
}

static enum http_parse read_chunked(const char *p, const char *end, char *body, size_t body_cap,
                                    struct http_response *out, const char *in)
{
    size_t got = 0;
    for (;;) {
        const char *nl = line_end(p, end);
        if (!nl)
            return (size_t)(end - p) > 1024 ? HTTP_BAD : HTTP_MORE;
        size_t size;
        if (parse_chunk_size(p, line_len(p, nl), &size) < 0)
            return HTTP_BAD;
        p = nl + 1;
        if (size == 0) {
            /* Trailers (ignored), then the blank line. */
            for (;;) {
                nl = line_end(p, end);
                if (!nl)
                    return (size_t)(end - p) > HTTP_RESPONSE_MAX_HEAD ? HTTP_BAD : HTTP_MORE;
                size_t ll = line_len(p, nl);
                p = nl + 1;
                if (ll == 0) {
                    out->body_len = got;
                    out->consumed = (size_t)(p - in);
                    return HTTP_DONE;
                }
            }
        }
        if (size > body_cap - got)
            return HTTP_BAD;
        if ((size_t)(end - p) < size)
            return HTTP_MORE;
        if (size)
            memcpy(body + got, p, size);
        got += size;
        p += size;
        /* The chunk's own CR LF. */
        if (p == end)
            return HTTP_MORE;
        if (*p == '\r') {
            if (++p == end)
                return HTTP_MORE;
        }
        if (*p != '\n')
            return HTTP_BAD;
        p++;
    }
}

enum http_parse http_response_parse(const char *in, size_t len, bool eof, char *body, size_t body_cap,
                                    struct http_response *out)
{
    const char *p = in, *end = in + len;
    memset(out, 0, sizeof *out);
    if (!body)
        body_cap = 0;

    /* Status line: HTTP/1.x SSS reason */
    const char *nl = line_end(p, end);
    if (!nl)
        return len > HTTP_RESPONSE_MAX_HEAD ? HTTP_BAD : HTTP_MORE;
    size_t ll = line_len(p, nl);
    if (ll < 12 || memcmp(p, "HTTP/1.", 7) != 0 || (p[7] != '0' && p[7] != '1') || p[8] != ' ' ||
        (ll > 12 && p[12] != ' '))
        return HTTP_BAD;
    size_t status;
    if (parse_decimal(p + 9, 3, 999, &status) < 0 || status < 100 || status > 599)
        return HTTP_BAD;
    if (status < 200)
        return HTTP_BAD;
    out->status = (int)status;
    p = nl + 1;

    /* Headers. */
    bool have_length = false, chunked = false;
    size_t length = 0;
    for (;;) {
        nl = line_end(p, end);
        if (!nl)
            return len > HTTP_RESPONSE_MAX_HEAD ? HTTP_BAD : HTTP_MORE;
        if ((size_t)(nl - in) >= HTTP_RESPONSE_MAX_HEAD)
            return HTTP_BAD;
        ll = line_len(p, nl);
        const char *line = p;
        p = nl + 1;
        if (ll == 0)
            break;
        if (is_space(line[0]))
            return HTTP_BAD;  /* obsolete line folding */
        const char *colon = memchr(line, ':', ll);
        if (!colon || colon == line)
            return HTTP_BAD;
        size_t nlen = (size_t)(colon - line);
        const char *v = colon + 1;
        size_t vlen = ll - nlen - 1;
        trim(&v, &vlen);
        if (nlen == 14 && strncasecmp(line, "Content-Length", 14) == 0) {
            size_t n;
            if (parse_decimal(v, vlen, HTTP_RESPONSE_MAX_BODY, &n) < 0 || (have_length && n != length))
                return HTTP_BAD;
            have_length = true;
            length = n;
        } else if (nlen == 17 && strncasecmp(line, "Transfer-Encoding", 17) == 0) {
            if (vlen == 7 && strncasecmp(v, "chunked", 7) == 0)
                chunked = true;
            else if (!(vlen == 8 && strncasecmp(v, "identity", 8) == 0))
                return HTTP_BAD;
        }
    }
    out->head_len = (size_t)(p - in);
    if (chunked && have_length)
        return HTTP_BAD;
    if (status == 204 || status == 304) {
        out->consumed = out->head_len;
        return HTTP_DONE;
    }
    if (chunked)
        return read_chunked(p, end, body, body_cap, out, in);
    if (have_length) {
        if (length > body_cap)
            return HTTP_BAD;
        if ((size_t)(end - p) < length)
            return HTTP_MORE;
        if (length)
            memcpy(body, p, length);
        out->body_len = length;
        out->consumed = out->head_len + length;
        return HTTP_DONE;
    }
    /* Neither: the body runs to the close. */
    size_t n = (size_t)(end - p);
    if (n > body_cap)
        return HTTP_BAD;
    if (!eof)
        return HTTP_MORE;
    if (n)
        memcpy(body, p, n);
    out->body_len = n;
    out->consumed = len;
    return HTTP_DONE;
}
