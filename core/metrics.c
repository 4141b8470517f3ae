#include "metrics.h"

#include <stddef.h>

static void observe(const int64_t bounds[9], uint64_t buckets[10], double *sum, int64_t ms)
{
    if (ms < 0)
        ms = 0; /* clocks of two instances disagree a little */
    size_t b = 0;
    while (b < 9 && ms > bounds[b])
        b++;
    buckets[b]++;
    *sum += (double)ms / 1000.0;
}

void metrics_observe(uint64_t buckets[10], double *sum, int64_t ms)
{
    static const int64_t bounds[] = {1, 2, 5, 10, 25, 50, 100, 250, 1000};
    observe(bounds, buckets, sum, ms);
}

void metrics_observe_wait(uint64_t buckets[10], double *sum, int64_t ms)
{
    static const int64_t bounds[] = {1000, 5000, 10000, 30000, 60000, 120000, 300000, 600000, 1800000};
    observe(bounds, buckets, sum, ms);
}

void metrics_observe_handle(uint64_t buckets[10], double *sum, int64_t ms)
{
    static const int64_t bounds[] = {60000, 300000, 600000, 900000, 1800000, 3600000, 7200000, 14400000, 28800000};
    observe(bounds, buckets, sum, ms);
}
