/* The REST API's URL space as one table: (method, path pattern) -> what
 * answers it, and the matcher. A pattern's segments are literal or "{}",
 * which matches one non-empty segment and hands it over as a parameter.
 * Pure (no I/O, no JSON): unit-tested and fuzzed. */
#ifndef CHATD_HTTP_ROUTES_H
#define CHATD_HTTP_ROUTES_H

#include <stddef.h>

#define ROUTE_PARAMS 3

struct route {
    const char *method;  /* "GET", ...; "*" for any method */
    const char *pattern; /* "/api/rooms/{}/members/{}" */
    int handler;         /* the table owner's: who answers */
    int request;         /* the table owner's: which request of that handler */
};

/* The "{}" segments of a matched path, in order; they point into the
 * path (not terminated: use len). */
struct route_params {
    const char *v[ROUTE_PARAMS];
    size_t len[ROUTE_PARAMS];
    size_t n;
};

enum route_result {
    ROUTE_FOUND,     /* *index and *params are set */
    ROUTE_NO_PATH,   /* no pattern matches the path: 404 */
    ROUTE_NO_METHOD, /* some do, for other methods: 405; allow lists them ("GET, POST") */
};

enum route_result route_match(const struct route *table, size_t n, const char *method, const char *path,
                              size_t *index, struct route_params *params, char *allow, size_t allow_len);

#endif
