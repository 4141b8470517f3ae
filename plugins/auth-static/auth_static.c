/* auth-static: users, salted password hashes and roles from chat.ini.
 *
 *   user.NAME.password = pbkdf2-sha256$ITERATIONS$SALT_HEX$HASH_HEX
 *   user.NAME.roles    = a list of user, agent, admin, supervisor (e.g. user,agent)
 *   user.NAME.name     = Display Name            (optional)
 *   user.NAME.cert     = yes: a client certificate naming NAME signs in
 *                        without a passcode (SDK 2.9 tls_identity);
 *                        such a user may have no password
 *   workers            = threads running PBKDF2 (0: one per core)
 *   max_pending        = verifications queued or running; beyond, CHATD_ERR_LIMIT
 *   cache_ttl          = how long a verified password skips PBKDF2 (0: never)
 *   cache_size         = verified passwords remembered, at most
 *
 * PBKDF2 is deliberately slow, so it runs on this plugin's own pool of
 * worker threads and the answer comes back through host->post: the core
 * loop never hashes, and the workers call nothing of the host but post
 * and log (both "any thread"). Everything else (the cache, the table of
 * verifications under way, counters) belongs to the core thread.
 *
 * A reconnect storm brings the same credentials many times over: a
 * verified password is remembered for cache_ttl (verify_cache.h), and a
 * CONNECT whose credentials are already being verified waits for that
 * verification instead of starting its own. Past max_pending distinct
 * verifications the plugin answers CHATD_ERR_LIMIT at once, which the
 * host turns into a retryable "server busy, retry" ERROR. */
#include <chatd/plugin.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "plugin_conf.h"
#include "verify_cache.h"

#define HASH_LEN 32
#define SALT_MAX 64
#define WORKERS_MAX 64

struct user {
    char *name;
    char *display;
    uint32_t roles;
    unsigned iterations;
    unsigned char salt[SALT_MAX];
    size_t salt_len;
    unsigned char hash[HASH_LEN];
    bool has_password;
    bool cert;           /* signs in with a client certificate alone */
};

/* One more CONNECT waiting for a verification already under way. */
struct waiter {
    struct waiter *next;
    chatd_auth_cb cb;
    void *ctx;
};

struct job {
    struct job *next;    /* the workers' queue */
    struct job *hnext;   /* the core thread's table of verifications under way */
    struct auth_static *a;
    struct user *user;   /* NULL: unknown user (hashed against a dummy) */
    char *passcode;      /* NULL for an answer from the cache */
    unsigned char key[VERIFY_KEY_LEN];
    bool keyed;          /* key is set: the job is in the table, its success is cached */
    bool queued;         /* counted in pending */
    chatd_auth_cb cb;
    void *ctx;
    struct waiter *waiters;
    bool ok;
};

struct auth_static {
    const struct chatd_host *host;
    struct user *users;
    size_t nusers, capusers;
    size_t *by_name;     /* open addressing: a user's place + 1, 0 = empty */
    size_t by_name_mask;
    struct user dummy;   /* unknown users cost the same time as known ones */

    /* Core thread only. */
    struct verify_cache *cache;
    struct job **inflight; /* buckets, by key */
    size_t inflight_mask;

    size_t nworkers;
    pthread_t workers[WORKERS_MAX];
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct job *head, *tail;
    size_t pending;      /* queued or being hashed or posted back */
    size_t max_pending;
    bool stopping;
};

static int hex_decode(const char *s, size_t n, unsigned char *out, size_t max)
{
    if (n % 2 || n / 2 > max)
        return -1;
    for (size_t i = 0; i < n / 2; i++) {
        unsigned v = 0;
        for (int k = 0; k < 2; k++) {
            char c = s[2 * i + (size_t)k];
            v <<= 4;
            if (c >= '0' && c <= '9')
                v |= (unsigned)(c - '0');
            else if (c >= 'a' && c <= 'f')
                v |= (unsigned)(c - 'a' + 10);
            else if (c >= 'A' && c <= 'F')
                v |= (unsigned)(c - 'A' + 10);
            else
                return -1;
        }
        out[i] = (unsigned char)v;
    }
    return (int)(n / 2);
}

