/* One REST request in flight, as its handler sees it: who asked, the JSON
 * body, the path's parameters, and the calls that answer it (each answer
 * frees the call). The handlers include this, not rest.h: they never see
 * the route table or the front door. */
#ifndef CHATD_REST_CALL_H
#define CHATD_REST_CALL_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include <chatd/plugin.h>

#include "http/http_routes.h"

struct server;
struct http_request;
struct room_answer;

/* One request in flight; freed by the answer. */
struct rest_call {
    struct server *srv;
    uint64_t id;                /* the gateway's request id */
    struct http_request *req;
    char *user;
    uint32_t roles;
    json_t *body;               /* parsed JSON body, or NULL */
    const struct route *route;  /* the route table's entry it matched */
    char *params[ROUTE_PARAMS]; /* the path's {} segments, or NULL */
    unsigned retry_after_s;     /* set before a refusal: its Retry-After */
};

/* Answer and free the call; `json` is stolen (NULL: empty body). */
void rest_respond(struct rest_call *c, int status, json_t *json);
/* The same with JSON text made already (body: malloc'd, now the call's;
 * NULL answers 500 "out of memory"). */
void rest_respond_text(struct rest_call *c, int status, char *body, size_t len);
/* The same with another media type (static) and, when disposition
 * (malloc'd, now the call's) is set, a Content-Disposition header. */
void rest_respond_typed(struct rest_call *c, int status, const char *content_type, char *disposition, char *body,
                        size_t len);
/* A file's bytes (body: malloc'd, now the call's; len of them) of type
 * content_type (static), with Content-Disposition and Content-Range when
 * set (malloc'd, now the call's), nosniff and Accept-Ranges. */
void rest_respond_file(struct rest_call *c, int status, const char *content_type, char *disposition,
                       char *content_range, char *body, size_t len);
/* The same with the body to come: headers saying `length` bytes now, the
 * bytes after it in XM_HTTP_PIECE messages for request c->id (the
 * caller's, who learns of each piece written by XM_HTTP_SENT and of the
 * client gone by XM_HTTP_GONE). Frees the call. */
void rest_respond_file_stream(struct rest_call *c, int status, const char *content_type, char *disposition,
                              char *content_range, uint64_t length);
/* {"error": code, "message": ...} with `status`. */
void rest_error(struct rest_call *c, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* A refusal or failure of the rooms domain (rooms/rooms.h) as the API
 * answers it: NOT_FOUND 404, FORBIDDEN 403, CONFLICT 409, BAD_REQUEST 400,
 * NOT_SUPPORTED 501 with the domain's sentence; LIMIT 429, UNAVAILABLE 503
 * (the storage's status), NOMEM 500. */
void rest_room_error(struct rest_call *c, const struct room_answer *a);
/* The value of `name` in the query (percent-decoded into buf), or NULL. */
const char *rest_query(const struct rest_call *c, const char *name, char *buf, size_t len);

/* Free without answering (the front door answered itself). */
void rest_call_free(struct rest_call *c);

#endif
