#include "plugins/loader.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "plugins/plugin_host.h"
#include "plugins/sdk1.h"
#include "server.h"

const char *plugin_kind_name(chatd_plugin_kind kind)
{
    switch (kind) {
    case CHATD_PLUGIN_AUTH: return "auth";
    case CHATD_PLUGIN_STORAGE: return "storage";
    case CHATD_PLUGIN_BROKER: return "broker";
    case CHATD_PLUGIN_NOTIFY: return "notify";
    case CHATD_PLUGIN_FILES: return "files";
    }
    return "unknown";
}

/* The name of the first mandatory member missing from the ops table, or
 * NULL (OPS_HAS: loader.h). */
#define REQUIRE_OP(ops, member)      \
    do {                             \
        if (!OPS_HAS(ops, member))   \
            return #member;          \
    } while (0)

static const char *missing_op(const struct chatd_plugin *d)
{
    if (!d->init)
        return "init";
    if (!d->fini)
        return "fini";
    switch (d->kind) {
    case CHATD_PLUGIN_AUTH:
        if (!d->ops.auth)
            return "ops";
        REQUIRE_OP(d->ops.auth, authenticate);
        break;
    case CHATD_PLUGIN_STORAGE: {
        const struct chatd_storage_ops *o = d->ops.storage;
        if (!o)
            return "ops";
        REQUIRE_OP(o, room_create);
        REQUIRE_OP(o, room_get);
        REQUIRE_OP(o, room_list);
        REQUIRE_OP(o, room_claim);
        REQUIRE_OP(o, room_complete);
        REQUIRE_OP(o, room_delete);
        REQUIRE_OP(o, member_add);
        REQUIRE_OP(o, member_remove);
        REQUIRE_OP(o, message_append);
        REQUIRE_OP(o, message_list);
        REQUIRE_OP(o, read_mark);
        break;
    }
    case CHATD_PLUGIN_BROKER:
        if (!d->ops.broker)
            return "ops";
        REQUIRE_OP(d->ops.broker, subscribe);
        REQUIRE_OP(d->ops.broker, unsubscribe);
        REQUIRE_OP(d->ops.broker, publish);
        break;
    case CHATD_PLUGIN_NOTIFY:
        if (!d->ops.notify)
            return "ops";
        REQUIRE_OP(d->ops.notify, notify);
        break;
    case CHATD_PLUGIN_FILES: {
        const struct chatd_files_ops *o = d->ops.files;
        if (!o)
            return "ops";
        REQUIRE_OP(o, put_begin);
        REQUIRE_OP(o, put_write);
        REQUIRE_OP(o, put_finish);
        REQUIRE_OP(o, put_abort);
        REQUIRE_OP(o, read);
        REQUIRE_OP(o, remove);
        REQUIRE_OP(o, remove_room);
        REQUIRE_OP(o, remove_owner);
        REQUIRE_OP(o, usage);
        break;
    }
    }
    return NULL;
}

static char *resolve_path(const char *plugin_dir, chatd_plugin_kind kind, const char *name)
{
    char *path;
    if (strchr(name, '/'))
        return strdup(name);
    if (asprintf(&path, "%s/%s_%s.so", plugin_dir, plugin_kind_name(kind), name) < 0)
        return NULL;
    return path;
}

static void plugin_free(struct plugin *p)
{
    if (!p)
        return;
#ifndef __SANITIZE_ADDRESS__
    if (p->dl)
        dlclose(p->dl);
#else
    /* Under AddressSanitizer plugins stay mapped, so that a leak found at
     * exit is reported with the plugin's symbols. */
#endif
    /* The copy's descriptor names the object: it stays open while the
     * object may be mapped (for ever under AddressSanitizer), so that no
     * later copy gets its /proc/self/fd name and with it this object. */
#ifndef __SANITIZE_ADDRESS__
    if (p->copy_fd >= 0)
        close(p->copy_fd);
#endif
    free(p->section);
    free(p->path);
    free(p);
}

static bool file_identity(const char *path, struct plugin_file *f)
{
    struct stat st;
    if (stat(path, &st) < 0)
        return false;
    *f = (struct plugin_file){.dev = (unsigned long long)st.st_dev, .ino = (unsigned long long)st.st_ino,
                              .size = (unsigned long long)st.st_size,
                              .mtime_ns = (long long)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec};
    return true;
}

static bool same_file(const struct plugin_file *a, const struct plugin_file *b)
{
    return a->dev == b->dev && a->ino == b->ino && a->size == b->size && a->mtime_ns == b->mtime_ns;
}

/* The build at path, copied into an anonymous in-memory file and opened
 * from there (a memfd: no directory to write, no noexec mount in the way).
 * *fd keeps the copy. NULL and *why on failure. */
