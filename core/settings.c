#include "settings.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "file_types.h"
#include "tls_files.h"

int settings_parse_addr(const char *v, char **host, int *port)
{
    const char *colon = strrchr(v, ':');
    if (!colon || colon[1] == '\0')
        return -1;
    char *end;
    long p = strtol(colon + 1, &end, 10);
    if (*end || p < 0 || p > 65535)
        return -1;
    size_t hl = (size_t)(colon - v);
    *host = hl ? strndup(v, hl) : strdup("0.0.0.0");
    *port = (int)p;
    return *host ? 0 : -1;
}

static int split_words(const char *v, char ***out)
{
    size_t n = 0, cap = 4;
    char **words = calloc(cap + 1, sizeof *words);
    char *copy = strdup(v);
    if (!words || !copy)
        goto fail;
    for (char *save = NULL, *w = strtok_r(copy, " ,\t", &save); w; w = strtok_r(NULL, " ,\t", &save)) {
        if (n == cap) {
            char **grown = realloc(words, (cap * 2 + 1) * sizeof *words);
            if (!grown)
                goto fail;
            words = grown;
            cap *= 2;
        }
        if (!(words[n++] = strdup(w)))
            goto fail;
        words[n] = NULL;
    }
    free(copy);
    *out = words;
    return 0;
fail:
    for (size_t i = 0; words && i < n; i++)
        free(words[i]);
    free(words);
    free(copy);
    return -1;
}

static void free_words(char **words)
{
    for (size_t i = 0; words && words[i]; i++)
        free(words[i]);
    free(words);
}

static bool ws_path_ok(const char *p, char *why, size_t whylen)
{
    size_t n = strlen(p);
    if (p[0] != '/' || n < 2 || n > SETTINGS_WS_PATH_LEN || p[n - 1] == '/') {
        snprintf(why, whylen, "'%s': a path starts with '/', has no trailing '/' and at most %d characters", p,
                 SETTINGS_WS_PATH_LEN);
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        char ch = p[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              strchr("/-_.~", ch)) || (ch == '/' && p[i + 1] == '/')) {
            snprintf(why, whylen, "'%s': only letters, digits, '-', '_', '.', '~' and single '/' in a path", p);
            return false;
        }
    }
    static const char *const taken[] = {"/api", "/healthz", "/metrics"};
    for (size_t i = 0; i < sizeof taken / sizeof *taken; i++) {
        size_t tl = strlen(taken[i]);
        if (strncmp(p, taken[i], tl) == 0 && (p[tl] == '\0' || p[tl] == '/')) {
            snprintf(why, whylen, "'%s' is under %s, which the server answers itself", p, taken[i]);
            return false;
        }
    }
    return true;
}

int settings_parse_ws_paths(struct settings *s, const char *paths, const char *sockjs, const char **key, char *why,
                            size_t whylen)
{
    char **words = NULL, **sj = NULL;
    int rc = -1;
    s->nws_paths = 0;
    *key = "websocket_paths";
    if (split_words(paths, &words) < 0 || split_words(sockjs, &sj) < 0) {
        snprintf(why, whylen, "out of memory");
        goto out;
    }
    if (!words[0]) {
        snprintf(why, whylen, "expected one or more paths such as /ws");
        goto out;
    }
    for (size_t i = 0; words[i]; i++) {
        if (!ws_path_ok(words[i], why, whylen))
            goto out;
        for (size_t j = 0; j < i; j++) {
            if (strcmp(words[i], words[j]) == 0) {
                snprintf(why, whylen, "'%s' is listed twice", words[i]);
                goto out;
            }
        }
        if (i == SETTINGS_WS_PATHS_MAX) {
            snprintf(why, whylen, "at most %d paths", SETTINGS_WS_PATHS_MAX);
            goto out;
        }
    }
    bool all = sj[0] && !sj[1] && strcmp(sj[0], "on") == 0;
    bool none = sj[0] && !sj[1] && strcmp(sj[0], "off") == 0;
    if (!sj[0]) {
        *key = "sockjs";
        snprintf(why, whylen, "expected on, off or some of the websocket_paths");
        goto out;
    }
    for (size_t i = 0; !all && !none && sj[i]; i++) {
        bool found = false;
        for (size_t j = 0; words[j]; j++)
            found |= strcmp(sj[i], words[j]) == 0;
        if (!found) {
            *key = "sockjs";
            snprintf(why, whylen, "'%s' is not one of the websocket_paths (nor on, off)", sj[i]);
            goto out;
        }
    }
    for (size_t i = 0; words[i]; i++) {
        bool on = all;
        for (size_t j = 0; !all && !none && sj[j]; j++)
            on |= strcmp(sj[j], words[i]) == 0;
        s->ws_paths[i].path = words[i];
        s->ws_paths[i].sockjs = on;
        words[i] = NULL;
        s->nws_paths = i + 1;
    }
    rc = 0;
out:
    free_words(words);
    free_words(sj);
    return rc;
}

/* [stomp] application_prefix, topic_prefix, queue_prefix, user_prefix:
 * each a list of the prefixes clients may use for that kind of
 * destination; absent, the kind's canonical prefix alone. */
