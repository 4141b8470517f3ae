#include "plugin_conf.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

chatd_status conf_int(const struct chatd_host *h, const char *key, long long def, long long min, long long max,
                      long long *out)
{
    const char *v = h->config_get(h, key);
    if (!v) {
        *out = def;
        return CHATD_OK;
    }
    char *end;
    errno = 0;
    long long n = strtoll(v, &end, 10);
    if (errno || end == v || *end || n < min || n > max) {
        h->config_error(h, key, "expected an integer from %lld to %lld, got '%s'", min, max, v);
        return CHATD_ERR_INVALID;
    }
    *out = n;
    return CHATD_OK;
}

chatd_status conf_ms(const struct chatd_host *h, const char *key, long long def, long long min, long long max,
                     long long *out)
{
    const char *v = h->config_get(h, key);
    if (!v) {
        *out = def;
        return CHATD_OK;
    }
    char *end;
    errno = 0;
    long long n = strtoll(v, &end, 10);
    long long unit = !*end || strcmp(end, "ms") == 0 ? 1 : strcmp(end, "s") == 0 ? 1000 : strcmp(end, "m") == 0 ? 60000 : 0;
    if (errno || end == v || !unit || n < 0 || n > max / unit || n * unit < min) {
        h->config_error(h, key, "expected a duration from %lldms to %lldms (e.g. 500ms, 5s, 2m), got '%s'", min, max,
                        v);
        return CHATD_ERR_INVALID;
    }
    *out = n * unit;
    return CHATD_OK;
}

chatd_status conf_bool(const struct chatd_host *h, const char *key, bool def, bool *out)
{
    const char *v = h->config_get(h, key);
    if (!v) {
        *out = def;
        return CHATD_OK;
    }
    if (strcmp(v, "true") != 0 && strcmp(v, "false") != 0) {
        h->config_error(h, key, "expected true or false, got '%s'", v);
        return CHATD_ERR_INVALID;
    }
    *out = strcmp(v, "true") == 0;
    return CHATD_OK;
}

chatd_status conf_str(const struct chatd_host *h, const char *key, const char *def, char **out)
{
    const char *v = h->config_get(h, key);
    if (!v)
        v = def;
    *out = v ? strdup(v) : NULL;
    return v && !*out ? CHATD_ERR_NOMEM : CHATD_OK;
}

chatd_status conf_address(const struct chatd_host *h, const char *key, const char *def, int default_port,
                          char **host, int *port, char **unix_path)
{
    const char *v = h->config_get(h, key);
    if (!v)
        v = def;
    *host = *unix_path = NULL;
    *port = 0;
    if (v[0] == '/') {
        *unix_path = strdup(v);
        return *unix_path ? CHATD_OK : CHATD_ERR_NOMEM;
    }
    const char *colon = strrchr(v, ':');
    long p = default_port;
    if (colon) {
        char *end;
        errno = 0;
        p = strtol(colon + 1, &end, 10);
        if (errno || end == colon + 1 || *end)
            p = 0;
    }
    if (p < 1 || p > 65535 || colon == v || !*v) {
        h->config_error(h, key, "expected HOST:PORT or a Unix socket path, got '%s'", v);
        return CHATD_ERR_INVALID;
    }
    *host = colon ? strndup(v, (size_t)(colon - v)) : strdup(v);
    *port = (int)p;
    return *host ? CHATD_OK : CHATD_ERR_NOMEM;
}
