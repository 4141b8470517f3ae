/* auth-jwt: JSON Web Tokens from CONNECT (Authorization: Bearer, or the
 * passcode) and from REST (Authorization: Bearer).
 *
 * Every key has its algorithm pinned in the config: the token's `alg` must
 * be that one, so neither `none` nor an HS256 token signed with an RSA
 * public key as secret can pass. With a key table, the token's `kid` picks
 * the key; an unknown or malformed kid is refused before any file or key is
 * touched. `exp` is required; `nbf`, `iss` and `aud` are checked as
 * configured, with a leeway. Verification is CPU work of microseconds; the
 * answer is still delivered through host->post, never before the call
 * returns.
 *
 * Keys come from the ini (a default key and key.KID.*) and from a JWKS file
 * (`jwks`): RSA and EC public keys, each converted to PEM with OpenSSL 3's
 * EVP_PKEY_fromdata at start and then handled like a PEM file's key. Every
 * JWKS key has its algorithm pinned too (its `alg`, or RS256 / ES256 by
 * type); a kid defined twice stops the start.
 *
 * Keys may also come from an issuer's JWKS URL (`jwks_url`, HTTPS): fetched
 * at start and again when its Cache-Control max-age runs out (bounded by
 * jwks_min_refresh and jwks_max_age), and at once for a token whose kid no
 * key has (at most once per jwks_min_refresh), that token waiting for the
 * fetch: a rotated key is picked up without a restart. A failed fetch keeps
 * the keys of the last good one and is retried with a growing delay; before
 * any fetch has succeeded, a token that needs the URL's keys is answered
 * "authentication unavailable" (retryable), not refused.
 *
 * Logout (`revocation = redis`): once a token has passed every other check,
 * `EXISTS PREFIX+jti` is asked of Redis through hiredis' asynchronous API on
 * the core loop; a key that exists refuses the token ("token revoked"). Redis
 * unreachable, slow past `redis_timeout` or answering an error: the token is
 * refused as "authentication unavailable" (fail closed). The connection is
 * re-made with a growing delay, like storage-redis.
 *
 * The same list takes logouts (SDK 2.7 revoke, POST /api/logout): the
 * token passes every other check, then `SET PREFIX+jti 1 EX ttl` goes to
 * that connection, ttl running to the token's exp plus the leeway (the
 * token is refused by then anyway); answered OK only once Redis said OK. */
#include <chatd/plugin.h>
#include <errno.h>
#include <event2/event.h>
#include <hiredis/adapters/libevent.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <jansson.h>
#include <jwt.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>
#include <time.h>

#include "jwks_fetch.h"

#define MAX_KEYS 64
#define JWKS_MAX_BYTES (1024 * 1024)
#define JTI_MAX 256              /* bytes of a jti we look up */
#define MAX_CHECKS 10000         /* revocation look-ups in flight */
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000
#define MAX_WAITERS 10000        /* tokens waiting for a JWKS fetch */
#define JWKS_RETRY_MIN_MS 1000   /* after a failed fetch, doubling */
#define JWKS_RETRY_MAX_MS 60000
#define JWKS_DEFAULT_AGE_MS 300000 /* a response without max-age */

struct key {
    char *kid;              /* NULL: the default key */
    jwt_alg_t alg;
    unsigned char *material; /* secret, or PEM public key */
    size_t len;
};

struct check;
struct waiter;

struct auth_jwt {
    const struct chatd_host *host;
    struct key keys[MAX_KEYS];
    size_t nkeys;
    char *issuer, *audience;
    long leeway;
    const char *claim_user, *claim_name, *claim_roles;
    char *claim_user_s, *claim_name_s, *claim_roles_s;
    char *admin_role; /* the roles-claim value that grants CHATD_ROLE_ADMIN; NULL: none does */

    /* Revocation list in Redis (revocation = redis). */
    bool revocation;
    bool require_jti;
    char *redis_host;  /* HOST of HOST:PORT, or NULL with redis_unix */
    int redis_port;
    char *redis_unix;  /* a Unix socket path */
    char *redis_password;
    char *prefix;      /* revocation_prefix */
    long timeout_ms;   /* redis_timeout */
    redisAsyncContext *ac; /* NULL while waiting to reconnect */
    bool stopping;
    struct event *retry;
    int backoff_ms;
    struct check *checks; /* every look-up hiredis holds */
    size_t nchecks;

    /* Keys from jwks_url: the set of the last good fetch, replaced whole. */
    struct evhttp_uri *jwks_uri; /* NULL: no URL */
    SSL_CTX *jwks_tls;
    struct evdns_base *dns;
    struct key *url_keys;
    size_t nurl;
    bool url_fetched;         /* a fetch has succeeded */
    bool fetching;
    struct jwks_fetch *fetch; /* the latest, in flight while fetching */
    int64_t fetch_started_ms; /* monotonic */
    long jwks_timeout_ms, jwks_min_refresh_ms, jwks_max_age_ms, retry_ms;
    struct event *refresh;    /* the next fetch */
    struct waiter *waiters, **waiters_tail;
    size_t nwaiters;
};

/* A token whose kid no key has, waiting for the fetch in flight. */
struct waiter {
    struct waiter *next;
    struct answer *ans;
    char *token;
    char *remote;
};

static int64_t monotonic_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ------------------------------------------------------------- answers */

struct answer {
    chatd_auth_cb cb;
    chatd_revoke_cb revoke_cb; /* set instead of cb: a revoke's answer */
    void *ctx;
    chatd_status st;
    const char *reason; /* static */
    char *user, *name;
    char *jti; /* set when the revocation list is to be asked */
    uint32_t roles;
    int64_t expires_ms;
    long long revoke_ttl_s; /* a revoke: how long its key lives */
};

static void answer_free(struct answer *a)
{
    free(a->user);
    free(a->name);
    free(a->jti);
    free(a);
}

/* Call the host back with a's verdict and free a. */
static void answer_run(void *arg)
{
    struct answer *a = arg;
    if (a->revoke_cb) {
        a->revoke_cb(a->ctx, a->st, a->reason);
    } else if (a->st == CHATD_OK) {
        struct chatd_identity who = {.size = sizeof who, .user = a->user, .display_name = a->name, .roles = a->roles,
                                     .expires_ms = a->expires_ms};
        a->cb(a->ctx, CHATD_OK, &who, NULL);
    } else {
        a->cb(a->ctx, a->st, NULL, a->reason);
    }
    answer_free(a);
}

/* Answer later, through host->post: for answers at hand during the call. */
static void answer_post(struct auth_jwt *a, struct answer *ans)
{
    if (a->host->post(a->host, answer_run, ans) != CHATD_OK)
        answer_free(ans); /* the host is shutting down: nobody waits */
}

static void count(struct auth_jwt *a, const char *name)
{
    if (CHATD_HOST_HAS(a->host, counter_add) && a->host->counter_add)
        a->host->counter_add(a->host, name, 1);
}

/* ------------------------------------------------------------- checks */

static int b64url_decode(const char *in, size_t n, unsigned char *out, size_t cap)
{
    unsigned v = 0;
    int bits = 0;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        char c = in[i];
        int d = c >= 'A' && c <= 'Z' ? c - 'A' : c >= 'a' && c <= 'z' ? c - 'a' + 26
              : c >= '0' && c <= '9' ? c - '0' + 52 : c == '-' ? 62 : c == '_' ? 63 : -1;
        if (d < 0)
            return -1;
        v = (v << 6) | (unsigned)d;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (o == cap)
                return -1;
            out[o++] = (unsigned char)(v >> bits);
        }
    }
    return (int)o;
}