static int load_prefixes(struct dest_prefixes *p, const struct config *cfg, struct config_section *st, char *err,
                         size_t errlen)
{
    dest_prefixes_default(p);
    /* A kind's list replaces its default before any is checked against
     * the others, so that kinds may trade names (topic_prefix = /queue). */
    for (int k = 0; k < PREFIX_KINDS; k++)
        if (st && config_get(st, dest_prefix_key(k)))
            dest_prefixes_clear(p, k);
    for (int k = 0; k < PREFIX_KINDS; k++) {
        const char *key = dest_prefix_key(k);
        const char *v = st ? config_get(st, key) : NULL;
        if (!v)
            continue;
        char **words;
        if (split_words(v, &words) < 0) {
            config_errorf(err, errlen, cfg, "stomp", key, "out of memory");
            return -1;
        }
        char why[256] = "";
        int rc = 0;
        if (!words[0]) {
            snprintf(why, sizeof why, "expected a list of prefixes such as '%s'", dest_prefix_canonical(k));
            rc = -1;
        }
        for (size_t i = 0; words[i]; i++) {
            if (rc == 0)
                rc = dest_prefixes_add(p, k, words[i], why, sizeof why);
            free(words[i]);
        }
        free(words);
        if (rc < 0) {
            config_errorf(err, errlen, cfg, "stomp", key, "%s", why);
            return -1;
        }
    }
    return 0;
}

/* Allow rules are written in canonical form (/topic/..., /queue/...,
 * /user/...) and apply under every alias: a pattern under an alias that no
 * canonical name starts with could never match, so it is refused. */
static int check_acl_canonical(const struct acl *acl, const struct dest_prefixes *p, const struct config *cfg,
                               char *err, size_t errlen)
{
    for (size_t i = 0; i < acl->n; i++) {
        const char *pattern = acl->rules[i].pattern;
        size_t index;
        int k = dest_prefixes_find(p, pattern, &index);
        if (k < 0)
            continue;
        const char *alias = p->alias[k][index];
        bool canonical = false;
        for (int c = 0; c < PREFIX_KINDS; c++)
            canonical |= strcmp(alias, dest_prefix_canonical(c)) == 0;
        if (canonical)
            continue;
        config_errorf(err, errlen, cfg, "stomp", acl->rules[i].key,
                      "pattern '%s' is written under the prefix %s; allow rules are written in canonical form "
                      "and apply under every prefix: use '%s%s'",
                      pattern, alias, dest_prefix_canonical(k), pattern + strlen(alias));
        return -1;
    }
    return 0;
}

/* The media types a server accepts when [files] allowed_types is not set:
 * those whose first bytes it can check (rooms/file_types.h). */
static const char FILES_DEFAULT_TYPES[] = "image/png image/jpeg image/gif image/webp application/pdf text/plain";

/* [files]: the host's policy; `plugin` and the plugin's own keys (dir, ...)
 * are the loader's and the plugin's. */
static int load_files(struct settings *s, struct config *cfg, char *err, size_t errlen)
{
    struct config_section *fs = config_find(cfg, "files");
    s->files_on = fs && config_get(fs, "plugin");
    if (config_get_size(cfg, fs, "max_size", 10u << 20, 1, 1ULL << 32, &s->files_max_size, err, errlen) < 0 ||
        config_get_size(cfg, fs, "quota_per_user", 100u << 20, 0, SIZE_MAX, &s->files_quota, err, errlen) < 0)
        return -1;
    const char *v = fs ? config_get(fs, "allowed_types") : NULL;
    if (!v || !*v)
        v = FILES_DEFAULT_TYPES;
    char *copy = strdup(v);
    if (!copy) {
        config_errorf(err, errlen, cfg, "files", "allowed_types", "out of memory");
        return -1;
    }
    for (char *save = NULL, *t = strtok_r(copy, " ,\t", &save); t; t = strtok_r(NULL, " ,\t", &save)) {
        for (char *c = t; *c; c++)
            *c = (char)tolower((unsigned char)*c);
        if (!file_type_known(t)) {
            config_errorf(err, errlen, cfg, "files", "allowed_types",
                          "'%s' is not a type whose bytes chatd can check (one of: %s)", t, FILES_DEFAULT_TYPES);
            free(copy);
            return -1;
        }
        char **grown = realloc(s->files_types, (s->files_ntypes + 1) * sizeof *grown);
        if (!grown || !(grown[s->files_ntypes] = strdup(t))) {
            if (grown)
                s->files_types = grown;
            free(copy);
            config_errorf(err, errlen, cfg, "files", "allowed_types", "out of memory");
            return -1;
        }
        s->files_types = grown;
        s->files_ntypes++;
    }
    free(copy);
    return 0;
}

static bool section_is_known(const char *name)
{
    static const char *const known[] = {"server", "stomp", "auth", "storage", "broker", "notify", "rooms", "support", "visitors", "presence", "files"};
    for (size_t i = 0; i < sizeof known / sizeof *known; i++)
        if (strcmp(name, known[i]) == 0)
            return true;
    return strncmp(name, "notify.", 7) == 0 && name[7] != '\0';
}

static int check_unused(const struct config *cfg, struct config_section *sec, char *err, size_t errlen)
{
    const char *key = sec ? config_first_unused(sec) : NULL;
    if (key) {
        config_errorf(err, errlen, cfg, sec->name, key, "unknown key");
        return -1;
    }
    return 0;
}

/* A modern TLS 1.2 list: forward secrecy and AEAD only (TLS 1.3 has its
 * own suites, all of them modern). */
#define TLS_CIPHERS_DEFAULT                                                                                 \
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"               \
    "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"

