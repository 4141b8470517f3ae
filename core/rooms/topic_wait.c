#include "rooms/topic_wait.h"

#include <stdlib.h>

#include "strmap.h"

/* A room's entry time is kept in the map's pointer. */
_Static_assert(sizeof(intptr_t) >= sizeof(int64_t), "an entry time fits a pointer");

struct topic_wait {
    struct strmap since; /* room id -> (intptr_t) entry time, Unix ms */
};

bool topic_wait_over(long long wait_ms, int64_t since_ms, int64_t now_ms)
{
    return wait_ms > 0 && now_ms - since_ms >= wait_ms;
}

struct topic_wait *topic_wait_new(void)
{
    struct topic_wait *tw = calloc(1, sizeof *tw);
    if (tw)
        strmap_init(&tw->since);
    return tw;
}

void topic_wait_free(struct topic_wait *tw)
{
    if (!tw)
        return;
    strmap_free(&tw->since);
    free(tw);
}

int topic_wait_listed(struct topic_wait *tw, const char *const *ids, size_t n, int64_t now_ms, int64_t *since_ms)
{
    struct strmap now;
    strmap_init(&now);
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        /* A time of 0 is no time: a map's NULL. */
        intptr_t kept = (intptr_t)strmap_get(&tw->since, ids[i]);
        since_ms[i] = kept ? (int64_t)kept : now_ms;
        if (rc == 0 && strmap_put(&now, ids[i], (void *)(intptr_t)since_ms[i]) < 0)
            rc = -1;
    }
    if (rc < 0) {
        strmap_free(&now);
        return -1;
    }
    strmap_free(&tw->since);
    tw->since = now;
    return 0;
}

void topic_wait_restart(struct topic_wait *tw, const char *room_id)
{
    if (tw && room_id)
        strmap_del(&tw->since, room_id);
}

bool topic_wait_since(const struct topic_wait *tw, const char *room_id, int64_t *since_ms)
{
    intptr_t kept = tw && room_id ? (intptr_t)strmap_get(&tw->since, room_id) : 0;
    if (!kept)
        return false;
    *since_ms = (int64_t)kept;
    return true;
}

size_t topic_wait_count(const struct topic_wait *tw) { return tw ? tw->since.count : 0; }
