/* Retention of support-room transcripts: `[rooms] retention`. A periodic
 * timer on the core loop asks the storage plugin to purge the support rooms
 * closed longer ago than the retention, in bounded batches; the plugin does
 * the removal asynchronously, so the loop never waits for it. */
#ifndef CHATD_RETENTION_H
#define CHATD_RETENTION_H

#include <stddef.h>
#include <stdint.h>

struct retention;
struct server;

/* Rooms per purge operation; another follows at once while one is full. */
#define RETENTION_BATCH 100

/* The job's period for a retention: a tenth of it, from 100 ms to 1 h. */
int64_t retention_period_ms(int64_t retention_ms);

/* At start-up, after the plugins are loaded: srv->retention for the
 * configured retention (NULL when off). -1 with one line in err when the
 * storage plugin cannot purge, or out of memory. */
int retention_setup(struct server *srv, char *err, size_t errlen);
/* Arm the timer (serving from now on). NULL ok. */
void retention_start(struct retention *r);
/* Before the plugins are finalised: no new purge starts; one in flight may
 * still complete (until retention_free). NULL ok. */
void retention_stop(struct retention *r);
/* After the storage plugin is finalised. NULL ok. */
void retention_free(struct retention *r);

#endif