static int load_addr(const struct config *cfg, struct config_section *sec, const char *key,
                     const char *dflt, char **host, int *port, char *err, size_t errlen)
{
    const char *v = sec ? config_get(sec, key) : NULL;
    if (!v)
        v = dflt;
    *host = NULL;
    *port = 0;
    if (!v || !*v)
        return 0;
    if (settings_parse_addr(v, host, port) < 0) {
        config_errorf(err, errlen, cfg, "server", key, "expected HOST:PORT, got '%s'", v);
        return -1;
    }
    return 0;
}

static bool any_host(const char *h)
{
    return !*h || strcmp(h, "0.0.0.0") == 0 || strcmp(h, "::") == 0 || strcmp(h, "*") == 0;
}

/* Two listeners on one port of one address would share its socket (lws
 * serves vhosts of a port together): raw STOMP would be read as HTTP. */
static int check_ports(const struct settings *s, const struct config *cfg, char *err, size_t errlen)
{
    const struct { const char *key; const char *host; int port; } l[] = {
        {"listen", s->listen_host, s->listen_port},
        {"stomp_listen", s->stomp_host, s->stomp_port},
        {"tls_listen", s->tls.host, s->tls.port},
        {"stomp_tls_listen", s->tls.stomp_host, s->tls.stomp_port},
    };
    for (size_t i = 1; i < sizeof l / sizeof l[0]; i++)
        for (size_t j = 0; j < i; j++) {
            if (!l[i].host || !l[j].host || l[i].port != l[j].port)
                continue;
            if (strcmp(l[i].host, l[j].host) != 0 && !any_host(l[i].host) && !any_host(l[j].host))
                continue;
            config_errorf(err, errlen, cfg, "server", l[i].key,
                          "port %d is %s's too: each listener needs a port of its own", l[i].port, l[j].key);
            return -1;
        }
    return 0;
}

/* [server] tls_*: the TLS listeners, their files and policy. */
static int load_tls(struct tls_settings *t, const struct config *cfg, struct config_section *srv, char *err,
                    size_t errlen)
{
    if (load_addr(cfg, srv, "tls_listen", "", &t->host, &t->port, err, errlen) < 0 ||
        load_addr(cfg, srv, "stomp_tls_listen", "", &t->stomp_host, &t->stomp_port, err, errlen) < 0)
        return -1;
    static const char *const file_keys[] = {"tls_cert", "tls_key", "tls_ca", "tls_crl"};
    char **files[] = {&t->cert, &t->key, &t->ca, &t->crl};
    for (size_t i = 0; i < 4; i++) {
        const char *v = srv ? config_get(srv, file_keys[i]) : NULL;
        if (v && *v && !(*files[i] = strdup(v))) {
            config_errorf(err, errlen, cfg, "server", file_keys[i], "out of memory");
            return -1;
        }
    }
    const char *v = srv ? config_get(srv, "tls_client_certs") : NULL;
    if (!v || !*v || strcmp(v, "off") == 0)
        t->client_certs = TLS_CLIENT_CERTS_OFF;
    else if (strcmp(v, "optional") == 0)
        t->client_certs = TLS_CLIENT_CERTS_OPTIONAL;
    else if (strcmp(v, "required") == 0)
        t->client_certs = TLS_CLIENT_CERTS_REQUIRED;
    else {
        config_errorf(err, errlen, cfg, "server", "tls_client_certs", "expected off, optional or required; got '%s'",
                      v);
        return -1;
    }
    v = srv ? config_get(srv, "tls_client_user") : NULL;
    if (!v || !*v || strcmp(v, "off") == 0)
        t->client_user = TLS_CLIENT_USER_OFF;
    else if (strcmp(v, "cn") == 0)
        t->client_user = TLS_CLIENT_USER_CN;
    else if (strcmp(v, "san_email") == 0)
        t->client_user = TLS_CLIENT_USER_SAN_EMAIL;
    else if (strcmp(v, "san_dns") == 0)
        t->client_user = TLS_CLIENT_USER_SAN_DNS;
    else {
        config_errorf(err, errlen, cfg, "server", "tls_client_user", "expected off, cn, san_email or san_dns; got '%s'",
                      v);
        return -1;
    }
    v = srv ? config_get(srv, "tls_min_version") : NULL;
    if (!v || !*v || strcmp(v, "1.2") == 0)
        t->min_version = 12;
    else if (strcmp(v, "1.3") == 0)
        t->min_version = 13;
    else {
        config_errorf(err, errlen, cfg, "server", "tls_min_version", "expected 1.2 or 1.3; got '%s'", v);
        return -1;
    }
    v = srv ? config_get(srv, "tls_ciphers") : NULL;
    if (!(t->ciphers = strdup(v && *v ? v : TLS_CIPHERS_DEFAULT))) {
        config_errorf(err, errlen, cfg, "server", "tls_ciphers", "out of memory");
        return -1;
    }
    /* hsts: off, or the max-age browsers keep to HTTPS (at most two years). */
    v = srv ? config_get(srv, "hsts") : NULL;
    long long hsts_ms = 0;
    if (v && *v && strcmp(v, "off") != 0 &&
        config_get_duration_ms(cfg, srv, "hsts", 0, 1000, 2LL * 365 * 86400000, &hsts_ms, err, errlen) < 0)
        return -1;
    t->hsts_max_age_s = hsts_ms / 1000;

    bool on = t->host || t->stomp_host;
    if (!on) {
        static const char *const need_listener[] = {"tls_cert", "tls_key", "tls_ca", "tls_crl", "tls_client_certs",
                                                    "tls_client_user", "hsts"};
        for (size_t i = 0; i < sizeof need_listener / sizeof *need_listener; i++) {
            v = srv ? config_get(srv, need_listener[i]) : NULL;
            if (v && *v && !(strncmp(need_listener[i], "tls_client_", 11) == 0 && strcmp(v, "off") == 0) &&
                !(strcmp(need_listener[i], "hsts") == 0 && strcmp(v, "off") == 0)) {
                config_errorf(err, errlen, cfg, "server", need_listener[i],
                              "set, but neither tls_listen nor stomp_tls_listen is");
                return -1;
            }
        }
        return 0;
    }
    if (!t->cert || !t->key) {
        config_errorf(err, errlen, cfg, "server", t->cert ? "tls_key" : "tls_cert",
                      "required with %s (a PEM file)", t->host ? "tls_listen" : "stomp_tls_listen");
        return -1;
    }
    if (t->client_certs != TLS_CLIENT_CERTS_OFF && !t->ca) {
        config_errorf(err, errlen, cfg, "server", "tls_ca",
                      "required with tls_client_certs = %s: the CAs client certificates must chain to",
                      t->client_certs == TLS_CLIENT_CERTS_REQUIRED ? "required" : "optional");
        return -1;
    }
    if (t->ca && t->client_certs == TLS_CLIENT_CERTS_OFF) {
        config_errorf(err, errlen, cfg, "server", "tls_ca", "set, but tls_client_certs is off");
        return -1;
    }
    if (t->crl && t->client_certs == TLS_CLIENT_CERTS_OFF) {
        config_errorf(err, errlen, cfg, "server", "tls_crl", "set, but tls_client_certs is off");
        return -1;
    }
    if (t->client_user != TLS_CLIENT_USER_OFF && t->client_certs == TLS_CLIENT_CERTS_OFF) {
        config_errorf(err, errlen, cfg, "server", "tls_client_user",
                      "set, but tls_client_certs is off: no client shows a certificate to name its user");
        return -1;
    }
    const char *bad_key;
    char why[512];
    if (tls_files_check(t->cert, t->key, t->ca, t->crl, t->ciphers, &bad_key, why, sizeof why) < 0) {
        config_errorf(err, errlen, cfg, "server", bad_key, "%s", why);
        return -1;
    }
    return 0;
}

