/* Which web origins may use chatd from a browser: [server] allowed_origins.
 * One list answers two questions. A WebSocket (or SockJS session) and a
 * visitor token may come from any origin when the list is empty; a CORS
 * answer (a page of another origin reading the REST API) is given only to
 * an origin the list names, or to any when it holds "*". */
#ifndef CHATD_ORIGINS_H
#define CHATD_ORIGINS_H

#include <stdbool.h>

/* list: NULL-terminated, or NULL. origin: the request's Origin header, or
 * NULL / "" when it had none (not a browser: always allowed). */
bool origin_allowed(char *const *list, const char *origin);
/* Whether a CORS answer names origin (never for NULL or ""). */
bool origin_cors_allowed(char *const *list, const char *origin);

#endif
