#include "plugins/plugin_host.h"

#include <event2/event.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plugins/broker_port.h"
#include "config.h"
#include "plugins/loader.h"
#include "plugins/sdk1.h"
#include "log.h"
#include "server.h"

struct task {
    chatd_task_fn fn;
    void *arg;
};

struct tasks {
    pthread_mutex_t mu;
    struct task *items, *spare;
    size_t n, cap, spare_cap;
    bool closed;
    struct event *ev;
};

static void tasks_run(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct tasks *t = arg;
    pthread_mutex_lock(&t->mu);
    struct task *batch = t->items;
    size_t n = t->n;
    size_t cap = t->cap;
    t->items = t->spare;
    t->cap = t->spare_cap;
    t->n = 0;
    pthread_mutex_unlock(&t->mu);
    /* A task may post more tasks: they land in the other array and run on
     * the next activation, which keeps this loop bounded. */
    for (size_t i = 0; i < n; i++)
        batch[i].fn(batch[i].arg);
    pthread_mutex_lock(&t->mu);
    t->spare = batch;
    t->spare_cap = cap;
    pthread_mutex_unlock(&t->mu);
}

struct tasks *tasks_new(struct event_base *base)
{
    struct tasks *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    pthread_mutex_init(&t->mu, NULL);
    t->ev = event_new(base, -1, 0, tasks_run, t);
    if (!t->ev) {
        free(t);
        return NULL;
    }
    return t;
}

void tasks_close(struct tasks *t)
{
    pthread_mutex_lock(&t->mu);
    t->closed = true;
    pthread_mutex_unlock(&t->mu);
    /* Tasks may queue tasks (not any more: closed), so one pass suffices. */
    tasks_run(-1, 0, t);
}

void tasks_free(struct tasks *t)
{
    if (!t)
        return;
    event_free(t->ev);
    if (t->n)
        log_warn("dropped %zu plugin tasks posted during shutdown", t->n);
    free(t->items);
    free(t->spare);
    pthread_mutex_destroy(&t->mu);
    free(t);
}

chatd_status tasks_post(struct tasks *t, chatd_task_fn fn, void *arg)
{
    pthread_mutex_lock(&t->mu);
    if (t->closed) {
        pthread_mutex_unlock(&t->mu);
        return CHATD_ERR_CLOSED;
    }
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 64;
        struct task *items = realloc(t->items, cap * sizeof *items);
        if (!items) {
            pthread_mutex_unlock(&t->mu);
            return CHATD_ERR_NOMEM;
        }
        t->items = items;
        t->cap = cap;
    }
    t->items[t->n++] = (struct task){fn, arg};
    bool wake = t->n == 1;
    pthread_mutex_unlock(&t->mu);
    if (wake)
        event_active(t->ev, 0, 0);
    return CHATD_OK;
}

static struct plugin *plugin_of(const struct chatd_host *h)
{
    return (struct plugin *)h; /* host is the first member */
}

static void host_log(const struct chatd_host *h, chatd_log_level level, const char *fmt, ...)
{
    if (!log_enabled(level))
        return;
    va_list ap;
    va_start(ap, fmt);
    log_msgv(level, h->section, 0, fmt, ap);
    va_end(ap);
}

static chatd_status host_post(const struct chatd_host *h, chatd_task_fn fn, void *arg)
{
    return tasks_post(plugin_of(h)->srv->tasks, fn, arg);
}

static const char *host_config_get(const struct chatd_host *h, const char *key)
{
    struct plugin *p = plugin_of(h);
    return p->cfg ? config_get(p->cfg, key) : NULL;
}

/* The `plugin` key belongs to the host: hidden from the walk. */
static size_t plugin_key_index(const struct config_section *s)
{
    const struct config_entry *e = config_entry_find(s, "plugin");
    return e ? (size_t)(e - s->entries) : s->nentries;
}

static size_t host_config_count(const struct chatd_host *h)
{
    struct plugin *p = plugin_of(h);
    if (!p->cfg)
        return 0;
    return p->cfg->nentries - (plugin_key_index(p->cfg) < p->cfg->nentries);
}