static void tls_settings_free(struct tls_settings *t)
{
    free(t->host);
    free(t->stomp_host);
    free(t->cert);
    free(t->key);
    free(t->ca);
    free(t->crl);
    free(t->ciphers);
}

/* The shortest [visitors] secret: 32 bytes, SHA-256's own size. */
#define VISITOR_SECRET_MIN 32

/* [visitors]: anonymous visitors' tokens (docs/visitors.md). */
static int load_visitors(struct visitor_settings *v, const struct config *cfg, char *err, size_t errlen)
{
    struct config_section *sec = config_find(cfg, "visitors");
    long long per_hour;
    if (config_get_bool(cfg, sec, "enabled", false, &v->enabled, err, errlen) < 0 ||
        config_get_duration_ms(cfg, sec, "token_ttl", 30LL * 86400000, 60000, 3650LL * 86400000, &v->ttl_ms, err,
                               errlen) < 0 ||
        config_get_int(cfg, sec, "max_per_ip_per_hour", 20, 0, 1000000, &per_hour, err, errlen) < 0)
        return -1;
    v->per_ip_per_hour = (size_t)per_hour;
    const char *secret = sec ? config_get(sec, "secret") : NULL;
    if (secret && *secret && strlen(secret) < VISITOR_SECRET_MIN) {
        config_errorf(err, errlen, cfg, "visitors", "secret", "at least %d bytes (got %zu): it keys the tokens' HMAC",
                      VISITOR_SECRET_MIN, strlen(secret));
        return -1;
    }
    if (v->enabled && (!secret || !*secret)) {
        config_errorf(err, errlen, cfg, "visitors", "secret",
                      "required with enabled = on: at least %d random bytes, the same on every instance",
                      VISITOR_SECRET_MIN);
        return -1;
    }
    if (secret && *secret && !(v->secret = strdup(secret))) {
        config_errorf(err, errlen, cfg, "visitors", "secret", "out of memory");
        return -1;
    }
    return check_unused(cfg, sec, err, errlen);
}

