/* Fuzz the REST query parser, the route matcher and the JSON bodies the API
 * accepts. The input is "QUERY\nBODY": the query goes through every
 * parameter the API reads, and as a path through the route matcher (every
 * parameter it hands over must lie inside the path and hold no '/'); the
 * body through jansson as rest.c loads it, and through the shape checks
 * rooms_rest.c applies to a room-creation body. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/http_routes.h"
#include "wire/query.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    char *nl = memchr(text, '\n', size);
    const char *body = "";
    size_t body_len = 0;
    if (nl) {
        *nl = '\0';
        body = nl + 1;
        body_len = size - (size_t)(nl + 1 - text);
    }
    static const char *const names[] = {"scope", "before", "after", "limit", "x"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        char buf[32];
        const char *v = query_param(text, names[i], buf, sizeof buf);
        if (v && strlen(v) >= sizeof buf)
            abort();
        char tiny[1];
        v = query_param(text, names[i], tiny, sizeof tiny);
        if (v && tiny[0] != '\0')
            abort();
    }
    static const struct route routes[] = {
        {"GET", "/api/rooms", 1, 0},           {"GET", "/api/rooms/{}", 1, 1},
        {"PUT", "/api/rooms/{}/members/{}/role", 1, 2}, {"*", "/healthz", 2, 0},
        {"DELETE", "/api/users/{}", 3, 0},
    };
    static const char *const methods[] = {"GET", "PUT", "DELETE", "POST"};
    size_t plen = strlen(text);
    for (size_t m = 0; m < sizeof methods / sizeof *methods; m++) {
        size_t index;
        struct route_params p;
        char allow[8]; /* small: a truncated list must stay terminated */
        if (route_match(routes, sizeof routes / sizeof *routes, methods[m], text, &index, &p, allow, sizeof allow) ==
            ROUTE_FOUND) {
            for (size_t k = 0; k < p.n; k++)
                if (!p.len[k] || p.v[k] < text || p.v[k] + p.len[k] > text + plen || memchr(p.v[k], '/', p.len[k]))
                    abort();
        } else if (strlen(allow) >= sizeof allow) {
            abort();
        }
    }
    json_error_t err;
    json_t *j = json_loadb(body, body_len, JSON_REJECT_DUPLICATES, &err);
    if (j) {
        const char *kind = json_string_value(json_object_get(j, "kind"));
        json_t *members = json_object_get(j, "members");
        for (size_t i = 0; json_is_array(members) && i < json_array_size(members) && i < 300; i++)
            (void)json_string_value(json_array_get(members, i));
        (void)kind;
        (void)json_integer_value(json_object_get(j, "seq"));
        char *again = json_dumps(j, JSON_COMPACT);
        free(again);
        json_decref(j);
    }
    free(text);
    return 0;
}
