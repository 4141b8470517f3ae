/* The host side of the SDK: the functions behind struct chatd_host, and the
 * thread-safe task queue behind its post(). */
#ifndef CHATD_PLUGIN_HOST_H
#define CHATD_PLUGIN_HOST_H

#include <chatd/host.h>

struct plugin;
struct server;
struct tasks;

/* Fill p->host for plugin p (its section, the server's base). */
void host_setup(struct plugin *p);

/* The post() queue: created before any plugin, destroyed after the last. */
struct tasks *tasks_new(struct event_base *base);
/* Shutdown, before plugins are finalised: from now on post() answers
 * CHATD_ERR_CLOSED (the poster keeps its arg); tasks already queued run now,
 * so that no plugin allocation is stranded in the queue. */
void tasks_close(struct tasks *t);
void tasks_free(struct tasks *t);
chatd_status tasks_post(struct tasks *t, chatd_task_fn fn, void *arg);

#endif
