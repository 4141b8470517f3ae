/* The REST API's front door: an HTTP request from the gateway is matched
 * against the route table, authenticated through the auth plugin and handed
 * to its handler (rooms_rest.c, user_erase.c); the answer is JSON. Also
 * GET /healthz and GET /metrics. */
#ifndef CHATD_REST_H
#define CHATD_REST_H

#include <stdint.h>

struct server;
struct http_request;

/* Takes ownership of req. */
void rest_request(struct server *srv, uint64_t id, struct http_request *req);

#endif
