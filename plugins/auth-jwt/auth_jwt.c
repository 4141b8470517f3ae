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
 * returns. */
#include <chatd/plugin.h>
#include <errno.h>
#include <jansson.h>
#include <jwt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_KEYS 32

struct key {
    char *kid;              /* NULL: the default key */
    jwt_alg_t alg;
    unsigned char *material; /* secret, or PEM public key */
    size_t len;
};

struct auth_jwt {
    const struct chatd_host *host;
    struct key keys[MAX_KEYS];
    size_t nkeys;
    char *issuer, *audience;
    long leeway;
    const char *claim_user, *claim_name, *claim_roles;
    char *claim_user_s, *claim_name_s, *claim_roles_s;
};

/* ------------------------------------------------------------- answers */

struct answer {
    chatd_auth_cb cb;
    void *ctx;
    chatd_status st;
    const char *reason; /* static */
    char *user, *name;
    uint32_t roles;
    int64_t expires_ms;
};

static void answer_run(void *arg)
{
    struct answer *a = arg;
    if (a->st == CHATD_OK) {
        struct chatd_identity who = {.user = a->user, .display_name = a->name, .roles = a->roles,
                                     .expires_ms = a->expires_ms};
        a->cb(a->ctx, CHATD_OK, &who, NULL);
    } else {
        a->cb(a->ctx, a->st, NULL, a->reason);
    }
    free(a->user);
    free(a->name);
    free(a);
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
        for (size_t i = 0; i < a->nkeys && !key; i++)
            if (kid ? (a->keys[i].kid && strcmp(a->keys[i].kid, kid) == 0) : !a->keys[i].kid)
                key = &a->keys[i];
        if (!key && kid)
            why = "unknown key id";
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
    if (!why) {
        const char *name = claim_str(jwt, a->claim_name);
        char *roles = jwt_get_grants_json(jwt, a->claim_roles);
        ans->user = strdup(user);
        ans->name = name ? strdup(name) : NULL;
        ans->roles = 0;
        if (roles && (has_role(roles, "agent") || has_role(roles, "admin")))
            ans->roles |= CHATD_ROLE_AGENT;
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
    ans->st = why ? CHATD_ERR_DENIED : CHATD_OK;
    ans->reason = why;
    if (why)
        a->host->log(a->host, CHATD_LOG_INFO, "token refused (%s) from %s", why,
                     cred->remote_addr ? cred->remote_addr : "?");
    if (a->host->post(a->host, answer_run, ans) != CHATD_OK) {
        free(ans->user);
        free(ans->name);
        free(ans);
    }
}

/* -------------------------------------------------------------- config */

static unsigned char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    unsigned char *buf = malloc(65537);
    size_t n = buf ? fread(buf, 1, 65536, f) : 0;
    fclose(f);
    if (!buf || n == 0 || n == 65536) {
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
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
        if (!(k->material = read_file(pem, &k->len))) {
            h->config_error(h, pem_key, "cannot read the PEM file '%s'", pem);
            return -1;
        }
    }
    if (kid && !(k->kid = strdup(kid)))
        return -1;
    if (!k->material)
        return -1;
    a->nkeys++;
    return 0;
}

static void free_all(struct auth_jwt *a)
{
    for (size_t i = 0; i < a->nkeys; i++) {
        free(a->keys[i].kid);
        free(a->keys[i].material);
    }
    free(a->issuer);
    free(a->audience);
    free(a->claim_user_s);
    free(a->claim_name_s);
    free(a->claim_roles_s);
    free(a);
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
    if (a->nkeys == 0) {
        h->config_error(h, "algorithm", "no key: set algorithm with secret or public_key, or key.KID.* entries");
        goto invalid;
    }
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
    h->log(h, CHATD_LOG_INFO, "%zu key(s)", a->nkeys);
    *state = a;
    return CHATD_OK;
invalid:
    free_all(a);
    return CHATD_ERR_INVALID;
}

static void jwt_fini(void *state)
{
    free_all(state);
}

static const struct chatd_auth_ops jwt_ops = {
    .size = sizeof jwt_ops,
    .authenticate = jwt_authenticate,
};

CHATD_PLUGIN_DEFINE(.kind = CHATD_PLUGIN_AUTH, .name = "jwt", .version = "1.0",
                    .description = "JSON Web Tokens with pinned algorithms", .init = jwt_init,
                    .fini = jwt_fini, .ops.auth = &jwt_ops)
