/* Reading a plugin's config keys through the host: each function reads one
 * key (which marks it known), applies the default when it is absent, and on
 * a bad value reports it with host->config_error naming the key, returning
 * CHATD_ERR_INVALID. Built into each shipped plugin that uses it; init only. */
#ifndef CHATD_PLUGIN_CONF_H
#define CHATD_PLUGIN_CONF_H

#include <chatd/host.h>

/* An integer in [min, max]. */
chatd_status conf_int(const struct chatd_host *h, const char *key, long long def, long long min, long long max,
                      long long *out);
/* A duration in milliseconds: "250ms", "5s", "2m", or a plain number of ms. */
chatd_status conf_ms(const struct chatd_host *h, const char *key, long long def, long long min, long long max,
                     long long *out);
/* "true" or "false". */
chatd_status conf_bool(const struct chatd_host *h, const char *key, bool def, bool *out);
/* A copy of the value or of def (NULL only when out of memory: NOMEM). */
chatd_status conf_str(const struct chatd_host *h, const char *key, const char *def, char **out);
/* HOST:PORT, HOST (default_port), or a Unix socket path starting with '/'
 * (then *unix_path is set and *host NULL). The caller frees both. */
chatd_status conf_address(const struct chatd_host *h, const char *key, const char *def, int default_port,
                          char **host, int *port, char **unix_path);

#endif
