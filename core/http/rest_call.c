#include "http/rest_call.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rooms/rooms.h"
#include "wire/query.h"
#include "server.h"

void rest_call_free(struct rest_call *c)
{
    http_request_free(c->req);
    json_decref(c->body);
    for (size_t i = 0; i < ROUTE_PARAMS; i++)
        free(c->params[i]);
    free(c->user);
    free(c);
}

void rest_respond(struct rest_call *c, int status, json_t *json)
{
    char *body = json ? json_dumps(json, JSON_COMPACT) : strdup("");
    json_decref(json);
    rest_respond_text(c, status, body, body ? strlen(body) : 0);
}

void rest_respond_text(struct rest_call *c, int status, char *body, size_t len)
{
    rest_respond_typed(c, status, NULL, NULL, body, len);
}

void rest_respond_typed(struct rest_call *c, int status, const char *content_type, char *disposition, char *body,
                        size_t len)
{
    struct xmsg m = {.session = c->id, .kind = XM_HTTP_RESPONSE};
    if (body) {
        m.u.http_response.content_type = content_type;
        m.u.http_response.disposition = disposition;
    } else {
        free(disposition);
    }
    m.u.http_response.status = body ? status : 500;
    m.u.http_response.body = body ? body : strdup("{\"error\":\"internal\",\"message\":\"out of memory\"}");
    m.u.http_response.len = body ? len : m.u.http_response.body ? strlen(m.u.http_response.body) : 0;
    m.u.http_response.retry_after_s = c->retry_after_s;
    server_emit(c->srv, &m);
    rest_call_free(c);
}

void rest_respond_file(struct rest_call *c, int status, const char *content_type, char *disposition,
                       char *content_range, char *body, size_t len)
{
    if (!body) {
        free(disposition);
        free(content_range);
        rest_respond_text(c, 500, NULL, 0);
        return;
    }
    struct xmsg m = {.session = c->id, .kind = XM_HTTP_RESPONSE};
    m.u.http_response.status = status;
    m.u.http_response.body = body;
    m.u.http_response.len = len;
    m.u.http_response.content_type = content_type;
    m.u.http_response.disposition = disposition;
    m.u.http_response.content_range = content_range;
    m.u.http_response.file = true;
    server_emit(c->srv, &m);
    rest_call_free(c);
}

void rest_respond_file_stream(struct rest_call *c, int status, const char *content_type, char *disposition,
                              char *content_range, uint64_t length)
{
    struct xmsg m = {.session = c->id, .kind = XM_HTTP_RESPONSE};
    m.u.http_response.status = status;
    m.u.http_response.content_type = content_type;
    m.u.http_response.disposition = disposition;
    m.u.http_response.content_range = content_range;
    m.u.http_response.file = true;
    m.u.http_response.streamed = true;
    m.u.http_response.length = length;
    server_emit(c->srv, &m);
    rest_call_free(c);
}

void rest_error(struct rest_call *c, int status, const char *code, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    rest_respond(c, status, json_pack("{s:s, s:s}", "error", code, "message", msg));
}

void rest_room_error(struct rest_call *c, const struct room_answer *a)
{
    const char *why = a->why ? a->why : "";
    switch (a->status) {
    case ROOM_OK:
    case ROOM_EXISTS: rest_error(c, 500, "internal", "no answer"); break;
    case ROOM_NOT_FOUND: rest_error(c, 404, "not_found", "%s", why); break;
    case ROOM_FORBIDDEN: rest_error(c, 403, "forbidden", "%s", why); break;
    case ROOM_CONFLICT: rest_error(c, 409, "conflict", "%s", why); break;
    case ROOM_BAD_REQUEST: rest_error(c, 400, "bad_request", "%s", why); break;
    case ROOM_NOT_SUPPORTED: rest_error(c, 501, "not_supported", "%s", why); break;
    case ROOM_LIMIT: rest_error(c, 429, "limit", "storage limit reached"); break;
    case ROOM_UNAVAILABLE: rest_error(c, 503, "storage_unavailable", "storage: %s", why); break;
    case ROOM_NOMEM: rest_error(c, 500, "internal", "out of memory"); break;
    }
}

const char *rest_query(const struct rest_call *c, const char *name, char *buf, size_t len)
{
    return query_param(c->req->query, name, buf, len);
}
