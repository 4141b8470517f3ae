/* The small text helpers chat-bench's scenarios share (bench.h). */
#include "bench.h"

#include <stdio.h>
#include <string.h>

void bench_expand(char *buf, size_t size, const char *pattern, size_t n)
{
    const char *p = strstr(pattern, "%d");
    if (!p)
        snprintf(buf, size, "%s", pattern);
    else
        snprintf(buf, size, "%.*s%zu%s", (int)(p - pattern), pattern, n, p + 2);
}

void bench_base64(const unsigned char *in, size_t len, char *out)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t o = 0;
    for (size_t i = 0; i < len; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16;
        if (i + 1 < len)
            v |= (uint32_t)in[i + 1] << 8;
        if (i + 2 < len)
            v |= in[i + 2];
        out[o++] = tab[(v >> 18) & 63];
        out[o++] = tab[(v >> 12) & 63];
        out[o++] = i + 1 < len ? tab[(v >> 6) & 63] : '=';
        out[o++] = i + 2 < len ? tab[v & 63] : '=';
    }
    out[o] = '\0';
}
