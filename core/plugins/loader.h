/* Loading plugins named in chat.ini: dlopen, descriptor checks, init. */
#ifndef CHATD_LOADER_H
#define CHATD_LOADER_H

#include <chatd/plugin.h>

struct config;
struct config_section;
struct server;

struct plugin {
    struct chatd_host host; /* handed to the plugin; first, so host -> plugin is a cast */
    struct server *srv;
    char *section;
    char *path;
    void *dl;
    const struct chatd_plugin *desc;
    void *state;
    bool ready;
    /* host->counter_add */
    struct plugin_counter {
        char name[48];
        uint64_t value;
    } counters[16];
    size_t ncounters;
    /* Start-up only: */
    struct config_section *cfg;
    char init_error[512];
    bool init_error_set;
};

/* Whether an ops table has `member` set: one built against an older minor
 * may be shorter than ours, and a member beyond its `size` counts as
 * absent. */
#define OPS_HAS(ops, member)                                                      \
    ((ops)->size >= offsetof(__typeof__(*(ops)), member) + sizeof((ops)->member) && \
     (ops)->member != NULL)

/* Resolve, open, check and init the plugin named by `plugin =` in
 * `section`. On failure: NULL, one line in err, nothing left loaded. */
struct plugin *plugin_load(struct server *srv, struct config *cfg, const char *section,
                           chatd_plugin_kind kind, char *err, size_t errlen);
/* fini + dlclose. NULL ok. */
void plugin_unload(struct plugin *p);

const char *plugin_kind_name(chatd_plugin_kind kind);

/* Whether the loaded plugin p was built for SDK 1.`minor` or later: only
 * then does the core call the operations and read the struct fields that
 * minor added (plugin.h, above struct chatd_storage_ops). */
bool plugin_has_minor(const struct plugin *p, uint32_t minor);

#endif
