/* chatd-token: mint a token for local use and tests.
 *
 *   chatd-token --user U [--role R[,R...]] [--ttl SECONDS] [--name N]
 *               [--alg HS256] [--kid K] [--iss I] [--aud A] [--jti ID]
 *               [--secret S | --private-key PEM]
 *
 * The secret defaults to $CHAT_JWT_SECRET. Prints the token. --role lists
 * the values of the roles claim (default user): agent, admin, or whatever
 * [auth] admin_role names. --jti names the token for the revocation list
 * (docs/configuration.md, "Logout"). */
#include <getopt.h>
#include <stdbool.h>
#include <jwt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static unsigned char *slurp(const char *path, int *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    unsigned char *buf = malloc(65537);
    size_t n = buf ? fread(buf, 1, 65536, f) : 0;
    fclose(f);
    if (!buf || !n) {
        free(buf);
        return NULL;
    }
    buf[n] = 0;
    *len = (int)n;
    return buf;
}

/* The roles claim, {"roles":[...]}, from a comma-separated list of names
 * of letters, digits and - _ . ; -1 when a name is empty or has anything
 * else. */
static int roles_json(const char *list, char *out, size_t size)
{
    size_t n = (size_t)snprintf(out, size, "{\"roles\":[\"");
    for (const char *p = list;; p++) {
        char c = *p;
        bool sep = c == ',' || c == '\0';
        if (sep && (p == list || p[-1] == ','))
            return -1; /* an empty name */
        if (!sep && !((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
                      c == '_' || c == '.'))
            return -1;
        const char *add = c == ',' ? "\",\"" : c == '\0' ? "\"]}" : NULL;
        if (n + (add ? strlen(add) : 1) + 1 > size)
            return -1;
        if (add) {
            memcpy(out + n, add, strlen(add));
            n += strlen(add);
        } else {
            out[n++] = c;
        }
        out[n] = '\0';
        if (!c)
            return 0;
    }
}

int main(int argc, char **argv)
{
    const char *user = NULL, *role = "user", *name = NULL, *alg = "HS256", *kid = NULL, *iss = NULL, *aud = NULL,
               *jti = NULL;
    const char *secret = getenv("CHAT_JWT_SECRET"), *pem = NULL;
    long ttl = 3600;
    static const struct option opts[] = {
        {"user", 1, 0, 'u'}, {"role", 1, 0, 'r'}, {"ttl", 1, 0, 't'}, {"name", 1, 0, 'n'}, {"alg", 1, 0, 'a'},
        {"kid", 1, 0, 'k'}, {"iss", 1, 0, 'i'}, {"aud", 1, 0, 'd'}, {"secret", 1, 0, 's'},
        {"private-key", 1, 0, 'p'}, {"jti", 1, 0, 'j'}, {"help", 0, 0, 'h'}, {0, 0, 0, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'u': user = optarg; break;
        case 'r': role = optarg; break;
        case 't': ttl = strtol(optarg, NULL, 10); break;
        case 'n': name = optarg; break;
        case 'a': alg = optarg; break;
        case 'k': kid = optarg; break;
        case 'i': iss = optarg; break;
        case 'd': aud = optarg; break;
        case 's': secret = optarg; break;
        case 'p': pem = optarg; break;
        case 'j': jti = optarg; break;
        default:
            fprintf(stderr, "usage: chatd-token --user U [--role R[,R...]] [--ttl S] [--name N] [--alg A] [--kid K]"
                            " [--iss I] [--aud A] [--jti ID] [--secret S | --private-key PEM]\n");
            return c == 'h' ? 0 : 2;
        }
    }
    jwt_alg_t ja = jwt_str_alg(alg);
    int keylen = 0;
    unsigned char *key = NULL;
    if (pem)
        key = slurp(pem, &keylen);
    else if (secret && (key = (unsigned char *)strdup(secret)))
        keylen = (int)strlen(secret);
    if (!user || !key || ja == JWT_ALG_INVAL || ja == JWT_ALG_NONE) {
        fprintf(stderr, "chatd-token: need --user, a known --alg and a key (--secret, $CHAT_JWT_SECRET or --private-key)\n");
        free(key);
        return 2;
    }
    char roles[1024];
    if (roles_json(role, roles, sizeof roles) < 0) {
        fprintf(stderr, "chatd-token: --role: a comma-separated list of names (letters, digits, - _ .), got '%s'\n",
                role);
        free(key);
        return 2;
    }
    jwt_t *jwt = NULL;
    long now = (long)time(NULL);
    if (jwt_new(&jwt) || jwt_add_grant(jwt, "sub", user) || jwt_add_grant_int(jwt, "iat", now) ||
        jwt_add_grant_int(jwt, "exp", now + ttl) || jwt_add_grants_json(jwt, roles) ||
        (name && jwt_add_grant(jwt, "name", name)) || (iss && jwt_add_grant(jwt, "iss", iss)) ||
        (aud && jwt_add_grant(jwt, "aud", aud)) || (jti && jwt_add_grant(jwt, "jti", jti)) ||
        (kid && jwt_add_header(jwt, "kid", kid)) || jwt_set_alg(jwt, ja, key, keylen)) {
        fprintf(stderr, "chatd-token: cannot build the token\n");
        jwt_free(jwt);
        free(key);
        return 1;
    }
    char *token = jwt_encode_str(jwt);
    if (!token) {
        fprintf(stderr, "chatd-token: cannot sign the token\n");
        jwt_free(jwt);
        free(key);
        return 1;
    }
    printf("%s\n", token);
    free(token);
    jwt_free(jwt);
    free(key);
    return 0;
}
