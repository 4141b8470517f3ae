/* Reload: read chat.ini again while serving, on the core thread, and apply
 * what may change live (docs/configuration.md, "Reload"), or nothing.
 *
 * The whole reload runs in one turn of the core loop, so no frame or
 * request sees half of it. Reading and checking the file is small work;
 * the auth plugin's new instance is initialised here too (the SDK calls
 * init on the core thread), from a new build of its file if the file was
 * replaced (plugins/loader.h): auth-static parses its hashes but never runs
 * PBKDF2 in init, auth-jwt reads its key files (PEM of at most 64 KiB
 * each, a JWKS of at most 1 MiB, local files). Verifications under way
 * finish on the instance they started on (plugins/auth_port.h). The
 * gateway thread gets its limits in a message through the queue it
 * already reads (net/gateway.h): no memory is written by one thread while
 * the other reads it; the same way it gets the TLS certificate and key,
 * read again from their (unchanged) paths and checked here, for the
 * handshakes that begin after it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "log.h"
#include "net/gateway.h"
#include "plugins/auth_port.h"
#include "plugins/loader.h"
#include "rooms/rooms.h"
#include "rooms/first_response.h"
#include "rooms/routing.h"
#include "server.h"
#include "settings.h"
#include "stomp/destinations.h"
#include "tls_files.h"

#define RESTART_KEYS_MAX 32

struct changes {
    char list[768];
    size_t len, n;
};

/* "[section] key" or "[section]": names only, never values (a value may
 * hold a password). */
static void changes_add_name(struct changes *c, const char *name)
{
    c->n++;
    if (c->len >= sizeof c->list - 1)
        return;
    int w = snprintf(c->list + c->len, sizeof c->list - c->len, "%s%s", c->n > 1 ? ", " : "", name);
    c->len += w > 0 ? (size_t)w : 0;
    if (c->len > sizeof c->list - 1)
        c->len = sizeof c->list - 1;
}

static void changes_add(struct changes *c, const char *section, const char *key)
{
    char name[320];
    snprintf(name, sizeof name, "[%s]%s%s", section, key ? " " : "", key ? key : "");
    changes_add_name(c, name);
}

static const char *entry_value(const struct config_section *s, const char *key)
{
    const struct config_entry *e = config_entry_find(s, key);
    return e ? e->value : NULL;
}

/* Every key of section `name` whose value differs between the two files;
 * a section added or removed as a whole is named once. */
static void section_changes(struct changes *c, const struct config *old, const struct config *next, const char *name)
{
    const struct config_section *a = config_find(old, name), *b = config_find(next, name);
    if (!a && !b)
        return;
    if (!a || !b) {
        changes_add(c, name, NULL);
        return;
    }
    for (size_t i = 0; i < a->nentries; i++) {
        const char *v = entry_value(b, a->entries[i].key);
        if (!v || strcmp(v, a->entries[i].value) != 0)
            changes_add(c, name, a->entries[i].key);
    }
    for (size_t i = 0; i < b->nentries; i++)
        if (!entry_value(a, b->entries[i].key))
            changes_add(c, name, b->entries[i].key);
}

static bool is_notify_plugin(const char *section)
{
    return strncmp(section, "notify.", 7) == 0;
}

/* What the new file changes that only a restart applies: the listeners and
 * the core's restart-only keys, the storage, broker, files and notify plugins
 * (their whole sections: a plugin instance holds its connections), the
 * auth plugin's choice. */
static void restart_changes(struct changes *c, const struct server *srv, const struct config *next,
                            const struct settings *ns)
{
    const char *keys[RESTART_KEYS_MAX]; /* "[section] key" */
    size_t n = settings_restart_changes(&srv->settings, ns, keys, RESTART_KEYS_MAX);
    for (size_t i = 0; i < n && i < RESTART_KEYS_MAX; i++)
        changes_add_name(c, keys[i]);
    section_changes(c, srv->config, next, "storage");
    section_changes(c, srv->config, next, "broker");
    section_changes(c, srv->config, next, "files"); /* the plugin and the core's [files] policy alike */
    for (size_t i = 0; i < srv->config->nsections; i++)
        if (is_notify_plugin(srv->config->sections[i].name))
            section_changes(c, srv->config, next, srv->config->sections[i].name);
    for (size_t i = 0; i < next->nsections; i++)
        if (is_notify_plugin(next->sections[i].name) && !config_find(srv->config, next->sections[i].name))
            changes_add(c, next->sections[i].name, NULL);
    const char *a = entry_value(config_find(srv->config, "auth"), "plugin");
    const char *b = entry_value(config_find(next, "auth"), "plugin");
    if (!a || !b || strcmp(a, b) != 0)
        changes_add(c, "auth", "plugin");
}

static int refuse(struct server *srv, char *msg, size_t msglen, const char *why)
{
    snprintf(msg, msglen, "reload refused: %s; still serving the previous configuration", why);
    log_error("%s", msg);
    srv->metrics.reloads_refused++;
    return -1;
}

