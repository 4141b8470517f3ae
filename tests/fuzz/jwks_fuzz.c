/* Fuzz the JWKS file parser of auth-jwt: the JSON document, each key's kid,
 * kty, use, alg and parameters, and the conversion of RSA and EC public
 * keys to PEM with OpenSSL. The plugin's source is included to reach its
 * static parse_jwks(). */
#include "../../plugins/auth-jwt/auth_jwt.c"

static void ignore_config_error(const struct chatd_host *h, const char *key, const char *fmt, ...)
{
    (void)h, (void)key, (void)fmt;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct chatd_host host = {.config_error = ignore_config_error};
    static struct auth_jwt a;
    memset(&a, 0, sizeof a);
    a.host = &host;
    parse_jwks(&a, "fuzz.jwks", data, size);
    for (size_t i = 0; i < a.nkeys; i++) {
        free(a.keys[i].kid);
        free(a.keys[i].material);
    }
    return 0;
}