static struct config_entry *config_entry_at(struct plugin *p, size_t i)
{
    if (!p->cfg)
        return NULL;
    if (i >= plugin_key_index(p->cfg))
        i++;
    return i < p->cfg->nentries ? &p->cfg->entries[i] : NULL;
}

static const char *host_config_key(const struct chatd_host *h, size_t i)
{
    struct config_entry *e = config_entry_at(plugin_of(h), i);
    return e ? e->key : NULL;
}

static const char *host_config_value(const struct chatd_host *h, size_t i)
{
    struct config_entry *e = config_entry_at(plugin_of(h), i);
    if (!e)
        return NULL;
    e->used = true;
    return e->value;
}

static void host_config_error(const struct chatd_host *h, const char *key, const char *fmt, ...)
{
    struct plugin *p = plugin_of(h);
    if (p->init_error_set)
        return; /* the first reason is the one that matters */
    char reason[384];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof reason, fmt, ap);
    va_end(ap);
    if (key)
        config_errorf(p->init_error, sizeof p->init_error, p->cfg_file, p->section, key, "%s", reason);
    else
        config_errorf(p->init_error, sizeof p->init_error, p->cfg_file, p->section, "plugin",
                      "%s failed to start: %s", p->desc->name, reason);
    p->init_error_set = true;
}

static void host_deliver(const struct chatd_host *h, const char *channel, const void *data, size_t len)
{
    broker_port_deliver(&plugin_of(h)->srv->broker_port, channel, data, len);
}

static void host_set_ready(const struct chatd_host *h, bool ready, const char *reason)
{
    struct plugin *p = plugin_of(h);
    if (p->ready != ready)
        log_msg(ready ? CHATD_LOG_INFO : CHATD_LOG_WARN, p->section, 0, "%s%s%s",
                ready ? "ready" : "not ready", reason ? ": " : "", reason ? reason : "");
    bool back = ready && !p->ready;
    p->ready = ready;
    if (back && p->desc->kind == CHATD_PLUGIN_BROKER)
        broker_port_ready(&p->srv->broker_port);
}

static void host_counter_add(const struct chatd_host *h, const char *name, uint64_t delta)
{
    struct plugin *p = plugin_of(h);
    size_t len = strlen(name);
    if (!len || len >= sizeof p->counters[0].name || strspn(name, "abcdefghijklmnopqrstuvwxyz"
                                                                  "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") != len)
        return;
    for (size_t i = 0; i < p->ncounters; i++) {
        if (strcmp(p->counters[i].name, name) == 0) {
            p->counters[i].value += delta;
            return;
        }
    }
    if (p->ncounters == sizeof p->counters / sizeof *p->counters)
        return;
    memcpy(p->counters[p->ncounters].name, name, len + 1);
    p->counters[p->ncounters++].value = delta;
}

static void host_channel_live(const struct chatd_host *h, const char *channel, chatd_status st)
{
    broker_port_live(&plugin_of(h)->srv->broker_port, channel, st);
}

void host_setup(struct plugin *p)
{
    p->host = (struct chatd_host){
        .size = sizeof(struct chatd_host),
        /* A plugin of SDK 1 meets the host it was written for: 1.2, whose
         * struct chatd_host is laid out as 2.0's. */
        .abi_major = plugin_sdk1(p) ? 1 : CHATD_ABI_MAJOR,
        .abi_minor = plugin_sdk1(p) ? SDK1_LAST_MINOR : CHATD_ABI_MINOR,
        .section = p->section,
        .base = p->srv->base,
        .log = host_log,
        .post = host_post,
        .config_get = host_config_get,
        .config_count = host_config_count,
        .config_key = host_config_key,
        .config_value = host_config_value,
        .config_error = host_config_error,
        .deliver = host_deliver,
        .set_ready = host_set_ready,
        .counter_add = host_counter_add,
        .channel_live = host_channel_live,
    };
}
