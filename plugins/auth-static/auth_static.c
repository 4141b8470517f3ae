/* auth-static: users, salted password hashes and roles from chat.ini.
 *
 *   user.NAME.password = pbkdf2-sha256$ITERATIONS$SALT_HEX$HASH_HEX
 *   user.NAME.roles    = a list of user, agent, admin (e.g. user,agent)
 *   user.NAME.name     = Display Name            (optional)
 *
 * PBKDF2 is deliberately slow, so it runs on one worker thread of this
 * plugin and the answer comes back through host->post: the core loop never
 * hashes. A verified password is remembered (as SHA-256 of salt||password)
 * so that a reconnect with the same password skips PBKDF2. */
#include <chatd/plugin.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_PENDING 1024
#define HASH_LEN 32
#define SALT_MAX 64

struct user {
    char *name;
    char *display;
    uint32_t roles;
    unsigned iterations;
    unsigned char salt[SALT_MAX];
    size_t salt_len;
    unsigned char hash[HASH_LEN];
    bool has_password;
    bool cached;                    /* cache_key below is a verified password */
    unsigned char cache_key[HASH_LEN];
};

struct job {
    struct job *next;
    struct auth_static *a;
    struct user *user;   /* NULL: unknown user (hashed against a dummy) */
    char *passcode;
    chatd_auth_cb cb;
    void *ctx;
    bool ok;
};

struct auth_static {
    const struct chatd_host *host;
    struct user *users;
    size_t nusers;
    struct user dummy;   /* unknown users cost the same time as known ones */

    pthread_t worker;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct job *head, *tail;
    size_t pending;      /* queued or being hashed or posted back */
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
        else
            rc = -1;
    }
    free(copy);
    return *roles ? rc : -1;
}

static struct user *find_user(struct auth_static *a, const char *name)
{
    for (size_t i = 0; i < a->nusers; i++)
        if (strcmp(a->users[i].name, name) == 0)
            return &a->users[i];
    return NULL;
}

static struct user *user_get_or_add(struct auth_static *a, const char *name, size_t len)
{
    for (size_t i = 0; i < a->nusers; i++)
        if (strlen(a->users[i].name) == len && strncmp(a->users[i].name, name, len) == 0)
            return &a->users[i];
    struct user *users = realloc(a->users, (a->nusers + 1) * sizeof *users);
    if (!users)
        return NULL;
    a->users = users;
    struct user *u = &a->users[a->nusers];
    memset(u, 0, sizeof *u);
    if (!(u->name = strndup(name, len)))
        return NULL;
    a->nusers++;
    return u;
}

static void pbkdf2(const struct user *u, const char *pass, unsigned char out[HASH_LEN])
{
    PKCS5_PBKDF2_HMAC(pass, (int)strlen(pass), u->salt, (int)u->salt_len, (int)u->iterations,
                      EVP_sha256(), HASH_LEN, out);
}

/* 0, or -1 when the digest failed (then the cache is not used). */
static int cache_key(const struct user *u, const char *pass, unsigned char out[HASH_LEN])
{
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    unsigned int n = 0;
    int ok = c && EVP_DigestInit_ex(c, EVP_sha256(), NULL) == 1 &&
             EVP_DigestUpdate(c, u->salt, u->salt_len) == 1 &&
             EVP_DigestUpdate(c, pass, strlen(pass)) == 1 && EVP_DigestFinal_ex(c, out, &n) == 1;
    EVP_MD_CTX_free(c);
    return ok ? 0 : -1;
}

/* Core thread: deliver a job's answer. */
static void job_finish(void *arg)
{
    struct job *j = arg;
    struct auth_static *a = j->a;
    if (j->ok) {
        /* Remember only on the core thread, which alone reads the cache. */
        j->user->cached = cache_key(j->user, j->passcode, j->user->cache_key) == 0;
        struct chatd_identity who = {
            .size = sizeof who,
            .user = j->user->name,
            .display_name = j->user->display,
            .roles = j->user->roles,
        };
        j->cb(j->ctx, CHATD_OK, &who, NULL);
    } else {
        j->cb(j->ctx, CHATD_ERR_DENIED, NULL, "bad credentials");
    }
    OPENSSL_cleanse(j->passcode, strlen(j->passcode));
    free(j->passcode);
    free(j);
    pthread_mutex_lock(&a->mu);
    a->pending--;
    pthread_mutex_unlock(&a->mu);
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
            free(j->passcode);
            free(j);
            pthread_mutex_lock(&a->mu);
            a->pending--;
            pthread_mutex_unlock(&a->mu);
        }
    }
}