/* pbkdf2-sha256$ITER$SALT$HASH */
static int parse_hash(const char *v, struct user *u)
{
    const char *prefix = "pbkdf2-sha256$";
    if (strncmp(v, prefix, strlen(prefix)) != 0)
        return -1;
    const char *p = v + strlen(prefix);
    char *end;
    unsigned long it = strtoul(p, &end, 10);
    if (end == p || *end != '$' || it < 1000 || it > 10000000)
        return -1;
    const char *salt = end + 1;
    const char *dollar = strchr(salt, '$');
    if (!dollar)
        return -1;
    int sl = hex_decode(salt, (size_t)(dollar - salt), u->salt, SALT_MAX);
    if (sl < 8)
        return -1;
    const char *hash = dollar + 1;
    if (strlen(hash) != 2 * HASH_LEN || hex_decode(hash, strlen(hash), u->hash, HASH_LEN) != HASH_LEN)
        return -1;
    u->iterations = (unsigned)it;
    u->salt_len = (size_t)sl;
    u->has_password = true;
    return 0;
}

static int parse_roles(const char *v, uint32_t *roles)
{
    *roles = 0;
    char *copy = strdup(v);
    if (!copy)
        return -1;
    int rc = 0;
    for (char *save = NULL, *w = strtok_r(copy, " ,", &save); w; w = strtok_r(NULL, " ,", &save)) {
        if (strcmp(w, "user") == 0)
            *roles |= CHATD_ROLE_USER;
        else if (strcmp(w, "agent") == 0)
            *roles |= CHATD_ROLE_AGENT;
        else if (strcmp(w, "admin") == 0)
            *roles |= CHATD_ROLE_ADMIN;
        else if (strcmp(w, "supervisor") == 0)
            *roles |= CHATD_ROLE_SUPERVISOR;
        else
            rc = -1;
    }
    free(copy);
    return *roles ? rc : -1;
}

static size_t name_hash(const char *name, size_t len)
{
    size_t h = 1469598103934665603ULL; /* FNV-1a */
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)name[i]) * 1099511628211ULL;
    return h;
}

/* The slot of `by_name` holding the user named name[0..len), or the empty
 * slot where it would go. */
static size_t *name_slot(const struct auth_static *a, const char *name, size_t len)
{
    for (size_t i = name_hash(name, len) & a->by_name_mask;; i = (i + 1) & a->by_name_mask) {
        size_t *slot = &a->by_name[i];
        if (!*slot)
            return slot;
        const char *n = a->users[*slot - 1].name;
        if (strncmp(n, name, len) == 0 && n[len] == '\0')
            return slot;
    }
}

static struct user *find_user(struct auth_static *a, const char *name)
{
    if (!a->by_name)
        return NULL;
    size_t *slot = name_slot(a, name, strlen(name));
    return *slot ? &a->users[*slot - 1] : NULL;
}

/* Keeps `by_name` at most half full. */
static int by_name_grow(struct auth_static *a)
{
    size_t cap = a->by_name ? 2 * (a->by_name_mask + 1) : 64;
    size_t *old = a->by_name, old_cap = old ? a->by_name_mask + 1 : 0;
    if (!(a->by_name = calloc(cap, sizeof *a->by_name))) {
        a->by_name = old;
        return -1;
    }
    a->by_name_mask = cap - 1;
    for (size_t i = 0; i < old_cap; i++)
        if (old[i]) {
            const char *n = a->users[old[i] - 1].name;
            *name_slot(a, n, strlen(n)) = old[i];
        }
    free(old);
    return 0;
}

