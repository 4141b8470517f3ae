#include "addr_rate.h"

#include <stdlib.h>

#define HOUR_MS 3600000.0
#define PRUNE_MIN 1024

struct addr_bucket {
    double tokens;
    int64_t at_ms;
};

void addr_rate_init(struct addr_rate *r)
{
    strmap_init(&r->buckets);
    r->prune_at = PRUNE_MIN;
}

void addr_rate_free(struct addr_rate *r)
{
    size_t pos = 0;
    const char *key;
    void *value;
    while (strmap_next(&r->buckets, &pos, &key, &value))
        free(value);
    strmap_free(&r->buckets);
}

static double refilled(const struct addr_bucket *b, size_t per_hour, int64_t now_ms)
{
    double t = b->tokens + (double)(now_ms - b->at_ms) * (double)per_hour / HOUR_MS;
    return t > (double)per_hour ? (double)per_hour : t;
}

/* Forget the addresses whose bucket is full again: they are as new. */
static void prune(struct addr_rate *r, size_t per_hour, int64_t now_ms)
{
    size_t pos = 0;
    const char *key;
    void *value;
    /* strmap_del moves slots about: collect first, then delete. */
    size_t n = 0, cap = 64;
    char **gone = malloc(cap * sizeof *gone);
    while (gone && strmap_next(&r->buckets, &pos, &key, &value)) {
        if (refilled(value, per_hour, now_ms) < (double)per_hour)
            continue;
        if (n == cap) {
            char **grown = realloc(gone, cap * 2 * sizeof *gone);
            if (!grown)
                break;
            gone = grown;
            cap *= 2;
        }
        gone[n++] = (char *)key;
    }
    /* Each key stays where it is until its own deletion frees it. */
    for (size_t i = 0; i < n; i++)
        free(strmap_del(&r->buckets, gone[i]));
    free(gone);
    r->prune_at = r->buckets.count * 2 > PRUNE_MIN ? r->buckets.count * 2 : PRUNE_MIN;
}

bool addr_rate_take(struct addr_rate *r, const char *addr, size_t per_hour, int64_t now_ms, int64_t *retry_ms)
{
    if (!per_hour)
        return true;
    struct addr_bucket *b = strmap_get(&r->buckets, addr);
    if (!b) {
        if (r->buckets.count >= r->prune_at)
            prune(r, per_hour, now_ms);
        if (r->buckets.count >= ADDR_RATE_MAX || !(b = malloc(sizeof *b))) {
            if (retry_ms)
                *retry_ms = (int64_t)(HOUR_MS / (double)per_hour);
            return false;
        }
        *b = (struct addr_bucket){(double)per_hour, now_ms};
        if (strmap_put(&r->buckets, addr, b) < 0) {
            free(b);
            if (retry_ms)
                *retry_ms = 1000;
            return false;
        }
    }
    b->tokens = refilled(b, per_hour, now_ms);
    b->at_ms = now_ms;
    if (b->tokens >= 1.0) {
        b->tokens -= 1.0;
        return true;
    }
    if (retry_ms)
        *retry_ms = (int64_t)((1.0 - b->tokens) * HOUR_MS / (double)per_hour) + 1;
    return false;
}

size_t addr_rate_count(const struct addr_rate *r)
{
    return r->buckets.count;
}
