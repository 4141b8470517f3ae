#include "rooms/retention.h"

#include <stdlib.h>

#include <event2/event.h>

#include "clock.h"
#include "config.h"
#include "plugins/loader.h"
#include "log.h"
#include "server.h"
#include "plugins/storage_port.h"
#include "rooms/files.h"
#include "rooms/notes.h"

struct retention {
    struct server *srv;
    struct event *timer;
    storage_purge_fn purge;
    storage_purge_ids_fn purge_ids; /* SDK 2.11: preferred, names the rooms */
    int64_t retention_ms;
    bool busy;    /* a purge is in flight */
    bool stopped; /* shutting down: start no more */
};

int64_t retention_period_ms(int64_t retention_ms)
{
    int64_t p = retention_ms / 10;
    return p < 100 ? 100 : p > 3600000 ? 3600000 : p;
}

static void purge_next(struct retention *r);
static void purged(void *ctx, chatd_status st, uint64_t n);

/* What chatd keeps beside a purged room goes with it: its attachments'
 * bytes and its internal notes (in the background; failures logged). */
static void purged_ids(void *ctx, chatd_status st, const char *const *ids, size_t n)
{
    struct retention *r = ctx;
    if (st == CHATD_OK && r->srv->rooms)
        for (size_t i = 0; i < n; i++) {
            files_forget_room(r->srv->rooms, ids[i]);
            notes_forget_room(r->srv->rooms, ids[i]);
        }
    purged(ctx, st, n);
}

static void purged(void *ctx, chatd_status st, uint64_t n)
{
    struct retention *r = ctx;
    r->busy = false;
    if (st != CHATD_OK) {
        log_warn("retention: purging closed support rooms failed: %s; again in %lld ms", chatd_strerror(st),
                 (long long)retention_period_ms(r->retention_ms));
        return;
    }
    r->srv->metrics.rooms_purged += n;
    if (n)
        log_info("retention: purged %llu support room%s closed more than %lld ms ago", (unsigned long long)n,
                 n == 1 ? "" : "s", (long long)r->retention_ms);
    if (n >= RETENTION_BATCH)
        purge_next(r); /* more may be due: the next batch now, not at the next tick */
}

static void purge_next(struct retention *r)
{
    if (r->busy || r->stopped || r->srv->stopping)
        return;
    r->busy = true;
    void *state;
    storage_ops(r->srv->storage, &state);
    if (r->purge_ids)
        r->purge_ids(state, clock_wall_ms() - r->retention_ms, RETENTION_BATCH, purged_ids, r);
    else
        r->purge(state, clock_wall_ms() - r->retention_ms, RETENTION_BATCH, purged, r);
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    purge_next(arg);
}

int retention_setup(struct server *srv, char *err, size_t errlen)
{
    srv->retention = NULL;
    int64_t ms = srv->settings.retention_ms;
    if (!ms)
        return 0;
    storage_purge_fn purge = storage_room_purge(srv->storage);
    if (!purge) {
        const struct chatd_plugin *d = srv->storage->desc;
        config_errorf(err, errlen, srv->config, "rooms", "retention",
                      "the storage plugin '%s' (SDK %u.%u) cannot purge closed rooms (room_purge, SDK 1.2)",
                      d->name, d->abi_major, d->abi_minor);
        return -1;
    }
    struct retention *r = calloc(1, sizeof *r);
    if (!r || !(r->timer = event_new(srv->base, -1, EV_PERSIST, on_tick, r))) {
        free(r);
        config_errorf(err, errlen, srv->config, "rooms", "retention", "out of memory");
        return -1;
    }
    r->srv = srv;
    r->purge = purge;
    r->purge_ids = storage_room_purge_ids(srv->storage);
    r->retention_ms = ms;
    srv->retention = r;
    return 0;
}

void retention_start(struct retention *r)
{
    if (!r)
        return;
    int64_t p = retention_period_ms(r->retention_ms);
    struct timeval tv = {(time_t)(p / 1000), (suseconds_t)(p % 1000) * 1000};
    if (event_add(r->timer, &tv) < 0)
        log_error("retention: cannot start the purge timer: closed rooms are kept");
    else
        log_info("retention: closed support rooms are purged %lld ms after closing (checked every %lld ms)",
                 (long long)r->retention_ms, (long long)p);
}

void retention_stop(struct retention *r)
{
    if (!r)
        return;
    r->stopped = true;
    event_del(r->timer);
}

void retention_free(struct retention *r)
{
    if (!r)
        return;
    event_free(r->timer);
    free(r);
}