static bool kid_is_sane(const char *kid)
{
    size_t n = strlen(kid);
    if (n == 0 || n > 64)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((kid[i] >= 'a' && kid[i] <= 'z') || (kid[i] >= 'A' && kid[i] <= 'Z') ||
              (kid[i] >= '0' && kid[i] <= '9') || kid[i] == '-' || kid[i] == '_'))
            return false;
    return true;
}

static const char *claim_str(jwt_t *jwt, const char *name)
{
    return jwt_get_grant(jwt, name);
}

static bool has_role(const char *json, const char *role)
{
    json_t *j = json_loads(json, JSON_DECODE_ANY, NULL);
    bool found = false;
    if (json_is_string(j)) {
        found = strcmp(json_string_value(j), role) == 0;
    } else if (json_is_array(j)) {
        for (size_t i = 0; i < json_array_size(j) && !found; i++) {
            const char *s = json_string_value(json_array_get(j, i));
            found = s && strcmp(s, role) == 0;
        }
    }
    json_decref(j);
    return found;
}

/* verify()'s answer for a kid no key has: a fetch of jwks_url may help. */
static const char unknown_kid[] = "unknown key id";

/* The key a token names: the ini's and the jwks file's first, then the
 * URL's (a kid of both is the ini's). No kid: the default key. */
static const struct key *key_for(const struct auth_jwt *a, const char *kid)
{
    for (size_t i = 0; i < a->nkeys; i++)
        if (kid ? (a->keys[i].kid && strcmp(a->keys[i].kid, kid) == 0) : !a->keys[i].kid)
            return &a->keys[i];
    for (size_t i = 0; kid && i < a->nurl; i++)
        if (strcmp(a->url_keys[i].kid, kid) == 0)
            return &a->url_keys[i];
    return NULL;
}

static const char *verify(struct auth_jwt *a, const char *token, struct answer *ans)
{
    if (!token || !*token)
        return "missing token";
    if (strlen(token) > 16384)
        return "token too long";
    const char *dot = strchr(token, '.');
    if (!dot)
        return "malformed token";
    unsigned char header[2048];
    int hl = b64url_decode(token, (size_t)(dot - token), header, sizeof header - 1);
    if (hl <= 0)
        return "malformed token";
    json_t *h = json_loadb((const char *)header, (size_t)hl, 0, NULL);
    const char *alg = json_string_value(json_object_get(h, "alg"));
    const char *kid = json_string_value(json_object_get(h, "kid"));
    jwt_alg_t want = alg ? jwt_str_alg(alg) : JWT_ALG_INVAL;
    const struct key *key = NULL;
    const char *why = NULL;
    if (!h || !alg)
        why = "malformed token";
    else if (want == JWT_ALG_NONE || strcasecmp(alg, "none") == 0)
        why = "unsigned tokens are refused";
    else if (kid && !kid_is_sane(kid))
        why = "unknown key id";
    else {
        key = key_for(a, kid);
        if (!key && kid)
            why = unknown_kid;
        else if (!key)
            why = "token names no key id";
        else if (key->alg != want)
            why = "algorithm not allowed";
    }
    json_decref(h);
    if (why)
        return why;

    jwt_t *jwt = NULL;
    if (jwt_decode(&jwt, token, key->material, (int)key->len) != 0 || !jwt)
        return "invalid signature";
    if (jwt_get_alg(jwt) != key->alg) {
        jwt_free(jwt);
        return "algorithm not allowed";
    }
    time_t now = time(NULL);
    errno = 0;
    long exp = jwt_get_grant_int(jwt, "exp");
    if (errno == ENOENT)
        why = "token has no exp";
    else if (now > exp + a->leeway)
        why = "token expired";
    if (!why) {
        errno = 0;
        long nbf = jwt_get_grant_int(jwt, "nbf");
        if (errno != ENOENT && nbf > now + a->leeway)
            why = "token not yet valid";
    }
    if (!why && a->issuer) {
        const char *iss = claim_str(jwt, "iss");
        if (!iss || strcmp(iss, a->issuer) != 0)
            why = "wrong issuer";
    }
    if (!why && a->audience) {
        char *aud = jwt_get_grants_json(jwt, "aud");
        if (!aud || !has_role(aud, a->audience))
            why = "wrong audience";
        free(aud);
    }
    const char *user = why ? NULL : claim_str(jwt, a->claim_user);
    if (!why && (!user || !*user))
        why = "token has no user claim";
    if (!why && (a->revocation || a->require_jti)) {
        /* jti: a string; another type is malformed, not absent. */
        const char *jti = claim_str(jwt, "jti");
        char *other = jti ? NULL : jwt_get_grants_json(jwt, "jti");
        if (other || (jti && (!*jti || strlen(jti) > JTI_MAX)))
            why = "malformed jti";
        else if (!jti && a->require_jti)
            why = "token has no jti";
        else if (jti && a->revocation && !(ans->jti = strdup(jti)))
            why = "out of memory";
        free(other);
    }
    if (!why) {
        const char *name = claim_str(jwt, a->claim_name);
        char *roles = jwt_get_grants_json(jwt, a->claim_roles);
        ans->user = strdup(user);
        ans->name = name ? strdup(name) : NULL;
        ans->roles = 0;
        if (roles && (has_role(roles, "agent") || has_role(roles, "admin")))
            ans->roles |= CHATD_ROLE_AGENT;
        /* chatd's admin role (erasing users' data) only by explicit
         * configuration: the claim value "admin" has long meant an agent. */
        if (roles && a->admin_role && has_role(roles, a->admin_role))
            ans->roles |= CHATD_ROLE_ADMIN;
        if (roles && has_role(roles, "supervisor"))
            ans->roles |= CHATD_ROLE_SUPERVISOR;
        if (!roles || has_role(roles, "user") || !ans->roles)
            ans->roles |= CHATD_ROLE_USER;
        free(roles);
        ans->expires_ms = (int64_t)exp * 1000;
        if (!ans->user)
            why = "out of memory";
    }
    jwt_free(jwt);
    return why;
}

/* ---------------------------------------------------------- revocation */

/* One EXISTS in flight: hiredis holds it as privdata until the reply, or
 * until the connection is gone (then with no reply). */
struct check {
    struct check *prev, *next;
    struct auth_jwt *a;
    struct answer *ans;  /* NULL once answered by the timer */
    struct event *timer; /* redis_timeout */
};

static void check_unlink(struct check *c)
{
    struct auth_jwt *a = c->a;
    if (c->prev)
        c->prev->next = c->next;
    else if (a->checks == c)
        a->checks = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->prev = c->next = NULL;
    a->nchecks--;
}

/* Answer c's request now (we are on the core loop, after the call). */
static void check_answer(struct check *c, chatd_status st, const char *reason)
{
    struct answer *ans = c->ans;
    c->ans = NULL;
    if (!ans)
        return;
    if (st != CHATD_OK) {
        ans->st = st;
        ans->reason = reason;
        free(ans->user);
        free(ans->name);
        ans->user = ans->name = NULL;
    }
    answer_run(ans);
}

static void on_check_timeout(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    struct check *c = arg;
    c->a->host->log(c->a->host, CHATD_LOG_WARN, "revocation list: redis did not answer within %ldms",
                    c->a->timeout_ms);
    count(c->a, "revocation_unavailable");
    /* The look-up stays with hiredis; its reply, when it comes, is dropped. */
    check_answer(c, CHATD_ERR_TIMEOUT,
                 c->ans && c->ans->revoke_cb ? "revocation list unavailable" : "authentication unavailable");
}

