#include "http/http_routes.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* Whether path matches pattern segment by segment, collecting "{}"s. */
static bool pattern_matches(const char *pattern, const char *path, struct route_params *p)
{
    p->n = 0;
    const char *a = pattern, *b = path;
    while (*a && *b) {
        if (*a != '/' || *b != '/')
            return false;
        a++, b++;
        size_t al = strcspn(a, "/"), bl = strcspn(b, "/");
        if (al == 2 && a[0] == '{' && a[1] == '}') {
            if (!bl || p->n == ROUTE_PARAMS)
                return false;
            p->v[p->n] = b;
            p->len[p->n++] = bl;
        } else if (al != bl || memcmp(a, b, al) != 0) {
            return false;
        }
        a += al, b += bl;
    }
    return !*a && !*b;
}

enum route_result route_match(const struct route *table, size_t n, const char *method, const char *path,
                              size_t *index, struct route_params *params, char *allow, size_t allow_len)
{
    bool path_found = false;
    size_t used = 0;
    if (allow_len)
        allow[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        struct route_params p;
        if (!pattern_matches(table[i].pattern, path, &p))
            continue;
        if (strcmp(table[i].method, "*") == 0 || strcmp(table[i].method, method) == 0) {
            *index = i;
            *params = p;
            return ROUTE_FOUND;
        }
        path_found = true;
        if (used < allow_len) {
            int w = snprintf(allow + used, allow_len - used, "%s%s", used ? ", " : "", table[i].method);
            used += w > 0 ? (size_t)w : 0;
        }
    }
    return path_found ? ROUTE_NO_METHOD : ROUTE_NO_PATH;
}
