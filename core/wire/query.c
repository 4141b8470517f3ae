#include "wire/query.h"

#include <stdlib.h>
#include <string.h>

static int hexval(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

const char *query_param(const char *query, const char *name, char *buf, size_t len)
{
    if (!len)
        return NULL;
    size_t nl = strlen(name);
    for (const char *p = query; p && *p;) {
        const char *amp = strchr(p, '&');
        const char *end = amp ? amp : p + strlen(p);
        if ((size_t)(end - p) > nl && strncmp(p, name, nl) == 0 && p[nl] == '=') {
            size_t o = 0;
            for (const char *v = p + nl + 1; v < end && o + 1 < len; v++) {
                if (*v == '%' && end - v >= 3 && hexval(v[1]) >= 0 && hexval(v[2]) >= 0) {
                    buf[o++] = (char)(hexval(v[1]) * 16 + hexval(v[2]));
                    v += 2;
                } else {
                    buf[o++] = *v == '+' ? ' ' : *v;
                }
            }
            buf[o] = '\0';
            return buf;
        }
        p = amp ? amp + 1 : end;
    }
    return NULL;
}

bool query_u64(const char *s, uint64_t *out)
{
    if (!s || !*s)
        return false;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (*end || s[0] == '-')
        return false;
    *out = v;
    return true;
}
