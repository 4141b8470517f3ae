#include "rooms/queue_position.h"

#include <stdlib.h>

#include "strmap.h"

struct queue_position {
    struct strmap told; /* room id -> (uintptr_t) position last told */
    int64_t waits[QUEUE_WAIT_SAMPLES];
    size_t nwaits, next;
};

struct queue_position *queue_position_new(void)
{
    struct queue_position *q = calloc(1, sizeof *q);
    if (q)
        strmap_init(&q->told);
    return q;
}

void queue_position_free(struct queue_position *q)
{
    if (!q)
        return;
    strmap_free(&q->told);
    free(q);
}

void queue_position_assigned(struct queue_position *q, int64_t wait_ms)
{
    q->waits[q->next] = wait_ms < 0 ? 0 : wait_ms;
    q->next = (q->next + 1) % QUEUE_WAIT_SAMPLES;
    if (q->nwaits < QUEUE_WAIT_SAMPLES)
        q->nwaits++;
}

long long queue_position_estimate(const struct queue_position *q, size_t position)
{
    if (!q->nwaits)
        return -1;
    long long sum = 0;
    for (size_t i = 0; i < q->nwaits; i++)
        sum += q->waits[i];
    return sum * (long long)position / (long long)q->nwaits;
}

void queue_position_update(struct queue_position *q, struct rooms *r, const struct queued_room *rooms, size_t n)
{
    struct strmap now;
    strmap_init(&now);
    for (size_t i = 0; i < n; i++) {
        uintptr_t position = rooms[i].position ? rooms[i].position : i + 1;
        if ((uintptr_t)strmap_get(&q->told, rooms[i].id) != position)
            r->events.queue_position(r->events.ctx, rooms[i].customer, rooms[i].id, position,
                                     queue_position_estimate(q, position));
        strmap_put(&now, rooms[i].id, (void *)position);
    }
    strmap_free(&q->told);
    q->told = now;
}
