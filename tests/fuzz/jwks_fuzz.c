/* Fuzz the JWKS parsers of auth-jwt: the file's (parse_jwks) and a
 * fetched document's (url_keys_parse): the JSON document, each key's kid,
 * kty, use, alg and parameters, and the conversion of RSA and EC public
 * keys to PEM with OpenSSL; and the Cache-Control reader of jwks_url. The
 * plugin's source is included to reach its static functions. */
#include "../../plugins/auth-jwt/auth_jwt.c"

static void ignore_config_error(const struct chatd_host *h, const char *key, const char *fmt, ...)
{
    (void)h, (void)key, (void)fmt;
}

static void ignore_log(const struct chatd_host *h, chatd_log_level level, const char *fmt, ...)
{
    (void)h, (void)level, (void)fmt;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct chatd_host host = {.config_error = ignore_config_error, .log = ignore_log};
    static struct auth_jwt a;
    memset(&a, 0, sizeof a);
    a.host = &host;
    parse_jwks(&a, "fuzz.jwks", data, size);
    struct key *set = NULL;
    size_t n = 0;
    if (!url_keys_parse(&a, data, size, &set, &n)) {
        if (n == 0 || n > MAX_KEYS)
            abort();
        keys_free(set, n);
        free(set);
    }
    keys_free(a.keys, a.nkeys);
    char cc[256];
    size_t k = size < sizeof cc - 1 ? size : sizeof cc - 1;
    memcpy(cc, data, k);
    cc[k] = '\0';
    if (jwks_fetch_max_age(cc) < -1)
        abort();
    return 0;
}