static void on_exists(redisAsyncContext *ac, void *reply, void *privdata)
{
    (void)ac;
    struct check *c = privdata;
    struct auth_jwt *a = c->a;
    const redisReply *r = reply;
    check_unlink(c);
    event_free(c->timer);
    if (a->stopping) {
        check_answer(c, CHATD_ERR_CLOSED, "shutting down");
    } else if (!r) {
        count(a, "revocation_unavailable");
        check_answer(c, CHATD_ERR_UNAVAILABLE, "authentication unavailable");
    } else if (r->type == REDIS_REPLY_INTEGER && r->integer == 0) {
        check_answer(c, CHATD_OK, NULL);
    } else if (r->type == REDIS_REPLY_INTEGER) {
        if (c->ans)
            a->host->log(a->host, CHATD_LOG_INFO, "token refused (token revoked) for %s", c->ans->user);
        count(a, "revoked");
        check_answer(c, CHATD_ERR_DENIED, "token revoked");
    } else {
        a->host->log(a->host, CHATD_LOG_ERROR, "revocation list: unexpected redis answer: %s",
                     r->type == REDIS_REPLY_ERROR ? r->str : "not an integer");
        count(a, "revocation_unavailable");
        check_answer(c, CHATD_ERR_UNAVAILABLE, "authentication unavailable");
    }
    free(c);
}

/* The answer to a revoke's SET: only "OK" revokes. */
static void on_set(redisAsyncContext *ac, void *reply, void *privdata)
{
    (void)ac;
    struct check *c = privdata;
    struct auth_jwt *a = c->a;
    const redisReply *r = reply;
    check_unlink(c);
    event_free(c->timer);
    if (a->stopping) {
        check_answer(c, CHATD_ERR_CLOSED, "shutting down");
    } else if (!r) {
        count(a, "revocation_unavailable");
        check_answer(c, CHATD_ERR_UNAVAILABLE, "revocation list unavailable");
    } else if (r->type == REDIS_REPLY_STATUS && strcmp(r->str, "OK") == 0) {
        if (c->ans)
            a->host->log(a->host, CHATD_LOG_INFO, "token of %s revoked (jti %s)", c->ans->user, c->ans->jti);
        count(a, "revocations");
        check_answer(c, CHATD_OK, NULL);
    } else {
        a->host->log(a->host, CHATD_LOG_ERROR, "revocation list: unexpected redis answer to SET: %s",
                     r->type == REDIS_REPLY_ERROR ? r->str : "not OK");
        count(a, "revocation_unavailable");
        check_answer(c, CHATD_ERR_UNAVAILABLE, "revocation list unavailable");
    }
    free(c);
}

/* Ask Redis about ans->jti (authenticate: EXISTS) or write it (revoke: SET
 * with an expiry); answers ans one way or another, never before the caller
 * returns. */
static void revocation_ask(struct auth_jwt *a, struct answer *ans)
{
    const char *fail = !a->ac ? "not connected" : a->nchecks >= MAX_CHECKS ? "too many look-ups in flight" : NULL;
    struct check *c = NULL;
    char *key = NULL;
    size_t plen = strlen(a->prefix), jlen = strlen(ans->jti);
    if (!fail && (!(c = calloc(1, sizeof *c)) || !(key = malloc(plen + jlen)) ||
                  !(c->timer = evtimer_new(a->host->base, on_check_timeout, c))))
        fail = "out of memory";
    if (!fail) {
        memcpy(key, a->prefix, plen);
        memcpy(key + plen, ans->jti, jlen);
        c->a = a;
        c->ans = ans;
        int rc = ans->revoke_cb
                     ? redisAsyncCommand(a->ac, on_set, c, "SET %b 1 EX %lld", key, plen + jlen, ans->revoke_ttl_s)
                     : redisAsyncCommand(a->ac, on_exists, c, "EXISTS %b", key, plen + jlen);
        if (rc != REDIS_OK)
            fail = "redis refused the command";
    }
    free(key);
    if (fail) {
        if (c && c->timer)
            event_free(c->timer);
        free(c);
        a->host->log(a->host, CHATD_LOG_INFO, "revocation list unavailable (%s): %s", fail,
                     ans->revoke_cb ? "token not revoked" : "token refused");
        count(a, "revocation_unavailable");
        ans->st = CHATD_ERR_UNAVAILABLE;
        ans->reason = ans->revoke_cb ? "revocation list unavailable" : "authentication unavailable";
        answer_post(a, ans);
        return;
    }
    c->next = a->checks;
    if (a->checks)
        a->checks->prev = c;
    a->checks = c;
    a->nchecks++;
    struct timeval tv = {a->timeout_ms / 1000, (a->timeout_ms % 1000) * 1000};
    evtimer_add(c->timer, &tv);
}

static void connect_now(struct auth_jwt *a);

static void schedule_retry(struct auth_jwt *a)
{
    if (a->stopping)
        return;
    struct timeval tv = {a->backoff_ms / 1000, (a->backoff_ms % 1000) * 1000};
    evtimer_add(a->retry, &tv);
    a->backoff_ms = a->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : a->backoff_ms * 2;
}

static void on_retry(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    connect_now(arg);
}

static void on_auth_reply(redisAsyncContext *ac, void *reply, void *privdata)
{
    struct auth_jwt *a = privdata;
    const redisReply *r = reply;
    if (!r || a->stopping)
        return;
    if (r->type == REDIS_REPLY_ERROR) {
        a->host->log(a->host, CHATD_LOG_ERROR, "revocation list: redis AUTH: %s", r->str);
        redisAsyncDisconnect(ac); /* look-ups queued behind it fail: closed */
    } else {
        a->backoff_ms = BACKOFF_MIN_MS;
    }
}

static void on_connect(const redisAsyncContext *ac, int status)
{
    struct auth_jwt *a = ac->data;
    if (status != REDIS_OK) {
        /* hiredis frees the context after this callback, answering every
         * queued look-up with no reply. */
        a->host->log(a->host, CHATD_LOG_WARN, "revocation list: redis connect failed: %s", ac->errstr);
        a->ac = NULL;
        schedule_retry(a);
        return;
    }
    if (!a->redis_password)
        a->backoff_ms = BACKOFF_MIN_MS;
    a->host->log(a->host, CHATD_LOG_INFO, "revocation list: connected to redis");
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
    struct auth_jwt *a = ac->data;
    a->ac = NULL;
    if (a->stopping)
        return;
    a->host->log(a->host, CHATD_LOG_WARN, "revocation list: redis connection lost%s%s",
                 status != REDIS_OK ? ": " : "", status != REDIS_OK ? ac->errstr : "");
    schedule_retry(a);
}

static void connect_now(struct auth_jwt *a)
{
    redisAsyncContext *ac = a->redis_unix ? redisAsyncConnectUnix(a->redis_unix)
                                          : redisAsyncConnect(a->redis_host, a->redis_port);
    if (!ac || ac->err) {
        a->host->log(a->host, CHATD_LOG_WARN, "revocation list: redis connect failed: %s",
                     ac ? ac->errstr : "out of memory");
        if (ac)
            redisAsyncFree(ac);
        schedule_retry(a);
        return;
    }
    ac->data = a;
    if (redisLibeventAttach(ac, a->host->base) != REDIS_OK) {
        redisAsyncFree(ac);
        schedule_retry(a);
        return;
    }
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    a->ac = ac;
    /* Queued first on this connection, so ahead of every look-up. */
    if (a->redis_password)
        redisAsyncCommand(ac, on_auth_reply, a, "AUTH %s", a->redis_password);
}