int settings_load(struct settings *s, struct config *cfg, char *err, size_t errlen)
{
    memset(s, 0, sizeof *s);
    for (size_t i = 0; i < cfg->nsections; i++) {
        if (!section_is_known(cfg->sections[i].name)) {
            config_errorf(err, errlen, cfg, cfg->sections[i].name, NULL, "unknown section");
            return -1;
        }
    }
    static const char *const required[] = {"auth", "storage", "broker"};
    for (size_t i = 0; i < 3; i++) {
        if (!config_find(cfg, required[i])) {
            config_errorf(err, errlen, cfg, required[i], NULL, "missing section (needs at least 'plugin = ...')");
            return -1;
        }
    }

    struct config_section *srv = config_find(cfg, "server");
    if (load_addr(cfg, srv, "listen", "127.0.0.1:8080", &s->listen_host, &s->listen_port, err, errlen) < 0 ||
        load_addr(cfg, srv, "stomp_listen", "", &s->stomp_host, &s->stomp_port, err, errlen) < 0 ||
        load_tls(&s->tls, cfg, srv, err, errlen) < 0 || check_ports(s, cfg, err, errlen) < 0)
        return -1;
    if (!s->listen_host && !s->tls.host) {
        config_errorf(err, errlen, cfg, "server", "listen",
                      "empty, and tls_listen is not set: HTTP and WebSocket would have no listener");
        return -1;
    }
    const char *v = srv ? config_get(srv, "plugin_dir") : NULL;
    s->plugin_dir = strdup(v ? v : CHATD_DEFAULT_PLUGIN_DIR);
    v = srv ? config_get(srv, "web_root") : NULL;
    s->web_root = v && *v ? strdup(v) : NULL;
    v = srv ? config_get(srv, "allowed_origins") : NULL;
    if (split_words(v ? v : "", &s->allowed_origins) < 0 || !s->plugin_dir) {
        config_errorf(err, errlen, cfg, "server", NULL, "out of memory");
        return -1;
    }
    v = srv ? config_get(srv, "trusted_proxies") : NULL;
    char range_why[160];
    if (cidr_list_parse(v ? v : "", &s->trusted_proxies, range_why, sizeof range_why) < 0) {
        config_errorf(err, errlen, cfg, "server", "trusted_proxies", "%s", range_why);
        return -1;
    }
    if (srv && config_get_bool(cfg, srv, "proxy_protocol", false, &s->proxy_protocol, err, errlen) < 0)
        return -1;
    if (s->proxy_protocol && !s->trusted_proxies.n) {
        config_errorf(err, errlen, cfg, "server", "proxy_protocol",
                      "on, but trusted_proxies is empty: list the proxies whose PROXY header is believed");
        return -1;
    }
    v = srv ? config_get(srv, "log_level") : NULL;
    int lvl = log_level_parse(v ? v : "info");
    if (lvl < 0) {
        config_errorf(err, errlen, cfg, "server", "log_level", "expected error, warn, info or debug, got '%s'", v);
        return -1;
    }
    s->log_level = (chatd_log_level)lvl;
    v = srv ? config_get(srv, "log_format") : NULL;
    int fmt = log_format_parse(v ? v : "text");
    if (fmt < 0) {
        config_errorf(err, errlen, cfg, "server", "log_format", "expected text or json, got '%s'", v);
        return -1;
    }
    s->log_format = (enum log_format)fmt;
    if (config_get_duration_ms(cfg, srv, "shutdown_timeout", 5000, 0, 600000, &s->shutdown_timeout_ms, err, errlen) < 0 ||
        config_get_duration_ms(cfg, srv, "presence_interval", 10000, 100, 3600000, &s->presence_interval_ms, err,
                               errlen) < 0 ||
        config_get_size(cfg, srv, "max_connections_per_ip", 1000, 0, 1u << 24, &s->max_connections_per_ip, err,
                        errlen) < 0 ||
        config_get_duration_ms(cfg, srv, "sockjs_heartbeat", 25000, 1000, 3600000, &s->sockjs_heartbeat_ms, err,
                               errlen) < 0 ||
        config_get_duration_ms(cfg, srv, "sockjs_disconnect_delay", 5000, 100, 3600000,
                               &s->sockjs_disconnect_delay_ms, err, errlen) < 0 ||
        config_get_size(cfg, srv, "sockjs_response_limit", 128u << 10, 4096, 1u << 30, &s->sockjs_response_limit,
                        err, errlen) < 0 ||
        config_get_duration_ms(cfg, srv, "request_timeout", 60000, 1000, 3600000, &s->request_timeout_ms, err,
                               errlen) < 0)
        return -1;
    const char *paths = srv ? config_get(srv, "websocket_paths") : NULL;
    const char *sockjs = srv ? config_get(srv, "sockjs") : NULL;
    const char *bad_key;
    char why[192];
    if (settings_parse_ws_paths(s, paths ? paths : "/ws", sockjs ? sockjs : "on", &bad_key, why, sizeof why) < 0) {
        config_errorf(err, errlen, cfg, "server", bad_key, "%s", why);
        return -1;
    }
    if (check_unused(cfg, srv, err, errlen) < 0)
        return -1;

    struct config_section *st = config_find(cfg, "stomp");
    stomp_limits_default(&s->limits);
    size_t max_subs, max_headers, rxbuf;
    if (config_get_size(cfg, st, "max_frame_size", s->limits.max_frame_size, 256, 64u << 20, &s->limits.max_frame_size, err, errlen) < 0 ||
        config_get_size(cfg, st, "max_body_size", s->limits.max_body_size, 0, 64u << 20, &s->limits.max_body_size, err, errlen) < 0 ||
        config_get_size(cfg, st, "max_header_length", s->limits.max_header_length, 64, 1u << 20, &s->limits.max_header_length, err, errlen) < 0 ||
        config_get_size(cfg, st, "max_headers", s->limits.max_headers, 4, 4096, &max_headers, err, errlen) < 0 ||
        config_get_size(cfg, st, "max_subscriptions", 256, 1, 1u << 20, &max_subs, err, errlen) < 0 ||
        config_get_duration_ms(cfg, st, "connect_timeout", 10000, 100, 3600000, &s->connect_timeout_ms, err, errlen) < 0 ||
        config_get_duration_ms(cfg, st, "busy_retry_after", 2000, 1000, 3600000, &s->busy_retry_after_ms, err, errlen) < 0 ||
        config_get_size(cfg, st, "max_outbound_bytes", 4u << 20, 4096, 1u << 30, &s->max_outbound_bytes, err, errlen) < 0 ||
        config_get_size(cfg, st, "ws_rx_buffer", 1024, 128, 1u << 20, &rxbuf, err, errlen) < 0)
        return -1;
    s->limits.max_headers = max_headers;
    s->max_subscriptions = max_subs;
    s->ws_rx_buffer = rxbuf;
    if (config_get_size(cfg, st, "max_unacked", 1000, 1, 1u << 20, &s->max_unacked, err, errlen) < 0 ||
        config_get_size(cfg, st, "max_sends_per_second", 1000, 0, 1u << 24, &s->max_sends_per_second, err,
                        errlen) < 0 ||
        config_get_size(cfg, st, "max_send_bytes_per_second", 1u << 20, 0, 1u << 30, &s->max_send_bytes_per_second,
                        err, errlen) < 0 ||
        config_get_duration_ms(cfg, st, "slow_consumer_timeout", 5000, 0, 3600000, &s->slow_consumer_timeout_ms,
                               err, errlen) < 0 ||
        config_get_duration_ms(cfg, st, "token_recheck_interval", 60000, 0, 86400000, &s->token_recheck_ms, err,
                               errlen) < 0 ||
        config_get_size(cfg, st, "max_queue_length", 10000, 1, 1u << 24, &s->max_queue_length, err, errlen) < 0 ||
        config_get_size(cfg, st, "max_transactions", 16, 1, 1024, &s->max_transactions, err, errlen) < 0 ||
        config_get_size(cfg, st, "max_transaction_frames", 1000, 1, 1u << 20, &s->max_transaction_frames, err,
                        errlen) < 0 ||
        config_get_duration_ms(cfg, st, "heartbeat_send", 10000, 0, 3600000, &s->heartbeat_send_ms, err, errlen) < 0 ||
        config_get_duration_ms(cfg, st, "heartbeat_receive", 10000, 0, 3600000, &s->heartbeat_receive_ms, err,
                               errlen) < 0 ||
        acl_load(&s->acl, cfg, st, err, errlen) < 0 || load_prefixes(&s->prefixes, cfg, st, err, errlen) < 0 ||
        check_acl_canonical(&s->acl, &s->prefixes, cfg, err, errlen) < 0)
        return -1;
    if (check_unused(cfg, st, err, errlen) < 0)
        return -1;

    struct config_section *nt = config_find(cfg, "notify");
    v = nt ? config_get(nt, "policy") : NULL;
    if (settings_parse_notify_policy(v ? v : "all", &s->notify_kinds, &s->notify_mentions) < 0) {
        config_errorf(err, errlen, cfg, "notify", "policy",
                      "expected a list of all, support, direct, group, mentions; got '%s'", v);
        return -1;
    }
    if (config_get_duration_ms(cfg, nt, "coalesce", 10000, 0, 86400000, &s->notify_coalesce_ms, err, errlen) < 0 ||
        config_get_size(cfg, nt, "preview_length", 140, 0, 4096, &s->notify_preview, err, errlen) < 0)
        return -1;
    if (check_unused(cfg, nt, err, errlen) < 0)
        return -1;

    if (load_files(s, cfg, err, errlen) < 0)
        return -1;

    /* retention: empty or 0 is off; at most ten years. */
    struct config_section *rooms = config_find(cfg, "rooms");
    v = rooms ? config_get(rooms, "retention") : NULL;
    if (v && *v && config_get_duration_ms(cfg, rooms, "retention", 0, 0, 3650LL * 86400000, &s->retention_ms, err,
                                          errlen) < 0)
        return -1;
    if (config_get_duration_ms(cfg, rooms, "edit_window", 15 * 60000, 0, 3650LL * 86400000, &s->edit_window_ms, err,
                               errlen) < 0)
        return -1;
    if (check_unused(cfg, rooms, err, errlen) < 0)
        return -1;

    /* A user whose last session ended is told offline this long after,
     * unless back by then: reconnects do not flap (docs/protocol.md). */
    struct config_section *pres = config_find(cfg, "presence");
    if (config_get_duration_ms(cfg, pres, "offline_grace", 5000, 0, 3600000, &s->offline_grace_ms, err, errlen) < 0 ||
        config_get_int(cfg, pres, "last_seen_max", 100000, 0, 100000000, &s->last_seen_max, err, errlen) < 0 ||
        check_unused(cfg, pres, err, errlen) < 0)
        return -1;

    struct config_section *sup = config_find(cfg, "support");
    v = sup ? config_get(sup, "assign") : NULL;
    if (!v || !*v || strcmp(v, "manual") == 0)
        s->support_assign = SUPPORT_ASSIGN_MANUAL;
    else if (strcmp(v, "round_robin") == 0)
        s->support_assign = SUPPORT_ASSIGN_ROUND_ROBIN;
    else if (strcmp(v, "least_busy") == 0)
        s->support_assign = SUPPORT_ASSIGN_LEAST_BUSY;
    else {
        config_errorf(err, errlen, cfg, "support", "assign", "expected manual, round_robin or least_busy; got '%s'", v);
        return -1;
    }
    long long max_chats;
    if (config_get_int(cfg, sup, "max_chats_per_agent", 0, 0, 10000, &max_chats, err, errlen) < 0)
        return -1;
    s->max_chats_per_agent = (size_t)max_chats;
    /* A customer writing into a completed room reopens it this long after
     * the agent completed it; 0 (the default, so that an upgrade changes
     * no desk's behaviour) = never. */
    if (config_get_duration_ms(cfg, sup, "reopen_window", 0, 0, 3650LL * 86400000, &s->reopen_window_ms,
                               err, errlen) < 0)
        return -1;
    /* A customer who waits longer than this for an agent's first message
     * is flagged (docs/support-desk.md, "Service levels"); 0 = off. */
    if (config_get_duration_ms(cfg, sup, "first_response_target", 0, 0, 30LL * 86400000,
                               &s->first_response_target_ms, err, errlen) < 0)
        return -1;
    /* Who changes the desk's canned replies besides admins (docs/support-desk.md,
     * "Canned replies"): nobody (the default) or every agent. */
    v = sup ? config_get(sup, "canned_writers") : NULL;
    if (!v || !*v || strcmp(v, "admins") == 0)
        s->canned_agents_write = false;
    else if (strcmp(v, "agents") == 0)
        s->canned_agents_write = true;
    else {
        config_errorf(err, errlen, cfg, "support", "canned_writers", "expected admins or agents; got '%s'", v);
        return -1;
    }
    /* Which topics each agent takes (docs/support-desk.md, "Topics and
     * skills"): "alice:billing,tech; bob:tech". */
    v = sup ? config_get(sup, "skills") : NULL;
    char skills_why[300];
    support_skills_free(&s->skills);
    if (support_skills_parse(v, &s->skills, skills_why, sizeof skills_why) < 0) {
        config_errorf(err, errlen, cfg, "support", "skills", "%s", skills_why);
        return -1;
    }
    /* How long a room with a topic waits for an agent with that skill
     * before any agent may take it (docs/support-desk.md, "Topics and
     * skills"); 0 (the default, so that an upgrade changes no desk's
     * routing) = for ever. */
    if (config_get_duration_ms(cfg, sup, "topic_wait", 0, 0, 30LL * 86400000, &s->topic_wait_ms, err, errlen) < 0)
        return -1;
    if (check_unused(cfg, sup, err, errlen) < 0)
        return -1;
    return load_visitors(&s->visitors, cfg, err, errlen);
}

