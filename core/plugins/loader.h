/* Loading plugins named in chat.ini: dlopen, descriptor checks, init. */
#ifndef CHATD_LOADER_H
#define CHATD_LOADER_H

#include <chatd/plugin.h>

struct auth_call;
struct files_call;
struct call;
struct config;
struct auth_retiring;
struct config_section;
struct server;

struct plugin {
    struct chatd_host host; /* handed to the plugin; first, so host -> plugin is a cast */
    struct server *srv;
    char *section;
    char *path;
    void *dl;
    /* The file as it was when loaded (a reload tells a new build by it),
     * and the in-memory copy the code was loaded from when it is a build
     * other than the one mapped under its path (-1: loaded from path). */
    struct plugin_file {
        unsigned long long dev, ino, size;
        long long mtime_ns;
    } file;
    int copy_fd;
    /* The plugin's descriptor as this SDK declares it: what the plugin
     * exported, read up to its size (an SDK 1.x one converted), the rest
     * zero. */
    const struct chatd_plugin *desc;
    struct chatd_plugin desc_read;
    void *state;
    bool ready;
    unsigned storage_calls; /* storage_port.c: calls into the plugin under way */
    struct call *calls;     /* storage_port.c: operations not answered yet */
    struct files_call *files_calls; /* files_port.c: operations not answered yet */
    struct auth_call *auth_pending; /* auth_port.c: authentications not answered yet */
    void (*calls_drop)(struct plugin *p); /* after fini: forget what is left of them */
    unsigned auth_calls;    /* auth_port.c: authentications not answered yet */
    struct auth_retiring *retiring; /* auth_port.c: set once a reload replaced this instance */
    /* host->counter_add */
    struct plugin_counter {
        char name[48];
        uint64_t value;
    } counters[16];
    size_t ncounters;
    /* During init only: */
    const struct config *cfg_file; /* the file being loaded (errors name it) */
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
 * `section` of cfg (at start-up, or a new instance on a reload). On
 * failure: NULL, one line in err, nothing left loaded. */
struct plugin *plugin_load(struct server *srv, struct config *cfg, const char *section,
                           chatd_plugin_kind kind, char *err, size_t errlen);
/* A new instance for a reload, beside prev (the instance it replaces):
 * when the file at prev's path is another build than prev's (a new
 * inode, size or mtime), that build is loaded from an in-memory copy,
 * since the dynamic loader hands back the object already mapped under a
 * path; *new_build says so. */
struct plugin *plugin_load_again(struct server *srv, struct config *cfg, const char *section,
                                 chatd_plugin_kind kind, const struct plugin *prev, bool *new_build, char *err,
                                 size_t errlen);
/* fini + dlclose. NULL ok. */
void plugin_unload(struct plugin *p);

const char *plugin_kind_name(chatd_plugin_kind kind);

/* Whether p was built for SDK 1.x: the ports then hand it and read from it
 * the structs of SDK 1 (plugins/sdk1.h). */
bool plugin_sdk1(const struct plugin *p);
/* Whether p was built for SDK 1.`minor` or later, or for SDK 2 or later:
 * a 1.x plugin of an older minor is not asked for what 1.2 added. */
bool plugin_has_minor(const struct plugin *p, uint32_t minor);

#endif