/* ----------------------------------------------------------------- op */

static bool jwks_wait(struct auth_jwt *a, struct answer *ans, const char *token, const char *remote);

/* The verdict of verify(), answered: through the revocation list when it
 * has a say, else posted. */
static void settle(struct auth_jwt *a, struct answer *ans, const char *why, const char *remote)
{
    ans->st = why ? CHATD_ERR_DENIED : CHATD_OK;
    ans->reason = why;
    if (why == unknown_kid && a->jwks_uri && !a->url_fetched) {
        /* the URL's keys were never had: the issuer's fault, not the token's */
        ans->st = CHATD_ERR_UNAVAILABLE;
        ans->reason = "authentication unavailable";
        a->host->log(a->host, CHATD_LOG_WARN, "token from %s not checked: no key from jwks_url yet",
                     remote ? remote : "?");
    } else if (why) {
        a->host->log(a->host, CHATD_LOG_INFO, "token refused (%s) from %s", why, remote ? remote : "?");
    }
    /* Only a token that passed every other check costs a look-up. */
    if (!why && ans->jti)
        revocation_ask(a, ans);
    else
        answer_post(a, ans);
}

static void jwt_authenticate(void *state, const struct chatd_credentials *cred, chatd_auth_cb cb, void *ctx)
{
    struct auth_jwt *a = state;
    struct answer *ans = calloc(1, sizeof *ans);
    if (!ans)
        return; /* out of memory: the session times out waiting for CONNECTED */
    ans->cb = cb;
    ans->ctx = ctx;
    /* The token: a bearer, else the passcode (some clients can only send that). */
    const char *token = cred->token ? cred->token : cred->passcode;
    const char *why = verify(a, token, ans);
    if (why == unknown_kid && jwks_wait(a, ans, token, cred->remote_addr))
        return;
    settle(a, ans, why, cred->remote_addr);
}

/* SDK 2.7: a logout. The token must pass every check authenticate makes
 * but the revocation list's (a token revoked already is written again: the
 * same key, the same end); its jti then goes into the list until the token
 * would expire anyway (exp + leeway). */
static void jwt_revoke(void *state, const struct chatd_credentials *cred, chatd_revoke_cb cb, void *ctx)
{
    struct auth_jwt *a = state;
    struct answer *ans = calloc(1, sizeof *ans);
    if (!ans)
        return; /* out of memory: the request waits for its client's timeout */
    ans->revoke_cb = cb;
    ans->ctx = ctx;
    const char *token = cred->token ? cred->token : cred->passcode;
    const char *why = a->revocation ? verify(a, token, ans) : NULL;
    ans->st = CHATD_OK;
    if (!a->revocation) {
        ans->st = CHATD_ERR_UNSUPPORTED;
        ans->reason = "tokens cannot be revoked: [auth] revocation is off";
    } else if (why) {
        ans->st = CHATD_ERR_DENIED;
        ans->reason = why;
    } else if (!ans->jti) {
        ans->st = CHATD_ERR_UNSUPPORTED;
        ans->reason = "the token has no jti claim, so it cannot be revoked";
    }
    if (ans->st != CHATD_OK) {
        answer_post(a, ans);
        return;
    }
    long long ttl = ans->expires_ms / 1000 + a->leeway - (long long)time(NULL);
    ans->revoke_ttl_s = ttl > 0 ? ttl : 1;
    revocation_ask(a, ans);
}

/* -------------------------------------------------------------- config */

/* The whole file, NUL-terminated, when it has 1 to max bytes. */
static unsigned char *read_file(const char *path, size_t max, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    unsigned char *buf = malloc(max + 2);
    size_t n = buf ? fread(buf, 1, max + 1, f) : 0;
    fclose(f);
    if (!buf || n == 0 || n > max) {
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}

/* Where a key id is already used, for the duplicate check. */
static const struct key *find_kid(const struct auth_jwt *a, const char *kid)
{
    for (size_t i = 0; i < a->nkeys; i++)
        if (a->keys[i].kid && strcmp(a->keys[i].kid, kid) == 0)
            return &a->keys[i];
    return NULL;
}

/* One key: algorithm + (secret | public_key), from keys prefix.algorithm etc. */
static int load_key(struct auth_jwt *a, const char *kid, const char *alg_key, const char *secret_key,
                    const char *pem_key)
{
    const struct chatd_host *h = a->host;
    const char *alg = h->config_get(h, alg_key);
    const char *secret = h->config_get(h, secret_key);
    const char *pem = h->config_get(h, pem_key);
    if (!alg && !secret && !pem)
        return 0;
    if (a->nkeys == MAX_KEYS) {
        h->config_error(h, alg_key, "more than %d keys", MAX_KEYS);
        return -1;
    }
    jwt_alg_t ja = alg ? jwt_str_alg(alg) : JWT_ALG_INVAL;
    bool hmac = ja == JWT_ALG_HS256 || ja == JWT_ALG_HS384 || ja == JWT_ALG_HS512;
    bool pub = ja == JWT_ALG_RS256 || ja == JWT_ALG_RS384 || ja == JWT_ALG_RS512 || ja == JWT_ALG_ES256 ||
               ja == JWT_ALG_ES384 || ja == JWT_ALG_ES512;
    if (!hmac && !pub) {
        h->config_error(h, alg_key, "expected HS256, HS384, HS512, RS256, RS384, RS512, ES256, ES384 or ES512");
        return -1;
    }
    struct key *k = &a->keys[a->nkeys];
    memset(k, 0, sizeof *k);
    k->alg = ja;
    if (hmac) {
        if (!secret || strlen(secret) < 16) {
            h->config_error(h, secret_key, "an %s key needs a secret of at least 16 bytes", alg);
            return -1;
        }
        k->len = strlen(secret);
        k->material = (unsigned char *)strdup(secret);
    } else {
        if (!pem) {
            h->config_error(h, pem_key, "an %s key needs public_key = PATH to a PEM file", alg);
            return -1;
        }
        if (!(k->material = read_file(pem, 65536, &k->len))) {
            h->config_error(h, pem_key, "cannot read the PEM file '%s'", pem);
            return -1;
        }
    }
    if (kid && !(k->kid = strdup(kid))) {
        free(k->material);
        return -1;
    }
    if (!k->material)
        return -1;
    a->nkeys++;
    return 0;
}

/* ---------------------------------------------------------------- JWKS */

/* A base64url member of a JWK (padding tolerated) into a new buffer. */
static const char *jwk_bytes(json_t *jwk, const char *name, size_t max, unsigned char **out, size_t *len)
{
    static char why[64];
    json_t *v = json_object_get(jwk, name);
    const char *str = json_string_value(v);
    *out = NULL;
    if (!v) {
        snprintf(why, sizeof why, "missing \"%s\"", name);
        return why;
    }
    size_t n = str ? strlen(str) : 0;
    while (n && str[n - 1] == '=')
        n--;
    unsigned char *buf = n && n <= max * 4 / 3 + 4 ? malloc(n) : NULL;
    int got = buf ? b64url_decode(str, n, buf, n) : -1;
    if (got <= 0) {
        free(buf);
        snprintf(why, sizeof why, "\"%s\" is not a base64url string of 1 to %zu bytes", name, max);
        return why;
    }
    *out = buf;
    *len = (size_t)got;
    return NULL;
}

/* The key as a PEM SubjectPublicKeyInfo, NUL-terminated. */
static unsigned char *pem_of(EVP_PKEY *pkey, size_t *len)
{
    BIO *bio = BIO_new(BIO_s_mem());
    unsigned char *out = NULL;
    char *data;
    long n;
    if (bio && PEM_write_bio_PUBKEY(bio, pkey) == 1 && (n = BIO_get_mem_data(bio, &data)) > 0 &&
        (out = malloc((size_t)n + 1))) {
        memcpy(out, data, (size_t)n);
        out[n] = '\0';
        *len = (size_t)n;
    }
    BIO_free(bio);
    return out;
}

/* Build pkey of `type` ("RSA", "EC") from params and check it as a public key. */
static const char *pkey_from(const char *type, OSSL_PARAM *params, EVP_PKEY **pkey)
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
    const char *why = NULL;
    *pkey = NULL;
    if (!ctx || EVP_PKEY_fromdata_init(ctx) != 1 || EVP_PKEY_fromdata(ctx, pkey, EVP_PKEY_PUBLIC_KEY, params) != 1)
        why = "OpenSSL does not accept the key";
    EVP_PKEY_CTX_free(ctx);
    if (!why) {
        ctx = EVP_PKEY_CTX_new_from_pkey(NULL, *pkey, NULL);
        if (!ctx || EVP_PKEY_public_check(ctx) != 1)
            why = "the public key fails OpenSSL's check";
        EVP_PKEY_CTX_free(ctx);
    }
    if (why) {
        EVP_PKEY_free(*pkey);
        *pkey = NULL;
    }
    return why;
}