long long settings_busy_retry_after_s(const struct settings *s)
{
    long long base = (s->busy_retry_after_ms + 999) / 1000;
    return base + (long long)((uint64_t)random() % (uint64_t)(base + 1));
}

int settings_parse_notify_policy(const char *v, unsigned *kinds, bool *mentions)
{
    char **words;
    *kinds = 0;
    *mentions = false;
    if (split_words(v, &words) < 0)
        return -1;
    int rc = words[0] ? 0 : -1;
    for (size_t i = 0; words[i]; i++) {
        const char *w = words[i];
        if (strcmp(w, "all") == 0)
            *kinds |= 1u << CHATD_ROOM_SUPPORT | 1u << CHATD_ROOM_DIRECT | 1u << CHATD_ROOM_GROUP;
        else if (strcmp(w, "support") == 0)
            *kinds |= 1u << CHATD_ROOM_SUPPORT;
        else if (strcmp(w, "direct") == 0)
            *kinds |= 1u << CHATD_ROOM_DIRECT;
        else if (strcmp(w, "group") == 0)
            *kinds |= 1u << CHATD_ROOM_GROUP;
        else if (strcmp(w, "mentions") == 0)
            *mentions = true;
        else
            rc = -1;
        free(words[i]);
    }
    free(words);
    return rc;
}