static void apply_support(struct server *srv)
{
    struct rooms *r = srv->rooms;
    if (!r)
        return;
    r->preview_chars = srv->settings.notify_preview;
    r->max_chats_per_agent = srv->settings.max_chats_per_agent;
    r->edit_window_ms = srv->settings.edit_window_ms;
    r->reopen_window_ms = srv->settings.reopen_window_ms;
    r->topic_wait_ms = srv->settings.topic_wait_ms; /* also for the rooms waiting now */
    r->canned_agents_write = srv->settings.canned_agents_write;
    first_response_set_target(r->first_response, srv->settings.first_response_target_ms);
    routing_set_mode(r->routing, srv->settings.support_assign);
    routing_kick(r->routing); /* [support] skills or topic_wait may route a waiting room now */
}

/* /metrics shows an auth plugin's counters by section: they go on from
 * where the replaced instance left them, not from zero. */
static void counters_carry(struct plugin *to, const struct plugin *from)
{
    for (size_t i = 0; i < from->ncounters; i++) {
        size_t k = 0;
        while (k < to->ncounters && strcmp(to->counters[k].name, from->counters[i].name) != 0)
            k++;
        if (k == to->ncounters) {
            if (k == sizeof to->counters / sizeof *to->counters)
                continue;
            to->counters[to->ncounters++] = from->counters[i];
        } else {
            to->counters[k].value += from->counters[i].value;
        }
    }
}

int server_reload(struct server *srv, char *msg, size_t msglen)
{
    const char *path = srv->config->path;
    if (srv->stopping) {
        snprintf(msg, msglen, "reload refused: shutting down");
        log_warn("%s", msg);
        return -1;
    }
    struct config *cfg = NULL;
    struct settings next;
    memset(&next, 0, sizeof next);
    char err[1024] = "";
    if (config_load_file(&cfg, path, err, sizeof err) < 0 || settings_load(&next, cfg, err, sizeof err) < 0) {
        settings_free(&next);
        config_free(cfg);
        return refuse(srv, msg, msglen, err);
    }
    struct changes c = {0};
    restart_changes(&c, srv, cfg, &next);
    if (c.n) {
        char why[1024];
        snprintf(why, sizeof why, "%s: changing %s needs a restart", path, c.list);
        settings_free(&next);
        config_free(cfg);
        return refuse(srv, msg, msglen, why);
    }
    /* The TLS certificate and key, read again from the same paths (a
     * renewal writes new files there): settings_load checked them already;
     * what is kept is what this read found, handed to the gateway as
     * loaded objects, so the listeners get exactly what was checked. */
    struct tls_cert_bundle *cert = NULL;
    if (next.tls.cert) {
        const char *bad_key;
        char why[512];
        if (tls_files_load(next.tls.cert, next.tls.key, next.tls.ca, next.tls.crl, &cert, &bad_key, why,
                           sizeof why) < 0) {
            config_errorf(err, sizeof err, cfg, "server", bad_key, "%s", why);
            settings_free(&next);
            config_free(cfg);
            return refuse(srv, msg, msglen, err);
        }
    }
    /* A new instance of the same auth plugin, from the new [auth]: new
     * users, passwords, keys, a re-read JWKS file; and a new build of the
     * plugin if its file was replaced by one. */
    bool new_build = false;
    struct plugin *auth = plugin_load_again(srv, cfg, "auth", CHATD_PLUGIN_AUTH, srv->auth, &new_build, err,
                                            sizeof err);
    if (!auth) {
        tls_cert_bundle_free(cert);
        settings_free(&next);
        config_free(cfg);
        return refuse(srv, msg, msglen, err);
    }

    /* Nothing below can fail: from here on the new file is the one. */
    struct plugin *old_auth = srv->auth;
    if (new_build)
        log_info("reload: [auth] %s: a new build of %s (%s, was %s) takes the authentications from now on",
                 auth->path, auth->desc->name, auth->desc->version, old_auth->desc->version);
    counters_carry(auth, old_auth);
    srv->auth = auth;
    (void)auth_retire(srv->auth_retiring, old_auth);
    settings_take_live(&srv->settings, &next);
    apply_support(srv);
    struct gateway_limits *limits = malloc(sizeof *limits);
    if (limits) {
        gateway_limits_of(&srv->settings, limits);
        server_emit(srv, &(struct xmsg){.kind = XM_LIMITS, .u.limits = limits});
    } else {
        log_error("reload: out of memory: the gateway keeps its previous limits");
    }
    char described[512] = "";
    if (cert) {
        tls_cert_bundle_describe(cert, described, sizeof described);
        server_emit(srv, &(struct xmsg){.kind = XM_TLS_CERT, .u.tls_cert = cert});
    }
    destinations_warn_acl(&srv->settings.acl, &srv->settings.prefixes, cfg);
    snprintf(msg, msglen, "configuration reloaded from %s%s%s", path, cert ? "; TLS certificate read again: " : "",
             described);
    config_free(srv->config); /* path with it */
    srv->config = cfg;
    settings_free(&next);
    srv->metrics.reloads++;
    /* Said at the level the operator had, before the new one applies. */
    log_info("%s", msg);
    log_setup(srv->settings.log_level, srv->settings.log_format);
    return 0;
}
