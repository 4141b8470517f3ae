#include "plugins/auth_port.h"

#include <event2/event.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "log.h"
#include "plugins/loader.h"
#include "plugins/sdk1.h"
#include "visitor_token.h"

_Static_assert(offsetof(struct chatd_credentials, login) == SDK1_SKIP, "1.x credentials body follows size");
_Static_assert(offsetof(struct chatd_identity, user) == SDK1_SKIP, "1.x identity body follows size");

/* The refusal of credentials for another user than the client
 * certificate names. */
#define TLS_MISMATCH "the credentials name another user than the client certificate"

/* SDK 2.0's identity: a 2.x plugin fills at least this much. */
#define IDENTITY_SIZE_2_0 (offsetof(struct chatd_identity, expires_ms) + sizeof(int64_t))

struct auth_retiring {
    struct event *reap; /* activated when a retired instance's last answer came */
    struct plugin **v;
    size_t n;
};

struct auth_call {
    struct auth_call *prev, *next; /* the plugin's authentications not answered yet */
    struct plugin *p;
    chatd_auth_cb cb;
    void *ctx;
    char *tls_identity; /* the user the client certificate names, or NULL */
};

static void auth_call_unlink(struct auth_call *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else if (c->p->auth_pending == c)
        c->p->auth_pending = c->next;
    if (c->next)
        c->next->prev = c->prev;
}

/* After the plugin's fini: the authentications it never answered (its
 * answers can no longer be posted at shutdown) are answered here, so that
 * whoever waits for them is freed. */
static void auth_calls_drop(struct plugin *p)
{
    while (p->auth_pending) {
        struct auth_call *c = p->auth_pending;
        auth_call_unlink(c);
        chatd_auth_cb cb = c->cb;
        void *ctx = c->ctx;
        free(c->tls_identity);
        free(c);
        p->auth_calls--;
        cb(ctx, CHATD_ERR_CLOSED, NULL, "shutting down");
    }
}

static void on_auth(void *ctx, chatd_status st, const struct chatd_identity *who, const char *reason)
{
    struct auth_call *c = ctx;
    struct chatd_identity id;
    memset(&id, 0, sizeof id);
    if (who && plugin_sdk1(c->p)) {
        memcpy(SDK1_BODY(&id), who, SDK1_SIZE(chatd_identity));
    } else if (who && who->size < IDENTITY_SIZE_2_0) {
        log_msg(CHATD_LOG_ERROR, c->p->section, 0, "auth plugin %s answered an identity of %zu bytes, below SDK 2.0's %zu",
                c->p->desc->name, who->size, IDENTITY_SIZE_2_0);
        st = CHATD_ERR_INTERNAL;
        who = NULL;
    } else if (who) {
        memcpy(&id, who, who->size < sizeof id ? who->size : sizeof id);
    }
    id.size = sizeof id;
    id.roles &= ~ROLE_VISITOR;
    if (who && user_is_visitor(id.user)) {
        log_msg(CHATD_LOG_WARN, c->p->section, 0, "auth plugin %s answered the user '%s': the prefix "
                VISITOR_USER_PREFIX " is the server's own, for visitors it issues; refused",
                c->p->desc->name, id.user);
        st = CHATD_ERR_DENIED;
        who = NULL;
        reason = "user names starting " VISITOR_USER_PREFIX " are reserved for visitors";
    }
    if (st == CHATD_OK && who && c->tls_identity && (!id.user || strcmp(id.user, c->tls_identity) != 0)) {
        log_msg(CHATD_LOG_INFO, c->p->section, 0, "sign-in as '%s' refused: the client certificate names '%s'",
                id.user ? id.user : "", c->tls_identity);
        st = CHATD_ERR_DENIED;
        who = NULL;
        reason = TLS_MISMATCH;
    }
    chatd_auth_cb cb = c->cb;
    void *cb_ctx = c->ctx;
    struct plugin *p = c->p;
    auth_call_unlink(c);
    free(c->tls_identity);
    free(c);
    /* The plugin may still touch its state after this returns: a retired
     * instance goes on a later turn. */
    if (--p->auth_calls == 0 && p->retiring)
        event_active(p->retiring->reap, 0, 0);
    cb(cb_ctx, st, who ? &id : NULL, reason);
}

/* A visitor token, judged by the host alone. */
static void visitor_authenticate(const struct visitor_settings *visitors, const char *token, chatd_auth_cb cb,
                                 void *ctx)
{
    if (!visitors || !visitors->enabled || !visitors->secret) {
        cb(ctx, CHATD_ERR_DENIED, NULL, "visitor tokens are not accepted ([visitors] enabled is off)");
        return;
    }
    char user[VISITOR_USER_MAX];
    int64_t expires_ms;
    enum visitor_verdict v = visitor_token_verify(visitors->secret, token, clock_wall_ms(), user, &expires_ms);
    if (v != VISITOR_VALID) {
        cb(ctx, CHATD_ERR_DENIED, NULL, visitor_verdict_text(v));
        return;
    }
    struct chatd_identity id = {.size = sizeof id, .user = user, .display_name = "Visitor",
                                .roles = CHATD_ROLE_USER | ROLE_VISITOR, .expires_ms = expires_ms};
    cb(ctx, CHATD_OK, &id, NULL);
}