static bool str_differs(const char *a, const char *b)
{
    return (a == NULL) != (b == NULL) || (a && strcmp(a, b) != 0);
}

static bool words_differ(char *const *a, char *const *b)
{
    size_t i = 0;
    for (; a && b && a[i] && b[i]; i++)
        if (strcmp(a[i], b[i]) != 0)
            return true;
    return (a && a[i]) || (b && b[i]);
}

static bool prefixes_differ(const struct dest_prefixes *a, const struct dest_prefixes *b, int k)
{
    if (a->n[k] != b->n[k])
        return true;
    for (size_t i = 0; i < a->n[k]; i++)
        if (strcmp(a->alias[k][i], b->alias[k][i]) != 0)
            return true;
    return false;
}

size_t settings_restart_changes(const struct settings *old, const struct settings *next, const char **keys,
                                size_t max)
{
    size_t n = 0;
#define CHANGED(cond, name)        \
    do {                           \
        if (cond) {                \
            if (n < max)           \
                keys[n] = (name);  \
            n++;                   \
        }                          \
    } while (0)
    CHANGED(str_differs(old->listen_host, next->listen_host) || old->listen_port != next->listen_port,
            "[server] listen");
    CHANGED(str_differs(old->stomp_host, next->stomp_host) || old->stomp_port != next->stomp_port,
            "[server] stomp_listen");
    CHANGED(str_differs(old->tls.host, next->tls.host) || old->tls.port != next->tls.port, "[server] tls_listen");
    CHANGED(str_differs(old->tls.stomp_host, next->tls.stomp_host) || old->tls.stomp_port != next->tls.stomp_port,
            "[server] stomp_tls_listen");
    CHANGED(str_differs(old->tls.cert, next->tls.cert), "[server] tls_cert");
    CHANGED(str_differs(old->tls.key, next->tls.key), "[server] tls_key");
    CHANGED(str_differs(old->tls.ca, next->tls.ca), "[server] tls_ca");
    CHANGED(str_differs(old->tls.crl, next->tls.crl), "[server] tls_crl");
    CHANGED(old->tls.client_certs != next->tls.client_certs, "[server] tls_client_certs");
    CHANGED(old->tls.client_user != next->tls.client_user, "[server] tls_client_user");
    CHANGED(old->tls.min_version != next->tls.min_version, "[server] tls_min_version");
    CHANGED(str_differs(old->tls.ciphers, next->tls.ciphers), "[server] tls_ciphers");
    CHANGED(old->tls.hsts_max_age_s != next->tls.hsts_max_age_s, "[server] hsts");
    CHANGED(str_differs(old->plugin_dir, next->plugin_dir), "[server] plugin_dir");
    CHANGED(str_differs(old->web_root, next->web_root), "[server] web_root");
    CHANGED(words_differ(old->allowed_origins, next->allowed_origins), "[server] allowed_origins");
    CHANGED(!cidr_list_equal(&old->trusted_proxies, &next->trusted_proxies), "[server] trusted_proxies");
    CHANGED(old->proxy_protocol != next->proxy_protocol, "[server] proxy_protocol");
    bool paths = old->nws_paths != next->nws_paths, sockjs = false;
    for (size_t i = 0; !paths && i < old->nws_paths; i++) {
        paths |= strcmp(old->ws_paths[i].path, next->ws_paths[i].path) != 0;
        sockjs |= old->ws_paths[i].sockjs != next->ws_paths[i].sockjs;
    }
    CHANGED(paths, "[server] websocket_paths");
    CHANGED(!paths && sockjs, "[server] sockjs");
    CHANGED(old->presence_interval_ms != next->presence_interval_ms, "[server] presence_interval");
    CHANGED(old->request_timeout_ms != next->request_timeout_ms, "[server] request_timeout");
    CHANGED(old->ws_rx_buffer != next->ws_rx_buffer, "[stomp] ws_rx_buffer");
    static const char *const prefix_keys[PREFIX_KINDS] = {"[stomp] application_prefix", "[stomp] topic_prefix",
                                                          "[stomp] queue_prefix", "[stomp] user_prefix"};
    for (int k = 0; k < PREFIX_KINDS; k++)
        CHANGED(prefixes_differ(&old->prefixes, &next->prefixes, k), prefix_keys[k]);
    CHANGED(old->retention_ms != next->retention_ms, "[rooms] retention");
#undef CHANGED
    return n;
}