static struct user *user_get_or_add(struct auth_static *a, const char *name, size_t len)
{
    if ((!a->by_name || 2 * (a->nusers + 1) > a->by_name_mask + 1) && by_name_grow(a) < 0)
        return NULL;
    size_t *slot = name_slot(a, name, len);
    if (*slot)
        return &a->users[*slot - 1];
    if (a->nusers == a->capusers) {
        size_t cap = a->capusers ? 2 * a->capusers : 16;
        struct user *users = realloc(a->users, cap * sizeof *users);
        if (!users)
            return NULL;
        a->users = users;
        a->capusers = cap;
    }
    struct user *u = &a->users[a->nusers];
    memset(u, 0, sizeof *u);
    if (!(u->name = strndup(name, len)))
        return NULL;
    *slot = ++a->nusers;
    return u;
}

static void pbkdf2(const struct user *u, const char *pass, unsigned char out[HASH_LEN])
{
    PKCS5_PBKDF2_HMAC(pass, (int)strlen(pass), u->salt, (int)u->salt_len, (int)u->iterations,
                      EVP_sha256(), HASH_LEN, out);
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static size_t inflight_bucket(const struct auth_static *a, const unsigned char key[VERIFY_KEY_LEN])
{
    size_t h;
    memcpy(&h, key, sizeof h);
    return h & a->inflight_mask;
}

static struct job *inflight_find(struct auth_static *a, const struct user *u, const unsigned char key[VERIFY_KEY_LEN])
{
    for (struct job *j = a->inflight[inflight_bucket(a, key)]; j; j = j->hnext)
        if (j->user == u && CRYPTO_memcmp(j->key, key, VERIFY_KEY_LEN) == 0)
            return j;
    return NULL;
}

static void inflight_remove(struct auth_static *a, struct job *j)
{
    struct job **p = &a->inflight[inflight_bucket(a, j->key)];
    while (*p && *p != j)
        p = &(*p)->hnext;
    if (*p)
        *p = j->hnext;
}

static void job_free(struct job *j)
{
    for (struct waiter *w = j->waiters, *next; w; w = next) {
        next = w->next;
        free(w);
    }
    if (j->passcode) {
        OPENSSL_cleanse(j->passcode, strlen(j->passcode));
        free(j->passcode);
    }
    free(j);
}

/* Core thread: deliver a job's answer to everyone waiting for it. */
static void job_finish(void *arg)
{
    struct job *j = arg;
    struct auth_static *a = j->a;
    if (j->keyed) {
        inflight_remove(a, j);
        /* Only a success is remembered: a wrong password costs PBKDF2
         * every time. */
        if (j->ok && j->passcode)
            verify_cache_put(a->cache, j->key, mono_ms());
    }
    if (j->queued) {
        pthread_mutex_lock(&a->mu);
        a->pending--;
        pthread_mutex_unlock(&a->mu);
    }
    /* The callbacks may call authenticate again: the job is out of the
     * table by now, so they start afresh (or hit the cache). */
    struct chatd_identity who = {
        .size = sizeof who,
        .user = j->user ? j->user->name : NULL,
        .display_name = j->user ? j->user->display : NULL,
        .roles = j->user ? j->user->roles : 0,
    };
    if (j->ok)
        j->cb(j->ctx, CHATD_OK, &who, NULL);
    else
        j->cb(j->ctx, CHATD_ERR_DENIED, NULL, "bad credentials");
    for (struct waiter *w = j->waiters; w; w = w->next) {
        if (j->ok)
            w->cb(w->ctx, CHATD_OK, &who, NULL);
        else
            w->cb(w->ctx, CHATD_ERR_DENIED, NULL, "bad credentials");
    }
    job_free(j);
}

static void *worker_main(void *arg)
{
    struct auth_static *a = arg;
    for (;;) {
        pthread_mutex_lock(&a->mu);
        while (!a->head && !a->stopping)
            pthread_cond_wait(&a->cv, &a->mu);
        if (a->stopping) {
            pthread_mutex_unlock(&a->mu);
            return NULL;
        }
        struct job *j = a->head;
        a->head = j->next;
        if (!a->head)
            a->tail = NULL;
        pthread_mutex_unlock(&a->mu);

        unsigned char out[HASH_LEN];
        const struct user *u = j->user ? j->user : &a->dummy;
        pbkdf2(u, j->passcode, out);
        j->ok = j->user && u->has_password && CRYPTO_memcmp(out, u->hash, HASH_LEN) == 0;
        if (a->host->post(a->host, job_finish, j) != CHATD_OK) {
            /* Shutting down: the host no longer expects an answer. */
            job_free(j);
            pthread_mutex_lock(&a->mu);
            a->pending--;
            pthread_mutex_unlock(&a->mu);
        }
    }
}

struct refusal {
    chatd_auth_cb cb;
    void *ctx;
    chatd_status st;
    const char *reason;
};

static void refuse_cb(void *arg)
{
    struct refusal *r = arg;
    r->cb(r->ctx, r->st, NULL, r->reason);
    free(r);
}

/* Answers known at once still go through post: never before return. */
static void refuse(struct auth_static *a, chatd_auth_cb cb, void *ctx, chatd_status st, const char *reason)
{
    struct refusal *r = malloc(sizeof *r);
    if (!r) {
        return; /* out of memory: the session waits until the client gives up */
    }
    *r = (struct refusal){cb, ctx, st, reason};
    if (a->host->post(a->host, refuse_cb, r) != CHATD_OK)
        free(r);
}

/* A verified client certificate naming a user (the host has refused a
 * login naming another), with neither passcode nor token: that user, if
 * it opted in with user.NAME.cert = yes. */
static void cert_authenticate(struct auth_static *a, const char *name, chatd_auth_cb cb, void *ctx)
{
    struct user *u = find_user(a, name);
    if (!u || !u->cert) {
        refuse(a, cb, ctx, CHATD_ERR_DENIED, "this user does not sign in with a client certificate");
        return;
    }
    struct job *j = calloc(1, sizeof *j);
    if (!j) {
        refuse(a, cb, ctx, CHATD_ERR_NOMEM, "out of memory");
        return;
    }
    *j = (struct job){.a = a, .user = u, .cb = cb, .ctx = ctx, .ok = true};
    a->host->counter_add(a->host, "certificates", 1);
    if (a->host->post(a->host, job_finish, j) != CHATD_OK)
        job_free(j);
}

static void static_authenticate(void *state, const struct chatd_credentials *cred, chatd_auth_cb cb,
                                void *ctx)
{
    struct auth_static *a = state;
    const char *tls_identity = CHATD_HAS(cred, tls_identity) ? cred->tls_identity : NULL;
    if (tls_identity && (!cred->passcode || !*cred->passcode) && !cred->token) {
        cert_authenticate(a, tls_identity, cb, ctx);
        return;
    }
    if (!cred->login || !cred->passcode || !*cred->login) {
        refuse(a, cb, ctx, CHATD_ERR_DENIED,
               cred->token ? "this server accepts login and passcode" : "bad credentials");
        return;
    }
    struct user *u = find_user(a, cred->login);
    if (u && !u->has_password)
        u = NULL;
    unsigned char key[VERIFY_KEY_LEN];
    bool keyed = verify_cache_key(a->cache, cred->login, cred->passcode, key) == 0;
    if (keyed) {
        struct job *running = inflight_find(a, u, key);
        if (running) {
            struct waiter *w = malloc(sizeof *w);
            if (!w) {
                refuse(a, cb, ctx, CHATD_ERR_NOMEM, "out of memory");
                return;
            }
            *w = (struct waiter){running->waiters, cb, ctx};
            running->waiters = w;
            a->host->counter_add(a->host, "coalesced", 1);
            return;
        }
    }
    struct job *j = calloc(1, sizeof *j);
    if (!j) {
        refuse(a, cb, ctx, CHATD_ERR_NOMEM, "out of memory");
        return;
    }
    j->a = a;
    j->user = u;
    j->cb = cb;
    j->ctx = ctx;
    if (keyed && u && verify_cache_hit(a->cache, key, mono_ms())) {
        j->ok = true;
        a->host->counter_add(a->host, "cache_hits", 1);
        if (a->host->post(a->host, job_finish, j) != CHATD_OK)
            job_free(j);
        return;
    }
    if (!(j->passcode = strdup(cred->passcode))) {
        job_free(j);
        refuse(a, cb, ctx, CHATD_ERR_NOMEM, "out of memory");
        return;
    }
    pthread_mutex_lock(&a->mu);
    if (a->pending >= a->max_pending) {
        pthread_mutex_unlock(&a->mu);
        job_free(j);
        a->host->counter_add(a->host, "shed", 1);
        refuse(a, cb, ctx, CHATD_ERR_LIMIT, "too many sign-ins being verified");
        return;
    }
    a->pending++;
    j->queued = true;
    if (keyed) {
        memcpy(j->key, key, VERIFY_KEY_LEN);
        j->keyed = true;
        size_t b = inflight_bucket(a, key);
        j->hnext = a->inflight[b];
        a->inflight[b] = j;
    }
    if (a->tail)
        a->tail->next = j;
    else
        a->head = j;
    a->tail = j;
    pthread_cond_signal(&a->cv);
    pthread_mutex_unlock(&a->mu);
    a->host->counter_add(a->host, "verifications", 1);
}

static void free_users(struct auth_static *a)
{
    for (size_t i = 0; i < a->nusers; i++) {
        free(a->users[i].name);
        free(a->users[i].display);
    }
    free(a->users);
    free(a->by_name);
}

/* Joins the threads started so far; destroys the lock. */
static void workers_stop(struct auth_static *a)
{
    pthread_mutex_lock(&a->mu);
    a->stopping = true;
    pthread_cond_broadcast(&a->cv);
    pthread_mutex_unlock(&a->mu);
    for (size_t i = 0; i < a->nworkers; i++)
        pthread_join(a->workers[i], NULL);
    pthread_mutex_destroy(&a->mu);
    pthread_cond_destroy(&a->cv);
}

static chatd_status static_init(const struct chatd_host *h, void **state)
{
    struct auth_static *a = calloc(1, sizeof *a);
    if (!a)
        return CHATD_ERR_NOMEM;
    a->host = h;
    size_t n = h->config_count(h);
    for (size_t i = 0; i < n; i++) {
        const char *key = h->config_key(h, i);
        const char *dot = strncmp(key, "user.", 5) == 0 ? strrchr(key + 5, '.') : NULL;
        if (!dot || dot == key + 5)
            continue; /* left unread: the host rejects it as an unknown key */
        const char *field = dot + 1;
        if (strcmp(field, "password") && strcmp(field, "roles") && strcmp(field, "name") && strcmp(field, "cert"))
            continue;
        const char *value = h->config_value(h, i);
        struct user *u = user_get_or_add(a, key + 5, (size_t)(dot - (key + 5)));
        if (!u) {
            free_users(a);
            free(a);
            return CHATD_ERR_NOMEM;
        }
        if (strcmp(field, "password") == 0 && parse_hash(value, u) < 0) {
            h->config_error(h, key, "expected pbkdf2-sha256$ITERATIONS$SALT_HEX$HASH_HEX (make one with 'chatd hash-password')");
            goto invalid;
        }
        if (strcmp(field, "roles") == 0 && parse_roles(value, &u->roles) < 0) {
            h->config_error(h, key, "unknown role in '%s' (expected a list of user, agent, admin, supervisor)", value);
            goto invalid;
        }
        if (strcmp(field, "cert") == 0) {
            if (strcmp(value, "yes") == 0 || strcmp(value, "on") == 0 || strcmp(value, "true") == 0) {
                u->cert = true;
            } else if (strcmp(value, "no") && strcmp(value, "off") && strcmp(value, "false")) {
                h->config_error(h, key, "expected yes or no; got '%s'", value);
                goto invalid;
            }
        }
        if (strcmp(field, "name") == 0 && !(u->display = strdup(value))) {
            free_users(a);
            free(a);
            return CHATD_ERR_NOMEM;
        }
    }
    for (size_t i = 0; i < a->nusers; i++) {
        char key[300];
        if (!a->users[i].has_password && !a->users[i].cert) {
            snprintf(key, sizeof key, "user.%s.password", a->users[i].name);
            h->config_error(h, key, "missing: every user needs a password hash (or cert = yes)");
            goto invalid;
        }
        if (!a->users[i].roles)
            a->users[i].roles = CHATD_ROLE_USER;
    }
    long long workers, max_pending, cache_ttl, cache_size;
    if (conf_int(h, "workers", 0, 0, WORKERS_MAX, &workers) != CHATD_OK ||
        conf_int(h, "max_pending", 256, 1, 1000000, &max_pending) != CHATD_OK ||
        conf_ms(h, "cache_ttl", 60000, 0, 86400000, &cache_ttl) != CHATD_OK ||
        conf_int(h, "cache_size", 10000, 0, 10000000, &cache_size) != CHATD_OK)
        goto invalid;
    if (!workers) {
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        workers = cores < 1 ? 1 : cores > WORKERS_MAX ? WORKERS_MAX : cores;
    }
    a->max_pending = (size_t)max_pending;
    size_t nb = 16;
    while (nb < a->max_pending)
        nb *= 2;
    a->inflight_mask = nb - 1;
    if (!(a->inflight = calloc(nb, sizeof *a->inflight)) ||
        !(a->cache = verify_cache_new((size_t)cache_size, cache_ttl))) {
        free(a->inflight);
        free_users(a);
        free(a);
        return CHATD_ERR_NOMEM;
    }
    /* The dummy costs what a real user costs. */
    a->dummy.iterations = a->nusers ? a->users[0].iterations : 100000;
    a->dummy.salt_len = 16;
    pthread_mutex_init(&a->mu, NULL);
    pthread_cond_init(&a->cv, NULL);
    for (a->nworkers = 0; a->nworkers < (size_t)workers; a->nworkers++) {
        if (pthread_create(&a->workers[a->nworkers], NULL, worker_main, a) != 0) {
            h->config_error(h, "workers", "cannot start hashing thread %zu of %lld", a->nworkers + 1, workers);
            workers_stop(a);
            verify_cache_free(a->cache);
            free(a->inflight);
            goto invalid;
        }
    }
    h->log(h, CHATD_LOG_INFO, "%zu users, %zu hashing threads, cache of %lld for %lldms", a->nusers, a->nworkers,
           cache_ttl ? cache_size : 0, cache_ttl);
    *state = a;
    return CHATD_OK;
invalid:
    free_users(a);
    free(a);
    return CHATD_ERR_INVALID;
}

static void static_fini(void *state)
{
    struct auth_static *a = state;
    workers_stop(a);
    for (struct job *j = a->head, *next; j; j = next) {
        next = j->next;
        job_free(j);
    }
    verify_cache_free(a->cache);
    free(a->inflight);
    free_users(a);
    free(a);
}

static const struct chatd_auth_ops static_ops = {
    .size = sizeof static_ops,
    .authenticate = static_authenticate,
};

CHATD_PLUGIN_DEFINE(.kind = CHATD_PLUGIN_AUTH, .name = "static", .version = "1.0",
                    .description = "users and password hashes from chat.ini", .init = static_init,
                    .fini = static_fini, .ops.auth = &static_ops)