void auth_authenticate(struct plugin *auth, const struct visitor_settings *visitors,
                       const struct chatd_credentials *cred, chatd_auth_cb cb, void *ctx)
{
    const char *token = cred->token ? cred->token : cred->passcode;
    /* [server] tls_client_user: a client certificate that names a user
     * signs in as that user or not at all, whatever else it presents. A
     * visitor is never the user of a certificate. */
    if (cred->tls_identity &&
        ((cred->login && *cred->login && strcmp(cred->login, cred->tls_identity) != 0) || visitor_token_like(token))) {
        log_msg(CHATD_LOG_INFO, auth->section, 0, "sign-in as '%s' refused: the client certificate names '%s'",
                visitor_token_like(token) ? "a visitor" : cred->login, cred->tls_identity);
        cb(ctx, CHATD_ERR_DENIED, NULL, TLS_MISMATCH);
        return;
    }
    if (visitor_token_like(token)) {
        visitor_authenticate(visitors, token, cb, ctx);
        return;
    }
    struct auth_call *c = malloc(sizeof *c);
    char *tls_identity = cred->tls_identity ? strdup(cred->tls_identity) : NULL;
    if (!c || (cred->tls_identity && !tls_identity)) {
        free(c);
        free(tls_identity);
        cb(ctx, CHATD_ERR_NOMEM, NULL, NULL);
        return;
    }
    *c = (struct auth_call){.p = auth, .cb = cb, .ctx = ctx, .next = auth->auth_pending, .tls_identity = tls_identity};
    if (auth->auth_pending)
        auth->auth_pending->prev = c;
    auth->auth_pending = c;
    auth->calls_drop = auth_calls_drop;
    struct chatd_credentials in = *cred, out;
    in.size = sizeof in;
    memset(&out, 0, sizeof out);
    if (plugin_sdk1(auth))
        memcpy(&out, SDK1_CBODY(&in), SDK1_SIZE(chatd_credentials));
    else
        out = in;
    auth->auth_calls++;
    auth->desc->ops.auth->authenticate(auth->state, &out, on_auth, c);
}

struct revoke_call {
    struct plugin *p;
    chatd_revoke_cb cb;
    void *ctx;
    chatd_status st;    /* an answer of the port's own, posted */
    const char *reason; /* static */
    struct event *ev;   /* that post */
};

static void revoke_call_end(struct revoke_call *c, chatd_status st, const char *reason)
{
    chatd_revoke_cb cb = c->cb;
    void *cb_ctx = c->ctx;
    struct plugin *p = c->p;
    if (c->ev)
        event_free(c->ev);
    free(c);
    if (p && --p->auth_calls == 0 && p->retiring)
        event_active(p->retiring->reap, 0, 0);
    cb(cb_ctx, st, reason);
}

static void on_revoke(void *ctx, chatd_status st, const char *reason)
{
    revoke_call_end(ctx, st, reason);
}

static void revoke_posted(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    struct revoke_call *c = arg;
    revoke_call_end(c, c->st, c->reason);
}

bool auth_can_revoke(const struct plugin *auth)
{
    return !plugin_sdk1(auth) && OPS_HAS(auth->desc->ops.auth, revoke);
}

int auth_revoke(struct plugin *auth, const struct chatd_credentials *cred, chatd_revoke_cb cb, void *ctx)
{
    const char *token = cred->token ? cred->token : cred->passcode;
    struct revoke_call *c = calloc(1, sizeof *c);
    if (!c)
        return -1;
    c->cb = cb;
    c->ctx = ctx;
    const struct chatd_auth_ops *ops = auth->desc->ops.auth;
    if (visitor_token_like(token) || !auth_can_revoke(auth)) {
        c->st = CHATD_ERR_UNSUPPORTED;
        c->reason = visitor_token_like(token) ? "visitor tokens are not revoked: they end at their expiry"
                                               : "the auth plugin cannot revoke tokens";
        if (!(c->ev = event_new(auth->host.base, -1, 0, revoke_posted, c))) {
            free(c);
            return -1;
        }
        event_active(c->ev, 0, 0);
        return 0;
    }
    c->p = auth;
    struct chatd_credentials in = *cred;
    in.size = sizeof in;
    auth->auth_calls++;
    ops->revoke(auth->state, &in, on_revoke, c);
    return 0;
}

static void reap(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    struct auth_retiring *r = arg;
    size_t kept = 0;
    for (size_t i = 0; i < r->n; i++) {
        if (r->v[i]->auth_calls == 0) {
            log_msg(CHATD_LOG_DEBUG, r->v[i]->section, 0, "the instance a reload replaced has answered its last "
                                                          "authentication; unloading it");
            plugin_unload(r->v[i]);
        } else {
            r->v[kept++] = r->v[i];
        }
    }
    r->n = kept;
}

struct auth_retiring *auth_retiring_new(struct event_base *base)
{
    struct auth_retiring *r = calloc(1, sizeof *r);
    if (r && !(r->reap = event_new(base, -1, 0, reap, r))) {
        free(r);
        r = NULL;
    }
    return r;
}

int auth_retire(struct auth_retiring *r, struct plugin *old)
{
    struct plugin **v = realloc(r->v, (r->n + 1) * sizeof *v);
    if (!v) {
        plugin_unload(old);
        return -1;
    }
    r->v = v;
    r->v[r->n++] = old;
    old->retiring = r;
    event_active(r->reap, 0, 0); /* maybe nothing is under way */
    return 0;
}

size_t auth_retiring_count(const struct auth_retiring *r)
{
    return r ? r->n : 0;
}

void auth_retiring_free(struct auth_retiring *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n; i++)
        plugin_unload(r->v[i]);
    free(r->v);
    event_free(r->reap);
    free(r);
}