void settings_take_live(struct settings *s, struct settings *next)
{
    s->log_level = next->log_level;
    s->log_format = next->log_format;
    s->shutdown_timeout_ms = next->shutdown_timeout_ms;
    s->max_connections_per_ip = next->max_connections_per_ip;
    s->sockjs_heartbeat_ms = next->sockjs_heartbeat_ms;
    s->sockjs_disconnect_delay_ms = next->sockjs_disconnect_delay_ms;
    s->sockjs_response_limit = next->sockjs_response_limit;
    s->limits = next->limits;
    s->max_subscriptions = next->max_subscriptions;
    s->connect_timeout_ms = next->connect_timeout_ms;
    s->busy_retry_after_ms = next->busy_retry_after_ms;
    s->max_outbound_bytes = next->max_outbound_bytes;
    s->max_unacked = next->max_unacked;
    s->max_sends_per_second = next->max_sends_per_second;
    s->max_send_bytes_per_second = next->max_send_bytes_per_second;
    s->slow_consumer_timeout_ms = next->slow_consumer_timeout_ms;
    s->token_recheck_ms = next->token_recheck_ms;
    s->notify_kinds = next->notify_kinds;
    s->notify_mentions = next->notify_mentions;
    s->notify_coalesce_ms = next->notify_coalesce_ms;
    s->notify_preview = next->notify_preview;
    s->max_queue_length = next->max_queue_length;
    s->max_transactions = next->max_transactions;
    s->max_transaction_frames = next->max_transaction_frames;
    s->heartbeat_send_ms = next->heartbeat_send_ms;
    s->heartbeat_receive_ms = next->heartbeat_receive_ms;
    struct acl acl = s->acl;
    s->acl = next->acl;
    next->acl = acl;
    s->support_assign = next->support_assign;
    s->max_chats_per_agent = next->max_chats_per_agent;
    s->reopen_window_ms = next->reopen_window_ms;
    s->first_response_target_ms = next->first_response_target_ms;
    s->canned_agents_write = next->canned_agents_write;
    struct support_skills skills = s->skills;
    s->skills = next->skills;
    next->skills = skills;
    s->topic_wait_ms = next->topic_wait_ms;
    s->edit_window_ms = next->edit_window_ms;
    s->offline_grace_ms = next->offline_grace_ms;
    s->last_seen_max = next->last_seen_max;
    struct visitor_settings visitors = s->visitors;
    s->visitors = next->visitors;
    next->visitors = visitors;
}

void settings_free(struct settings *s)
{
    free(s->listen_host);
    free(s->stomp_host);
    tls_settings_free(&s->tls);
    free(s->plugin_dir);
    free(s->web_root);
    for (size_t i = 0; s->allowed_origins && s->allowed_origins[i]; i++)
        free(s->allowed_origins[i]);
    free(s->allowed_origins);
    for (size_t i = 0; i < s->files_ntypes; i++)
        free(s->files_types[i]);
    free(s->files_types);
    cidr_list_free(&s->trusted_proxies);
    for (size_t i = 0; i < s->nws_paths; i++)
        free(s->ws_paths[i].path);
    acl_free(&s->acl);
    support_skills_free(&s->skills);
    free(s->visitors.secret);
    memset(s, 0, sizeof *s);
}