static const char *rsa_jwk(json_t *jwk, EVP_PKEY **pkey)
{
    unsigned char *n = NULL, *e = NULL;
    size_t nlen, elen;
    const char *why = jwk_bytes(jwk, "n", 2048, &n, &nlen);
    if (!why)
        why = jwk_bytes(jwk, "e", 8, &e, &elen);
    BIGNUM *bn = why ? NULL : BN_bin2bn(n, (int)nlen, NULL);
    BIGNUM *be = why ? NULL : BN_bin2bn(e, (int)elen, NULL);
    OSSL_PARAM_BLD *bld = NULL;
    OSSL_PARAM *params = NULL;
    if (!why && (!bn || !be))
        why = "out of memory";
    else if (!why && (BN_num_bits(bn) < 2048 || BN_num_bits(bn) > 16384))
        why = "an RSA modulus \"n\" of 2048 to 16384 bits is required";
    else if (!why && (!BN_is_odd(be) || BN_is_one(be)))
        why = "the RSA exponent \"e\" must be odd and above 1";
    if (!why && (!(bld = OSSL_PARAM_BLD_new()) || !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn) ||
                 !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, be) || !(params = OSSL_PARAM_BLD_to_param(bld))))
        why = "out of memory";
    if (!why)
        why = pkey_from("RSA", params, pkey);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    BN_free(bn);
    BN_free(be);
    free(n);
    free(e);
    return why;
}

/* crv -> OpenSSL group, coordinate size, the one algorithm of that curve. */
static const struct curve {
    const char *crv, *group;
    size_t size;
    jwt_alg_t alg;
} curves[] = {
    {"P-256", "prime256v1", 32, JWT_ALG_ES256},
    {"P-384", "secp384r1", 48, JWT_ALG_ES384},
    {"P-521", "secp521r1", 66, JWT_ALG_ES512},
};

static const char *ec_jwk(json_t *jwk, const struct curve **curve, EVP_PKEY **pkey)
{
    static char why_crv[96];
    const char *crv = json_string_value(json_object_get(jwk, "crv"));
    *curve = NULL;
    for (size_t i = 0; crv && i < sizeof curves / sizeof *curves; i++)
        if (strcmp(crv, curves[i].crv) == 0)
            *curve = &curves[i];
    if (!*curve) {
        snprintf(why_crv, sizeof why_crv, "\"crv\" %s%.16s%s is not P-256, P-384 or P-521", crv ? "'" : "",
                 crv ? crv : "missing", crv ? "'" : "");
        return why_crv;
    }
    size_t size = (*curve)->size;
    unsigned char *x = NULL, *y = NULL, point[1 + 2 * 66];
    size_t xlen = 0, ylen = 0;
    const char *why = jwk_bytes(jwk, "x", size, &x, &xlen);
    if (!why)
        why = jwk_bytes(jwk, "y", size, &y, &ylen);
    if (!why && (xlen != size || ylen != size))
        why = "\"x\" and \"y\" must each be the curve's full coordinate size";
    if (!why) {
        point[0] = 0x04; /* uncompressed */
        memcpy(point + 1, x, size);
        memcpy(point + 1 + size, y, size);
        OSSL_PARAM params[] = {
            OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, (char *)(*curve)->group, 0),
            OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, point, 1 + 2 * size),
            OSSL_PARAM_construct_end(),
        };
        why = pkey_from("EC", params, pkey);
        if (why)
            why = "the point (x, y) is not on the curve";
    }
    free(x);
    free(y);
    return why;
}

/* One JWK into *k, or the reason it cannot be used. */
static const char *jwk_load(struct key *k, json_t *jwk, const char *kid)
{
    static char why_buf[128];
    if (!json_is_object(jwk))
        return "not a JSON object";
    const char *kty = json_string_value(json_object_get(jwk, "kty"));
    const char *alg = json_string_value(json_object_get(jwk, "alg"));
    const char *use = json_string_value(json_object_get(jwk, "use"));
    if (json_object_get(jwk, "alg") && !alg)
        return "\"alg\" is not a string";
    if (json_object_get(jwk, "use") && (!use || strcmp(use, "sig") != 0))
        return "\"use\" is not \"sig\"";
    static const char *const private_members[] = {"d", "p", "q", "dp", "dq", "qi", "k"};
    for (size_t i = 0; i < sizeof private_members / sizeof *private_members; i++)
        if (json_object_get(jwk, private_members[i]))
            return "holds private or secret key material; give chatd public keys only";
    if (alg && (strcasecmp(alg, "none") == 0 || strncasecmp(alg, "HS", 2) == 0)) {
        snprintf(why_buf, sizeof why_buf, "\"alg\" '%.16s' is not allowed: RS* or ES* only", alg);
        return why_buf;
    }
    jwt_alg_t want;
    EVP_PKEY *pkey = NULL;
    const char *why;
    if (kty && strcmp(kty, "RSA") == 0) {
        jwt_alg_t ja = alg ? jwt_str_alg(alg) : JWT_ALG_RS256;
        if (ja != JWT_ALG_RS256 && ja != JWT_ALG_RS384 && ja != JWT_ALG_RS512) {
            snprintf(why_buf, sizeof why_buf, "\"alg\" '%.16s' does not fit an RSA key (RS256, RS384, RS512)", alg);
            return why_buf;
        }
        want = ja;
        why = rsa_jwk(jwk, &pkey);
    } else if (kty && strcmp(kty, "EC") == 0) {
        const struct curve *curve;
        why = ec_jwk(jwk, &curve, &pkey);
        want = curve ? curve->alg : JWT_ALG_INVAL;
        if (!why && alg && jwt_str_alg(alg) != want) {
            snprintf(why_buf, sizeof why_buf, "\"alg\" '%.16s' does not fit a %s key (%s)", alg, curve->crv,
                     jwt_alg_str(want));
            why = why_buf;
        }
    } else {
        snprintf(why_buf, sizeof why_buf, "\"kty\" %s%.16s%s is not supported: RSA or EC", kty ? "'" : "",
                 kty ? kty : "missing", kty ? "'" : "");
        return why_buf;
    }
    memset(k, 0, sizeof *k);
    if (!why && !(k->material = pem_of(pkey, &k->len)))
        why = "cannot write the key as PEM";
    EVP_PKEY_free(pkey);
    if (!why && !(k->kid = strdup(kid)))
        why = "out of memory";
    if (why) {
        free(k->material);
        k->material = NULL;
        return why;
    }
    k->alg = want;
    return NULL;
}

