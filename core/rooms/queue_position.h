/* A waiting customer's place in the unassigned support queue, and a rough
 * estimate of the wait (docs/support-desk.md, "Queue position"). The
 * routing tells it, after each of its passes, the queue as it is left
 * (oldest first); it tells each customer whose place changed, and keeps
 * recent assignment waits for the estimate. */
#ifndef CHATD_QUEUE_POSITION_H
#define CHATD_QUEUE_POSITION_H

#include <stddef.h>
#include <stdint.h>

#include "rooms/rooms.h"

struct queue_position;

/* One waiting room: its id, its customer, and its place in its line (1 =
 * next; the routing counts it per topic). */
struct queued_room {
    const char *id;
    const char *customer;
    size_t position;
};

struct queue_position *queue_position_new(void);
void queue_position_free(struct queue_position *q);

/* A room was assigned after waiting wait_ms (clamped at 0) since it last
 * entered the queue (routing_queued_since), not since its opening. */
void queue_position_assigned(struct queue_position *q, int64_t wait_ms);
/* The estimate for the position'th in the queue (1 = next): position
 * times the mean of the last QUEUE_WAIT_SAMPLES assignment waits; -1
 * before the first assignment. */
long long queue_position_estimate(const struct queue_position *q, size_t position);
#define QUEUE_WAIT_SAMPLES 20

/* The queue now: every customer whose position differs from the one last
 * told hears it (r's queue_position event); rooms no longer listed are
 * forgotten. */
void queue_position_update(struct queue_position *q, struct rooms *r, const struct queued_room *rooms, size_t n);

#endif
