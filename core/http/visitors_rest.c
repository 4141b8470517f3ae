#include "http/visitors_rest.h"

#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "addr_rate.h"
#include "clock.h"
#include "http/rest_call.h"
#include "log.h"
#include "origins.h"
#include "server.h"
#include "visitor_token.h"

void visitors_rest(struct rest_call *c)
{
    struct server *srv = c->srv;
    const struct visitor_settings *v = &srv->settings.visitors;
    const struct http_request *req = c->req;
    if (!v->enabled || !v->secret) {
        rest_error(c, 404, "not_found", "visitor tokens are off on this server ([visitors] enabled)");
        return;
    }
    if (!origin_allowed(srv->settings.allowed_origins, req->origin)) {
        rest_error(c, 403, "forbidden", "origin not allowed");
        return;
    }
    /* Renewal: the visitor's own token, still valid, keeps its identity. */
    const char *renew = NULL;
    const char *a = req->authorization;
    if (a && strncasecmp(a, "Bearer ", 7) == 0)
        renew = a + 7;
    else if (a) {
        rest_error(c, 401, "unauthorized", "send no credentials, or Authorization: Bearer VISITOR_TOKEN to renew it");
        return;
    }
    int64_t now = clock_wall_ms();
    char user[VISITOR_USER_MAX], token[VISITOR_TOKEN_MAX];
    int64_t expires_ms;
    if (renew) {
        enum visitor_verdict verdict = visitor_token_verify(v->secret, renew, now, user, &expires_ms);
        if (verdict != VISITOR_VALID) {
            rest_error(c, 401, "unauthorized", "%s: ask without it for a new visitor", visitor_verdict_text(verdict));
            return;
        }
    }
    int64_t retry_ms = 0;
    if (!addr_rate_take(&srv->visitor_rate, req->remote_addr ? req->remote_addr : "", v->per_ip_per_hour, now,
                        &retry_ms)) {
        srv->metrics.visitors_refused++;
        log_msg(CHATD_LOG_INFO, "visitors", 0, "visitor token for %s refused: [visitors] max_per_ip_per_hour (%zu) "
                "reached", req->remote_addr ? req->remote_addr : "?", v->per_ip_per_hour);
        rest_error(c, 429, "rate_limited", "too many visitor tokens from this address; try again in %lld s",
                   (long long)((retry_ms + 999) / 1000));
        return;
    }
    if (visitor_token_mint(v->secret, renew ? user : NULL, now, v->ttl_ms, user, token, &expires_ms) < 0) {
        rest_error(c, 500, "internal", "no randomness for a visitor id");
        return;
    }
    srv->metrics.visitors_issued++;
    log_msg(CHATD_LOG_DEBUG, "visitors", 0, "%s visitor %s for %s", renew ? "renewed" : "issued", user,
            req->remote_addr ? req->remote_addr : "?");
    rest_respond(c, renew ? 200 : 201,
                 json_pack("{s:s, s:s, s:I}", "user", user, "token", token, "expires_ms", (json_int_t)expires_ms));
}