/* The keys of a JWKS document (len bytes of text, read from path), or a
 * config error naming the file and the key. */
static int parse_jwks(struct auth_jwt *a, const char *path, const unsigned char *text, size_t len)
{
    const struct chatd_host *h = a->host;
    size_t first = a->nkeys;
    json_error_t jerr;
    json_t *root = json_loadb((const char *)text, len, JSON_REJECT_DUPLICATES, &jerr);
    json_t *keys = json_object_get(root, "keys");
    int rc = -1;
    if (!root) {
        h->config_error(h, "jwks", "%s: not JSON: %s (line %d)", path, jerr.text, jerr.line);
    } else if (!json_is_array(keys) || json_array_size(keys) == 0) {
        h->config_error(h, "jwks", "%s: expected {\"keys\": [...]} with at least one key", path);
    } else {
        rc = 0;
        for (size_t i = 0; i < json_array_size(keys) && rc == 0; i++) {
            json_t *jwk = json_array_get(keys, i);
            const char *kid = json_string_value(json_object_get(jwk, "kid"));
            const struct key *dup = kid ? find_kid(a, kid) : NULL;
            const char *why = NULL;
            if (!kid)
                why = "a key needs a \"kid\" string";
            else if (!kid_is_sane(kid))
                why = "\"kid\" must be 1 to 64 letters, digits, '-' or '_'";
            else if (a->nkeys == MAX_KEYS)
                why = "more keys than 64 in all";
            else if (!dup && !(why = jwk_load(&a->keys[a->nkeys], jwk, kid)))
                a->nkeys++;
            if (dup) {
                if (dup < a->keys + first)
                    h->config_error(h, "jwks", "%s: keys[%zu]: kid '%s' is also defined by key.%s.* here", path,
                                    i, kid, kid);
                else
                    h->config_error(h, "jwks", "%s: keys[%zu]: kid '%s' is defined twice in the file", path, i,
                                    kid);
                rc = -1;
            } else if (why) {
                if (kid && kid_is_sane(kid))
                    h->config_error(h, "jwks", "%s: keys[%zu] (kid '%s'): %s", path, i, kid, why);
                else
                    h->config_error(h, "jwks", "%s: keys[%zu]: %s", path, i, why);
                rc = -1;
            }
        }
    }
    json_decref(root);
    return rc;
}

/* jwks = PATH: every key of the file. */
static int load_jwks(struct auth_jwt *a, const char *path)
{
    const struct chatd_host *h = a->host;
    size_t len;
    errno = 0;
    unsigned char *text = read_file(path, JWKS_MAX_BYTES, &len);
    if (!text) {
        h->config_error(h, "jwks", "cannot read '%s' (%s)", path,
                        errno ? strerror(errno) : "empty, or larger than 1 MiB");
        return -1;
    }
    int rc = parse_jwks(a, path, text, len);
    free(text);
    return rc;
}

/* ------------------------------------------------------------ jwks_url */

static void keys_free(struct key *keys, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(keys[i].kid);
        free(keys[i].material);
    }
}

/* The usable keys of a fetched JWKS document into a new set. A key chatd
 * cannot use (another kty, "use": "enc", no kid) is passed over, as is a
 * kid the ini or the file defines or one the document repeats; the
 * document is refused when it is no JWKS or has no usable key. */
static const char *url_keys_parse(struct auth_jwt *a, const unsigned char *text, size_t len, struct key **out,
                                  size_t *nout)
{
    static char why[200];
    json_error_t jerr;
    json_t *root = json_loadb((const char *)text, len, 0, &jerr);
    json_t *keys = json_object_get(root, "keys");
    if (!root || !json_is_array(keys)) {
        snprintf(why, sizeof why, root ? "expected {\"keys\": [...]}" : "not JSON: %s (line %d)", jerr.text,
                 jerr.line);
        json_decref(root);
        return why;
    }
    size_t cap = json_array_size(keys) < MAX_KEYS ? json_array_size(keys) : MAX_KEYS;
    struct key *set = calloc(cap ? cap : 1, sizeof *set);
    size_t n = 0;
    for (size_t i = 0; set && i < json_array_size(keys) && n < cap; i++) {
        json_t *jwk = json_array_get(keys, i);
        const char *kid = json_string_value(json_object_get(jwk, "kid"));
        bool dup = false;
        for (size_t j = 0; kid && j < n && !dup; j++)
            dup = strcmp(set[j].kid, kid) == 0;
        const char *skip = !kid || !kid_is_sane(kid) ? "no usable kid"
                           : dup || find_kid(a, kid) ? "kid defined before"
                                                     : jwk_load(&set[n], jwk, kid);
        if (skip)
            a->host->log(a->host, CHATD_LOG_DEBUG, "jwks_url: keys[%zu] passed over: %s", i, skip);
        else
            n++;
    }
    json_decref(root);
    if (!set)
        return "out of memory";
    if (!n) {
        free(set);
        return "no usable key (RSA or EC, \"use\": \"sig\", with a kid)";
    }
    *out = set;
    *nout = n;
    return NULL;
}

static void start_fetch(struct auth_jwt *a);

static void schedule_fetch(struct auth_jwt *a, long ms)
{
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    evtimer_add(a->refresh, &tv);
}

/* The tokens that waited for a fetch, verified again with what it brought. */
static void waiters_settle(struct auth_jwt *a)
{
    struct waiter *w = a->waiters;
    a->waiters = NULL;
    a->waiters_tail = &a->waiters;
    a->nwaiters = 0;
    while (w) {
        struct waiter *next = w->next;
        settle(a, w->ans, verify(a, w->token, w->ans), w->remote);
        free(w->token);
        free(w->remote);
        free(w);
        w = next;
    }
}

static void on_jwks(void *arg, const char *err, const unsigned char *body, size_t len, long max_age_s)
{
    struct auth_jwt *a = arg;
    const struct chatd_host *h = a->host;
    a->fetching = false;
    struct key *set = NULL;
    size_t n = 0;
    if (!err)
        err = url_keys_parse(a, body, len, &set, &n);
    if (err) {
        h->log(h, CHATD_LOG_WARN, "jwks_url: %s; %s, next try in %lds", err,
               a->url_fetched ? "the keys of the last fetch stay" : "no key from it yet", a->retry_ms / 1000);
        count(a, "jwks_fetch_failed");
        schedule_fetch(a, a->retry_ms);
        a->retry_ms = a->retry_ms * 2 > JWKS_RETRY_MAX_MS ? JWKS_RETRY_MAX_MS : a->retry_ms * 2;
    } else {
        keys_free(a->url_keys, a->nurl);
        free(a->url_keys);
        a->url_keys = set;
        a->nurl = n;
        a->url_fetched = true;
        a->retry_ms = JWKS_RETRY_MIN_MS;
        long age = max_age_s >= 0 && max_age_s < LONG_MAX / 1000 ? max_age_s * 1000 : JWKS_DEFAULT_AGE_MS;
        if (age < a->jwks_min_refresh_ms)
            age = a->jwks_min_refresh_ms;
        if (age > a->jwks_max_age_ms)
            age = a->jwks_max_age_ms;
        h->log(h, CHATD_LOG_INFO, "jwks_url: %zu key(s), fetched again in %lds", n, age / 1000);
        count(a, "jwks_fetched");
        schedule_fetch(a, age);
    }
    waiters_settle(a);
}

