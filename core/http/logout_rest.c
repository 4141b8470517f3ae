#include "http/logout_rest.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http/rest_call.h"
#include "log.h"
#include "net/xq.h"
#include "plugins/auth_port.h"
#include "server.h"

struct logout {
    struct rest_call *call;
    char *token;
};

static void logout_done(void *ctx, chatd_status st, const char *reason)
{
    struct logout *l = ctx;
    struct rest_call *c = l->call;
    if (st == CHATD_OK) {
        size_t ended = server_end_sessions_of_token(c->srv, c->user, l->token);
        log_msg(CHATD_LOG_INFO, "logout", 0, "user '%s' revoked a token; %zu session%s of it closed here", c->user,
                ended, ended == 1 ? "" : "s");
        rest_respond(c, 204, NULL);
    } else if (st == CHATD_ERR_UNSUPPORTED) {
        rest_error(c, 501, "not_supported", "%s", reason ? reason : "the auth plugin cannot revoke tokens");
    } else if (st == CHATD_ERR_DENIED) {
        rest_error(c, 401, "unauthorized", "%s", reason ? reason : "token not accepted");
    } else if (st == CHATD_ERR_UNAVAILABLE || st == CHATD_ERR_TIMEOUT || st == CHATD_ERR_CLOSED) {
        rest_error(c, 503, "unavailable", "the token could not be revoked now (%s); it is still valid: retry",
                   reason ? reason : chatd_strerror(st));
    } else {
        rest_error(c, 500, "internal", "the token could not be revoked: %s", reason ? reason : chatd_strerror(st));
    }
    free(l->token);
    free(l);
}

void logout_rest(struct rest_call *c)
{
    const char *a = c->req->authorization;
    if (!auth_can_revoke(c->srv->auth)) {
        rest_error(c, 501, "not_supported", "the auth plugin cannot revoke tokens: a session ends at its DISCONNECT");
        return;
    }
    if (!a || strncasecmp(a, "Bearer ", 7) != 0 || !a[7]) {
        rest_error(c, 400, "bad_request", "a logout revokes a bearer token: send Authorization: Bearer TOKEN");
        return;
    }
    struct logout *l = calloc(1, sizeof *l);
    if (!l || !(l->token = strdup(a + 7))) {
        free(l);
        rest_error(c, 500, "internal", "out of memory");
        return;
    }
    l->call = c;
    struct chatd_credentials cred = {.token = l->token, .remote_addr = c->req->remote_addr};
    if (auth_revoke(c->srv->auth, &cred, logout_done, l) < 0) {
        free(l->token);
        free(l);
        rest_error(c, 500, "internal", "out of memory");
    }
}