/* Answers known at once still go through post: never before return. */
static void answer_now(struct auth_static *a, struct job *j)
{
    if (a->host->post(a->host, job_finish, j) != CHATD_OK) {
        free(j->passcode);
        free(j);
        return;
    }
    pthread_mutex_lock(&a->mu);
    a->pending++;
    pthread_mutex_unlock(&a->mu);
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

static void refuse(struct auth_static *a, chatd_auth_cb cb, void *ctx, chatd_status st, const char *reason)
{
    struct refusal *r = malloc(sizeof *r);
    if (!r) {
        return; /* out of memory: the session times out waiting for CONNECTED */
    }
    *r = (struct refusal){cb, ctx, st, reason};
    if (a->host->post(a->host, refuse_cb, r) != CHATD_OK)
        free(r);
}

static void static_authenticate(void *state, const struct chatd_credentials *cred, chatd_auth_cb cb,
                                void *ctx)
{
    struct auth_static *a = state;
    if (!cred->login || !cred->passcode || !*cred->login) {
        refuse(a, cb, ctx, CHATD_ERR_DENIED,
               cred->token ? "this server accepts login and passcode" : "bad credentials");
        return;
    }
    struct user *u = find_user(a, cred->login);
    struct job *j = calloc(1, sizeof *j);
    if (!j || !(j->passcode = strdup(cred->passcode))) {
        free(j);
        refuse(a, cb, ctx, CHATD_ERR_NOMEM, "out of memory");
        return;
    }
    j->a = a;
    j->user = u && u->has_password ? u : NULL;
    j->cb = cb;
    j->ctx = ctx;
    if (j->user && j->user->cached) {
        unsigned char k[HASH_LEN];
        if (cache_key(j->user, j->passcode, k) == 0 &&
            CRYPTO_memcmp(k, j->user->cache_key, HASH_LEN) == 0) {
            j->ok = true;
            answer_now(a, j);
            return;
        }
    }
    pthread_mutex_lock(&a->mu);
    if (a->pending >= MAX_PENDING) {
        pthread_mutex_unlock(&a->mu);
        free(j->passcode);
        free(j);
        refuse(a, cb, ctx, CHATD_ERR_LIMIT, "too many logins in progress");
        return;
    }
    a->pending++;
    if (a->tail)
        a->tail->next = j;
    else
        a->head = j;
    a->tail = j;
    pthread_cond_signal(&a->cv);
    pthread_mutex_unlock(&a->mu);
}

static void free_users(struct auth_static *a)
{
    for (size_t i = 0; i < a->nusers; i++) {
        free(a->users[i].name);
        free(a->users[i].display);
    }
    free(a->users);
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
        if (strcmp(field, "password") && strcmp(field, "roles") && strcmp(field, "name"))
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
            h->config_error(h, key, "unknown role in '%s' (expected a list of user, agent, admin)", value);
            goto invalid;
        }
        if (strcmp(field, "name") == 0 && !(u->display = strdup(value))) {
            free_users(a);
            free(a);
            return CHATD_ERR_NOMEM;
        }
    }
    for (size_t i = 0; i < a->nusers; i++) {
        char key[300];
        if (!a->users[i].has_password) {
            snprintf(key, sizeof key, "user.%s.password", a->users[i].name);
            h->config_error(h, key, "missing: every user needs a password hash");
            goto invalid;
        }
        if (!a->users[i].roles)
            a->users[i].roles = CHATD_ROLE_USER;
    }
    /* The dummy costs what a real user costs. */
    a->dummy.iterations = a->nusers ? a->users[0].iterations : 100000;
    a->dummy.salt_len = 16;
    pthread_mutex_init(&a->mu, NULL);
    pthread_cond_init(&a->cv, NULL);
    if (pthread_create(&a->worker, NULL, worker_main, a) != 0) {
        h->config_error(h, NULL, "cannot start the hashing thread");
        pthread_mutex_destroy(&a->mu);
        pthread_cond_destroy(&a->cv);
        goto invalid;
    }
    h->log(h, CHATD_LOG_INFO, "%zu users", a->nusers);
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
    pthread_mutex_lock(&a->mu);
    a->stopping = true;
    pthread_cond_signal(&a->cv);
    pthread_mutex_unlock(&a->mu);
    pthread_join(a->worker, NULL);
    for (struct job *j = a->head, *next; j; j = next) {
        next = j->next;
        free(j->passcode);
        free(j);
    }
    pthread_mutex_destroy(&a->mu);
    pthread_cond_destroy(&a->cv);
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