static void *dlopen_copy(const char *path, int *fd, const char **why)
{
    *fd = -1;
    int src = open(path, O_RDONLY | O_CLOEXEC);
    int dst = src < 0 ? -1 : memfd_create("chatd-plugin", MFD_CLOEXEC);
    bool ok = dst >= 0;
    char buf[65536];
    for (ssize_t n; ok && (n = read(src, buf, sizeof buf)) != 0;) {
        if (n < 0 && errno == EINTR)
            continue;
        for (ssize_t off = 0; ok && n > 0 && off < n;) {
            ssize_t w = write(dst, buf + off, (size_t)(n - off));
            if (w < 0 && errno == EINTR)
                continue;
            ok = w > 0;
            off += w > 0 ? w : 0;
        }
        ok = ok && n > 0;
    }
    if (src >= 0)
        close(src);
    if (!ok) {
        *why = src < 0 ? strerror(errno) : "cannot copy it into memory";
        if (dst >= 0)
            close(dst);
        return NULL;
    }
    char name[64];
    snprintf(name, sizeof name, "/proc/self/fd/%d", dst);
    void *dl = dlopen(name, RTLD_NOW | RTLD_LOCAL);
    if (!dl) {
        const char *e = dlerror();
        size_t nl = strlen(name);
        *why = e && strncmp(e, name, nl) == 0 && strncmp(e + nl, ": ", 2) == 0 ? e + nl + 2 : e ? e : "unknown error";
        close(dst);
        return NULL;
    }
    *fd = dst;
    return dl;
}

/* The descriptor a plugin exported, as this SDK declares it, in
 * p->desc_read; NULL when this chatd does not load its version (major 2
 * whatever the minor, and 1.0 to 1.2) or it is shorter than 2.0's. */
static const struct chatd_plugin *descriptor_read(struct plugin *p, const struct chatd_plugin *d)
{
    struct chatd_plugin *out = &p->desc_read;
    memset(out, 0, sizeof *out);
    if (d->abi_major == 1 && d->abi_minor <= SDK1_LAST_MINOR) {
        const struct sdk1_descriptor *old = (const void *)d;
        *out = (struct chatd_plugin){
            .abi_major = old->abi_major, .abi_minor = old->abi_minor, .size = sizeof *out, .kind = old->kind,
            .name = old->name, .version = old->version, .description = old->description, .init = old->init,
            .fini = old->fini, .ops.auth = old->ops,
        };
        return out;
    }
    if (d->abi_major != CHATD_ABI_MAJOR)
        return NULL;
    /* 2.0 ends with ops: every later member may be missing, none before. */
    if (d->size < offsetof(struct chatd_plugin, ops) + sizeof d->ops)
        return NULL;
    memcpy(out, d, d->size < sizeof *out ? d->size : sizeof *out);
    return out;
}