static void start_fetch(struct auth_jwt *a)
{
    /* the previous fetch is over (its callback returned): free it here */
    jwks_fetch_cancel(a->fetch);
    evtimer_del(a->refresh);
    a->fetch_started_ms = monotonic_ms();
    a->fetch = jwks_fetch_start(a->host->base, a->dns, a->jwks_tls, a->jwks_uri, a->jwks_timeout_ms,
                                JWKS_MAX_BYTES, on_jwks, a);
    a->fetching = a->fetch != NULL;
    if (!a->fetch)
        schedule_fetch(a, a->retry_ms);
}

static void on_refresh(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    start_fetch(arg);
}

/* A token whose kid no key has: it waits for the fetch in flight, or for
 * one started now if the last began jwks_min_refresh ago or more. False:
 * answer it at once. */
static bool jwks_wait(struct auth_jwt *a, struct answer *ans, const char *token, const char *remote)
{
    if (!a->jwks_uri || a->nwaiters >= MAX_WAITERS)
        return false;
    if (!a->fetching && monotonic_ms() - a->fetch_started_ms < a->jwks_min_refresh_ms)
        return false;
    struct waiter *w = calloc(1, sizeof *w);
    if (!w || !(w->token = strdup(token)) || (remote && !(w->remote = strdup(remote)))) {
        if (w)
            free(w->token);
        free(w);
        return false;
    }
    w->ans = ans;
    *a->waiters_tail = w;
    a->waiters_tail = &w->next;
    a->nwaiters++;
    if (!a->fetching) {
        a->host->log(a->host, CHATD_LOG_INFO, "jwks_url: a token names a key not known yet: fetching");
        start_fetch(a);
        if (!a->fetching) { /* could not start: answer now */
            waiters_settle(a);
            return true;
        }
    }
    return true;
}

static int config_duration(const struct chatd_host *h, const char *key, long def_ms, long min_ms, long max_ms,
                           long *out);

/* jwks_url, jwks_ca, jwks_timeout, jwks_min_refresh, jwks_max_age. */
static int load_jwks_url(struct auth_jwt *a)
{
    const struct chatd_host *h = a->host;
    const char *url = h->config_get(h, "jwks_url");
    static const char *const url_keys[] = {"jwks_ca", "jwks_timeout", "jwks_min_refresh", "jwks_max_age"};
    if (!url) {
        for (size_t i = 0; i < sizeof url_keys / sizeof *url_keys; i++)
            if (h->config_get(h, url_keys[i])) {
                h->config_error(h, url_keys[i], "only used with jwks_url");
                return -1;
            }
        return 0;
    }
    a->jwks_uri = evhttp_uri_parse(url);
    const char *scheme = a->jwks_uri ? evhttp_uri_get_scheme(a->jwks_uri) : NULL;
    const char *host = a->jwks_uri ? evhttp_uri_get_host(a->jwks_uri) : NULL;
    if (!scheme || strcasecmp(scheme, "https") != 0 || !host || !*host || evhttp_uri_get_userinfo(a->jwks_uri)) {
        h->config_error(h, "jwks_url", "expected an https:// URL with a host, got '%s'", url);
        return -1;
    }
    if (config_duration(h, "jwks_timeout", 5000, 100, 60000, &a->jwks_timeout_ms) < 0 ||
        config_duration(h, "jwks_min_refresh", 30000, 1000, 86400000, &a->jwks_min_refresh_ms) < 0 ||
        config_duration(h, "jwks_max_age", 3600000, 1000, 7 * 86400000L, &a->jwks_max_age_ms) < 0)
        return -1;
    if (a->jwks_min_refresh_ms > a->jwks_max_age_ms) {
        h->config_error(h, "jwks_min_refresh", "is above jwks_max_age");
        return -1;
    }
    const char *ca = h->config_get(h, "jwks_ca");
    const char *why = NULL;
    if (!(a->jwks_tls = jwks_fetch_tls(ca, &why))) {
        h->config_error(h, ca ? "jwks_ca" : "jwks_url", "%s%s%s", why, ca ? ": " : "", ca ? ca : "");
        return -1;
    }
    /* the resolver: the system's name servers (an address needs none) */
    if (!(a->dns = evdns_base_new(h->base, 0)) || !(a->refresh = evtimer_new(h->base, on_refresh, a)))
        return -1;
    evdns_base_resolv_conf_parse(a->dns, DNS_OPTIONS_ALL, "/etc/resolv.conf");
    a->retry_ms = JWKS_RETRY_MIN_MS;
    a->waiters_tail = &a->waiters;
    return 0;
}

static void free_all(struct auth_jwt *a)
{
    keys_free(a->keys, a->nkeys);
    keys_free(a->url_keys, a->nurl);
    free(a->url_keys);
    jwks_fetch_cancel(a->fetch);
    if (a->refresh)
        event_free(a->refresh);
    if (a->dns)
        evdns_base_free(a->dns, 0); /* no request is left: the fetch is cancelled */
    if (a->jwks_tls)
        SSL_CTX_free(a->jwks_tls);
    if (a->jwks_uri)
        evhttp_uri_free(a->jwks_uri);
    free(a->issuer);
    free(a->audience);
    free(a->claim_user_s);
    free(a->claim_name_s);
    free(a->claim_roles_s);
    free(a->admin_role);
    if (a->retry)
        event_free(a->retry);
    free(a->redis_host);
    free(a->redis_unix);
    free(a->redis_password);
    free(a->prefix);
    free(a);
}

/* "2s", "500ms", or plain seconds; within [min_ms, max_ms]. */
static int config_duration(const struct chatd_host *h, const char *key, long def_ms, long min_ms, long max_ms,
                           long *out)
{
    const char *v = h->config_get(h, key);
    *out = def_ms;
    if (!v)
        return 0;
    char *end;
    errno = 0;
    long n = strtol(v, &end, 10);
    long mult = strcmp(end, "ms") == 0 ? 1 : !*end || strcmp(end, "s") == 0 ? 1000 : -1;
    if (errno || end == v || mult < 0 || n < 0 || n > max_ms / mult || n * mult < min_ms) {
        h->config_error(h, key, "expected a duration from %ldms to %lds (e.g. 500ms, 2s), got '%s'", min_ms,
                        max_ms / 1000, v);
        return -1;
    }
    *out = n * mult;
    return 0;
}