static struct plugin *load(struct server *srv, struct config *cfg, const char *section, chatd_plugin_kind kind,
                           const struct plugin *prev, bool *new_build, char *err, size_t errlen)
{
    struct config_section *sec = config_find(cfg, section);
    const char *name = sec ? config_get(sec, "plugin") : NULL;
    if (!name || !*name) {
        config_errorf(err, errlen, cfg, section, "plugin", "missing: name the %s plugin to load",
                      plugin_kind_name(kind));
        return NULL;
    }
    struct plugin *p = calloc(1, sizeof *p);
    if (p)
        p->copy_fd = -1;
    if (!p || !(p->section = strdup(section)) ||
        !(p->path = resolve_path(srv->settings.plugin_dir, kind, name))) {
        plugin_free(p);
        config_errorf(err, errlen, cfg, section, "plugin", "out of memory");
        return NULL;
    }
    p->srv = srv;

    /* A reload of a plugin whose file is another build now (or whose
     * instance came from a copy): load that build from a copy of its own. */
    bool have_file = file_identity(p->path, &p->file);
    bool copy = prev && strcmp(prev->path, p->path) == 0 && have_file &&
                (prev->copy_fd >= 0 || !same_file(&prev->file, &p->file));
    if (new_build)
        *new_build = copy && !same_file(&prev->file, &p->file);
    if (copy) {
        const char *why = NULL;
        if (!(p->dl = dlopen_copy(p->path, &p->copy_fd, &why))) {
            config_errorf(err, errlen, cfg, section, "plugin", "cannot load the new build %s: %s", p->path, why);
            plugin_free(p);
            return NULL;
        }
    } else {
        p->dl = dlopen(p->path, RTLD_NOW | RTLD_LOCAL);
    }
    if (!p->dl) {
        const char *why = dlerror();
        /* dlerror() repeats the path; keep only the reason after it. */
        size_t pl = strlen(p->path);
        if (why && strncmp(why, p->path, pl) == 0 && strncmp(why + pl, ": ", 2) == 0)
            why += pl + 2;
        config_errorf(err, errlen, cfg, section, "plugin", "cannot load %s: %s", p->path,
                      why ? why : "unknown error");
        plugin_free(p);
        return NULL;
    }
    const struct chatd_plugin *(*entry)(void);
    *(void **)&entry = dlsym(p->dl, CHATD_PLUGIN_SYMBOL);
    const struct chatd_plugin *exported = entry ? entry() : NULL;
    const struct chatd_plugin *d = NULL;
    const char *missing = NULL;
    if (!entry || !exported) {
        config_errorf(err, errlen, cfg, section, "plugin", "%s does not export %s", p->path,
                      CHATD_PLUGIN_SYMBOL);
    } else if (!(d = descriptor_read(p, exported))) {
        if (exported->abi_major == 1)
            config_errorf(err, errlen, cfg, section, "plugin",
                          "%s was built for SDK ABI %u.%u; this chatd speaks %d.%d and loads SDK 1.0 to 1.%d "
                          "(rebuild the plugin against SDK %d)",
                          p->path, exported->abi_major, exported->abi_minor, CHATD_ABI_MAJOR, CHATD_ABI_MINOR,
                          SDK1_LAST_MINOR, CHATD_ABI_MAJOR);
        else if (exported->abi_major != CHATD_ABI_MAJOR)
            config_errorf(err, errlen, cfg, section, "plugin",
                          "%s was built for SDK ABI %u.%u; this chatd speaks %d.%d (major versions differ: "
                          "rebuild the plugin against SDK %d)",
                          p->path, exported->abi_major, exported->abi_minor, CHATD_ABI_MAJOR, CHATD_ABI_MINOR,
                          CHATD_ABI_MAJOR);
        else
            config_errorf(err, errlen, cfg, section, "plugin",
                          "%s descriptor is %zu bytes, shorter than SDK %d.0's (its size is unset: "
                          "CHATD_PLUGIN_DEFINE sets it)",
                          p->path, exported->size, CHATD_ABI_MAJOR);
    } else if (d->kind != kind) {
        config_errorf(err, errlen, cfg, section, "plugin", "%s is a%s %s plugin; [%s] needs a%s %s plugin",
                      p->path, d->kind == CHATD_PLUGIN_AUTH ? "n" : "", plugin_kind_name(d->kind),
                      section, kind == CHATD_PLUGIN_AUTH ? "n" : "", plugin_kind_name(kind));
    } else if (!d->name || !*d->name) {
        config_errorf(err, errlen, cfg, section, "plugin", "%s descriptor has no name", p->path);
    } else if (!d->version || !*d->version) {
        config_errorf(err, errlen, cfg, section, "plugin", "%s descriptor has no version", p->path);
    } else if ((missing = missing_op(d))) {
        config_errorf(err, errlen, cfg, section, "plugin", "%s lacks mandatory operation '%s'", p->path,
                      missing);
    } else {
        p->desc = d;
    }
    if (!p->desc) {
        plugin_free(p);
        return NULL;
    }
    if (d->abi_major != CHATD_ABI_MAJOR || d->abi_minor > CHATD_ABI_MINOR)
        log_msg(CHATD_LOG_INFO, section, 0, "%s %s was built for SDK %u.%u; this chatd speaks %d.%d%s", d->name,
                d->version, d->abi_major, d->abi_minor, CHATD_ABI_MAJOR, CHATD_ABI_MINOR,
                d->abi_major == 1 ? " and adapts to it" : "");

    host_setup(p);
    p->cfg = sec;
    p->cfg_file = cfg;
    chatd_status st = d->init(&p->host, &p->state);
    p->cfg = NULL;
    p->cfg_file = NULL;
    if (st != CHATD_OK) {
        if (p->init_error_set)
            snprintf(err, errlen, "%s", p->init_error);
        else
            config_errorf(err, errlen, cfg, section, "plugin", "%s failed to start: %s", d->name,
                          chatd_strerror(st));
        plugin_free(p);
        return NULL;
    }
    const char *unknown = config_first_unused(sec);
    if (unknown) {
        config_errorf(err, errlen, cfg, section, unknown, "unknown key");
        plugin_unload(p);
        return NULL;
    }
    return p;
}

struct plugin *plugin_load(struct server *srv, struct config *cfg, const char *section,
                           chatd_plugin_kind kind, char *err, size_t errlen)
{
    return load(srv, cfg, section, kind, NULL, NULL, err, errlen);
}

struct plugin *plugin_load_again(struct server *srv, struct config *cfg, const char *section,
                                 chatd_plugin_kind kind, const struct plugin *prev, bool *new_build, char *err,
                                 size_t errlen)
{
    return load(srv, cfg, section, kind, prev, new_build, err, errlen);
}

bool plugin_sdk1(const struct plugin *p)
{
    return p && p->desc && p->desc->abi_major == 1;
}

bool plugin_has_minor(const struct plugin *p, uint32_t minor)
{
    return p && p->desc && (p->desc->abi_major > 1 || p->desc->abi_minor >= minor);
}

void plugin_unload(struct plugin *p)
{
    if (!p)
        return;
    if (p->desc)
        p->desc->fini(p->state);
    /* Operations fini did not answer: nobody waits for them any more. */
    if (p->calls_drop)
        p->calls_drop(p);
    plugin_free(p);
}