/* revocation, require_jti, redis_*, revocation_prefix. */
static int load_revocation(struct auth_jwt *a)
{
    const struct chatd_host *h = a->host;
    const char *mode = h->config_get(h, "revocation");
    const char *require = h->config_get(h, "require_jti");
    static const char *const redis_keys[] = {"redis_address", "redis_password", "redis_timeout",
                                             "revocation_prefix"};
    if (mode && strcmp(mode, "redis") != 0 && strcmp(mode, "none") != 0) {
        h->config_error(h, "revocation", "expected none or redis, got '%s'", mode);
        return -1;
    }
    a->revocation = mode && strcmp(mode, "redis") == 0;
    a->require_jti = a->revocation; /* a token without jti could not be revoked */
    if (require) {
        if (strcmp(require, "true") != 0 && strcmp(require, "false") != 0) {
            h->config_error(h, "require_jti", "expected true or false, got '%s'", require);
            return -1;
        }
        a->require_jti = strcmp(require, "true") == 0;
    }
    if (!a->revocation) {
        for (size_t i = 0; i < sizeof redis_keys / sizeof *redis_keys; i++)
            if (h->config_get(h, redis_keys[i])) {
                h->config_error(h, redis_keys[i], "only used with revocation = redis");
                return -1;
            }
        return 0;
    }
    const char *address = h->config_get(h, "redis_address");
    const char *password = h->config_get(h, "redis_password");
    const char *prefix = h->config_get(h, "revocation_prefix");
    if (!address)
        address = "127.0.0.1:6379";
    if (address[0] == '/') {
        if (!(a->redis_unix = strdup(address)))
            return -1;
    } else {
        const char *colon = strrchr(address, ':');
        char *end = NULL;
        long port = colon ? strtol(colon + 1, &end, 10) : 6379;
        if (!*address || colon == address || (colon && (*end || end == colon + 1)) || port < 1 || port > 65535) {
            h->config_error(h, "redis_address", "expected HOST:PORT or a Unix socket path, got '%s'", address);
            return -1;
        }
        if (!(a->redis_host = colon ? strndup(address, (size_t)(colon - address)) : strdup(address)))
            return -1;
        a->redis_port = (int)port;
    }
    if (prefix && (!*prefix || strlen(prefix) > 128)) {
        h->config_error(h, "revocation_prefix", "expected 1 to 128 bytes");
        return -1;
    }
    if (!(a->prefix = strdup(prefix ? prefix : "chatd:revoked:")))
        return -1;
    if (password && *password && !(a->redis_password = strdup(password)))
        return -1;
    if (config_duration(h, "redis_timeout", 2000, 10, 60000, &a->timeout_ms) < 0)
        return -1;
    a->backoff_ms = BACKOFF_MIN_MS;
    if (!(a->retry = evtimer_new(h->base, on_retry, a)))
        return -1;
    return 0;
}

static chatd_status jwt_init(const struct chatd_host *h, void **state)
{
    struct auth_jwt *a = calloc(1, sizeof *a);
    if (!a)
        return CHATD_ERR_NOMEM;
    a->host = h;
    if (load_key(a, NULL, "algorithm", "secret", "public_key") < 0)
        goto invalid;
    /* key.KID.algorithm / key.KID.secret / key.KID.public_key */
    size_t n = h->config_count(h);
    for (size_t i = 0; i < n; i++) {
        const char *k = h->config_key(h, i);
        const char *dot = strncmp(k, "key.", 4) == 0 ? strrchr(k + 4, '.') : NULL;
        if (!dot || strcmp(dot, ".algorithm") != 0)
            continue;
        char kid[80], a1[128], a2[128], a3[128];
        snprintf(kid, sizeof kid, "%.*s", (int)(dot - (k + 4)), k + 4);
        if (!kid_is_sane(kid)) {
            h->config_error(h, k, "a key id is 1 to 64 letters, digits, '-' or '_'");
            goto invalid;
        }
        snprintf(a1, sizeof a1, "key.%s.algorithm", kid);
        snprintf(a2, sizeof a2, "key.%s.secret", kid);
        snprintf(a3, sizeof a3, "key.%s.public_key", kid);
        if (load_key(a, kid, a1, a2, a3) < 0)
            goto invalid;
    }
    const char *jwks = h->config_get(h, "jwks");
    if (jwks && load_jwks(a, jwks) < 0)
        goto invalid;
    if (load_jwks_url(a) < 0)
        goto invalid;
    if (a->nkeys == 0 && !a->jwks_uri) {
        h->config_error(h, jwks ? "jwks" : "algorithm",
                        "no key: set algorithm with secret or public_key, key.KID.* entries, jwks or jwks_url");
        goto invalid;
    }
    if (load_revocation(a) < 0)
        goto invalid;
    const char *iss = h->config_get(h, "issuer"), *aud = h->config_get(h, "audience");
    const char *leeway = h->config_get(h, "leeway");
    a->issuer = iss && *iss ? strdup(iss) : NULL;
    a->audience = aud && *aud ? strdup(aud) : NULL;
    a->leeway = 30;
    if (leeway) {
        char *end;
        a->leeway = strtol(leeway, &end, 10);
        if (*end || a->leeway < 0 || a->leeway > 3600) {
            h->config_error(h, "leeway", "expected seconds between 0 and 3600, got '%s'", leeway);
            goto invalid;
        }
    }
    const char *cu = h->config_get(h, "claim_user"), *cn = h->config_get(h, "claim_name"),
               *cr = h->config_get(h, "claim_roles");
    a->claim_user = (a->claim_user_s = cu ? strdup(cu) : NULL) ? a->claim_user_s : "sub";
    a->claim_name = (a->claim_name_s = cn ? strdup(cn) : NULL) ? a->claim_name_s : "name";
    a->claim_roles = (a->claim_roles_s = cr ? strdup(cr) : NULL) ? a->claim_roles_s : "roles";
    const char *ar = h->config_get(h, "admin_role");
    a->admin_role = ar && *ar ? strdup(ar) : NULL;
    if ((iss && *iss && !a->issuer) || (aud && *aud && !a->audience) || (cu && !a->claim_user_s) ||
        (cn && !a->claim_name_s) || (cr && !a->claim_roles_s) || (ar && *ar && !a->admin_role))
        goto invalid;
    h->log(h, CHATD_LOG_INFO, "%zu key(s)%s%s", a->nkeys, a->jwks_uri ? " and those of jwks_url" : "",
           a->revocation ? ", revocation list in redis" : "");
    if (a->revocation)
        connect_now(a);
    if (a->jwks_uri)
        schedule_fetch(a, 0); /* from the loop: chatd --check-config never runs it */
    *state = a;
    return CHATD_OK;
invalid:
    free_all(a);
    return CHATD_ERR_INVALID;
}

static void jwt_fini(void *state)
{
    struct auth_jwt *a = state;
    a->stopping = true;
    /* Answers every look-up hiredis holds, with no reply: CHATD_ERR_CLOSED. */
    if (a->ac)
        redisAsyncFree(a->ac);
    a->ac = NULL;
    while (a->checks) {
        struct check *c = a->checks;
        check_unlink(c);
        event_free(c->timer);
        check_answer(c, CHATD_ERR_CLOSED, "shutting down");
        free(c);
    }
    jwks_fetch_cancel(a->fetch);
    a->fetch = NULL;
    while (a->waiters) {
        struct waiter *w = a->waiters;
        a->waiters = w->next;
        w->ans->st = CHATD_ERR_CLOSED;
        w->ans->reason = "shutting down";
        answer_run(w->ans);
        free(w->token);
        free(w->remote);
        free(w);
    }
    free_all(a);
}

static const struct chatd_auth_ops jwt_ops = {
    .size = sizeof jwt_ops,
    .authenticate = jwt_authenticate,
    .revoke = jwt_revoke,
};

CHATD_PLUGIN_DEFINE(.kind = CHATD_PLUGIN_AUTH, .name = "jwt", .version = "1.1",
                    .description = "JSON Web Tokens with pinned algorithms", .init = jwt_init,
                    .fini = jwt_fini, .ops.auth = &jwt_ops)
